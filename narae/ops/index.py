"""Indexing: ``x[key]``, ``x[key] = v``, gather/scatter, index_select, masked ops, sort, topk.

Most ops here reduce to two Functions:
  ``GetItem(key)``    -- ``x[key]`` on the raw array (basic or advanced NumPy indexing);
  ``ScatterAdd(key)`` -- zeros with values added at ``key`` (its adjoint).
gather, index_select, masked_select, take_along_dim, sort/topk values... build a key and
use GetItem, so they share one backward. Without a graph being recorded that backward is a
``SparseGrad`` (the engine scatters all of them into one buffer per tensor: no full-size
zero gradient per slice); with ``create_graph`` it is a ScatterAdd node, differentiable again.
"""
import collections

import numpy as np

from .. import _dtype
from ..autograd import grad_mode
from ..autograd.function import Function
from ..autograd.sparse import SparseGrad
from ..backend import get_array_module, device_of
from ..backend.constants import scalar
from ..backend.arrays import DeviceMismatchError
from ..tensor import Tensor, register_methods
from ._operands import normalize_dim
from .shape import broadcast_to, reshape

__all__ = ["gather", "scatter", "scatter_add", "index_select", "index_add", "masked_fill",
           "masked_select", "take_along_dim", "sort", "argsort", "topk", "kthvalue", "nonzero",
           "argwhere", "one_hot"]


class IndexDtypeError(IndexError, RuntimeError, TypeError):
    """An index tensor of a dtype that cannot index (float...): torch raises IndexError for
    ``x[idx]`` and RuntimeError for gather & co; this is both."""


# --- raw-array helpers -------------------------------------------------------------------
def _add_at(xp, buf, key, values):
    """``buf[key] += values`` accumulating over repeated indices."""
    if xp is np:
        np.add.at(buf, key, values)
    else:  # CuPy: scatter_add is its add.at
        import cupyx
        if buf.dtype.kind == "c":  # (CUDA has no complex atomicAdd: the parts one by one)
            values = xp.asarray(values, dtype=buf.dtype)
            cupyx.scatter_add(buf.real, key, values.real)
            cupyx.scatter_add(buf.imag, key, values.imag)
            return
        cupyx.scatter_add(buf, key, values)


_BASIC = (int, slice, type(None), type(Ellipsis))


def _is_basic(key):
    if type(key) is tuple:
        for k in key:
            if type(k) not in _BASIC:
                return False
        return True
    return type(key) in _BASIC


def _index_array(value, xp, op):
    """An index given as a Tensor, array or list -> an int or bool array on ``xp``."""
    if isinstance(value, Tensor):
        arr = value._data
    elif isinstance(value, (list, tuple)):
        arr = np.asarray([v._data if isinstance(v, Tensor) else v for v in value]) \
            if any(isinstance(v, Tensor) for v in value) else np.asarray(value)
        if arr.size == 0 and arr.dtype.kind == "f":
            arr = arr.astype(np.int64)  # x[[]] selects nothing
    else:
        arr = value
    if arr.dtype.kind not in "iub":
        raise IndexDtypeError(f"{op}: tensors used as indices must be long, int or bool tensors, "
                              f"got {_dtype.from_numpy_dtype(arr.dtype)}")
    if get_array_module(arr) is xp:
        return arr
    if xp is np:  # a device index for a host tensor (np.asarray would raise): torch refuses it too
        raise DeviceMismatchError(f"{op}: indices should be either on cpu or on the same device "
                                  f"as the indexed tensor (cpu), got indices on {device_of(arr)}")
    return xp.asarray(arr)  # host indices for a device tensor are copied over, as torch does


