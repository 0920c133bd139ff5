"""Convolutions: conv1d/2d/3d, conv_transpose1d/2d/3d (torch.nn.functional's).

Arguments and results are NCHW with torch's weight layouts, but the work is done channels-last:
the input is viewed as NHWC, the sliding windows are a strided view over it, and the column
matrix copy then moves whole runs of ``kw * C`` contiguous values (an NCHW im2col gathers
single elements and costs more than the GEMM). Outputs are NCHW views of NHWC memory, so the
next conv/pool finds its input channels-last again without a copy.

Three array kernels do all the work, each the adjoint of another in one argument:
  _conv_fwd           y  = conv(x, w)                 im2col + GEMM
  _conv_bwd_input     gx = conv^T(gy, w)              GEMM + col2im (= conv_transpose)
  _conv_bwd_weight    gw = conv_w(x, gy)              im2col + GEMM (im2col recomputed, not kept)
On the CPU each walks the batch in blocks whose column matrix (~4 MiB) stays in cache between
the copy and the GEMM; a whole-batch column matrix is kh*kw times the input and slower.
Stride-1, undilated, ungrouped convs with many channels (the rule is ``_use_fft``) run the
same three kernels by FFT instead: whole planes are transformed, channels are mixed by one
complex matmul per frequency, and the padding becomes a phase (see "FFT path" below).
On the GPU (``kernels.use_kernels``) the three kernels are NCHW instead: an im2col kernel,
one cuBLAS GEMM per batch chunk, and a gather-form col2im kernel (see "Kernel path" below).
Three Functions wrap them (``_Conv``, ``_ConvTranspose``, ``_ConvWeight``) and their backward
passes are again these Functions, so gradients of any order work, on either path.
1-D convolutions are 2-D ones with a height of 1. 3-D convolutions take the channels-last
array path (written for any number of spatial dims) on every device: NDHWC windows, one GEMM
per batch block; the FFT and kernel paths are 2-D only. On the CPU an ungrouped conv with
deep enough columns builds them per plane of its first spatial dim instead (k0 times smaller,
see "im2col split along the first spatial dim") and computes a stride-1 input gradient as a
conv with the flipped kernel (no col2im).
"""
import itertools

from ..autograd import function as _function
from ..autograd.function import Function, ShapeError
from ..backend import get_array_module, kernels
from ..backend.kernels import im2col_ops
from . import _bf16
from .shape import reshape, sum_to

__all__ = ["conv1d", "conv2d", "conv3d", "conv_transpose1d", "conv_transpose2d",
           "conv_transpose3d"]


class _Geom:
    """A convolution's geometry seen from its input side (shared by all three kernels).

    N-d: one stride/dilation entry per spatial dim, ``pad`` the (before, after) pairs of the
    dims flattened, e.g. (top, bottom, left, right) in 2-D.
    """
    __slots__ = ("stride", "pad", "dilation", "groups")

    def __init__(self, stride, pad, dilation, groups):
        self.stride = stride        # (sh, sw) / (sd, sh, sw)
        self.pad = pad              # (top, bottom, left, right) / (front, back, top, ...)
        self.dilation = dilation    # (dh, dw) / (dd, dh, dw)
        self.groups = groups

    def out_size(self, sizes, ksize):
        p = self.pad
        return tuple((n + p[2 * i] + p[2 * i + 1] - d * (k - 1) - 1) // s + 1 for i, (n, k, s, d)
                     in enumerate(zip(sizes, ksize, self.stride, self.dilation)))

    def padded_size(self, sizes):
        p = self.pad
        return tuple(n + p[2 * i] + p[2 * i + 1] for i, n in enumerate(sizes))

    def crop(self, sizes):
        """The index of the unpadded region in a padded channels-last array."""
        p = self.pad
        return (slice(None),) + tuple(slice(p[2 * i], p[2 * i] + n) for i, n in enumerate(sizes))


def _prod(t):
    n = 1
    for v in t:
        n *= v
    return n


def _channels_last(a):
    """(N, C, *S) -> (N, *S, C) view."""
    return a.transpose(0, *range(2, a.ndim), 1)


def _from_channels_last(a):
    """(N, *S, C) -> (N, C, *S) view."""
    return a.transpose(0, a.ndim - 1, *range(1, a.ndim - 1))


# --- array kernels ---------------------------------------------------------------------
# Written for any number of spatial dims: 1-D convs run as 2-D ones, 3-D convs take these
# (on the GPU too: there is no 3-D kernel path), 2-D ones take them unless the kernel or FFT
# path does.
_BLOCK_BYTES = 1 << 22  # column blocks of ~4 MiB stay in cache between the copy and the GEMM
_DEVICE_BLOCK_BYTES = 1 << 28  # on a GPU: big GEMMs, but a bounded column buffer


