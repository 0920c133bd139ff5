"""Index-based writes and reads: index_copy/fill/put/reduce, scatter_reduce, take, put,
masked_scatter and the embeddings select/slice/diagonal_scatter.

Every write here is described by a key ``K``: one integer array per input dim, the arrays
broadcasting to the source's shape, naming where each source element lands. Then

    gather(T)  = GetItem(K)(T)      the values at the targets (source-shaped)
    scatter(V) = ScatterAdd(K)(V)   source-shaped values summed into zeros of input's shape

are each other's adjoints (narae.ops.index), and every gradient below is built from them
and from ``where``, so double backward comes for free. Only prod/amax/amin need array code
of their own (``ScatterReduce``): ``ufunc.at`` on NumPy, CuPy's atomic scatters where they
exist, and elsewhere a segmented scan over the targets sorted into runs.
"""
import numpy as np

from .. import _dtype
from ..autograd.function import Function
from ..backend import get_array_module
from ..backend.capture import can_read_back
from ..tensor import Tensor, register_methods
from ._operands import normalize_dim
from .arith import where
from .index import (GetItem, ScatterAdd, SetItem, IndexDtypeError, _check_index, _check_range,
                    _gather_key, _src_region, _normalize_key, masked_fill)
from .shape import reshape, broadcast_to

__all__ = ["index_copy", "index_fill", "index_put", "index_put_", "index_reduce", "scatter_reduce", "take",
           "put", "masked_scatter", "select_scatter", "slice_scatter", "diagonal_scatter"]


# --- array helpers -------------------------------------------------------------------------
_UFUNC = {"sum": "add", "prod": "multiply", "amax": "maximum", "amin": "minimum"}
# dtypes CuPy has an atomic scatter for (cupyx.scatter_add/max/min with integer indices)
_ATOMIC = {
    "sum": ("scatter_add", {np.dtype(t) for t in (np.float16, np.float32, np.float64, np.int32,
                                                  np.uint32, np.uint64)}),
    "amax": ("scatter_max", {np.dtype(t) for t in (np.float32, np.float64, np.int32, np.uint32,
                                                   np.uint64)}),
    "amin": ("scatter_min", {np.dtype(t) for t in (np.float32, np.float64, np.int32, np.uint32,
                                                   np.uint64)}),
}


def _reduce_at(xp, out, tgt, vals, reduce):
    """``out[tgt[i]] = op(out[tgt[i]], vals[i])`` for all i, repeated targets combining.

    ``out`` is flat and written in place; ``tgt`` and ``vals`` are flat and of one length.
    """
    uf = getattr(xp, _UFUNC[reduce])
    if xp is np:
        uf.at(out, tgt, vals)
        return
    atomic = _ATOMIC.get(reduce)
    if atomic is not None and out.dtype in atomic[1]:
        import cupyx
        getattr(cupyx, atomic[0])(out, tgt, vals)
        return
    if tgt.size == 0:
        return
    # No atomic for this op or dtype: sort the targets into runs, scan each run with the op
    # (Hillis-Steele: log2(n) vectorized steps), then fold each run's total into ``out``.
    order = xp.argsort(tgt, kind="stable")
    t, v = tgt[order], vals[order]
    n, s = t.size, 1
    while s < n:
        v = xp.concatenate([v[:s], xp.where(t[s:] == t[:-s], uf(v[s:], v[:-s]), v[s:])])
        s *= 2
    last = xp.concatenate([t[1:] != t[:-1], xp.ones((1,), dtype=bool)])
    t, v = t[last], v[last]
    out[t] = uf(out[t], v)


def _identity(dtype, reduce):
    """The neutral element of ``reduce`` in ``dtype`` (what include_self=False starts from)."""
    if reduce in ("sum", "mean"):
        return 0
    if reduce == "prod":
        return 1
    if _dtype.is_floating(dtype):
        return -np.inf if reduce == "amax" else np.inf
    if dtype.kind == "b":
        return reduce == "amin"
    info = np.iinfo(dtype)
    return info.min if reduce == "amax" else info.max


def _flat_targets(key, shape, src_shape, xp):
    """The flat (C-order) input position of every source element, as a 1-D int64 array."""
    flat, stride = None, 1
    for k, n in zip(reversed(key), reversed(shape)):
        term = k.astype(np.int64, copy=False) * stride
        flat = term if flat is None else flat + term
        stride *= n
    return xp.broadcast_to(flat, src_shape).reshape(-1)