def _normalize_key(x, key):
    """Key -> (array-level key tuple, has_int_arrays); validates dtypes, masks and ranges."""
    xp = get_array_module(x._data)
    if type(key) is not tuple:
        key = (key,)
    out, advanced = [], False
    for k in key:
        if type(k) in _BASIC:
            out.append(k)
        elif isinstance(k, slice):  # slice with Tensor/np ints
            out.append(slice(*(None if v is None else int(v) for v in (k.start, k.stop, k.step))))
        elif isinstance(k, (bool, np.bool_)):
            out.append(xp.asarray(bool(k)))
        elif isinstance(k, (int, np.integer)):
            out.append(int(k))
        else:
            a = _index_array(k, xp, "index")
            if a.dtype.kind != "b":
                advanced = True
            out.append(a)
    # which input dimension each entry indexes, to check masks and ranges with clear messages
    consumed = sum(0 if k is None or k is Ellipsis else
                   (k.ndim if hasattr(k, "dtype") and k.dtype.kind == "b" else 1) for k in out)
    if consumed > x.ndim:
        raise IndexError(f"too many indices for tensor of dimension {x.ndim} "
                         f"(got {consumed} for shape {tuple(x.shape)})")
    dim = 0
    for k in out:
        if k is None:
            continue
        if k is Ellipsis:
            dim += x.ndim - consumed
            continue
        if hasattr(k, "dtype") and k.dtype.kind == "b":
            want = x.shape[dim:dim + k.ndim]
            if k.shape != want:
                raise IndexError(f"The shape of the mask {list(k.shape)} at index {dim} does not "
                                 f"match the shape of the indexed tensor {list(x.shape)}")
            dim += k.ndim
            continue
        if hasattr(k, "dtype") and xp is not np and k.size:  # NumPy checks; CuPy would wrap
            lo, hi = int(k.min()), int(k.max())
            n = x.shape[dim]
            if lo < -n or hi >= n:
                bad = hi if hi >= n else lo
                raise IndexError(f"index {bad} is out of bounds for dimension {dim} with size {n}")
        dim += 1
    return tuple(out), advanced


class _TwoStep:
    """A key mixing Python ints with index arrays, applied as torch does: the ints first (as
    selects, a basic view), then the rest. NumPy would count the ints as advanced indices,
    which moves the result's advanced dimensions: ``x[0, :, idx]`` is (k, B) in NumPy but
    (B, k) in torch."""
    __slots__ = ("first", "rest")

    def __init__(self, first, rest):
        self.first, self.rest = first, rest


def _split_ints(key):
    """``key`` as a _TwoStep when it mixes Python ints with index arrays, else unchanged."""
    def scalar_int(k):  # torch reads a 0-d integer tensor index as an int
        return type(k) is int or (hasattr(k, "dtype") and k.ndim == 0 and k.dtype.kind in "iu")
    if not any(scalar_int(k) for k in key) or \
            not any(hasattr(k, "dtype") and k.ndim for k in key):
        return key
    first, rest = [], []
    for k in key:
        if scalar_int(k):
            first.append(int(k))
            continue
        rest.append(k)
        if k is Ellipsis:
            first.append(k)
        elif hasattr(k, "dtype"):
            first.extend([slice(None)] * (k.ndim if k.dtype.kind == "b" else 1))
        elif k is not None:
            first.append(slice(None))
    return _TwoStep(tuple(first), tuple(rest))


def _at(a, key):
    """``a[key]``: a view of ``a`` for the first step of a _TwoStep key, then the rest."""
    if type(key) is _TwoStep:
        return a[key.first], key.rest
    return a, key


def _fit_value(target, v):
    """Drop leading size-1 dims of an assigned value beyond the target's rank (torch allows
    ``x[1] = t`` with t of shape (1,); NumPy refuses a sequence for one element)."""
    if getattr(v, "ndim", 0) and v.shape[0] == 1 and v.ndim > target.ndim:
        k = 0
        while k < v.ndim - target.ndim and v.shape[k] == 1:
            k += 1
        v = v.reshape(v.shape[k:])
    return v


