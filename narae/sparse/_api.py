"""torch's sparse COO API: construction, conversion, and the ops defined on the COO layout.

Every op here is composed of the primitives in ``_coo`` (pattern <-> values) and narae's
dense ops on the values, so forward, backward and double backward all follow torch's
semantics: the gradient of a sparse input is sparse with that input's pattern.
"""
import numbers

import numpy as np

from .. import _dtype
from ..autograd import grad_mode
from ..backend import get_array_module, as_device, device_of
from ..tensor import Tensor, register_methods
from ..tensor_info import sparse_coo, strided
from ._coo import (SparseCOOArray, SparseTensor, FromValues, ValuesOf, ScatterDense,
                   GatherDense, SegmentSum, Take, ToDeviceSparse, _GatherSparse,
                   coalesce_arrays, _linear)

__all__ = ["sparse_coo_tensor", "sparse_coo", "strided"]


def _is_sparse(t):
    return isinstance(t, Tensor) and type(t._data) is SparseCOOArray


def _need_sparse(t, op):
    if not _is_sparse(t):
        raise RuntimeError(f"{op}: expected a sparse COO tensor, got a dense tensor of shape "
                           f"{tuple(t.shape)}")


def _values(sp_t):
    """The values of ``sp_t`` as a Tensor in the graph (ValuesOf, or the raw array)."""
    if grad_mode.state.enabled and sp_t.requires_grad:
        return ValuesOf()(sp_t)
    return Tensor(sp_t._data.values)


def _make(values, indices, shape, coalesced=False):
    """A SparseTensor with the pattern ``indices`` holding ``values`` (a Tensor)."""
    if grad_mode.state.enabled and values.requires_grad:
        return FromValues(indices, shape, coalesced)(values)
    return SparseTensor(SparseCOOArray(indices, values._data, shape, coalesced))


def _as_index_array(indices, xp_like=None):
    if isinstance(indices, Tensor):
        a = indices._data
    else:
        xp = get_array_module(xp_like) if xp_like is not None else np
        a = xp.asarray(indices)
    if a.dtype.kind not in "iu":
        if a.size == 0:
            a = a.astype(np.int64)
        else:
            raise RuntimeError(f"sparse_coo_tensor: indices must be an int64 tensor, got "
                               f"{a.dtype}")
    return a.astype(np.int64, copy=False)


