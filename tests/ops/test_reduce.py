import math

import numpy as np
import pytest
import torch

import narae as nr
from narae.ops.reduce import vector_norm
from helpers import check, randn, rand

DIMS = [None, 0, -1, (0, 2), (-1, 1)]


def _dim_kw(dim, keepdim=False):
    return {} if dim is None else {"dim": dim, "keepdim": keepdim}


@pytest.mark.parametrize("dim", DIMS)
@pytest.mark.parametrize("keepdim", [False, True])
def test_sum_mean(dim, keepdim):
    check(lambda m, x: m.sum(x, **_dim_kw(dim, keepdim)), randn(2, 3, 4))
    check(lambda m, x: x.mean(**_dim_kw(dim, keepdim)), randn(2, 3, 4))


def test_mean_sum_dtype():
    check(lambda m, x: m.mean(x, 1, dtype=m.float64), randn(3, 4))
    check(lambda m, x: m.sum(x, dtype=m.float64), randn(3, 4))
    check(lambda m, x: m.sum(x, 0), np.arange(6).reshape(2, 3), grad=False)


@pytest.mark.parametrize("dim,keepdim", [(None, False), (0, False), (-1, True), (1, False)])
def test_prod(dim, keepdim):
    kw = {} if dim is None else {"dim": dim, "keepdim": keepdim}
    check(lambda m, x: m.prod(x, **kw), rand(2, 3, 4, low=0.5, high=1.5), double=True)


@pytest.mark.parametrize("zeros", [[(0, 1)], [(0, 1), (0, 3)], [(0, 0), (1, 2), (1, 3)],
                                   [(1, 0), (1, 1), (1, 2)]])
@pytest.mark.parametrize("dim", [None, 1])
def test_prod_with_zeros(zeros, dim):
    x = rand(2, 4, low=0.5, high=1.5)
    for z in zeros:
        x[z] = 0.0
    kw = {} if dim is None else {"dim": dim}
    # exact first and second derivatives with zeros, like torch
    check(lambda m, x: m.prod(x, **kw), x, double=True)


def test_prod_int_and_empty():
    check(lambda m, x: m.prod(x), np.arange(1, 6), grad=False)
    check(lambda m, x: m.prod(x, 0), randn(0, 3))
    check(lambda m, x: m.sum(x, 0), randn(0, 3))
    check(lambda m, x: m.sum(x), randn(0, 3))


@pytest.mark.parametrize("name", ["max", "min"])
def test_max_min_forms(name):
    check(lambda m, x: getattr(m, name)(x), randn(3, 4))
    check(lambda m, x: tuple(getattr(m, name)(x, 1)), randn(3, 4))
    check(lambda m, x: tuple(getattr(x, name)(-1, keepdim=True)), randn(2, 3, 4))
    check(lambda m, x: getattr(m, name)(x, 0).values, randn(3, 4))
    check(lambda m, x, y: getattr(m, name)(x, y), randn(3, 4), randn(4))
    check(lambda m, x, y: getattr(x, name)(y), randn(3, 4), randn(3, 4))
    r = getattr(nr, name)(nr.randn(3, 4), dim=1)
    assert r.indices.dtype == nr.int64 and r.values.shape == (3,)
    assert not r.indices.requires_grad


def test_max_ties_gradient_like_torch():
    x = np.array([[1.0, 3.0, 3.0, 0.0], [2.0, 2.0, 2.0, -1.0]])
    # full reduction and amax share the gradient among ties; max(dim) gives it to the index
    check(lambda m, x: m.max(x), x, gradcheck=False)
    check(lambda m, x: m.min(-x), x, gradcheck=False)
    check(lambda m, x: tuple(m.max(x, 1)), x, gradcheck=False)
    check(lambda m, x: m.amax(x, 1), x, gradcheck=False)
    check(lambda m, x: m.amin(x, (0, 1)), -x, gradcheck=False)


@pytest.mark.parametrize("dim", [(), 0, -1, (0, 2), [1, 2]])
@pytest.mark.parametrize("keepdim", [False, True])
def test_amax_amin(dim, keepdim):
    check(lambda m, x: m.amax(x, dim, keepdim), randn(2, 3, 4), double=True)
    check(lambda m, x: x.amin(dim=dim, keepdim=keepdim), randn(2, 3, 4))


