"""Resizing: interpolate (nearest, nearest-exact, linear, bilinear). (pixel_shuffle lives in spatial.py.)

Nearest and (bi)linear resizing are separable: each spatial axis is resampled in turn by
``_Resample``, which reads ``taps`` source rows per output row (``idx``) and mixes them with
``wts``. Its adjoint ``_ResampleT`` scatters the gradient back; each is the other's backward,
so every order of derivative works. Adaptive average pooling uses the same pair.
"""
import math

import numpy as np

from ..autograd.function import Function, ShapeError
from ..backend import get_array_module
from .embedding import scatter_add_rows

__all__ = ["interpolate", "upsample", "upsample_nearest", "upsample_bilinear"]


# On the CPU a float axis of up to _DENSE_MAX source rows is resampled by one GEMM with the
# dense (out x n) resampling matrix: 5-8x faster than gathering taps along an inner axis, and
# its transpose gives the adjoint without a scatter. A non-finite value would leak through the
# matrix's zeros (0 * inf = nan) into a whole line, so such arrays take the tap path.
_DENSE_MAX = 128


def _dense_matrix(xp, x, idx, wts, in_size):
    """The (out, n) resampling matrix when the GEMM path applies to ``x``, else None."""
    if xp is not np or x.dtype.char not in "fd" or in_size > _DENSE_MAX or x.size == 0 or \
            not np.isfinite(x).all():
        return None
    out, taps = idx.shape
    m = np.zeros((out, in_size), x.dtype)
    w = np.ones(idx.shape, x.dtype) if wts is None else wts.astype(x.dtype, copy=False)
    np.add.at(m, (np.arange(out)[:, None], idx), w)
    return m


def _along(xp, m, x, axis):
    """Contract ``x``'s ``axis`` (length n) with the columns of m (k, n): the axis becomes k."""
    k = m.shape[0]
    pre = math.prod(x.shape[:axis])
    post = math.prod(x.shape[axis + 1:])
    if post == 1:
        y = xp.matmul(x.reshape(pre, -1), m.T)
    else:
        y = xp.matmul(m, x.reshape(pre, -1, post))
    return y.reshape(x.shape[:axis] + (k,) + x.shape[axis + 1:])


class _Resample(Function):
    """y[.., o, ..] = sum_t wts[o, t] * x[.., idx[o, t], ..] along ``axis`` (wts None: 1 tap)."""
    uses_inputs = False

    def __init__(self, axis, idx, wts, in_size):
        self.axis, self.idx, self.wts, self.in_size = axis, idx, wts, in_size

    def forward(self, x):
        xp = get_array_module(x)
        m = _dense_matrix(xp, x, self.idx, self.wts, self.in_size)
        if m is not None:
            return _along(xp, m, x, self.axis)
        if self.wts is None:
            return xp.take(x, self.idx[:, 0], axis=self.axis)
        shape = [1] * x.ndim
        shape[self.axis] = -1
        y = None
        for t in range(self.idx.shape[1]):
            term = xp.take(x, self.idx[:, t], axis=self.axis)
            term *= self.wts[:, t].reshape(shape)
            if y is None:
                y = term
            else:
                y += term
        return y

    def backward(self, gy):
        return _ResampleT(self.axis, self.idx, self.wts, self.in_size)(gy)


class _ResampleT(Function):
    """The adjoint of _Resample: add each output row's gradient back to its source rows."""
    uses_inputs = False

    def __init__(self, axis, idx, wts, in_size):
        self.axis, self.idx, self.wts, self.in_size = axis, idx, wts, in_size

    def forward(self, g):
        xp = get_array_module(g)
        m = _dense_matrix(xp, g, self.idx, self.wts, self.in_size)
        if m is not None:
            return _along(xp, m.T, g, self.axis)
        # a scatter-add of whole rows with the axis in front
        gm = xp.moveaxis(g, self.axis, 0)
        rest = gm.shape[1:]
        out = scatter_add_rows(self.idx, gm.reshape(gm.shape[0], -1), self.in_size,
                               self.wts)
        return xp.moveaxis(out.reshape((self.in_size,) + rest), 0, self.axis)

    def backward(self, gg):
        return _Resample(self.axis, self.idx, self.wts, self.in_size)(gg)