def _counts(xp, tgt, size, dtype):
    """How many source elements land on each of the ``size`` input positions."""
    cnt = xp.zeros(size, dtype=dtype)
    _reduce_at(xp, cnt, tgt, xp.ones(tgt.shape, dtype=dtype), "sum")
    return cnt


def _dim_index_key(shape, dim, idx, xp):
    """Key sending source[..., j, ...] (j along ``dim``) to input[..., idx[j], ...]."""
    key = []
    for d, n in enumerate(shape):
        view = [1] * len(shape)
        if d == dim:
            view[d] = idx.shape[0]
            key.append(idx.reshape(view))
        else:
            view[d] = n
            key.append(xp.arange(n).reshape(view))
    return tuple(key)


def _dtype_name(dt):
    return str(_dtype.from_numpy_dtype(dt)).replace("narae.", "")


# --- the reductions --------------------------------------------------------------------------
class ScatterReduce(Function):
    """``input`` with the source combined into the positions ``key`` names (flat ``tgt``).

    Forward serves every reduction (for integer tensors, which need no gradient); backward
    exists for prod/amax/amin -- sum and mean are composed from ScatterAdd instead.
    """
    uses_outputs = True

    def __init__(self, key, tgt, reduce, include_self):
        self.key, self.tgt, self.reduce, self.include_self = key, tgt, reduce, include_self

    def forward(self, x, src):
        xp = get_array_module(x)
        out = x.reshape(-1).copy()
        if not self.include_self:
            out[self.tgt] = _identity(x.dtype, self.reduce)
        op = "sum" if self.reduce == "mean" else self.reduce
        _reduce_at(xp, out, self.tgt, src.reshape(-1), op)
        if self.reduce == "mean":
            cnt = _counts(xp, self.tgt, x.size, x.dtype)
            if self.include_self:
                cnt += 1
            cnt[cnt == 0] = 1
            out = out // cnt if x.dtype.kind in "iub" else out / cnt
        return out.reshape(x.shape)

    def _gather(self, t):
        return GetItem(self.key, True)(t)

    def backward(self, gy):
        x, src = self.inputs
        xp = get_array_module(gy._data)
        grads = self._prod_grads(gy, x, src) if self.reduce == "prod" else \
            self._extreme_grads(gy, x, src, xp)
        gx, gs = grads
        if gx is not None and not self.include_self:  # the overwritten values get nothing
            hit = xp.zeros(x._data.size, dtype=bool)
            hit[self.tgt] = True
            gx = where(Tensor(hit.reshape(x.shape)), 0.0, gx)
        return gx, gs

    def _extreme_grads(self, gy, x, src, xp):
        """The gradient is shared evenly by every element (input or source) equal to the
        result at its position: d out / d e = 1 / (number of ties) there."""
        dt = gy._data.dtype
        y = self.output()._data
        val = y.reshape(-1)[self.tgt].reshape(src.shape)
        self_is, src_is = x._data == y, src._data == val
        cnt = self_is.astype(dt).reshape(-1)
        _reduce_at(xp, cnt, self.tgt, src_is.astype(dt).reshape(-1), "sum")
        share = gy / Tensor(xp.maximum(cnt, 1).reshape(x.shape))
        gx = share * Tensor(self_is.astype(dt)) if x.requires_grad else None
        gs = self._gather(share) * Tensor(src_is.astype(dt)) if src.requires_grad else None
        return gx, gs

    def _prod_grads(self, gy, x, src):
        """d out / d e = the product of the other factors at e's position. Without zeros that
        is out / e; with zeros it is recomputed with the zero in question replaced by 1 (a
        single zero in a product keeps a non-zero gradient, as torch defines it)."""
        y = self.output()
        x0, s0 = x._data == 0, src._data == 0
        if not bool(x0.any()) and not bool(s0.any()):
            gx = gy * y / x if x.requires_grad else None
            gs = self._gather(gy * y) / src if src.requires_grad else None
            return gx, gs
        gx = gs = None
        again = ScatterReduce(self.key, self.tgt, "prod", self.include_self)
        if x.requires_grad:
            mx = where(Tensor(x0), 1.0, x)
            gx = gy * again(mx, src) / mx
        if src.requires_grad:
            xp = get_array_module(s0)
            zeros_at = _counts(xp, self.tgt[s0.reshape(-1)], x._data.size, np.int64)
            single = s0 & (zeros_at[self.tgt].reshape(src.shape) == 1)
            single_t = Tensor(single)
            ms = where(single_t, 1.0, src)
            rest = again(x, ms)
            gs = where(single_t, self._gather(gy * rest),
                       self._gather(gy * y) / where(Tensor(s0), 1.0, src))
        return gx, gs


