"""narae.linalg's decompositions and solvers (narae/ops/decomposition.py) against torch.

Eigen- and singular vectors are defined up to sign: their tests use losses that do not
depend on it (V * V, U @ Vh, projections), as torch's own tests do.
"""
import math

import numpy as np
import pytest
import torch

import narae as nr
from helpers import check, check_gradcheck, randn, assert_close


def wellcond(*shape):
    """Random square matrices kept far from singular (diagonal shifted by n)."""
    n = shape[-1]
    return randn(*shape) + n * np.eye(n)


def spd(m, x):
    """A symmetric positive-definite matrix built from any square x (differentiably)."""
    n = x.shape[-1]
    return x @ x.mT + n * m.eye(n, dtype=x.dtype)


def sym(m, x):
    return x + x.mT


# --- det / slogdet / inv ---------------------------------------------------------------------
@pytest.mark.parametrize("shape", [(3, 3), (2, 4, 4), (1, 1)])
def test_det_and_inverse(shape):
    a = wellcond(*shape)
    check(lambda m, x: m.linalg.det(x), a, double=True)
    check(lambda m, x: m.det(x), a)
    check(lambda m, x: m.linalg.inv(x), a, double=True)
    check(lambda m, x: m.inverse(x), a)
    check(lambda m, x: x.inverse() + x.det()[..., None, None], a)


def test_det_of_non_diagonally_dominant_and_negative():
    check(lambda m, x: m.linalg.det(x), randn(2, 3, 3), double=True, atol=1e-4)


def test_slogdet_and_logdet():
    a = randn(3, 3, 3)  # some determinants negative
    check(lambda m, x: m.linalg.slogdet(x), a, double=True)
    check(lambda m, x: tuple(m.slogdet(x)), a)
    check(lambda m, x: m.logdet(spd(m, x)), a)
    r = nr.linalg.slogdet(nr.from_numpy(a))
    assert r.sign is r[0] and r.logabsdet is r[1]
    t = torch.logdet(torch.from_numpy(a))
    assert_close(nr.logdet(nr.from_numpy(a)), t, 1e-6, 1e-6, "logdet with NaN")


def test_inv_ex():
    a = wellcond(2, 3, 3)
    check(lambda m, x: m.linalg.inv_ex(x), a)
    s = np.stack([np.eye(2), np.zeros((2, 2))])
    inv, info = nr.linalg.inv_ex(nr.from_numpy(s))
    assert info.tolist() == [0, 1]
    np.testing.assert_allclose(inv.numpy()[0], np.eye(2))
    assert np.isnan(inv.numpy()[1]).all()
    with pytest.raises(nr.linalg.LinAlgError, match="singular"):
        nr.linalg.inv_ex(nr.from_numpy(s), check_errors=True)


# --- solve -----------------------------------------------------------------------------------
@pytest.mark.parametrize("ashape,bshape", [((3, 3), (3, 2)), ((2, 3, 3), (2, 3, 4)),
                                           ((3, 3), (3,)), ((2, 3, 3), (2, 3)),
                                           ((2, 1, 3, 3), (4, 3, 1)), ((3, 3), (2, 3, 2))])
def test_solve(ashape, bshape):
    check(lambda m, a, b: m.linalg.solve(a, b), wellcond(*ashape), randn(*bshape), double=True)


@pytest.mark.parametrize("bshape", [(2, 3), (4, 2, 3)])
def test_solve_right(bshape):
    check(lambda m, a, b: m.linalg.solve(a, b, left=False), wellcond(3, 3), randn(*bshape))


def test_solve_right_has_no_vector_case():
    with pytest.raises(RuntimeError, match="XA = B"):
        nr.linalg.solve(nr.eye(3), nr.ones(3), left=False)


def test_solve_ex():
    check(lambda m, a, b: m.linalg.solve_ex(a, b), wellcond(2, 3, 3), randn(2, 3, 1))
    res, info = nr.linalg.solve_ex(nr.zeros(2, 2), nr.ones(2, 1))
    assert info.tolist() == 1