# --- torch's source-index rules ----------------------------------------------------------
def _nearest(xp, n, out, scale, exact):
    """Source index per output index, in float32 arithmetic as torch's CPU kernel."""
    if out == n and not exact:
        return None
    s = xp.float32(1.0 / scale) if scale else xp.float32(n) / xp.float32(out)
    dst = xp.arange(out, dtype=xp.float32)
    if exact:
        dst += xp.float32(0.5)
    src = xp.minimum(xp.floor(dst * s).astype(xp.int64), n - 1)
    return src[:, None], None


def _linear(xp, n, out, scale, align_corners, dtype):
    """Two taps and their weights per output index (torch's area_pixel source index)."""
    if align_corners:
        s = (n - 1) / (out - 1) if out > 1 else 0.0
        src = xp.arange(out, dtype=dtype) * dtype.type(s)
    else:
        s = 1.0 / scale if scale else n / out
        src = (xp.arange(out, dtype=dtype) + dtype.type(0.5)) * dtype.type(s) - dtype.type(0.5)
        src = xp.maximum(src, 0)
    i0 = src.astype(xp.int64)
    i1 = xp.minimum(i0 + 1, n - 1)
    lam = xp.clip(src - i0.astype(dtype), 0, 1)
    return xp.stack([i0, i1], axis=1), xp.stack([1 - lam, lam], axis=1)


_MODES = {"nearest": (1, 2, 3), "nearest-exact": (1, 2, 3), "linear": (1,), "bilinear": (2,)}


def interpolate(input, size=None, scale_factor=None, mode="nearest", align_corners=None,
                recompute_scale_factor=None, antialias=False):
    """Resize the spatial dims of an (N, C, *spatial) tensor (torch.nn.functional.interpolate)."""
    nd = input.ndim - 2
    if mode not in _MODES:
        raise NotImplementedError(f"interpolate: mode {mode!r} is not supported (supported: "
                                  f"{', '.join(_MODES)})")
    if nd not in _MODES[mode]:
        raise ShapeError(f"interpolate: mode {mode!r} expects a {_MODES[mode][0] + 2}-D input, "
                         f"got input of shape {tuple(input.shape)}")
    if antialias:
        raise NotImplementedError("interpolate: antialias=True is not supported")
    linear = mode in ("linear", "bilinear")
    if align_corners is not None and not linear:
        raise ValueError("align_corners option can only be set with the interpolating modes: "
                         "linear | bilinear")
    if (size is None) == (scale_factor is None):
        raise ValueError("interpolate: exactly one of size or scale_factor should be defined")
    spatial = tuple(input.shape[2:])
    if size is not None:
        sizes = (int(size),) * nd if isinstance(size, int) else tuple(int(s) for s in size)
        if len(sizes) != nd:
            raise ValueError(f"interpolate: input of shape {tuple(input.shape)} needs a size "
                             f"with {nd} elements, got {size}")
        scales = (None,) * nd
    else:
        scales = (float(scale_factor),) * nd if isinstance(scale_factor, (int, float)) else \
            tuple(float(s) for s in scale_factor)
        if len(scales) != nd:
            raise ValueError(f"interpolate: input of shape {tuple(input.shape)} needs a "
                             f"scale_factor with {nd} elements, got {scale_factor}")
        sizes = tuple(math.floor(n * s) for n, s in zip(spatial, scales))
        if recompute_scale_factor:
            scales = (None,) * nd
    if min(sizes) <= 0:
        raise ShapeError(f"interpolate: input of shape {tuple(input.shape)}: output size "
                         f"{sizes} must be positive")
    xp = get_array_module(input._data)
    dtype = input._data.dtype
    y = input
    for i, (n, out, scale) in enumerate(zip(spatial, sizes, scales)):
        if linear:
            if out == n and scale is None:
                continue  # every rule maps an unchanged size to itself
            idx, wts = _linear(xp, n, out, scale, bool(align_corners), dtype)
        else:
            r = _nearest(xp, n, out, scale, mode == "nearest-exact")
            if r is None:
                continue
            idx, wts = r
        y = _Resample(2 + i, idx, wts, n)(y)
    return y


def upsample(input, size=None, scale_factor=None, mode="nearest", align_corners=None):
    return interpolate(input, size, scale_factor, mode, align_corners)


def upsample_nearest(input, size=None, scale_factor=None):
    return interpolate(input, size, scale_factor, mode="nearest")


def upsample_bilinear(input, size=None, scale_factor=None):
    return interpolate(input, size, scale_factor, mode="bilinear", align_corners=True)