# -- construction ----------------------------------------------------------------------------
def sparse_coo_tensor(indices, values, size=None, *, dtype=None, device=None, pin_memory=False,
                      requires_grad=False, check_invariants=None, is_coalesced=None):
    """A sparse COO tensor with ``values[k]`` at the position ``indices[:, k]``.

    ``indices`` is (sparse_dim, nnz); ``values`` is (nnz, *dense_dims) (a hybrid tensor when
    it has trailing dims). Without ``size`` each sparse size is the largest index + 1.
    Repeated positions are allowed (uncoalesced): their values add up.
    """
    if isinstance(values, Tensor):
        vt = values
    else:
        from ..creation import tensor as _tensor
        vt = _tensor(values, dtype=dtype)
    if dtype is not None and vt.dtype != _dtype.to_dtype(dtype):
        vt = vt.to(dtype)
    if device is not None and as_device(device) != vt.device:
        vt = vt.to(as_device(device))
    ix = _as_index_array(indices, vt._data)
    if type(ix) is not type(vt._data):
        from ..backend import to_device
        ix = to_device(ix, vt.device)
    if ix.ndim != 2:
        if ix.ndim == 1 and ix.shape[0] == 0:
            ix = ix.reshape(1, 0)
        else:
            raise RuntimeError(f"sparse_coo_tensor: indices must be sparse_dim x nnz, but got: "
                               f"{list(ix.shape)}")
    if vt.ndim == 0:
        raise RuntimeError("sparse_coo_tensor: values must have at least one dimension "
                           "(nnz, *dense_dims)")
    if ix.shape[1] != vt.shape[0]:
        raise RuntimeError(f"sparse_coo_tensor: number of nnz of indices ({ix.shape[1]}) must "
                           f"match the first dimension of values of shape {tuple(vt.shape)}")
    k = ix.shape[0]
    dense_shape = tuple(vt.shape[1:])
    xp = get_array_module(ix)
    if size is None:
        if ix.shape[1]:
            sizes = tuple(int(s) + 1 for s in (ix.max(axis=1)).tolist())
        else:
            sizes = (0,) * k
        shape = sizes + dense_shape
    else:
        shape = tuple(int(s) for s in size)
        if len(shape) != k + len(dense_shape):
            raise RuntimeError(f"sparse_coo_tensor: number of dimensions must be sparse_dim "
                               f"({k}) + dense_dim ({len(dense_shape)}), but got {len(shape)}")
        if shape[k:] != dense_shape:
            raise RuntimeError(f"sparse_coo_tensor: values has dense shape {dense_shape} but "
                               f"size {shape} needs {shape[k:]}")
        if ix.shape[1] and (xp is np or check_invariants):
            lo, hi = ix.min(axis=1).tolist(), ix.max(axis=1).tolist()
            for d in range(k):
                if lo[d] < 0:
                    raise RuntimeError(f"sparse_coo_tensor: found negative index {lo[d]} for "
                                       f"dim {d}")
                if hi[d] >= shape[d]:
                    raise RuntimeError(f"sparse_coo_tensor: size is inconsistent with "
                                       f"indices: for dim {d}, size is {shape[d]} but found "
                                       f"index {hi[d]}")
    coalesced = bool(is_coalesced) if is_coalesced is not None else ix.shape[1] <= 1
    if vt.requires_grad and grad_mode.state.enabled:
        out = FromValues(ix, shape, coalesced)(vt)
    else:
        out = SparseTensor(SparseCOOArray(ix, vt._data, shape, coalesced))
    if requires_grad:
        out.requires_grad_(True)
    return out


def _to_sparse(self, sparse_dim=None, *, layout=None, blocksize=None, dense_dim=None):
    """This tensor in the sparse COO layout (positions whose values are non-zero).

    ``sparse_dim`` leading dims become sparse; the rest stay dense inside the values.
    Differentiable: the gradient of the dense input is the dense form of the sparse grad.
    """
    if layout is not None and layout is not sparse_coo:
        raise NotImplementedError(f"to_sparse: only layout=narae.sparse_coo is supported, got "
                                  f"{layout}")
    if blocksize is not None:
        raise NotImplementedError("to_sparse: blocksize is for block layouts (BSR/BSC), not "
                                  "sparse_coo")
    if _is_sparse(self):
        if sparse_dim is None or sparse_dim == self._data.sparse_dim:
            return self
        raise NotImplementedError("to_sparse: changing sparse_dim of a sparse tensor is not "
                                  "supported")
    n = self.ndim
    if sparse_dim is None:
        sparse_dim = n - (dense_dim or 0)
    if not 0 <= sparse_dim <= n:
        raise RuntimeError(f"to_sparse: sparse_dim={sparse_dim} must be within [0, {n}] for "
                           f"a tensor of shape {tuple(self.shape)}")
    x = self._data
    xp = get_array_module(x)
    mask = x != 0
    if sparse_dim < n:
        mask = mask.reshape(x.shape[:sparse_dim] + (-1,)).any(axis=-1) if x.size else \
            xp.zeros(x.shape[:sparse_dim], bool)
    ix = xp.stack(xp.nonzero(mask)).astype(xp.int64) if sparse_dim else \
        xp.zeros((0, 1), xp.int64)
    ix = ix.reshape(sparse_dim, -1)
    vals = GatherDense(ix)(self) if self.requires_grad and grad_mode.state.enabled else \
        Tensor(x[tuple(ix)])
    return _make(vals, ix, tuple(self.shape), True)


