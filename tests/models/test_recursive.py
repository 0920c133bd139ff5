"""Recursive neural network over expression trees: the generator, batched vs recursive
encoding, finite-difference gradients through the tree structure, per-node gradient
contributions to the shared weights, and learning."""
import contextlib

import numpy as np
import pytest

import narae as nr
import narae.nn.functional as F
from narae.models.recursive import (Tree, RecursiveNet, expression_dataset,
                                    evaluate_expression, expression_to_string, train_recursive,
                                    NUM_TOKENS, NUM_OPS)


def _one_blas_thread():
    try:
        from threadpoolctl import threadpool_limits
        return threadpool_limits(1)
    except ImportError:
        return contextlib.nullcontext()


def _tiny_tree():
    # (3 - (5 + 9)): two internal nodes sharing the composition weights
    return Tree(label=1, left=Tree(token=3),
                right=Tree(label=0, left=Tree(token=5), right=Tree(token=9)))


def test_expression_generator():
    g1, g2 = nr.Generator().manual_seed(4), nr.Generator().manual_seed(4)
    t1, v1 = expression_dataset(50, max_ops=3, generator=g1)
    t2, v2 = expression_dataset(50, max_ops=3, generator=g2)
    assert [expression_to_string(t) for t in t1] == [expression_to_string(t) for t in t2]
    np.testing.assert_array_equal(v1, v2)
    for t, v in zip(t1, v1):
        assert 1 <= (t.size() - 1) // 2 <= 3  # operators
        assert eval(expression_to_string(t)) % 10 == v == evaluate_expression(t) % 10
    raw = expression_dataset(5, modulus=None, generator=g1)[1]
    assert raw.dtype == np.int64
    assert evaluate_expression(_tiny_tree()) == -11
    with pytest.raises(ValueError):
        Tree(left=Tree(token=1))


@pytest.mark.parametrize("hidden", [None, 16])
def test_batched_encoding_equals_recursion(hidden):
    model = RecursiveNet(NUM_TOKENS, 8, num_classes=10, num_labels=NUM_OPS,
                         compose_hidden=hidden)
    trees, _ = expression_dataset(7, max_ops=4, generator=nr.Generator().manual_seed(1))
    trees.append(Tree(token=4))  # a lone leaf is a tree too
    batched = model.encode(trees).detach().numpy()
    for i, t in enumerate(trees):
        np.testing.assert_allclose(batched[i], model.encode_tree(t).detach().numpy()[0],
                                   rtol=1e-5, atol=1e-6)
    assert tuple(model(trees).shape) == (8, 10)
    assert tuple(RecursiveNet(NUM_TOKENS, 8)(trees).shape) == (8,)  # regressor


@pytest.mark.parametrize("hidden", [None, 6])
def test_gradients_match_finite_differences_on_tiny_tree(hidden):
    nr.manual_seed(0)
    model = RecursiveNet(NUM_TOKENS, 4, num_classes=3, num_labels=NUM_OPS,
                         compose_hidden=hidden).double()
    for p in model.parameters():  # non-zero label biases so their gradient is exercised
        p.data = nr.randn(*p.shape, dtype=nr.float64) * 0.5
    tree, target = _tiny_tree(), nr.tensor([2])

    def loss():
        return F.cross_entropy(model([tree]), target)
    model.zero_grad()
    loss().backward()
    rng = np.random.default_rng(0)
    eps = 1e-6
    for name, p in model.named_parameters():
        flat = p._data.reshape(-1)
        for j in rng.choice(flat.size, size=min(6, flat.size), replace=False):
            old = flat[j]
            flat[j] = old + eps
            up = loss().item()
            flat[j] = old - eps
            down = loss().item()
            flat[j] = old
            num = (up - down) / (2 * eps)
            assert p.grad._data.reshape(-1)[j] == pytest.approx(num, rel=1e-5, abs=1e-8), \
                f"{name}[{j}]"


def test_every_node_contributes_to_the_shared_weights():
    """Give each internal node its own copy of W: the shared gradient is the sum of the
    copies' gradients, and each copy's is non-zero (the gradient reaches every node)."""
    nr.manual_seed(0)
    model = RecursiveNet(NUM_TOKENS, 5, num_classes=4, num_labels=NUM_OPS).double()
    tree, target = _tiny_tree(), nr.tensor([1])
    F.cross_entropy(model([tree]), target).backward()
    shared = model.compose.weight.grad.numpy().copy()
    copies = []

    def encode(node):
        if node.is_leaf:
            return model.embedding(nr.tensor([node.token]))
        w = model.compose.weight.detach().clone().requires_grad_()
        copies.append(w)
        z = F.linear(nr.cat([encode(node.left), encode(node.right)], 1), w, model.compose.bias)
        return (z + model.label_bias(nr.tensor([node.label]))).tanh()
    F.cross_entropy(model.head(encode(tree)), target).backward()
    assert len(copies) == 2
    for w in copies:
        assert np.abs(w.grad.numpy()).max() > 1e-6
    np.testing.assert_allclose(sum(w.grad.numpy() for w in copies), shared, rtol=1e-10)


def test_quick_learning_smoke():
    with _one_blas_thread():
        _, hist = train_recursive(steps=200, batch_size=64, dim=32, compose_hidden=64,
                                  max_ops=1, lr=1e-2, test_size=200)
    first, last = np.mean(hist["loss"][:10]), np.mean(hist["loss"][-10:])
    assert last < 0.5 * first, (first, last)
    assert hist["test_accuracy"] > 0.5  # single-operator expressions, chance is 0.1


@pytest.mark.slow
def test_expression_accuracy_at_least_95_percent():
    with _one_blas_thread():
        model, hist = train_recursive(steps=3000, max_ops=3, target=0.98, log_every=250)
    assert hist["test_accuracy"] >= 0.95, hist["test_accuracy"]
