"""Pooling: max/avg/lp pools, adaptive pools and max_unpool (torch.nn.functional's).

Like the convolutions, pools work on an NHWC view of the NCHW input. A window op is a loop
over the kh*kw kernel offsets, each reading one strided slice of the (padded) input: the
work is kh*kw vectorised passes over the output, never a loop over pixels. When the window
tiles the input (kernel == stride) the slices are exactly a reshape of it.

Max pooling keeps, per output, the offset of its first maximum (torch's tie rule: the first
in scan order wins). Its backward writes the gradient back through that offset, and that
scatter is a Function whose backward is the matching gather (and the other way round), so
double backward works. Average pooling is linear: its backward is its adjoint and vice versa.
1-D pools are 2-D ones with a height of 1.

On the GPU (``kernels.use_kernels``) max and average pooling run as NCHW kernels inside the
same Functions (``pool_ops``): one thread per output forward, one per input element backward,
gathering from the windows that cover it. Max pooling's argmax is then kept as torch's flat
index, and the Functions built from it stay on the kernels whatever the mode later.
"""
import math

import numpy as np

from ..autograd.function import Function, ShapeError
from ..backend import get_array_module, kernels
from ..backend.constants import cached_constant, scalar
from ..backend.kernels import pool_ops
from .shape import reshape
from .resize import _Resample

__all__ = ["max_pool1d", "max_pool2d", "avg_pool1d", "avg_pool2d", "adaptive_avg_pool1d",
           "adaptive_avg_pool2d", "adaptive_max_pool1d", "adaptive_max_pool2d", "max_unpool1d",
           "max_unpool2d", "lp_pool1d", "lp_pool2d"]


class _PoolGeom:
    """Where each kernel offset reads: sizes, padding (including ceil_mode's extra) and slices."""

    def __init__(self, in_hw, out_hw, kernel, stride, pad, dilation):
        self.in_hw, self.out_hw = in_hw, out_hw
        self.kernel, self.stride, self.dilation = kernel, stride, dilation
        H, W = in_hw
        need = [(o - 1) * s + d * (k - 1) + 1
                for o, s, d, k in zip(out_hw, stride, dilation, kernel)]
        self.pad = (pad[0], max(0, need[0] - H - pad[0]), pad[1], max(0, need[1] - W - pad[1]))
        # no two offsets reach the same input element: the backward can assign, not add
        self.disjoint = all(s >= d * (k - 1) + 1 for s, d, k in zip(stride, dilation, kernel))

    def slices(self):
        """(slice_h, slice_w) into the padded NHWC input, one per offset in scan order."""
        (kh, kw), (sh, sw), (dh, dw) = self.kernel, self.stride, self.dilation
        he, we = sh * (self.out_hw[0] - 1) + 1, sw * (self.out_hw[1] - 1) + 1
        return [(slice(i * dh, i * dh + he, sh), slice(j * dw, j * dw + we, sw))
                for i in range(kh) for j in range(kw)]

    def padded(self, xp, x, value):
        """NCHW array -> channels-last (N, Hp, Wp, C), padded with ``value`` where needed."""
        xn = x.transpose(0, 2, 3, 1)
        pt, pb, pl, pr = self.pad
        if not (pt or pb or pl or pr):
            if xn.shape[-1] > 1 and xn.strides[-1] != xn.itemsize:
                return xp.ascontiguousarray(xn)
            return xn
        N, H, W, C = xn.shape
        out = xp.full((N, H + pt + pb, W + pl + pr, C), value, x.dtype)
        out[:, pt:pt + H, pl:pl + W] = xn
        return out

    def kernel_args(self):
        """The geometry keywords of pool_ops (ceil_mode's extra reach follows from sizes)."""
        return dict(kernel=self.kernel, stride=self.stride, pad=(self.pad[0], self.pad[2]),
                    dilation=self.dilation)

    def crop(self, xpad):
        """Padded NHWC -> the input region, as an NCHW view."""
        (H, W), (pt, _, pl, _) = self.in_hw, self.pad
        return xpad[:, pt:pt + H, pl:pl + W].transpose(0, 3, 1, 2)


def _kernel_path(xp, dtype):
    """Take the kernel path? Only for the float types the kernels are compiled for."""
    return dtype.char in "fd" and kernels.use_kernels(xp)


