"""Shape ops: reshape/view, broadcast_to/expand, transpose/permute, cat/stack/split, flip,
roll, tril/triu, pad and friends.

These move or repeat elements without arithmetic; their backward moves the gradient back.
Most are compositions of reshape, broadcast_to, permute and slicing (``narae.ops.index``),
so their gradients (and gradients of gradients) come for free.
"""
import math

import numpy as np

from .._dtype import promote_types
from ..autograd.function import Function
from ..backend import get_array_module
from ..backend.constants import cached_constant
from ..tensor import Tensor, register_methods
from ._operands import normalize_dim, normalize_dims

__all__ = ["reshape", "broadcast_to", "sum_to", "transpose", "swapaxes", "permute", "t",
           "flatten", "unflatten", "squeeze", "unsqueeze", "tile", "cat", "concat", "concatenate",
           "stack", "hstack", "vstack", "split", "chunk", "unbind", "flip", "fliplr", "flipud",
           "roll", "movedim", "moveaxis", "narrow", "tril", "triu", "pad", "atleast_1d",
           "atleast_2d"]


def _shape_arg(shape):
    """Accept ``f(2, 3)``, ``f((2, 3))`` and ``f([2, 3])`` like torch."""
    if len(shape) == 1 and isinstance(shape[0], (tuple, list)):
        shape = shape[0]
    return tuple(int(s) for s in shape)


class Reshape(Function):
    uses_inputs = False

    def __init__(self, shape):
        self.shape = shape

    def forward(self, x):
        self.in_shape = x.shape
        return x.reshape(self.shape)

    def backward(self, gy):
        return reshape(gy, self.in_shape)


def reshape(input, *shape):
    shape = _shape_arg(shape)
    if shape == input.shape:
        return input
    size = input._data.size
    known = 1
    for s in shape:
        if s != -1:
            known *= s
    if shape.count(-1) > 1 or (shape.count(-1) == 0 and known != size) or \
            (shape.count(-1) == 1 and (known == 0 or size % known)):
        raise RuntimeError(f"shape '{list(shape)}' is invalid for input of size {size} "
                           f"(input shape {tuple(input.shape)})")
    return Reshape(shape)(input)


class BroadcastTo(Function):
    uses_inputs = False

    def __init__(self, shape):
        self.shape = shape

    def forward(self, x):
        self.in_shape = x.shape
        return get_array_module(x).broadcast_to(x, self.shape)

    def backward(self, gy):
        return sum_to(gy, self.in_shape)


class SumTo(Function):
    """Sum a broadcast gradient back down to ``shape`` (the inverse of broadcasting)."""
    uses_inputs = False

    def __init__(self, shape):
        self.shape = shape

    def forward(self, x):
        self.in_shape = x.shape
        return sum_to_array(x, self.shape)

    def backward(self, gy):
        return broadcast_to(gy, self.in_shape)


def sum_to_array(x, shape):
    lead = x.ndim - len(shape)
    axes = tuple(range(lead)) + tuple(i + lead for i, s in enumerate(shape)
                                      if s == 1 and x.shape[i + lead] != 1)
    y = x.sum(axis=axes, keepdims=True) if axes else x
    if lead:
        y = y.reshape(shape)
    return y


def broadcast_to(input, *shape):
    shape = _shape_arg(shape)
    # torch's expand: -1 keeps the size of that dimension
    lead = len(shape) - input.ndim
    if lead < 0:
        raise RuntimeError(f"expand: the number of sizes provided ({len(shape)}) must be greater "
                           f"or equal to the number of dimensions in the tensor ({input.ndim})")
    shape = tuple(input.shape[i - lead] if s == -1 else s for i, s in enumerate(shape))
    if shape == input.shape:
        return input
    for i, s in enumerate(input.shape):
        if s != 1 and s != shape[i + lead]:
            raise RuntimeError(f"The expanded size of the tensor ({shape[i + lead]}) must match "
                               f"the existing size ({s}) at non-singleton dimension {i}. Target "
                               f"sizes: {list(shape)}. Tensor sizes: {list(input.shape)}")
    return BroadcastTo(shape)(input)


def sum_to(input, shape):
    shape = tuple(shape)
    if input.shape == shape:
        return input
    return SumTo(shape)(input)