@pytest.mark.parametrize("upper,left,unit", [(True, True, False), (False, True, True),
                                              (True, False, True), (False, False, False)])
def test_solve_triangular(upper, left, unit):
    b = randn(2, 3, 4) if left else randn(2, 4, 3)
    check(lambda m, a, b: m.linalg.solve_triangular(a, b, upper=upper, left=left,
                                                    unitriangular=unit), wellcond(3, 3), b)


def test_triangular_solve_old_api():
    check(lambda m, b, a: m.triangular_solve(b, a, upper=False, transpose=True),
          randn(3, 2), wellcond(3, 3))


# --- cholesky --------------------------------------------------------------------------------
@pytest.mark.parametrize("upper", [False, True])
def test_cholesky(upper):
    a = randn(2, 4, 4)
    check(lambda m, x: m.linalg.cholesky(spd(m, x), upper=upper), a, double=not upper)
    check(lambda m, x: m.cholesky(spd(m, x), upper), a, grad=upper)
    check(lambda m, x: m.linalg.cholesky_ex(spd(m, x), upper=upper), a, grad=False)


def test_cholesky_ex_reports_the_failing_minor():
    a = np.array([[[1., 0, 0], [0, 2, 0], [0, 0, -1]], [[4., 0, 0], [0, 1, 0], [0, 0, 1]]])
    L, info = nr.linalg.cholesky_ex(nr.from_numpy(a))
    tL, tinfo = torch.linalg.cholesky_ex(torch.from_numpy(a))
    assert info.tolist() == tinfo.tolist() == [3, 0]
    np.testing.assert_allclose(L.numpy()[1], tL.numpy()[1])


@pytest.mark.parametrize("upper", [False, True])
def test_cholesky_solve_and_inverse(upper):
    tri = (lambda m, x: m.triu(x) + 3 * m.eye(3, dtype=x.dtype)) if upper else \
        (lambda m, x: m.tril(x) + 3 * m.eye(3, dtype=x.dtype))
    check(lambda m, b, x: m.cholesky_solve(b, tri(m, x), upper), randn(2, 3, 2), randn(3, 3))
    check(lambda m, x: m.cholesky_inverse(tri(m, x), upper), randn(3, 3))
    check(lambda m, b, x: b.cholesky_solve(tri(m, x), upper), randn(3, 2), randn(3, 3),
          grad=False)


# --- QR --------------------------------------------------------------------------------------
@pytest.mark.parametrize("shape", [(5, 3), (4, 4), (2, 3, 5), (2, 5, 3)])
def test_qr_reduced(shape):
    check(lambda m, x: m.linalg.qr(x), randn(*shape), atol=1e-4)


def test_qr_modes():
    check(lambda m, x: m.linalg.qr(x, mode="complete"), randn(4, 4))
    check(lambda m, x: m.linalg.qr(x, mode="complete"), randn(3, 5))
    check(lambda m, x: m.linalg.qr(x, mode="complete"), randn(5, 3), grad=False)
    check(lambda m, x: m.linalg.qr(x, mode="r"), randn(2, 5, 3), grad=False)
    check(lambda m, x: m.qr(x), randn(5, 3))
    check(lambda m, x: m.qr(x, some=False), randn(5, 3), grad=False)
    r = nr.linalg.qr(nr.from_numpy(randn(4, 3)))
    assert r.Q is r[0] and r.R is r[1]


def test_qr_gradient_errors():
    x = nr.from_numpy(randn(4, 3)).requires_grad_()
    with pytest.raises(RuntimeError, match="mode='r'"):
        nr.linalg.qr(x, mode="r")[1].sum().backward()
    with pytest.raises(RuntimeError, match="complete"):
        nr.linalg.qr(x, mode="complete")[0].sum().backward()
    with pytest.raises(RuntimeError, match="unrecognized mode"):
        nr.linalg.qr(x, mode="full")


