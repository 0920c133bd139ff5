"""Spatial rearrangements and sampling: fold/unfold, pixel_shuffle, channel_shuffle, grid_sample.

``unfold`` (im2col) copies every sliding ``kh x kw`` block of an image into a column; ``fold``
(col2im) adds the columns back into an image, summing where blocks overlap. They are each
other's adjoint, so each is the other's backward and every order of derivative works.

``grid_sample`` reads the input at real-valued positions given by a grid in [-1, 1]. It is
built from differentiable pieces: a source-coordinate op per spatial axis (unnormalize, then
the padding mode's clip/reflection, whose derivative is a constant factor), interpolation
weights written with narae's arithmetic, and one fused sampling step over the channels-last
rows of the input (``_TapSum``: a row gather and a weighted sum of the taps) whose gradients
are a scatter-add (a sparse product on the CPU) and a per-tap dot product. Gradients therefore
reach both the input and the grid, as torch's do, to every order.
"""
import itertools
import math
import numbers

from .._dtype import is_floating as _is_floating
from ..autograd.function import Function, ShapeError
from ..backend import get_array_module
from ..tensor import Tensor
from .embedding import scatter_add_rows
from .linalg import matmul
from .shape import reshape, permute, stack, unbind

__all__ = ["unfold", "fold", "pixel_shuffle", "pixel_unshuffle", "channel_shuffle",
           "native_channel_shuffle", "affine_grid", "grid_sample"]


# --- unfold / fold ----------------------------------------------------------------------
def _pair(v, name):
    if isinstance(v, (tuple, list)):
        if len(v) != 2:
            raise RuntimeError(f"It is expected {name} equals to 2, but got size {len(v)}")
        return int(v[0]), int(v[1])
    return int(v), int(v)


def _geometry(op, kernel_size, dilation, padding, stride):
    """(kernel, dilation, padding, stride) as pairs, validated as torch does."""
    k, d = _pair(kernel_size, "kernel_size"), _pair(dilation, "dilation")
    p, s = _pair(padding, "padding"), _pair(stride, "stride")
    for (a, b), what, low in ((k, "kernel size", 1), (s, "stride", 1), (d, "dilation", 1),
                              (p, "padding", 0)):
        if a < low or b < low:
            need = "greater than zero" if low else "non-negative"
            raise RuntimeError(f"{op}: {what} should be {need}, but got {what} ({a}, {b})")
    return k, d, p, s


def _blocks(size, k, d, p, s):
    """Number of sliding blocks along one axis."""
    return (size + 2 * p - d * (k - 1) - 1) // s + 1


def _window(start, count, step):
    return slice(start, start + step * (count - 1) + 1, step)


def _im2col(x, geom):
    """(N, C, H, W) -> (N, C*kh*kw, L): one strided slice copy per kernel offset."""
    xp = get_array_module(x)
    (kh, kw), (dh, dw), (ph, pw), (sh, sw) = geom
    N, C, H, W = x.shape
    lh, lw = _blocks(H, kh, dh, ph, sh), _blocks(W, kw, dw, pw, sw)
    if ph or pw:
        xpad = xp.zeros((N, C, H + 2 * ph, W + 2 * pw), x.dtype)
        xpad[:, :, ph:ph + H, pw:pw + W] = x
    else:
        xpad = x
    col = xp.empty((N, C, kh, kw, lh, lw), x.dtype)
    for i in range(kh):
        rows = _window(i * dh, lh, sh)
        for j in range(kw):
            col[:, :, i, j] = xpad[:, :, rows, _window(j * dw, lw, sw)]
    return col.reshape(N, C * kh * kw, lh * lw)