def _to_dense(self, dtype=None, *, masked_grad=None):
    """The dense tensor this one stands for (repeated positions summed). Its gradient
    w.r.t. a sparse input is the dense gradient at the input's pattern (sparse)."""
    if not _is_sparse(self):
        return self if dtype is None else self.to(dtype)
    sp = self._data
    out = ScatterDense(sp.indices, sp.shape)(_values(self))
    return out if dtype is None else out.to(dtype)


def _dense_to_dense(self, dtype=None, *, masked_grad=None):
    return self if dtype is None else self.to(dtype)


# -- structure -------------------------------------------------------------------------------
def coalesce(input):
    """Sorted unique indices, values of repeated positions summed (no-op when coalesced)."""
    _need_sparse(input, "coalesce")
    sp = input._data
    if sp.coalesced:
        return input
    uniq, inv = coalesce_arrays(sp.indices, sp.shape)
    vals = SegmentSum(inv, uniq.shape[1])(_values(input))
    return _make(vals, uniq, sp.shape, True)


def _indices_checked(self):
    if not self._data.coalesced:
        raise RuntimeError("Cannot get indices on an uncoalesced tensor, please call "
                           ".coalesce() first")
    return Tensor(self._data.indices)


def _values_checked(self):
    if not self._data.coalesced:
        raise RuntimeError("Cannot get values on an uncoalesced tensor, please call "
                           ".coalesce() first")
    return _values(self)


def _clone(self, *, memory_format=None):
    sp = self._data
    from ..ops.convert import clone
    return _make(clone(_values(self)), sp.indices.copy(), sp.shape, sp.coalesced)


def _to(self, *args, **kwargs):
    """``to(dtype)``/``to(device)``/``to(other)`` for a sparse tensor (values and indices)."""
    from ..ops.convert import _parse_to_args
    device, dtype = _parse_to_args(args, dict(kwargs))
    out = self
    if dtype is not None and _dtype.to_dtype(dtype).np != self._data.dtype:
        sp = out._data
        out = _make(_values(out).to(dtype), sp.indices, sp.shape, sp.coalesced)
    if device is not None:
        device = as_device(device)
        if device != device_of(out._data.values):
            out = ToDeviceSparse(device)(out)
    return out


def _transpose(input, dim0, dim1):
    sp = input._data
    n, k = sp.ndim, sp.sparse_dim
    d0, d1 = _norm_dim(dim0, n, "transpose"), _norm_dim(dim1, n, "transpose")
    if d0 == d1:
        return input
    shape = list(sp.shape)
    shape[d0], shape[d1] = shape[d1], shape[d0]
    if d0 < k and d1 < k:
        ix = sp.indices.copy()
        ix[[d0, d1]] = ix[[d1, d0]]
        return _make(_values(input), ix, tuple(shape), False)
    if d0 >= k and d1 >= k:
        from ..ops.shape import transpose
        return _make(transpose(_values(input), d0 - k + 1, d1 - k + 1), sp.indices,
                     tuple(shape), sp.coalesced)
    raise RuntimeError(f"transpose(): cannot transpose a sparse dimension with a dense "
                       f"dimension (dims {dim0} and {dim1} of a tensor with sparse_dim={k})")


def _t(input):
    if input.ndim > 2:
        raise RuntimeError(f"t() expects a tensor with <= 2 sparse and 0 dense dimensions, "
                           f"but got shape {tuple(input.shape)}")
    return input if input.ndim < 2 else _transpose(input, 0, 1)


def _norm_dim(d, n, op):
    if not -n <= d < max(n, 1):
        raise IndexError(f"{op}: dimension out of range (expected to be in range of "
                         f"[{-n}, {n - 1}], but got {d})")
    return d % n if n else 0