# --- eigh ------------------------------------------------------------------------------------
@pytest.mark.parametrize("uplo", ["L", "U"])
def test_eigh(uplo):
    a = randn(2, 4, 4)

    def fn(m, x):
        L, V = m.linalg.eigh(sym(m, x), UPLO=uplo)
        return L, V * V, V @ (L[..., None] * V.mT)
    check(fn, a, atol=1e-4)
    check(lambda m, x: m.linalg.eigvalsh(sym(m, x), UPLO=uplo), a, double=True)
    r = nr.linalg.eigh(nr.from_numpy(a + a.transpose(0, 2, 1)))
    assert r.eigenvalues is r[0] and r.eigenvectors is r[1]


def test_eigh_reads_one_triangle():
    a = randn(3, 3)
    check(lambda m, x: m.linalg.eigvalsh(x, UPLO="U"), a, grad=False)


# --- SVD -------------------------------------------------------------------------------------
@pytest.mark.parametrize("shape", [(4, 4), (5, 3), (3, 5), (2, 4, 3)])
def test_svd(shape):
    def fn(m, x):
        U, S, Vh = m.linalg.svd(x, full_matrices=False)
        return U * U, S, Vh * Vh, U @ Vh
    check(fn, randn(*shape), atol=1e-4)
    check(lambda m, x: m.linalg.svdvals(x), randn(*shape), double=True, atol=1e-4)


def test_svd_full_matrices_and_old_api():
    def fn(m, x):
        U, S, Vh = m.linalg.svd(x)
        return U[..., :, :3] @ Vh[..., :3, :], S
    check(fn, randn(5, 3), atol=1e-4)
    check(lambda m, x: m.linalg.svd(x)[1], randn(3, 5))

    def old(m, x):
        U, S, V = m.svd(x)
        return U @ V.mT, S
    check(old, randn(2, 5, 3), atol=1e-4)
    ours = nr.svd(nr.from_numpy(randn(4, 3)), compute_uv=False)
    assert ours.U.shape == (4, 4) and ours.V.shape == (3, 3) and ours.S.shape == (3,)
    assert not ours.U.numpy().any()
    r = nr.linalg.svd(nr.from_numpy(randn(3, 2)))
    assert r.U is r[0] and r.Vh is r[2]


# --- pinv / matrix_rank / lstsq ----------------------------------------------------------------
@pytest.mark.parametrize("shape", [(4, 3), (3, 5), (2, 3, 3)])
def test_pinv(shape):
    check(lambda m, x: m.linalg.pinv(x), randn(*shape), double=True, atol=1e-4)
    check(lambda m, x: m.pinverse(x), randn(*shape), atol=1e-4)


def test_pinv_hermitian_and_tolerances():
    check(lambda m, x: m.linalg.pinv(sym(m, x), hermitian=True), randn(3, 3), atol=1e-4)
    low = randn(4, 2) @ randn(2, 4)  # rank 2
    check(lambda m, x: m.linalg.pinv(x, atol=1e-3), low, grad=False, atol=1e-4)
    check(lambda m, x: m.linalg.pinv(x, rtol=0.5), randn(4, 4), grad=False, atol=1e-4)
    check(lambda m, x: m.linalg.pinv(x, atol=0.1, rtol=0.2), randn(4, 4), grad=False,
          atol=1e-4)


def test_matrix_rank():
    low = np.stack([randn(5, 2) @ randn(2, 4), randn(5, 4)])
    check(lambda m, x: m.linalg.matrix_rank(x), low, grad=False)
    check(lambda m, x: m.linalg.matrix_rank(x, atol=1.0, rtol=0.0), low, grad=False)
    check(lambda m, x: m.linalg.matrix_rank(x @ x.mT, hermitian=True), low, grad=False)


@pytest.mark.parametrize("ashape,bshape", [((5, 3), (5, 2)), ((2, 5, 3), (2, 5, 4)),
                                           ((3, 5), (3, 2)), ((5, 3), (5,))])