def _col2im(col, geom, out_hw):
    """(N, C*kh*kw, L) -> (N, C, H, W): each column added back at its block (overlaps sum)."""
    xp = get_array_module(col)
    (kh, kw), (dh, dw), (ph, pw), (sh, sw) = geom
    H, W = out_hw
    lh, lw = _blocks(H, kh, dh, ph, sh), _blocks(W, kw, dw, pw, sw)
    N = col.shape[0]
    C = col.shape[1] // (kh * kw)
    col = col.reshape(N, C, kh, kw, lh, lw)
    out = xp.zeros((N, C, H + 2 * ph, W + 2 * pw), col.dtype)
    for i in range(kh):
        rows = _window(i * dh, lh, sh)
        for j in range(kw):
            out[:, :, rows, _window(j * dw, lw, sw)] += col[:, :, i, j]
    if ph or pw:
        out = xp.ascontiguousarray(out[:, :, ph:ph + H, pw:pw + W])
    return out


class _Unfold(Function):
    """im2col; its backward is col2im (``_Fold``) and vice versa."""
    uses_inputs = False

    def __init__(self, geom):
        self.geom = geom

    def forward(self, x):
        self.hw = x.shape[2:]
        return _im2col(x, self.geom)

    def backward(self, gy):
        return _Fold(self.geom, self.hw)(gy)


class _Fold(Function):
    uses_inputs = False

    def __init__(self, geom, out_hw):
        self.geom, self.out_hw = geom, out_hw

    def forward(self, col):
        return _col2im(col, self.geom, self.out_hw)

    def backward(self, gy):
        return _Unfold(self.geom)(gy)


def unfold(input, kernel_size, dilation=1, padding=0, stride=1):
    """Extract sliding local blocks: (N, C, H, W) -> (N, C*kh*kw, L), or (C, H, W) -> (C*kh*kw, L).

    Column ``l`` holds the block whose top-left corner is at ``(l // Lw * sh - ph, l % Lw * sw
    - pw)``; rows run over channels, then kernel rows, then kernel columns.
    """
    geom = _geometry("unfold", kernel_size, dilation, padding, stride)
    shape = tuple(input.shape)
    if input.ndim not in (3, 4) or 0 in shape[-3:]:
        raise ShapeError(f"unfold: expected a 3-D (C, H, W) or 4-D (N, C, H, W) input with "
                         f"non-zero C, H, W, but got input of shape {shape}")
    (kh, kw), d, p, s = geom
    lh = _blocks(shape[-2], kh, d[0], p[0], s[0])
    lw = _blocks(shape[-1], kw, d[1], p[1], s[1])
    if lh < 1 or lw < 1:
        raise ShapeError(f"unfold: input of shape {shape} with kernel_size={geom[0]}, "
                         f"dilation={d}, padding={p}, stride={s} gives {lh} x {lw} sliding "
                         f"blocks; both must be at least one")
    if input.ndim == 3:
        y = _Unfold(geom)(reshape(input, (1,) + shape))
        return reshape(y, y.shape[1:])
    return _Unfold(geom)(input)


def fold(input, output_size, kernel_size, dilation=1, padding=0, stride=1):
    """Sum sliding local blocks into an image: (N, C*kh*kw, L) -> (N, C, H, W) (the adjoint
    of ``unfold``; overlapping entries add up). Unbatched (C*kh*kw, L) gives (C, H, W)."""
    out_hw = _pair(output_size, "output_size")
    geom = _geometry("fold", kernel_size, dilation, padding, stride)
    shape = tuple(input.shape)
    if input.ndim not in (2, 3) or 0 in shape[-2:]:
        raise ShapeError(f"fold: expected a 2-D (C*kh*kw, L) or 3-D (N, C*kh*kw, L) input with "
                         f"non-zero dimensions, but got input of shape {shape}")
    (kh, kw), d, p, s = geom
    if shape[-2] % (kh * kw):
        raise ShapeError(f"fold: input of shape {shape}: dimension {input.ndim - 2} "
                         f"({shape[-2]}) must be divisible by the product of "
                         f"kernel_size={geom[0]}")
    lh = _blocks(out_hw[0], kh, d[0], p[0], s[0])
    lw = _blocks(out_hw[1], kw, d[1], p[1], s[1])
    if lh < 1 or lw < 1 or lh * lw != shape[-1]:
        raise ShapeError(f"fold: input of shape {shape} with output_size={out_hw}, "
                         f"kernel_size={geom[0]}, dilation={d}, padding={p}, stride={s}: the "
                         f"last dimension must equal the number of sliding blocks "
                         f"{max(lh, 0)} * {max(lw, 0)} = {max(lh, 0) * max(lw, 0)}")
    if input.ndim == 2:
        y = _Fold(geom, out_hw)(reshape(input, (1,) + shape))
        return reshape(y, y.shape[1:])
    return _Fold(geom, out_hw)(input)