# -- products --------------------------------------------------------------------------------
def mm(mat1, mat2):
    """Sparse (n, m) @ dense (m, p) -> dense (n, p): each entry adds ``v * mat2[col]`` to its
    row. Gradient w.r.t. the sparse matrix: sparse, at its pattern (``(G @ mat2^T)[r, c]``)."""
    _need_sparse(mat1, "sparse.mm")
    if _is_sparse(mat2):
        raise NotImplementedError("sparse.mm: sparse @ sparse is not supported yet; pass a "
                                  "dense mat2 (mat2.to_dense())")
    sp = mat1._data
    if sp.sparse_dim != 2 or sp.ndim != 2 or mat2.ndim != 2:
        raise RuntimeError(f"sparse.mm: expected a 2-D sparse matrix (sparse_dim=2, "
                           f"dense_dim=0) and a 2-D dense matrix, got shapes "
                           f"{tuple(mat1.shape)} (sparse_dim={sp.sparse_dim}) and "
                           f"{tuple(mat2.shape)}")
    if sp.shape[1] != mat2.shape[0]:
        raise RuntimeError(f"sparse.mm: shapes {tuple(mat1.shape)} and {tuple(mat2.shape)} "
                           f"cannot be multiplied ({sp.shape[1]} != {mat2.shape[0]})")
    if sp.dtype != mat2._data.dtype:
        raise RuntimeError(f"sparse.mm: expected both operands to have the same dtype, but "
                           f"got {mat1.dtype} and {mat2.dtype}")
    vals = _values(mat1).reshape(-1, 1)
    rows, cols = sp.indices[0], sp.indices[1]
    return SegmentSum(rows, sp.shape[0])(Take(cols)(mat2) * vals)


def matmul(input, other):
    """``sparse @ dense`` for a 2-D sparse matrix and a 1-D or 2-D dense operand."""
    _need_sparse(input, "matmul")
    if not _is_sparse(other) and other.ndim == 1:
        return mm(input, other.reshape(-1, 1)).reshape(-1)
    return mm(input, other)


def addmm(mat, mat1, mat2, *, beta=1.0, alpha=1.0):
    """``beta * mat + alpha * (mat1 @ mat2)`` with a sparse ``mat1`` (torch.sparse.addmm)."""
    prod = mm(mat1, mat2)
    if alpha != 1:
        prod = prod * alpha
    if beta == 0:
        return prod + mat.to_dense() * 0 if _is_sparse(mat) else prod
    m = mat.to_dense() if _is_sparse(mat) else mat
    return prod + (m if beta == 1 else m * beta)


def sampled_addmm(input, mat1, mat2, *, beta=1.0, alpha=1.0, out=None):
    """``beta * input + alpha * (mat1 @ mat2)`` evaluated only at the pattern of the sparse
    ``input`` (a sparse result with that pattern)."""
    if out is not None:
        raise NotImplementedError("sampled_addmm: out= is not supported")
    _need_sparse(input, "sparse.sampled_addmm")
    sp = input._data
    if sp.ndim != 2 or mat1.ndim != 2 or mat2.ndim != 2 or mat1.shape[1] != mat2.shape[0] or \
            (mat1.shape[0], mat2.shape[1]) != sp.shape:
        raise RuntimeError(f"sparse.sampled_addmm: shapes input {tuple(input.shape)}, mat1 "
                           f"{tuple(mat1.shape)}, mat2 {tuple(mat2.shape)} do not fit")
    c = coalesce(input)
    ix = c._data.indices
    from ..ops.shape import transpose
    prod = (Take(ix[0])(mat1) * Take(ix[1])(transpose(mat2, 0, 1))).sum(-1)
    vals = _values(c)
    res = prod * alpha + (vals * beta if beta != 1 else vals) if beta != 0 else prod * alpha
    return _make(res, ix, sp.shape, True)