@pytest.mark.parametrize("dim,keepdim", [(None, False), (None, True), (0, False), (-1, True)])
def test_argmax_argmin(dim, keepdim):
    x = randn(3, 4)
    x[1, 2] = x[2, 2] = 5.0  # a tie: both pick the first index
    check(lambda m, x: m.argmax(x, dim, keepdim), x, grad=False)
    check(lambda m, x: x.argmin(dim=dim, keepdim=keepdim), -x, grad=False)


def test_aminmax():
    x = randn(3, 4)
    ours = nr.aminmax(nr.from_numpy(x), dim=1)
    theirs = torch.aminmax(torch.from_numpy(x), dim=1)
    np.testing.assert_allclose(ours.min.numpy(), theirs.min.numpy())
    np.testing.assert_allclose(ours.max.numpy(), theirs.max.numpy())


@pytest.mark.parametrize("dim", [None, 1, (0, 2), -1])
@pytest.mark.parametrize("correction", [0, 1, 2])
@pytest.mark.parametrize("keepdim", [False, True])
def test_var_std(dim, correction, keepdim):
    check(lambda m, x: m.var(x, **_dim_kw(dim, keepdim), correction=correction),
          randn(2, 3, 4), double=True)
    check(lambda m, x: x.std(**_dim_kw(dim, keepdim), correction=correction),
          randn(2, 3, 4), double=True)


def test_var_std_legacy_unbiased_and_pairs():
    check(lambda m, x: m.var(x, 1, False), randn(3, 4))
    check(lambda m, x: m.std(x, False), randn(3, 4))
    check(lambda m, x: m.std(x, unbiased=True), randn(3, 4))
    check(lambda m, x: m.var_mean(x, 1, keepdim=True), randn(3, 4), double=True)
    check(lambda m, x: m.std_mean(x, (0, 1), correction=0), randn(3, 4))


def test_var_too_few_elements_is_nan_or_inf():
    with np.errstate(all="raise"):  # no NumPy warning either
        out = nr.var(nr.ones(1))
    assert math.isnan(out.item())
    assert math.isinf(nr.var(nr.tensor([1.0, 2.0]), correction=3).item())


@pytest.mark.parametrize("p", ["fro", 2, 1, math.inf, -math.inf, 3, 1.5, 0.5, 0])
@pytest.mark.parametrize("dim,keepdim", [(None, False), (1, False), ((0, 1), True), (-1, True)])
def test_norm(p, dim, keepdim):
    if p == "fro" and dim is not None and not isinstance(dim, tuple):
        dim = (dim,)
    x = randn(3, 4, low=0.1) * np.sign(randn(3, 4))  # no zeros: |x|^(p-1) is smooth
    kw = {} if dim is None else {"dim": dim, "keepdim": keepdim}
    check(lambda m, x: m.norm(x, p, **kw), x, double=p not in (math.inf, -math.inf, 0, 1))


def test_norm_at_zero_has_zero_gradient():
    z = np.zeros((2, 3))
    z[1] = randn(3)
    for p in (2, 1, 3, "fro"):
        check(lambda m, x: m.norm(x, p, dim=1), z, gradcheck=False)
    x = nr.zeros(4, requires_grad=True)
    nr.norm(x).backward()
    assert np.all(x.grad.numpy() == 0)


@pytest.mark.parametrize("ord,dim", [(2, None), (1, 0), (math.inf, 1), (3.0, (0, 1))])
def test_vector_norm(ord, dim):
    fn = lambda m, x: (vector_norm if m is nr else torch.linalg.vector_norm)(x, ord, dim)  # noqa
    check(fn, randn(3, 4, low=0.1))


@pytest.mark.parametrize("dim", [0, 1, -1])
def test_cumsum_cumprod(dim):
    check(lambda m, x: m.cumsum(x, dim), randn(3, 4), double=True)
    check(lambda m, x: x.cumprod(dim), rand(3, 4, low=0.5, high=1.5), double=True)