class Permute(Function):
    uses_inputs = False

    def __init__(self, axes):
        self.axes = axes

    def forward(self, x):
        return x.transpose(self.axes)

    def backward(self, gy):
        return permute(gy, tuple(np.argsort(self.axes)))


def permute(input, *dims):
    dims = _shape_arg(dims)
    if len(dims) != input.ndim:
        raise RuntimeError(f"permute(sparse_coo): number of dimensions in the tensor input does "
                           f"not match the length of the desired ordering of dimensions i.e. "
                           f"input.dim() = {input.ndim} is not equal to len(dims) = {len(dims)}")
    dims = tuple(normalize_dim(d, input.ndim) for d in dims)
    if sorted(dims) != list(range(input.ndim)):
        raise RuntimeError(f"permute: repeated dim in {dims}")
    if dims == tuple(range(input.ndim)):
        return input
    return Permute(dims)(input)


def transpose(input, dim0, dim1):
    n = input.ndim
    if n == 0:
        return input
    d0, d1 = normalize_dim(dim0, n), normalize_dim(dim1, n)
    axes = list(range(n))
    axes[d0], axes[d1] = axes[d1], axes[d0]
    return permute(input, axes)


def t(input):
    if input.ndim > 2:
        raise RuntimeError(f"t() expects a tensor with <= 2 dimensions, but self is {input.ndim}D")
    return transpose(input, 0, 1) if input.ndim == 2 else input


# --- flatten / squeeze / unsqueeze -----------------------------------------------------
def flatten(input, start_dim=0, end_dim=-1):
    """Merge dims ``start_dim..end_dim`` into one (a 0-d tensor becomes 1-D)."""
    if input.ndim == 0:
        return reshape(input, (1,))
    s, e = normalize_dim(start_dim, input.ndim), normalize_dim(end_dim, input.ndim)
    if s > e:
        raise RuntimeError(f"flatten() has invalid args: start_dim ({start_dim}) cannot come "
                           f"after end_dim ({end_dim}) for shape {tuple(input.shape)}")
    shape = input.shape
    return reshape(input, shape[:s] + (math.prod(shape[s:e + 1]),) + shape[e + 1:])


