"""Recursive (tree-structured) neural networks and an arithmetic-expression task.

A recursive net (Pollack 1990; Socher et al. 2011) builds a vector for every node of a given
tree from its children's vectors with one shared composition, h = tanh(W [h_left; h_right] + b),
starting from embedded leaves. Because the same weights are reused at every node, the gradient
of a loss at the root flows to them from every node ("backpropagation through structure"),
which here is plain autograd over the graph the tree induces.

    trees, values = expression_dataset(512, generator=nr.Generator().manual_seed(0))
    model = RecursiveNet(NUM_TOKENS, 64, num_classes=10, num_labels=NUM_OPS)
    logits = model(trees)                 # one row per tree

``train_recursive`` trains it to evaluate expressions such as ((3 + 4) - 9) mod 10.
"""
import time

import numpy as np

from .. import creation, nn, optim
from ..autograd import grad_mode
from ..ops.shape import cat
from ..nn import functional as F

__all__ = ["Tree", "RecursiveNet", "random_expression", "expression_dataset",
           "evaluate_expression", "expression_to_string", "train_recursive", "DIGITS", "OPS",
           "NUM_TOKENS", "NUM_OPS", "recursive_demo", "expression_accuracy"]

DIGITS = 10                # leaf tokens 0..9 are the numbers themselves
OPS = ("+", "-")           # internal-node labels 0, 1
NUM_TOKENS = DIGITS
NUM_OPS = len(OPS)


class Tree:
    """A binary tree node: a leaf holds a token id, an internal node two children and an
    optional label (here the operator) that selects a bias in the composition."""
    __slots__ = ("token", "label", "left", "right")

    def __init__(self, token=None, label=None, left=None, right=None):
        if (left is None) != (right is None):
            raise ValueError("Tree: an internal node needs both children")
        if left is None and token is None:
            raise ValueError("Tree: a leaf needs a token")
        self.token, self.label, self.left, self.right = token, label, left, right

    @property
    def is_leaf(self):
        return self.left is None

    def size(self):
        return 1 if self.is_leaf else 1 + self.left.size() + self.right.size()

    def height(self):
        return 0 if self.is_leaf else 1 + max(self.left.height(), self.right.height())

    def __repr__(self):
        return expression_to_string(self)


# -- the model -----------------------------------------------------------------------------
class RecursiveNet(nn.Module):
    """Embedded leaves composed bottom-up by shared weights, then a head on the root vector.

    composition: h = tanh(W [h_l; h_r] + b + u[label]); with ``compose_hidden`` the map
    becomes a two-layer MLP (a single tanh layer cannot form multiplicative interactions
    such as "a - b mod 10" in one step). ``num_classes=None`` gives a regressor (one output).
    """

    def __init__(self, num_tokens, dim, num_classes=None, num_labels=0, compose_hidden=None):
        super().__init__()
        self.dim = dim
        self.embedding = nn.Embedding(num_tokens, dim)
        if compose_hidden:
            self.compose = nn.Linear(2 * dim, compose_hidden)
            self.compose_out = nn.Linear(compose_hidden, dim)
        else:
            self.compose = nn.Linear(2 * dim, dim)
            self.compose_out = None
        width = compose_hidden or dim
        self.label_bias = nn.Embedding(num_labels, width) if num_labels else None
        if self.label_bias is not None:
            nn.init.zeros_(self.label_bias.weight)
        self.head = nn.Sequential(nn.Linear(dim, dim), nn.Tanh(),
                                  nn.Linear(dim, 1 if num_classes is None else num_classes))

    def _combine(self, left, right, labels):
        """Composition of a batch of child pairs (rows of ``left``/``right``)."""
        z = self.compose(cat([left, right], 1))
        if self.label_bias is not None and labels is not None:
            z = z + self.label_bias(labels)
        h = z.tanh()
        return h if self.compose_out is None else self.compose_out(h).tanh()

    def encode_tree(self, tree):
        """The root vector (1, dim) by plain recursion, one node at a time (clear, slow)."""
        dev = self.embedding.weight.device
        if tree.is_leaf:
            return self.embedding(creation.tensor([tree.token], device=dev))
        lab = None if tree.label is None else creation.tensor([tree.label], device=dev)
        return self._combine(self.encode_tree(tree.left), self.encode_tree(tree.right), lab)

    def encode(self, trees):
        """Root vectors (B, dim) of many trees, batching all nodes of the same height.

        Every node's vector depends only on lower nodes, so one matmul per height computes a
        whole level of every tree; children are picked from earlier levels by index.
        """
        if isinstance(trees, Tree):
            trees = [trees]
        dev = self.embedding.weight.device
        levels = {}   # height -> list of nodes
        where = {}    # id(node) -> row in the concatenation of the levels computed so far

        def visit(node):
            h = 0 if node.is_leaf else 1 + max(visit(node.left), visit(node.right))
            levels.setdefault(h, []).append(node)
            return h
        for t in trees:
            visit(t)
        leaves = levels[0]
        states = [self.embedding(creation.tensor([n.token for n in leaves], device=dev))]
        for i, n in enumerate(leaves):
            where[id(n)] = i
        offset = len(leaves)
        for h in range(1, max(levels) + 1):
            nodes = levels.get(h, [])
            if not nodes:
                continue
            below = cat(states, 0) if len(states) > 1 else states[0]
            li = creation.tensor([where[id(n.left)] for n in nodes], device=dev)
            ri = creation.tensor([where[id(n.right)] for n in nodes], device=dev)
            labels = None
            if self.label_bias is not None:
                labels = creation.tensor([0 if n.label is None else n.label for n in nodes],
                                         device=dev)
            states.append(self._combine(below.index_select(0, li), below.index_select(0, ri),
                                        labels))
            for i, n in enumerate(nodes):
                where[id(n)] = offset + i
            offset += len(nodes)
        allstates = cat(states, 0) if len(states) > 1 else states[0]
        return allstates.index_select(0, creation.tensor([where[id(t)] for t in trees],
                                                         device=dev))

    def forward(self, trees):
        out = self.head(self.encode(trees))
        return out.squeeze(-1) if out.shape[-1] == 1 else out