def test_cumprod_with_zeros():
    x = rand(3, 5, low=0.5, high=1.5)
    x[0, 2] = 0.0
    x[1, 0] = x[1, 3] = 0.0
    x[2, 4] = 0.0
    check(lambda m, x: m.cumprod(x, 1), x)
    check(lambda m, x: m.cumprod(x, 0), x)
    check(lambda m, x: m.cumsum(x, 0, dtype=m.float64), x)
    check(lambda m, x: m.cumsum(x, 0), np.arange(5), grad=False)


@pytest.mark.parametrize("dim,keepdim", [(None, False), (0, False), (-1, True)])
def test_median(dim, keepdim):
    x = RNG_distinct((4, 5))
    if dim is None:
        check(lambda m, x: m.median(x), x)
        check(lambda m, x: m.median(x), x[:, :4])  # even count: the lower middle
    else:
        check(lambda m, x: tuple(m.median(x, dim, keepdim)), x)


def RNG_distinct(shape):
    return np.random.default_rng(7).permutation(int(np.prod(shape))).reshape(shape) * 0.1 - 1.0


def test_count_nonzero_nansum_nanmean():
    x = randn(3, 4)
    x[0, 1] = x[2, 2] = 0.0
    check(lambda m, x: m.count_nonzero(x), x, grad=False)
    check(lambda m, x: m.count_nonzero(x, dim=(0, 1)), x, grad=False)
    check(lambda m, x: x.count_nonzero(1), x, grad=False)
    x[1, 3] = np.nan
    check(lambda m, x: m.nansum(x, 1), x, gradcheck=False)
    check(lambda m, x: m.nanmean(x), x, gradcheck=False)


def test_logsumexp_double():
    check(lambda m, x: m.logsumexp(x, (0, 1)), randn(3, 4), double=True)


def test_size_one_dims():
    x = randn(3, 1, 4)
    check(lambda m, x: m.prod(x, 1), x, double=True)
    check(lambda m, x: m.var(x, 1, correction=0), x)
    check(lambda m, x: tuple(m.max(x, 1)), x)
    check(lambda m, x: m.amax(x, (1, 2), keepdim=True), x)
    check(lambda m, x: m.norm(x, 2, dim=1), x, gradcheck=False)


def test_empty_reduction_errors():
    with pytest.raises(RuntimeError, match="max.*numel"):
        nr.max(nr.zeros(0, 3))
    with pytest.raises(IndexError, match="argmax.*dim 0.*non-zero size"):
        nr.argmax(nr.zeros(0, 3), 0)
    with pytest.raises(IndexError, match="argmax"):
        nr.argmax(nr.zeros(0, 3))
    with pytest.raises(RuntimeError, match="amax"):
        nr.amax(nr.zeros(0))
    out = nr.max(nr.zeros(0, 3), 1)  # reducing a non-empty dim of an empty tensor is fine
    assert out.values.shape == (0,)


@pytest.mark.parametrize("fn", [lambda x: nr.sum(x, 3), lambda x: nr.max(x, -4),
                                lambda x: nr.var(x, (0, 5)), lambda x: nr.argmax(x, 3),
                                lambda x: nr.cumsum(x, 3), lambda x: nr.prod(x, 3),
                                lambda x: nr.amax(x, 3), lambda x: nr.norm(x, dim=3)])
def test_bad_dim(fn):
    with pytest.raises(IndexError, match=r"range of \[-3, 2\]"):
        fn(nr.zeros(2, 3, 4))


def test_errors():
    with pytest.raises(TypeError, match="prod"):
        nr.prod(nr.ones(2, 3), (0, 1))
    with pytest.raises(NotImplementedError, match="not supported"):
        nr.norm(nr.ones(2, 3), "spectral")
    with pytest.raises(RuntimeError, match="var"):
        nr.var(nr.ones(3, dtype=nr.int64))


def test_median_with_nan_is_nan_as_torch():
    x = np.array([[np.nan, 1.0, 2.0, 3.0], [4.0, 1.0, 2.0, 3.0], [1.0, np.nan, 0.0, np.nan]])
    check(lambda m, x: m.median(x, dim=1), x, grad=False)
    check(lambda m, x: m.median(x), x, grad=False)


def test_norm_nuc_matches_torch():
    check(lambda m, x: m.norm(x, p="nuc"), randn(4, 3))
    check(lambda m, x: m.norm(x, p="nuc", dim=(1, 2)), randn(2, 3, 3))
