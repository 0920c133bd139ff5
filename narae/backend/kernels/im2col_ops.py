"""im2col and col2im (``im2col.cu``): the column matrix of an NCHW batch and its adjoint.

Geometry arguments are pairs: ``kernel`` (kh, kw), ``stride``, ``dilation``, ``pad`` (top,
left) and ``out_hw`` (Ho, Wo). Bottom/right padding needs no argument: it is whatever the
output size implies (reads past the input are zeros).
"""
from ..arrays import get_array_module
from . import launch_1d

__all__ = ["im2col", "col2im"]


def _geometry(C, H, W, kernel, stride, pad, dilation, out_hw, ncols):
    (kh, kw), (sh, sw), (pt, pl), (dh, dw), (Ho, Wo) = kernel, stride, pad, dilation, out_hw
    return [C, H, W, kh, kw, sh, sw, pt, pl, dh, dw, Ho, Wo, ncols]


def im2col(x, kernel, stride, pad, dilation, out_hw):
    """(C*kh*kw, N*Ho*Wo) columns of the NCHW array ``x``: row (c, i, j), column (n, ho, wo)."""
    xp = get_array_module(x)
    x = xp.ascontiguousarray(x)
    N, C, H, W = x.shape
    ncols = N * out_hw[0] * out_hw[1]
    col = xp.empty((C * kernel[0] * kernel[1], ncols), x.dtype)
    args = _geometry(C, H, W, kernel, stride, pad, dilation, out_hw, ncols)
    launch_1d("im2col", "im2col", x.dtype, col.size, [x, col] + args + [col.size])
    return col


def col2im(col, in_shape, kernel, stride, pad, dilation, out_hw, out=None):
    """The NCHW array of ``in_shape`` whose pixels sum the column entries that read them.

    The adjoint of ``im2col``. ``col`` may be split by group, (g, C/g*kh*kw, N*Ho*Wo); the
    result is written into ``out`` (C-contiguous) when given.
    """
    xp = get_array_module(col)
    N, C, H, W = in_shape
    ncols = N * out_hw[0] * out_hw[1]
    if col.size != C * kernel[0] * kernel[1] * ncols:
        raise ValueError(f"col2im: columns of shape {col.shape} do not fit input {in_shape}, "
                         f"kernel {kernel} and output size {out_hw}")
    col = xp.ascontiguousarray(col)
    if out is None:
        out = xp.empty(tuple(in_shape), col.dtype)
    args = _geometry(C, H, W, kernel, stride, pad, dilation, out_hw, ncols)
    launch_1d("im2col", "col2im", col.dtype, out.size, [col, out] + args + [out.size])
    return out
