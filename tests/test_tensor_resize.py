"""Tensor.resize_/resize_as_/resize/resize_as, Tensor.new, new_empty_strided, dist vs torch."""
import warnings

import numpy as np
import pytest
import torch

import narae
from tests.helpers import check, randn


def _both(a):
    return narae.tensor(a.copy()), torch.tensor(a.copy())


@pytest.mark.parametrize("sizes", [(2, 2), ((4,),), ([3, 1],), (6,), (2, 3), (0,), (1, 1, 1)])
def test_resize_shrink_or_same_matches_torch(sizes):
    a = randn(2, 3)
    n, t = _both(a)
    rn = n.resize_(*sizes)
    t.resize_(*sizes)
    assert rn is n and tuple(n.shape) == tuple(t.shape)
    np.testing.assert_array_equal(n.numpy(), t.numpy())


def test_resize_shrink_shares_memory_and_bumps_version():
    n = narae.arange(6.0)
    v0 = n._version_number
    base = n._data
    n.resize_(2, 2)
    assert np.shares_memory(n._data, base) and n._version_number > v0


def test_resize_grow_keeps_leading_and_zero_fills():
    a = randn(2, 3)
    n, t = _both(a)
    n.resize_(3, 3)
    t.resize_(3, 3)
    assert tuple(n.shape) == (3, 3)
    np.testing.assert_array_equal(n.numpy().reshape(-1)[:6], t.numpy().reshape(-1)[:6])
    np.testing.assert_array_equal(n.numpy().reshape(-1)[6:], 0)  # narae's documented fill


def test_resize_as_and_int_dtype():
    n, t = _both(np.arange(8, dtype=np.int64).reshape(2, 4))
    n.resize_as_(narae.zeros(3, 2))
    t.resize_as_(torch.zeros(3, 2))
    np.testing.assert_array_equal(n.numpy(), t.numpy())
    assert n.dtype == narae.int64


def test_resize_errors_match_torch():
    for m in (narae, torch):
        x = m.zeros(2, requires_grad=True)
        with pytest.raises(RuntimeError, match="cannot resize variables that require grad"):
            x.resize_(3)
        with pytest.raises(RuntimeError, match="cannot resize variables that require grad"):
            (x * 2).resize_(3)
        with pytest.raises(TypeError):
            m.zeros(2).resize_(2.5)
    with pytest.raises(RuntimeError, match="non-negative"):
        narae.zeros(2).resize_(-1)


def test_deprecated_resize_out_of_place():
    def f(m, x):
        with warnings.catch_warnings():
            warnings.simplefilter("ignore")
            return x.resize(3, 2) * x.resize_as(m.zeros(6))[:, None].t().reshape(3, 2)
    check(f, randn(2, 3))
    for m in (narae, torch):
        with pytest.warns(UserWarning, match="non-inplace resize is deprecated"):
            with pytest.raises(RuntimeError, match="preserving the number of elements"):
                m.zeros(2, 3).resize(4)


def test_new_legacy_constructor():
    for dt in (np.float32, np.float64, np.int64):
        n, t = _both(np.ones((2, 3), dt))
        a, b = n.new(2, 4), t.new(2, 4)
        assert tuple(a.shape) == tuple(b.shape) == (2, 4) and str(a.dtype)[6:] == str(b.dtype)[6:]
        a, b = n.new([1, 2, 3]), t.new([1, 2, 3])
        np.testing.assert_array_equal(a.numpy(), b.numpy())
        assert a.dtype == n.dtype
        assert tuple(n.new().shape) == tuple(t.new().shape) == (0,)
        assert tuple(n.new(n.shape).shape) == tuple(t.new(t.shape).shape) == (2, 3)
        other_n, other_t = n.new(n), t.new(t)
        np.testing.assert_array_equal(other_n.numpy(), other_t.numpy())
    x = narae.zeros(2, requires_grad=True)
    assert not x.new(3).requires_grad and not x.new([1.0]).requires_grad
    for m in (narae, torch):
        with pytest.raises(TypeError):
            m.ones(2).new(m.ones(2, dtype=m.int64))
        with pytest.raises(TypeError, match="data must be a sequence"):
            m.ones(2).new(2.5)
        with pytest.raises(TypeError):
            m.ones(2).new(m.ones(2), 3)


def test_new_empty_strided():
    n, t = _both(np.ones((2, 3), np.float64))
    a, b = n.new_empty_strided((2, 3), (3, 1)), t.new_empty_strided((2, 3), (3, 1))
    assert tuple(a.shape) == tuple(b.shape) and a.stride() == b.stride() and a.dtype == n.dtype
    a = n.new_empty_strided((2, 3), (3, 1), dtype=narae.float32, requires_grad=True)
    assert a.dtype == narae.float32 and a.requires_grad
    with pytest.raises(NotImplementedError, match="contiguous"):
        n.new_empty_strided((2, 3), (1, 2))


@pytest.mark.parametrize("p", [2, 1, 3.5, float("inf"), 0])
def test_dist_method(p):
    check(lambda m, x, y: x.dist(y, p), randn(3, 4), randn(4), grad=(p != 0),
          gradcheck=(p != 0))
    check(lambda m, x, y: x.dist(y), randn(5), randn(5))