class GetItem(Function):
    """``x[key]``. ``advanced``: the key holds integer arrays, so indices may repeat."""
    uses_inputs = False

    def __init__(self, key, advanced=False, copy=False):
        self.key, self.advanced, self.copy = key, advanced, copy

    def forward(self, x):
        self.in_shape, self.dtype = x.shape, x.dtype
        a, key = _at(x, self.key)
        y = a[key]
        return y.copy() if self.copy else y

    def backward(self, gy):
        if not grad_mode.state.enabled and type(self.key) is not _TwoStep:
            return SparseGrad(self.in_shape, self.dtype, get_array_module(gy._data), self.key,
                              gy._data, repeated=self.advanced)
        return ScatterAdd(self.key, self.in_shape, self.advanced)(gy)


class ScatterAdd(Function):
    """Zeros of ``shape`` with the input added at ``key`` (GetItem's adjoint)."""
    uses_inputs = False

    def __init__(self, key, shape, advanced):
        self.key, self.shape, self.advanced = key, shape, advanced

    def forward(self, g):
        xp = get_array_module(g)
        buf = xp.zeros(self.shape, g.dtype)
        view, key = _at(buf, self.key)
        if self.advanced:
            _add_at(xp, view, key, g)
        else:
            view[key] = g
        return buf

    def backward(self, gg):
        return GetItem(self.key, self.advanced)(gg)


class ZeroAt(Function):
    """A copy with the positions at ``key`` set to 0: the gradient of what setitem overwrote."""
    uses_inputs = False

    def __init__(self, key):
        self.key = key

    def forward(self, g):
        out = g.copy()
        view, key = _at(out, self.key)
        view[key] = 0
        return out

    def backward(self, gg):
        return ZeroAt(self.key)(gg)


class SetItem(Function):
    """``x[key] = v`` out of place: a copy of x with v written at key."""
    uses_inputs = False

    def __init__(self, key, advanced):
        self.key, self.advanced = key, advanced

    def forward(self, x, v):
        out = x.copy()
        view, key = _at(out, self.key)
        if getattr(v, "ndim", 0) and v.shape[0] == 1:
            v = _fit_value(view[key], v)
        view[key] = v
        return out

    def backward(self, gy):
        x, v = self.inputs
        gx = ZeroAt(self.key)(gy) if x.requires_grad else None
        gv = None
        if v.requires_grad:
            gv = GetItem(self.key, self.advanced)(gy)
            if gv.ndim < v.ndim:  # v had extra leading 1s, which assignment drops
                gv = reshape(gv, (1,) * (v.ndim - gv.ndim) + tuple(gv.shape))
        return gx, gv


# --- __getitem__ / __setitem__ -----------------------------------------------------------
def getitem(self, key):
    """``self[key]`` with NumPy's (= torch's) basic and advanced indexing rules."""
    if _is_basic(key):
        advanced = False
    else:
        key, advanced = _normalize_key(self, key)
        key = _split_ints(key)
    try:
        return GetItem(key, advanced)(self)
    except IndexError as e:
        raise IndexError(f"index: {e} (tensor of shape {tuple(self.shape)})") from None


def setitem(self, key, value):
    """``self[key] = value`` in place; inside a graph, an out-of-place SetItem taken over."""
    xp = get_array_module(self._data)
    if _is_basic(key):
        advanced = False
    else:
        key, advanced = _normalize_key(self, key)
        key = _split_ints(key)
    dtype = self._data.dtype
    v_grad = isinstance(value, Tensor) and value.requires_grad
    if grad_mode.state.enabled and (self.requires_grad or v_grad):
        if isinstance(value, Tensor):
            v = value if value._data.dtype == dtype else value.to(self.dtype)
        else:
            v = Tensor(scalar(xp, value, dtype) if isinstance(value, (int, float, bool))
                       else xp.asarray(value, dtype=dtype))
        self._check_inplace()
        try:
            out = SetItem(key, advanced)(self._previous(), v)
        except IndexError as e:
            raise IndexError(f"index assignment: {e} (tensor of shape {tuple(self.shape)})") \
                from None
        self._take_over(out)
        return
    v = value._data if isinstance(value, Tensor) else value
    try:
        view, k = _at(self._data, key)
        if getattr(v, "ndim", 0) and v.shape[0] == 1:
            v = _fit_value(view[k], v)
        view[k] = v
    except IndexError as e:
        raise IndexError(f"index assignment: {e} (tensor of shape {tuple(self.shape)})") from None
    self._version[0] += 1


