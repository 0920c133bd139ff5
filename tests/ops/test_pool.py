"""Pools: max/avg/lp, adaptive, max_unpool. Torch parity, gradchecks, ties, errors.

Max pools and other piecewise-linear ops are squared in the checked expression so that their
gradient depends on the input and the double-backward check exercises the scatter/gather pair.
"""
import numpy as np
import pytest
import torch

import narae as nr
import narae.nn.functional as F
from helpers import check, randn


def _f(m):
    return F if m is nr else m.nn.functional


MAX2D = [
    (2, {}),
    (2, dict(stride=1)),
    ((3, 2), dict(stride=(2, 1), padding=(1, 1))),
    (3, dict(stride=2, padding=1, dilation=2)),
    (3, dict(stride=2, ceil_mode=True)),
    (2, dict(stride=2, padding=1, ceil_mode=True)),
    (4, dict(stride=3, padding=2, ceil_mode=True)),
]


@pytest.mark.parametrize("k,kw", MAX2D)
def test_max_pool2d(k, kw):
    check(lambda m, x: _f(m).max_pool2d(x, k, **kw) ** 2, randn(2, 3, 7, 8), double=True)


@pytest.mark.parametrize("k,kw", MAX2D[:5])
def test_max_pool2d_indices(k, kw):
    check(lambda m, x: _f(m).max_pool2d(x, k, return_indices=True, **kw), randn(2, 2, 7, 8))


def test_max_pool2d_ties_send_gradient_to_one_element():
    a = np.zeros((1, 2, 4, 4))
    a[0, 1, :2, :2] = 1.0  # a tied window of ones beside tied windows of zeros
    check(lambda m, x: _f(m).max_pool2d(x, 2, return_indices=True), a, gradcheck=False)
    check(lambda m, x: _f(m).max_pool2d(x, 3, stride=1, padding=1), a, gradcheck=False)


def test_max_pool_unbatched_and_1d():
    check(lambda m, x: _f(m).max_pool2d(x, 2, padding=1) ** 2, randn(3, 5, 5), double=True)
    check(lambda m, x: _f(m).max_pool1d(x, 3, stride=2, padding=1, dilation=1,
                                        return_indices=True), randn(2, 3, 9))
    check(lambda m, x: _f(m).max_pool1d(x, 2, ceil_mode=True) ** 2, randn(3, 7), double=True)


AVG2D = [
    (2, {}),
    (3, dict(stride=2, padding=1)),
    (3, dict(stride=2, padding=1, count_include_pad=False)),
    ((3, 2), dict(stride=(1, 2), padding=(1, 0), ceil_mode=True)),
    (3, dict(stride=2, padding=1, ceil_mode=True, count_include_pad=False)),
    (3, dict(stride=2, padding=1, ceil_mode=True)),
    (2, dict(stride=1, padding=1, divisor_override=3)),
]


@pytest.mark.parametrize("k,kw", AVG2D)
def test_avg_pool2d(k, kw):
    check(lambda m, x: _f(m).avg_pool2d(x, k, **kw), randn(2, 3, 7, 6), double=True)
    check(lambda m, x: _f(m).avg_pool2d(x, k, **kw) ** 2, randn(2, 3, 7, 6), double=True)


def test_avg_pool1d_and_unbatched():
    check(lambda m, x: _f(m).avg_pool1d(x, 3, 2, 1, True, False) ** 2, randn(2, 3, 8),
          double=True)
    check(lambda m, x: _f(m).avg_pool2d(x, 2) ** 2, randn(3, 4, 4), double=True)


def test_lp_pool():
    check(lambda m, x: _f(m).lp_pool2d(x, 2, 2), randn(2, 3, 4, 6))
    check(lambda m, x: _f(m).lp_pool1d(x, 3, 2, stride=1), randn(2, 3, 5, low=0.5))


@pytest.mark.parametrize("size", [(3, 4), 1, (7, 9), (5, None), (4, 2)])
def test_adaptive_avg_pool2d(size):
    check(lambda m, x: _f(m).adaptive_avg_pool2d(x, size) ** 2, randn(2, 3, 7, 9), double=True)


def test_adaptive_avg_pool1d_and_unbatched():
    check(lambda m, x: _f(m).adaptive_avg_pool1d(x, 4) ** 2, randn(2, 3, 10), double=True)
    check(lambda m, x: _f(m).adaptive_avg_pool2d(x, 3), randn(2, 5, 5), double=True)


@pytest.mark.parametrize("size", [(3, 4), 1, (5, None), (8, 3)])
def test_adaptive_max_pool2d(size):
    check(lambda m, x: _f(m).adaptive_max_pool2d(x, size) ** 2, randn(2, 3, 7, 9), double=True)
    check(lambda m, x: _f(m).adaptive_max_pool2d(x, size, return_indices=True),
          randn(2, 3, 7, 9))


def test_adaptive_max_pool1d():
    check(lambda m, x: _f(m).adaptive_max_pool1d(x, 4, return_indices=True), randn(2, 3, 10))


def test_max_unpool2d_roundtrip():
    def fn(m, x):
        y, i = _f(m).max_pool2d(x, 2, return_indices=True)
        return _f(m).max_unpool2d(y * 3.0, i, 2)
    check(fn, randn(2, 3, 6, 6), double=True)

    def fn_size(m, x):
        y, i = _f(m).max_pool2d(x, 3, stride=2, return_indices=True)
        return _f(m).max_unpool2d(y, i, 3, stride=2, output_size=(7, 8))
    # overlapping windows can repeat an index: unpool keeps one value but, as torch, sends the
    # gradient to every repeat, so only parity (not finite differences) holds there
    check(fn_size, randn(1, 2, 7, 8), gradcheck=False)


def test_max_unpool1d():
    def fn(m, x):
        y, i = _f(m).max_pool1d(x, 2, return_indices=True)
        return _f(m).max_unpool1d(y, i, 2)
    check(fn, randn(2, 3, 8))


def test_nan_propagates_in_max_pool():
    a = np.ones((1, 1, 2, 4), np.float32)
    a[0, 0, 1, 0] = np.nan
    y = F.max_pool2d(nr.tensor(a), 2).numpy()
    t = torch.nn.functional.max_pool2d(torch.tensor(a), 2).numpy()
    np.testing.assert_array_equal(y, t)


@pytest.mark.parametrize("call,words", [
    (lambda x: F.max_pool2d(x, 2, padding=2), ["pad", "half"]),
    (lambda x: F.avg_pool2d(x, 3, padding=2), ["pad", "half"]),
    (lambda x: F.max_pool2d(x, 7), ["(1, 2, 5, 5)", "too small"]),
    (lambda x: F.max_pool2d(x[0, 0], 2), ["(5, 5)"]),
    (lambda x: F.avg_pool2d(x, 2, divisor_override=0), ["divisor_override"]),
])
def test_errors(call, words):
    x = nr.tensor(randn(1, 2, 5, 5).astype(np.float32))
    with pytest.raises((RuntimeError, ValueError)) as e:
        call(x)
    for w in words:
        assert w in str(e.value), str(e.value)
