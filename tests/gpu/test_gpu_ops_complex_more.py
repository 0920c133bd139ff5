"""GPU table for complex tensors, second round (statistics, scans, convolutions, losses) and
optimizer steps on complex parameters: device == CPU.

As in ``test_gpu_ops_complex.py``, each case takes (..., 2) float inputs made complex with
``view_as_complex``, and hands complex outputs back through ``view_as_real``.
"""
import numpy as np
import pytest

import narae as nr
import narae.nn.functional as F
import narae.ops.complex_conv as cconv
from test_gpu_ops import Case, randn, with_layouts, layout_ids, check_case
from test_gpu_ops_complex import cx, cz

pytestmark = pytest.mark.gpu

CASES = [
    Case("complex_cov", cx(lambda z: nr.cov(z)), cz(3, 5)),
    Case("complex_cov_aweights", cx(lambda z, w: nr.cov(z, aweights=w), which=(0,)), cz(2, 4),
         np.array([0.5, 1.0, 2.0, 0.7])),
    Case("complex_corrcoef", cx(lambda z: nr.corrcoef(z)), cz(3, 5)),
    Case("complex_trapezoid", cx(lambda z: nr.trapezoid(z, dx=0.5)), cz(3, 4)),
    Case("complex_trapezoid_x", cx(lambda z, x: nr.trapezoid(z, x), which=(0,)), cz(3, 4),
         randn(4)),
    Case("complex_cumulative_trapezoid", cx(lambda z: nr.cumulative_trapezoid(z, dim=0)),
         cz(3, 4)),
    Case("complex_logcumsumexp", cx(lambda z: nr.logcumsumexp(z, 1)), cz(3, 6)),
    Case("complex_vander", cx(lambda z: nr.vander(z, 3)), cz(4)),
    Case("complex_renorm", cx(lambda z: nr.renorm(z, 2, 0, 1.0)), cz(3, 4)),
    Case("complex_kron", cx(lambda a, b: nr.kron(a, b)), cz(2, 3), cz(2, 2)),
    Case("complex_tensordot", cx(lambda a, b: nr.tensordot(a, b, dims=1)), cz(3, 4), cz(4, 2)),
    Case("complex_trace_tril", cx(lambda z: nr.tril(z) + nr.trace(z)), cz(4, 4)),
    Case("complex_flip_roll_rot90",
         cx(lambda z: nr.rot90(nr.roll(nr.flip(z, (0,)), 1, 1), 1, (0, 1))), cz(3, 4)),
    Case("complex_conv1d", cx(lambda x, w, b: cconv.conv1d(x, w, b, stride=2, padding=1)),
         cz(2, 3, 7), cz(4, 3, 3), cz(4), atol=1e-4),
    Case("complex_conv2d", cx(lambda x, w: cconv.conv2d(x, w, padding=1)), cz(1, 2, 4, 4),
         cz(3, 2, 3, 3), atol=1e-4),
    Case("complex_conv_transpose1d", cx(lambda x, w: cconv.conv_transpose1d(x, w, stride=2)),
         cz(2, 3, 5), cz(3, 2, 3), atol=1e-4),
    Case("complex_linear", cx(lambda x, w, b: F.linear(x, w, b)), cz(4, 3), cz(2, 3), cz(2)),
    Case("complex_l1_loss", cx(lambda x, y: F.l1_loss(x, y)), cz(4, 3), cz(4, 3)),
    Case("complex_soft_margin_loss",
         cx(lambda x, t: F.soft_margin_loss(x * 0.5, t.to(x.dtype)), which=(0,)), cz(2, 3),
         np.array([[1.0, -1.0, 1.0]])),
]

PAIRS = with_layouts(CASES)


@pytest.mark.parametrize("case,fortran", PAIRS, ids=layout_ids(PAIRS))
def test_op_matches_cpu(case, fortran, device):
    check_case(case, fortran, device)


@pytest.mark.parametrize("name,kw", [("Adam", dict(lr=0.05, amsgrad=True)),
                                     ("RMSprop", dict(lr=0.01, centered=True)),
                                     ("Rprop", dict(lr=0.01)), ("Adagrad", dict(lr=0.1)),
                                     ("SGD", dict(lr=0.05, momentum=0.9))])
def test_optimizer_complex_param_matches_cpu(name, kw, device):
    rng = np.random.default_rng(5)
    w0 = (rng.standard_normal((3, 4)) + 1j * rng.standard_normal((3, 4))).astype(np.complex64)
    target = (rng.standard_normal((3, 4)) + 1j * rng.standard_normal((3, 4))).astype(
        np.complex64)
    results = []
    for dev in ("cpu", device):
        p = nr.tensor(w0).to(dev).requires_grad_(True)
        t = nr.tensor(target).to(dev)
        opt = getattr(nr.optim, name)([p], **kw)
        for _ in range(3):
            opt.zero_grad()
            ((p - t).abs() ** 3).sum().backward()
            opt.step()
        assert p.device == nr.backend.as_device(dev)
        results.append(p.detach().cpu().numpy())
    np.testing.assert_allclose(results[1], results[0], rtol=1e-5, atol=1e-6)
