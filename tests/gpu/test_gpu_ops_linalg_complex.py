"""GPU table for narae.linalg on complex matrices and the general eigendecomposition:
device == CPU for outputs and gradients.

Complex operands enter as (re, im) pairs in a trailing dim of 2 (``cz``/``cx`` from the
complex table); eigen- and singular vectors enter through phase-invariant expressions.
"""
import numpy as np
import pytest

import narae as nr
from test_gpu_ops import Case, randn, with_layouts, layout_ids, check_case
from test_gpu_ops_complex import cx, cz

pytestmark = pytest.mark.gpu

TOL = dict(atol=1e-4, rtol=1e-3)


def wc(*shape):
    """A well-conditioned complex matrix, as (re, im) pairs."""
    a = randn(*shape, 2)
    a[..., 0] += shape[-1] * np.eye(shape[-1])
    return a


def hpd(z):
    n = z.shape[-1]
    return z @ z.mH + n * nr.eye(n, dtype=z.dtype, device=z.device)


def herm(z):
    return z + z.mH


def separated(n):
    """A complex matrix with well separated eigenvalues."""
    a = randn(n, n, 2) * 0.3
    a[..., 0] += np.diag(np.arange(n) * 2.0)
    return a


def _eig(z):
    L, V = nr.linalg.eig(z)
    return L, V.abs(), V @ (L.unsqueeze(-1) * nr.linalg.inv(V))


def _eigh(z):
    L, V = nr.linalg.eigh(herm(z))
    return L, V.abs(), (V * L.unsqueeze(-2)) @ V.mH


def _svd(z):
    U, S, Vh = nr.linalg.svd(z, full_matrices=False)
    return S, U.abs(), U @ Vh


def _lu_solve(a, b):
    LU, piv = nr.linalg.lu_factor(a)
    return nr.linalg.lu_solve(LU, piv, b, adjoint=True)


CASES = [
    Case("c_det", cx(nr.linalg.det), wc(2, 3, 3), **TOL),
    Case("c_slogdet", cx(nr.linalg.slogdet), wc(2, 3, 3), **TOL),
    Case("c_logdet", cx(nr.logdet), wc(3, 3), **TOL),
    Case("c_inv", cx(nr.linalg.inv), wc(2, 3, 3), **TOL),
    Case("c_solve", cx(nr.linalg.solve), wc(2, 3, 3), cz(2, 3, 2), **TOL),
    Case("c_solve_triangular", cx(lambda a, b: nr.linalg.solve_triangular(a, b, upper=True)),
         wc(3, 3), cz(3, 2), **TOL),
    Case("c_cholesky", cx(lambda z: nr.linalg.cholesky(hpd(z))), cz(2, 3, 3), **TOL),
    Case("c_cholesky_upper", cx(lambda z: nr.linalg.cholesky(hpd(z), upper=True)), cz(3, 3),
         **TOL),
    Case("c_qr_tall", cx(nr.linalg.qr), cz(4, 3), **TOL),
    Case("c_qr_wide", cx(nr.linalg.qr), cz(2, 3, 4), **TOL),
    Case("c_eigh", cx(_eigh), cz(3, 3), **TOL),
    Case("c_eigvalsh", cx(lambda z: nr.linalg.eigvalsh(herm(z))), cz(2, 3, 3), **TOL),
    Case("c_eig", cx(_eig), separated(3), **TOL),
    Case("c_eigvals", cx(nr.linalg.eigvals), separated(3), **TOL),
    Case("eigvals_real", cx(nr.linalg.eigvals), randn(3, 3) + np.diag([0.0, 3.0, 6.0]),
         **TOL),
    Case("c_svd", cx(_svd), cz(4, 3), **TOL),
    Case("c_svdvals", cx(nr.linalg.svdvals), cz(2, 3, 4), **TOL),
    Case("c_pinv", cx(nr.linalg.pinv), cz(4, 3), **TOL),
    Case("c_pinv_hermitian", cx(lambda z: nr.linalg.pinv(herm(z), hermitian=True)), cz(3, 3),
         **TOL),
    Case("c_lstsq", cx(lambda a, b: nr.linalg.lstsq(a, b, driver="gelsd")[:2]), cz(5, 3),
         cz(5, 2), **TOL),
    Case("c_matrix_norm_nuc", cx(lambda z: nr.linalg.matrix_norm(z, "nuc")), cz(2, 3, 3),
         **TOL),
    Case("c_matrix_norm_fro", cx(nr.linalg.matrix_norm), cz(2, 3, 3), **TOL),
    Case("c_matrix_norm_inf", cx(lambda z: nr.linalg.matrix_norm(z, float("inf"))),
         cz(3, 4), **TOL),
    Case("c_cond", cx(nr.linalg.cond), wc(3, 3), **TOL),
    Case("c_matrix_exp", cx(nr.linalg.matrix_exp), cz(2, 3, 3) * 0.5, **TOL),
    Case("c_matrix_power", cx(lambda z: nr.linalg.matrix_power(z, -2)), wc(3, 3), **TOL),
    Case("c_lu", cx(nr.linalg.lu), cz(3, 3), **TOL),
    Case("c_lu_solve_adjoint", cx(_lu_solve), wc(3, 3), cz(3, 2), **TOL),
    Case("c_vecdot", cx(nr.linalg.vecdot), cz(3, 4), cz(3, 4), **TOL),
    Case("c_householder_product", cx(nr.linalg.householder_product), cz(4, 3), cz(2), **TOL),
    Case("c_cumprod_zero", cx(lambda z: nr.cumprod(z, 1)),
         np.where(np.arange(5)[None, :, None] == 2, 0.0, randn(3, 5, 2)), **TOL),
    Case("c_logaddexp", cx(nr.logaddexp), cz(3, 4), cz(4), **TOL),
    Case("c_normalize", cx(lambda z: nr.nn.functional.normalize(z, dim=-1)), cz(3, 4), **TOL),
    Case("c_pairwise_distance", cx(nr.nn.functional.pairwise_distance), cz(3, 4), cz(3, 4),
         **TOL),
]

PAIRS = with_layouts(CASES)


@pytest.mark.parametrize("case,fortran", PAIRS, ids=layout_ids(PAIRS))
def test_op_matches_cpu(case, fortran, device):
    check_case(case, fortran, device)
