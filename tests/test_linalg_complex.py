"""narae.linalg on complex matrices, and the general eigendecomposition: forward and backward
parity with torch (conjugate-Wirtinger convention), complex128 gradchecks, gauge checks."""
import numpy as np
import pytest
import torch

import narae as nr
from helpers import check, check_gradcheck, crandn, randn


def _wc(n, batch=()):
    """A well-conditioned complex matrix (batch of)."""
    return crandn(*batch, n, n) + 3 * np.eye(n)


def _hpd(m, x):
    """A Hermitian positive-definite matrix built from x (differentiable in x)."""
    return x @ x.mH + 0.5 * m.eye(x.shape[-1], dtype=x.dtype)


def _herm(m, x):
    return x + x.mH


# --- det / slogdet / logdet / inv ------------------------------------------------------------
def test_det_complex():
    check(lambda m, a: m.linalg.det(a), _wc(3), double=True)
    check(lambda m, a: m.det(a), _wc(2, (2,)))


def test_slogdet_complex_sign_and_logabsdet():
    check(lambda m, a: m.linalg.slogdet(a), _wc(3, (2,)), double=True)
    check(lambda m, a: m.slogdet(a).sign, _wc(3))
    check(lambda m, a: m.linalg.slogdet(a).logabsdet, _wc(3))
    s = nr.linalg.slogdet(nr.tensor(crandn(4, 4))).sign
    assert s.dtype == nr.complex128 and np.allclose(np.abs(s.numpy()), 1)


def test_logdet_complex():
    check(lambda m, a: m.logdet(a), _wc(3, (2,)), double=True)


def test_inv_complex():
    check(lambda m, a: m.linalg.inv(a), _wc(3, (2,)), double=True)
    check(lambda m, a: m.linalg.inv_ex(a).inverse, _wc(3))
    check(lambda m, a: a.inverse(), _wc(2))


def test_inv_ex_complex_singular():
    a = np.stack([_wc(2), np.ones((2, 2)) * (1 + 1j)])
    ours = nr.linalg.inv_ex(nr.tensor(a))
    theirs = torch.linalg.inv_ex(torch.tensor(a))
    np.testing.assert_array_equal(ours.info.numpy(), theirs.info.numpy())
    np.testing.assert_allclose(ours.inverse.numpy()[0], theirs.inverse.numpy()[0])


# --- solves ------------------------------------------------------------------------------------
def test_solve_complex():
    check(lambda m, a, b: m.linalg.solve(a, b), _wc(3, (2,)), crandn(2, 3, 2), double=True)
    check(lambda m, a, b: m.linalg.solve(a, b), _wc(3), crandn(3))
    check(lambda m, a, b: m.linalg.solve(a, b, left=False), _wc(3), crandn(2, 3))
    check(lambda m, a, b: m.linalg.solve_ex(a, b).result, _wc(3, (2,)), crandn(3, 1))


def test_solve_complex_dtype_mismatch_is_an_error():
    with pytest.raises(RuntimeError, match="same dtype"):
        nr.linalg.solve(nr.tensor(_wc(2)), nr.tensor(randn(2, 1)))


@pytest.mark.parametrize("upper,left,unit", [(True, True, False), (False, True, True),
                                             (False, False, False), (True, False, True)])
def test_solve_triangular_complex(upper, left, unit):
    b = crandn(3, 2) if left else crandn(2, 3)
    check(lambda m, a, b: m.linalg.solve_triangular(a, b, upper=upper, left=left,
                                                    unitriangular=unit), _wc(3), b,
          double=upper and left)


@pytest.mark.filterwarnings("ignore:torch.cholesky is deprecated")
def test_cholesky_complex():
    check(lambda m, x: m.linalg.cholesky(_hpd(m, x)), crandn(2, 3, 3), double=True)
    check(lambda m, x: m.linalg.cholesky(_hpd(m, x), upper=True), crandn(3, 3))
    check(lambda m, x: m.linalg.cholesky_ex(_hpd(m, x)).L, crandn(3, 3))
    check(lambda m, x: m.cholesky(_hpd(m, x)), crandn(2, 2))