def _reduce_into(input, key, src, reduce, include_self):
    """``input`` with ``src`` reduced into the positions of the key."""
    xp = get_array_module(input._data)
    tgt = _flat_targets(key, input.shape, src.shape, xp)
    if not _dtype.is_floating(input._data.dtype) or reduce in ("prod", "amax", "amin"):
        return ScatterReduce(key, tgt, reduce, include_self)(input, src)
    base = input
    if not include_self:
        hit = xp.zeros(input._data.size, dtype=bool)
        hit[tgt] = True
        base = where(Tensor(hit.reshape(input.shape)), 0.0, input)
    total = base + ScatterAdd(key, tuple(input.shape), True)(src)
    if reduce == "sum":
        return total
    cnt = _counts(xp, tgt, input._data.size, input._data.dtype)
    if include_self:
        cnt += 1
    cnt[cnt == 0] = 1
    return total / Tensor(cnt.reshape(input.shape))


def _check_reduce(reduce, allowed, op):
    if reduce not in allowed:
        raise RuntimeError(f"{op}(): reduce argument must be one of {', '.join(allowed)}, "
                           f"got {reduce!r}")


def _check_same_dtype(input, src, op, name="src"):
    if not isinstance(src, Tensor):
        raise TypeError(f"{op}(): {name} must be a Tensor, got {type(src).__name__}")
    if src._data.dtype != input._data.dtype:
        raise RuntimeError(f"{op}(): expected self and {name} to have the same dtype, but got "
                           f"{_dtype_name(input._data.dtype)} and {_dtype_name(src._data.dtype)}")


def scatter_reduce(input, dim, index, src, reduce, *, include_self=True):
    """``input`` with ``src[i][j]`` reduced into ``input[index[i][j]][j]`` (dim=0).

    reduce: "sum", "prod", "mean", "amax" or "amin"; include_self=False leaves the old
    values out of the reduction wherever something is scattered. Gradients follow torch:
    amax/amin share among ties, prod divides out the element (exactly, with zeros).
    """
    _check_reduce(reduce, ("sum", "prod", "mean", "amax", "amin"), "scatter_reduce")
    _check_same_dtype(input, src, "scatter_reduce")
    if input.ndim == 0:
        out = scatter_reduce(reshape(input, (1,)), normalize_dim(dim, 0), reshape(index, (-1,)),
                             reshape(src, (-1,)) if src.ndim == 0 else src, reduce,
                             include_self=include_self)
        return reshape(out, ())
    dim, key, idx = _gather_key(input, dim, index, "scatter_reduce")
    src = _src_region(src, idx.shape, "scatter_reduce")
    return _reduce_into(input, key, src, reduce, include_self)


def _dim_index(input, dim, index, op, negative=False):
    """(dim, 1-D index array) for the index_* ops, with torch's checks."""
    idx = _check_index(index, op)
    if idx.ndim > 1:
        raise IndexError(f"{op}(): index should have 0 or 1 dimensions, got shape "
                         f"{tuple(idx.shape)}")
    dim = normalize_dim(dim, input.ndim)
    n = input.shape[dim] if input.ndim else 1
    idx = idx.reshape(-1)
    if negative and idx.size and can_read_back():
        lo, hi = int(idx.min()), int(idx.max())
        if lo < -n or hi >= n:
            raise IndexError(f"{op}(): index {hi if hi >= n else lo} is out of bounds for "
                             f"dimension {dim} with size {n} (input shape {tuple(input.shape)})")
        idx = get_array_module(idx).where(idx < 0, idx + n, idx)
    elif can_read_back():
        _check_range(idx, n, op, dim)
    return dim, idx


