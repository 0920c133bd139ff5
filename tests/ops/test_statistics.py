"""narae/ops/statistics.py against torch: scans, order statistics, counting and searching."""
import numpy as np
import pytest
import torch

import narae as nr
from tests.helpers import check, randn, rand, assert_close

NAN = float("nan")


def _both(fn, *arrays):
    """fn on narae and on torch tensors made from the same arrays; outputs as tuples."""
    ours = fn(nr, *[nr.from_numpy(np.array(a)) for a in arrays])
    theirs = fn(torch, *[torch.from_numpy(np.array(a)) for a in arrays])
    ours = tuple(ours) if isinstance(ours, (tuple, list)) else (ours,)
    theirs = tuple(theirs) if isinstance(theirs, (tuple, list)) else (theirs,)
    return ours, theirs


def same(fn, *arrays, atol=1e-6):
    """Outputs equal torch's: values (NaN where torch has NaN), shapes and dtypes."""
    ours, theirs = _both(fn, *arrays)
    assert len(ours) == len(theirs)
    for k, (o, t) in enumerate(zip(ours, theirs)):
        o, t = o.detach().numpy(), t.detach().numpy()
        assert o.shape == t.shape, f"output {k}: shape {o.shape} != {t.shape}"
        assert o.dtype == t.dtype, f"output {k}: dtype {o.dtype} != {t.dtype}"
        np.testing.assert_allclose(o, t, atol=atol, equal_nan=True, err_msg=f"output {k}")


# --- cummax / cummin ---------------------------------------------------------------------
@pytest.mark.parametrize("dim", [0, 1, -1])
@pytest.mark.parametrize("op", ["cummax", "cummin"])
def test_cummax_cummin_grad(op, dim):
    check(lambda m, x: getattr(m, op)(x, dim), randn(4, 5), double=True)


@pytest.mark.parametrize("op", ["cummax", "cummin"])
def test_cummax_ties_nan_ints_and_method(op):
    x = np.array([[1., 1, 3, 2, 3, NAN, 5, NAN, 1], [2, 2, 2, 0, 0, 1, 7, 7, 0]], np.float32)
    same(lambda m, t: getattr(m, op)(t, 1), x)
    same(lambda m, t: getattr(t, op)(dim=0), x)
    same(lambda m, t: getattr(m, op)(t, 0), np.array([3, 1, 4, 1, 5, 9, 2, 6]))
    same(lambda m, t: getattr(m, op)(t, 0), np.array([True, False, True]))
    same(lambda m, t: getattr(m, op)(t, 0), np.float32(2.5))
    out = getattr(nr, op)(nr.randn(2, 3), 1)
    assert out.values is out[0] and out.indices is out[1]


def test_cummax_repeated_max_gets_all_gradient():
    # every output equal to x[0] routes its gradient to x[0]
    check(lambda m, x: m.cummax(x, 0).values, np.array([5.0, 1.0, 2.0, 7.0]))


# --- logcumsumexp --------------------------------------------------------------------------
@pytest.mark.parametrize("dim", [0, 1, -1])
def test_logcumsumexp_grad(dim):
    check(lambda m, x: m.logcumsumexp(x, dim), randn(5, 7), double=True)


def test_logcumsumexp_stable_and_method():
    x = np.array([-200.0, 0.0, 300.0, 1.0, -1000.0, 80.0, 400.0], np.float32)
    same(lambda m, t: m.logcumsumexp(t, 0), x, atol=1e-4)
    same(lambda m, t: t.logcumsumexp(0), np.array([-np.inf, -np.inf, 1.0, 2.0]))
    check(lambda m, x: m.logcumsumexp(x, 0), np.array([-60.0, 0.5, 90.0, 1.0, 95.0]))
    # a -inf input has no influence: its gradient is 0 (torch: NaN along a -inf prefix)
    a = [[-np.inf, -np.inf, 0.5, 1.0], [0.3, -np.inf, 2.0, -1.0]]
    x = nr.tensor(a, requires_grad=True)
    nr.logcumsumexp(x, 1).sum().backward()
    t = torch.tensor(a, requires_grad=True)
    torch.logcumsumexp(t, 1).sum().backward()
    want = np.nan_to_num(t.grad.numpy(), nan=0.0)
    np.testing.assert_allclose(x.grad.numpy(), want, rtol=1e-5)
    same(lambda m, t: m.logcumsumexp(t, 0), np.float32(1.5))