def test_lstsq(ashape, bshape):
    a, b = randn(*ashape), randn(*bshape)
    # rank and singular values are not differentiable (in torch neither): forward only
    check(lambda m, a, b: m.linalg.lstsq(a, b, driver="gelsd"), a, b, atol=1e-4, grad=False)
    check(lambda m, a, b: m.linalg.lstsq(a, b, driver="gelsd")[:2], a, b, atol=1e-4)
    ours = nr.linalg.lstsq(nr.from_numpy(a), nr.from_numpy(b))
    theirs = torch.linalg.lstsq(torch.from_numpy(a), torch.from_numpy(b))
    for o, t in zip(ours, theirs):
        assert_close(o, t, 1e-6, 1e-6, "lstsq default driver")


# --- matrix_power / matrix_exp ------------------------------------------------------------
@pytest.mark.parametrize("n", [0, 1, 2, 5, -1, -3])
def test_matrix_power(n):
    check(lambda m, x: m.linalg.matrix_power(x, n), wellcond(2, 3, 3) / 3, atol=1e-4)
    check(lambda m, x: x.matrix_power(n), wellcond(3, 3) / 3, atol=1e-4)


@pytest.mark.parametrize("scale", [0.1, 8.0])
def test_matrix_exp(scale):
    check(lambda m, x: m.linalg.matrix_exp(x), randn(2, 3, 3) * scale, atol=1e-4, rtol=1e-4)


def test_matrix_exp_double_backward_and_method():
    check(lambda m, x: m.matrix_exp(x), randn(3, 3) * 0.5, double=True, atol=1e-4)
    check(lambda m, x: x.matrix_exp(), randn(2, 2))


# --- norms, cond, vecdot -----------------------------------------------------------------------
@pytest.mark.parametrize("ord", ["fro", "nuc", 2, -2, 1, -1, math.inf, -math.inf])
def test_matrix_norm(ord):
    check(lambda m, x: m.linalg.matrix_norm(x, ord), randn(2, 3, 4), atol=1e-4)
    check(lambda m, x: m.linalg.matrix_norm(x, ord, dim=(0, 2), keepdim=True), randn(3, 2, 4),
          atol=1e-4)
    check(lambda m, x: m.linalg.matrix_norm(x, ord, dim=(-1, 0)), randn(4, 2, 3), atol=1e-4)


@pytest.mark.parametrize("ord,dim", [(None, None), (None, 1), (None, (0, 1)), (3, -1),
                                     ("fro", None), ("nuc", None), (2, None), (-1, None),
                                     (math.inf, (1, 0)), (1, (-2, -1))])
def test_norm_dispatch(ord, dim):
    shape = (3, 4) if dim is None or not isinstance(dim, tuple) or max(dim) < 2 else (2, 3, 4)
    check(lambda m, x: m.linalg.norm(x, ord, dim), randn(*shape), atol=1e-4)


def test_norm_vector_and_errors():
    check(lambda m, x: m.linalg.norm(x, 3), randn(5))
    with pytest.raises(RuntimeError, match="1D or 2D"):
        nr.linalg.norm(nr.ones(2, 2, 2), 2)
    with pytest.raises(RuntimeError, match="not supported"):
        nr.linalg.matrix_norm(nr.ones(2, 2), 3)


@pytest.mark.parametrize("p", [None, 2, -2, "fro", "nuc", 1, -1, math.inf, -math.inf])
def test_cond(p):
    # torch 2.13's backward of cond for the norm-based p fails (it modifies inv_ex's output
    # in place): compare the forward with torch, check our gradient by finite differences
    svd_based = p in (None, 2, -2)
    check(lambda m, x: m.linalg.cond(x, p), wellcond(2, 3, 3), atol=1e-4, grad=svd_based)
    if not svd_based:
        check_gradcheck(lambda m, x: m.linalg.cond(x, p), wellcond(2, 3, 3))


def test_cond_rectangular():
    check(lambda m, x: m.linalg.cond(x), randn(5, 3), atol=1e-4)


def test_vecdot():
    check(lambda m, x, y: m.linalg.vecdot(x, y), randn(3, 4), randn(4))
    check(lambda m, x, y: m.linalg.vecdot(x, y, dim=0), randn(3, 4), randn(3, 1))