# -- reductions ------------------------------------------------------------------------------
def sum(input, dim=None, dtype=None):
    """Sum over ``dim`` (all dims when None). Summing every sparse dim gives a dense tensor,
    otherwise a (coalesced) sparse one, as torch.sparse.sum."""
    _need_sparse(input, "sparse.sum")
    sp = input._data
    vals = _values(input)
    if dtype is not None:
        vals = vals.to(dtype)
    if dim is None:
        return vals.sum()
    dims = [dim] if isinstance(dim, numbers.Integral) else list(dim)
    n, k = sp.ndim, sp.sparse_dim
    dims = sorted({_norm_dim(d, n, "sparse.sum") for d in dims})
    dense_axes = tuple(d - k + 1 for d in dims if d >= k)
    if dense_axes:
        vals = vals.sum(dense_axes)
    keep = [d for d in range(k) if d not in dims]
    shape = tuple(s for d, s in enumerate(sp.shape) if d not in dims)
    if len(keep) == 0:
        return vals.sum(0)
    if len(keep) == k:
        return coalesce(_make(vals, sp.indices, shape, sp.coalesced))
    sub = sp.indices[keep]
    uniq, inv = coalesce_arrays(sub, shape)
    return _make(SegmentSum(inv, uniq.shape[1])(vals), uniq, shape, True)


def _tensor_sum(self, dim=None, keepdim=False, *, dtype=None):
    if keepdim:
        raise RuntimeError("sum: keepdim=True is not supported for sparse tensors")
    return sum(self, dim, dtype)


def _softmax_impl(input, dim, dtype, log):
    op = "sparse.log_softmax" if log else "sparse.softmax"
    _need_sparse(input, op)
    if dtype is not None:
        input = _to(input, dtype)
    c = coalesce(input)
    sp = c._data
    n, k = sp.ndim, sp.sparse_dim
    d = _norm_dim(dim, n, op)
    vals = _values(c)
    if d >= k:  # a dense dim: an ordinary softmax inside each entry's values
        from ..ops.activation import softmax as _sm, log_softmax as _lsm
        out = (_lsm if log else _sm)(vals, d - k + 1)
        return _make(out, sp.indices, sp.shape, True)
    xp = get_array_module(sp.values)
    others = [j for j in range(k) if j != d]
    if others:
        group = _linear(sp.indices[others], tuple(sp.shape[j] for j in others))
        _, g = xp.unique(group, return_inverse=True)
        g = g.reshape(-1)
    else:
        g = xp.zeros(sp.nnz, xp.int64)
    ng = int(g.max()) + 1 if sp.nnz else 0
    # the per-group max, a constant shift for stability (no gradient flows through it)
    m = xp.full((ng,) + sp.values.shape[1:], -xp.inf, sp.values.dtype)
    if sp.nnz:
        xp.maximum.at(m, g, sp.values)
    shifted = vals - Tensor(m[g])
    e = shifted.exp()
    total = SegmentSum(g, ng)(e)
    if log:
        out = shifted - Take(g)(total).log()
    else:
        out = e / Take(g)(total)
    return _make(out, sp.indices, sp.shape, True)


def softmax(input, dim, *, dtype=None):
    """Softmax along ``dim`` over the specified entries only (unspecified ones count as
    -inf, so they stay out of the result's pattern)."""
    return _softmax_impl(input, dim, dtype, False)


def log_softmax(input, dim, *, dtype=None):
    """``log(softmax(input, dim))`` over the specified entries (see ``softmax``)."""
    return _softmax_impl(input, dim, dtype, True)


# -- elementwise -----------------------------------------------------------------------------
def _binary_shape_check(a, b, op):
    if tuple(a.shape) != tuple(b.shape):
        raise RuntimeError(f"{op}: sparse operands must have the same shape, got "
                           f"{tuple(a.shape)} and {tuple(b.shape)}")


def add(input, other, *, alpha=1):
    """sparse + sparse -> sparse (entries concatenated, uncoalesced); sparse + dense ->
    dense."""
    if isinstance(other, numbers.Number) or isinstance(input, numbers.Number):
        raise RuntimeError("add: adding a scalar to a sparse tensor is not supported (it "
                           "would make every element non-zero); use to_dense() first")
    if _is_sparse(input) and _is_sparse(other):
        _binary_shape_check(input, other, "add")
        a, b = input._data, other._data
        if a.sparse_dim != b.sparse_dim:
            raise RuntimeError(f"add: sparse tensors of shape {tuple(input.shape)} have "
                               f"sparse_dim {a.sparse_dim} and {b.sparse_dim}")
        from ..ops.shape import cat
        vb = _values(other)
        if alpha != 1:
            vb = vb * alpha
        va = _values(input)
        if va._data.dtype != vb._data.dtype:
            dt = _dtype.from_numpy_dtype(np.result_type(va._data.dtype, vb._data.dtype))
            va, vb = va.to(dt), vb.to(dt)
        xp = get_array_module(a.indices)
        return _make(cat([va, vb], 0), xp.concatenate([a.indices, b.indices], 1), a.shape)
    if _is_sparse(input):
        _binary_shape_check(input, other, "add")
        return _to_dense(input) + (other if alpha == 1 else other * alpha)
    _binary_shape_check(input, other, "add")
    d = _to_dense(other)
    return input + (d if alpha == 1 else d * alpha)


