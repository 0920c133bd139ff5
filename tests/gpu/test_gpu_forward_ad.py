"""Forward-mode AD on the GPU equals the CPU: tangents (and their reverse-mode gradients).

Each case's expression returns a tangent computed by forward AD (narae.func.jvp/jacfwd or
narae.autograd.forward_ad), so ``check_case`` compares the tangents device vs CPU and then
differentiates them in reverse mode (reverse-over-forward) on both sides.
"""
import numpy as np
import pytest

import narae as nr
import narae.autograd.forward_ad as fw
import narae.nn.functional as F
from test_gpu_ops import Case, randn, pos, ints, with_layouts, layout_ids, check_case

pytestmark = pytest.mark.gpu


def _jvp(f):
    return lambda *xs: nr.func.jvp(f, xs[: len(xs) // 2], xs[len(xs) // 2:])[1]


def _dual(f):
    """The tangent of f(x) by forward_ad directly (x dual with tangent t)."""
    def fn(x, t):
        with fw.dual_level():
            return fw.unpack_dual(f(fw.make_dual(x, t))).tangent
    return fn


CASES = [
    Case("jvp_elementwise", _jvp(lambda x: x.sin() * x.exp() + x.tanh().sigmoid()),
         randn(3, 4), randn(3, 4)),
    Case("jvp_log_sqrt", _jvp(lambda x: x.log() + x.sqrt() / x), pos(5), randn(5)),
    Case("jvp_linear_relu", _jvp(lambda x, w: F.relu(F.linear(x, w)).sum(0)),
         randn(4, 3), randn(2, 3), randn(4, 3), randn(2, 3)),
    Case("jvp_softmax", _jvp(lambda x: F.log_softmax(x, -1) * F.softmax(x, 0)),
         randn(3, 5), randn(3, 5)),
    Case("jvp_layer_norm", _jvp(lambda x: F.layer_norm(x, (4,))), randn(3, 4), randn(3, 4)),
    Case("jvp_conv_pool", _jvp(lambda x, w: F.max_pool2d(F.conv2d(x, w, padding=1), 2)),
         randn(1, 2, 4, 4), randn(3, 2, 3, 3), randn(1, 2, 4, 4), randn(3, 2, 3, 3)),
    Case("dual_reduce_index", _dual(lambda x: x[1:].cumsum(0).amax(1) + x.mean()),
         randn(3, 4), randn(3, 4)),
    Case("dual_inplace", _dual(lambda x: x.clone().mul_(x).add_(1.0)), randn(6), randn(6)),
    Case("jacfwd", lambda x: nr.func.jacfwd(lambda a: a.sin() @ a.mT)(x), randn(2, 2)),
    Case("hessian", lambda x: nr.func.hessian(lambda a: (a.tanh() ** 3).sum())(x), randn(3)),
]

PAIRS = with_layouts(CASES)


@pytest.mark.parametrize("case,fortran", PAIRS, ids=layout_ids(PAIRS))
def test_op_matches_cpu(case, fortran, device):
    check_case(case, fortran, device)


def test_embedding_tangent_on_device(device):
    idx = ints(5, 2, 3)
    w, t = randn(5, 4).astype(np.float32), randn(5, 4).astype(np.float32)
    res = []
    for dev in ("cpu", device):
        i = nr.from_numpy(idx).to(dev)
        with fw.dual_level():
            out = F.embedding(i, fw.make_dual(nr.from_numpy(w).to(dev),
                                              nr.from_numpy(t).to(dev)))
            res.append(fw.unpack_dual(out).tangent.cpu().numpy())
    np.testing.assert_allclose(res[0], res[1], atol=1e-6)


def test_make_dual_refuses_tangent_on_other_device(cross_device):
    x = nr.randn(3)
    with fw.dual_level():
        with pytest.raises(RuntimeError, match="same device"):
            fw.make_dual(x, nr.randn(3).to(cross_device))