def _check_source_shape(input, dim, idx, source, op):
    want = list(input.shape)
    if input.ndim:
        want[dim] = idx.shape[0]
    if list(source.shape) != want and not (input.ndim == 0 and source.numel() == idx.size == 1):
        raise RuntimeError(f"{op}(): source of shape {tuple(source.shape)} does not match input "
                           f"of shape {tuple(input.shape)} with {idx.shape[0]} indices along "
                           f"dim {dim} (expected {tuple(want)})")


def index_reduce(input, dim, index, source, reduce, *, include_self=True):
    """``input`` with slice j of ``source`` along ``dim`` reduced into slice ``index[j]``.

    reduce: "prod", "mean", "amax" or "amin" (index_add is the sum).
    """
    _check_reduce(reduce, ("prod", "mean", "amax", "amin"), "index_reduce")
    _check_same_dtype(input, source, "index_reduce", "source")
    dim, idx = _dim_index(input, dim, index, "index_reduce")
    _check_source_shape(input, dim, idx, source, "index_reduce")
    if input.ndim == 0:
        out = index_reduce(reshape(input, (1,)), 0, index, reshape(source, (1,)), reduce,
                           include_self=include_self)
        return reshape(out, ())
    key = _dim_index_key(input.shape, dim, idx, get_array_module(input._data))
    return _reduce_into(input, key, source, reduce, include_self)


# --- copies and fills along a dim --------------------------------------------------------------
def index_copy(input, dim, index, source):
    """``input`` with slice j of ``source`` along ``dim`` copied to slice ``index[j]``."""
    _check_same_dtype(input, source, "index_copy", "source")
    dim, idx = _dim_index(input, dim, index, "index_copy")
    _check_source_shape(input, dim, idx, source, "index_copy")
    if input.ndim == 0:
        return reshape(SetItem((idx,), True)(reshape(input, (1,)), reshape(source, (1,))), ())
    return SetItem((slice(None),) * dim + (idx,), True)(input, source)


def index_fill(input, dim, index, value):
    """``input`` with the slices ``index`` along ``dim`` set to ``value`` (a number or a
    0-d tensor, whose gradient sums the filled positions; repeated indices count once)."""
    if isinstance(value, Tensor) and value.ndim != 0:
        raise RuntimeError(f"index_fill(): only supports a 0-dimensional value tensor, but got "
                           f"a tensor of shape {tuple(value.shape)}")
    dim, idx = _dim_index(input, dim, index, "index_fill", negative=True)
    xp = get_array_module(input._data)
    n = input.shape[dim] if input.ndim else 1
    hit = xp.zeros(n, dtype=bool)
    hit[idx] = True
    view = [1] * input.ndim
    if input.ndim:
        view[dim] = n
    return masked_fill(input, Tensor(hit.reshape(view)), value)


# --- index_put / take / put --------------------------------------------------------------------
def _indexed_shape(input, key):
    """The shape of ``input[key]``, without reading input (a zero-stride stand-in)."""
    xp = get_array_module(input._data)
    return xp.broadcast_to(xp.zeros((), dtype=bool), input.shape)[key].shape


def index_put(input, indices, values, accumulate=False):
    """``input`` with ``values`` written (or, with accumulate, added; repeats add up) at
    ``input[indices]``; ``indices`` is a tuple of index tensors (None stands for ':')."""
    if not isinstance(indices, (tuple, list)):
        raise TypeError(f"index_put(): indices must be a tuple of Tensors, got "
                        f"{type(indices).__name__}")
    _check_same_dtype(input, values, "index_put", "values")
    for i, k in enumerate(indices):
        if k is not None and not isinstance(k, Tensor):
            raise TypeError(f"index_put(): expected Tensor or None as element {i} of indices, "
                            f"got {type(k).__name__}")
    key, advanced = _normalize_key(input, tuple(slice(None) if k is None else k
                                               for k in indices))
    try:
        if not accumulate:
            return SetItem(key, advanced)(input, values)
        shape = _indexed_shape(input, key)
        v = values
        if v.ndim > len(shape):  # extra leading 1s, as assignment allows
            if any(s != 1 for s in v.shape[:v.ndim - len(shape)]):
                raise RuntimeError(f"index_put(): values of shape {tuple(v.shape)} cannot be "
                                   f"broadcast to the indexed shape {tuple(shape)}")
            v = reshape(v, v.shape[v.ndim - len(shape):])
        v = broadcast_to(v, shape)
        return input + ScatterAdd(key, tuple(input.shape), advanced)(v)
    except IndexError as e:
        raise IndexError(f"index_put(): {e} (tensor of shape {tuple(input.shape)})") from None
    except ValueError as e:  # NumPy's broadcast error on assignment
        raise RuntimeError(f"index_put(): values of shape {tuple(values.shape)} do not fit "
                           f"the indexed shape of input {tuple(input.shape)}: {e}") from None


