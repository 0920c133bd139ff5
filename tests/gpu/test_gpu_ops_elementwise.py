"""narae/ops/elementwise.py on the device equals the CPU (outputs and gradients)."""
import numpy as np
import pytest

import narae as nr
from test_gpu_ops import (Case, randn, pos, unit, ints, mask, const, with_layouts, layout_ids,
                          check_case)

pytestmark = pytest.mark.gpu

def _inplace(name, *args, **kwargs):
    """``y = x * 1; y.name_(...)``: the in-place form inside a graph."""
    def fn(x, *tensors):
        y = x * 1.0
        return getattr(y, name)(*tensors, *args, **kwargs)
    return fn


INT_A, INT_B = ints(40, 3, 4, low=-20), ints(9, 3, 4, low=1)

CASES = [
    # -- inverse trigonometric / hyperbolic -----------------------------------------------------
    Case("acos", nr.acos, unit(3, 4) * 1.8 - 0.9),
    Case("asin", nr.asin, unit(3, 4) * 1.8 - 0.9),
    Case("atan", nr.atan, randn(3, 4)),
    Case("acosh", nr.acosh, pos(3, 4, low=1.2)),
    Case("asinh", nr.asinh, randn(3, 4)),
    Case("atanh", nr.atanh, unit(3, 4) * 1.8 - 0.9),
    Case("sinh", nr.sinh, randn(3, 4)),
    Case("cosh", nr.cosh, randn(3, 4)),
    Case("atan2", nr.atan2, randn(3, 4), randn(4)),
    Case("hypot", nr.hypot, randn(3, 4), randn(3, 1)),
    Case("logaddexp", nr.logaddexp, randn(3, 4), randn(3, 4)),
    Case("logaddexp2", nr.logaddexp2, randn(3, 4), randn(4)),
    Case("xlogy", nr.xlogy, randn(3, 4), pos(3, 4)),
    Case("logit", nr.logit, unit(3, 4)),
    Case("logit_eps", lambda x: nr.logit(x, eps=0.2), unit(3, 4)),
    Case("sinc", nr.sinc, randn(3, 4)),
    Case("deg2rad", nr.deg2rad, randn(3, 4)),
    Case("rad2deg", nr.rad2deg, randn(3, 4)),
    Case("exp2", nr.exp2, randn(3, 4)),
    Case("frac", nr.frac, randn(3, 4) * 3),
    Case("fix", nr.fix, randn(3, 4) * 3),
    Case("copysign", nr.copysign, randn(3, 4), randn(3, 4)),
    Case("nan_to_num", lambda x, d: nr.nan_to_num(x / d, nan=1.0, posinf=5.0), randn(3, 4),
         const(np.array([0.0, 1.0, 2.0, 0.0]))),
    Case("float_power", nr.float_power, pos(3, 4), randn(3, 4), atol=1e-6),
    Case("heaviside", lambda x, v: nr.heaviside(x, v), randn(3, 4) * (randn(3, 4) > 0),
         const(randn(4))),
    Case("ldexp", nr.ldexp, randn(3, 4), ints(5, 3, 4, low=-4)),
    Case("frexp", nr.frexp, randn(3, 4) * 10),
    # -- special functions ------------------------------------------------------------------------
    Case("erfc", nr.erfc, randn(3, 4)),
    Case("erfinv", nr.erfinv, unit(3, 4) * 1.6 - 0.8),
    Case("lgamma", nr.lgamma, pos(3, 4)),
    Case("digamma", nr.digamma, pos(3, 4)),
    Case("polygamma_2", lambda x: nr.polygamma(2, x), pos(3, 4)),
    Case("mvlgamma", lambda x: nr.mvlgamma(x, 3), pos(3, 4, low=1.5)),
    Case("i0", nr.i0, randn(3, 4)),
    # -- signs, NaN-aware extremes, classification ---------------------------------------------------
    Case("fmax", nr.fmax, randn(3, 4), randn(4)),
    Case("fmin", nr.fmin, randn(3, 4), randn(3, 1)),
    Case("sgn", nr.sgn, randn(3, 4)),
    Case("angle", nr.angle, randn(3, 4)),
    Case("signbit", nr.signbit, randn(3, 4)),
    Case("isposinf_isneginf", lambda x, z: (nr.isposinf(x / z), nr.isneginf(x / z),
                                            nr.isreal(x)), randn(3, 4), const(np.zeros(4)),
         grad=False),
    Case("nextafter", nr.nextafter, randn(3, 4), randn(3, 4), grad=False),
    Case("clamp_min_max", lambda x: nr.clamp_min(x, -0.3) + nr.clamp_max(x, 0.4), randn(3, 4)),
    # -- integers and bits ------------------------------------------------------------------------
    Case("gcd_lcm", lambda a, b: (nr.gcd(a, b), nr.lcm(a, b)), INT_A, INT_B),
    Case("bitwise", lambda a, b: (nr.bitwise_and(a, b), nr.bitwise_or(a, b),
                                  nr.bitwise_xor(a, b), nr.bitwise_not(a), a << b, a >> b),
         INT_A, INT_B),
    Case("bitwise_bool", lambda a, b: (a & b, nr.bitwise_xor(a, b), ~a), mask(3, 4), mask(3, 4)),
    # -- in-place forms in a graph -----------------------------------------------------------------
    Case("acos_", _inplace("acos_"), unit(3, 4) * 1.8 - 0.9),
    Case("sinh_", _inplace("sinh_"), randn(3, 4)),
    Case("erfinv_", _inplace("erfinv_"), unit(3, 4) * 1.6 - 0.8),
    Case("lgamma_", _inplace("lgamma_"), pos(3, 4)),
    Case("cos_", _inplace("cos_"), randn(3, 4)),
    Case("reciprocal_", _inplace("reciprocal_"), pos(3, 4)),
    Case("atan2_", _inplace("atan2_"), randn(3, 4), randn(4)),
    Case("xlogy_", _inplace("xlogy_"), randn(3, 4), pos(3, 4)),
    Case("addcmul_", _inplace("addcmul_", value=0.5), randn(3, 4), randn(3, 4), randn(4)),
    Case("lerp_", _inplace("lerp_", 0.3), randn(3, 4), randn(3, 4)),
    Case("gt_", _inplace("gt_", 0.1), randn(3, 4)),
    Case("nan_to_num_", _inplace("nan_to_num_", nan=2.0), randn(3, 4)),
]

PAIRS = with_layouts(CASES)


@pytest.mark.parametrize("case,fortran", PAIRS, ids=layout_ids(PAIRS))
def test_op_matches_cpu(case, fortran, device):
    check_case(case, fortran, device)


def test_inplace_outside_graph_on_device(device):
    x = nr.from_numpy(np.array([0.1, 0.5, -0.3], dtype=np.float32)).to(device)
    arr = x._data
    x.asinh_()
    x.mul_(2.0)
    nr.exp_(x)
    assert x._data is arr and x.device.type == nr.device(device).type
    want = np.exp(np.arcsinh([0.1, 0.5, -0.3]) * 2.0)
    np.testing.assert_allclose(x.cpu().numpy(), want, rtol=1e-6)
