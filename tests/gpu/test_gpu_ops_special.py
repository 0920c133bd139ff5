"""narae/special.py on the device equals the CPU (outputs and gradients)."""
import numpy as np
import pytest

import narae as nr
import narae.special as S
from test_gpu_ops import (Case, randn, pos, unit, ints, const, with_layouts, layout_ids,
                          check_case)

pytestmark = pytest.mark.gpu

CASES = [
    Case("ndtr", S.ndtr, randn(3, 4)),
    Case("ndtri", S.ndtri, unit(3, 4)),
    Case("log_ndtr", S.log_ndtr, randn(3, 4) * 4),
    Case("erfcx", S.erfcx, unit(3, 4) * 4 - 1),
    Case("entr", S.entr, pos(3, 4)),
    Case("xlog1py", S.xlog1py, randn(3, 4), pos(4)),
    Case("i0e", S.i0e, randn(3, 4) * 3),
    Case("i1", S.i1, randn(3, 4) * 3),
    Case("i1e", S.i1e, randn(3, 4) * 3),
    Case("zeta", lambda q: S.zeta(2.5, q), pos(3, 4)),
    Case("zeta_x_const", lambda x, q: S.zeta(x, q), const(1.5 + np.abs(randn(3, 4))), pos(4)),
    Case("expit", S.expit, randn(3, 4)),
    Case("logsumexp", lambda x: S.logsumexp(x, 1), randn(3, 4)),
    Case("softmax", lambda x: S.softmax(x, 0), randn(3, 4)),
    Case("bessel_j0", S.bessel_j0, randn(3, 4) * 10, grad=False),
    Case("bessel_j1", S.bessel_j1, randn(3, 4) * 10, grad=False),
    Case("bessel_y0", S.bessel_y0, pos(3, 4) * 10, grad=False),
    Case("bessel_y1", S.bessel_y1, pos(3, 4) * 10, grad=False),
    Case("modified_bessel_i0", S.modified_bessel_i0, randn(3, 4) * 3, grad=False),
    Case("modified_bessel_i1", S.modified_bessel_i1, randn(3, 4) * 3, grad=False),
    Case("modified_bessel_k0", S.modified_bessel_k0, pos(3, 4), grad=False),
    Case("modified_bessel_k1", S.modified_bessel_k1, pos(3, 4), grad=False),
    Case("scaled_modified_bessel_k0", S.scaled_modified_bessel_k0, pos(3, 4), grad=False),
    Case("scaled_modified_bessel_k1", S.scaled_modified_bessel_k1, pos(3, 4), grad=False),
    Case("spherical_bessel_j0", S.spherical_bessel_j0, randn(3, 4) * 3, grad=False),
    Case("airy_ai", S.airy_ai, randn(3, 4) * 4, grad=False),
    Case("chebyshev_t", lambda x, n: S.chebyshev_polynomial_t(x, n), unit(3, 4) * 2 - 1,
         ints(8, 4), grad=False),
    Case("shifted_chebyshev_u", lambda x: S.shifted_chebyshev_polynomial_u(x, 5), unit(3, 4),
         grad=False),
    Case("hermite_h", lambda x, n: S.hermite_polynomial_h(x, n), randn(3, 4), ints(6, 3, 1),
         grad=False),
    Case("laguerre_l", lambda x: S.laguerre_polynomial_l(x, 4), pos(3, 4), grad=False),
    Case("legendre_p", lambda x: S.legendre_polynomial_p(x, 6), unit(3, 4) * 2 - 1,
         grad=False),
]

PAIRS = with_layouts(CASES)


@pytest.mark.parametrize("case,fortran", PAIRS, ids=layout_ids(PAIRS))
def test_op_matches_cpu(case, fortran, device):
    check_case(case, fortran, device)


def test_module_is_lazily_exported():
    assert nr.special is S
