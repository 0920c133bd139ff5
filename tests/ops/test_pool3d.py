"""3-D pools, the *_with_indices functions and fractional max pooling: torch parity,
gradchecks (double backward), errors.

Piecewise-linear pools are squared in the checked expression so that the double-backward
check exercises the scatter/gather pair (as in test_pool.py).
"""
import numpy as np
import pytest
import torch

import narae as nr
import narae.nn.functional as F
from helpers import check, rand, randn


def _f(m):
    return F if m is nr else m.nn.functional


MAX3D = [
    (2, {}),
    ((2, 3, 2), dict(stride=(1, 2, 1), padding=(1, 1, 0))),
    (3, dict(stride=2, padding=1, dilation=(1, 2, 1))),
    (3, dict(stride=2, ceil_mode=True)),
    (2, dict(stride=2, padding=1, ceil_mode=True)),
]


@pytest.mark.parametrize("k,kw", MAX3D)
def test_max_pool3d(k, kw):
    check(lambda m, x: _f(m).max_pool3d(x, k, **kw) ** 2, randn(2, 2, 5, 6, 5), double=True)
    check(lambda m, x: _f(m).max_pool3d(x, k, return_indices=True, **kw), randn(1, 2, 5, 6, 5))


def test_max_pool3d_unbatched_and_ties():
    check(lambda m, x: _f(m).max_pool3d(x, 2, padding=1) ** 2, randn(2, 3, 4, 3), double=True)
    a = np.zeros((1, 1, 4, 4, 4))
    a[0, 0, :2, :2, :2] = 1.0
    check(lambda m, x: _f(m).max_pool3d(x, 2, return_indices=True), a, gradcheck=False)
    check(lambda m, x: _f(m).max_pool3d(x, 3, stride=1, padding=1), a, gradcheck=False)


@pytest.mark.parametrize("nd", [1, 2, 3])
def test_max_pool_with_indices(nd):
    x = randn(2, 2, *(7, 6, 5)[:nd])
    check(lambda m, x: getattr(_f(m), f"max_pool{nd}d_with_indices")(x, 3, 2, 1), x)
    check(lambda m, x: getattr(_f(m), f"max_pool{nd}d_with_indices")(
        x, 2, ceil_mode=True, return_indices=False), x)
    check(lambda m, x: getattr(_f(m), f"adaptive_max_pool{nd}d_with_indices")(x, 3), x)


AVG3D = [
    (2, {}),
    (3, dict(stride=2, padding=1)),
    (3, dict(stride=2, padding=1, count_include_pad=False)),
    ((3, 2, 2), dict(stride=(1, 2, 2), padding=(1, 0, 1), ceil_mode=True)),
    (3, dict(stride=2, padding=1, ceil_mode=True, count_include_pad=False)),
    (2, dict(stride=1, padding=1, divisor_override=3)),
]


@pytest.mark.parametrize("k,kw", AVG3D)
def test_avg_pool3d(k, kw):
    check(lambda m, x: _f(m).avg_pool3d(x, k, **kw) ** 2, randn(2, 2, 5, 4, 5), double=True)


def test_avg_pool3d_unbatched():
    check(lambda m, x: _f(m).avg_pool3d(x, 2), randn(3, 4, 4, 2), double=True)


def test_lp_pool3d():
    check(lambda m, x: _f(m).lp_pool3d(x, 2, 2), randn(2, 2, 4, 4, 6))
    check(lambda m, x: _f(m).lp_pool3d(x, 3, (2, 1, 2), stride=1, ceil_mode=True),
          randn(1, 2, 3, 4, 3, low=0.5))
    check(lambda m, x: _f(m).lp_pool3d(x, 1.5, 2, stride=2, ceil_mode=True),
          randn(1, 2, 5, 4, 5, low=0.5))


@pytest.mark.parametrize("size", [(2, 3, 4), 1, (5, None, 3), (7, 2, 8)])
def test_adaptive_avg_pool3d(size):
    check(lambda m, x: _f(m).adaptive_avg_pool3d(x, size) ** 2, randn(2, 2, 5, 4, 6),
          double=True)


@pytest.mark.parametrize("size", [(2, 3, 4), 1, (None, 2, 3), (7, 2, 8)])
def test_adaptive_max_pool3d(size):
    check(lambda m, x: _f(m).adaptive_max_pool3d(x, size) ** 2, randn(2, 2, 5, 4, 6),
          double=True)
    check(lambda m, x: _f(m).adaptive_max_pool3d(x, size, return_indices=True),
          randn(2, 2, 5, 4, 6))


def test_adaptive_pools_3d_unbatched():
    check(lambda m, x: _f(m).adaptive_avg_pool3d(x, 2), randn(2, 3, 5, 4))
    check(lambda m, x: _f(m).adaptive_max_pool3d(x, (2, 3, 2), True), randn(2, 3, 5, 4))


def test_max_unpool3d_roundtrip():
    def fn(m, x):
        y, i = _f(m).max_pool3d(x, 2, return_indices=True)
        return _f(m).max_unpool3d(y * 3.0, i, 2)
    check(fn, randn(1, 2, 2, 4, 2), double=True)

    def fn_size(m, x):
        y, i = _f(m).max_pool3d(x, 2, stride=2, return_indices=True)
        return _f(m).max_unpool3d(y, i, 2, output_size=(5, 5, 4))
    check(fn_size, randn(1, 2, 5, 5, 4))

    def fn_unbatched(m, x):
        y, i = _f(m).max_pool3d(x, (1, 2, 2), return_indices=True)
        return _f(m).max_unpool3d(y, i, (1, 2, 2))
    check(fn_unbatched, randn(2, 3, 4, 4))


