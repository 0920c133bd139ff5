"""Complex tensors, second round: statistics, scans, matrix and rearranging ops against torch
(forward, backward under the conjugate-Wirtinger convention, float64 gradcheck), and the ops
torch refuses on complex numbers."""
import numpy as np
import pytest
import torch

import narae as nr
from helpers import check, check_gradcheck, check_parity, crandn, randn


# --- statistics ---------------------------------------------------------------------------
def test_cov_complex():
    check(lambda m, x: m.cov(x), crandn(3, 5), double=True)
    check(lambda m, x: m.cov(x, correction=0), crandn(2, 4))
    check(lambda m, x: m.cov(x), crandn(6))  # one variable: a 0-d result
    fw = np.array([1, 2, 1, 3], np.int64)
    check(lambda m, x, a: m.cov(x, fweights=m.tensor(fw), aweights=a), crandn(2, 4),
          np.array([0.5, 1.0, 2.0, 0.7]))


def test_corrcoef_complex():
    check(lambda m, x: m.corrcoef(x), crandn(3, 5))
    x = crandn(2, 6)
    ours = nr.corrcoef(nr.tensor(x))._data
    theirs = torch.corrcoef(torch.tensor(x)).numpy()
    np.testing.assert_allclose(ours, theirs, rtol=1e-12, atol=1e-12)
    assert abs(ours.real).max() <= 1 and abs(ours.imag).max() <= 1


def test_trapezoid_complex():
    check(lambda m, y: m.trapezoid(y), crandn(3, 4), double=True)
    check(lambda m, y: m.trapezoid(y, dx=0.5, dim=0), crandn(3, 4))
    check(lambda m, y, x: m.trapezoid(y, x), crandn(3, 4), randn(4))
    check(lambda m, y, x: m.trapz(y, x, dim=0), crandn(3, 4), randn(3, 4))


def test_cumulative_trapezoid_complex():
    check(lambda m, y: m.cumulative_trapezoid(y), crandn(3, 4), double=True)
    check(lambda m, y, x: m.cumulative_trapezoid(y, x, dim=-1), crandn(2, 5), randn(5))
    check(lambda m, y: m.cumulative_trapezoid(y, dx=2.0, dim=0), crandn(3, 4))


def test_logcumsumexp_complex():
    check(lambda m, x: m.logcumsumexp(x, 1), crandn(3, 5), double=True)
    check(lambda m, x: m.logcumsumexp(x, 0), crandn(4, 2))
    check(lambda m, x: m.logcumsumexp(x, -1), crandn(6))
    check(lambda m, x: x.logcumsumexp(0), crandn(1))


def test_logcumsumexp_complex_branch_matches_torch():
    # large imaginary parts: torch's running log-add-exp leaves the principal branch
    rng = np.random.default_rng(3)
    x = rng.standard_normal((4, 40)) * 2 + 1j * rng.standard_normal((4, 40)) * 4
    ours = nr.logcumsumexp(nr.tensor(x), 1)._data
    theirs = torch.logcumsumexp(torch.tensor(x), 1).numpy()
    assert np.abs(theirs.imag).max() > np.pi  # the case is not trivial
    np.testing.assert_allclose(ours, theirs, rtol=1e-10, atol=1e-10)
    # larger real parts (torch itself returns NaN once they reach a few hundred, so the
    # comparison stops at 30x; narae's shifted exponentials stay finite far beyond)
    big = x.real * 30 + 1j * x.imag
    ours = nr.logcumsumexp(nr.tensor(big), 1)._data
    theirs = torch.logcumsumexp(torch.tensor(big), 1).numpy()
    np.testing.assert_allclose(ours, theirs, rtol=1e-10, atol=1e-10)
    huge = nr.logcumsumexp(nr.tensor(x.real * 1000 + 1j * x.imag), 1)._data
    assert np.isfinite(huge).all()


def test_logcumsumexp_complex_0d():
    check(lambda m, x: m.logcumsumexp(x, 0), crandn(1).reshape(()))


def test_cumsum_cumprod_diff_complex():
    check(lambda m, x: m.cumsum(x, 1), crandn(3, 4), double=True)
    check(lambda m, x: m.cumprod(x, 1), crandn(3, 4), double=True)
    check(lambda m, x: m.diff(x, dim=1), crandn(3, 4))
    check(lambda m, x, p: m.diff(x, n=2, dim=1, prepend=p), crandn(3, 4), crandn(3, 1))