def test_logcumsumexp_length_one_and_int_error():
    check(lambda m, x: m.logcumsumexp(x, 1), randn(3, 1))
    with pytest.raises(RuntimeError, match="logcumsumexp"):
        nr.logcumsumexp(nr.tensor([1, 2, 3]), 0)


# --- in-place scans ------------------------------------------------------------------------
@pytest.mark.parametrize("op", ["cumsum_", "cumprod_"])
def test_inplace_scans(op):
    def fn(m, x):
        y = x * 1
        out = getattr(y, op)(1)
        assert out is y
        return y
    check(fn, randn(3, 4))


def test_cumsum_inplace_dtype():
    x = nr.tensor([[1, 2], [3, 4]])
    x.cumsum_(0)
    np.testing.assert_array_equal(x.numpy(), [[1, 2], [4, 6]])


# --- quantile / nanquantile ----------------------------------------------------------------
@pytest.mark.parametrize("interp", ["linear", "lower", "higher", "midpoint", "nearest"])
@pytest.mark.parametrize("op", ["quantile", "nanquantile"])
def test_quantile_interpolations_grad(op, interp):
    check(lambda m, x: getattr(m, op)(x, 0.37, dim=1, interpolation=interp), randn(3, 6),
          double=True)
    check(lambda m, x, q: getattr(m, op)(x, q, dim=0, keepdim=True, interpolation=interp),
          randn(5, 4), np.array([0.0, 0.25, 0.5, 0.9, 1.0]), diff=[0])


@pytest.mark.parametrize("kw", [dict(), dict(dim=None, keepdim=True), dict(dim=-1),
                                dict(dim=0, keepdim=True)])
def test_quantile_dims(kw):
    check(lambda m, x: m.quantile(x, 0.6, **kw), randn(3, 4, 2))
    check(lambda m, x, q: m.quantile(x, q, **kw), randn(3, 4, 2), np.array([0.1, 0.75]),
          diff=[0])


def test_quantile_exact_ranks_and_method():
    x = np.array([4.0, 1.0, 3.0, 2.0], np.float32)
    for interp in ["linear", "lower", "higher", "midpoint", "nearest"]:
        for q in [0.0, 1 / 3, 0.5, 1.0, 1 / 6]:
            same(lambda m, t: t.quantile(q, interpolation=interp), x)
            same(lambda m, t: t.nanquantile(q, interpolation=interp), x)
    same(lambda m, t: m.quantile(t, 0.5), np.float32(3.0))
    same(lambda m, t: m.quantile(t, 0.5, dim=0, keepdim=True), np.float32(3.0))


def test_quantile_nan_handling():
    x = np.array([[1.0, NAN, 3.0, 2.0], [NAN, NAN, NAN, NAN], [5.0, 4.0, 1.0, 0.0]], np.float32)
    for interp in ["linear", "lower", "higher", "midpoint", "nearest"]:
        same(lambda m, t: m.quantile(t, 0.4, dim=1, interpolation=interp), x)
        same(lambda m, t: m.nanquantile(t, 0.4, dim=1, interpolation=interp), x)
        same(lambda m, t: m.nanquantile(t, m.tensor([0.2, 0.8]), dim=1), x)
    same(lambda m, t: m.quantile(t, 0.5), x)
    same(lambda m, t: m.nanquantile(t, 0.5), x)


