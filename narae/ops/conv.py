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
Three Functions wrap them (``_Conv``, ``_ConvTranspose``, ``_ConvWeight``) and their backward
passes are again these Functions, so gradients of any order work.
1-D convolutions are 2-D ones with a height of 1.
"""
from ..autograd.function import Function, ShapeError
from ..backend import get_array_module
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


def _conv_fwd(x, w, geom, out_hw=None):
    """conv(x, w) as a channels-last array (N, Ho, Wo, O): im2col + GEMM per batch block."""
    xp = get_array_module(x)
    N, C, H, W = x.shape
    O, Cg, kh, kw = w.shape
    g = geom.groups
    Ho, Wo = out_hw or geom.out_size(H, W, kh, kw)
    xpad = _padded_nhwc(xp, x, geom)
    wm = _wmat(w, g)
    y = xp.empty((N, Ho, Wo, O), x.dtype)
    for blk in _batch_blocks(xp, N, Ho * Wo * kh * kw * C * x.itemsize):
        col = _im2col(xp, xpad[blk], kh, kw, Ho, Wo, geom)
        if g == 1:
            xp.matmul(col[0], wm[0], out=y[blk].reshape(-1, O))
        else:  # (g, m, O/g) -> (m, g, O/g)
            y[blk] = xp.matmul(col, wm).transpose(1, 0, 2).reshape(-1, Ho, Wo, O)
    return y


def _conv_bwd_input(gy, w, geom, H, W):
    """conv^T(gy, w): the input gradient of conv (= conv_transpose), NHWC (N, H, W, C).

    A batched GEMM gives each kernel offset's contribution as a contiguous (n, Ho, Wo, C)
    block; col2im adds each into a strided slice of the padded result: kh*kw vectorised adds
    with long contiguous runs, never a loop over pixels.
    """
    xp = get_array_module(gy)
    N, O, Ho, Wo = gy.shape
    _, Cg, kh, kw = w.shape
    g = geom.groups
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


def _conv_bwd_weight(x, gy, geom, kh, kw):
    """conv_w(x, gy): the weight gradient (O, Cg, kh, kw) = sum over blocks gy^T @ im2col(x)."""
    xp = get_array_module(x)
    N, O, Ho, Wo = gy.shape
    C = x.shape[1]
    g = geom.groups
    Cg = C // g
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


# --- Functions ---------------------------------------------------------------------------
def _bias_grad(gy):
    return reshape(sum_to(gy, (gy.shape[1], 1, 1)), (gy.shape[1],))


class _Conv(Function):
    """y = conv(x, w) (+ b)."""

    def __init__(self, geom, out_hw=None):
        self.geom, self.out_hw = geom, out_hw

    def forward(self, x, w, b=None):
        y = _conv_fwd(x, w, self.geom, self.out_hw)
        if b is not None:
            y += b
        return y.transpose(0, 3, 1, 2)

    def backward(self, gy):
        x, w = self.inputs[0], self.inputs[1]
        geom = self.geom
        gx = _ConvTranspose(geom, x.shape[2:])(gy, w) if x.requires_grad else None
        gw = _ConvWeight(geom, w.shape[2:])(x, gy) if w.requires_grad else None
        if len(self.inputs) == 3:
            return gx, gw, (_bias_grad(gy) if self.inputs[2].requires_grad else None)
        return gx, gw


class _ConvTranspose(Function):
    """z = conv^T(g, w) (+ b) of spatial size ``size``: conv's input gradient, conv_transpose."""

    def __init__(self, geom, size):
        self.geom, self.size = geom, tuple(size)

    def forward(self, g, w, b=None):
        z = _conv_bwd_input(g, w, self.geom, *self.size)
        if b is not None:
            z += b
        return z.transpose(0, 3, 1, 2)

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

    def __init__(self, geom, ksize):
        self.geom, self.ksize = geom, tuple(ksize)

    def forward(self, x, gy):
        return _conv_bwd_weight(x, gy, self.geom, *self.ksize)

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
    if input._data.dtype != weight._data.dtype:
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
