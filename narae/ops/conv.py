"""Convolutions: conv1d, conv2d, conv_transpose1d, conv_transpose2d (torch.nn.functional's).

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
1-D convolutions are 2-D ones with a height of 1.
"""
from ..autograd import function as _function
from ..autograd.function import Function, ShapeError
from ..backend import get_array_module, kernels
from ..backend.kernels import im2col_ops
from . import _bf16
from .shape import reshape, sum_to

__all__ = ["conv1d", "conv2d", "conv_transpose1d", "conv_transpose2d"]


class _Geom:
    """A 2-D convolution's geometry seen from its input side (shared by all three kernels)."""
    __slots__ = ("stride", "pad", "dilation", "groups")

    def __init__(self, stride, pad, dilation, groups):
        self.stride = stride        # (sh, sw)
        self.pad = pad              # (top, bottom, left, right)
        self.dilation = dilation    # (dh, dw)
        self.groups = groups

    def out_size(self, H, W, kh, kw):
        (sh, sw), (pt, pb, pl, pr), (dh, dw) = self.stride, self.pad, self.dilation
        return ((H + pt + pb - dh * (kh - 1) - 1) // sh + 1,
                (W + pl + pr - dw * (kw - 1) - 1) // sw + 1)


# --- array kernels ---------------------------------------------------------------------
_BLOCK_BYTES = 1 << 22  # column blocks of ~4 MiB stay in cache between the copy and the GEMM


def _batch_blocks(xp, N, bytes_per_image):
    """Slices of the batch, each small enough for its column block to stay in cache.

    Processing the batch block by block also avoids allocating (and page-faulting) a column
    matrix of kh*kw times the input's size. On a GPU one block is best.
    """
    if xp.__name__ != "numpy":
        return [slice(0, N)]
    n = max(1, _BLOCK_BYTES // max(1, bytes_per_image))
    return [slice(i, min(i + n, N)) for i in range(0, N, n)]


def _is_plain_1x1(kh, kw, geom, in_hw, out_hw):
    (sh, sw), pad = geom.stride, geom.pad
    return kh == kw == 1 and sh == sw == 1 and not any(pad) and tuple(in_hw) == tuple(out_hw)


def _padded_nhwc(xp, x, geom):
    """NCHW ``x`` as a zero-padded channels-last array (a view when there is no padding)."""
    N, C, H, W = x.shape
    pt, pb, pl, pr = geom.pad
    xn = x.transpose(0, 2, 3, 1)
    if pt or pb or pl or pr:
        xpad = xp.zeros((N, H + pt + pb, W + pl + pr, C), x.dtype)
        xpad[:, pt:pt + H, pl:pl + W] = xn
        return xpad
    if C > 1 and xn.strides[-1] != xn.itemsize:
        return xp.ascontiguousarray(xn)  # one transpose copy beats gathering single floats
    return xn


def _im2col(xp, xpad, kh, kw, Ho, Wo, geom):
    """(g, n*Ho*Wo, kh*kw*Cg) column matrix of a padded NHWC block, copied from a window view.

    The copy moves runs of kw*Cg contiguous values (channels-last), not single elements.
    """
    N, Hp, Wp, C = xpad.shape
    g = geom.groups
    if _is_plain_1x1(kh, kw, geom, (Hp, Wp), (Ho, Wo)) and g == 1:
        return xpad.reshape(1, N * Ho * Wo, C)  # 1x1 conv: the input itself
    (sh, sw), (dh, dw) = geom.stride, geom.dilation
    sN, sH, sW, sC = xpad.strides
    Cg = C // g
    win = xp.lib.stride_tricks.as_strided(
        xpad, (g, N, Ho, Wo, kh, kw, Cg),
        (Cg * sC, sN, sH * sh, sW * sw, sH * dh, sW * dw, sC))
    return win.reshape(g, N * Ho * Wo, kh * kw * Cg)


def _wmat(w, g):
    """Weight (O, Cg, kh, kw) as g matrices (kh*kw*Cg, O/g), rows in the column order."""
    O, Cg, kh, kw = w.shape
    return w.reshape(g, O // g, Cg, kh, kw).transpose(0, 3, 4, 2, 1).reshape(
        g, kh * kw * Cg, O // g)


def _conv_fwd(x, w, geom, out_hw=None, b=None):
    """conv(x, w) (+ b) as a channels-last array (N, Ho, Wo, O): im2col + GEMM per batch block
    (or by FFT, see _use_fft)."""
    xp = get_array_module(x)
    N, C, H, W = x.shape
    O, Cg, kh, kw = w.shape
    g = geom.groups
    Ho, Wo = out_hw or geom.out_size(H, W, kh, kw)
    if _kernel_path(xp, x.dtype):
        return _kernel_conv_fwd(xp, x, w, geom, Ho, Wo, b)
    if _use_fft(xp, C, O, kh, kw, geom):
        return _fft_fwd(x, w, geom, Ho, Wo, b)
    xpad = _padded_nhwc(xp, x, geom)
    wm = _wmat(w, g)
    y = xp.empty((N, Ho, Wo, O), x.dtype)
    for blk in _batch_blocks(xp, N, Ho * Wo * kh * kw * C * x.itemsize):
        col = _im2col(xp, xpad[blk], kh, kw, Ho, Wo, geom)
        if g == 1:
            xp.matmul(col[0], wm[0], out=y[blk].reshape(-1, O))
        else:  # (g, m, O/g) -> (m, g, O/g)
            y[blk] = xp.matmul(col, wm).transpose(1, 0, 2).reshape(-1, Ho, Wo, O)
    if b is not None:
        y += b
    return y


def _conv_bwd_input(gy, w, geom, H, W, keep=None):
    """conv^T(gy, w): the input gradient of conv (= conv_transpose), NHWC (N, H, W, C).

    A batched GEMM gives each kernel offset's contribution as a contiguous (n, Ho, Wo, C)
    block; col2im adds each into a strided slice of the padded result: kh*kw vectorised adds
    with long contiguous runs, never a loop over pixels.
    """
    xp = get_array_module(gy)
    N, O, Ho, Wo = gy.shape
    _, Cg, kh, kw = w.shape
    g = geom.groups
    if _kernel_path(xp, gy.dtype):
        return _kernel_conv_bwd_input(xp, gy, w, geom, H, W)
    if _use_fft(xp, Cg, O, kh, kw, geom):
        return _fft_bwd_input(gy, w, geom, H, W, keep)
    (sh, sw), (pt, pb, pl, pr), (dh, dw) = geom.stride, geom.pad, geom.dilation
    gyn = gy.transpose(0, 2, 3, 1)
    wk = xp.ascontiguousarray(w.reshape(g, O // g, Cg, kh * kw).transpose(0, 3, 1, 2))
    if _is_plain_1x1(kh, kw, geom, (H, W), (Ho, Wo)):
        cols = xp.matmul(gyn.reshape(-1, g, O // g).transpose(1, 0, 2), wk[:, 0])
        return cols.transpose(1, 0, 2).reshape(N, H, W, g * Cg)
    Hp, Wp = H + pt + pb, W + pl + pr
    out = xp.zeros((N, Hp, Wp, g, Cg), gy.dtype)
    he, we = sh * (Ho - 1) + 1, sw * (Wo - 1) + 1
    for blk in _batch_blocks(xp, N, Ho * Wo * kh * kw * g * Cg * gy.itemsize):
        gb = gyn[blk]
        n = gb.shape[0]
        cols = xp.matmul(gb.reshape(-1, g, O // g).transpose(1, 0, 2)[:, None], wk)
        ob = out[blk]  # cols: (g, kh*kw, n*Ho*Wo, Cg)
        for i in range(kh):
            for j in range(kw):
                c = cols[:, i * kw + j]
                c = c[0].reshape(n, Ho, Wo, 1, Cg) if g == 1 else \
                    c.reshape(g, n, Ho, Wo, Cg).transpose(1, 2, 3, 0, 4)
                view = ob[:, i * dh:i * dh + he:sh, j * dw:j * dw + we:sw]
                xp.add(view, c, out=view)  # not `+=`: that copies the slice back once more
    return out.reshape(N, Hp, Wp, g * Cg)[:, pt:pt + H, pl:pl + W]


def _conv_bwd_weight(x, gy, geom, kh, kw, cache=None):
    """conv_w(x, gy): the weight gradient (O, Cg, kh, kw) = sum over blocks gy^T @ im2col(x)."""
    xp = get_array_module(x)
    N, O, Ho, Wo = gy.shape
    C = x.shape[1]
    g = geom.groups
    Cg = C // g
    if _kernel_path(xp, x.dtype):
        return _kernel_conv_bwd_weight(xp, x, gy, geom, kh, kw)
    if _use_fft(xp, Cg, O, kh, kw, geom):
        return _fft_bwd_weight(x, gy, geom, kh, kw, cache)
    xpad = _padded_nhwc(xp, x, geom)
    gyn = gy.transpose(0, 2, 3, 1)
    gw = None
    for blk in _batch_blocks(xp, N, Ho * Wo * kh * kw * C * x.itemsize):
        col = _im2col(xp, xpad[blk], kh, kw, Ho, Wo, geom)
        gb = gyn[blk].reshape(-1, O)
        if g == 1:
            part = xp.matmul(gb.T, col[0])
        else:
            part = xp.matmul(gb.reshape(-1, g, O // g).transpose(1, 2, 0), col)
        if gw is None:
            gw = part
        else:
            gw += part
    return xp.ascontiguousarray(gw.reshape(O, kh, kw, Cg).transpose(0, 3, 1, 2))


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
    return reshape(sum_to(gy, (gy.shape[1], 1, 1)), (gy.shape[1],))


class _Conv(Function):
    """y = conv(x, w) (+ b)."""

    def __init__(self, geom, out_hw=None):
        self.geom, self.out_hw = geom, out_hw

    def forward(self, x, w, b=None):
        (x, w, b), low = _bf16.widen(x, w, b)  # bfloat16: float32 arithmetic, rounded once
        return _bf16.narrow(_conv_fwd(x, w, self.geom, self.out_hw, b).transpose(0, 3, 1, 2),
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
        z = _conv_bwd_input(g, w, self.geom, *self.size, self.keep)
        self.keep = None
        if b is not None:
            z += b
        return _bf16.narrow(z.transpose(0, 3, 1, 2), low)

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
        gw = _conv_bwd_weight(x, gy, self.geom, *self.ksize, self.cache)
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
        geom = _Geom(stride, pads[0] + pads[1], dilation, groups)
    fn = _Conv(geom)
    y = fn(x, w) if bias is None else fn(x, w, bias)
    return _from_2d(nd, y, unbatched)


def _conv_transposend(name, nd, input, weight, bias, stride, padding, output_padding, groups,
                      dilation):
    _check_common(name, nd, input, weight, bias)
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
        geom = _Geom(stride, (padding[0],) * 2 + (padding[1],) * 2, dilation, groups)
    fn = _ConvTranspose(geom, size)
    y = fn(x, w) if bias is None else fn(x, w, bias)
    return _from_2d(nd, y, unbatched)


def conv1d(input, weight, bias=None, stride=1, padding=0, dilation=1, groups=1):
    """1-D convolution (cross-correlation) of (N, C, L) with a (O, C/groups, k) weight."""
    return _convnd("conv1d", 1, input, weight, bias, stride, padding, dilation, groups)


def conv2d(input, weight, bias=None, stride=1, padding=0, dilation=1, groups=1):
    """2-D convolution (cross-correlation) of (N, C, H, W) with a (O, C/groups, kh, kw) weight."""
    return _convnd("conv2d", 2, input, weight, bias, stride, padding, dilation, groups)


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
