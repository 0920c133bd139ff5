"""Splits, rotations and views: select, tensor_split & friends, rot90, swapdims, ravel,
repeat_interleave, Tensor.unfold, unravel_index, as_strided, and the in-place metadata ops
(transpose_, t_, squeeze_, unsqueeze_, swapdims_, swapaxes_).

Everything here is a composition of reshape/permute/flip/slicing (``narae.ops.shape``) or
one ``GetItem`` with an index array (``narae.ops.index``), whose adjoint ``ScatterAdd``
sums the gradient of repeated elements: no op needs a backward of its own, and every
gradient is differentiable again.
"""
import numpy as np

from ..autograd import grad_mode
from ..backend import get_array_module
from ..backend.capture import can_read_back
from ..tensor import Tensor, register_methods
from ._operands import normalize_dim
from .convert import clone
from .index import GetItem, IndexDtypeError, SetItem
from .shape import (broadcast_to, chunk, flip, permute, reshape, split, squeeze, t, transpose,
                    unsqueeze, _slice_dim, narrow_range)

__all__ = ["select", "tensor_split", "hsplit", "vsplit", "dsplit", "split_with_sizes",
           "swapdims", "rot90", "ravel", "narrow_copy", "repeat_interleave", "unravel_index",
           "as_strided", "as_strided_scatter", "unsafe_chunk", "unsafe_split",
           "unsafe_split_with_sizes", "select_copy", "split_with_sizes_copy", "squeeze_copy",
           "unsqueeze_copy", "t_copy", "transpose_copy", "unfold_copy", "as_strided_copy"]


def select(input, dim, index):
    """The slice at ``index`` along ``dim``, without that dim (``x.select(1, 2) == x[:, 2]``)."""
    if input.ndim == 0:
        raise IndexError("select() cannot be applied to a 0-dim tensor.")
    d = normalize_dim(dim, input.ndim)
    n, index = input.shape[d], int(index)
    if not -n <= index < n:
        raise IndexError(f"select(): index {index} out of range for tensor of size "
                         f"{list(input.shape)} at dimension {d}")
    return GetItem((slice(None),) * d + (index % n,), False)(input)


# --- splits ----------------------------------------------------------------------------------
def _int_list(value, op):
    """A Tensor, list or tuple of ints as a Python list (a tensor is read back)."""
    if isinstance(value, Tensor):
        if value._data.dtype.kind not in "iu":
            raise IndexDtypeError(f"{op}(): expected an integer tensor, got {value.dtype}")
        return [int(v) for v in value.tolist()]
    return [int(v) for v in value]


def tensor_split(input, indices_or_sections, dim=0):
    """Views of ``input`` split along ``dim``: into ``sections`` near-equal pieces (the first
    ``n % sections`` one longer), or at the listed indices (Python slicing rules)."""
    if input.ndim == 0:
        raise RuntimeError("tensor_split(): expected at least a 1-dimensional tensor, but got a "
                           "tensor with 0 dims")
    d = normalize_dim(dim, input.ndim)
    n = input.shape[d]
    arg = indices_or_sections
    if isinstance(arg, Tensor):
        if arg._data.dtype.kind not in "iu":
            raise IndexDtypeError(f"tensor_split(): expected tensor_indices_or_sections to have "
                                  f"an integer dtype, got {arg.dtype}")
        if arg.ndim > 1:
            raise RuntimeError(f"tensor_split(): expected tensor_indices_or_sections to be a "
                               f"zero-dimensional or one-dimensional tensor, but got a tensor "
                               f"with {arg.ndim} dims")
        arg = int(arg.item()) if arg.ndim == 0 else _int_list(arg, "tensor_split")
    if isinstance(arg, (list, tuple)):
        bounds = [0] + [int(i) for i in arg] + [None]
        return tuple(_slice_dim(input, d, a, b) for a, b in zip(bounds[:-1], bounds[1:]))
    if isinstance(arg, bool) or not isinstance(arg, (int, np.integer)):
        raise TypeError(f"tensor_split(): indices_or_sections must be an int, a sequence of "
                        f"ints or an integer tensor, got {type(arg).__name__}")
    sections = int(arg)
    if sections <= 0:
        raise RuntimeError(f"tensor_split(): number of sections must be larger than 0, got "
                           f"{sections}")
    size, extra = divmod(n, sections)
    out, start = [], 0
    for i in range(sections):
        stop = start + size + (i < extra)
        out.append(_slice_dim(input, d, start, stop))
        start = stop
    return tuple(out)


