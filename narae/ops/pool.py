"""Pooling: max/avg/lp pools (1-D, 2-D, 3-D), adaptive pools, max_unpool and fractional max
pooling (torch.nn.functional's).

Like the convolutions, pools work on a channels-last view of the input (NHWC, NDHWC). A
window op is a loop over the prod(kernel) kernel offsets, each reading one strided slice of
the (padded) input: the work is prod(kernel) vectorised passes over the output, never a loop
over pixels. When the window tiles the input (kernel == stride) the slices are exactly a
reshape of it.

Adaptive and fractional max pools have windows of varying position (and size): a table of
flat input indices, (outputs, taps), is gathered and reduced with one argmax; the result is
a gather of the input at the winners (``_PlaneGather``), whose adjoint is a scatter-add.

Max pooling keeps, per output, the offset of its first maximum (torch's tie rule: the first
in scan order wins). Its backward writes the gradient back through that offset, and that
scatter is a Function whose backward is the matching gather (and the other way round), so
double backward works. Average pooling is linear: its backward is its adjoint and vice versa.
1-D pools are 2-D ones with a height of 1; 3-D pools take the array path on every device.

On the GPU (``kernels.use_kernels``) 2-D max and average pooling run as NCHW kernels inside the
same Functions (``pool_ops``): one thread per output forward, one per input element backward,
gathering from the windows that cover it. Max pooling's argmax is then kept as torch's flat
index, and the Functions built from it stay on the kernels whatever the mode later.
"""
import itertools
import math
from functools import reduce

import numpy as np

from ..autograd.function import Function, ShapeError
from ..backend import get_array_module, kernels
from ..backend.constants import cached_constant, scalar
from ..backend.kernels import pool_ops
from .shape import reshape
from .resize import _Resample

__all__ = ["max_pool1d", "max_pool2d", "max_pool3d", "max_pool1d_with_indices",
           "max_pool2d_with_indices", "max_pool3d_with_indices", "avg_pool1d", "avg_pool2d",
           "avg_pool3d", "adaptive_avg_pool1d", "adaptive_avg_pool2d", "adaptive_avg_pool3d",
           "adaptive_max_pool1d", "adaptive_max_pool2d", "adaptive_max_pool3d",
           "adaptive_max_pool1d_with_indices", "adaptive_max_pool2d_with_indices",
           "adaptive_max_pool3d_with_indices", "max_unpool1d", "max_unpool2d", "max_unpool3d",
           "lp_pool1d", "lp_pool2d", "lp_pool3d", "fractional_max_pool2d",
           "fractional_max_pool3d", "fractional_max_pool2d_with_indices",
           "fractional_max_pool3d_with_indices"]


class _PoolGeom:
    """Where each kernel offset reads: sizes, padding (including ceil_mode's extra) and slices.

    Any number of spatial dims (``in_hw``/``out_hw`` are the spatial sizes); ``pad`` holds the
    (before, after) pairs of the dims flattened, (top, bottom, left, right) in 2-D.
    """

    def __init__(self, in_hw, out_hw, kernel, stride, pad, dilation):
        self.in_hw, self.out_hw = tuple(in_hw), tuple(out_hw)
        self.kernel, self.stride, self.dilation = kernel, stride, dilation
        self.pad = ()
        for n, o, s, d, k, p in zip(in_hw, out_hw, stride, dilation, kernel, pad):
            self.pad += (p, max(0, (o - 1) * s + d * (k - 1) + 1 - n - p))
        # no two offsets reach the same input element: the backward can assign, not add
        self.disjoint = all(s >= d * (k - 1) + 1 for s, d, k in zip(stride, dilation, kernel))

    def slices(self):
        """Indices into the padded channels-last input, one per offset in scan order."""
        per_dim = [[slice(i * d, i * d + s * (o - 1) + 1, s) for i in range(k)]
                   for k, s, d, o in zip(self.kernel, self.stride, self.dilation, self.out_hw)]
        return [(slice(None),) + sl for sl in itertools.product(*per_dim)]

    def padded_size(self):
        p = self.pad
        return tuple(n + p[2 * i] + p[2 * i + 1] for i, n in enumerate(self.in_hw))

    def padded(self, xp, x, value):
        """Channels-first array -> channels-last (N, *padded, C), padded with ``value``."""
        xn = x.transpose(0, *range(2, x.ndim), 1)
        if not any(self.pad):
            if xn.shape[-1] > 1 and xn.strides[-1] != xn.itemsize:
                return xp.ascontiguousarray(xn)
            return xn
        out = xp.full((xn.shape[0],) + self.padded_size() + (xn.shape[-1],), value, x.dtype)
        out[self._inner()] = xn
        return out

    def zeros(self, xp, N, C, dtype):
        """A zero padded channels-last (N, *padded, C) array to scatter gradients into."""
        return xp.zeros((N,) + self.padded_size() + (C,), dtype)

    def _inner(self):
        return (slice(None),) + tuple(slice(self.pad[2 * i], self.pad[2 * i] + n)
                                      for i, n in enumerate(self.in_hw))

    def kernel_args(self):
        """The geometry keywords of pool_ops (ceil_mode's extra reach follows from sizes)."""
        return dict(kernel=self.kernel, stride=self.stride, pad=(self.pad[0], self.pad[2]),
                    dilation=self.dilation)

    def crop(self, xpad):
        """Padded channels-last -> the input region, as a channels-first view."""
        a = xpad[self._inner()]
        return a.transpose(0, a.ndim - 1, *range(1, a.ndim - 1))