def test_cholesky_complex_reads_lower_triangle_and_reports_failures():
    a = crandn(3, 3)
    h = a @ a.conj().T + np.eye(3)
    junk = np.tril(h) + np.triu(crandn(3, 3), 1)
    np.testing.assert_allclose(nr.linalg.cholesky(nr.tensor(junk)).numpy(),
                               torch.linalg.cholesky(torch.tensor(junk)).numpy(), atol=1e-12)
    bad = h.copy()
    bad[2, 2] = -5
    ours = nr.linalg.cholesky_ex(nr.tensor(bad))
    theirs = torch.linalg.cholesky_ex(torch.tensor(bad))
    assert int(ours.info) == int(theirs.info) == 3
    with pytest.raises(nr.linalg.LinAlgError, match="order 3"):
        nr.linalg.cholesky(nr.tensor(bad))
    L = nr.linalg.cholesky_ex(nr.tensor(h), upper=True).L.numpy()
    np.testing.assert_allclose(L, torch.linalg.cholesky_ex(torch.tensor(h), upper=True).L,
                               atol=1e-12)


def test_cholesky_solve_and_inverse_complex():
    check(lambda m, x, b: m.cholesky_solve(b, m.linalg.cholesky(_hpd(m, x))), crandn(3, 3),
          crandn(3, 2))
    check(lambda m, x: m.cholesky_inverse(m.linalg.cholesky(_hpd(m, x), upper=True),
                                          upper=True), crandn(3, 3))


# --- QR ----------------------------------------------------------------------------------------
@pytest.mark.parametrize("shape,mode", [((4, 3), "reduced"), ((3, 3), "complete"),
                                        ((3, 5), "reduced"), ((2, 4, 3), "reduced"),
                                        ((3, 4), "complete")])
def test_qr_complex(shape, mode):
    check(lambda m, a: m.linalg.qr(a, mode=mode), crandn(*shape), double=shape == (4, 3))


def test_qr_complex_r_mode():
    a = crandn(4, 3)
    r = nr.linalg.qr(nr.tensor(a), mode="r")
    np.testing.assert_allclose(r.R.numpy(), torch.linalg.qr(torch.tensor(a), mode="r").R,
                               atol=1e-12)
    assert r.Q.shape == (0,)


# --- eigh / eigvalsh -------------------------------------------------------------------------
def test_eigvalsh_complex():
    check(lambda m, x: m.linalg.eigvalsh(_herm(m, x)), crandn(2, 4, 4), double=True)
    # (a non-Hermitian input: torch's gradient is the Hermitian one, not the finite difference)
    check(lambda m, x: m.linalg.eigvalsh(x, UPLO="U"), crandn(3, 3), gradcheck=False)
    out = nr.linalg.eigvalsh(nr.tensor(crandn(3, 3)))
    assert out.dtype == nr.float64


def test_eigh_complex_gauge_invariant_loss():
    # V diag(f(L)) V^H does not depend on the eigenvectors' phases
    def fn(m, x):
        L, V = m.linalg.eigh(_herm(m, x))
        return (V * m.exp(L / 4).unsqueeze(-2)) @ V.mH
    check(fn, crandn(2, 3, 3), double=True)
    check(lambda m, x: m.linalg.eigh(x, UPLO="U").eigenvalues, crandn(3, 3), gradcheck=False)
    check(lambda m, x: m.linalg.eigh(_herm(m, x)).eigenvectors.abs(), crandn(3, 3))


def test_eigh_complex_phase_dependent_loss_raises():
    x = nr.tensor(crandn(3, 3), requires_grad=True)
    _, V = nr.linalg.eigh(x + x.mH)
    with pytest.raises(RuntimeError, match="phase"):
        V.imag.sum().backward()


# --- eig / eigvals -------------------------------------------------------------------------
def _diagonalizable(n, batch=(), real=False):
    a = randn(*batch, n, n) if real else crandn(*batch, n, n)
    return a + np.diag(np.arange(n) * 2.0)  # well separated eigenvalues


def _sorted_eig(m, a):
    """eig with a reconstruction and phase-free quantities (the order is LAPACK's in both)."""
    L, V = m.linalg.eig(a)
    return L, V.abs(), V @ (L.unsqueeze(-1) * m.linalg.inv(V))


def test_eig_complex():
    check(_sorted_eig, _diagonalizable(3, (2,)), atol=1e-4)
    check(lambda m, a: m.linalg.eig(a).eigenvalues, _diagonalizable(4), double=True)


def test_eig_real_input_gives_complex_output_and_real_grad():
    a = _diagonalizable(3, real=True)
    a[0, 1], a[1, 0] = 4.0, -4.0  # a complex pair
    L, V = nr.linalg.eig(nr.tensor(a))
    tL, tV = torch.linalg.eig(torch.tensor(a))
    assert L.dtype == nr.complex128 and V.dtype == nr.complex128
    np.testing.assert_allclose(L.numpy(), tL.numpy(), atol=1e-12)
    # (LAPACK builds may differ in each real eigenvector's sign)
    np.testing.assert_allclose(np.abs(V.numpy()), np.abs(tV.numpy()), atol=1e-12)
    check(_sorted_eig, a, atol=1e-4)
    check(lambda m, a: m.linalg.eigvals(a), _diagonalizable(3, real=True), double=True)
    ar = nr.tensor(_diagonalizable(2, real=True).astype(np.float32))
    assert nr.linalg.eigvals(ar).dtype == nr.complex64