# --- gather / scatter / index_select -----------------------------------------------------
def _check_index(index, op):
    if not isinstance(index, Tensor):
        raise TypeError(f"{op}(): index must be a Tensor, got {type(index).__name__}")
    if index._data.dtype.kind not in "iu":
        raise IndexDtypeError(f"{op}(): expected an int64 or int32 index tensor, got "
                              f"{index.dtype}")
    return index._data


def _check_range(idx, size, op, dim):
    if idx.size:
        lo, hi = int(idx.min()), int(idx.max())
        if lo < 0 or hi >= size:
            raise IndexError(f"{op}(): index {hi if hi >= size else lo} is out of bounds for "
                             f"dimension {dim} with size {size}")


def _along_dim_key(idx, dim, xp):
    """The advanced key that picks ``idx`` along ``dim`` and position i elsewhere."""
    key = []
    for d, n in enumerate(idx.shape):
        if d == dim:
            key.append(idx)
        else:
            shape = [1] * idx.ndim
            shape[d] = n
            key.append(xp.arange(n).reshape(shape))
    return tuple(key)


def _check_same_ndim(input, index, op, name="index"):
    if index.ndim != input.ndim and not (input.ndim == 0 and index.ndim <= 1):
        raise RuntimeError(f"{op}(): {name} of shape {tuple(index.shape)} must have the same "
                           f"number of dimensions as input of shape {tuple(input.shape)}")


def _gather_key(input, dim, index, op):
    idx = _check_index(index, op)
    _check_same_ndim(input, index, op)
    dim = normalize_dim(dim, input.ndim)
    if input.ndim == 0:
        _check_range(idx, 1, op, dim)
        return dim, (), idx
    for d, (i, n) in enumerate(zip(idx.shape, input.shape)):
        if d != dim and i > n:
            raise RuntimeError(f"{op}(): index of shape {tuple(idx.shape)} is larger than input "
                               f"of shape {tuple(input.shape)} outside dimension {dim}")
    _check_range(idx, input.shape[dim], op, dim)
    return dim, _along_dim_key(idx, dim, get_array_module(idx)), idx


def gather(input, dim, index, *, sparse_grad=False):
    """``out[i][j] = input[index[i][j]][j]`` (dim=0); index may be smaller than input."""
    dim, key, idx = _gather_key(input, dim, index, "gather")
    if input.ndim == 0:  # a 0-d input is gathered as a 1-element vector
        return GetItem((idx,), True)(reshape(input, (1,)))
    return GetItem(key, True)(input)


def _src_region(src, shape, op):
    """``src`` cut to the index's shape (scatter only reads that corner of src)."""
    if tuple(src.shape) == tuple(shape):
        return src
    if src.ndim != len(shape) or any(s < n for s, n in zip(src.shape, shape)):
        raise RuntimeError(f"{op}(): src of shape {tuple(src.shape)} is smaller than index of "
                           f"shape {tuple(shape)}")
    return getitem(src, tuple(slice(0, n) for n in shape))


def scatter(input, dim, index, src=None, *, value=None, reduce=None):
    """A copy of input with ``src`` (or ``value``) written at ``index`` along ``dim``."""
    if reduce is not None:
        if src is not None and not isinstance(src, Tensor):
            src, value = None, src  # scatter(input, dim, index, 2.0, reduce=...)
        src = src if src is not None else _full_like_index(input, index, value)
        if reduce == "add":
            return scatter_add(input, dim, index, src)
        if reduce == "multiply":
            from .scatter import scatter_reduce
            return scatter_reduce(input, dim, index, src, "prod")
        raise RuntimeError("reduce argument must be either add or multiply.")
    if src is None and value is None:
        raise TypeError("scatter(): expected src or value")
    if src is not None and not isinstance(src, Tensor):
        src, value = None, src  # scatter(input, dim, index, 1.5)
    dim, key, idx = _gather_key(input, dim, index, "scatter")
    if src is None:
        src = _full_like_index(input, index, value)
    else:
        src = _src_region(src, idx.shape, "scatter")
        if src._data.dtype != input._data.dtype:
            src = src.to(input.dtype)
    if input.ndim == 0:
        key = ()
        src = reshape(src, ())
    return SetItem(key, True)(input, src)


