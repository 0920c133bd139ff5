"""narae.linalg on the device equals narae.linalg on the CPU (outputs and gradients).

Sign-ambiguous factors (eigenvectors, singular vectors) enter through sign-invariant
expressions, so the device's LAPACK may choose other signs than the CPU's.
"""
import math

import numpy as np
import pytest

import narae as nr
from test_gpu_ops import Case, randn, with_layouts, layout_ids, check_case

pytestmark = pytest.mark.gpu

TOL = dict(atol=1e-4, rtol=1e-3)


def wellcond(*shape):
    n = shape[-1]
    return randn(*shape) + n * np.eye(n)


def spd(x):
    n = x.shape[-1]
    return x @ x.mT + n * nr.eye(n, dtype=x.dtype, device=x.device)


def sym(x):
    return x + x.mT


def _eigh(x):
    L, V = nr.linalg.eigh(sym(x))
    return L, V * V


def _svd(x):
    U, S, Vh = nr.linalg.svd(x, full_matrices=False)
    return U * U, S, U @ Vh


def _lu(x):
    P, L, U = nr.linalg.lu(x)
    return P, L, U


def _lu_solve(a, b):
    LU, piv = nr.linalg.lu_factor(a)
    return nr.linalg.lu_solve(LU, piv, b)


CASES = [
    Case("det", nr.linalg.det, wellcond(2, 3, 3), **TOL),
    Case("slogdet", nr.linalg.slogdet, randn(2, 3, 3), **TOL),
    Case("logdet", lambda x: nr.logdet(spd(x)), randn(3, 3), **TOL),
    Case("inv", nr.linalg.inv, wellcond(2, 3, 3), **TOL),
    Case("inv_ex", nr.linalg.inv_ex, wellcond(3, 3), **TOL),
    Case("solve", nr.linalg.solve, wellcond(2, 3, 3), randn(2, 3, 2), **TOL),
    Case("solve_vector", nr.linalg.solve, wellcond(3, 3), randn(3), **TOL),
    Case("solve_broadcast", nr.linalg.solve, wellcond(2, 1, 3, 3), randn(4, 3, 2), **TOL),
    Case("solve_right", lambda a, b: nr.linalg.solve(a, b, left=False), wellcond(3, 3),
         randn(2, 3), **TOL),
    Case("solve_triangular", lambda a, b: nr.linalg.solve_triangular(a, b, upper=True),
         wellcond(3, 3), randn(3, 2), **TOL),
    Case("solve_triangular_right_unit", lambda a, b: nr.linalg.solve_triangular(
        a, b, upper=False, left=False, unitriangular=True), wellcond(3, 3), randn(2, 3), **TOL),
    Case("cholesky", lambda x: nr.linalg.cholesky(spd(x)), randn(2, 3, 3), **TOL),
    Case("cholesky_upper", lambda x: nr.linalg.cholesky(spd(x), upper=True), randn(3, 3), **TOL),
    Case("cholesky_ex", lambda x: nr.linalg.cholesky_ex(spd(x)), randn(3, 3), **TOL),
    Case("cholesky_solve", lambda b, x: nr.cholesky_solve(b, nr.linalg.cholesky(spd(x))),
         randn(3, 2), randn(3, 3), **TOL),
    Case("cholesky_inverse", lambda x: nr.cholesky_inverse(nr.linalg.cholesky(spd(x))),
         randn(3, 3), **TOL),
    Case("qr_tall", nr.linalg.qr, randn(5, 3), **TOL),
    Case("qr_wide_batched", nr.linalg.qr, randn(2, 3, 4), **TOL),
    Case("qr_r", lambda x: nr.linalg.qr(x, mode="r")[1], randn(4, 3), grad=False, **TOL),
    Case("eigh", _eigh, randn(2, 4, 4), **TOL),
    Case("eigvalsh", lambda x: nr.linalg.eigvalsh(sym(x)), randn(3, 3), **TOL),
    Case("svd", _svd, randn(2, 4, 3), **TOL),
    Case("svdvals", nr.linalg.svdvals, randn(3, 5), **TOL),
    Case("pinv", nr.linalg.pinv, randn(4, 3), **TOL),
    Case("pinv_hermitian", lambda x: nr.linalg.pinv(sym(x), hermitian=True), randn(3, 3), **TOL),
    Case("matrix_rank", nr.linalg.matrix_rank, randn(4, 2) @ randn(2, 3), grad=False),
    Case("lstsq", lambda a, b: nr.linalg.lstsq(a, b, driver="gelsd")[:2], randn(5, 3),
         randn(5, 2), **TOL),
    Case("matrix_power", lambda x: nr.linalg.matrix_power(x, 3), wellcond(3, 3) / 3, **TOL),
    Case("matrix_power_negative", lambda x: nr.linalg.matrix_power(x, -2), wellcond(3, 3),
         **TOL),
    Case("matrix_exp", nr.linalg.matrix_exp, randn(2, 3, 3), **TOL),
    Case("matrix_norm_nuc", lambda x: nr.linalg.matrix_norm(x, "nuc"), randn(3, 4), **TOL),
    Case("matrix_norm_inf", lambda x: nr.linalg.matrix_norm(x, math.inf), randn(3, 4), **TOL),
    Case("norm_2", lambda x: nr.linalg.norm(x, 2), randn(3, 4), **TOL),
    Case("cond", nr.linalg.cond, wellcond(3, 3), **TOL),
    Case("cond_fro", lambda x: nr.linalg.cond(x, "fro"), wellcond(3, 3), **TOL),
    Case("vecdot", nr.linalg.vecdot, randn(3, 4), randn(4), **TOL),
    Case("lu", _lu, randn(2, 4, 4), **TOL),
    Case("lu_factor", nr.linalg.lu_factor, randn(4, 3), grad=False, **TOL),
    Case("lu_solve", _lu_solve, wellcond(3, 3), randn(3, 2), **TOL),
    Case("tensorinv", lambda x: nr.linalg.tensorinv(x, ind=1), wellcond(6, 6).reshape(6, 2, 3),
         **TOL),
    Case("tensorsolve", nr.linalg.tensorsolve, wellcond(6, 6).reshape(2, 3, 6), randn(2, 3),
         **TOL),
    Case("vander", lambda x: nr.linalg.vander(x, N=4), randn(2, 3), **TOL),
    Case("householder_product", nr.linalg.householder_product, randn(5, 3), randn(2), **TOL),
]

PAIRS = with_layouts(CASES)


@pytest.mark.parametrize("case,fortran", PAIRS, ids=layout_ids(PAIRS))
def test_op_matches_cpu(case, fortran, device):
    check_case(case, fortran, device)