def sub(input, other, *, alpha=1):
    """``input - alpha * other`` (see ``add``)."""
    return add(input, other, alpha=-alpha)


def _scale(input, c, op):
    sp = input._data
    return _make(op(_values(input), c), sp.indices, sp.shape, sp.coalesced)


def mul(input, other):
    """sparse * scalar, sparse * dense (same shape) and sparse * sparse -> sparse."""
    if not _is_sparse(input):
        input, other = other, input
    sp = input._data
    if isinstance(other, numbers.Number):
        return _scale(input, other, lambda v, c: v * c)
    if not isinstance(other, Tensor):
        raise TypeError(f"mul: unsupported operand type {type(other).__name__} for a sparse "
                        f"tensor")
    if other.ndim == 0 and not _is_sparse(other):
        return _make(_values(input) * other, sp.indices, sp.shape, sp.coalesced)
    _binary_shape_check(input, other, "mul")
    if _is_sparse(other):
        a = coalesce(input)
        b = coalesce(other)
        ix = a._data.indices
        vb = _GatherSparse(ix)(b) if b.requires_grad and grad_mode.state.enabled else \
            Tensor(_GatherSparse(ix).forward(b._data))
        return _make(_values(a) * vb, ix, sp.shape, True)
    # (for a hybrid tensor the gathered entries carry the dense dims, as the values do)
    dv = GatherDense(sp.indices)(other)
    return _make(_values(input) * dv, sp.indices, sp.shape, sp.coalesced)


def div(input, other, *, rounding_mode=None):
    """sparse / scalar (or 0-d tensor) -> sparse."""
    _need_sparse(input, "div")
    if rounding_mode is not None:
        raise NotImplementedError("div: rounding_mode is not supported for sparse tensors")
    if isinstance(other, numbers.Number) or (isinstance(other, Tensor) and other.ndim == 0
                                             and not _is_sparse(other)):
        return _scale(input, other, lambda v, c: v / c)
    raise RuntimeError(f"div: a sparse tensor can only be divided by a scalar, got a tensor of "
                       f"shape {tuple(other.shape)}")


def neg(input):
    return _scale(input, None, lambda v, c: -v)


def apply_to_values(fn, input, linear=False):
    """``fn`` (elementwise, fn(0) = 0) on the values of ``input`` (coalesced first unless
    ``fn`` is linear): a sparse result with the same pattern."""
    c = input if linear else coalesce(input)
    sp = c._data
    return _make(fn(_values(c)), sp.indices, sp.shape, sp.coalesced)


def _unary(name):
    """A zero-preserving elementwise op applied to the coalesced values."""
    def op(input, *args, **kwargs):
        _need_sparse(input, name)
        import narae
        f = getattr(narae, name)
        c = coalesce(input)
        sp = c._data
        return _make(f(_values(c), *args, **kwargs), sp.indices, sp.shape, True)
    op.__name__ = name
    op.__doc__ = f"``{name}`` of each specified value (zero stays zero, so the pattern stays)."
    return op


UNARY = ("abs", "sqrt", "sin", "sinh", "tan", "tanh", "asin", "asinh", "atan", "atanh",
         "expm1", "log1p", "square", "sign", "sgn", "floor", "ceil", "round", "trunc", "frac",
         "erf", "erfinv", "deg2rad", "rad2deg", "relu", "signbit", "isnan", "isinf",
         "nan_to_num", "angle")