def _kernel_path(xp, x):
    """Take the kernel path? 2-D pools, and only the float types the kernels are compiled for."""
    return x.ndim == 4 and x.dtype.char in "fd" and kernels.use_kernels(xp)


def _channels_first(a):
    return a.transpose(0, a.ndim - 1, *range(1, a.ndim - 1))


# --- max pooling -------------------------------------------------------------------------
class _MaxPool(Function):
    uses_inputs = False
    flat = False  # is self.idx torch's flat argmax (kernel path) or a window offset (NHWC)?

    def __init__(self, geom):
        self.geom = geom

    def forward(self, x):
        xp = get_array_module(x)
        if _kernel_path(xp, x):
            g = self.geom
            y, self.idx = pool_ops.max_pool(x, out_hw=g.out_hw, **g.kernel_args())
            self.flat = True
            return y
        xpad = self.geom.padded(xp, x, -xp.inf)
        slices = self.geom.slices()
        best = xpad[slices[0]].copy()
        idx = xp.zeros(best.shape, xp.uint8 if len(slices) < 256 else xp.int32)
        for k, at in enumerate(slices[1:], 1):
            v = xpad[at]
            # strict '>': the first maximum wins. k grows, so max(idx, k * better) records the
            # last improvement without a data-dependent branch (masked writes mispredict)
            xp.maximum(idx, (v > best) * idx.dtype.type(k), out=idx)
            xp.maximum(best, v, out=best)  # NaN propagates, as in torch
        self.idx = idx
        return _channels_first(best)

    def indices(self):
        """torch's indices: the flat position (h * W + w in 2-D) of each maximum in its plane."""
        if self.flat:
            return self.idx.copy()
        xp = get_array_module(self.idx)
        g = self.geom
        nd = len(g.kernel)
        k = self.idx.astype(xp.int64)
        flat, inner = 0, 1
        for i in reversed(range(nd)):  # offset k = sum_i k_i * prod(kernel[i+1:])
            ki = (k // inner) % g.kernel[i] if i else k // inner
            inner *= g.kernel[i]
            pos = xp.arange(g.out_hw[i], dtype=xp.int64).reshape((-1,) + (1,) * (nd - i)) * \
                g.stride[i] - g.pad[2 * i] + ki * g.dilation[i]
            flat = flat + pos * math.prod(g.in_hw[i + 1:])
        return _channels_first(flat)

    def backward(self, gy):
        return _MaxPoolScatter(self.geom, self.idx, self.flat)(gy)


class _MaxPoolScatter(Function):
    """Max pool's backward: each output's gradient goes to its argmax input."""
    uses_inputs = False

    def __init__(self, geom, idx, flat=False):
        self.geom, self.idx, self.flat = geom, idx, flat

    def forward(self, gy):
        g = self.geom
        if self.flat:
            return pool_ops.max_pool_backward(gy, self.idx, g.in_hw, **g.kernel_args())
        xp = get_array_module(gy)
        gyn = gy.transpose(0, *range(2, gy.ndim), 1)
        gx = g.zeros(xp, gyn.shape[0], gyn.shape[-1], gy.dtype)
        for k, at in enumerate(g.slices()):
            if g.disjoint:
                xp.multiply(gyn, self.idx == k, out=gx[at])
            else:
                gx[at] += gyn * (self.idx == k)
        return g.crop(gx)

    def backward(self, ggx):
        return _MaxPoolGather(self.geom, self.idx, self.flat)(ggx)


class _MaxPoolGather(Function):
    """Read each output's argmax input (the adjoint of _MaxPoolScatter)."""
    uses_inputs = False

    def __init__(self, geom, idx, flat=False):
        self.geom, self.idx, self.flat = geom, idx, flat

    def forward(self, x):
        if self.flat:
            return pool_ops.max_pool_gather(x, self.idx)
        xp = get_array_module(x)
        xpad = self.geom.padded(xp, x, 0)
        out = xp.zeros(self.idx.shape, x.dtype)
        for k, at in enumerate(self.geom.slices()):
            xp.copyto(out, xpad[at], where=self.idx == k)
        return _channels_first(out)

    def backward(self, gy):
        return _MaxPoolScatter(self.geom, self.idx, self.flat)(gy)


# --- average pooling -----------------------------------------------------------------------
class _AvgPool(Function):
    """Sum of the window's slices times 1/divisor (a per-output-position array)."""
    uses_inputs = False

    def __init__(self, geom, inv_div):
        self.geom, self.inv_div = geom, inv_div

    def forward(self, x):
        xp = get_array_module(x)
        g = self.geom
        if _kernel_path(xp, x):
            return pool_ops.avg_pool(x, self.inv_div, out_hw=g.out_hw, **g.kernel_args())
        xpad = self.geom.padded(xp, x, 0)
        acc = None
        for at in self.geom.slices():
            if acc is None:
                acc = xpad[at].copy()
            else:
                acc += xpad[at]
        acc *= self.inv_div
        return _channels_first(acc)

    def backward(self, gy):
        return _AvgPoolT(self.geom, self.inv_div)(gy)


class _AvgPoolT(Function):
    """Average pooling's adjoint (its backward): spread gy / divisor over each window."""
    uses_inputs = False

    def __init__(self, geom, inv_div):
        self.geom, self.inv_div = geom, inv_div

    def forward(self, gy):
        xp = get_array_module(gy)
        g = self.geom
        if _kernel_path(xp, gy):
            return pool_ops.avg_pool_backward(gy, self.inv_div, g.in_hw, **g.kernel_args())
        gs = gy.transpose(0, *range(2, gy.ndim), 1) * self.inv_div
        gx = g.zeros(xp, gs.shape[0], gs.shape[-1], gy.dtype)
        for at in g.slices():
            if g.disjoint:
                gx[at] = gs
            else:
                gx[at] += gs
        return g.crop(gx)

    def backward(self, ggx):
        return _AvgPool(self.geom, self.inv_div)(ggx)


def _avg_divisors(n, out, k, s, p, include_pad):
    """torch's per-position divisor along one axis (windows clipped to the padded input)."""
    divs = []
    for o in range(out):
        start = o * s - p
        end = min(start + k, n + p)
        size = end - start
        start, end = max(start, 0), min(end, n)
        divs.append(size if include_pad else end - start)
    return divs


# --- flat-index gather / scatter (adaptive max pool, max_unpool) ----------------------------
def _flat_plane_index(xp, idx, plane_hw):
    """idx (N, C, *out) of positions within each (n, c) plane -> positions in the whole
    (N, C, *plane_hw) array."""
    N, C = idx.shape[:2]
    base = xp.arange(0, N * C * math.prod(plane_hw), math.prod(plane_hw), dtype=xp.int64)
    return idx + base.reshape((N, C) + (1,) * (idx.ndim - 2))


class _PlaneGather(Function):
    """out[n, c, l] = x[n, c].flat[idx[n, c, l]]."""
    uses_inputs = False

    def __init__(self, idx, kind=None):
        # kind ("adaptive_max", "fractional_max", "scatter_grad") is for graph readers (ONNX)
        self.idx, self.kind = idx, kind  # idx: (N, C, *out) int64

    def forward(self, x):
        xp = get_array_module(x)
        self.in_shape = x.shape
        return xp.take(x.reshape(-1), _flat_plane_index(xp, self.idx, x.shape[2:]))

    def backward(self, gy):
        return _PlaneScatter(self.idx, self.in_shape[2:])(gy)


class _PlaneScatter(Function):
    """out[n, c].flat[idx[n, c, l]] += g[n, c, l]: the adjoint of _PlaneGather.

    ``assign=True`` (max_unpool) writes instead, so of repeated indices the last one wins as
    in torch; the gradient is the same gather either way.
    """
    uses_inputs = False

    def __init__(self, idx, out_hw, assign=False):
        self.idx, self.out_hw, self.assign = idx, tuple(out_hw), assign

    def forward(self, g):
        xp = get_array_module(g)
        N, C = g.shape[:2]
        out = xp.zeros(N * C * math.prod(self.out_hw), g.dtype)
        flat = _flat_plane_index(xp, self.idx, self.out_hw).reshape(-1)
        if self.assign:
            out[flat] = g.reshape(-1)
        else:  # (1-D add.at: NumPy's fast case, ~10x the multi-index one)
            xp.add.at(out, flat, g.reshape(-1))
        return out.reshape((N, C) + self.out_hw)

    def backward(self, gg):
        return _PlaneGather(self.idx, "scatter_grad")(gg)


# --- argument handling ---------------------------------------------------------------------
def _pair(v, n, name, what):
    if isinstance(v, int):
        return (v,) * n
    v = tuple(int(a) for a in v)
    if len(v) == 1:
        return v * n
    if len(v) != n:
        raise ValueError(f"{name}: {what} must be a single int or a tuple of {n} ints, got {v}")
    return v


def _batched(name, nd, input):
    """The input as a 4-D NCHW tensor (1-D pools get a height of 1; unbatched gets N=1)."""
    if input.ndim not in (nd + 1, nd + 2):
        raise ShapeError(f"{name}: expected a {nd + 1}-D (unbatched) or {nd + 2}-D (batched) "
                         f"input, but got input of shape {tuple(input.shape)}")
    x = input
    if x.ndim == nd + 1:
        x = reshape(x, (1,) + tuple(x.shape))
    if nd == 1:
        x = reshape(x, x.shape[:2] + (1, x.shape[2]))
    return x


def _restore(nd, input, y):
    """Reshape a 4-D result back to the input's rank."""
    spatial = (y.shape[3],) if nd == 1 else tuple(y.shape[2:])
    lead = tuple(input.shape[:-nd])
    return reshape(y, lead + spatial)


def _out_size(name, n, k, s, p, d, ceil_mode, shapes):
    eff = d * (k - 1) + 1
    out = (n + 2 * p - eff + (s - 1 if ceil_mode else 0)) // s + 1
    if ceil_mode and (out - 1) * s >= n + p:
        out -= 1  # the last window must start inside the input or its left padding
    if out < 1:
        raise ShapeError(f"{name}: {shapes}: the output size {out} is too small (input size {n}, "
                         f"kernel {k}, dilation {d}, padding {p})")
    return out


def _window_args(name, nd, input, kernel_size, stride, padding, dilation, ceil_mode, max_pool):
    kernel = _pair(kernel_size, nd, name, "kernel_size")
    stride = kernel if stride is None or stride == [] or stride == () else \
        _pair(stride, nd, name, "stride")
    padding = _pair(padding, nd, name, "padding")
    dilation = _pair(dilation, nd, name, "dilation")
    if min(kernel) <= 0 or min(stride) <= 0 or min(dilation) <= 0 or min(padding) < 0:
        raise ValueError(f"{name}: kernel_size, stride and dilation must be positive and padding "
                         f"non-negative, got kernel_size={kernel}, stride={stride}, "
                         f"dilation={dilation}, padding={padding}")
    shapes = f"input of shape {tuple(input.shape)}, kernel_size={kernel}"
    for k, p, d in zip(kernel, padding, dilation):
        if 2 * p > (d * (k - 1) + 1 if max_pool else k):
            raise ValueError(f"{name}: pad should be at most half of effective kernel size, but "
                             f"got padding={padding}, kernel_size={kernel} and "
                             f"dilation={dilation}")
    x = _batched(name, nd, input)
    if nd == 1:
        kernel, stride, padding, dilation = ((1,) + kernel, (1,) + stride, (0,) + padding,
                                             (1,) + dilation)
    out = tuple(_out_size(name, n, k, s, p, d, ceil_mode, shapes) for n, k, s, p, d in
                zip(x.shape[2:], kernel, stride, padding, dilation))
    return x, _PoolGeom(tuple(x.shape[2:]), out, kernel, stride, padding, dilation)


# --- the user-facing functions -----------------------------------------------------------
def _max_poolnd(name, nd, input, kernel_size, stride, padding, dilation, ceil_mode,
                return_indices):
    x, geom = _window_args(name, nd, input, kernel_size, stride, padding, dilation, ceil_mode,
                           True)
    fn = _MaxPool(geom)
    y = _restore(nd, input, fn(x))
    if not return_indices:
        return y
    from ..tensor import Tensor
    return y, _restore(nd, input, Tensor(fn.indices()))


def max_pool1d(input, kernel_size, stride=None, padding=0, dilation=1, ceil_mode=False,
               return_indices=False):
    return _max_poolnd("max_pool1d", 1, input, kernel_size, stride, padding, dilation, ceil_mode,
                       return_indices)


def max_pool2d(input, kernel_size, stride=None, padding=0, dilation=1, ceil_mode=False,
               return_indices=False):
    return _max_poolnd("max_pool2d", 2, input, kernel_size, stride, padding, dilation, ceil_mode,
                       return_indices)


def max_pool3d(input, kernel_size, stride=None, padding=0, dilation=1, ceil_mode=False,
               return_indices=False):
    return _max_poolnd("max_pool3d", 3, input, kernel_size, stride, padding, dilation, ceil_mode,
                       return_indices)


def max_pool1d_with_indices(input, kernel_size, stride=None, padding=0, dilation=1,
                            ceil_mode=False, return_indices=False):
    """max_pool1d's (output, indices), whatever ``return_indices`` says."""
    return _max_poolnd("max_pool1d_with_indices", 1, input, kernel_size, stride, padding,
                       dilation, ceil_mode, True)


def max_pool2d_with_indices(input, kernel_size, stride=None, padding=0, dilation=1,
                            ceil_mode=False, return_indices=False):
    """max_pool2d's (output, indices), whatever ``return_indices`` says."""
    return _max_poolnd("max_pool2d_with_indices", 2, input, kernel_size, stride, padding,
                       dilation, ceil_mode, True)


def max_pool3d_with_indices(input, kernel_size, stride=None, padding=0, dilation=1,
                            ceil_mode=False, return_indices=False):
    """max_pool3d's (output, indices), whatever ``return_indices`` says."""
    return _max_poolnd("max_pool3d_with_indices", 3, input, kernel_size, stride, padding,
                       dilation, ceil_mode, True)


def _avg_poolnd(name, nd, input, kernel_size, stride, padding, ceil_mode, count_include_pad,
                divisor_override):
    if input._data.dtype.kind in "iu":  # integer input: the mean truncated toward 0, as torch
        from .. import _dtype
        from .arith import trunc
        out = _avg_poolnd(name, nd, input.to(_dtype.float64), kernel_size, stride, padding,
                          ceil_mode, count_include_pad, divisor_override)
        return trunc(out).to(input.dtype)
    x, geom = _window_args(name, nd, input, kernel_size, stride, padding, 1, ceil_mode, False)
    xp = get_array_module(x._data)
    if divisor_override is not None:
        if divisor_override == 0:
            raise ValueError(f"{name}: divisor_override must be non-zero")
        inv = scalar(xp, 1.0 / divisor_override, x._data.dtype)
    else:
        divs = tuple(tuple(_avg_divisors(n, o, k, s, geom.pad[2 * i], count_include_pad))
                     for i, (n, o, k, s) in enumerate(zip(geom.in_hw, geom.out_hw, geom.kernel,
                                                          geom.stride)))
        # (*out, 1): broadcasts over the channels-last result
        inv = cached_constant(
            xp, ("avg_pool",) + divs + (np.dtype(x._data.dtype).str,),
            lambda: (1.0 / reduce(np.multiply.outer, [np.asarray(d, np.float64) for d in divs])
                     )[..., None].astype(x._data.dtype))
    return _restore(nd, input, _AvgPool(geom, inv)(x))


def avg_pool1d(input, kernel_size, stride=None, padding=0, ceil_mode=False,
               count_include_pad=True):
    return _avg_poolnd("avg_pool1d", 1, input, kernel_size, stride, padding, ceil_mode,
                       count_include_pad, None)


def avg_pool2d(input, kernel_size, stride=None, padding=0, ceil_mode=False,
               count_include_pad=True, divisor_override=None):
    return _avg_poolnd("avg_pool2d", 2, input, kernel_size, stride, padding, ceil_mode,
                       count_include_pad, divisor_override)


def avg_pool3d(input, kernel_size, stride=None, padding=0, ceil_mode=False,
               count_include_pad=True, divisor_override=None):
    return _avg_poolnd("avg_pool3d", 3, input, kernel_size, stride, padding, ceil_mode,
                       count_include_pad, divisor_override)


def _lp_poolnd(name, nd, input, norm_type, kernel_size, stride, ceil_mode):
    from .arith import sign, abs as abs_
    from .activation import relu
    kernel = _pair(kernel_size, nd, name, "kernel_size")
    out = _avg_poolnd(name, nd, input ** norm_type, kernel, stride, 0, ceil_mode, True, None)
    return (sign(out) * relu(abs_(out)) * math.prod(kernel)) ** (1.0 / norm_type)


def lp_pool1d(input, norm_type, kernel_size, stride=None, ceil_mode=False):
    """Power-average pooling: (sum over the window of x**p) ** (1/p)."""
    return _lp_poolnd("lp_pool1d", 1, input, norm_type, kernel_size, stride, ceil_mode)


def lp_pool2d(input, norm_type, kernel_size, stride=None, ceil_mode=False):
    """Power-average pooling: (sum over the window of x**p) ** (1/p)."""
    return _lp_poolnd("lp_pool2d", 2, input, norm_type, kernel_size, stride, ceil_mode)


def lp_pool3d(input, norm_type, kernel_size, stride=None, ceil_mode=False):
    """Power-average pooling: (sum over the window of x**p) ** (1/p)."""
    return _lp_poolnd("lp_pool3d", 3, input, norm_type, kernel_size, stride, ceil_mode)


def _adaptive_windows(n, out):
    """torch's adaptive windows along one axis: [floor(i*n/out), ceil((i+1)*n/out))."""
    return [((i * n) // out, -((-(i + 1) * n) // out)) for i in range(out)]


def _adaptive_size(name, nd, input, output_size):
    size = tuple(output_size) if isinstance(output_size, (tuple, list)) else \
        _pair(output_size, nd, name, "output_size")
    if len(size) == 1:
        size = size * nd
    if len(size) != nd:
        raise ValueError(f"{name}: output_size must have {nd} elements, got {output_size}")
    size = tuple(input.shape[-nd + i] if s is None else int(s) for i, s in enumerate(size))
    if min(size) < 0 or any(n == 0 for n in input.shape[-nd:]):
        raise ShapeError(f"{name}: input of shape {tuple(input.shape)} and output_size {size}: "
                         "sizes must be positive")
    return size


def _adaptive_resample_args(xp, n, out, dtype):
    """Gather indices and weights of the adaptive windows, made once per device and size."""
    def make():
        wins = _adaptive_windows(n, out)
        taps = max(e - s for s, e in wins)
        idx = [[min(s + t, e - 1) for t in range(taps)] for s, e in wins]
        wts = [[1.0 / (e - s) if s + t < e else 0.0 for t in range(taps)] for s, e in wins]
        return np.asarray(idx, dtype=np.int64), np.asarray(wts, dtype=dtype)
    return cached_constant(xp, ("adaptive_pool", n, out, np.dtype(dtype).str), make)


def _adaptive_avg_poolnd(name, nd, input, output_size):
    size = _adaptive_size(name, nd, input, output_size)
    if input.ndim not in (nd + 1, nd + 2):
        raise ShapeError(f"{name}: expected a {nd + 1}-D or {nd + 2}-D input, got input of shape "
                         f"{tuple(input.shape)}")
    xp = get_array_module(input._data)
    y = input
    for i, out in enumerate(size):  # averaging over a box = averaging along each axis in turn
        axis = input.ndim - nd + i
        n = input.shape[axis]
        if out == n:
            continue
        idx, wts = _adaptive_resample_args(xp, n, out, input._data.dtype)
        y = _Resample(axis, idx, wts, n)(y)
    return y


def adaptive_avg_pool1d(input, output_size):
    return _adaptive_avg_poolnd("adaptive_avg_pool1d", 1, input, output_size)


def adaptive_avg_pool2d(input, output_size):
    return _adaptive_avg_poolnd("adaptive_avg_pool2d", 2, input, output_size)


def adaptive_avg_pool3d(input, output_size):
    return _adaptive_avg_poolnd("adaptive_avg_pool3d", 3, input, output_size)


def _adaptive_max_table(xp, in_size, out_size):
    """(prod(out), T) flat plane indices of every adaptive window's taps, made once per device
    and size. Shorter windows repeat their last element: harmless to a max, and the first
    occurrences stay in scan order, so the first maximum is still torch's."""
    def make():
        nd = len(in_size)
        flat = np.zeros((), np.int64)
        for i, (n, o) in enumerate(zip(in_size, out_size)):
            wins = _adaptive_windows(n, o)
            taps = max(e - s for s, e in wins)
            t = np.asarray([[min(s + j, e - 1) for j in range(taps)] for s, e in wins], np.int64)
            shape = [1] * (2 * nd)  # axes: out_0 .. out_nd-1, tap_0 .. tap_nd-1
            shape[i], shape[nd + i] = o, taps
            flat = flat * n + t.reshape(shape)
        return flat.reshape(math.prod(out_size), -1)
    return cached_constant(xp, ("adaptive_max_pool", in_size, out_size), make)


def _first_max(xp, a, table, vals=None):
    """Per plane of ``a`` (N, C, L): the flat index of the first maximum over each row of
    ``table`` (N, C, O, T) or (O, T) of flat indices -> (N, C, O). ``vals``: the gathered
    values (N, C, O, T) when the caller has them without a gather."""
    N, C = a.shape[:2]
    O, T = table.shape[-2:]
    if vals is None and table.ndim == 2:
        vals = a[:, :, table]
    elif vals is None:
        vals = xp.take_along_axis(a, table.reshape(N, C, O * T), axis=2).reshape(N, C, O, T)
    local = vals.argmax(axis=3)  # the first maximum wins
    if table.ndim == 2:
        return table.reshape(-1)[xp.arange(O) * T + local]
    return xp.take_along_axis(table, local[..., None], axis=3)[..., 0]


def _adaptive_max_poolnd(name, nd, input, output_size, return_indices):
    size = _adaptive_size(name, nd, input, output_size)
    x = _batched(name, nd, input)
    if nd == 1:
        size = (1,) + size
    xp = get_array_module(x._data)
    a = x._data
    N, C = a.shape[:2]
    in_size = tuple(a.shape[2:])
    table = _adaptive_max_table(xp, in_size, size)
    vals = None
    if all(n % o == 0 for n, o in zip(in_size, size)):  # the windows tile: a view, no gather
        nd2 = len(size)
        v = a.reshape((N, C) + sum(((o, n // o) for n, o in zip(in_size, size)), ()))
        vals = v.transpose(0, 1, *range(2, 2 + 2 * nd2, 2), *range(3, 2 + 2 * nd2, 2)) \
            .reshape(N, C, table.shape[0], table.shape[1])
    idx = _first_max(xp, a.reshape(N, C, math.prod(in_size)), table, vals).reshape((N, C) + size)
    y = _restore(nd, input, _PlaneGather(idx, "adaptive_max")(x))
    if not return_indices:
        return y
    from ..tensor import Tensor
    return y, _restore(nd, input, Tensor(idx))


def adaptive_max_pool1d(input, output_size, return_indices=False):
    return _adaptive_max_poolnd("adaptive_max_pool1d", 1, input, output_size, return_indices)


def adaptive_max_pool2d(input, output_size, return_indices=False):
    return _adaptive_max_poolnd("adaptive_max_pool2d", 2, input, output_size, return_indices)


def adaptive_max_pool3d(input, output_size, return_indices=False):
    return _adaptive_max_poolnd("adaptive_max_pool3d", 3, input, output_size, return_indices)


def adaptive_max_pool1d_with_indices(input, output_size, return_indices=False):
    """adaptive_max_pool1d's (output, indices), whatever ``return_indices`` says."""
    return _adaptive_max_poolnd("adaptive_max_pool1d_with_indices", 1, input, output_size, True)


def adaptive_max_pool2d_with_indices(input, output_size, return_indices=False):
    """adaptive_max_pool2d's (output, indices), whatever ``return_indices`` says."""
    return _adaptive_max_poolnd("adaptive_max_pool2d_with_indices", 2, input, output_size, True)


def adaptive_max_pool3d_with_indices(input, output_size, return_indices=False):
    """adaptive_max_pool3d's (output, indices), whatever ``return_indices`` says."""
    return _adaptive_max_poolnd("adaptive_max_pool3d_with_indices", 3, input, output_size, True)


def _max_unpoolnd(name, nd, input, indices, kernel_size, stride, padding, output_size):
    kernel = _pair(kernel_size, nd, name, "kernel_size")
    stride = kernel if stride is None else _pair(stride, nd, name, "stride")
    padding = _pair(padding, nd, name, "padding")
    if tuple(indices.shape) != tuple(input.shape):
        raise ShapeError(f"{name}: indices of shape {tuple(indices.shape)} must match the input "
                         f"of shape {tuple(input.shape)}")
    if output_size is None:
        size = tuple((n - 1) * s - 2 * p + k for n, s, p, k in
                     zip(input.shape[-nd:], stride, padding, kernel))
    else:
        size = tuple(int(s) for s in output_size)[-nd:]
    x = _batched(name, nd, input)
    idx = indices._data.reshape(x.shape)
    if nd == 1:
        size = (1,) + size
    if idx.size and (int(idx.min()) < 0 or int(idx.max()) >= math.prod(size)):
        raise ShapeError(f"{name}: found an index outside the output of size {size[-nd:]} "
                         f"(input of shape {tuple(input.shape)})")
    y = _PlaneScatter(idx, size, assign=True)(x)
    return _restore(nd, input, y)


def max_unpool1d(input, indices, kernel_size, stride=None, padding=0, output_size=None):
    """Put each value back at its max_pool1d index; zeros elsewhere."""
    return _max_unpoolnd("max_unpool1d", 1, input, indices, kernel_size, stride, padding,
                         output_size)


def max_unpool2d(input, indices, kernel_size, stride=None, padding=0, output_size=None):
    """Put each value back at its max_pool2d index; zeros elsewhere."""
    return _max_unpoolnd("max_unpool2d", 2, input, indices, kernel_size, stride, padding,
                         output_size)


def max_unpool3d(input, indices, kernel_size, stride=None, padding=0, output_size=None):
    """Put each value back at its max_pool3d index; zeros elsewhere."""
    return _max_unpoolnd("max_unpool3d", 3, input, indices, kernel_size, stride, padding,
                         output_size)


# --- fractional max pooling ------------------------------------------------------------------
def _fractional_starts(xp, u, n, out, k, dtype):
    """Window starts (N, C, out) along one axis from the samples u (N, C) in [0, 1).

    With alpha = (n - k) / (out - 1), start_i = floor((i + u) * alpha) - floor(u * alpha) and
    the last window ends at the input's end; computed in the input's float type, as torch
    does, so the same samples give the same windows.
    """
    N, C = u.shape
    last = xp.full((N, C, 1), n - k, dtype=xp.int64)
    if out == 1:
        return last
    alpha = np.dtype(dtype).type(n - k) / np.dtype(dtype).type(out - 1)
    i = xp.arange(out - 1, dtype=dtype)
    seq = ((i + u[..., None]) * alpha).astype(xp.int64) - (u * alpha).astype(xp.int64)[..., None]
    return xp.concatenate([seq, last], axis=2)


def _fractional_max_poolnd(name, nd, input, kernel_size, output_size, output_ratio,
                           return_indices, _random_samples):
    if output_size is None and output_ratio is None:
        raise ValueError(f"{name} requires specifying either an output_size or an output_ratio")
    kernel = _pair(kernel_size, nd, name, "kernel_size")
    if input.ndim not in (nd + 1, nd + 2):
        raise ShapeError(f"{name}: expected a {nd + 1}-D (unbatched) or {nd + 2}-D (batched) "
                         f"input, but got input of shape {tuple(input.shape)}")
    in_size = tuple(input.shape[-nd:])
    if output_size is None:
        ratio = (float(output_ratio),) * nd if isinstance(output_ratio, (int, float)) else \
            tuple(float(r) for r in output_ratio)
        if len(ratio) == 1:
            ratio *= nd
        if len(ratio) != nd:
            raise ValueError(f"{name}: output_ratio must be a single number or a tuple of {nd} "
                             f"numbers, got {output_ratio}")
        out = tuple(int(n * r) for n, r in zip(in_size, ratio))
    else:
        out = _pair(output_size, nd, name, "output_size")
    if min(kernel) <= 0 or min(out) <= 0:
        raise ValueError(f"{name}: kernel_size and output size must be positive, got "
                         f"kernel_size={kernel}, output size {out}")
    for n, o, k in zip(in_size, out, kernel):
        if o + k - 1 > n or (nd == 3 and o + k - 1 == n):  # torch's 3-D check is strict
            raise ShapeError(f"{name}: input of shape {tuple(input.shape)}, kernel_size={kernel}, "
                             f"output size {out}: the pool is too large (output + kernel - 1 = "
                             f"{o + k - 1} {'>=' if nd == 3 else '>'} input size {n})")
    x = _batched(name, nd, input)
    N, C = x.shape[:2]
    xp = get_array_module(x._data)
    dtype = x._data.dtype
    if _random_samples is None:
        from ..creation import rand
        u = rand(N, C, nd, dtype=x.dtype, device=x.device)._data
    else:
        u = _random_samples._data
        if tuple(u.shape) != (N, C, nd):
            raise ShapeError(f"{name}: _random_samples of shape {tuple(u.shape)} must be "
                             f"({N}, {C}, {nd}) for input of shape {tuple(input.shape)}")
        u = u.astype(dtype, copy=False)
    # torch's sample order: (w, h) in 2-D, (t, h, w) in 3-D
    which = (1, 0) if nd == 2 else tuple(range(nd))
    flat = xp.zeros((N, C) + (1,) * (2 * nd), xp.int64)
    for i, (n, o, k) in enumerate(zip(in_size, out, kernel)):
        pos = _fractional_starts(xp, u[:, :, which[i]], n, o, k, dtype)[..., None] + \
            xp.arange(k, dtype=xp.int64)  # (N, C, o, k)
        shape = [N, C] + [1] * (2 * nd)  # axes: N, C, out_0 .. out_nd-1, tap_0 .. tap_nd-1
        shape[2 + i], shape[2 + nd + i] = o, k
        flat = flat * n + pos.reshape(shape)
    table = flat.reshape(N, C, math.prod(out), math.prod(kernel))
    idx = _first_max(xp, x._data.reshape(N, C, math.prod(in_size)), table).reshape(
        (N, C) + out)
    y = _restore(nd, input, _PlaneGather(idx, "fractional_max")(x))
    if not return_indices:
        return y
    from ..tensor import Tensor
    return y, _restore(nd, input, Tensor(idx))


def fractional_max_pool2d(input, kernel_size, output_size=None, output_ratio=None,
                          return_indices=False, _random_samples=None):
    """Max pooling over pseudo-random windows of ``kernel_size`` whose starts advance by a
    fractional stride, giving ``output_size`` (or ``output_ratio`` * input size) outputs.

    The windows of each (image, channel) plane come from ``_random_samples`` (N, C, 2) in
    [0, 1) (drawn when None); pass torch's to reproduce its windows."""
    return _fractional_max_poolnd("fractional_max_pool2d", 2, input, kernel_size, output_size,
                                  output_ratio, return_indices, _random_samples)


def fractional_max_pool3d(input, kernel_size, output_size=None, output_ratio=None,
                          return_indices=False, _random_samples=None):
    """fractional_max_pool2d over (N, C, D, H, W); ``_random_samples`` is (N, C, 3)."""
    return _fractional_max_poolnd("fractional_max_pool3d", 3, input, kernel_size, output_size,
                                  output_ratio, return_indices, _random_samples)


def fractional_max_pool2d_with_indices(input, kernel_size, output_size=None, output_ratio=None,
                                       return_indices=False, _random_samples=None):
    """fractional_max_pool2d's (output, indices), whatever ``return_indices`` says."""
    return _fractional_max_poolnd("fractional_max_pool2d_with_indices", 2, input, kernel_size,
                                  output_size, output_ratio, True, _random_samples)


def fractional_max_pool3d_with_indices(input, kernel_size, output_size=None, output_ratio=None,
                                       return_indices=False, _random_samples=None):
    """fractional_max_pool3d's (output, indices), whatever ``return_indices`` says."""
    return _fractional_max_poolnd("fractional_max_pool3d_with_indices", 3, input, kernel_size,
                                  output_size, output_ratio, True, _random_samples)