# --- LU ----------------------------------------------------------------------------------------
@pytest.mark.parametrize("shape", [(4, 4), (2, 3, 3), (5, 3), (3, 5)])
def test_lu_factor_and_unpack(shape):
    check(lambda m, x: m.linalg.lu_factor(x), randn(*shape), grad=False)
    check(lambda m, x: m.linalg.lu_factor_ex(x), randn(*shape), grad=False)
    check(lambda m, x: m.lu_unpack(*m.linalg.lu_factor(x)), randn(*shape), grad=False)
    check(lambda m, x: m.lu(x, get_infos=True), randn(*shape), grad=False)


@pytest.mark.parametrize("shape", [(2, 3, 3), (5, 3), (3, 5)])
def test_lu(shape):
    check(lambda m, x: m.linalg.lu(x), randn(*shape), atol=1e-4)


@pytest.mark.parametrize("left", [True, False])
@pytest.mark.parametrize("adjoint", [True, False])
def test_lu_solve(left, adjoint):
    a = randn(2, 3, 3)
    b = randn(2, 3, 2) if left else randn(2, 2, 3)
    LU, piv = torch.linalg.lu_factor(torch.from_numpy(a))
    ours = nr.linalg.lu_solve(*nr.linalg.lu_factor(nr.from_numpy(a)), nr.from_numpy(b),
                              left=left, adjoint=adjoint)
    theirs = torch.linalg.lu_solve(LU, piv, torch.from_numpy(b), left=left, adjoint=adjoint)
    assert_close(ours, theirs, 1e-8, 1e-8, "lu_solve")
    b2 = randn(3, 2)
    old = nr.lu_solve(nr.from_numpy(b2), *nr.lu(nr.from_numpy(a[0])))
    np.testing.assert_allclose(old.numpy(), np.linalg.solve(a[0], b2), atol=1e-10)


def test_lu_solve_gradient():
    def fn(m, a, b):
        LU, piv = m.linalg.lu_factor(a)
        return m.linalg.lu_solve(LU, piv, b)
    check(fn, wellcond(3, 3), randn(3, 2), diff=(1,))


# --- errors ------------------------------------------------------------------------------------
def test_errors_name_the_op_and_shapes():
    rect = nr.ones(2, 3)
    for fn in (nr.linalg.det, nr.linalg.inv, nr.linalg.cholesky, nr.linalg.eigh,
               nr.linalg.matrix_exp, nr.linalg.slogdet):
        with pytest.raises(RuntimeError, match=r"\(2, 3\)|2 by 3"):
            fn(rect)
    with pytest.raises(RuntimeError, match="at least 2 dimensions"):
        nr.linalg.svd(nr.ones(3))
    with pytest.raises(nr.linalg.LinAlgError, match=r"singular.*|.*\(2, 2\)"):
        nr.linalg.inv(nr.zeros(2, 2))
    assert issubclass(nr.linalg.LinAlgError, RuntimeError)
    with pytest.raises(nr.linalg.LinAlgError, match="singular"):
        nr.linalg.solve(nr.zeros(2, 2), nr.ones(2))
    with pytest.raises(nr.linalg.LinAlgError, match="positive-definite.*order 1"):
        nr.linalg.cholesky(-nr.eye(2))
    with pytest.raises(RuntimeError, match=r"Incompatible shapes.*\(2, 2\).*\(3, 1\)"):
        nr.linalg.solve(nr.eye(2), nr.ones(3, 1))
    with pytest.raises(RuntimeError, match=r"\(3,\).*\(4,\)"):
        nr.linalg.solve(nr.eye(2).expand(3, 2, 2), nr.ones(4, 2, 1))
    with pytest.raises(RuntimeError, match="floating point"):
        nr.linalg.inv(nr.ones(2, 2, dtype=nr.int64))
    with pytest.raises(RuntimeError, match="UPLO"):
        nr.linalg.eigh(nr.eye(2), UPLO="X")
    with pytest.raises(TypeError, match="int"):
        nr.linalg.matrix_power(nr.eye(2), 1.5)
    with pytest.raises(RuntimeError, match="lstsq"):
        nr.linalg.lstsq(nr.ones(3, 2), nr.ones(4, 1))