FRACTIONAL = [
    # (nd, input shape, kernel_size, kwargs)
    (2, (2, 3, 9, 11), 2, dict(output_size=(5, 4))),
    (2, (2, 2, 7, 8), (3, 2), dict(output_size=4)),
    (2, (1, 2, 8, 10), 2, dict(output_ratio=(0.5, 0.7))),
    (2, (2, 7, 6), 2, dict(output_size=(1, 3))),                    # unbatched, one window
    (3, (2, 2, 6, 7, 8), 2, dict(output_size=(3, 4, 5))),
    (3, (1, 2, 7, 6, 7), (2, 3, 2), dict(output_ratio=(0.6, 0.5, 0.7))),
    (3, (2, 5, 6, 5), 2, dict(output_size=(3, 1, 3))),               # unbatched
]


@pytest.mark.parametrize("nd,xs,k,kw", FRACTIONAL)
def test_fractional_max_pool(nd, xs, k, kw):
    n, c = (1, xs[0]) if len(xs) == nd + 1 else xs[:2]
    samples = rand(n, c, nd)  # the same samples for both: the same windows

    def fn(m, x, u, op=""):
        return getattr(_f(m), f"fractional_max_pool{nd}d{op}")(x, k, _random_samples=u, **kw)
    check(lambda m, x, u: fn(m, x, u) ** 2, randn(*xs), samples, diff=[0], double=True)
    check(lambda m, x, u: getattr(_f(m), f"fractional_max_pool{nd}d")(
        x, k, return_indices=True, _random_samples=u, **kw), randn(*xs), samples, diff=[0])
    check(lambda m, x, u: fn(m, x, u, "_with_indices"), randn(*xs), samples, diff=[0])


def test_fractional_max_pool_draws_its_own_samples():
    x = nr.tensor(randn(2, 3, 10, 9).astype(np.float32))
    y, idx = F.fractional_max_pool2d(x, 3, output_size=(4, 5), return_indices=True)
    assert tuple(y.shape) == (2, 3, 4, 5) and idx.dtype == nr.int64
    flat = x.numpy().reshape(2, 3, -1)
    np.testing.assert_array_equal(np.take_along_axis(flat, idx.numpy().reshape(2, 3, -1), 2),
                                  y.numpy().reshape(2, 3, -1))
    y3 = F.fractional_max_pool3d(nr.tensor(randn(1, 2, 6, 6, 6)), 2, output_ratio=0.5)
    assert tuple(y3.shape) == (1, 2, 3, 3, 3)


def test_fractional_matches_torch_in_float64():
    x, u = randn(2, 3, 13, 11), rand(2, 3, 2)
    ours = F.fractional_max_pool2d(nr.tensor(x), 3, output_size=(6, 4), return_indices=True,
                                   _random_samples=nr.tensor(u))[1]
    theirs = torch.nn.functional.fractional_max_pool2d(
        torch.tensor(x), 3, output_size=(6, 4), return_indices=True,
        _random_samples=torch.tensor(u))[1]
    np.testing.assert_array_equal(ours.numpy(), theirs.numpy())


def test_nan_propagates_in_max_pool3d():
    a = np.ones((1, 1, 2, 2, 4), np.float32)
    a[0, 0, 1, 0, 0] = np.nan
    np.testing.assert_array_equal(F.max_pool3d(nr.tensor(a), 2).numpy(),
                                  torch.nn.functional.max_pool3d(torch.tensor(a), 2).numpy())


@pytest.mark.parametrize("call,words", [
    (lambda x: F.max_pool3d(x, 2, padding=2), ["pad", "half"]),
    (lambda x: F.avg_pool3d(x, 3, padding=2), ["pad", "half"]),
    (lambda x: F.max_pool3d(x, 7), ["(1, 2, 5, 5, 5)", "too small"]),
    (lambda x: F.max_pool3d(x[0, 0, 0], 2), ["(5, 5)", "4-D (unbatched)"]),
    (lambda x: F.max_pool3d(x, (2, 2)), ["kernel_size"]),
    (lambda x: F.avg_pool3d(x, 2, divisor_override=0), ["divisor_override"]),
    (lambda x: F.adaptive_max_pool3d(x, (2, 2)), ["output_size"]),
    (lambda x: F.fractional_max_pool3d(x, 2), ["output_size or an output_ratio"]),
    (lambda x: F.fractional_max_pool3d(x, 3, output_size=4), ["(1, 2, 5, 5, 5)", "too large"]),
    (lambda x: F.fractional_max_pool3d(x, 2, output_size=4), ["(1, 2, 5, 5, 5)", "too large"]),
    (lambda x: F.fractional_max_pool2d(x[0, 0], 2, 3, _random_samples=nr.rand(2, 2, 2)),
     ["_random_samples of shape (2, 2, 2)", "(1, 5, 2)"]),
    (lambda x: F.max_unpool3d(x, nr.zeros(1, 2, 5, 5, dtype=nr.int64), 2), ["indices of shape"]),
])
def test_errors(call, words):
    x = nr.tensor(randn(1, 2, 5, 5, 5).astype(np.float32))
    with pytest.raises((ValueError, RuntimeError)) as e:
        call(x)
    for word in words:
        assert word in str(e.value), str(e.value)