def _split_along(input, indices_or_sections, dim, name):
    if isinstance(indices_or_sections, (int, np.integer)) and \
            not isinstance(indices_or_sections, bool):
        n, s = input.shape[dim], int(indices_or_sections)
        if s == 0 or n % s:
            raise RuntimeError(f"torch.{name} attempted to split along dimension {dim}, but the "
                               f"size of the dimension {n} is not divisible by the split_size "
                               f"{s}!")
    return tensor_split(input, indices_or_sections, dim)


def hsplit(input, indices_or_sections):
    """tensor_split along dim 1 (dim 0 for 1-D input); an int must divide the size."""
    if input.ndim < 1:
        raise RuntimeError(f"torch.hsplit requires a tensor with at least 1 dimension, but got "
                           f"a tensor with {input.ndim} dimensions!")
    return _split_along(input, indices_or_sections, 1 if input.ndim > 1 else 0, "hsplit")


def vsplit(input, indices_or_sections):
    """tensor_split along dim 0 of an at least 2-D tensor; an int must divide the size."""
    if input.ndim < 2:
        raise RuntimeError(f"torch.vsplit requires a tensor with at least 2 dimension, but got "
                           f"a tensor with {input.ndim} dimensions!")
    return _split_along(input, indices_or_sections, 0, "vsplit")


def dsplit(input, indices_or_sections):
    """tensor_split along dim 2 of an at least 3-D tensor; an int must divide the size."""
    if input.ndim < 3:
        raise RuntimeError(f"torch.dsplit requires a tensor with at least 3 dimension, but got "
                           f"a tensor with {input.ndim} dimensions!")
    return _split_along(input, indices_or_sections, 2, "dsplit")


def split_with_sizes(input, split_sizes, dim=0):
    """Views of the listed sizes along ``dim`` (they must add up to the dim's size)."""
    return split(input, [int(s) for s in split_sizes], dim)


def unsafe_split(tensor, split_size_or_sections, dim=0):
    """split by one size (narae's views carry no aliasing checks: "unsafe" is the same)."""
    if isinstance(split_size_or_sections, bool) or \
            not isinstance(split_size_or_sections, (int, np.integer)):
        raise TypeError(f"unsafe_split(): argument 'split_size' must be int, not "
                        f"{type(split_size_or_sections).__name__} (use unsafe_split_with_sizes)")
    return split(tensor, split_size_or_sections, dim)


def unsafe_chunk(input, chunks, dim=0):
    return chunk(input, chunks, dim)


def unsafe_split_with_sizes(input, split_sizes, dim=0):
    return split_with_sizes(input, split_sizes, dim)


# --- dims, rotations, copies -------------------------------------------------------------------
def swapdims(input, dim0, dim1):
    """transpose under NumPy's name."""
    return transpose(input, dim0, dim1)


def rot90(input, k=1, dims=(0, 1)):
    """Rotate by k quarter turns in the plane ``dims``, from the first axis towards the second.

    One turn = reverse along dims[1], then swap the two dims; k is taken modulo 4.
    """
    dims = list(dims)
    if len(dims) != 2:
        raise RuntimeError(f"rot90(): expected total rotation dims == 2, but got dims = "
                           f"{len(dims)}")
    if input.ndim < 2:
        raise RuntimeError(f"rot90(): expected total dims >= 2, but got total dims = "
                           f"{input.ndim} (input shape {tuple(input.shape)})")
    d0, d1 = normalize_dim(dims[0], input.ndim), normalize_dim(dims[1], input.ndim)
    if d0 == d1:
        raise RuntimeError(f"rot90(): expected rotation dims to be different, but got dim0 = "
                           f"{dims[0]} and dim1 = {dims[1]}")
    k %= 4
    if k == 1:
        return transpose(flip(input, d1), d0, d1)
    if k == 2:
        return flip(input, (d0, d1))
    if k == 3:
        return transpose(flip(input, d0), d0, d1)
    return GetItem((), False, copy=True)(input)


def ravel(input):
    """The elements as a 1-D tensor, in row-major order."""
    return reshape(input, (-1,))