# --- max pooling -------------------------------------------------------------------------
class _MaxPool(Function):
    uses_inputs = False
    flat = False  # is self.idx torch's flat argmax (kernel path) or a window offset (NHWC)?

    def __init__(self, geom):
        self.geom = geom

    def forward(self, x):
        xp = get_array_module(x)
        if _kernel_path(xp, x.dtype):
            g = self.geom
            y, self.idx = pool_ops.max_pool(x, out_hw=g.out_hw, **g.kernel_args())
            self.flat = True
            return y
        xpad = self.geom.padded(xp, x, -xp.inf)
        slices = self.geom.slices()
        best = xpad[:, slices[0][0], slices[0][1]].copy()
        idx = xp.zeros(best.shape, xp.uint8 if len(slices) < 256 else xp.int32)
        for k, (sh, sw) in enumerate(slices[1:], 1):
            v = xpad[:, sh, sw]
            # strict '>': the first maximum wins. k grows, so max(idx, k * better) records the
            # last improvement without a data-dependent branch (masked writes mispredict)
            xp.maximum(idx, (v > best) * idx.dtype.type(k), out=idx)
            xp.maximum(best, v, out=best)  # NaN propagates, as in torch
        self.idx = idx
        return best.transpose(0, 3, 1, 2)

    def indices(self):
        """torch's indices: the flat position h * W + w of each maximum in its input plane."""
        if self.flat:
            return self.idx.copy()
        xp = get_array_module(self.idx)
        g = self.geom
        (_, kw), (sh, sw), (dh, dw) = g.kernel, g.stride, g.dilation
        (Ho, Wo), W = g.out_hw, g.in_hw[1]
        k = self.idx.astype(xp.int64)
        h = xp.arange(Ho, dtype=xp.int64)[:, None, None] * sh - g.pad[0] + (k // kw) * dh
        w = xp.arange(Wo, dtype=xp.int64)[:, None] * sw - g.pad[2] + (k % kw) * dw
        return (h * W + w).transpose(0, 3, 1, 2)

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
        gyn = gy.transpose(0, 2, 3, 1)
        N, _, _, C = gyn.shape
        H, W = g.in_hw
        pt, pb, pl, pr = g.pad
        gx = xp.zeros((N, H + pt + pb, W + pl + pr, C), gy.dtype)
        for k, (sh, sw) in enumerate(g.slices()):
            if g.disjoint:
                xp.multiply(gyn, self.idx == k, out=gx[:, sh, sw])
            else:
                gx[:, sh, sw] += gyn * (self.idx == k)
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
        for k, (sh, sw) in enumerate(self.geom.slices()):
            xp.copyto(out, xpad[:, sh, sw], where=self.idx == k)
        return out.transpose(0, 3, 1, 2)

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
        if _kernel_path(xp, x.dtype):
            return pool_ops.avg_pool(x, self.inv_div, out_hw=g.out_hw, **g.kernel_args())
        xpad = self.geom.padded(xp, x, 0)
        acc = None
        for sh, sw in self.geom.slices():
            if acc is None:
                acc = xpad[:, sh, sw].copy()
            else:
                acc += xpad[:, sh, sw]
        acc *= self.inv_div
        return acc.transpose(0, 3, 1, 2)

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
        if _kernel_path(xp, gy.dtype):
            return pool_ops.avg_pool_backward(gy, self.inv_div, g.in_hw, **g.kernel_args())
        gs = gy.transpose(0, 2, 3, 1) * self.inv_div
        H, W = g.in_hw
        pt, pb, pl, pr = g.pad
        gx = xp.zeros((gs.shape[0], H + pt + pb, W + pl + pr, gs.shape[3]), gy.dtype)
        for sh, sw in g.slices():
            if g.disjoint:
                gx[:, sh, sw] = gs
            else:
                gx[:, sh, sw] += gs
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
class _PlaneGather(Function):
    """out[n, c, l] = x[n, c].flat[idx[n, c, l]]."""
    uses_inputs = False

    def __init__(self, idx):
        self.idx = idx  # (N, C, *out) int64

    def forward(self, x):
        xp = get_array_module(x)
        N, C = x.shape[:2]
        self.in_shape = x.shape
        flat = x.reshape(N, C, -1)
        return xp.take_along_axis(flat, self.idx.reshape(N, C, -1), axis=2).reshape(self.idx.shape)

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
        out = xp.zeros((N * C, math.prod(self.out_hw)), g.dtype)
        at = (xp.arange(N * C)[:, None], self.idx.reshape(N * C, -1))
        if self.assign:
            out[at] = g.reshape(N * C, -1)
        else:
            xp.add.at(out, at, g.reshape(N * C, -1))
        return out.reshape((N, C) + self.out_hw)

    def backward(self, gg):
        return _PlaneGather(self.idx)(gg)


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
    spatial = tuple(y.shape[2:]) if nd == 2 else (y.shape[3],)
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


def _avg_poolnd(name, nd, input, kernel_size, stride, padding, ceil_mode, count_include_pad,
                divisor_override):
    x, geom = _window_args(name, nd, input, kernel_size, stride, padding, 1, ceil_mode, False)
    xp = get_array_module(x._data)
    if divisor_override is not None:
        if divisor_override == 0:
            raise ValueError(f"{name}: divisor_override must be non-zero")
        inv = scalar(xp, 1.0 / divisor_override, x._data.dtype)
    else:
        (H, W), (Ho, Wo) = geom.in_hw, geom.out_hw
        (kh, kw), (sh, sw) = geom.kernel, geom.stride
        dh = _avg_divisors(H, Ho, kh, sh, geom.pad[0], count_include_pad)
        dw = _avg_divisors(W, Wo, kw, sw, geom.pad[2], count_include_pad)
        inv = cached_constant(
            xp, ("avg_pool", tuple(dh), tuple(dw), np.dtype(x._data.dtype).str),
            lambda: np.asarray([[[1.0 / (a * b)] for b in dw] for a in dh], x._data.dtype))
    return _restore(nd, input, _AvgPool(geom, inv)(x))


def avg_pool1d(input, kernel_size, stride=None, padding=0, ceil_mode=False,
               count_include_pad=True):
    return _avg_poolnd("avg_pool1d", 1, input, kernel_size, stride, padding, ceil_mode,
                       count_include_pad, None)


def avg_pool2d(input, kernel_size, stride=None, padding=0, ceil_mode=False,
               count_include_pad=True, divisor_override=None):
    return _avg_poolnd("avg_pool2d", 2, input, kernel_size, stride, padding, ceil_mode,
                       count_include_pad, divisor_override)


def _lp_poolnd(name, nd, input, norm_type, kernel_size, stride, ceil_mode):
    from .arith import sign, abs as abs_
    from .activation import relu
    kernel = _pair(kernel_size, nd, name, "kernel_size")
    pool = avg_pool1d if nd == 1 else avg_pool2d
    out = pool(input ** norm_type, kernel, stride, 0, ceil_mode)
    return (sign(out) * relu(abs_(out)) * math.prod(kernel)) ** (1.0 / norm_type)


def lp_pool1d(input, norm_type, kernel_size, stride=None, ceil_mode=False):
    """Power-average pooling: (sum over the window of x**p) ** (1/p)."""
    return _lp_poolnd("lp_pool1d", 1, input, norm_type, kernel_size, stride, ceil_mode)


def lp_pool2d(input, norm_type, kernel_size, stride=None, ceil_mode=False):
    """Power-average pooling: (sum over the window of x**p) ** (1/p)."""
    return _lp_poolnd("lp_pool2d", 2, input, norm_type, kernel_size, stride, ceil_mode)


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


def _adaptive_max_poolnd(name, nd, input, output_size, return_indices):
    size = _adaptive_size(name, nd, input, output_size)
    x = _batched(name, nd, input)
    if nd == 1:
        size = (1,) + size
    xp = get_array_module(x._data)
    a = x._data
    N, C, H, W = a.shape
    idx = xp.empty((N, C) + size, dtype=xp.int64)
    for i, (hs, he) in enumerate(_adaptive_windows(H, size[0])):
        for j, (ws, we) in enumerate(_adaptive_windows(W, size[1])):
            local = a[:, :, hs:he, ws:we].reshape(N, C, -1).argmax(axis=2)  # first max wins
            idx[:, :, i, j] = (hs + local // (we - ws)) * W + ws + local % (we - ws)
    y = _restore(nd, input, _PlaneGather(idx)(x))
    if not return_indices:
        return y
    from ..tensor import Tensor
    return y, _restore(nd, input, Tensor(idx))


def adaptive_max_pool1d(input, output_size, return_indices=False):
    return _adaptive_max_poolnd("adaptive_max_pool1d", 1, input, output_size, return_indices)


def adaptive_max_pool2d(input, output_size, return_indices=False):
    return _adaptive_max_poolnd("adaptive_max_pool2d", 2, input, output_size, return_indices)


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