# -- the task ------------------------------------------------------------------------------
def _rng(generator):
    if generator is None:
        from ..random import default_generator
        generator = default_generator
    return generator.rng if hasattr(generator, "rng") else generator


def random_expression(max_ops=3, min_ops=1, generator=None, max_digit=9):
    """A random tree over digits 0..max_digit with ``min_ops..max_ops`` operators (+, -);
    its shape is random too (each operator splits the remaining ones at random)."""
    rng = _rng(generator)

    def build(n_ops):
        if n_ops == 0:
            return Tree(token=int(rng.integers(0, max_digit + 1)))
        left = int(rng.integers(0, n_ops))
        return Tree(label=int(rng.integers(0, len(OPS))), left=build(left),
                    right=build(n_ops - 1 - left))
    return build(int(rng.integers(min_ops, max_ops + 1)))


def evaluate_expression(tree):
    """The integer value of an expression tree."""
    if tree.is_leaf:
        return tree.token
    a, b = evaluate_expression(tree.left), evaluate_expression(tree.right)
    return a + b if OPS[tree.label] == "+" else a - b


def expression_to_string(tree):
    if tree.is_leaf:
        return str(tree.token)
    op = "?" if tree.label is None else OPS[tree.label]
    return f"({expression_to_string(tree.left)} {op} {expression_to_string(tree.right)})"


def expression_dataset(n, max_ops=3, min_ops=1, modulus=10, generator=None):
    """``n`` random expressions and their values mod ``modulus`` (class labels 0..modulus-1;
    ``modulus=None`` gives the raw integer values, for regression)."""
    trees = [random_expression(max_ops, min_ops, generator) for _ in range(n)]
    vals = [evaluate_expression(t) for t in trees]
    if modulus is not None:
        vals = [v % modulus for v in vals]
    return trees, np.array(vals, dtype=np.int64)


def expression_accuracy(model, trees, labels, batch_size=512):
    was = model.training
    model.eval()
    correct = 0
    with grad_mode.no_grad():
        for i in range(0, len(trees), batch_size):
            pred = model(trees[i:i + batch_size]).argmax(-1).cpu().numpy()
            correct += int((pred == labels[i:i + batch_size]).sum())
    model.train(was)
    return correct / max(len(trees), 1)


def train_recursive(steps=2500, batch_size=64, dim=64, compose_hidden=128, max_ops=3,
                    lr=3e-3, seed=0, test_size=1000, target=None, log_every=0, verbose=False):
    """Train a RecursiveNet to evaluate random +/- expressions mod 10 (fresh trees each step).

    Returns ``(model, history)``; history has 'loss' (per step), 'test_accuracy' (final,
    on ``test_size`` held-out trees), 'steps' and 'seconds'. Stops early once a periodic
    check (every ``log_every`` steps, if > 0) reaches ``target`` accuracy.
    """
    from ..random import Generator
    from .. import manual_seed
    manual_seed(seed)
    gen = Generator().manual_seed(seed)
    test_gen = Generator().manual_seed(seed + 10_000)
    model = RecursiveNet(NUM_TOKENS, dim, num_classes=10, num_labels=NUM_OPS,
                         compose_hidden=compose_hidden)
    opt = optim.Adam(model.parameters(), lr=lr)
    test_trees, test_y = expression_dataset(test_size, max_ops=max_ops, generator=test_gen)
    history = {"loss": [], "test_accuracy": None, "steps": 0}
    start = time.time()
    for step in range(1, steps + 1):
        trees, y = expression_dataset(batch_size, max_ops=max_ops, generator=gen)
        loss = F.cross_entropy(model(trees), creation.tensor(y))
        opt.zero_grad()
        loss.backward()
        opt.step()
        history["loss"].append(loss.item())
        history["steps"] = step
        if log_every and step % log_every == 0:
            acc = expression_accuracy(model, test_trees, test_y)
            if verbose:
                print(f"step {step:5d}  loss {loss.item():.4f}  held-out accuracy {acc:.4f}")
            if target is not None and acc >= target:
                break
    history["test_accuracy"] = expression_accuracy(model, test_trees, test_y)
    history["seconds"] = time.time() - start
    return model, history


def recursive_demo(seed=0, steps=2500, target=0.98, verbose=True, **train_kw):
    """Train a RecursiveNet on +/- expressions mod 10 and report held-out accuracy and a few
    predictions. Returns a summary dict (what the CLI prints)."""
    from ..random import Generator
    model, hist = train_recursive(steps=steps, target=target, log_every=250, seed=seed,
                                  verbose=verbose, **train_kw)
    trees, vals = expression_dataset(5, max_ops=train_kw.get("max_ops", 3),
                                     generator=Generator().manual_seed(seed + 99))
    model.eval()
    with grad_mode.no_grad():
        pred = model(trees).argmax(-1).tolist()
    summary = {"steps": hist["steps"], "seconds": round(hist["seconds"], 1),
               "final_loss": hist["loss"][-1], "test_accuracy": hist["test_accuracy"],
               "examples": [f"{expression_to_string(t)} mod 10 = {v} (predicted {p})"
                            for t, v, p in zip(trees, vals.tolist(), pred)]}
    if verbose:
        for k, v in summary.items():
            print(f"{k}: {v}")
    return summary