# --- pixel / channel shuffles -----------------------------------------------------------
def _factor(op, name, value):
    if isinstance(value, bool) or not isinstance(value, numbers.Integral):
        raise TypeError(f"{op}(): argument '{name}' must be int, not {type(value).__name__}")
    value = int(value)
    if value <= 0:
        raise RuntimeError(f"{op} expects a positive {name}, but got {value}")
    return value


def pixel_shuffle(input, upscale_factor):
    """(*, C*r*r, H, W) -> (*, C, H*r, W*r): sub-pixel channels laid out as an r x r grid.

    ``y[..., c, h*r + i, w*r + j] = x[..., c*r*r + i*r + j, h, w]``.
    """
    r = _factor("pixel_shuffle", "upscale_factor", upscale_factor)
    shape = tuple(input.shape)
    if input.ndim < 3:
        raise ShapeError(f"pixel_shuffle expects input to have at least 3 dimensions, but got "
                         f"input of shape {shape}")
    *lead, C, H, W = shape
    if C % (r * r):
        raise ShapeError(f"pixel_shuffle: input of shape {shape}: the channel dimension ({C}) "
                         f"must be divisible by upscale_factor**2 = {r * r}")
    lead, k = tuple(lead), len(lead)
    x = reshape(input, lead + (C // (r * r), r, r, H, W))
    x = permute(x, tuple(range(k + 1)) + (k + 3, k + 1, k + 4, k + 2))
    return reshape(x, lead + (C // (r * r), H * r, W * r))


def pixel_unshuffle(input, downscale_factor):
    """(*, C, H*r, W*r) -> (*, C*r*r, H, W): the inverse of ``pixel_shuffle``."""
    r = _factor("pixel_unshuffle", "downscale_factor", downscale_factor)
    shape = tuple(input.shape)
    if input.ndim < 3:
        raise ShapeError(f"pixel_unshuffle expects input to have at least 3 dimensions, but got "
                         f"input of shape {shape}")
    *lead, C, H, W = shape
    for what, n in (("height", H), ("width", W)):
        if n % r:
            raise ShapeError(f"pixel_unshuffle: input of shape {shape}: the {what} ({n}) must "
                             f"be divisible by downscale_factor = {r}")
    lead, k = tuple(lead), len(lead)
    x = reshape(input, lead + (C, H // r, r, W // r, r))
    x = permute(x, tuple(range(k + 1)) + (k + 2, k + 4, k + 1, k + 3))
    return reshape(x, lead + (C * r * r, H // r, W // r))


def channel_shuffle(input, groups):
    """(N, C, *) -> (N, C, *) with channels reordered group-interleaved: view the channels as
    (groups, C/groups), transpose to (C/groups, groups) and flatten back (ShuffleNet)."""
    g = _factor("channel_shuffle", "groups", groups)
    shape = tuple(input.shape)
    if input.ndim <= 2:
        raise ShapeError(f"channel_shuffle expects input with > 2 dims, but got input of "
                         f"shape {shape}")
    N, C, *rest = shape
    if C % g:
        raise ShapeError(f"channel_shuffle: input of shape {shape}: the number of channels "
                         f"({C}) must be divisible by groups ({g})")
    rest = tuple(rest)
    x = reshape(input, (N, g, C // g) + rest)
    x = permute(x, (0, 2, 1) + tuple(range(3, x.ndim)))
    return reshape(x, shape)


def native_channel_shuffle(input, groups):
    """The same as ``channel_shuffle`` (torch's native kernel entry point)."""
    return channel_shuffle(input, groups)


# --- affine_grid ------------------------------------------------------------------------
def _base_coords(xp, n, align_corners, dtype):
    """n points spanning [-1, 1] (pixel corners) or pixel centres scaled by (n-1)/n; 0 for n=1."""
    if n <= 1:
        return xp.zeros((max(n, 0),), dtype)
    c = xp.linspace(-1.0, 1.0, n, dtype=dtype)
    if not align_corners:
        c = c * dtype.type((n - 1) / n)
    return c


def affine_grid(theta, size, align_corners=None):
    """Sampling grid of an affine map: (N, 2, 3) -> (N, H, W, 2) or (N, 3, 4) -> (N, D, H, W, 3).

    Each output location's normalised coordinates (x, y[, z], 1) are multiplied by theta; the
    result is the (x, y[, z]) position ``grid_sample`` reads from.
    """
    align = bool(align_corners)
    size = tuple(int(s) for s in size)
    if not _is_floating(theta._data.dtype):
        raise ValueError(f"affine_grid: expected theta to have a floating point type, but got "
                         f"{theta.dtype}")
    if len(size) == 4:
        want = (size[0], 2, 3)
    elif len(size) == 5:
        want = (size[0], 3, 4)
    else:
        raise NotImplementedError(f"affine_grid only supports 4D and 5D sizes, for 2D and 3D "
                                  f"affine transforms, respectively. Got size {size}.")
    if min(size) <= 0:
        raise ValueError(f"affine_grid: expected a positive output size, got {size}")
    if tuple(theta.shape) != want:
        nd = len(size) - 2
        raise ShapeError(f"affine_grid: expected a batch of {nd}D affine matrices of shape "
                         f"{want} for size {size}, but got theta of shape {tuple(theta.shape)}")
    xp = get_array_module(theta._data)
    dt = theta._data.dtype
    spatial = size[2:]
    # axis k of the grid's last dim walks the (k+1)-th spatial dim from the end: x, y, z
    axes = [_base_coords(xp, n, align, dt) for n in spatial]
    mesh = xp.meshgrid(*axes, indexing="ij")
    cols = [mesh[len(spatial) - 1 - k] for k in range(len(spatial))]
    cols.append(xp.ones(spatial, dt))
    base = xp.stack(cols, axis=-1).reshape(1, -1, len(cols))
    grid = matmul(Tensor(base), permute(theta, (0, 2, 1)))
    return reshape(grid, (size[0],) + spatial + (len(spatial),))


# --- grid_sample ------------------------------------------------------------------------
def _reflect(xp, c, twice_low, twice_high):
    """Reflect c into [twice_low/2, twice_high/2]; also the derivative (+-1) of that map."""
    if twice_low == twice_high:
        return xp.zeros_like(c), xp.zeros_like(c)
    lo = twice_low / 2
    span = (twice_high - twice_low) / 2
    shifted = c - c.dtype.type(lo)
    sgn = xp.where(shifted < 0, -1, 1).astype(c.dtype)
    a = xp.abs(shifted)
    extra = xp.fmod(a, c.dtype.type(span))
    even = (xp.floor(a / c.dtype.type(span)) % 2) == 0
    out = xp.where(even, extra + c.dtype.type(lo), c.dtype.type(span + lo) - extra)
    return out, xp.where(even, sgn, -sgn)


class _SourceCoord(Function):
    """Normalised grid coordinate in [-1, 1] -> pixel coordinate along one axis of ``size``,
    with the padding mode's clipping or reflection applied. The map is piecewise linear, so
    its backward is the upstream gradient times a constant slope (0 where clipped)."""
    uses_inputs = False

    def __init__(self, size, padding_mode, align_corners):
        self.size, self.padding_mode, self.align = size, padding_mode, align_corners

    def forward(self, g):
        xp = get_array_module(g)
        n, t = self.size, g.dtype.type
        if self.align:
            c, scale = (g + t(1)) * t((n - 1) / 2), (n - 1) / 2
        else:
            c, scale = ((g + t(1)) * t(n) - t(1)) / t(2), n / 2
        slope = xp.full(g.shape, scale, g.dtype)
        if self.padding_mode == "reflection":
            lo, hi = (0, 2 * (n - 1)) if self.align else (-1, 2 * n - 1)
            c, flip = _reflect(xp, c, lo, hi)
            slope *= flip
        if self.padding_mode in ("border", "reflection"):
            inside = (c > 0) & (c < n - 1)
            c = xp.clip(c, 0, n - 1)
            slope *= inside
        self.slope = slope
        return c

    def backward(self, gy):
        return gy * Tensor(self.slope)


class _ConstantOf(Function):
    """A constant array that formally depends on ``x`` with zero derivative: it gives the grid
    the all-zero gradient torch reports for nearest sampling."""
    uses_inputs = False

    def __init__(self, value):
        self.value = value

    def forward(self, x):
        self.in_shape = x.shape
        return self.value

    def backward(self, gy):
        xp = get_array_module(gy._data)
        return Tensor(xp.zeros(self.in_shape, gy._data.dtype))


_CUBIC_A = -0.75  # the cubic convolution kernel's parameter (Keys; torch's choice too)


def _cubic_weights(t):
    """Weights of the taps at offsets -1, 0, 1, 2 for fractional position t in [0, 1)."""
    A = _CUBIC_A

    def near(s):  # |s| <= 1
        return ((A + 2) * s - (A + 3)) * s * s + 1

    def far(s):  # 1 < |s| < 2
        return ((A * s - 5 * A) * s + 8 * A) * s - 4 * A

    return [far(t + 1), near(t), near(1 - t), far(2 - t)]


def _tap_index(xp, idx, n, padding_mode, align):
    """Integer tap positions mapped inside [0, n) by the padding mode; their validity mask."""
    if padding_mode == "zeros":
        valid = (idx >= 0) & (idx < n)
        return xp.clip(idx, 0, n - 1), valid
    c = idx
    if padding_mode == "reflection":
        lo, hi = (0, 2 * (n - 1)) if align else (-1, 2 * n - 1)
        c, _ = _reflect(xp, c, lo, hi)
    c = xp.clip(c, 0, n - 1)
    return c, None


def _axis_taps(coord, n, mode, padding_mode, align):
    """Per axis: a list of (index array, weight Tensor or None) and a validity mask per tap."""
    xp = get_array_module(coord._data)
    c = coord._data
    if mode == "nearest":  # (border/reflection coordinates are already inside)
        idx, valid = _tap_index(xp, xp.rint(c), n, "zeros", align)
        return [(idx.astype(xp.int64), None, valid)]
    base = xp.floor(c)
    frac = coord - Tensor(base)
    if mode == "bilinear":  # taps past the (already padded) coordinate are masked, as torch
        offsets, weights, padding_mode = (0, 1), [1 - frac, frac], "zeros"
    else:  # bicubic: the padding mode maps every tap of the unpadded coordinate
        offsets, weights = (-1, 0, 1, 2), _cubic_weights(frac)
    taps = []
    for off, w in zip(offsets, weights):
        idx, valid = _tap_index(xp, base + off, n, padding_mode, align)
        taps.append((idx.astype(xp.int64), w, valid))
    return taps


_GRID_MODES = ("bilinear", "nearest", "bicubic")
_GRID_PADDINGS = ("zeros", "border", "reflection")


def grid_sample(input, grid, mode="bilinear", padding_mode="zeros", align_corners=None):
    """Sample ``input`` (N, C, H, W) at ``grid`` (N, Ho, Wo, 2) positions -> (N, C, Ho, Wo);
    5-D: (N, C, D, H, W) with grid (N, Do, Ho, Wo, 3).

    grid[..., 0] is x (width), grid[..., 1] y (height), grid[..., 2] z (depth), each in
    [-1, 1] from the first to the last pixel (align_corners=True: their centres; False: their
    outer edges). Bilinear/bicubic sampling is differentiable in both input and grid.
    """
    if mode not in _GRID_MODES:
        raise ValueError(f"grid_sample: expected mode to be 'bilinear', 'nearest' or 'bicubic', "
                         f"but got: {mode!r}")
    if padding_mode not in _GRID_PADDINGS:
        raise ValueError(f"grid_sample: expected padding_mode to be 'zeros', 'border', or "
                         f"'reflection', but got: {padding_mode!r}")
    ishape, gshape = tuple(input.shape), tuple(grid.shape)
    if input.ndim not in (4, 5) or grid.ndim != input.ndim:
        raise ShapeError(f"grid_sample: expected a 4-D or 5-D input and a grid with as many "
                         f"dimensions, but got input of shape {ishape} and grid of shape {gshape}")
    nd = input.ndim - 2
    if gshape[0] != ishape[0]:
        raise ShapeError(f"grid_sample: expected grid and input to have the same batch size, "
                         f"but got input of shape {ishape} and grid of shape {gshape}")
    if gshape[-1] != nd:
        raise ShapeError(f"grid_sample: expected grid to have size {nd} in its last dimension "
                         f"for a {input.ndim}-D input, but got grid of shape {gshape}")
    if 0 in ishape[2:]:
        raise ShapeError(f"grid_sample: expected input to have non-empty spatial dimensions, "
                         f"but got input of shape {ishape}")
    if mode == "bicubic" and nd != 2:
        raise ShapeError(f"grid_sample: bicubic interpolation only supports 4-D input, got "
                         f"input of shape {ishape}")
    if not _is_floating(input._data.dtype):
        raise NotImplementedError(f"grid_sample: expected a floating point input and grid, but "
                                  f"got {input.dtype}")
    if input.dtype != grid.dtype:
        raise RuntimeError(f"grid_sample: expected input and grid to have the same dtype, but "
                           f"got {input.dtype} and {grid.dtype}")
    align = bool(align_corners)
    N, C = ishape[:2]
    sizes = ishape[2:]
    out_sp = gshape[1:-1]
    M = N * math.prod(out_sp)
    xp = get_array_module(input._data)
    if M == 0 or C == 0:  # nothing to read: zeros, with zero gradients for both operands
        zeros = Tensor(xp.zeros((N, C) + out_sp, input._data.dtype))
        return zeros + (input.sum() + grid.sum()) * 0

    # axis k of the grid's last dim addresses spatial dim nd-1-k (x -> W, y -> H, z -> D)
    comps = unbind(grid, -1)
    per_dim = []
    for dim in range(nd):
        n = sizes[dim]
        g = comps[nd - 1 - dim]
        if mode == "bicubic":
            coord = _SourceCoord(n, "zeros", align)(g)  # padding acts on each tap instead
        else:
            coord = _SourceCoord(n, padding_mode, align)(g)
        per_dim.append(_axis_taps(coord, n, mode, padding_mode, align))

    strides = [math.prod(sizes[d + 1:]) for d in range(nd)]
    idxs, weights, masks = [], [], []
    for combo in itertools.product(*per_dim):
        idx = 0
        w, valid = None, None
        for d, (i, wt, ok) in enumerate(combo):
            idx = idx + i * strides[d]
            if wt is not None:
                w = wt if w is None else w * wt
            if ok is not None:
                valid = ok if valid is None else valid & ok
        idxs.append(idx)
        weights.append(w)
        masks.append(valid)
    dt = input._data.dtype
    K, S, O = len(idxs), math.prod(sizes), math.prod(out_sp)
    # row of every (n, o, tap) in the (N*S, C) channels-last view of the input
    rows_at = xp.stack(idxs, -1).reshape(N, O, K)
    rows_at += xp.arange(0, N * S, S, dtype=rows_at.dtype).reshape(N, 1, 1)
    if any(m is not None for m in masks):
        mask = xp.stack([xp.ones((N,) + out_sp, bool) if m is None else m
                         for m in masks], -1).reshape(N, O, K).astype(dt)
    else:
        mask = None
    if weights[0] is None:  # nearest: constant weights, zero gradient for the grid
        wv = mask if mask is not None else xp.ones((N, O, K), dt)
        W = _ConstantOf(wv)(grid)
    else:
        W = reshape(stack(weights, -1), (N, O, K))
        if mask is not None:
            W = W * Tensor(mask)
    rows = reshape(permute(input, (0,) + tuple(range(2, 2 + nd)) + (1,)), (N * S, C))
    out = _TapSum(rows_at)(rows, W)                     # (N, O, C)
    out = reshape(out, (N,) + out_sp + (C,))
    return permute(out, (0, nd + 1) + tuple(range(1, nd + 1)))


# The sampling step is the trilinear form  F(x, W, g) = sum x[at[n,o,k], c] W[n,o,k] g[n,o,c]
# over the rows x (N*S, C) of the channels-last input. Its three partial derivatives are the
# three Functions below (the sample, the splat of a gradient back onto the rows, the per-tap
# correlation); each one's backward is made of the other two, so every order of gradient
# exists.
def _tap_values(x, at):
    """The rows x (R, C) at every tap: (N, O, K, C)."""
    return x.take(at.reshape(-1), axis=0).reshape(at.shape + x.shape[1:])


def _splat(at, w, g, num_rows):
    """out (num_rows, C) with out[at[n,o,k]] += w[n,o,k] * g[n,o] (a scatter-add)."""
    N, O, K = at.shape
    return scatter_add_rows(at.reshape(N * O, K), g.reshape(N * O, -1), num_rows,
                            w.reshape(N * O, K))


class _TapSum(Function):
    """out[n, o, c] = sum_k W[n, o, k] * x[at[n, o, k], c]."""

    def __init__(self, at):
        self.at = at

    def forward(self, x, w):
        xp = get_array_module(x)
        self.vals = vals = _tap_values(x, self.at)
        return xp.einsum("nokc,nok->noc", vals, w)

    def backward(self, g):
        x, w = self.inputs
        gx = _TapSplat(self.at, x.shape[0])(w, g) if x.requires_grad else None
        gw = _TapCorr(self.at, self.vals)(x, g) if w.requires_grad else None
        return gx, gw


class _TapSplat(Function):
    """dx[r, c] = sum over the taps (n, o, k) reading row r of W[n, o, k] * g[n, o, c]."""

    def __init__(self, at, num_rows):
        self.at, self.num_rows = at, num_rows

    def forward(self, w, g):
        return _splat(self.at, w, g, self.num_rows)

    def backward(self, gx):
        w, g = self.inputs
        gw = _TapCorr(self.at)(gx, g) if w.requires_grad else None
        gg = _TapSum(self.at)(gx, w) if g.requires_grad else None
        return gw, gg


class _TapCorr(Function):
    """dW[n, o, k] = sum_c x[at[n, o, k], c] * g[n, o, c]."""

    def __init__(self, at, vals=None):
        self.at, self.vals = at, vals

    def forward(self, x, g):
        xp = get_array_module(x)
        vals = self.vals if self.vals is not None else _tap_values(x, self.at)
        self.vals = None
        return xp.einsum("nokc,noc->nok", vals, g)

    def backward(self, gw):
        x, g = self.inputs
        gx = _TapSplat(self.at, x.shape[0])(gw, g) if x.requires_grad else None
        gg = _TapSum(self.at)(x, gw) if g.requires_grad else None
        return gx, gg
