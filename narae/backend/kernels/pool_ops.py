"""2-D max and average pooling kernels (``pool.cu``) on NCHW arrays.

Geometry arguments are pairs: ``kernel`` (kh, kw), ``stride``, ``dilation`` and ``pad`` (top,
left); the output size ``out_hw`` (or, for a backward, the input size ``in_hw``) fixes the
rest, ceil_mode's extra bottom/right reach included. Max pooling's argmax is an int64 array
shaped like the output holding flat positions ``h * W + w`` in the input plane, which is
what torch's ``return_indices`` gives.
"""
from ..arrays import get_array_module
from . import launch_1d

__all__ = ["max_pool", "max_pool_backward", "max_pool_gather", "avg_pool", "avg_pool_backward"]


def _geometry(in_hw, out_hw, kernel, stride, pad, dilation):
    (H, W), (Ho, Wo), (kh, kw), (sh, sw), (pt, pl), (dh, dw) = \
        in_hw, out_hw, kernel, stride, pad, dilation
    return [H, W, kh, kw, sh, sw, pt, pl, dh, dw, Ho, Wo]


def _divisors(xp, inv, out_hw, dtype):
    """1/divisor per output position as the contiguous (Ho, Wo) array the kernels read."""
    inv = inv.astype(dtype, copy=False) if hasattr(inv, "astype") else xp.asarray(inv, dtype)
    inv = inv.reshape(()) if inv.size == 1 else inv.reshape(tuple(out_hw))
    return xp.ascontiguousarray(xp.broadcast_to(inv, tuple(out_hw)))


def max_pool(x, kernel, stride, pad, dilation, out_hw):
    """(maxima, argmax) of each window of the NCHW array ``x``; both (N, C, Ho, Wo).

    A window that reads padding alone (dilation can skip the input) gives -inf and index -1:
    no input element gets its gradient (torch's index there names an element outside it)."""
    xp = get_array_module(x)
    x = xp.ascontiguousarray(x)
    shape = x.shape[:2] + tuple(out_hw)
    y = xp.empty(shape, x.dtype)
    idx = xp.empty(shape, xp.int64)
    args = _geometry(x.shape[2:], out_hw, kernel, stride, pad, dilation)
    launch_1d("pool", "max_pool_fwd", x.dtype, y.size,
              [x, y, idx] + args + [float("-inf"), y.size])
    return y, idx


def max_pool_backward(gy, idx, in_hw, kernel, stride, pad, dilation):
    """The input gradient (N, C, *in_hw): each element sums gy over the windows it won."""
    xp = get_array_module(gy)
    gy = xp.ascontiguousarray(gy)
    gx = xp.empty(gy.shape[:2] + tuple(in_hw), gy.dtype)
    args = _geometry(in_hw, gy.shape[2:], kernel, stride, pad, dilation)
    launch_1d("pool", "max_pool_bwd", gy.dtype, gx.size,
              [gy, xp.ascontiguousarray(idx), gx] + args + [gx.size])
    return gx


def max_pool_gather(x, idx):
    """Each window's argmax element of ``x`` (N, C, H, W), shaped like ``idx``."""
    xp = get_array_module(x)
    x = xp.ascontiguousarray(x)
    idx = xp.ascontiguousarray(idx)
    y = xp.empty(idx.shape, x.dtype)
    in_plane, out_plane = x.shape[2] * x.shape[3], idx.shape[2] * idx.shape[3]
    launch_1d("pool", "max_pool_gather", x.dtype, y.size,
              [x, idx, y, in_plane, out_plane, y.size])
    return y


def avg_pool(x, inv, kernel, stride, pad, dilation, out_hw):
    """Window sums of the NCHW array ``x`` times ``inv`` (1/divisor, scalar or (Ho, Wo))."""
    xp = get_array_module(x)
    x = xp.ascontiguousarray(x)
    y = xp.empty(x.shape[:2] + tuple(out_hw), x.dtype)
    args = _geometry(x.shape[2:], out_hw, kernel, stride, pad, dilation)
    launch_1d("pool", "avg_pool_fwd", x.dtype, y.size,
              [x, _divisors(xp, inv, out_hw, x.dtype), y] + args + [y.size])
    return y


def avg_pool_backward(gy, inv, in_hw, kernel, stride, pad, dilation):
    """avg_pool's adjoint: each input element gathers gy * inv over the windows covering it."""
    xp = get_array_module(gy)
    gy = xp.ascontiguousarray(gy)
    gx = xp.empty(gy.shape[:2] + tuple(in_hw), gy.dtype)
    args = _geometry(in_hw, gy.shape[2:], kernel, stride, pad, dilation)
    launch_1d("pool", "avg_pool_bwd", gy.dtype, gx.size,
              [gy, _divisors(xp, inv, gy.shape[2:], gy.dtype), gx] + args + [gx.size])
    return gx