def narrow_copy(input, dim, start, length):
    """narrow, as a new tensor rather than a view."""
    if input.ndim == 0:
        raise RuntimeError("narrow_copy(): cannot be applied to a 0-dim tensor.")
    d, start, stop = narrow_range(input, dim, start, length, "narrow_copy")
    return GetItem((slice(None),) * d + (slice(start, stop),), False, copy=True)(input)


# --- repeat_interleave ----------------------------------------------------------------------------
def _repeat_index(reps, output_size):
    """``[0]*reps[0] + [1]*reps[1] + ...`` without a Python loop: position j belongs to the
    first run whose end (the running total) exceeds j."""
    xp = get_array_module(reps)
    ends = xp.cumsum(reps)
    total = int(ends[-1]) if output_size is None and ends.size else (output_size or 0)
    if output_size is not None and can_read_back() and ends.size and int(ends[-1]) != total:
        raise RuntimeError(f"repeat_interleave(): output_size {output_size} does not match the "
                           f"sum of repeats {int(ends[-1])}")
    return xp.searchsorted(ends, xp.arange(total, dtype=ends.dtype), side="right")


def repeat_interleave(input, repeats=None, dim=None, *, output_size=None):
    """Repeat each element (slice along ``dim``) ``repeats`` times, in place in the order:
    ``repeat_interleave([a, b], 2) == [a, a, b, b]``. ``repeats`` is an int or a 1-D tensor
    of per-element counts; with ``dim=None`` the input is flattened first.

    ``repeat_interleave(repeats)`` alone returns the indices ``[0]*r0 + [1]*r1 + ...``.
    """
    if repeats is None:  # the repeats-only form
        reps = input
        if not isinstance(reps, Tensor) or reps._data.dtype.kind not in "iu":
            raise RuntimeError("repeat_interleave(): repeats must be an integer tensor")
        if reps.ndim != 1:
            raise RuntimeError(f"repeat_interleave(): only accept 1D vector as repeat, got shape "
                               f"{tuple(reps.shape)}")
        if reps._data.size and can_read_back() and int(reps._data.min()) < 0:
            raise RuntimeError("repeat_interleave(): repeats can not be negative")
        return Tensor(_repeat_index(reps._data, output_size).astype(reps._data.dtype))
    if dim is None:
        input, d = reshape(input, (-1,)), 0
    else:
        d = normalize_dim(dim, input.ndim)
    if input.ndim == 0:
        input = reshape(input, (1,))
    n = input.shape[d]
    if isinstance(repeats, Tensor):
        if repeats._data.dtype.kind not in "iu":
            raise RuntimeError(f"repeat_interleave(): repeats must be an integer tensor, got "
                               f"{repeats.dtype}")
        if repeats.ndim > 1:
            raise RuntimeError(f"repeat_interleave(): only accept 1D vector as repeat, got shape "
                               f"{tuple(repeats.shape)}")
        if repeats.numel() == 1:
            repeats = int(repeats.item())
        else:
            reps = repeats._data
            if reps.shape[0] != n:
                raise RuntimeError(f"repeat_interleave(): repeats must have the same size as "
                                   f"input along dim, but got repeats.size(0) = {reps.shape[0]} "
                                   f"and input.size({d}) = {n}")
            if reps.size and can_read_back() and int(reps.min()) < 0:
                raise RuntimeError("repeat_interleave(): repeats can not be negative")
            xp = get_array_module(input._data)
            if get_array_module(reps) is not xp:
                reps = xp.asarray(reps)
            idx = _repeat_index(reps, output_size)
            return GetItem((slice(None),) * d + (idx,), True)(input)
    r = int(repeats)
    if r < 0:
        raise RuntimeError(f"repeat_interleave(): repeats can not be negative, got {r}")
    if output_size is not None and output_size != n * r:
        raise RuntimeError(f"repeat_interleave(): output_size {output_size} does not match "
                           f"{n} elements repeated {r} times")
    # a new axis after d, broadcast to r, merged back: the gradient sums over the copies
    shape = tuple(input.shape)
    wide = broadcast_to(reshape(input, shape[:d + 1] + (1,) + shape[d + 1:]),
                        shape[:d + 1] + (r,) + shape[d + 1:])
    return reshape(wide, shape[:d] + (n * r,) + shape[d + 1:])