_UNARY_FNS = {name: _unary(name) for name in UNARY}


def pow(input, exponent):
    """``input ** exponent`` for a positive scalar exponent (0 ** p = 0 keeps the pattern)."""
    _need_sparse(input, "pow")
    if not isinstance(exponent, numbers.Number) or exponent <= 0:
        raise RuntimeError(f"pow: a sparse tensor can only be raised to a positive scalar "
                           f"power (zero must stay zero), got {exponent!r}")
    c = coalesce(input)
    sp = c._data
    return _make(_values(c) ** exponent, sp.indices, sp.shape, True)


# -- indexing --------------------------------------------------------------------------------
def index_select(input, dim, index):
    """Slices ``index`` along ``dim`` (sparse or dense dim) of a sparse tensor -> sparse.

    Along a sparse dim every entry whose coordinate is ``index[p]`` is copied to coordinate
    ``p`` (one sort and a searchsorted; no loop over entries)."""
    _need_sparse(input, "index_select")
    sp = input._data
    n, k = sp.ndim, sp.sparse_dim
    d = _norm_dim(dim, n, "index_select")
    idx = index._data if isinstance(index, Tensor) else get_array_module(sp.indices).asarray(
        index)
    if idx.ndim > 1 or idx.dtype.kind not in "iu":
        raise IndexError(f"index_select: index must be a 1-D integer tensor, got shape "
                         f"{tuple(idx.shape)} and dtype {idx.dtype}")
    idx = idx.reshape(-1).astype(np.int64)
    shape = list(sp.shape)
    shape[d] = idx.shape[0]
    if d >= k:
        from ..ops.index import index_select as _isel
        return _make(_isel(_values(input), d - k + 1, Tensor(idx)), sp.indices, tuple(shape),
                     sp.coalesced)
    xp = get_array_module(sp.indices)
    if idx.size and (xp is np) and (int(idx.min()) < -sp.shape[d] or
                                    int(idx.max()) >= sp.shape[d]):
        raise IndexError(f"index_select: index out of range for dim {dim} of size "
                         f"{sp.shape[d]}")
    idx = idx % max(sp.shape[d], 1)
    key = sp.indices[d]
    order = xp.argsort(key, kind="stable")
    skey = key[order]
    lo = xp.searchsorted(skey, idx, side="left")
    hi = xp.searchsorted(skey, idx, side="right")
    counts = hi - lo
    total = int(counts.sum())
    p = xp.repeat(xp.arange(idx.shape[0]), counts)
    starts = xp.cumsum(counts) - counts
    within = xp.arange(total) - xp.repeat(starts, counts)
    entry = order[xp.repeat(lo, counts) + within]
    ix = sp.indices[:, entry]
    ix[d] = p
    return _make(Take(entry)(_values(input)), ix, tuple(shape), False)


def sparse_mask(self, mask):
    """The entries of ``self`` at the positions of the sparse ``mask`` (its pattern as it
    is: a repeated position repeats, as torch): a sparse tensor; its gradient w.r.t. a
    dense ``self`` is dense."""
    _need_sparse(mask, "sparse_mask")
    if tuple(self.shape) != tuple(mask.shape):
        raise RuntimeError(f"sparse_mask(): operands have incompatible sizes; self has size "
                           f"{tuple(self.shape)} but mask has size {tuple(mask.shape)}")
    ix = mask._data.indices
    track = self.requires_grad and grad_mode.state.enabled
    if _is_sparse(self):
        vals = _GatherSparse(ix)(self) if track else Tensor(_GatherSparse(ix).forward(self._data))
    else:
        vals = GatherDense(ix)(self) if track else Tensor(self._data[tuple(ix)])
    return _make(vals, ix, tuple(mask.shape), mask._data.coalesced)