def test_mismatched_dtypes_are_an_error():
    with pytest.raises(RuntimeError, match="same dtype"):
        nr.linalg.solve(nr.eye(2, dtype=nr.float64), nr.ones(2, 1))
    with pytest.raises(RuntimeError, match="same dtype"):
        nr.linalg.lstsq(nr.ones(3, 2, dtype=nr.float64), nr.ones(3, 1))


def test_repeated_values_give_finite_gradients_for_invariant_losses():
    """S-only (or eigenvalue-only) losses are well defined at ties: no NaN there."""
    for fn in (lambda m, x: m.linalg.svd(x)[1].sum(), lambda m, x: m.linalg.eigh(x)[0].sum(),
               lambda m, x: m.linalg.matrix_norm(x, "nuc")):
        ours = nr.eye(3, dtype=nr.float64).requires_grad_()
        theirs = torch.eye(3, dtype=torch.float64).requires_grad_()
        fn(nr, ours).backward()
        fn(torch, theirs).backward()
        assert_close(ours.grad, theirs.grad, 1e-10, 1e-10, "gradient at a tie")


def test_tensor_methods():
    a = wellcond(3, 3)
    check(lambda m, x: (x.slogdet()[1], x.logdet(), x.pinverse()), a, atol=1e-4)
    check(lambda m, x: (spd(m, x).cholesky(), x.qr()[1], x.svd()[1]), a, atol=1e-4)
    check(lambda m, x: spd(m, x).cholesky_inverse(), np.tril(a), grad=False)


# --- tensorinv / tensorsolve / vander / householder_product -------------------------------
def test_tensorinv_and_tensorsolve():
    a = wellcond(6, 6).reshape(6, 2, 3)
    check(lambda m, x: m.linalg.tensorinv(x, ind=1), a, atol=1e-4)
    check(lambda m, x: m.linalg.tensorinv(x), wellcond(4, 4).reshape(2, 2, 2, 2), atol=1e-4)
    check(lambda m, a, b: m.linalg.tensorsolve(a, b), a.reshape(2, 3, 6), randn(2, 3),
          atol=1e-4)
    check(lambda m, a, b: m.linalg.tensorsolve(a, b, dims=(0,)),
          wellcond(6, 6).reshape(6, 2, 3).transpose(2, 0, 1).copy(), randn(6), atol=1e-4)
    with pytest.raises(RuntimeError, match="prod"):
        nr.linalg.tensorinv(nr.ones(2, 3, 4), ind=1)


@pytest.mark.parametrize("N", [None, 2, 4])
def test_vander(N):
    check(lambda m, x: m.linalg.vander(x, N=N), randn(2, 3))


def test_vander_needs_two_columns():
    with pytest.raises(RuntimeError, match="greater than 1"):
        nr.linalg.vander(nr.ones(3), N=1)


def test_householder_product():
    a = randn(2, 5, 3)
    A, tau = torch.geqrf(torch.from_numpy(a))
    check(lambda m, x, t: m.linalg.householder_product(x, t), A.numpy(), tau.numpy(),
          atol=1e-4)
    check(lambda m, x, t: m.linalg.householder_product(x, t), A.numpy(),
          tau.numpy()[..., :2].copy(), atol=1e-4)


def test_empty_inputs():
    for fn in (lambda m, x: m.linalg.det(x), lambda m, x: m.linalg.inv(x),
               lambda m, x: m.linalg.svdvals(x), lambda m, x: m.linalg.pinv(x),
               lambda m, x: m.linalg.matrix_norm(x, 2), lambda m, x: m.linalg.cond(x),
               lambda m, x: m.linalg.eigh(x), lambda m, x: m.linalg.lu_factor(x)):
        for shape in ((0, 3, 3), (2, 0, 0)):
            check(fn, np.zeros(shape), grad=False)