def test_quantile_errors():
    x = nr.randn(3, 4)
    with pytest.raises(RuntimeError, match=r"q values must be in the range \[0, 1\]"):
        nr.quantile(x, 1.5)
    with pytest.raises(RuntimeError, match="same dtype"):
        nr.quantile(x, nr.tensor([0.5], dtype=nr.float64))
    with pytest.raises(RuntimeError, match="scalar or 1D"):
        nr.quantile(x, nr.tensor([[0.5]]))
    with pytest.raises(RuntimeError, match="float or double"):
        nr.quantile(nr.tensor([1, 2]), 0.5)
    with pytest.raises(ValueError, match="interpolation"):
        nr.quantile(x, 0.5, interpolation="cubic")
    with pytest.raises(RuntimeError, match="non-empty"):
        nr.quantile(nr.zeros(0), 0.5)
    with pytest.raises(IndexError):
        nr.quantile(x, 0.5, dim=2)
    with pytest.raises(TypeError, match="'q' must be a float or a Tensor"):
        nr.quantile(x, [0.5])


# --- nanmedian / mode / msort --------------------------------------------------------------
def test_nanmedian_values_indices():
    x = np.array([[NAN, NAN, NAN], [1, NAN, 2], [3.0, 1, 2], [NAN, 5, 4]], np.float32)
    same(lambda m, t: m.nanmedian(t, 1), x)
    same(lambda m, t: t.nanmedian(0, keepdim=True), x)
    same(lambda m, t: m.nanmedian(t), x)
    same(lambda m, t: m.nanmedian(t), np.array([NAN, NAN], np.float32))
    same(lambda m, t: m.nanmedian(t, 0), np.float32(2.0))
    same(lambda m, t: m.nanmedian(t, 0), np.array([3, 1, 2, 9]))


@pytest.mark.parametrize("kw", [dict(), dict(dim=0), dict(dim=-1, keepdim=True)])
def test_nanmedian_grad(kw):
    check(lambda m, x: m.nanmedian(x, **kw) if kw else m.nanmedian(x), randn(5, 4),
          double=True)


def test_nanmedian_errors():
    with pytest.raises((RuntimeError, IndexError)):
        nr.nanmedian(nr.zeros(0, 3), 0)
    with pytest.raises(IndexError):
        nr.nanmedian(nr.zeros(2, 3), 2)


def test_mode_tie_rule():
    same(lambda m, t: m.mode(t), np.array([3, 1, 3, 1, 2, 2, 5]))
    same(lambda m, t: m.mode(t), np.array([3.0, 1, 3, 1, 2, 2, 5, 1, 3], np.float32))
    rng = np.random.default_rng(0)
    x = rng.integers(0, 4, (6, 9))
    same(lambda m, t: m.mode(t, 1), x)
    same(lambda m, t: m.mode(t, 0, keepdim=True), x)
    same(lambda m, t: t.mode(), x.astype(np.float64))
    same(lambda m, t: m.mode(t, 0), np.int64(4))


def test_mode_grad():
    x = np.array([[1.0, 2.0, 1.0, 3.0], [0.5, 0.5, -1.0, -1.0]])
    # ties are what mode is about, and a finite difference breaks them: parity only
    check(lambda m, x: m.mode(x, 1).values, x, gradcheck=False)
    check(lambda m, x: m.mode(x, 0, keepdim=True).values, x, gradcheck=False)
    check(lambda m, x: m.mode(x, 1).values, randn(3, 4))


def test_msort():
    check(lambda m, x: m.msort(x), randn(4, 3))
    check(lambda m, x: x.msort(), randn(5))


# --- diff ----------------------------------------------------------------------------------
@pytest.mark.parametrize("n,dim", [(1, -1), (2, 0), (3, 1), (0, 0), (5, 1)])
def test_diff_grad(n, dim):
    check(lambda m, x: m.diff(x, n, dim), randn(4, 5), double=True)


