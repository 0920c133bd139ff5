"""Batch norm on the kernel path (``batchnorm.cu``).

Per-channel statistics and sums are the array module's reductions (CUB on CuPy: already
fast, where one thread per channel would not be); every pass over the elements is one fused
kernel, which the array code would split into several passes and temporaries.

Arrays are (N, C, *spatial); per-channel arrays are (C,).
"""
import numpy as np

from . import launch_1d, use_kernels
from ..arrays import get_array_module

__all__ = ["applies", "batch_stats", "forward", "backward_sums", "backward_train",
           "backward_eval"]

_FLOATS = (np.dtype(np.float32), np.dtype(np.float64))


def applies(xp, x, *arrays):
    """Take the kernel path? Only for float32/float64 data with every array of x's dtype (the
    array code would promote mixed dtypes; the kernels are compiled for one)."""
    dt = np.dtype(x.dtype)
    return (use_kernels(xp) and x.ndim >= 2 and dt in _FLOATS
            and all(np.dtype(a.dtype) == dt for a in arrays))


def _axes(ndim):
    return (0,) + tuple(range(2, ndim))


def _geometry(x):
    """(C, S): channels and the number of elements per (sample, channel) plane."""
    return x.shape[1], int(np.prod(x.shape[2:], dtype=np.int64))


def _vector(xp, p, dtype):
    """A per-channel parameter as a contiguous (C,) array (an empty stand-in when absent)."""
    if p is None:
        return xp.empty((1,), dtype)
    return xp.ascontiguousarray(p.reshape(-1))


def batch_stats(x, eps):
    """Per-channel mean, biased variance and 1 / sqrt(var + eps), each (C,)."""
    xp = get_array_module(x)
    ax = _axes(x.ndim)
    mean = x.mean(axis=ax)
    var = x.var(axis=ax)
    invstd = 1.0 / xp.sqrt(var + eps)
    return mean, var, invstd.astype(x.dtype, copy=False)


def forward(x, mean, invstd, weight=None, bias=None):
    """y = (x - mean) * invstd * weight + bias per channel, in one pass."""
    xp = get_array_module(x)
    x = xp.ascontiguousarray(x)
    C, S = _geometry(x)
    y = xp.empty(x.shape, x.dtype)
    args = [x, _vector(xp, mean, x.dtype), _vector(xp, invstd, x.dtype),
            _vector(xp, weight, x.dtype), _vector(xp, bias, x.dtype), y,
            weight is not None, bias is not None, C, S, x.size]
    launch_1d("batchnorm", "bn_forward", x.dtype, x.size, args)
    return y


def backward_sums(x, gy, mean, invstd):
    """Per channel: sum(gy) (the bias gradient) and sum(gy * xhat) (the weight gradient)."""
    ax = _axes(x.ndim)
    shape = (1, x.shape[1]) + (1,) * (x.ndim - 2)
    sum_gy = gy.sum(axis=ax)
    t = x - mean.reshape(shape)
    t *= gy
    return sum_gy, t.sum(axis=ax) * invstd.reshape(-1)


def backward_train(x, gy, mean, invstd, weight, sum_gy, sum_gy_xhat):
    """Input gradient through batch statistics:
    weight * invstd * (gy - mean(gy) - xhat * mean(gy * xhat)), in one pass."""
    xp = get_array_module(x)
    x, gy = xp.ascontiguousarray(x), xp.ascontiguousarray(gy)
    C, S = _geometry(x)
    gx = xp.empty(x.shape, x.dtype)
    dt = x.dtype
    args = [x, gy, _vector(xp, mean, dt), _vector(xp, invstd, dt), _vector(xp, weight, dt),
            _vector(xp, sum_gy, dt), _vector(xp, sum_gy_xhat, dt), gx, weight is not None,
            1.0 / max(x.size // max(C, 1), 1), C, S, x.size]
    launch_1d("batchnorm", "bn_backward_train", dt, x.size, args)
    return gx


def backward_eval(gy, invstd, weight):
    """Input gradient with fixed statistics: gy * weight * invstd, in one pass."""
    xp = get_array_module(gy)
    gy = xp.ascontiguousarray(gy)
    C, S = _geometry(gy)
    gx = xp.empty(gy.shape, gy.dtype)
    dt = gy.dtype
    args = [gy, _vector(xp, invstd, dt), _vector(xp, weight, dt), gx, weight is not None,
            C, S, gy.size]
    launch_1d("batchnorm", "bn_backward_eval", dt, gy.size, args)
    return gx