def test_eigvals_complex():
    check(lambda m, a: m.linalg.eigvals(a), _diagonalizable(3, (2,)), double=True)


def test_eig_phase_dependent_loss_raises():
    x = nr.tensor(_diagonalizable(3), requires_grad=True)
    _, V = nr.linalg.eig(x)
    with pytest.raises(RuntimeError, match="phase"):
        V.real.sum().backward()


def test_eig_errors():
    with pytest.raises(RuntimeError, match=r"square.*\(2, 3\)"):
        nr.linalg.eig(nr.tensor(crandn(2, 3)))
    with pytest.raises(RuntimeError, match="floating point or complex"):
        nr.linalg.eigvals(nr.ones(2, 2, dtype=nr.int64))


def test_eig_empty():
    L, V = nr.linalg.eig(nr.zeros(0, 0))
    assert L.shape == (0,) and V.shape == (0, 0) and L.dtype == nr.complex64


# --- SVD -------------------------------------------------------------------------------------
@pytest.mark.parametrize("shape", [(3, 3), (4, 2), (2, 4), (2, 3, 2)])
def test_svd_complex_gauge_invariant(shape):
    def fn(m, a):
        U, S, Vh = m.linalg.svd(a, full_matrices=False)
        return S, U @ Vh, U.abs(), Vh.abs()
    check(fn, crandn(*shape), double=shape == (3, 3))


def test_svdvals_and_torch_svd_complex():
    check(lambda m, a: m.linalg.svdvals(a), crandn(2, 3, 4), double=True)
    check(lambda m, a: m.svd(a).S, crandn(4, 3))
    U, S, V = nr.svd(nr.tensor(crandn(3, 2)))
    tU, tS, tV = torch.svd(torch.tensor(U.numpy() @ np.diag(S.numpy()) @ V.numpy().conj().T))
    np.testing.assert_allclose(np.abs(V.numpy()), np.abs(tV.resolve_conj().numpy()), atol=1e-10)


def test_svd_complex_phase_dependent_loss_raises():
    x = nr.tensor(crandn(3, 3), requires_grad=True)
    U, S, Vh = nr.linalg.svd(x)
    with pytest.raises(RuntimeError, match="phase"):
        U.imag.sum().backward()


# --- pinv / lstsq / rank / norms -------------------------------------------------------------
def test_pinv_complex():
    check(lambda m, a: m.linalg.pinv(a), crandn(3, 2), double=True)
    check(lambda m, a: m.linalg.pinv(a), crandn(2, 2, 4))
    check(lambda m, x: m.linalg.pinv(_herm(m, x), hermitian=True), crandn(3, 3))
    check(lambda m, a: m.pinverse(a), crandn(3, 3))


@pytest.mark.parametrize("driver", [None, "gelsd", "gels", "gelss"])
def test_lstsq_complex(driver):
    def fn(m, a, b):
        r = m.linalg.lstsq(a, b, driver=driver)
        return r.solution, r.residuals
    check(fn, crandn(5, 3), crandn(5, 2), atol=1e-4)
    check(lambda m, a, b: m.linalg.lstsq(a, b, driver=driver)[2:], crandn(2, 5, 3),
          crandn(2, 5, 2), grad=False)
    r = nr.linalg.lstsq(nr.tensor(crandn(4, 2)), nr.tensor(crandn(4, 1)), driver=driver)
    t = torch.linalg.lstsq(torch.tensor(crandn(4, 2)), torch.tensor(crandn(4, 1)),
                           driver=driver)
    for o, th in zip(r, t):
        assert o.dtype.name == str(th.dtype).replace("torch.", "") and o.shape == th.shape


def test_matrix_rank_complex():
    a = crandn(2, 4, 2) @ crandn(2, 2, 4)
    for kw in ({}, {"atol": 1e-8}, {"rtol": 0.5}):
        np.testing.assert_array_equal(nr.linalg.matrix_rank(nr.tensor(a), **kw).numpy(),
                                      torch.linalg.matrix_rank(torch.tensor(a), **kw).numpy())
    h = a + np.swapaxes(a, -1, -2).conj()
    np.testing.assert_array_equal(
        nr.linalg.matrix_rank(nr.tensor(h), hermitian=True).numpy(),
        torch.linalg.matrix_rank(torch.tensor(h), hermitian=True).numpy())