def test_diff_prepend_append():
    check(lambda m, x, p, a: m.diff(x, 2, 0, prepend=p, append=a), randn(3, 4), randn(1, 4),
          randn(2, 4))
    check(lambda m, x, a: x.diff(dim=1, append=a), randn(3, 4), randn(3, 2))
    same(lambda m, t: m.diff(t), np.array([True, True, False, True]))
    same(lambda m, t: m.diff(t, 2), np.array([1, 4, 9, 16]))


def test_diff_errors():
    with pytest.raises(RuntimeError, match="at least one-dimensional"):
        nr.diff(nr.tensor(1.0))
    with pytest.raises(RuntimeError, match="non-negative"):
        nr.diff(nr.zeros(3), -1)
    with pytest.raises(RuntimeError, match=r"same shape except in dim 0.*\(1, 3\).*\(2, 4\)"):
        nr.diff(nr.zeros(2, 4), dim=0, prepend=nr.zeros(1, 3))


# --- trapezoid -----------------------------------------------------------------------------
@pytest.mark.parametrize("op", ["trapezoid", "cumulative_trapezoid"])
def test_trapezoid_variants(op):
    f = lambda m: getattr(m, op)  # noqa: E731
    check(lambda m, y: f(m)(y), randn(3, 5), double=True)
    check(lambda m, y: f(m)(y, dx=0.5, dim=0), randn(3, 5))
    check(lambda m, y, x: f(m)(y, x), randn(3, 5), randn(5))
    check(lambda m, y, x: f(m)(y, x, dim=0), randn(3, 5), randn(3))
    check(lambda m, y, x: f(m)(y, x, dim=1), randn(3, 5), randn(3, 5))
    check(lambda m, y, x: f(m)(y, x), randn(3, 5), randn(1, 5))
    check(lambda m, y: f(m)(y), randn(4, 1))
    same(lambda m, t: f(m)(t), np.array([1, 2, 4]))
    with pytest.raises(RuntimeError, match="bool is not supported"):
        f(nr)(nr.tensor([True, False]))


def test_trapz_and_errors():
    check(lambda m, y, x: m.trapz(y, x), randn(2, 4), randn(4))
    check(lambda m, y: m.trapz(y, dim=0), randn(2, 4))
    with pytest.raises(RuntimeError, match="both x and dx"):
        nr.trapezoid(nr.randn(3), nr.randn(3), dx=1.0)
    with pytest.raises(RuntimeError, match="one `x` value for each sample"):
        nr.trapezoid(nr.randn(2, 3), nr.randn(4))


# --- gradient ------------------------------------------------------------------------------
@pytest.mark.parametrize("edge_order", [1, 2])
def test_gradient_uniform(edge_order):
    check(lambda m, x: m.gradient(x, edge_order=edge_order), randn(4, 5), double=True)
    check(lambda m, x: m.gradient(x, spacing=2.0, dim=1, edge_order=edge_order), randn(3, 5))
    check(lambda m, x: m.gradient(x, spacing=[2.0, 0.5], dim=(1, -2), edge_order=edge_order),
          randn(3, 4))
    same(lambda m, t: m.gradient(t, edge_order=edge_order), np.array([1, 4, 9, 16]))


@pytest.mark.parametrize("edge_order", [1, 2])
def test_gradient_coordinates(edge_order):
    c5 = np.array([0.0, 1.0, 3.0, 4.0, 7.0])
    check(lambda m, x, c: m.gradient(x, spacing=(c,), dim=1, edge_order=edge_order),
          randn(4, 5), c5, diff=[0])
    check(lambda m, x, c, d: m.gradient(x, spacing=[c, d], edge_order=edge_order),
          randn(3, 5), np.array([0.0, 0.5, 3.0]), c5, diff=[0], double=True)


def test_gradient_errors():
    with pytest.raises(RuntimeError, match="at least edge_order\\+1"):
        nr.gradient(nr.randn(2), edge_order=2)
    with pytest.raises(RuntimeError, match="only supports edge_order=1 and edge_order=2"):
        nr.gradient(nr.randn(5), edge_order=3)
    with pytest.raises(RuntimeError, match="same length"):
        nr.gradient(nr.randn(3, 4), spacing=[1.0, 2.0, 3.0])
    with pytest.raises(RuntimeError, match="one coordinate per sample"):
        nr.gradient(nr.randn(3, 4), spacing=(nr.randn(3),), dim=1)