# --- windows and strides ------------------------------------------------------------------------
def unfold(self, dimension, size, step):
    """All windows of ``size`` elements, ``step`` apart, along ``dimension``: that dim
    becomes the window count ``(n - size) // step + 1`` and a new last dim of ``size``
    holds each window. The gradient of overlapping windows adds up."""
    if self.ndim == 0:
        self = reshape(self, (1,))
        squeeze_out = True
    else:
        squeeze_out = False
    d = normalize_dim(dimension, self.ndim)
    n, size, step = self.shape[d], int(size), int(step)
    if size > n:
        raise RuntimeError(f"unfold(): maximum size for tensor at dimension {d} is {n} but size "
                           f"is {size} (input shape {tuple(self.shape)})")
    if size < 0:
        raise RuntimeError(f"unfold(): size is {size} but must be >= 0")
    if step <= 0:
        raise RuntimeError(f"unfold(): step is {step} but must be > 0")
    xp = get_array_module(self._data)
    count = (n - size) // step + 1
    idx = xp.arange(count)[:, None] * step + xp.arange(size)[None, :]
    out = GetItem((slice(None),) * d + (idx,), True)(self)  # (..., count, size, rest...)
    if squeeze_out:
        return reshape(out, (size,))
    order = list(range(out.ndim))
    order.append(order.pop(d + 1))
    return permute(out, order)


def _dense_order(a):
    """Dims of array ``a`` from the slowest-varying in memory to the fastest, or None if its
    elements do not fill one gap-free block (a broadcast, a strided slice, negative strides)."""
    item = a.itemsize
    dims = [i for i in range(a.ndim) if a.shape[i] != 1]
    if any(a.strides[i] <= 0 or a.strides[i] % item for i in dims):
        return None
    dims.sort(key=lambda i: a.strides[i])
    expect = item
    for i in dims:
        if a.strides[i] != expect:
            return None
        expect *= a.shape[i]
    ones = [i for i in range(a.ndim) if a.shape[i] == 1]
    return ones + dims[::-1]


def _strided_positions(input, size, stride, storage_offset, op):
    """(input's memory order of dims, the storage position of every output element)."""
    size, stride = [int(s) for s in size], [int(s) for s in stride]
    if len(size) != len(stride):
        raise RuntimeError(f"{op}(): mismatch in length of strides and shape: size {size}, "
                           f"stride {stride}")
    if any(s < 0 for s in stride):
        raise RuntimeError(f"{op}(): Negative strides are not supported at the moment, got "
                           f"strides: {stride}")
    if any(s < 0 for s in size):
        raise RuntimeError(f"{op}(): negative size in {size}")
    offset = 0 if storage_offset is None else int(storage_offset)
    order = _dense_order(input._data)
    if order is None:
        raise RuntimeError(f"{op}(): input of shape {tuple(input.shape)} with strides "
                           f"{tuple(s // input._data.itemsize for s in input._data.strides)} "
                           f"does not fill its memory; call .contiguous() first")
    numel = input.numel()
    if all(size):
        need = offset + sum((n - 1) * s for n, s in zip(size, stride)) + 1
        if need > numel:
            raise RuntimeError(f"{op}(): sizes {size}, strides {stride}, storage offset "
                               f"{offset} need a storage of {need} elements, but input of shape "
                               f"{tuple(input.shape)} has {numel}")
    xp = get_array_module(input._data)
    flat = xp.full((1,) * len(size), offset, dtype=np.int64)
    for k, (n, s) in enumerate(zip(size, stride)):
        view = [1] * len(size)
        view[k] = n
        flat = flat + xp.arange(n, dtype=np.int64).reshape(view) * s
    return order, xp.broadcast_to(flat, tuple(size))


def as_strided(input, size, stride, storage_offset=None):
    """A tensor of shape ``size`` whose element ``i`` is storage element
    ``storage_offset + sum(i[k] * stride[k])``, storage being input's elements in memory order.

    narae has no storage object: input must fill its memory without gaps (contiguous, or a
    permutation of contiguous such as a transpose), and the offset counts from input's first
    element. The result is a copy (not a view); its gradient sums over elements read twice.
    """
    order, flat = _strided_positions(input, size, stride, storage_offset, "as_strided")
    return GetItem((flat,), True)(reshape(permute(input, order), (-1,)))