def _full_like_index(input, index, value):
    xp = get_array_module(input._data)
    return Tensor(xp.full(index.shape, value, dtype=input._data.dtype))


def scatter_add(input, dim, index, src):
    """input plus ``src`` summed into the positions ``index`` names along ``dim``."""
    dim, key, idx = _gather_key(input, dim, index, "scatter_add")
    src = _src_region(src, idx.shape, "scatter_add")
    if input.ndim == 0:
        return input + reshape(src, ()).sum() if src.numel() else input
    return input + ScatterAdd(key, tuple(input.shape), True)(src)


def _dim_key(input, dim, index, op):
    """Key selecting ``index`` (1-D) along ``dim``."""
    idx = _check_index(index, op)
    if idx.ndim > 1:
        raise IndexError(f"{op}(): index should have 0 or 1 dimensions, got shape "
                         f"{tuple(idx.shape)}")
    dim = normalize_dim(dim, input.ndim)
    size = input.shape[dim] if input.ndim else 1
    _check_range(idx, size, op, dim)
    return dim, (slice(None),) * dim + (idx.reshape(-1),)


def index_select(input, dim, index):
    dim, key = _dim_key(input, dim, index, "index_select")
    if input.ndim == 0:  # a 0-d input stays 0-d (its one element, picked by a 1-element index)
        return reshape(GetItem(key, True)(reshape(input, (1,))), ())
    return GetItem(key, True)(input)


def index_add(input, dim, index, source, *, alpha=1):
    """input with ``alpha * source`` slices added at ``index`` along ``dim`` (repeats add up)."""
    dim, key = _dim_key(input, dim, index, "index_add")
    expect = list(input.shape)
    if input.ndim:
        expect[dim] = key[-1].shape[0]
    if tuple(source.shape) != tuple(expect) and not (input.ndim == 0 and source.numel() == 1):
        raise RuntimeError(f"index_add(): source of shape {tuple(source.shape)} does not match "
                           f"input of shape {tuple(input.shape)} with {len(key[-1])} indices "
                           f"along dim {dim} (expected {tuple(expect)})")
    if alpha != 1:
        source = source * alpha
    if input.ndim == 0:
        return input + reshape(source, ())
    return input + ScatterAdd(key, tuple(input.shape), True)(source)


def take_along_dim(input, indices, dim=None):
    """Like gather, but the index broadcasts against input (NumPy's take_along_axis)."""
    idx = _check_index(indices, "take_along_dim")
    if dim is None:
        input = reshape(input, (-1,))
        idx = idx.reshape(-1)
        dim = 0
    dim = normalize_dim(dim, input.ndim)
    if idx.ndim != input.ndim:
        raise RuntimeError(f"take_along_dim(): input of shape {tuple(input.shape)} and indices "
                           f"of shape {tuple(idx.shape)} must have the same number of dims")
    shape = list(np.broadcast_shapes(tuple(s for d, s in enumerate(input.shape) if d != dim),
                                     tuple(s for d, s in enumerate(idx.shape) if d != dim)))
    in_shape, idx_shape = list(shape), list(shape)
    in_shape.insert(dim, input.shape[dim])
    idx_shape.insert(dim, idx.shape[dim])
    xp = get_array_module(idx)
    idx = xp.broadcast_to(idx, idx_shape)
    _check_range(idx, input.shape[dim], "take_along_dim", dim)
    return GetItem(_along_dim_key(idx, dim, xp), True)(broadcast_to(input, in_shape))