# --- histc / histogram / histogramdd / bincount --------------------------------------------
def test_histc():
    x = randn(50).astype(np.float32)
    same(lambda m, t: m.histc(t), x)
    same(lambda m, t: m.histc(t, 7, -1, 1), x)
    same(lambda m, t: t.histc(bins=4, min=0, max=3), np.array([0, 1, 2.5, 3, 3, 4, -1.0]))
    same(lambda m, t: m.histc(t, 4), np.array([1.0, 1.0, 1.0]))
    same(lambda m, t: m.histc(t, 5), np.array([[1.0, 2.0], [3.0, 5.0]]))
    # values on (and next to) the bin edges land in torch's bins exactly
    on_edges = np.concatenate([np.linspace(-2.3, 5.1, 53), rand(200, low=-3, high=6)])
    same(lambda m, t: m.histc(t, 13, -2.3, 5.1), on_edges.astype(np.float32))
    same(lambda m, t: m.histc(t, 13, -2.3, 5.1), on_edges)
    with pytest.raises(RuntimeError, match="max must be larger than min"):
        nr.histc(nr.randn(3), 4, 2, 1)
    with pytest.raises(RuntimeError, match="bins must be > 0"):
        nr.histc(nr.randn(3), 0)
    with pytest.raises(RuntimeError, match="not finite"):
        nr.histc(nr.tensor([1.0, float("nan")]))
    same(lambda m, t: m.histogram(t, 3), np.zeros(0, np.float32))


@pytest.mark.parametrize("kw", [dict(), dict(range=(-1.0, 1.0)), dict(density=True),
                                dict(range=(0.0, 2.0), density=True)])
def test_histogram(kw):
    x = randn(4, 10).astype(np.float32)
    w = rand(4, 10).astype(np.float32)
    same(lambda m, t: m.histogram(t, 6, **kw), x)
    same(lambda m, t, w: m.histogram(t, 5, weight=w, **kw), x, w)
    same(lambda m, t, e: m.histogram(t, e, density=kw.get("density", False)), x,
         np.array([-2.0, -0.5, 0.0, 0.3, 1.5], np.float32))
    same(lambda m, t: t.histogram(3, **kw), np.array([1.0, 1.0], np.float32))


def test_histogram_errors():
    with pytest.raises(RuntimeError, match="weight should have the same shape"):
        nr.histogram(nr.randn(4), 3, weight=nr.rand(3))
    with pytest.raises(RuntimeError, match="floating point"):
        nr.histogram(nr.tensor([1, 2]), 3)


@pytest.mark.parametrize("kw", [dict(bins=3), dict(bins=[2, 4], range=[-1.0, 1.0, 0.0, 2.0]),
                                dict(bins=[3, 2], density=True)])
def test_histogramdd(kw):
    x = randn(20, 2).astype(np.float32)
    w = rand(20).astype(np.float32)
    ours = nr.histogramdd(nr.from_numpy(x), **kw)
    theirs = torch.histogramdd(torch.from_numpy(x), **kw)
    assert_close(ours.hist, theirs.hist, 1e-6, 1e-5, "hist")
    for a, b in zip(ours.bin_edges, theirs.bin_edges):
        assert_close(a, b, 1e-6, 1e-5, "bin_edges")
    ours = nr.histogramdd(nr.from_numpy(x), weight=nr.from_numpy(w), **kw)
    theirs = torch.histogramdd(torch.from_numpy(x), weight=torch.from_numpy(w), **kw)
    assert_close(ours.hist, theirs.hist, 1e-6, 1e-5, "weighted hist")