@pytest.mark.parametrize("ord", ["fro", "nuc", 2, -2, 1, -1, float("inf"), -float("inf")])
def test_matrix_norm_complex(ord):
    check(lambda m, a: m.linalg.matrix_norm(a, ord), crandn(2, 3, 3), atol=1e-4)
    check(lambda m, a: m.linalg.norm(a, ord, dim=(0, 2), keepdim=True), crandn(3, 2, 3),
          atol=1e-4)


def test_norm_and_vector_norm_complex():
    check(lambda m, a: m.linalg.norm(a), crandn(3, 4), double=True)
    check(lambda m, a: m.linalg.vector_norm(a, 3, dim=-1), crandn(3, 4))
    out = nr.linalg.matrix_norm(nr.tensor(crandn(2, 2).astype(np.complex64)))
    assert out.dtype == nr.float32


@pytest.mark.parametrize("p", [None, 2, -2, "fro", "nuc", 1, float("inf")])
def test_cond_complex(p):
    if p in (None, 2, -2, "nuc"):
        check(lambda m, a: m.linalg.cond(a, p), _wc(3, (2,)), atol=1e-4)
    else:  # (torch's own backward fails here, on an in-place write in its inv_ex)
        check(lambda m, a: m.linalg.cond(a, p), _wc(3, (2,)), atol=1e-4, grad=False)
        check_gradcheck(lambda m, a: m.linalg.cond(a, p), _wc(3, (2,)))


# --- powers, exponentials, products ------------------------------------------------------------
@pytest.mark.parametrize("n", [0, 1, 3, -2])
def test_matrix_power_complex(n):
    check(lambda m, a: m.linalg.matrix_power(a, n), _wc(3) / 3, double=n == 3)


def test_matrix_exp_complex():
    check(lambda m, a: m.linalg.matrix_exp(a), crandn(2, 3, 3) / 2, double=True)
    a = crandn(3, 3).astype(np.complex64) * 4
    np.testing.assert_allclose(nr.linalg.matrix_exp(nr.tensor(a)).numpy(),
                               torch.linalg.matrix_exp(torch.tensor(a)).numpy(), rtol=1e-4,
                               atol=1e-3)


def test_multi_dot_vecdot_cross_complex():
    check(lambda m, a, b, c: m.linalg.multi_dot([a, b, c]), crandn(2, 3), crandn(3, 4),
          crandn(4, 2))
    check(lambda m, x, y: m.linalg.vecdot(x, y), crandn(3, 4), crandn(4), double=True)
    check(lambda m, x, y: m.linalg.vecdot(x, y, dim=0), crandn(3, 2), crandn(3, 2))
    check(lambda m, x, y: m.linalg.cross(x, y), crandn(2, 3), crandn(2, 3))


def test_householder_product_complex():
    check(lambda m, a, t: m.linalg.householder_product(a, t), crandn(4, 3), crandn(2),
          double=True)


# --- LU ----------------------------------------------------------------------------------------
@pytest.mark.parametrize("shape", [(3, 3), (4, 2), (2, 4), (2, 3, 3)])
def test_lu_complex(shape):
    check(lambda m, a: m.linalg.lu(a), crandn(*shape), double=shape == (3, 3))


def test_lu_factor_complex():
    a = crandn(2, 4, 4)
    LU, piv = nr.linalg.lu_factor(nr.tensor(a))
    tLU, tpiv = torch.linalg.lu_factor(torch.tensor(a))
    np.testing.assert_array_equal(piv.numpy(), tpiv.numpy())
    np.testing.assert_allclose(LU.numpy(), tLU.numpy(), atol=1e-12)
    ex = nr.linalg.lu_factor_ex(nr.tensor(np.zeros((2, 2), np.complex64)))
    assert int(ex.info) == int(torch.linalg.lu_factor_ex(torch.zeros(2, 2,
                                                                     dtype=torch.cfloat)).info)


@pytest.mark.parametrize("left,adjoint", [(True, False), (True, True), (False, False),
                                          (False, True)])
def test_lu_solve_complex(left, adjoint):
    def fn(m, a, b):
        LU, piv = m.linalg.lu_factor(a)
        return m.linalg.lu_solve(LU, piv, b, left=left, adjoint=adjoint)
    b = crandn(3, 2) if left else crandn(2, 3)
    check(fn, _wc(3), b, diff=(1,))


def test_lu_solve_complex_matches_solve():
    a, b = _wc(3), crandn(3, 2)
    LU, piv = nr.linalg.lu_factor(nr.tensor(a))
    X = nr.linalg.lu_solve(LU, piv, nr.tensor(b), adjoint=True).numpy()
    np.testing.assert_allclose(a.conj().T @ X, b, atol=1e-12)


