"""The backward engine: accumulation, retain_graph, hooks, higher-order gradients, errors."""
import numpy as np
import pytest
import torch

import narae as nr
from helpers import check, randn


def test_gradient_accumulates_across_backward_calls():
    x = nr.tensor([1.0, 2.0, 3.0], requires_grad=True)
    (x * x).sum().backward()
    (x * 3).sum().backward()
    np.testing.assert_allclose(x.grad.numpy(), 2 * np.array([1, 2, 3]) + 3)


def test_shared_subexpression_counts_every_path():
    x = nr.tensor(2.0, requires_grad=True)
    y = x * x
    z = y * y + y  # dz/dx = (2y + 1) * 2x
    z.backward()
    assert x.grad.item() == pytest.approx((2 * 4 + 1) * 4)


def test_backward_twice_needs_retain_graph():
    x = nr.tensor([1.0, 2.0], requires_grad=True)
    y = (x.exp() * 2).sum()
    y.backward(retain_graph=True)
    y.backward()
    np.testing.assert_allclose(x.grad.numpy(), 4 * np.exp([1.0, 2.0]), rtol=1e-6)
    with pytest.raises(RuntimeError, match="second time"):
        y.backward()


def test_autograd_grad_through_freed_graph_says_so():
    x = nr.ones(2, requires_grad=True)
    y = (x.exp() * 2).sum()
    y.backward()
    with pytest.raises(RuntimeError, match="second time"):
        nr.autograd.grad(y, x)


def test_non_scalar_backward_needs_gradient():
    x = nr.ones(3, requires_grad=True)
    with pytest.raises(RuntimeError, match="scalar outputs"):
        (x * 2).backward()
    (x * 2).backward(nr.tensor([1.0, 2.0, 3.0]))
    np.testing.assert_allclose(x.grad.numpy(), [2.0, 4.0, 6.0])


def test_backward_on_tensor_without_grad_errors():
    with pytest.raises(RuntimeError, match="does not require grad"):
        nr.ones(2).sum().backward()


def test_leaf_and_nonleaf_hooks_and_retain_grad():
    x = nr.tensor([1.0, 2.0], requires_grad=True)
    seen = []
    x.register_hook(lambda g: seen.append(g.numpy().copy()))
    y = x * 3
    y.retain_grad()
    h = y.register_hook(lambda g: g * 10)  # replaces the gradient flowing on
    y.sum().backward()
    np.testing.assert_allclose(y.grad.numpy(), [10.0, 10.0])
    np.testing.assert_allclose(x.grad.numpy(), [30.0, 30.0])
    np.testing.assert_allclose(seen[0], [30.0, 30.0])
    h.remove()


def test_autograd_grad_leaves_dot_grad_alone_and_handles_nonleaf_inputs():
    x = nr.tensor([1.0, 2.0], requires_grad=True)
    y = x * x
    z = (y * 3).sum()
    gy, gx = nr.autograd.grad(z, [y, x])
    np.testing.assert_allclose(gy.numpy(), [3.0, 3.0])
    np.testing.assert_allclose(gx.numpy(), [6.0, 12.0])
    assert x.grad is None


def test_autograd_grad_allow_unused():
    x = nr.ones(2, requires_grad=True)
    w = nr.ones(2, requires_grad=True)
    loss = (x * 2).sum()
    with pytest.raises(RuntimeError, match="allow_unused"):
        nr.autograd.grad(loss, [x, w], retain_graph=True)
    gx, gw = nr.autograd.grad(loss, [x, w], allow_unused=True)
    assert gw is None


def test_hessian_vector_product_matches_torch():
    a = randn(5)
    v = randn(5)

    def hvp(m, x):
        f = (m.tanh(x) * x).sum() + (x ** 3).sum()
        (g,) = m.autograd.grad(f, [x], create_graph=True)
        return (g * m.tensor(v, dtype=x.dtype)).sum()

    xn = nr.tensor(a, requires_grad=True)
    xt = torch.tensor(a, requires_grad=True)
    (hn,) = nr.autograd.grad(hvp(nr, xn), [xn])
    (ht,) = torch.autograd.grad(hvp(torch, xt), [xt])
    np.testing.assert_allclose(hn.numpy(), ht.numpy(), rtol=1e-6)


def test_third_derivative():
    x = nr.tensor(0.7, dtype=nr.float64, requires_grad=True)
    y = x.sin()
    (g1,) = nr.autograd.grad(y, x, create_graph=True)
    (g2,) = nr.autograd.grad(g1, x, create_graph=True)
    (g3,) = nr.autograd.grad(g2, x)
    assert g3.item() == pytest.approx(-np.cos(0.7))


def test_double_backward_chain_parity_with_torch():
    """grad of grad through matmul, tanh, sigmoid, softmax and reductions, against torch."""
    def chain(m, x, w, b):
        h = m.tanh(m.matmul(x, w) + b)
        p = m.softmax(h, 1) * m.sigmoid(h)
        return (p.sum(1) * h.mean(1)).sum() + m.logsumexp(h, 1).mean()

    check(chain, randn(4, 3), randn(3, 5), randn(5), double=True)