def test_bincount():
    x = np.array([1, 1, 3, 0, 7, 3, 3])
    same(lambda m, t: m.bincount(t), x)
    same(lambda m, t: t.bincount(minlength=10), x)
    same(lambda m, t, w: m.bincount(t, w), x, rand(7).astype(np.float32))
    same(lambda m, t, w: m.bincount(t, w, 9), x, rand(7))
    same(lambda m, t, w: m.bincount(t, w), x, np.arange(7))
    same(lambda m, t: m.bincount(t, minlength=3), np.zeros(0, np.int64))
    with pytest.raises(RuntimeError, match=r"1-d non-negative integral.*\(2, 2\)"):
        nr.bincount(nr.tensor([[1, 2], [3, 4]]))
    with pytest.raises(RuntimeError, match="non-negative"):
        nr.bincount(nr.tensor([1, -2]))
    with pytest.raises(RuntimeError, match="integral"):
        nr.bincount(nr.tensor([1.0]))
    with pytest.raises(RuntimeError, match="integral"):
        nr.bincount(nr.tensor([True]))
    with pytest.raises(RuntimeError, match="same length"):
        nr.bincount(nr.tensor([1, 2]), nr.tensor([1.0]))


# --- unique / unique_consecutive -----------------------------------------------------------
@pytest.mark.parametrize("inv", [False, True])
@pytest.mark.parametrize("counts", [False, True])
def test_unique_flat(inv, counts):
    x = np.random.default_rng(3).integers(-3, 4, (4, 6))
    same(lambda m, t: m.unique(t, return_inverse=inv, return_counts=counts), x)
    same(lambda m, t: t.unique(sorted=True, return_inverse=inv, return_counts=counts),
         x.astype(np.float32))
    same(lambda m, t: m.unique_consecutive(t, return_inverse=inv, return_counts=counts),
         np.array([1, 1, 2, 2, 3, 1, 1, 2]))
    same(lambda m, t: t.unique_consecutive(return_inverse=inv, return_counts=counts),
         np.array([[1.0, 1.0], [1.0, 2.0]]))


@pytest.mark.parametrize("dim", [0, 1, -1])
def test_unique_dim(dim):
    x = np.array([[1, 2, 1, 2], [3, 0, 3, 0], [1, 2, 1, 2], [0, 0, 0, 1]])
    same(lambda m, t: m.unique(t, dim=dim, return_inverse=True, return_counts=True), x)
    same(lambda m, t: m.unique(t, dim=dim), x.astype(np.float32))
    same(lambda m, t: m.unique_consecutive(t, dim=dim, return_inverse=True,
                                           return_counts=True), x)
    y = np.random.default_rng(5).integers(0, 2, (3, 5, 2)).astype(bool)
    same(lambda m, t: m.unique(t, dim=dim, return_inverse=True, return_counts=True), y)
    same(lambda m, t: m.unique_consecutive(t, dim=dim, return_counts=True), y)


def test_unique_edge_cases():
    same(lambda m, t: m.unique(t, return_inverse=True, return_counts=True),
         np.zeros(0, np.float32))
    same(lambda m, t: m.unique(t, return_inverse=True), np.float32(3.0))
    same(lambda m, t: m.unique(t), np.array([True, False, True]))
    same(lambda m, t: m.unique(t, dim=0, return_inverse=True, return_counts=True),
         np.zeros((0, 3)))
    same(lambda m, t: m.unique_consecutive(t, dim=0, return_counts=True), np.zeros((0, 3)))
    with pytest.raises(RuntimeError, match=r"0 sized dimensions.*\(3, 0\)"):
        nr.unique(nr.zeros(3, 0), dim=0)
    ours = nr.unique(nr.tensor([3, 1, 2, 1]), sorted=False)
    assert sorted(ours.tolist()) == [1, 2, 3]


# --- searchsorted / bucketize / isin -------------------------------------------------------
@pytest.mark.parametrize("kw", [dict(), dict(right=True), dict(side="right"), dict(side="left"),
                                dict(out_int32=True)])