# --- the array paths behind triangular solves, Cholesky and LU -------------------------------
# With SciPy, small batches loop over LAPACK per matrix and large batches of small matrices
# take a NumPy row-by-row substitution (Cholesky and LU: NumPy's batched code); without SciPy
# every batch takes the NumPy code. Each path must give torch's values and gradients.
def _no_scipy(monkeypatch):
    import narae.ops.decomposition as dec
    monkeypatch.setattr(dec, "_SCIPY", [None])


@pytest.mark.parametrize("scipy", [True, False])
@pytest.mark.parametrize("upper,left,unit", [(True, True, False), (False, True, True),
                                              (True, False, True), (False, False, False)])
def test_solve_triangular_paths(monkeypatch, scipy, upper, left, unit):
    if not scipy:
        _no_scipy(monkeypatch)
    # 40 matrices of 3x3 exceed the per-matrix loop's batch: the substitution path
    for ashape, bshape in (((2, 3, 3), (2, 3, 2)), ((40, 3, 3), (40, 3, 2)),
                           ((2, 1, 4, 4), (3, 4, 4)), ((5, 5), (5, 1))):
        b = randn(*bshape) if left else np.swapaxes(randn(*bshape), -1, -2)
        check(lambda m, a, b: m.linalg.solve_triangular(a, b, upper=upper, left=left,
                                                        unitriangular=unit),
              wellcond(*ashape), b, double=ashape == (2, 3, 3))


def test_solve_triangular_float64_and_empty():
    check(lambda m, a, b: m.linalg.solve_triangular(a, b, upper=True), wellcond(3, 3),
          randn(3, 2))
    a = nr.eye(3, dtype=nr.float64)
    assert nr.linalg.solve_triangular(a, nr.zeros(3, 0, dtype=nr.float64),
                                      upper=True).shape == (3, 0)
    assert nr.linalg.solve_triangular(nr.zeros(0, 3, 3), nr.zeros(0, 3, 2),
                                      upper=False).shape == (0, 3, 2)


@pytest.mark.parametrize("scipy", [True, False])
def test_cholesky_and_lu_paths(monkeypatch, scipy):
    if not scipy:
        _no_scipy(monkeypatch)
    for shape in ((3, 4, 4), (40, 3, 3)):
        check(lambda m, x: m.linalg.cholesky(spd(m, x)), randn(*shape))
        check(lambda m, x: m.linalg.lu(x), randn(*shape), atol=1e-4)
        check(lambda m, x: m.linalg.lu_factor_ex(x), randn(*shape), grad=False)
    check(lambda m, x: m.linalg.lu(x), randn(2, 5, 3), atol=1e-4)
    with pytest.raises(nr.linalg.LinAlgError, match=r"shape \(2, 2, 2\).*order 2"):
        nr.linalg.cholesky(nr.from_numpy(np.array([np.eye(2), [[1., 0], [0, -1]]])))
    s = np.stack([np.eye(3), np.diag([1., 0, 2])])
    _, piv, info = nr.linalg.lu_factor_ex(nr.from_numpy(s))
    assert info.tolist() == [0, 2]


@pytest.mark.parametrize("scipy", [True, False])
def test_solve_paths_and_kept_factors(monkeypatch, scipy):
    # with SciPy, solve keeps A's LU factors and the backward (and double backward) solves
    # with A^T on them; without it NumPy's batched solve; both give torch's results
    if not scipy:
        _no_scipy(monkeypatch)
    for ashape, bshape in (((2, 1, 3, 3), (4, 3, 2)), ((40, 2, 2), (40, 2, 1))):
        check(lambda m, a, b: m.linalg.solve(a, b), wellcond(*ashape), randn(*bshape),
              double=ashape[0] == 2)
    check(lambda m, a, b: m.linalg.solve(a, b, left=False), wellcond(3, 3), randn(2, 3))
    with pytest.raises(nr.linalg.LinAlgError, match=r"singular"):
        nr.linalg.solve(nr.from_numpy(np.stack([np.eye(2), np.zeros((2, 2))])),
                        nr.ones(2, 2, 1, dtype=nr.float64))
    res, info = nr.linalg.solve_ex(nr.zeros(2, 2), nr.ones(2, 1))
    assert info.tolist() == 1