def _batch_blocks(xp, N, bytes_per_image):
    """Slices of the batch, each small enough for its column block to stay in cache.

    Processing the batch block by block also avoids allocating (and page-faulting) a column
    matrix of prod(k) times the input's size. On a GPU the blocks are as large as the memory
    cap allows (a 3-D conv's whole-batch column matrix could take gigabytes).
    """
    cap = _BLOCK_BYTES if xp.__name__ == "numpy" else _DEVICE_BLOCK_BYTES
    n = max(1, cap // max(1, bytes_per_image))
    if n >= N:
        return [slice(0, N)]
    return [slice(i, min(i + n, N)) for i in range(0, N, n)]


def _is_plain_1x1(ksize, geom, in_size, out_size):
    return (all(k == 1 for k in ksize) and all(s == 1 for s in geom.stride)
            and not any(geom.pad) and tuple(in_size) == tuple(out_size))


def _padded_nhwc(xp, x, geom):
    """Channels-first ``x`` as a zero-padded channels-last array (a view when unpadded)."""
    xn = _channels_last(x)
    if any(geom.pad):
        sizes = x.shape[2:]
        xpad = xp.zeros((x.shape[0],) + geom.padded_size(sizes) + (x.shape[1],), x.dtype)
        xpad[geom.crop(sizes)] = xn
        return xpad
    if x.shape[1] > 1 and xn.strides[-1] != xn.itemsize:
        return xp.ascontiguousarray(xn)  # one transpose copy beats gathering single floats
    return xn


def _im2col(xp, xpad, ksize, out, geom):
    """(g, n*prod(out), prod(ksize)*Cg) column matrix of a padded channels-last block, copied
    from a window view.

    The copy moves runs of kw*Cg contiguous values (channels-last), not single elements.
    """
    N, C = xpad.shape[0], xpad.shape[-1]
    g = geom.groups
    if g == 1 and _is_plain_1x1(ksize, geom, xpad.shape[1:-1], out):
        return xpad.reshape(1, N * _prod(out), C)  # 1x1 conv: the input itself
    strides = xpad.strides
    sp, sC = strides[1:-1], strides[-1]
    Cg = C // g
    win = xp.lib.stride_tricks.as_strided(
        xpad, (g, N) + tuple(out) + tuple(ksize) + (Cg,),
        (Cg * sC, strides[0]) + tuple(a * s for a, s in zip(sp, geom.stride))
        + tuple(a * d for a, d in zip(sp, geom.dilation)) + (sC,))
    return win.reshape(g, N * _prod(out), _prod(ksize) * Cg)


def _wmat(w, g):
    """Weight (O, Cg, *k) as g matrices (prod(k)*Cg, O/g), rows in the column order."""
    O, Cg = w.shape[:2]
    nd = w.ndim - 2
    return w.reshape((g, O // g, Cg) + w.shape[2:]).transpose(0, *range(3, nd + 3), 2, 1) \
        .reshape(g, _prod(w.shape[2:]) * Cg, O // g)


def _conv_fwd(x, w, geom, out_size=None, b=None):
    """conv(x, w) (+ b) as a channels-last array (N, *out, O): im2col + GEMM per batch block
    (or by FFT, see _use_fft)."""
    xp = get_array_module(x)
    N, C = x.shape[:2]
    O, ksize = w.shape[0], w.shape[2:]
    g = geom.groups
    out = tuple(out_size) if out_size else geom.out_size(x.shape[2:], ksize)
    if x.ndim == 4:
        if _kernel_path(xp, x.dtype):
            return _kernel_conv_fwd(xp, x, w, geom, *out, b)
        if _use_fft(xp, C, O, *ksize, geom):
            return _fft_fwd(x, w, geom, *out, b)
    xpad = _padded_nhwc(xp, x, geom)
    if _use_depth_split(xp, x, geom, ksize):
        return _depth_split_fwd(xp, xpad, w, geom, out, b)
    wm = _wmat(w, g)
    y = xp.empty((N,) + out + (O,), x.dtype)
    for blk in _batch_blocks(xp, N, _prod(out) * _prod(ksize) * C * x.itemsize):
        col = _im2col(xp, xpad[blk], ksize, out, geom)
        if g == 1:
            xp.matmul(col[0], wm[0], out=y[blk].reshape(-1, O))
        else:  # (g, m, O/g) -> (m, g, O/g)
            y[blk] = xp.matmul(col, wm).transpose(1, 0, 2).reshape((-1,) + out + (O,))
    if b is not None:
        y += b
    return y


def _conv_bwd_input(gy, w, geom, size, keep=None):
    """conv^T(gy, w): the input gradient of conv (= conv_transpose), channels-last (N, *size, C).

    A batched GEMM gives each kernel offset's contribution as a contiguous (n, *out, C)
    block; col2im adds each into a strided slice of the padded result: prod(k) vectorised adds
    with long contiguous runs, never a loop over pixels.
    """
    xp = get_array_module(gy)
    N, O = gy.shape[:2]
    out, size = gy.shape[2:], tuple(size)
    Cg, ksize = w.shape[1], w.shape[2:]
    g, nd = geom.groups, len(ksize)
    if nd == 2:
        if _kernel_path(xp, gy.dtype):
            return _kernel_conv_bwd_input(xp, gy, w, geom, *size)
        if _use_fft(xp, Cg, O, *ksize, geom):
            return _fft_bwd_input(gy, w, geom, *size, keep)
    if _full_correlation_ok(geom, ksize) and _use_depth_split(xp, gy, geom, ksize):
        return _depth_split_bwd_input(xp, gy, w, geom, size)
    gyn = _channels_last(gy)
    K = _prod(ksize)
    wk = xp.ascontiguousarray(w.reshape(g, O // g, Cg, K).transpose(0, 3, 1, 2))
    if _is_plain_1x1(ksize, geom, size, out):
        cols = xp.matmul(gyn.reshape(-1, g, O // g).transpose(1, 0, 2), wk[:, 0])
        return cols.transpose(1, 0, 2).reshape((N,) + size + (g * Cg,))
    padded = geom.padded_size(size)
    res = xp.zeros((N,) + padded + (g, Cg), gy.dtype)
    ext = [s * (o - 1) + 1 for s, o in zip(geom.stride, out)]
    views = [(slice(None),) + tuple(slice(i * d, i * d + e, s) for i, d, e, s in
                                    zip(off, geom.dilation, ext, geom.stride))
             for off in itertools.product(*map(range, ksize))]
    for blk in _batch_blocks(xp, N, _prod(out) * K * g * Cg * gy.itemsize):
        gb = gyn[blk]
        n = gb.shape[0]
        cols = xp.matmul(gb.reshape(-1, g, O // g).transpose(1, 0, 2)[:, None], wk)
        ob = res[blk]  # cols: (g, K, n*prod(out), Cg)
        for k, at in enumerate(views):
            c = cols[:, k]
            c = c[0].reshape((n,) + out + (1, Cg)) if g == 1 else \
                c.reshape((g, n) + out + (Cg,)).transpose(1, *range(2, nd + 2), 0, nd + 2)
            view = ob[at]
            xp.add(view, c, out=view)  # not `+=`: that copies the slice back once more
    return res.reshape((N,) + padded + (g * Cg,))[geom.crop(size)]


def _conv_bwd_weight(x, gy, geom, ksize, cache=None):
    """conv_w(x, gy): the weight gradient (O, Cg, *k) = sum over blocks gy^T @ im2col(x)."""
    xp = get_array_module(x)
    N, O = gy.shape[:2]
    out, ksize = gy.shape[2:], tuple(ksize)
    C = x.shape[1]
    g, nd = geom.groups, len(ksize)
    Cg = C // g
    if nd == 2:
        if _kernel_path(xp, x.dtype):
            return _kernel_conv_bwd_weight(xp, x, gy, geom, *ksize)
        if _use_fft(xp, Cg, O, *ksize, geom):
            return _fft_bwd_weight(x, gy, geom, *ksize, cache)
    xpad = _padded_nhwc(xp, x, geom)
    gyn = _channels_last(gy)
    if _use_depth_split(xp, x, geom, ksize):
        return _depth_split_bwd_weight(xp, xpad, gyn, geom, ksize)
    gw = None
    for blk in _batch_blocks(xp, N, _prod(out) * _prod(ksize) * C * x.itemsize):
        col = _im2col(xp, xpad[blk], ksize, out, geom)
        gb = gyn[blk].reshape(-1, O)
        if g == 1:
            part = xp.matmul(gb.T, col[0])
        else:
            part = xp.matmul(gb.reshape(-1, g, O // g).transpose(1, 2, 0), col)
        if gw is None:
            gw = part
        else:
            gw += part
    if gw is None:  # an empty batch
        return xp.zeros((O, Cg) + ksize, x.dtype)
    return xp.ascontiguousarray(gw.reshape((O,) + ksize + (Cg,)).transpose(
        0, nd + 1, *range(1, nd + 1)))


# --- CPU: im2col split along the first spatial dim ------------------------------------------
# A full column matrix repeats every input value prod(kernel) times (9x for 3x3, 27x for 3^3),
# and copying it costs more than the GEMM. Instead the columns are built over the kernel's
# other dims and C only -- (kw, C) in 2-D, (kh, kw, C) in 3-D -- once for every padded plane
# of the first spatial dim: k0 times smaller. Kernel offset k along that dim then reads the
# planes k*d0, k*d0 + s0, ... of it (for s0 = 1 a contiguous block of rows), and the conv is
# the sum of k0 GEMMs (the weight gradient: k0 GEMMs into its k0 slices). Used when those
# GEMMs stay deep enough (prod(other kernel dims) * C >= _SPLIT_MIN_DEPTH): a 1-channel first
# layer keeps the full im2col. ``DEPTH_SPLIT`` = False turns it off (tests compare both).
DEPTH_SPLIT = True
_SPLIT_MIN_DEPTH = 32


def _use_depth_split(xp, x, geom, ksize):
    return (DEPTH_SPLIT and x.ndim in (4, 5) and geom.groups == 1 and ksize[0] > 1
            and xp.__name__ == "numpy" and _prod(ksize[1:]) * x.shape[1] >= _SPLIT_MIN_DEPTH)


def _full_correlation_ok(geom, ksize):
    """Stride 1, dilation 1 and no padding beyond k - 1: conv^T is a plain conv."""
    return (all(v == 1 for v in geom.stride) and all(v == 1 for v in geom.dilation)
            and all(p <= k - 1 for p, k in zip(geom.pad, [k for k in ksize for _ in (0, 1)])))


def _plane_cols(xp, xpad, ksize, out, geom, buf):
    """buf (n, P0, *out[1:], prod(ksize[1:])*C) <- the windows over the other spatial dims of
    every padded plane of the first one."""
    n, P0 = xpad.shape[:2]
    C = xpad.shape[-1]
    s = xpad.strides
    rest = range(2, xpad.ndim - 1)
    win = xp.lib.stride_tricks.as_strided(
        xpad, (n, P0) + tuple(out[1:]) + tuple(ksize[1:]) + (C,),
        (s[0], s[1]) + tuple(s[i] * geom.stride[i - 1] for i in rest)
        + tuple(s[i] * geom.dilation[i - 1] for i in rest) + (s[-1],))
    cols = buf[:n]
    cols.reshape(win.shape)[...] = win
    return cols


def _depth_rows(cols, i, k, geom, o0):
    """Image i's column rows for kernel offset k along the first dim: (o0*..., depth)."""
    s0, d0 = geom.stride[0], geom.dilation[0]
    v = cols[i, k * d0:k * d0 + s0 * (o0 - 1) + 1:s0]
    return v.reshape(-1, v.shape[-1])  # (a view for s0 = 1, else one copy)


def _depth_blocks(xp, xpad, ksize, out):
    N, P0, C = xpad.shape[0], xpad.shape[1], xpad.shape[-1]
    depth = _prod(ksize[1:]) * C
    per_image = P0 * _prod(out[1:]) * depth
    blocks = _batch_blocks(xp, N, per_image * xpad.itemsize)
    n = max(b.stop - b.start for b in blocks) if N else 0
    buf = xp.empty((n, P0) + tuple(out[1:]) + (depth,), xpad.dtype)
    return blocks, buf


def _depth_split_fwd(xp, xpad, w, geom, out, b=None):
    """conv(x, w) (+ b) as a channels-last (N, *out, O) array (groups = 1)."""
    N = xpad.shape[0]
    O, C = w.shape[:2]
    ksize = w.shape[2:]
    nd = len(ksize)
    wk = xp.ascontiguousarray(w.transpose(*range(2, nd + 2), 1, 0)).reshape(
        ksize[0], -1, O)
    y = xp.empty((N,) + tuple(out) + (O,), xpad.dtype)
    if y.size == 0:
        return y
    blocks, buf = _depth_blocks(xp, xpad, ksize, out)
    tmp = xp.empty((_prod(out), O), xpad.dtype)
    for blk in blocks:
        cols = _plane_cols(xp, xpad[blk], ksize, out, geom, buf)
        for i in range(blk.stop - blk.start):
            yi = y[blk.start + i].reshape(-1, O)
            xp.matmul(_depth_rows(cols, i, 0, geom, out[0]), wk[0], out=yi)
            for k in range(1, ksize[0]):
                xp.matmul(_depth_rows(cols, i, k, geom, out[0]), wk[k], out=tmp)
                yi += tmp
    if b is not None:
        y += b
    return y


def _depth_split_bwd_weight(xp, xpad, gyn, geom, ksize):
    """The weight gradient (O, C, *k) from the padded channels-last input and the
    channels-last output gradient (groups = 1)."""
    N, C = xpad.shape[0], xpad.shape[-1]
    O = gyn.shape[-1]
    out = gyn.shape[1:-1]
    nd = len(ksize)
    depth = _prod(ksize[1:]) * C
    gw = xp.zeros((ksize[0], O, depth), xpad.dtype)
    if N and _prod(out):
        blocks, buf = _depth_blocks(xp, xpad, ksize, out)
        tmp = xp.empty((O, depth), xpad.dtype)
        for blk in blocks:
            cols = _plane_cols(xp, xpad[blk], ksize, out, geom, buf)
            for i in range(blk.stop - blk.start):
                gi = gyn[blk.start + i].reshape(-1, O).T
                for k in range(ksize[0]):
                    xp.matmul(gi, _depth_rows(cols, i, k, geom, out[0]), out=tmp)
                    gw[k] += tmp
    gw = gw.reshape((ksize[0], O) + tuple(ksize[1:]) + (C,))
    return xp.ascontiguousarray(gw.transpose(1, nd + 1, 0, *range(2, nd + 1)))


def _depth_split_bwd_input(xp, gy, w, geom, size):
    """Stride 1, dilation 1: conv^T(gy, w) is the conv of gy, padded by k-1-p, with the
    flipped, transposed kernel -- a forward conv without col2im's scattered adds."""
    ksize = w.shape[2:]
    nd = len(ksize)
    back = _Geom((1,) * nd, tuple(k - 1 - p for k, p in zip(
        [k for k in ksize for _ in (0, 1)], geom.pad)), (1,) * nd, 1)
    wf = w[(slice(None), slice(None)) + (slice(None, None, -1),) * nd].swapaxes(0, 1)
    return _depth_split_fwd(xp, _padded_nhwc(xp, gy, back), wf, back, size)


# --- Kernel path (GPU, or the CPU emulator in tests) ----------------------------------------
# NCHW throughout. The column matrix is (C*kh*kw, n*Ho*Wo), rows in the order of the torch
# weight's flattened (Cg, kh, kw), so each group's rows are one contiguous block and
#     forward         y_g  = W_g (O/g, K) @ col_g (K, n*Ho*Wo)          im2col + GEMM
#     input grad      col_g = W_g^T @ gy_g, then col2im (gather)       GEMM + col2im
#     weight grad     gw_g = gy_g (O/g, n*Ho*Wo) @ col_g^T             im2col + GEMM
# with gy_g the output gradient channels-first, (O, n*Ho*Wo): one cheap transpose copy per
# chunk buys a single large GEMM instead of n small ones. Groups are a batched matmul.
# The batch is walked in chunks whose column matrix stays under _KERNEL_COL_BYTES: 64 MiB
# keeps each chunk's GEMM large (e.g. 64 x 800 x 20,000 for a 5x5 conv of 32 channels) while
# the column buffer stays small next to a batch's activations (peak memory vs cuDNN's).
_KERNEL_COL_BYTES = 1 << 26


def _kernel_path(xp, dtype):
    """Take the kernel path? Only for the float types the kernels are compiled for."""
    return dtype.char in "fd" and kernels.use_kernels(xp)


def _kernel_blocks(N, bytes_per_image):
    """Batch chunks whose column matrix stays under the memory cap."""
    n = max(1, _KERNEL_COL_BYTES // max(1, bytes_per_image))
    return [slice(i, min(i + n, N)) for i in range(0, N, n)]


def _kernel_geom(geom, kh, kw, Ho, Wo):
    """The geometry keywords of im2col_ops (bottom/right padding follows from Ho, Wo)."""
    return dict(kernel=(kh, kw), stride=geom.stride, pad=(geom.pad[0], geom.pad[2]),
                dilation=geom.dilation, out_hw=(Ho, Wo))


def _gemm(xp, a, b):
    """Batched a @ b over groups; a plain 2-D GEMM when there is one group."""
    if a.shape[0] == 1:
        return xp.matmul(a[0], b[0])[None]
    return xp.matmul(a, b)


def _channels_first(xp, a, g):
    """NCHW (n, O, Ho, Wo) -> contiguous (g, O/g, n*Ho*Wo): the GEMM operand of a gradient."""
    O = a.shape[1]
    return xp.ascontiguousarray(a.transpose(1, 0, 2, 3)).reshape(g, O // g, -1)


def _kernel_conv_fwd(xp, x, w, geom, Ho, Wo, b=None):
    """conv(x, w) (+ b): NCHW, returned as the (N, Ho, Wo, O) view the callers expect."""
    x = xp.ascontiguousarray(x)
    N, C = x.shape[:2]
    O, Cg, kh, kw = w.shape
    g = geom.groups
    wm = w.reshape(g, O // g, Cg * kh * kw)
    y = xp.empty((N, O, Ho, Wo), x.dtype)
    for blk in _kernel_blocks(N, C * kh * kw * Ho * Wo * x.itemsize):
        n = blk.stop - blk.start
        col = im2col_ops.im2col(x[blk], **_kernel_geom(geom, kh, kw, Ho, Wo))
        out = _gemm(xp, wm, col.reshape(g, -1, n * Ho * Wo))  # (g, O/g, n*Ho*Wo)
        out = out.reshape(O, n, Ho * Wo).transpose(1, 0, 2)
        dst = y[blk].reshape(n, O, Ho * Wo)
        if b is None:
            dst[...] = out
        else:
            xp.add(out, b[:, None], out=dst)
    return y.transpose(0, 2, 3, 1)


def _kernel_conv_bwd_input(xp, gy, w, geom, H, W):
    """conv^T(gy, w) (conv's input gradient, conv_transpose): NCHW as an (N, H, W, C) view."""
    N, O, Ho, Wo = gy.shape
    _, Cg, kh, kw = w.shape
    g = geom.groups
    wt = w.reshape(g, O // g, Cg * kh * kw).transpose(0, 2, 1)  # (g, K, O/g)
    gx = xp.empty((N, g * Cg, H, W), gy.dtype)
    for blk in _kernel_blocks(N, g * Cg * kh * kw * Ho * Wo * gy.itemsize):
        col = _gemm(xp, wt, _channels_first(xp, gy[blk], g))  # (g, K, n*Ho*Wo)
        im2col_ops.col2im(col, gx[blk].shape, out=gx[blk],
                          **_kernel_geom(geom, kh, kw, Ho, Wo))
    return gx.transpose(0, 2, 3, 1)


def _kernel_conv_bwd_weight(xp, x, gy, geom, kh, kw):
    """conv_w(x, gy): the weight gradient (O, Cg, kh, kw), summed over batch chunks."""
    x = xp.ascontiguousarray(x)
    N, C = x.shape[:2]
    _, O, Ho, Wo = gy.shape
    g = geom.groups
    gw = None
    for blk in _kernel_blocks(N, C * kh * kw * Ho * Wo * x.itemsize):
        n = blk.stop - blk.start
        col = im2col_ops.im2col(x[blk], **_kernel_geom(geom, kh, kw, Ho, Wo))
        col = col.reshape(g, -1, n * Ho * Wo).transpose(0, 2, 1)  # (g, n*Ho*Wo, K)
        part = _gemm(xp, _channels_first(xp, gy[blk], g), col)   # (g, O/g, K)
        if gw is None:
            gw = part
        else:
            gw += part
    if gw is None:  # an empty batch
        return xp.zeros((O, C // g, kh, kw), x.dtype)
    return gw.reshape(O, C // g, kh, kw)


# --- FFT path ---------------------------------------------------------------------------
# A stride-1, undilated, ungrouped conv with many channels is cheaper in the frequency domain:
# each (image, channel) plane is transformed once (rfft2 of the whole zero-extended plane),
# the channel mixing becomes one small complex matmul per frequency, (F, N, C) @ (F, C, O),
# and one inverse transform per output plane. For a 5x5 conv 32->64 on 14x14 that is ~8x
# fewer multiply-adds than the im2col GEMM, and no column matrix.
# The rule (``_use_fft``): NumPy arrays, stride 1, dilation 1, groups 1, and
#     kh*kw * C*O / (C + O) >= _FFT_MIN_WORK
# i.e. direct multiply-adds per transformed pixel high enough to pay for the transforms
# (conv2 above: 533; the 1->32 first layer: 24, stays im2col; a 3x3 64->64 on 16x16, 288,
# measured slower by FFT at batch 32, so the bar sits above it).
# ``FFT_MODE`` = "auto" (the rule), "always" (every eligible conv; tests use it) or "never".
FFT_MODE = "auto"
_FFT_MIN_WORK = 384
_FFT_BLOCK_BYTES = 1 << 20  # batch blocks whose spectra stay in cache (~1 MiB of them)


def _use_fft(xp, C, O, kh, kw, geom):
    if FFT_MODE == "never" or xp.__name__ != "numpy":
        return False
    if geom.groups != 1 or geom.stride != (1, 1) or geom.dilation != (1, 1) or kh * kw < 2:
        return False
    return FFT_MODE == "always" or kh * kw * C * O >= _FFT_MIN_WORK * (C + O)


def _fft_len(n, even=False):
    """The smallest 2-3-5-smooth length >= n (even if asked: rfft's fast case)."""
    while True:
        m = n
        for p in (2, 3, 5):
            while m % p == 0:
                m //= p
        if m == 1 and (n % 2 == 0 or not even):
            return n
        n += 1


class _FFTGeom:
    """Transform sizes and the kernel's DFT matrix for one conv geometry.

    Planes are zero-extended to P x Q at offset 0 and the padding becomes a phase: with
    P >= H + max(pt, pb) (and >= Ho, kh) the circular correlation equals the padded linear one
    on every output, so no padded copy of the input is ever made.
    ``E[f, (i, j)] = exp(2 pi i (u (i - pt) / P + v (j - pl) / Q))`` maps a kernel to its
    spectrum (K = sum_ij w_ij E) and, transposed, a spectrum back to kernel offsets (the
    weight gradient), so the kernel never goes through an FFT either.
    """

    def __init__(self, xp, H, W, kh, kw, geom, Ho, Wo, dtype):
        pt, pb, pl, pr = geom.pad
        self.P = P = _fft_len(max(H + max(pt, pb), Ho, kh))
        self.Q = Q = _fft_len(max(W + max(pl, pr), Wo, kw), even=True)
        self.Qf = Q // 2 + 1
        self.F = P * self.Qf
        u = xp.arange(P, dtype=xp.float64)[:, None, None, None]
        v = xp.arange(self.Qf, dtype=xp.float64)[None, :, None, None]
        i = xp.arange(kh, dtype=xp.float64)[None, None, :, None] - pt
        j = xp.arange(kw, dtype=xp.float64)[None, None, None, :] - pl
        ang = (2 * xp.pi) * (u * i / P + v * j / Q)
        self.Er = xp.cos(ang).reshape(self.F, kh * kw).astype(dtype)
        self.Ei = xp.sin(ang).reshape(self.F, kh * kw).astype(dtype)
        # the half spectrum stands for the whole: columns other than 0 and Q/2 count twice
        alpha = xp.full(self.Qf, 2.0)
        alpha[0] = alpha[-1] = 1.0
        self.alpha = xp.broadcast_to(alpha, (P, self.Qf)).reshape(self.F, 1).astype(dtype)

    def rfft(self, xp, buf):
        # norm="ortho" everywhere: NumPy 2.4 runs a float32 FFT with an integer scale factor
        # (norm="backward" forward, "forward" inverse) through a ~10x slower loop
        return xp.fft.rfft2(buf, norm="ortho")

    def irfft(self, xp, spec):
        return xp.fft.irfft2(spec, s=(self.P, self.Q), norm="ortho")

    def kernel_spectrum(self, xp, w, transposed=False):
        """(F, C, O) complex spectrum of w (O, C, kh, kw); (F, O, C) conjugated if transposed
        (the input gradient's kernel, the adjoint)."""
        O, C, kh, kw = w.shape
        wk = w.reshape(O * C, kh * kw).T  # (K, O*C)
        re = xp.matmul(self.Er, wk).reshape(self.F, O, C)
        im = xp.matmul(self.Ei, wk).reshape(self.F, O, C)
        if transposed:
            spec = xp.empty((self.F, O, C), xp.result_type(w.dtype, xp.complex64))
            spec.real, spec.imag = re, -im
        else:
            spec = xp.empty((self.F, C, O), xp.result_type(w.dtype, xp.complex64))
            spec.real, spec.imag = re.transpose(0, 2, 1), im.transpose(0, 2, 1)
        return spec

    def kernel_from_spectrum(self, xp, t, kh, kw):
        """w (O, C, kh, kw) with w_ij = Re sum_f alpha_f t[f] conj(E[f, ij]), t (F, O, C).

        With t = sum_n GY^T conj(X) this is the weight gradient (a correlation of x and gy).
        """
        F, O, C = t.shape
        tf = t.reshape(F, O * C).view(t.real.dtype)  # (F, O*C*2): re, im interleaved
        lhs = xp.concatenate([(self.alpha * self.Er).T, (self.alpha * self.Ei).T])  # (2K, F)
        r = xp.matmul(lhs, tf).reshape(2, kh * kw, O * C, 2)
        gw = r[0, :, :, 0] + r[1, :, :, 1]  # (K, O*C)
        return xp.ascontiguousarray(gw.T).reshape(O, C, kh, kw)

    def blocks(self, N, planes, itemsize):
        """Even batch slices whose spectra (``planes`` per image) fit in _FFT_BLOCK_BYTES:
        the transforms run much faster on cache-resident blocks."""
        per_image = planes * self.F * 2 * itemsize
        nblocks = -(-N // max(1, _FFT_BLOCK_BYTES // per_image))
        n = -(-N // nblocks)
        return [slice(i, min(i + n, N)) for i in range(0, N, n)]

    def spectra(self, xp, a, rows, cols, blocks):
        """(F, N, C) spectrum of the NCHW batch a (planes rows x cols), one block at a time."""
        N, C = a.shape[:2]
        out = xp.empty((self.F, N, C), xp.result_type(a.dtype, xp.complex64))
        buf = xp.zeros((blocks[0].stop, C, self.P, self.Q), a.dtype)  # margins stay zero
        for blk in blocks:
            n = blk.stop - blk.start
            buf[:n, :, :rows, :cols] = a[blk]
            out[:, blk] = self.rfft(xp, buf[:n]).reshape(n, C, self.F).transpose(2, 0, 1)
        return out

    def planes(self, xp, spec):
        """(F, n, C) spectrum -> (n, C, P, Q) planes."""
        _, n, C = spec.shape
        s = xp.ascontiguousarray(spec.reshape(self.P, self.Qf, n, C).transpose(2, 3, 0, 1))
        return self.irfft(xp, s)


def _fft_fwd(x, w, geom, Ho, Wo, b=None):
    """conv(x, w) (+ b) by FFT, channels-last (N, Ho, Wo, O). The bias is added to the DC bin.

    x's spectrum is not kept for the weight gradient: holding it from the forward to the
    backward pass made glibc return and re-fault ~30 MB of heap per training step (slower
    than recomputing it).
    """
    xp = get_array_module(x)
    N, C, H, W = x.shape
    O, _, kh, kw = w.shape
    fg = _FFTGeom(xp, H, W, kh, kw, geom, Ho, Wo, x.dtype)
    k = fg.kernel_spectrum(xp, w)
    blocks = fg.blocks(N, C + O, x.itemsize)
    ys = xp.matmul(fg.spectra(xp, x, H, W, blocks), k)  # (F, N, O): whole batch, big GEMMs
    if b is not None:
        ys[0] += b * (fg.P * fg.Q) ** 0.5
    y = xp.empty((N, Ho, Wo, O), x.dtype)
    for blk in blocks:
        y[blk] = fg.planes(xp, ys[:, blk])[:, :, :Ho, :Wo].transpose(0, 2, 3, 1)
    return y


def _fft_bwd_input(gy, w, geom, H, W, keep=None):
    """conv^T(gy, w) by FFT: the same transforms with the conjugate (adjoint) kernel.

    gy's spectrum goes into ``keep["g"]`` (a dict) for the weight gradient.
    """
    xp = get_array_module(gy)
    N, O, Ho, Wo = gy.shape
    _, C, kh, kw = w.shape
    fg = _FFTGeom(xp, H, W, kh, kw, geom, Ho, Wo, gy.dtype)
    k = fg.kernel_spectrum(xp, w, transposed=True)
    blocks = fg.blocks(N, C + O, gy.itemsize)
    gs = fg.spectra(xp, gy, Ho, Wo, blocks)
    if keep is not None:
        keep["g"] = gs
    xs = xp.matmul(gs, k)  # (F, N, C)
    gx = xp.empty((N, H, W, C), gy.dtype)
    for blk in blocks:
        gx[blk] = fg.planes(xp, xs[:, blk])[:, :, :H, :W].transpose(0, 2, 3, 1)
    return gx


def _fft_bwd_weight(x, gy, geom, kh, kw, cache=None):
    """conv_w(x, gy) by FFT: per frequency gy^T conj(x) summed over the batch (one batched
    matmul), then back to kernel offsets. gy's spectrum is taken from ``cache`` when the input
    gradient of the same conv left it there."""
    xp = get_array_module(x)
    N, C, H, W = x.shape
    _, O, Ho, Wo = gy.shape
    fg = _FFTGeom(xp, H, W, kh, kw, geom, Ho, Wo, x.dtype)
    blocks = fg.blocks(N, C + O, x.itemsize)
    xs = fg.spectra(xp, x, H, W, blocks)
    gs = (cache or {}).get("g")
    if gs is None:
        gs = fg.spectra(xp, gy, Ho, Wo, blocks)
    t = xp.matmul(gs.transpose(0, 2, 1), xp.conj(xs))  # (F, O, C)
    return fg.kernel_from_spectrum(xp, t, kh, kw)


# --- Functions ---------------------------------------------------------------------------
def _bias_grad(gy):
    return reshape(sum_to(gy, (gy.shape[1],) + (1,) * (gy.ndim - 2)), (gy.shape[1],))


class _Conv(Function):
    """y = conv(x, w) (+ b)."""

    def __init__(self, geom, out_hw=None):
        self.geom, self.out_hw = geom, out_hw

    def forward(self, x, w, b=None):
        (x, w, b), low = _bf16.widen(x, w, b)  # bfloat16: float32 arithmetic, rounded once
        return _bf16.narrow(_from_channels_last(_conv_fwd(x, w, self.geom, self.out_hw, b)),
                            low)

    def backward(self, gy):
        x, w = self.inputs[0], self.inputs[1]
        geom = self.geom
        # the FFT path's input gradient leaves gy's spectrum here for the weight gradient
        cache = {} if w.requires_grad else None
        gx = _ConvTranspose(geom, x.shape[2:], cache)(gy, w) if x.requires_grad else None
        gw = _ConvWeight(geom, w.shape[2:], cache)(x, gy) if w.requires_grad else None
        if len(self.inputs) == 3:
            return gx, gw, (_bias_grad(gy) if self.inputs[2].requires_grad else None)
        return gx, gw


class _ConvTranspose(Function):
    """z = conv^T(g, w) (+ b) of spatial size ``size``: conv's input gradient, conv_transpose."""

    def __init__(self, geom, size, keep=None):
        self.geom, self.size, self.keep = geom, tuple(size), keep

    def forward(self, g, w, b=None):
        (g, w, b), low = _bf16.widen(g, w, b)
        z = _conv_bwd_input(g, w, self.geom, self.size, self.keep)
        self.keep = None
        if b is not None:
            z += b
        return _bf16.narrow(_from_channels_last(z), low)

    def backward(self, gz):
        g, w = self.inputs[0], self.inputs[1]
        geom = self.geom
        gg = _Conv(geom, g.shape[2:])(gz, w) if g.requires_grad else None
        gw = _ConvWeight(geom, w.shape[2:])(gz, g) if w.requires_grad else None
        if len(self.inputs) == 3:
            return gg, gw, (_bias_grad(gz) if self.inputs[2].requires_grad else None)
        return gg, gw


class _ConvWeight(Function):
    """gw = conv_w(x, gy): conv's weight gradient, bilinear in x and gy."""

    def __init__(self, geom, ksize, cache=None):
        self.geom, self.ksize, self.cache = geom, tuple(ksize), cache

    def forward(self, x, gy):
        (x, gy), low = _bf16.widen(x, gy)
        gw = _conv_bwd_weight(x, gy, self.geom, self.ksize, self.cache)
        self.cache = None
        return _bf16.narrow(gw, low)

    def backward(self, ggw):
        x, gy = self.inputs
        geom = self.geom
        gx = _ConvTranspose(geom, x.shape[2:])(gy, ggw) if x.requires_grad else None
        ggy = _Conv(geom, gy.shape[2:])(x, ggw) if gy.requires_grad else None
        return gx, ggy


# --- argument handling ---------------------------------------------------------------------
def _tuple(v, n, name, what):
    if isinstance(v, int):
        return (v,) * n
    v = tuple(int(a) for a in v)
    if len(v) == 1:
        return v * n
    if len(v) != n:
        raise ValueError(f"{name}: expected {what} to be a single integer or a tuple of {n} "
                         f"integers, got {v}")
    return v


def _check_common(name, nd, input, weight, bias):
    if input.ndim not in (nd + 1, nd + 2):
        raise ShapeError(f"{name}: expected a {nd + 1}-D (unbatched) or {nd + 2}-D (batched) "
                         f"input, but got input of shape {tuple(input.shape)}")
    if weight.ndim != nd + 2:
        raise ShapeError(f"{name}: expected a {nd + 2}-D weight, but got weight of shape "
                         f"{tuple(weight.shape)}")
    if input._data.dtype != weight._data.dtype and _function._autocast_hook is None:  # autocast
        raise RuntimeError(f"{name}: input ({input.dtype}) and weight ({weight.dtype}) must have "
                           "the same dtype")


def _to_2d(nd, x, w):
    """Views of a 1-D problem as a 2-D one (height 1); batch the unbatched input."""
    unbatched = x.ndim == nd + 1
    if unbatched:
        x = reshape(x, (1,) + tuple(x.shape))
    if nd == 1:
        x = reshape(x, x.shape[:2] + (1, x.shape[2]))
        w = reshape(w, w.shape[:2] + (1, w.shape[2]))
    return x, w, unbatched


def _from_2d(nd, y, unbatched):
    if nd == 1:
        y = reshape(y, y.shape[:2] + (y.shape[3],))
    if unbatched:
        y = reshape(y, y.shape[1:])
    return y


def _convnd(name, nd, input, weight, bias, stride, padding, dilation, groups):
    _check_common(name, nd, input, weight, bias)
    if input._data.dtype.kind == "c":  # complex: three real convolutions (complex_conv.py)
        from .complex_conv import complex_conv
        return complex_conv(lambda x, w, b: _convnd(name, nd, x, w, b, stride, padding,
                                                     dilation, groups), input, weight, bias)
    stride = _tuple(stride, nd, name, "stride")
    dilation = _tuple(dilation, nd, name, "dilation")
    ksize = tuple(weight.shape[2:])
    shapes = f"input of shape {tuple(input.shape)}, weight of shape {tuple(weight.shape)}"
    if min(stride) <= 0 or min(dilation) <= 0 or groups <= 0:
        raise ValueError(f"{name}: stride, dilation and groups must be positive, got "
                         f"stride={stride}, dilation={dilation}, groups={groups}")
    if isinstance(padding, str):
        if padding == "valid":
            pads = [(0, 0)] * nd
        elif padding == "same":
            if any(s != 1 for s in stride):
                raise ValueError(f"{name}: padding='same' is not supported for strided "
                                 f"convolutions (stride={stride})")
            pads = [((d * (k - 1)) // 2, d * (k - 1) - (d * (k - 1)) // 2)
                    for k, d in zip(ksize, dilation)]
        else:
            raise ValueError(f"{name}: invalid padding string {padding!r}, should be one of "
                             "'valid', 'same'")
    else:
        pads = [(p, p) for p in _tuple(padding, nd, name, "padding")]
        if min(min(p) for p in pads) < 0:
            raise ValueError(f"{name}: negative padding is not supported, got {padding}")
    C = input.shape[-nd - 1]
    O, Cg = weight.shape[0], weight.shape[1]
    if Cg * groups != C or O % groups:
        raise ShapeError(f"{name}: {shapes} and groups={groups}: expected input to have "
                         f"{Cg * groups} channels (weight.shape[1] * groups) and weight.shape[0] "
                         f"divisible by groups, but got {C} channels")
    for n, k, d, (a, b) in zip(input.shape[-nd:], ksize, dilation, pads):
        if n + a + b < d * (k - 1) + 1:
            raise ShapeError(f"{name}: {shapes}: the padded input size {n + a + b} is smaller "
                             f"than the (dilated) kernel size {d * (k - 1) + 1}")
    if bias is not None and tuple(bias.shape) != (O,):
        raise ShapeError(f"{name}: bias of shape {tuple(bias.shape)} does not match weight of "
                         f"shape {tuple(weight.shape)} (expected ({O},))")
    x, w, unbatched = _to_2d(nd, input, weight)
    if nd == 1:
        geom = _Geom((1, stride[0]), (0, 0) + pads[0], (1, dilation[0]), groups)
    else:
        geom = _Geom(stride, sum(pads, ()), dilation, groups)
    fn = _Conv(geom)
    y = fn(x, w) if bias is None else fn(x, w, bias)
    return _from_2d(nd, y, unbatched)


def _conv_transposend(name, nd, input, weight, bias, stride, padding, output_padding, groups,
                      dilation):
    _check_common(name, nd, input, weight, bias)
    if input._data.dtype.kind == "c":  # complex: three real convolutions (complex_conv.py)
        from .complex_conv import complex_conv
        return complex_conv(lambda x, w, b: _conv_transposend(
            name, nd, x, w, b, stride, padding, output_padding, groups, dilation),
            input, weight, bias)
    if isinstance(padding, str):
        raise ValueError(f"{name}: padding must be an int or a tuple, got {padding!r}")
    stride = _tuple(stride, nd, name, "stride")
    dilation = _tuple(dilation, nd, name, "dilation")
    padding = _tuple(padding, nd, name, "padding")
    output_padding = _tuple(output_padding, nd, name, "output_padding")
    ksize = tuple(weight.shape[2:])
    shapes = f"input of shape {tuple(input.shape)}, weight of shape {tuple(weight.shape)}"
    if min(stride) <= 0 or min(dilation) <= 0 or groups <= 0 or min(padding) < 0:
        raise ValueError(f"{name}: stride, dilation and groups must be positive and padding "
                         f"non-negative, got stride={stride}, dilation={dilation}, "
                         f"groups={groups}, padding={padding}")
    for op, s, d in zip(output_padding, stride, dilation):
        if op < 0 or op >= max(s, d):
            raise ShapeError(f"{name}: output padding must be smaller than either stride or "
                             f"dilation, but got output_padding={output_padding}, "
                             f"stride={stride}, dilation={dilation} ({shapes})")
    C = input.shape[-nd - 1]
    Cin, Cog = weight.shape[0], weight.shape[1]
    if C != Cin or Cin % groups:
        raise ShapeError(f"{name}: {shapes} and groups={groups}: expected input to have "
                         f"{Cin} channels (weight.shape[0], divisible by groups), but got {C} "
                         "channels")
    if bias is not None and tuple(bias.shape) != (Cog * groups,):
        raise ShapeError(f"{name}: bias of shape {tuple(bias.shape)} does not match weight of "
                         f"shape {tuple(weight.shape)} (expected ({Cog * groups},))")
    size = [(n - 1) * s - 2 * p + d * (k - 1) + op + 1 for n, s, p, d, k, op in
            zip(input.shape[-nd:], stride, padding, dilation, ksize, output_padding)]
    if min(size) <= 0:
        raise ShapeError(f"{name}: {shapes}: the computed output size {tuple(size)} is too "
                         "small (padding too large)")
    x, w, unbatched = _to_2d(nd, input, weight)
    if nd == 1:
        geom = _Geom((1, stride[0]), (0, 0, padding[0], padding[0]), (1, dilation[0]), groups)
        size = [1] + size
    else:
        geom = _Geom(stride, sum(((p, p) for p in padding), ()), dilation, groups)
    fn = _ConvTranspose(geom, size)
    y = fn(x, w) if bias is None else fn(x, w, bias)
    return _from_2d(nd, y, unbatched)


def conv1d(input, weight, bias=None, stride=1, padding=0, dilation=1, groups=1):
    """1-D convolution (cross-correlation) of (N, C, L) with a (O, C/groups, k) weight."""
    return _convnd("conv1d", 1, input, weight, bias, stride, padding, dilation, groups)


def conv2d(input, weight, bias=None, stride=1, padding=0, dilation=1, groups=1):
    """2-D convolution (cross-correlation) of (N, C, H, W) with a (O, C/groups, kh, kw) weight."""
    return _convnd("conv2d", 2, input, weight, bias, stride, padding, dilation, groups)


def conv3d(input, weight, bias=None, stride=1, padding=0, dilation=1, groups=1):
    """3-D convolution (cross-correlation) of (N, C, D, H, W) with a (O, C/groups, kd, kh, kw)
    weight."""
    return _convnd("conv3d", 3, input, weight, bias, stride, padding, dilation, groups)


def conv_transpose1d(input, weight, bias=None, stride=1, padding=0, output_padding=0, groups=1,
                     dilation=1):
    """Transposed 1-D convolution (the gradient of conv1d); weight (C, O/groups, k)."""
    return _conv_transposend("conv_transpose1d", 1, input, weight, bias, stride, padding,
                             output_padding, groups, dilation)


def conv_transpose2d(input, weight, bias=None, stride=1, padding=0, output_padding=0, groups=1,
                     dilation=1):
    """Transposed 2-D convolution (the gradient of conv2d); weight (C, O/groups, kh, kw)."""
    return _conv_transposend("conv_transpose2d", 2, input, weight, bias, stride, padding,
                             output_padding, groups, dilation)


def conv_transpose3d(input, weight, bias=None, stride=1, padding=0, output_padding=0, groups=1,
                     dilation=1):
    """Transposed 3-D convolution (the gradient of conv3d); weight (C, O/groups, kd, kh, kw)."""
    return _conv_transposend("conv_transpose3d", 3, input, weight, bias, stride, padding,
                             output_padding, groups, dilation)