def test_searchsorted_1d(kw):
    seq = np.array([-1.0, 0.0, 0.0, 0.5, 2.0], np.float32)
    v = np.array([[-3.0, 0.0, 0.2], [0.5, 2.0, 9.0]], np.float32)
    same(lambda m, s, v: m.searchsorted(s, v, **kw), seq, v)
    same(lambda m, s: m.searchsorted(s, 0.0, **kw), seq)
    same(lambda m, s: m.searchsorted(s, 1, **kw), np.array([0, 1, 1, 3]))


@pytest.mark.parametrize("kw", [dict(), dict(right=True), dict(out_int32=True)])
def test_searchsorted_batched(kw):
    seq = np.sort(randn(2, 3, 7), -1).astype(np.float32)
    seq[0, 0, 2:4] = seq[0, 0, 2]
    v = randn(2, 3, 5).astype(np.float32)
    v[0, 0, 0] = seq[0, 0, 2]
    v[1, 2, 1] = seq[1, 2, 6]
    v[1, 1, 1] = NAN
    same(lambda m, s, v: m.searchsorted(s, v, **kw), seq, v)
    same(lambda m, s, v: m.searchsorted(s, v, **kw), np.sort(randn(4, 1), -1), randn(4, 3))
    same(lambda m, s, v: m.searchsorted(s, v, **kw), np.zeros((2, 0)), randn(2, 3))


def test_searchsorted_sorter_and_nan():
    seq = np.array([3.0, 1.0, NAN, 2.0, 0.0], np.float32)
    sorter = np.argsort(seq, kind="stable")
    v = np.array([0.5, 2.0, NAN, 5.0], np.float32)
    same(lambda m, s, o, v: m.searchsorted(s, v, sorter=o), seq, sorter, v)
    same(lambda m, s, o, v: m.searchsorted(s, v, sorter=o, right=True), seq, sorter, v)
    seq2 = np.stack([seq, seq[::-1]])
    sorter2 = np.argsort(seq2, -1, kind="stable")
    v2 = np.stack([v, v[::-1]])
    same(lambda m, s, o, v: m.searchsorted(s, v, sorter=o), seq2, sorter2, v2)


def test_searchsorted_errors():
    s = nr.tensor([0.0, 1.0])
    with pytest.raises(RuntimeError, match="side and right can't be set to opposites"):
        nr.searchsorted(s, nr.tensor([0.5]), side="left", right=True)
    with pytest.raises(RuntimeError, match=r"first N-1 dimensions.*\[2, 3\].*\[3, 3\]"):
        nr.searchsorted(nr.zeros(2, 3), nr.zeros(3, 3))
    with pytest.raises(RuntimeError, match="same size"):
        nr.searchsorted(s, nr.tensor([0.5]), sorter=nr.tensor([0]))
    with pytest.raises(RuntimeError, match="scalar only when boundaries tensor dimension is 1"):
        nr.searchsorted(nr.zeros(2, 3), 1.0)
    with pytest.raises(RuntimeError, match="side can only be"):
        nr.searchsorted(s, nr.tensor([0.5]), side="middle")


@pytest.mark.parametrize("kw", [dict(), dict(right=True), dict(out_int32=True)])
def test_bucketize(kw):
    b = np.array([-1.0, 0.0, 0.5, 2.0], np.float32)
    x = np.array([[-3.0, 0.0, 0.2], [0.5, 2.0, 9.0]], np.float32)
    same(lambda m, x, b: m.bucketize(x, b, **kw), x, b)
    same(lambda m, b: m.bucketize(0.5, b, **kw), b)
    with pytest.raises(RuntimeError, match=r"1 dimension.*dim\(2\)"):
        nr.bucketize(nr.zeros(3), nr.zeros(2, 2))