# --- masks -------------------------------------------------------------------------------
def _mask_array(mask, op):
    if not isinstance(mask, Tensor) or mask._data.dtype.kind != "b":
        got = mask.dtype if isinstance(mask, Tensor) else type(mask).__name__
        raise IndexDtypeError(f"{op}: expected a bool mask tensor, got {got}")
    return mask


def masked_fill(input, mask, value):
    """``value`` where mask is True, else input (mask broadcasts; value may be a 0-d Tensor)."""
    from .arith import where
    mask = _mask_array(mask, "masked_fill")
    if isinstance(value, Tensor):
        if value.ndim != 0:
            raise RuntimeError(f"masked_fill only supports a 0-dimensional value tensor, but got "
                               f"a tensor of shape {tuple(value.shape)}")
        if value._data.dtype != input._data.dtype:
            value = value.to(input.dtype)
    else:
        value = Tensor(get_array_module(input._data).asarray(value, dtype=input._data.dtype))
    try:  # out of place the result takes the broadcast shape of input and mask, as torch's
        np.broadcast_shapes(tuple(input.shape), tuple(mask.shape))
    except ValueError:
        raise RuntimeError(f"masked_fill: mask of shape {tuple(mask.shape)} does not broadcast "
                           f"with input of shape {tuple(input.shape)}") from None
    return where(mask, value, input)


def _masked_fill_(self, mask, value):
    shape = np.broadcast_shapes(tuple(self.shape), tuple(mask.shape))
    if shape != tuple(self.shape):
        raise RuntimeError(f"masked_fill_: mask of shape {tuple(mask.shape)} does not broadcast "
                           f"to input of shape {tuple(self.shape)}")
    return self._apply_inplace(masked_fill, mask, value)


def masked_select(input, mask):
    """The elements where mask is True, as a 1-D tensor (input and mask broadcast)."""
    mask = _mask_array(mask, "masked_select")
    shape = np.broadcast_shapes(tuple(input.shape), tuple(mask.shape))
    input = broadcast_to(input, shape)
    m = get_array_module(mask._data).broadcast_to(mask._data, shape)
    return GetItem(m, False)(input)


def nonzero(input, *, as_tuple=False):
    """Indices of the non-zero elements: an (n, ndim) int64 tensor, or one 1-D tensor per dim."""
    xp = get_array_module(input._data)
    data = input._data
    if as_tuple:
        idx = xp.nonzero(data.reshape(1) if data.ndim == 0 else data)
        return tuple(Tensor(i.astype(np.int64)) for i in idx)
    if data.ndim == 0:
        return Tensor(xp.zeros((int(bool(data)), 0), dtype=np.int64))
    return Tensor(xp.stack(xp.nonzero(data), axis=1).astype(np.int64))


def argwhere(input):
    return nonzero(input)


# --- sorting -----------------------------------------------------------------------------
SortResult = collections.namedtuple("sort", ["values", "indices"])
TopkResult = collections.namedtuple("topk", ["values", "indices"])
KthvalueResult = collections.namedtuple("kthvalue", ["values", "indices"])


def _argsort_array(x, dim, descending):
    """Stable argsort along ``dim``; descending keeps equal elements in their original order."""
    xp = get_array_module(x)
    if not descending:
        return xp.argsort(x, axis=dim, kind="stable")
    n = x.shape[dim]
    rev = xp.flip(x, axis=dim)
    # sort the reversed array ascending, reverse the order, map positions back
    return (n - 1) - xp.flip(xp.argsort(rev, axis=dim, kind="stable"), axis=dim)


def _take(input, dim, idx):
    """input's values at ``idx`` along ``dim`` (a gather whose gradient scatters back)."""
    xp = get_array_module(idx)
    return GetItem(_along_dim_key(idx, dim, xp), True)(input)