def test_deep_chain_does_not_recurse():
    x = nr.tensor([0.5], requires_grad=True)
    y = x
    for _ in range(5000):
        y = y * 1.0001
    y.sum().backward()
    assert x.grad.item() == pytest.approx(1.0001 ** 5000, rel=1e-4)


def test_no_grad_and_enable_grad():
    x = nr.ones(2, requires_grad=True)
    with nr.no_grad():
        y = x * 2
        with nr.enable_grad():
            z = x * 2
    assert not y.requires_grad and y.grad_fn is None
    assert z.requires_grad

    @nr.no_grad()
    def f(t):
        return t * 2

    assert not f(x).requires_grad
    assert nr.is_grad_enabled()


def test_detach_and_requires_grad_():
    x = nr.ones(2, requires_grad=True)
    d = (x * 2).detach()
    assert not d.requires_grad and d.is_leaf
    with pytest.raises(RuntimeError, match="floating point"):
        nr.tensor([1, 2]).requires_grad_()


def test_inplace_on_saved_tensor_is_an_error():
    x = nr.tensor([1.0, 2.0], requires_grad=True)
    y = x * 1.0
    z = y.exp()  # exp saves its output
    z.add_(1)
    with pytest.raises(RuntimeError, match="modified by an in-place operation"):
        z.sum().backward()

    a = x * 1.0
    b = a * a  # mul saves its inputs
    with nr.no_grad():
        a.mul_(2)
    with pytest.raises(RuntimeError, match="in-place"):
        b.sum().backward()


def test_inplace_on_leaf_requiring_grad_is_an_error():
    x = nr.ones(2, requires_grad=True)
    with pytest.raises(RuntimeError, match="leaf Variable"):
        x.add_(1)
    with nr.no_grad():
        x.add_(1)  # the optimizer's way
    np.testing.assert_allclose(x.detach().numpy(), [2.0, 2.0])


def test_inplace_ops_in_graph_match_torch():
    def f(m, x, w):
        y = x * w
        y.add_(w, alpha=2.0)
        y.mul_(x)
        y.clamp_(-1.0, 1.5)
        y.sub_(0.5)
        return y

    check(f, randn(3, 4), randn(3, 4))


def test_inplace_methods_outside_graph():
    t = nr.zeros(2, 3)
    t.fill_(2.0)
    t.add_(nr.ones(3), alpha=3)
    t.div_(5.0)
    t.clamp_(max=0.9)
    np.testing.assert_allclose(t.numpy(), np.full((2, 3), 0.9), rtol=1e-6)
    t.zero_()
    assert t.sum().item() == 0
    t.copy_(nr.arange(3.0))
    np.testing.assert_allclose(t.numpy(), [[0, 1, 2], [0, 1, 2]])
    assert t._version_number > 0


def test_slice_gradients_accumulate_in_one_buffer():
    # x[:, t] per step, as an RNN reads its input: gradient must equal torch's
    a = randn(2, 6, 3)

    def f(m, x):
        total = 0
        for t in range(x.shape[1]):
            total = total + m.tanh(x[:, t]) * (t + 1)
        return total

    check(f, a)


def test_autograd_grad_skips_branches_that_lead_elsewhere():
    calls = []

    class Spy(nr.autograd.Function):
        uses_inputs = False

        def forward(self, a):
            return a * 1

        def backward(self, gy):
            calls.append(1)
            return gy

    x = nr.ones(3, requires_grad=True)
    w = nr.ones(3, requires_grad=True)
    out = (x * Spy()(w)).sum()
    (gx,) = nr.autograd.grad(out, [x])
    np.testing.assert_allclose(gx.numpy(), [1, 1, 1])
    assert calls == []  # the branch through w was never differentiated


def test_custom_function_and_multiple_outputs():
    class SplitHalves(nr.autograd.Function):
        uses_inputs = False

        def forward(self, a):
            n = a.shape[0] // 2
            return a[:n] * 2, a[n:] * 3

        def backward(self, g1, g2):
            return nr.cat([g1 * 2, g2 * 3])

    x = nr.ones(4, requires_grad=True)
    a, b = SplitHalves()(x)
    a.sum().backward()  # b unused: its gradient is zeros
    np.testing.assert_allclose(x.grad.numpy(), [2, 2, 0, 0])


def test_grad_wrt_an_intermediate_leaves_the_graph_behind_it_intact():
    """autograd.grad(y, h) hands over h's gradient without running (and freeing) the node
    that made h: a later backward through it still works, as in torch."""
    x = nr.randn(3, requires_grad=True)
    h = x.exp()
    (g,) = nr.autograd.grad((h * 2).sum(), h)
    np.testing.assert_allclose(g.numpy(), 2.0)
    h.sum().backward()
    np.testing.assert_allclose(x.grad.numpy(), h.detach().numpy(), rtol=1e-6)