@pytest.mark.parametrize("kw", [dict(), dict(invert=True), dict(assume_unique=True)])
def test_isin(kw):
    e = np.array([[1, 2, 3], [4, 5, 6]])
    t = np.array([2, 9, 4, 4])
    same(lambda m, e, t: m.isin(e, t, **kw), e, t)
    same(lambda m, e: m.isin(e, 5, **kw), e)
    same(lambda m, t: m.isin(4, t, **kw), t)
    same(lambda m, e, t: m.isin(e, t, **kw), np.array([1.0, NAN, 2.5], np.float32),
         np.array([NAN, 2.5], np.float32))
    same(lambda m, e, t: m.isin(e, t, **kw), e, np.zeros(0, np.int64))
    same(lambda m, e, t: m.isin(e, t, **kw), e.astype(np.float32), t)


# --- cov / corrcoef ------------------------------------------------------------------------
@pytest.mark.parametrize("correction", [0, 1, 2])
def test_cov_grad(correction):
    check(lambda m, x: m.cov(x, correction=correction), randn(3, 6), double=True)
    check(lambda m, x: m.cov(x, correction=correction), randn(6))


def test_cov_weights():
    fw = np.array([1, 2, 0, 3, 1, 1])
    aw = rand(6, low=0.1)
    check(lambda m, x, f: m.cov(x, fweights=f), randn(3, 6), fw)
    check(lambda m, x, a: m.cov(x, aweights=a), randn(3, 6), aw)
    check(lambda m, x, f, a: x.cov(correction=0, fweights=f, aweights=a), randn(2, 6), fw, aw)
    same(lambda m, t: m.cov(t), np.array([[1, 2, 4], [2, 0, 7]]))


def test_cov_errors():
    with pytest.raises(RuntimeError, match="two or fewer dimensions.*3 dimensions"):
        nr.cov(nr.zeros(2, 2, 2))
    with pytest.raises(RuntimeError, match="same numel"):
        nr.cov(nr.zeros(2, 4), fweights=nr.tensor([1, 2]))
    with pytest.raises(RuntimeError, match="integral"):
        nr.cov(nr.zeros(2, 2), fweights=nr.tensor([1.0, 2.0]))
    with pytest.raises(RuntimeError, match="floating point"):
        nr.cov(nr.zeros(2, 2), aweights=nr.tensor([1, 2]))
    with pytest.raises(RuntimeError, match="negative"):
        nr.cov(nr.zeros(2, 2), aweights=nr.tensor([1.0, -2.0]))


def test_corrcoef():
    check(lambda m, x: m.corrcoef(x), randn(3, 7), atol=1e-4, double=True)
    check(lambda m, x: x.corrcoef(), randn(2, 5), atol=1e-4)
    same(lambda m, t: m.corrcoef(t), randn(5).astype(np.float32))


# --- renorm --------------------------------------------------------------------------------
@pytest.mark.parametrize("p,dim,maxnorm", [(2, 0, 1.0), (1, 1, 0.5), (3.0, -1, 2.0),
                                           (2, 1, 100.0)])
def test_renorm(p, dim, maxnorm):
    check(lambda m, x: m.renorm(x, p, dim, maxnorm), randn(3, 4, 2), double=p == 2)


def test_renorm_inplace_and_errors():
    def fn(m, x):
        y = x * 1
        assert y.renorm_(2, 0, 0.7) is y
        return y
    check(fn, randn(4, 3))
    with pytest.raises(RuntimeError, match="at least 2 dimensions"):
        nr.renorm(nr.randn(3), 2, 0, 1.0)
    with pytest.raises(RuntimeError, match="non-positive-norm"):
        nr.renorm(nr.randn(3, 2), 0, 0, 1.0)


# --- the methods exist where torch has them ------------------------------------------------
def test_tensor_methods_registered():
    for name in ["cummax", "cummin", "logcumsumexp", "cumsum_", "cumprod_", "quantile",
                 "nanquantile", "nanmedian", "mode", "msort", "diff", "histc", "histogram",
                 "bincount", "unique", "unique_consecutive", "cov", "corrcoef", "renorm",
                 "renorm_"]:
        assert hasattr(torch.Tensor, name) and hasattr(nr.Tensor, name), name