def sort(input, dim=-1, descending=False, stable=False):
    """Sorted values (differentiable) and their int64 indices along ``dim``."""
    if input.ndim == 0:
        xp = get_array_module(input._data)
        return SortResult(GetItem((), False, copy=True)(input),
                          Tensor(xp.zeros((), dtype=np.int64)))
    dim = normalize_dim(dim, input.ndim)
    idx = _argsort_array(input._data, dim, descending).astype(np.int64)
    return SortResult(_take(input, dim, idx), Tensor(idx))


def argsort(input, dim=-1, descending=False, stable=False):
    return sort(input, dim, descending, stable).indices


def topk(input, k, dim=-1, largest=True, sorted=True):
    """The k largest (or smallest) values along ``dim`` and their indices."""
    dim = normalize_dim(dim, input.ndim)
    n = input.shape[dim] if input.ndim else 1
    if not 0 <= k <= n:
        raise RuntimeError(f"topk(): selected index k={k} out of range for dimension {dim} of "
                           f"size {n} (input shape {tuple(input.shape)})")
    if input.ndim == 0:
        return TopkResult(*sort(input))
    xp = get_array_module(input._data)
    idx = _argsort_array(input._data, dim, largest)
    idx = xp.take(idx, xp.arange(k), axis=dim).astype(np.int64)
    return TopkResult(_take(input, dim, idx), Tensor(idx))


def kthvalue(input, k, dim=-1, keepdim=False):
    """The k-th smallest value along ``dim`` (k counts from 1) and its index."""
    dim = normalize_dim(dim, input.ndim)
    n = input.shape[dim] if input.ndim else 1
    if not 1 <= k <= n:
        raise RuntimeError(f"kthvalue(): selected number k={k} out of range for dimension {dim} "
                           f"of size {n} (input shape {tuple(input.shape)})")
    if input.ndim == 0:
        return KthvalueResult(*sort(input))
    xp = get_array_module(input._data)
    idx = xp.take(_argsort_array(input._data, dim, False), xp.asarray([k - 1]), axis=dim)
    idx = idx.astype(np.int64)
    values = _take(input, dim, idx)
    if not keepdim:
        shape = tuple(s for d, s in enumerate(idx.shape) if d != dim)
        values, idx = reshape(values, shape), idx.reshape(shape)
    return KthvalueResult(values, Tensor(idx))


# --- one_hot -----------------------------------------------------------------------------
def one_hot(tensor, num_classes=-1):
    """int64 one-hot encoding along a new last dimension."""
    if tensor._data.dtype != np.int64:
        raise RuntimeError(f"one_hot is only applicable to index tensor of dtype int64, got "
                           f"{tensor.dtype}")
    data = tensor._data
    xp = get_array_module(data)
    if data.size and int(data.min()) < 0:
        raise RuntimeError("one_hot: class values must be non-negative")
    if num_classes == -1:
        if data.size == 0:
            raise RuntimeError("one_hot: can not infer total number of classes from empty tensor")
        num_classes = int(data.max()) + 1
    elif data.size and int(data.max()) >= num_classes:
        raise RuntimeError(f"one_hot: class values must be smaller than num_classes "
                           f"({num_classes}), got {int(data.max())}")
    return Tensor((data[..., None] == xp.arange(num_classes)).astype(np.int64))


register_methods(
    __getitem__=getitem, __setitem__=setitem,
    gather=gather, scatter=scatter, scatter_add=scatter_add, index_select=index_select,
    index_add=index_add, masked_fill=masked_fill, masked_fill_=_masked_fill_,
    masked_select=masked_select, take_along_dim=take_along_dim, sort=sort, argsort=argsort,
    topk=topk, kthvalue=kthvalue, nonzero=nonzero, argwhere=argwhere,
    scatter_=lambda self, dim, index, src=None, *, value=None, reduce=None:
        self._apply_inplace(scatter, dim, index, src, value=value, reduce=reduce),
    scatter_add_=lambda self, dim, index, src: self._apply_inplace(scatter_add, dim, index, src),
    index_add_=lambda self, dim, index, source, *, alpha=1:
        self._apply_inplace(index_add, dim, index, source, alpha=alpha),
)