def test_renorm_complex():
    check(lambda m, x: m.renorm(x, 2, 0, 1.0), crandn(3, 4))
    check(lambda m, x: m.renorm(x, 1, 1, 0.5), crandn(3, 4))


# --- matrix / construct / rearrange -------------------------------------------------------
def test_kron_tensordot_trace_complex():
    check(lambda m, a, b: m.kron(a, b), crandn(2, 3), crandn(2, 2), double=True)
    check(lambda m, a, b: m.tensordot(a, b, dims=1), crandn(3, 4), crandn(4, 2))
    check(lambda m, a, b: m.tensordot(a, b, dims=([1, 0], [0, 1])), crandn(3, 4),
          crandn(4, 3))
    check(lambda m, x: m.trace(x), crandn(4, 4), double=True)


def test_diag_tril_triu_complex():
    check(lambda m, x: m.diag(x), crandn(4, 4))
    check(lambda m, x: m.diag(x, 1), crandn(5))
    check(lambda m, x: m.diagonal(x, -1), crandn(4, 3))
    check(lambda m, x: m.diag_embed(x), crandn(2, 3))
    check(lambda m, x: m.diagflat(x), crandn(3))
    check(lambda m, x: m.tril(x), crandn(4, 4))
    check(lambda m, x: m.triu(x, -1), crandn(3, 4))


def test_flip_roll_rot90_complex():
    check(lambda m, x: m.flip(x, (0,)), crandn(3, 4))
    check(lambda m, x: m.fliplr(x), crandn(3, 4))
    check(lambda m, x: m.roll(x, 1, 1), crandn(3, 4))
    check(lambda m, x: m.rot90(x, 1, (0, 1)), crandn(3, 4))
    check(lambda m, x: m.block_diag(x, x[:1]), crandn(2, 2))


def test_vander_complex():
    # torch's vander has no working complex backward (an in-place error): forward parity,
    # and our own gradcheck (d x^k / dx = k x^(k-1), conjugated)
    check_parity(lambda m, x: m.vander(x, 4), crandn(5), grad=False, diff=())
    check_parity(lambda m, x: m.vander(x, increasing=True), crandn(3), grad=False, diff=())
    check_gradcheck(lambda m, x: m.vander(x, 4), crandn(5), double=True)
    assert nr.vander(nr.tensor(crandn(3))).dtype == nr.complex128


# --- comparisons, refusals, dlpack --------------------------------------------------------
def test_allclose_equal_isclose_complex():
    a = crandn(3, 4)
    for m in (nr, torch):
        A, B, C = m.tensor(a), m.tensor(a * (1 + 1e-9)), m.tensor(a + 1e-3j)
        assert m.equal(A, A) and not m.equal(A, C)
        assert m.allclose(A, B) and not m.allclose(A, C) and m.allclose(A, C, atol=1e-2)
    np.testing.assert_array_equal(
        nr.isclose(nr.tensor(a), nr.tensor(a + 1e-3j), atol=2e-3)._data,
        torch.isclose(torch.tensor(a), torch.tensor(a + 1e-3j), atol=2e-3).numpy())


@pytest.mark.parametrize("fn", [
    lambda m, x: m.sort(x), lambda m, x: m.isin(x, x[:1]), lambda m, x: m.unique(x),
    lambda m, x: m.unique_consecutive(x), lambda m, x: m.aminmax(x),
    lambda m, x: m.signbit(x), lambda m, x: m.cummax(x, 0), lambda m, x: m.cummin(x, 1),
    lambda m, x: m.msort(x), lambda m, x: m.histogram(x, 3),
    lambda m, x: m.bincount(x[0]), lambda m, x: m.searchsorted(x[0], x),
    lambda m, x: m.quantile(x, 0.5)],
    ids=["sort", "isin", "unique", "unique_consecutive", "aminmax", "signbit", "cummax",
         "cummin", "msort", "histogram", "bincount", "searchsorted", "quantile"])
def test_refused_on_complex_like_torch(fn):
    x = crandn(3, 4)
    with pytest.raises((RuntimeError, NotImplementedError)):
        fn(torch, torch.tensor(x))
    with pytest.raises((RuntimeError, NotImplementedError)):
        fn(nr, nr.tensor(x))


def test_from_dlpack_complex():
    x = crandn(2, 3).astype(np.complex64)
    y = nr.from_dlpack(torch.tensor(x))
    assert y.dtype == nr.complex64
    np.testing.assert_array_equal(y._data, x)
    z = nr.from_dlpack(x.astype(np.complex128))
    assert z.dtype == nr.complex128