# --- tensorinv / tensorsolve ---------------------------------------------------------------
def test_tensorinv_tensorsolve_complex():
    check(lambda m, a: m.linalg.tensorinv(a, ind=1), _wc(4).reshape(4, 2, 2))
    check(lambda m, a, b: m.linalg.tensorsolve(a, b), _wc(4).reshape(2, 2, 4), crandn(2, 2))


def test_real_inputs_still_refuse_ints():
    with pytest.raises(RuntimeError, match="floating point or complex tensor.*Long|int64"):
        nr.linalg.det(nr.ones(2, 2, dtype=nr.int64))


# --- complex leftovers: cumprod with zeros, logaddexp, normalize, pairwise_distance ----------
def test_cumprod_complex_gradient_with_zeros():
    x = crandn(3, 5)
    x[0, 2] = 0
    x[1, 0] = 0
    x[1, 3] = 0
    check(lambda m, x: m.cumprod(x, 1), x)
    check(lambda m, x: m.cumprod(x, 0), x)
    check(lambda m, x: m.cumprod(x, -1), crandn(2, 4), double=True)
    g = nr.tensor(x, requires_grad=True)
    nr.cumprod(g, 1).abs().sum().backward()
    assert np.isfinite(g.grad.numpy()).all()


def test_logaddexp_complex():
    check(lambda m, a, b: m.logaddexp(a, b), crandn(3, 4), crandn(4), double=True)
    # (mixed real/complex: torch's own backward refuses the real operand's gradient)
    check(lambda m, a, b: m.logaddexp(a, b), crandn(3, 4), randn(3, 4), grad=False)
    check_gradcheck(lambda m, a, b: m.logaddexp(a, b), crandn(3, 4), randn(3, 4))
    check(lambda m, a, b: a.logaddexp(b), crandn(5) * 30, crandn(5) * 30)
    a = np.array([1 + 2j, -3 + 0.5j, 0j, 800 + 1j, 2 + 7j])
    b = np.array([0.5 - 1j, -3 + 0.5j, 0j, 799 - 2j, 1 - 6j])
    np.testing.assert_allclose(nr.logaddexp(nr.tensor(a), nr.tensor(b)).numpy(),
                               torch.logaddexp(torch.tensor(a), torch.tensor(b)).numpy(),
                               rtol=1e-12)


def test_logaddexp2_complex_is_refused_as_in_torch():
    with pytest.raises(RuntimeError, match="logaddexp2"):
        nr.logaddexp2(nr.tensor(crandn(2)), nr.tensor(crandn(2)))


@pytest.mark.parametrize("p,dim", [(2.0, 1), (1.0, 0), (3.0, -1), (float("inf"), 1)])
def test_normalize_complex(p, dim):
    check(lambda m, x: m.nn.functional.normalize(x, p=p, dim=dim), crandn(3, 4),
          double=p == 2.0)
    x = crandn(3, 4)
    x[1] = 0  # a zero row: divided by eps, torch's gradient (no finite differences at 0)
    check(lambda m, x: m.nn.functional.normalize(x, p=p, dim=1), x, gradcheck=False)


def test_pairwise_distance_and_triplet_loss_complex():
    check(lambda m, a, b: m.nn.functional.pairwise_distance(a, b), crandn(3, 4), crandn(3, 4),
          double=True)
    check(lambda m, a, b: m.nn.functional.pairwise_distance(a, b, p=1.0, keepdim=True),
          crandn(3, 4), crandn(4))
    out = nr.nn.functional.pairwise_distance(nr.tensor(crandn(2, 3)), nr.tensor(crandn(2, 3)))
    assert out.dtype == nr.float64
    check(lambda m, a, p, n: m.nn.functional.triplet_margin_loss(a, p, n, margin=2.0),
          crandn(3, 4), crandn(3, 4), crandn(3, 4))


def test_torch_triangular_solve_and_full_svd_complex():
    check(lambda m, b, a: m.triangular_solve(b, a, upper=True, transpose=True).solution,
          crandn(3, 2), _wc(3))
    check(lambda m, b, a: m.triangular_solve(b, a, upper=False).solution, crandn(3, 2), _wc(3))

    def full(m, a):  # (the extra columns of a full U / Vh are arbitrary: left out)
        U, S, Vh = m.linalg.svd(a, full_matrices=True)
        return S, U[..., :2] @ Vh[..., :2, :], U[..., :2].abs(), Vh[..., :2, :].abs()
    check(full, crandn(4, 2))
    check(full, crandn(2, 4))