def unflatten(input, dim, sizes):
    """Split dim ``dim`` into ``sizes`` (one of them may be -1)."""
    d = normalize_dim(dim, input.ndim)
    sizes = tuple(int(s) for s in sizes)
    n = input.shape[d]
    known = math.prod(s for s in sizes if s != -1)
    if sizes.count(-1) > 1 or (-1 not in sizes and known != n) or \
            (-1 in sizes and (known == 0 or n % known)):
        raise RuntimeError(f"unflatten: provided sizes {list(sizes)} don't multiply up to the "
                           f"size of dim {dim} ({n}) of input of shape {tuple(input.shape)}")
    sizes = tuple(n // known if s == -1 else s for s in sizes)
    return reshape(input, input.shape[:d] + sizes + input.shape[d + 1:])


def squeeze(input, dim=None):
    """Drop size-1 dims: all of them, or those among ``dim`` (an int or a tuple)."""
    empty = isinstance(dim, (tuple, list)) and len(dim) == 0  # squeeze(x, ()) drops nothing
    dims = normalize_dims(dim, input.ndim) if input.ndim and not empty else ()
    if input.ndim == 0 and dim is not None:
        for d in (dim if isinstance(dim, (tuple, list)) else (dim,)):
            normalize_dim(d, 0)
    shape = tuple(s for i, s in enumerate(input.shape) if not (i in dims and s == 1))
    return reshape(input, shape)


def unsqueeze(input, dim):
    """Insert a size-1 dim at ``dim`` (in [-ndim-1, ndim])."""
    d = normalize_dim(dim, input.ndim + 1)
    return reshape(input, input.shape[:d] + (1,) + input.shape[d:])


def _atleast_1d(input):
    return reshape(input, (1,)) if input.ndim == 0 else input


def _atleast_2d(input):
    return reshape(input, (1,) * (2 - input.ndim) + tuple(input.shape)) if input.ndim < 2 \
        else input


def for_each_tensor(tensors, one, op):
    """torch's atleast_*d calling forms: one tensor gives a tensor; several tensors (or one
    list of them) give a tuple."""
    if len(tensors) == 1 and isinstance(tensors[0], Tensor):
        return one(tensors[0])
    if len(tensors) == 1 and isinstance(tensors[0], (list, tuple)):
        tensors = tuple(tensors[0])
    for i, t in enumerate(tensors):
        if not isinstance(t, Tensor):
            raise TypeError(f"{op}(): expected Tensor as element {i}, got {type(t).__name__}")
    return tuple(one(t) for t in tensors)


def atleast_1d(*tensors):
    """Views with at least one dim (a 0-d tensor becomes shape (1,))."""
    return for_each_tensor(tensors, _atleast_1d, "atleast_1d")


def atleast_2d(*tensors):
    """Views with at least two dims (leading 1s added)."""
    return for_each_tensor(tensors, _atleast_2d, "atleast_2d")


# --- repeat / tile -----------------------------------------------------------------------
def repeat(self, *sizes):
    """Tile the tensor ``sizes[i]`` times along dim i: a broadcast of an interleaved reshape,
    so the backward is a sum and needs no code of its own."""
    sizes = _shape_arg(sizes)
    if len(sizes) < self.ndim:
        raise RuntimeError(f"repeat: number of dimensions of repeat dims ({len(sizes)}) can not "
                           f"be smaller than number of dimensions of tensor of shape "
                           f"{tuple(self.shape)}")
    shape = (1,) * (len(sizes) - self.ndim) + tuple(self.shape)
    if all(r == 1 for r in sizes):
        return reshape(self, shape)
    inter = tuple(v for s in shape for v in (1, s))
    target = tuple(v for r, s in zip(sizes, shape) for v in (r, s))
    out = broadcast_to(reshape(self, inter), target)
    return reshape(out, tuple(r * s for r, s in zip(sizes, shape)))


def tile(input, dims):
    dims = _shape_arg((dims,)) if isinstance(dims, (tuple, list)) else (int(dims),)
    return repeat(input, (1,) * (input.ndim - len(dims)) + dims)


# --- cat / stack ---------------------------------------------------------------------------
_CATEGORY = {"b": 0, "u": 1, "i": 1, "f": 2}


def _common_dtype(tensors):
    """torch's promotion among tensors of equal standing: the highest category wins."""
    dtypes = {t._data.dtype for t in tensors}
    if len(dtypes) == 1:
        return None
    top = max(_CATEGORY.get(d.kind, 2) for d in dtypes)
    out = None
    for d in dtypes:
        if _CATEGORY.get(d.kind, 2) == top:
            out = d if out is None else promote_types(out, d)
    return out


def _as_tensor_list(tensors, op):
    if isinstance(tensors, Tensor) or not isinstance(tensors, (list, tuple)):
        raise TypeError(f"{op}(): argument 'tensors' must be a tuple or list of Tensors, got "
                        f"{type(tensors).__name__}")
    tensors = list(tensors)
    if not tensors:
        raise RuntimeError(f"{op}(): expected a non-empty list of Tensors")
    for i, t in enumerate(tensors):
        if not isinstance(t, Tensor):
            raise TypeError(f"{op}(): expected Tensor as element {i} in argument 'tensors', but "
                            f"got {type(t).__name__}")
    dt = _common_dtype(tensors)
    if dt is not None:
        from .. import _dtype
        tensors = [t if t._data.dtype == dt else t.to(_dtype.from_numpy_dtype(dt))
                   for t in tensors]
    return tensors


def _legacy_empty(a):
    return a.ndim == 1 and a.shape[0] == 0


class Cat(Function):
    """Concatenation; with ``skip_empty`` legacy empty 1-D inputs are left out (as torch does)."""
    uses_inputs = False

    def __init__(self, axis, skip_empty=False):
        self.axis, self.skip_empty = axis, skip_empty

    def forward(self, *xs):
        kept = [x for x in xs if not (self.skip_empty and _legacy_empty(x))]
        self.sizes = [0 if self.skip_empty and _legacy_empty(x) else x.shape[self.axis]
                      for x in xs]
        return get_array_module(xs[0]).concatenate(kept, axis=self.axis)

    def backward(self, gy):
        from .index import getitem
        lead, start, out = (slice(None),) * self.axis, 0, []
        for x, n in zip(self.inputs, self.sizes):
            if not x.requires_grad:
                out.append(None)
            elif self.skip_empty and _legacy_empty(x):
                out.append(Tensor(get_array_module(gy._data).zeros((0,), gy._data.dtype)))
            else:
                out.append(getitem(gy, lead + (slice(start, start + n),)))
            start += n
        return tuple(out)


def cat(tensors, dim=0):
    """Join tensors along an existing dim; all other sizes must match."""
    tensors = _as_tensor_list(tensors, "cat")
    # torch still accepts (and skips) legacy empty 1-D tensors beside n-D ones
    kept = [t for t in tensors if not _legacy_empty(t)]
    if not kept:
        return Cat(0)(*tensors)
    ref = kept[0]
    if ref.ndim == 0:
        raise RuntimeError("cat(): zero-dimensional tensor (at position 0) cannot be concatenated")
    d = normalize_dim(dim, ref.ndim)
    for i, t in enumerate(tensors):
        if t is not ref and not _legacy_empty(t) and (t.ndim != ref.ndim or any(
                a != b for k, (a, b) in enumerate(zip(t.shape, ref.shape)) if k != d)):
            raise RuntimeError(f"cat(): sizes of tensors must match except in dimension {d}: "
                               f"tensor {tensors.index(ref)} has shape {tuple(ref.shape)} but "
                               f"tensor {i} has shape {tuple(t.shape)}")
    if len(tensors) == 1:
        return tensors[0]
    return Cat(d, skip_empty=len(kept) != len(tensors))(*tensors)


def concatenate(tensors, axis=0):
    return cat(tensors, axis)


concat = cat


class Stack(Function):
    uses_inputs = False

    def __init__(self, axis):
        self.axis = axis

    def forward(self, *xs):
        return get_array_module(xs[0]).stack(xs, axis=self.axis)

    def backward(self, gy):
        from .index import getitem
        lead = (slice(None),) * self.axis
        return tuple(getitem(gy, lead + (i,)) if x.requires_grad else None
                     for i, x in enumerate(self.inputs))


def stack(tensors, dim=0):
    """Join equal-shaped tensors along a new dim."""
    tensors = _as_tensor_list(tensors, "stack")
    ref = tensors[0]
    for i, t in enumerate(tensors[1:], 1):
        if t.shape != ref.shape:
            raise RuntimeError(f"stack expects each tensor to be equal size, but got "
                               f"{tuple(ref.shape)} at entry 0 and {tuple(t.shape)} at entry {i}")
    return Stack(normalize_dim(dim, ref.ndim + 1))(*tensors)


def hstack(tensors):
    tensors = [_atleast_1d(t) for t in _as_tensor_list(tensors, "hstack")]
    return cat(tensors, 0 if tensors[0].ndim == 1 else 1)


def vstack(tensors):
    return cat([_atleast_2d(t) for t in _as_tensor_list(tensors, "vstack")], 0)


# --- split / chunk / unbind / narrow -----------------------------------------------------
def _slice_dim(input, d, start, stop):
    from .index import getitem
    return getitem(input, (slice(None),) * d + (slice(start, stop),))


def split(tensor, split_size_or_sections, dim=0):
    """Pieces of ``split_size`` along dim (the last may be smaller), or of the listed sizes."""
    d = normalize_dim(dim, tensor.ndim)
    n = tensor.shape[d]
    if isinstance(split_size_or_sections, (list, tuple)):
        sizes = [int(s) for s in split_size_or_sections]
        if sum(sizes) != n or any(s < 0 for s in sizes):
            raise RuntimeError(f"split_with_sizes expects split_sizes to sum exactly to {n} "
                               f"(input tensor's size at dimension {d} of shape "
                               f"{tuple(tensor.shape)}), but got split_sizes={sizes}")
    else:
        size = int(split_size_or_sections)
        if size <= 0 and not (size == 0 and n == 0):
            raise RuntimeError(f"split expects split_size be non-negative, but got "
                               f"split_size={size}")
        sizes = [min(size, n - s) for s in range(0, n, size)] if n else [0]
    out, start = [], 0
    for s in sizes:
        out.append(_slice_dim(tensor, d, start, start + s))
        start += s
    return tuple(out)


def chunk(input, chunks, dim=0):
    """At most ``chunks`` pieces of equal size (torch's rounding: ceil(n / chunks))."""
    if chunks <= 0:
        raise RuntimeError(f"chunk expects `chunks` to be greater than 0, got: {chunks}")
    n = input.shape[normalize_dim(dim, input.ndim)]
    size = -(-n // chunks)
    if n == 0:
        return tuple(input for _ in range(chunks))
    return split(input, size, dim)


def unbind(input, dim=0):
    """The slices along ``dim``, each without that dim."""
    from .index import getitem
    d = normalize_dim(dim, input.ndim)
    lead = (slice(None),) * d
    return tuple(getitem(input, lead + (i,)) for i in range(input.shape[d]))


def narrow_range(input, dim, start, length, op="narrow"):
    """``(dim, start, stop)`` of ``length`` elements from ``start`` (which may be negative)
    along ``dim``, with torch's bounds check."""
    d = normalize_dim(dim, input.ndim)
    n = input.shape[d]
    start, length = int(start), int(length)
    if start < 0:
        start += n
    if not 0 <= start <= n or length < 0 or start + length > n:
        raise RuntimeError(f"{op}(): start ({start}) + length ({length}) exceeds dimension "
                           f"size ({n}) of dim {d} of shape {tuple(input.shape)}")
    return d, start, start + length


def narrow(input, dim, start, length):
    """``length`` elements along ``dim`` from ``start`` (which may be negative)."""
    return _slice_dim(input, *narrow_range(input, dim, start, length))


# --- flip / roll / movedim ---------------------------------------------------------------
def flip(input, dims):
    """Reverse the order along ``dims`` (a copy, as in torch)."""
    from .index import GetItem
    dims = normalize_dims(dims if isinstance(dims, (tuple, list)) else (dims,), input.ndim) \
        if dims != () and dims != [] else ()
    if not dims:
        return GetItem((), False, copy=True)(input)
    key = tuple(slice(None, None, -1) if i in dims else slice(None) for i in range(input.ndim))
    return GetItem(key, False, copy=True)(input)


def fliplr(input):
    if input.ndim < 2:
        raise RuntimeError(f"fliplr: input must be >= 2-d, got shape {tuple(input.shape)}")
    return flip(input, 1)


def flipud(input):
    if input.ndim < 1:
        raise RuntimeError("flipud: input must be >= 1-d")
    return flip(input, 0)


class Roll(Function):
    uses_inputs = False

    def __init__(self, shifts, dims):
        self.shifts, self.dims = shifts, dims

    def forward(self, x):
        return get_array_module(x).roll(x, self.shifts, axis=self.dims)

    def backward(self, gy):
        neg = -self.shifts if isinstance(self.shifts, int) else tuple(-s for s in self.shifts)
        return Roll(neg, self.dims)(gy)


def roll(input, shifts, dims=None):
    """Shift elements along ``dims`` cyclically (over the flattened tensor when dims is None)."""
    if dims is None:
        if isinstance(shifts, (tuple, list)):
            if len(shifts) != 1:
                raise RuntimeError(f"roll(): shifts {tuple(shifts)} need dims")
            shifts = shifts[0]
        return Roll(int(shifts), None)(input)
    shifts = tuple(int(s) for s in shifts) if isinstance(shifts, (tuple, list)) else (int(shifts),)
    dims = tuple(dims) if isinstance(dims, (tuple, list)) else (dims,)
    if len(shifts) != len(dims):
        raise RuntimeError(f"roll(): shifts and dimensions must align. shifts: {len(shifts)}, "
                           f"dims: {len(dims)}")
    dims = tuple(normalize_dim(d, input.ndim) for d in dims)
    return Roll(shifts, dims)(input)


def movedim(input, source, destination):
    """Move dims ``source`` to positions ``destination``; the others keep their order."""
    src = source if isinstance(source, (tuple, list)) else (source,)
    dst = destination if isinstance(destination, (tuple, list)) else (destination,)
    if len(src) != len(dst):
        raise RuntimeError(f"movedim: Invalid source or destination dims: source ({list(src)} "
                           f"dims) should contain the same number of dims as destination "
                           f"({list(dst)} dims)")
    n = input.ndim
    src = [normalize_dim(d, n) for d in src]
    dst = [normalize_dim(d, n) for d in dst]
    if len(set(src)) != len(src) or len(set(dst)) != len(dst):
        raise RuntimeError(f"movedim: repeated dim in source {src} or destination {dst}")
    order = [None] * n
    for s, d in zip(src, dst):
        order[d] = s
    rest = iter(i for i in range(n) if i not in src)
    return permute(input, tuple(o if o is not None else next(rest) for o in order))


moveaxis = movedim


# --- tril / triu -----------------------------------------------------------------------------
class Tri(Function):
    """Keep the lower (or upper) triangle of the last two dims; the gradient is masked alike."""
    uses_inputs = False

    def __init__(self, lower, k):
        self.lower, self.k = lower, k

    def forward(self, x):
        xp = get_array_module(x)
        return xp.tril(x, self.k) if self.lower else xp.triu(x, self.k)

    def backward(self, gy):
        return Tri(self.lower, self.k)(gy)


def tril(input, diagonal=0):
    if input.ndim < 2:
        raise RuntimeError(f"tril: input tensor must have at least 2 dimensions, got shape "
                           f"{tuple(input.shape)}")
    return Tri(True, int(diagonal))(input)


def triu(input, diagonal=0):
    if input.ndim < 2:
        raise RuntimeError(f"triu: input tensor must have at least 2 dimensions, got shape "
                           f"{tuple(input.shape)}")
    return Tri(False, int(diagonal))(input)


# --- pad -----------------------------------------------------------------------------------
class ConstantPad(Function):
    """Pad (or, for negative amounts, crop) each dim by ``pads[d] = (left, right)``.

    The backward is the opposite padding with zeros: it crops what was added and zero-fills
    what was cropped.
    """
    uses_inputs = False

    def __init__(self, pads, value):
        self.pads, self.value = pads, value

    def forward(self, x):
        xp = get_array_module(x)
        shape = tuple(n + l + r for n, (l, r) in zip(x.shape, self.pads))
        out = xp.full(shape, self.value, dtype=x.dtype)
        src, dst = [], []
        for n, (l, r) in zip(x.shape, self.pads):
            a, b = max(-l, 0), n - max(-r, 0)
            length = max(b - a, 0)
            src.append(slice(a, a + length))
            dst.append(slice(max(l, 0), max(l, 0) + length))
        out[tuple(dst)] = x[tuple(src)]
        return out

    def backward(self, gy):
        return ConstantPad(tuple((-l, -r) for l, r in self.pads), 0)(gy)


def _pad_index(n, left, right, mode, dim, shape):
    """Source positions (into the original dim of size n) of a reflect/replicate/circular
    padded dim; a negative amount crops that side first.

    reflect and replicate map each output position j in [-left, n + right) back into [0, n);
    circular wraps within what is left after cropping (torch's order: crop, then wrap).
    """
    what = (f"pad: padding ({left}, {right}) of dimension {dim} is invalid for mode '{mode}' "
            f"and input of shape {tuple(shape)}")
    if n + left + right <= 0 and mode != "circular" or n == 0:
        raise RuntimeError(f"{what}: the input (size {n}) is too small for it")
    if mode == "circular":
        a, b = max(-left, 0), n - max(-right, 0)
        m = b - a
        if m < 0 or max(left, 0) > m or max(right, 0) > m:
            raise RuntimeError(f"{what}: padding wraps around more than once")
        j = np.arange(-max(left, 0), m + max(right, 0))
        return a + j % m if m else j
    j = np.arange(-left, n + right)
    if mode == "replicate":
        return np.clip(j, 0, n - 1)
    if left >= n or right >= n:
        raise RuntimeError(f"{what}: reflect padding must be smaller than the dimension")
    period = 2 * (n - 1)
    if period == 0:
        return np.zeros_like(j)
    m = j % period
    return np.where(m < n, m, period - m)


def pad(input, pad, mode="constant", value=None):
    """torch.nn.functional.pad: ``pad`` lists (left, right) pairs from the last dim backwards.

    constant pads any number of dims (negative amounts crop). reflect, replicate and circular
    pad the last 1, 2 or 3 dims of a (batched or unbatched) 2-5-D input, as torch does, by
    one gather per padded dim whose index table is built once per device.
    """
    pad = tuple(int(p) for p in pad)
    if len(pad) % 2:
        raise RuntimeError(f"pad: padding length must be divisible by 2, got {pad}")
    if len(pad) // 2 > input.ndim:
        raise RuntimeError(f"pad: padding length should be less than or equal to two times the "
                           f"input dimension but got padding length {len(pad)} and input of "
                           f"shape {tuple(input.shape)}")
    pairs = [(0, 0)] * input.ndim
    for i in range(len(pad) // 2):
        pairs[input.ndim - 1 - i] = (pad[2 * i], pad[2 * i + 1])
    if mode == "constant":
        for d, (n, (l, r)) in enumerate(zip(input.shape, pairs)):
            if n + l + r < 0:
                raise RuntimeError(f"pad: the padding ({l}, {r}) of dimension {d} would give a "
                                   f"negative size for input of shape {tuple(input.shape)}")
        if all(p == (0, 0) for p in pairs):
            return input
        return ConstantPad(tuple(pairs), 0 if value is None else value)(input)
    if mode not in ("reflect", "replicate", "circular"):
        raise NotImplementedError(f"pad: mode '{mode}' is not supported (use constant, reflect, "
                                  f"replicate or circular)")
    if value:
        raise RuntimeError(f"pad: padding mode '{mode}' doesn't take in value argument")
    k = len(pad) // 2
    if not 1 <= k <= 3 or input.ndim not in (k + 1, k + 2):
        raise NotImplementedError(
            f"pad: padding of size {len(pad)} in mode '{mode}' is not supported for a "
            f"{input.ndim}D input of shape {tuple(input.shape)} (supported: 2 pads for 2D/3D, "
            f"4 for 3D/4D, 6 for 4D/5D inputs)")
    from .index import GetItem
    xp = get_array_module(input._data)
    out = input
    for d, (l, r) in enumerate(pairs):
        if l == r == 0:
            continue
        idx = cached_constant(xp, ("pad", input.shape[d], l, r, mode),
                              lambda d=d, l=l, r=r: np.asarray(
                                  _pad_index(input.shape[d], l, r, mode, d, input.shape)))
        out = GetItem((slice(None),) * d + (idx,), True)(out)
    return out


def _view(self, *shape):
    if len(shape) == 1 and not isinstance(shape[0], (int, tuple, list)):
        return self.to(shape[0])  # view(dtype) is not supported: a cast is the closest thing
    return reshape(self, *shape)


def _expand(self, *sizes):
    return broadcast_to(self, *sizes)


def _mT(self):
    return transpose(self, -2, -1)


def swapaxes(input, axis0, axis1):
    """``transpose`` under NumPy's argument names (torch keeps both spellings)."""
    return transpose(input, axis0, axis1)


register_methods(
    reshape=reshape, view=_view, broadcast_to=broadcast_to, expand=_expand, sum_to_size=sum_to,
    permute=permute, transpose=transpose, swapaxes=swapaxes, t=t,
    T=property(lambda self: permute(self, tuple(reversed(range(self.ndim))))),
    mT=property(_mT),
    view_as=lambda self, other: reshape(self, other.shape),
    reshape_as=lambda self, other: reshape(self, other.shape),
    expand_as=lambda self, other: broadcast_to(self, other.shape),
    flatten=flatten, unflatten=unflatten, squeeze=squeeze, unsqueeze=unsqueeze, repeat=repeat,
    tile=lambda self, *dims: tile(self, _shape_arg(dims)), split=split, chunk=chunk,
    unbind=unbind, narrow=narrow, flip=lambda self, *dims: flip(self, _shape_arg(dims)),
    fliplr=fliplr, flipud=flipud, roll=roll, movedim=movedim, moveaxis=movedim, tril=tril,
    triu=triu, tril_=lambda self, diagonal=0: self._apply_inplace(tril, diagonal),
    triu_=lambda self, diagonal=0: self._apply_inplace(triu, diagonal),
)