def index_put_(input, indices, values, accumulate=False):
    """index_put written into ``input`` (returned)."""
    return input._apply_inplace(index_put, indices, values, accumulate)


def _flat_index(input, index, op):
    """``index`` as positions into the flattened input (negatives counted from the end)."""
    idx = _check_index(index, op)
    n = input.numel()
    if idx.size and can_read_back():
        lo, hi = int(idx.min()), int(idx.max())
        if lo < -n or hi >= n:
            raise IndexError(f"{op}(): index {hi if hi >= n else lo} out of range for tensor of "
                             f"{n} elements (shape {tuple(input.shape)})")
    return get_array_module(idx).where(idx < 0, idx + n, idx)


def take(input, index):
    """The elements of the flattened ``input`` at ``index``, in the shape of ``index``."""
    idx = _flat_index(input, index, "take")
    return GetItem((idx,), True)(reshape(input, (-1,)))


def put(input, index, source, accumulate=False):
    """``input`` with ``source``'s elements written (or added) at the flat positions ``index``."""
    _check_same_dtype(input, source, "put", "source")
    idx = _flat_index(input, index, "put").reshape(-1)
    if source.numel() != idx.size:
        raise IndexError(f"put(): expected source and index to have the same number of "
                         f"elements, but got source.numel() = {source.numel()}, "
                         f"index.numel() = {idx.size}")
    flat, src = reshape(input, (-1,)), reshape(source, (-1,))
    if accumulate:
        out = flat + ScatterAdd((idx,), (flat.shape[0],), True)(src)
    else:
        out = SetItem((idx,), True)(flat, src)
    return reshape(out, input.shape)


def masked_scatter(input, mask, source):
    """``input`` with the positions where ``mask`` holds filled, in row-major order, by the
    leading elements of ``source``; input and mask broadcast together."""
    if not isinstance(mask, Tensor) or mask._data.dtype.kind != "b":
        got = mask.dtype if isinstance(mask, Tensor) else type(mask).__name__
        raise IndexDtypeError(f"masked_scatter(): only supports boolean masks, but got mask "
                              f"with dtype {got}")
    _check_same_dtype(input, source, "masked_scatter", "source")
    xp = get_array_module(input._data)
    try:
        shape = np.broadcast_shapes(tuple(input.shape), tuple(mask.shape))
    except ValueError:
        raise RuntimeError(f"masked_scatter(): mask of shape {tuple(mask.shape)} does not "
                           f"broadcast with input of shape {tuple(input.shape)}") from None
    m = xp.broadcast_to(mask._data, shape)
    x = broadcast_to(input, shape)
    # the k-th True position (row-major) takes source's k-th element: its running count - 1
    pos = xp.cumsum(m.reshape(-1)) - 1
    k = source.numel()
    if pos.size and can_read_back():
        need = int(pos[-1]) + 1
        if need > k:
            raise RuntimeError(f"masked_scatter(): number of elements of source ({k}) < number "
                               f"of ones in mask ({need}) (input {tuple(input.shape)}, mask "
                               f"{tuple(mask.shape)})")
    if k == 0:
        return GetItem((), False, copy=True)(x)
    pos = xp.clip(pos, 0, k - 1).reshape(shape)
    vals = GetItem((pos,), True)(reshape(source, (-1,)))
    return where(Tensor(m), vals, x)


# --- embeddings: select/slice/diagonal_scatter -------------------------------------------------
def _embed(input, src, key, advanced, expect, op):
    if tuple(src.shape) != tuple(expect):
        raise RuntimeError(f"{op}(): expected src to have a size equal to the slice of self. "
                           f"src size = {list(src.shape)}, slice size = {list(expect)} (input "
                           f"shape {tuple(input.shape)})")
    if src._data.dtype != input._data.dtype:
        src = src.to(input.dtype)
    return SetItem(key, advanced)(input, src)


