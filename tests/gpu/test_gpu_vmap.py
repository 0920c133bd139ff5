"""narae.func.vmap on the GPU equals vmap on the CPU (outputs, and gradients through it).

The vectorized vmap keeps the batch in front of device arrays and shows per-sample shapes
through a stand-in array; on the strict fake CuPy this checks that nothing it does mixes
host and device arrays, and that the vectorized path (not the loop) ran where expected.
"""
import pytest

import narae as nr
import narae.nn.functional as F
from narae.func import vmap, grad, jacrev
from narae.func import _batching
from test_gpu_ops import Case, randn, ints, with_layouts, layout_ids, check_case

pytestmark = pytest.mark.gpu


def _mlp_per_sample_grads(x, w1, b1, w2, y):
    def loss(p, xi, yi):
        h = nr.tanh(F.linear(xi.unsqueeze(0), p[0], p[1]))
        return F.cross_entropy(F.linear(h, p[2]), yi.unsqueeze(0))
    g = vmap(grad(loss), in_dims=(None, 0, 0))((w1, b1, w2), x, y)
    return g[0], g[1], g[2]


CASES = [
    Case("vmap_elementwise", lambda x, y: vmap(lambda a, b: nr.tanh(a) * b + a.exp(),
                                               in_dims=(0, None))(x, y), randn(4, 3), randn(3)),
    Case("vmap_matmul", lambda x, w: vmap(lambda a: a @ w, in_dims=1)(x), randn(2, 5, 3),
         randn(3, 4)),
    Case("vmap_linear_batched_weight", lambda x, w, b: vmap(F.linear)(x, w, b), randn(4, 2, 3),
         randn(4, 5, 3), randn(4, 5)),
    Case("vmap_softmax_sum", lambda x: vmap(lambda t: nr.softmax(t, -1).sum(0) + t.mean())(x),
         randn(4, 3, 5)),
    Case("vmap_shapes", lambda x: vmap(lambda t: nr.cat([t.t(), t[:1].t()], 1).reshape(-1))(x),
         randn(4, 2, 3)),
    Case("vmap_nested", lambda x, y: vmap(vmap(lambda a, b: a * b, in_dims=(0, None)),
                                          in_dims=(None, 0))(x, y), randn(3), randn(2)),
    Case("vmap_cross_entropy", lambda x, t: vmap(F.cross_entropy)(x, t), randn(4, 3, 5),
         ints(5, 4, 3)),
    Case("vmap_fallback_op", lambda x, w: vmap(lambda a: F.conv1d(a.unsqueeze(0), w))(x),
         randn(3, 2, 7), randn(4, 2, 3), atol=1e-4, rtol=1e-3),
    Case("vmap_grad_per_sample", _mlp_per_sample_grads, randn(4, 3), randn(5, 3), randn(5),
         randn(2, 5), ints(2, 4), grad=False),
]
CASES += [
    Case("vmap_jacrev", lambda x, w: vmap(jacrev(lambda t: nr.tanh(F.linear(t, w)) * t.sum()))(x),
         randn(4, 3), randn(2, 3)),
    Case("vmap_vmap_closure", lambda a, b: vmap(lambda u: vmap(lambda v: nr.sin(u * v) + u.sum())(
        b))(a), randn(3, 4), randn(5, 4)),
    Case("vmap_vmap_grad", lambda x: vmap(vmap(grad(lambda t: (nr.sin(t) * t).sum())))(x),
         randn(3, 4, 2), grad=False),
    Case("vmap_jacrev_jacrev", lambda x: vmap(jacrev(jacrev(lambda t: (nr.tanh(t) ** 3).sum())))(
        x), randn(3, 4), grad=False),
]
PAIRS = with_layouts(CASES)


@pytest.mark.parametrize("case,fortran", PAIRS, ids=layout_ids(PAIRS))
def test_op_matches_cpu(case, fortran, device):
    check_case(case, fortran, device)


def test_vectorized_path_runs_on_the_device(device):
    x = nr.tensor(randn(4, 3), dtype=nr.float32).to(device)
    w = nr.tensor(randn(3, 2), dtype=nr.float32).to(device)
    out = vmap(lambda a: nr.tanh(a @ w).sum(0) * a.sum())(x)
    assert out.device == x.device
    stats = _batching.stats()
    assert stats["path"] == "vectorized" and stats["fallback"] == 0, stats


def test_nested_vmap_vectorized_on_the_device(device):
    x = nr.tensor(randn(4, 3), dtype=nr.float32).to(device)
    w = nr.tensor(randn(2, 3), dtype=nr.float32).to(device)
    out = vmap(jacrev(lambda t: nr.tanh(F.linear(t, w))))(x)
    assert out.device == x.device and tuple(out.shape) == (4, 2, 3)
    stats = _batching.stats()
    assert stats["path"] == "vectorized" and stats["fallback"] == 0, stats
    assert stats["nested"] and all(s["path"] == "vectorized" and s["fallback"] == 0
                                   for s in stats["nested"]), stats