def spdiags(diagonals, offsets, shape, layout=None):
    """A sparse 2-D matrix with row ``i`` of ``diagonals`` on the diagonal ``offsets[i]``
    (0 main, > 0 above, < 0 below); element ``diagonals[i, j]`` goes to column ``j``, as
    SciPy's spdiags."""
    if layout not in (None, sparse_coo):
        raise NotImplementedError(f"spdiags: only layout=narae.sparse_coo is supported, got "
                                  f"{layout}")
    dg = diagonals if diagonals.ndim == 2 else diagonals.reshape(1, -1)
    off = offsets._data if isinstance(offsets, Tensor) else np.asarray(offsets)
    off = off.reshape(-1)
    xp = get_array_module(dg._data)
    off = xp.asarray(off).astype(xp.int64)
    if len(shape) != 2:
        raise RuntimeError(f"spdiags: shape must be 2-D, got {tuple(shape)}")
    if off.shape[0] != dg.shape[0]:
        raise RuntimeError(f"spdiags: the number of diagonals ({dg.shape[0]}) does not match "
                           f"the number of offsets ({off.shape[0]})")
    if xp is np and np.unique(off).shape[0] != off.shape[0]:
        raise RuntimeError("spdiags: offsets tensor contains duplicates")
    rows_n, cols_n = int(shape[0]), int(shape[1])
    ncols = min(dg.shape[1], cols_n)
    j = xp.arange(ncols)
    i = j[None, :] - off[:, None]                          # row of element (k, j)
    ok = (i >= 0) & (i < rows_n) & (j[None, :] < cols_n)
    kk, jj = xp.nonzero(ok)
    ii = i[kk, jj]
    flat = kk * dg.shape[1] + jj
    vals = Take(flat)(dg.reshape(-1))
    ix = xp.stack([ii, jj]).astype(xp.int64)
    return coalesce(_make(vals, ix, (rows_n, cols_n), False))


# -- Tensor methods ---------------------------------------------------------------------------
def _sparse_dim(self):
    return self._data.sparse_dim if _is_sparse(self) else 0


def _dense_dim(self):
    return self._data.ndim - self._data.sparse_dim if _is_sparse(self) else self.ndim


def _rsub(self, other):
    return add(neg(self), other)


def _sparse_method_table():
    m = dict(
        to_dense=_to_dense, to_sparse=_to_sparse, to_sparse_coo=_to_sparse, coalesce=coalesce,
        is_coalesced=lambda self: self._data.coalesced,
        indices=_indices_checked, values=_values_checked,
        _indices=lambda self: Tensor(self._data.indices),
        _values=lambda self: Tensor(self._data.values),
        _nnz=lambda self: int(self._data.nnz),
        sparse_dim=_sparse_dim, dense_dim=_dense_dim,
        clone=_clone, to=_to,
        cpu=lambda self: _to(self, "cpu"),
        cuda=lambda self, device=None, non_blocking=False: _to(
            self, as_device("cuda" if device is None else device)),
        float=lambda self: _to(self, _dtype.float32),
        double=lambda self: _to(self, _dtype.float64),
        half=lambda self: _to(self, _dtype.float16),
        contiguous=lambda self, memory_format=None: self,
        add=add, sub=sub, mul=mul, div=div, neg=neg, negative=neg, pow=pow,
        __add__=add, __radd__=lambda self, other: add(other, self),
        __sub__=sub, __rsub__=_rsub, __mul__=mul, __rmul__=mul,
        __truediv__=div, __neg__=neg, __pow__=pow,
        mm=mm, matmul=matmul, __matmul__=matmul, t=_t, transpose=_transpose,
        sum=_tensor_sum, index_select=index_select, sparse_mask=sparse_mask,
    )
    m.update(_UNARY_FNS)
    return m


for _name, _fn in _sparse_method_table().items():
    setattr(SparseTensor, _name, _fn)
SparseTensor.mT = property(lambda self: _transpose(self, -2, -1))

register_methods(to_sparse=_to_sparse, to_sparse_coo=_to_sparse, to_dense=_dense_to_dense,
                 sparse_dim=_sparse_dim, dense_dim=_dense_dim, sparse_mask=sparse_mask)