def select_scatter(input, src, dim, index):
    """``input`` with ``input.select(dim, index)`` replaced by ``src``."""
    if input.ndim == 0:
        raise IndexError("select_scatter(): cannot be applied to a 0-dim tensor")
    dim = normalize_dim(dim, input.ndim)
    n = input.shape[dim]
    index = int(index)
    if not -n <= index < n:
        raise IndexError(f"select_scatter(): index {index} out of range for tensor of size "
                         f"{list(input.shape)} at dimension {dim}")
    index %= n
    expect = input.shape[:dim] + input.shape[dim + 1:]
    return _embed(input, src, (slice(None),) * dim + (index,), False, expect, "select_scatter")


def slice_scatter(input, src, dim=0, start=None, end=None, step=1):
    """``input`` with ``input[..., start:end:step, ...]`` (along ``dim``) replaced by ``src``."""
    if step <= 0:
        raise RuntimeError(f"slice_scatter(): slice step must be positive, got {step}")
    dim = normalize_dim(dim, input.ndim)
    key = (slice(None),) * dim + (slice(start, end, step),)
    expect = input._data[key].shape
    return _embed(input, src, key, False, expect, "slice_scatter")


def diagonal_scatter(input, src, offset=0, dim1=0, dim2=1):
    """``input`` with its diagonal (``offset``, in the plane ``dim1``, ``dim2``) replaced by
    ``src``, whose last dim runs along the diagonal as torch.diagonal's does."""
    if input.ndim < 2:
        raise RuntimeError(f"diagonal_scatter(): input must have at least 2 dimensions, got "
                           f"shape {tuple(input.shape)}")
    d1, d2 = normalize_dim(dim1, input.ndim), normalize_dim(dim2, input.ndim)
    if d1 == d2:
        raise RuntimeError(f"diagonal_scatter(): diagonal dimensions cannot be identical "
                           f"{dim1}, {dim2}")
    xp = get_array_module(input._data)
    offset = int(offset)
    r1, c2 = max(-offset, 0), max(offset, 0)
    length = max(0, min(input.shape[d1] - r1, input.shape[d2] - c2))
    rest = [d for d in range(input.ndim) if d not in (d1, d2)]
    nd = len(rest) + 1
    key = [None] * input.ndim
    diag = xp.arange(length).reshape((1,) * (nd - 1) + (length,))
    key[d1], key[d2] = diag + r1, diag + c2
    for j, d in enumerate(rest):
        view = [1] * nd
        view[j] = input.shape[d]
        key[d] = xp.arange(input.shape[d]).reshape(view)
    expect = tuple(input.shape[d] for d in rest) + (length,)
    return _embed(input, src, tuple(key), True, expect, "diagonal_scatter")


# --- in-place variants and methods -------------------------------------------------------------
def _masked_scatter_(self, mask, source):
    if isinstance(mask, Tensor):
        try:
            shape = np.broadcast_shapes(tuple(self.shape), tuple(mask.shape))
        except ValueError:
            shape = None
        if shape != tuple(self.shape):
            raise RuntimeError(f"masked_scatter_(): mask of shape {tuple(mask.shape)} must "
                               f"broadcast to the shape of self {tuple(self.shape)}")
    return self._apply_inplace(masked_scatter, mask, source)


register_methods(
    index_copy=index_copy, index_fill=index_fill, index_put=index_put,
    index_reduce=index_reduce, scatter_reduce=scatter_reduce, take=take, put=put,
    masked_scatter=masked_scatter, select_scatter=select_scatter, slice_scatter=slice_scatter,
    diagonal_scatter=diagonal_scatter,
    index_copy_=lambda self, dim, index, source:
        self._apply_inplace(index_copy, dim, index, source),
    index_fill_=lambda self, dim, index, value:
        self._apply_inplace(index_fill, dim, index, value),
    index_put_=index_put_,
    index_reduce_=lambda self, dim, index, source, reduce, *, include_self=True:
        self._apply_inplace(index_reduce, dim, index, source, reduce, include_self=include_self),
    scatter_reduce_=lambda self, dim, index, src, reduce, *, include_self=True:
        self._apply_inplace(scatter_reduce, dim, index, src, reduce, include_self=include_self),
    put_=lambda self, index, source, accumulate=False:
        self._apply_inplace(put, index, source, accumulate),
    masked_scatter_=_masked_scatter_,
)