def as_strided_scatter(input, src, size, stride, storage_offset=None):
    """``input`` with the elements ``as_strided(input, size, stride, storage_offset)`` would
    read replaced by ``src`` (same storage conventions as as_strided)."""
    order, flat = _strided_positions(input, size, stride, storage_offset, "as_strided_scatter")
    if tuple(src.shape) != tuple(flat.shape):
        raise RuntimeError(f"as_strided_scatter(): expected src to have a size equal to the "
                           f"slice of self. src size = {list(src.shape)}, slice size = "
                           f"{list(flat.shape)}")
    if src._data.dtype != input._data.dtype:
        src = src.to(input.dtype)
    moved = permute(input, order)
    out = SetItem((flat,), True)(reshape(moved, (-1,)), src)
    return permute(reshape(out, moved.shape), tuple(int(i) for i in np.argsort(order)))


def unravel_index(indices, shape):
    """Flat indices into ``shape`` as a tuple of coordinate tensors (one per dim); indices
    wrap with floor-modulo arithmetic, as torch's do."""
    if not isinstance(indices, Tensor):
        raise TypeError(f"unravel_index(): expected 'indices' to be a Tensor, got "
                        f"{type(indices).__name__}")
    if indices._data.dtype.kind not in "iu":
        raise TypeError(f"unravel_index(): expected 'indices' to be integer dtype, but got "
                        f"{indices.dtype}")
    shape = (int(shape),) if isinstance(shape, (int, np.integer)) else tuple(int(s) for s in shape)
    if any(s < 0 for s in shape):
        raise ValueError(f"unravel_index(): 'shape' cannot have negative values, but got "
                         f"{shape}")
    xp = get_array_module(indices._data)
    rest = indices._data.astype(np.int64)
    coords = []
    for s in reversed(shape):
        if s == 0:
            coords.append(xp.zeros_like(rest))
            continue
        coords.append(rest % s)
        rest = rest // s
    return tuple(Tensor(c) for c in reversed(coords))


# --- *_copy: the view ops as new tensors -----------------------------------------------------------
def select_copy(input, dim, index):
    return clone(select(input, dim, index))


def split_with_sizes_copy(input, split_sizes, dim=0):
    return [clone(p) for p in split_with_sizes(input, split_sizes, dim)]


def squeeze_copy(input, dim=None):
    return clone(squeeze(input, dim))


def unsqueeze_copy(input, dim):
    return clone(unsqueeze(input, dim))


def t_copy(input):
    return clone(t(input))


def transpose_copy(input, dim0, dim1):
    return clone(transpose(input, dim0, dim1))


def unfold_copy(input, dimension, size, step):
    return unfold(input, dimension, size, step)  # (already a new tensor)


def as_strided_copy(input, size, stride, storage_offset=None):
    return as_strided(input, size, stride, storage_offset)  # (already a new tensor)


# --- in-place metadata changes ------------------------------------------------------------------
def _inplace_view(self, op, *args):
    """Make ``self`` the result of the view op ``op`` (transpose_, squeeze_...): the array
    (or the graph node) is replaced, the shape may change; views of the old one keep theirs."""
    self._check_inplace()
    if grad_mode.state.enabled and self.requires_grad:
        out = op(self._previous(), *args)
        self._creator, self._out_idx, self._gen = out._creator, out._out_idx, out._gen
    else:
        with grad_mode.no_grad():
            out = op(self, *args)
    self._data = out._data
    self._version[0] += 1
    return self


register_methods(
    select=select, tensor_split=tensor_split, hsplit=hsplit, vsplit=vsplit, dsplit=dsplit,
    split_with_sizes=split_with_sizes, unsafe_split=unsafe_split, unsafe_chunk=unsafe_chunk,
    unsafe_split_with_sizes=unsafe_split_with_sizes, swapdims=swapdims,
    rot90=rot90, ravel=ravel, narrow_copy=narrow_copy, repeat_interleave=repeat_interleave,
    unfold=unfold, as_strided=as_strided, as_strided_scatter=as_strided_scatter,
    as_strided_=lambda self, size, stride, storage_offset=None:
        _inplace_view(self, as_strided, size, stride, storage_offset),
    transpose_=lambda self, dim0, dim1: _inplace_view(self, transpose, dim0, dim1),
    swapdims_=lambda self, dim0, dim1: _inplace_view(self, transpose, dim0, dim1),
    swapaxes_=lambda self, axis0, axis1: _inplace_view(self, transpose, axis0, axis1),
    t_=lambda self: _inplace_view(self, t),
    squeeze_=lambda self, dim=None: _inplace_view(self, squeeze, dim),
    unsqueeze_=lambda self, dim: _inplace_view(self, unsqueeze, dim),
)
