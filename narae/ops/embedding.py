"""Embedding lookups: ``embedding`` (rows of a weight matrix picked by integer indices), and
``embedding_bag`` (those rows summed, averaged or maxed per bag).

The lookup is a gather whose gradient is a scatter-add (repeated indices accumulate:
``scatter_add_rows``, a sparse product on the CPU, atomic adds on the GPU). Gather and scatter are each other's adjoint, so both are Functions whose backward
is the other one: gradients of any order work.
"""
import numpy as np

from ..autograd.function import Function, ShapeError
from ..backend import capture, get_array_module
from ..tensor import Tensor

__all__ = ["embedding", "embedding_bag"]


class IndexDtypeError(TypeError, RuntimeError):
    """Indices of a non-integer dtype (a TypeError, and a RuntimeError as torch raises)."""


def check_indices(indices, num, what, allow=None):
    """Raise clear errors for float indices and for indices outside [0, num) (``allow`` is
    a value that may appear anyway, e.g. an ignore_index)."""
    data = indices._data
    if data.dtype.kind not in "iu":
        raise IndexDtypeError(f"{what}: indices must be an integer tensor (int64 or int32), "
                              f"got {indices.dtype}")
    if data.size == 0 or not capture.can_read_back():
        return
    bad = (data < 0) | (data >= num)
    if allow is not None:
        bad &= data != allow
    if bool(bad.any()):
        value = int(data[bad].ravel()[0])
        raise IndexError(f"{what}: index {value} is out of range for {num} rows "
                         f"(valid: 0..{num - 1})")


_SPARSE = []


def _scipy_sparse():
    """scipy.sparse, or None where SciPy is not installed (imported on first use)."""
    if not _SPARSE:
        try:
            import scipy.sparse as sparse
        except ImportError:
            sparse = None
        _SPARSE.append(sparse)
    return _SPARSE[0]


def scatter_add_rows(idx, rows, num, weights=None):
    """out (num, D) with out[idx[i, k]] += weights[i, k] * rows[i] (a scatter-add of rows).

    ``idx`` is (n,) or (n, K) (K targets per row), ``weights`` None or of idx's shape. On the
    CPU this is the product of a sparse (num x n) matrix with K entries per column and the
    rows: SciPy's compiled CSC product is 5-20x faster than ``np.add.at`` on rows; without
    SciPy a 1-D ``add.at`` over flat indices (NumPy's fast case). CuPy: atomic row adds.
    """
    xp = get_array_module(rows)
    n, d = rows.shape
    K = idx.shape[1] if idx.ndim == 2 else 1
    if idx.size == 0:
        return xp.zeros((num, d), rows.dtype)
    if xp is np and rows.dtype.char in "fd" and _scipy_sparse() is not None:
        data = xp.ones(n * K, rows.dtype) if weights is None else \
            weights.reshape(-1).astype(rows.dtype, copy=False)
        a = _scipy_sparse().csc_matrix((data, idx.reshape(-1), xp.arange(0, n * K + 1, K)),
                                       shape=(num, n))
        return xp.ascontiguousarray(a @ rows, dtype=rows.dtype)
    out = xp.zeros((num, d), rows.dtype)
    if K == 1:
        idx = idx.reshape(-1)
        vals = rows if weights is None else rows * weights.reshape(-1, 1)
    else:
        vals = rows[:, None, :] if weights is None else weights[..., None] * rows[:, None, :]
        vals = xp.broadcast_to(vals, (n, K, d))
    if xp is np:  # NumPy's add.at is fast only on 1-D data: one flat index per entry
        flat = idx.astype(xp.int64)[..., None] * d + xp.arange(d, dtype=xp.int64)
        xp.add.at(out.reshape(-1), flat.reshape(-1), vals.reshape(-1))
    else:
        xp.add.at(out, idx.reshape(-1), vals.reshape(-1, d))
    return out


class Gather(Function):
    """``w[idx] * scale`` (rows of a 2-D ``w``); its gradient is ``Scatter(idx, grad_scale)``.

    ``scale``/``grad_scale`` are arrays of idx's shape (or None): they let the embedding's
    gradient differ from the adjoint of its forward (padding rows, scale_grad_by_freq).
    """
    uses_inputs = False

    def __init__(self, idx, num, scale=None, grad_scale=None):
        self.idx, self.num, self.scale, self.grad_scale = idx, num, scale, grad_scale

    def forward(self, w):
        xp = get_array_module(w)
        y = xp.take(w, self.idx, axis=0)
        if self.scale is not None:
            y *= self.scale[..., None]
        return y

    def backward(self, gy):
        return Scatter(self.idx, self.num, self.grad_scale)(gy)


class Scatter(Function):
    """A (num, D) matrix with row ``idx[i]`` += ``gy[i] * scale[i]``; the adjoint of Gather."""
    uses_inputs = False

    def __init__(self, idx, num, scale=None):
        self.idx, self.num, self.scale = idx, num, scale

    def forward(self, gy):
        d = gy.shape[-1]
        scale = None if self.scale is None else self.scale.reshape(-1)
        return scatter_add_rows(self.idx.reshape(-1), gy.reshape(-1, d), self.num, scale)

    def backward(self, gg):
        return Gather(self.idx, self.num, self.scale, self.scale)(gg)


def _renorm_rows(weight, idx, max_norm, norm_type):
    """torch's embedding_renorm_: rows used by ``idx`` whose norm exceeds max_norm are scaled
    down to it, in place and outside the graph (the weight's version moves on)."""
    xp = get_array_module(weight._data)
    # unique() reads a size back to the host; on the GPU repeated rows are simply rescaled
    # twice to the same values
    rows = xp.unique(idx.ravel()) if xp is np else idx.ravel()
    w = weight._data
    sel = w[rows]
    if norm_type == float("inf"):
        norms = xp.abs(sel).max(axis=1)
    else:
        norms = (xp.abs(sel) ** norm_type).sum(axis=1) ** (1.0 / norm_type)
    big = norms > max_norm
    if xp is not np:   # no read-back on the GPU (graph capture, asynchrony): always rescale
        factor = xp.where(big, max_norm / (norms + 1e-7), 1.0).astype(w.dtype)
        w[rows] = sel * factor[:, None]
        weight._version[0] += 1
    elif bool(big.any()):
        factor = (max_norm / (norms[big] + 1e-7)).astype(w.dtype)
        w[rows[big]] = sel[big] * factor[:, None]
        weight._version[0] += 1


def embedding(input, weight, padding_idx=None, max_norm=None, norm_type=2.0,
              scale_grad_by_freq=False, sparse=False):
    """Rows of ``weight`` (num_embeddings, dim) at ``input`` (integer indices, any shape).

    The gradient of repeated indices accumulates; the ``padding_idx`` row gets none;
    ``max_norm`` renormalises the looked-up rows of ``weight`` in place first (torch's
    semantics). ``sparse=True`` makes ``weight``'s gradient a sparse COO tensor of the
    looked-up rows (uncoalesced, as torch).
    """
    if weight.ndim != 2:
        raise ShapeError(f"embedding: weight must be 2-D (num_embeddings, embedding_dim), got "
                         f"shape {tuple(weight.shape)}")
    num = weight.shape[0]
    check_indices(input, num, "embedding")
    if padding_idx is not None:
        if not -num <= padding_idx < num:
            raise ValueError(f"embedding: padding_idx={padding_idx} must be within "
                             f"num_embeddings={num}")
        padding_idx %= num
    idx = input._data
    if max_norm is not None:
        _renorm_rows(weight, idx, max_norm, norm_type)
    grad_scale = None
    if padding_idx is not None or scale_grad_by_freq:
        xp = get_array_module(idx)
        grad_scale = xp.ones(idx.shape, weight._data.dtype)
        if scale_grad_by_freq:
            counts = xp.bincount(idx.ravel(), minlength=num)
            grad_scale /= counts[idx]
        if padding_idx is not None:
            grad_scale[idx == padding_idx] = 0
    if sparse:
        from ..sparse._embedding import SparseGather
        return SparseGather(idx, num, None, grad_scale)(weight)
    return Gather(idx, num, None, grad_scale)(weight)


def embedding_bag(input, weight, offsets=None, max_norm=None, norm_type=2, scale_grad_by_freq=False,
                  mode="mean", sparse=False, per_sample_weights=None, include_last_offset=False,
                  padding_idx=None):
    """Sum / mean / max of embedding rows per bag (a row of a 2-D ``input``, or the segments of
    a 1-D ``input`` that ``offsets`` start). Built from ``embedding`` and a segment reduction;
    equal-length bags summed or averaged are one fused gather-and-sum (``_BagSum``)."""
    if mode not in ("sum", "mean", "max"):
        raise ValueError(f"embedding_bag: mode has to be one of sum, mean or max, got {mode!r}")
    if per_sample_weights is not None and mode != "sum":
        raise NotImplementedError("embedding_bag: per_sample_weights was not None. "
                                  "per_sample_weights is only supported for mode='sum'")
    if scale_grad_by_freq:
        raise NotImplementedError("embedding_bag: scale_grad_by_freq is not supported")
    if sparse and mode == "max":
        raise ValueError("max mode does not support sparse weights")
    xp = get_array_module(weight._data)
    if input.ndim == 2:
        if offsets is not None:
            raise ValueError("embedding_bag: if input is 2D, then offsets has to be None")
        bags, length = input.shape
        seg = xp.repeat(xp.arange(bags), length)
        flat = input.reshape(-1)
        psw = None if per_sample_weights is None else per_sample_weights.reshape(-1)
    elif input.ndim == 1:
        if offsets is None or offsets.ndim != 1:
            raise ValueError("embedding_bag: offsets has to be a 1D Tensor when input is 1D")
        off = offsets._data.astype(xp.int64)
        n = input.shape[0]
        if include_last_offset:
            off = off[:-1]
        bags = off.shape[0]
        # int32 counts: CuPy's add.at (atomicAdd) has no int64
        seg = xp.zeros(n, xp.int32)
        if n:
            starts = off[(off > 0) & (off < n)]
            xp.add.at(seg, starts, 1)
        seg = xp.cumsum(seg, dtype=xp.int64)
        flat, psw = input, per_sample_weights
    else:
        raise ShapeError(f"embedding_bag: input has to be 1D or 2D, got shape {tuple(input.shape)}")
    num = weight.shape[0]
    check_indices(flat, num, "embedding_bag")
    if padding_idx is not None:
        padding_idx %= num
    dt = weight._data.dtype
    keep = None if padding_idx is None else (flat._data != padding_idx).astype(dt)
    if input.ndim == 2 and psw is None and mode != "max":
        # bags of one length: one fused gather-and-sum
        if max_norm is not None:
            _renorm_rows(weight, flat._data, max_norm, norm_type)
        bag_w = None if keep is None else keep.reshape(input.shape)
        bag_fn = _BagSum
        if sparse:
            from ..sparse._embedding import SparseBagSum as bag_fn
        summed = bag_fn(input._data, weight.shape[0], bag_w)(weight)
        if mode == "sum":
            return summed
        if keep is None:
            return summed / max(input.shape[1], 1)
        return summed / Tensor(xp.maximum(bag_w.sum(1), 1)[:, None])
    rows = embedding(flat, weight, None, max_norm, norm_type, sparse=sparse)
    if mode == "max":
        return _SegmentMax(seg, bags, xp.ones(flat.shape, dt) if keep is None else keep)(rows)
    weights = None if keep is None else Tensor(keep[:, None])
    if psw is not None:
        weights = psw.reshape(-1, 1) if weights is None else weights * psw.reshape(-1, 1)
    vals = rows if weights is None else rows * weights
    if input.ndim == 2:  # bags of one length: a plain sum over a reshaped axis
        summed = vals.reshape(bags, input.shape[1], weight.shape[1]).sum(1)
    else:
        summed = Scatter(seg, bags)(vals)
    if mode == "mean":
        counts = xp.bincount(seg, keep, minlength=bags).astype(dt)
        summed = summed / Tensor(xp.maximum(counts, 1)[:, None])
    return summed


class _BagSum(Function):
    """out[b] = sum_l keep[b, l] * w[idx[b, l]] for bags of one length (keep: None or a
    constant mask); its gradient scatters each bag's row back (``_BagScatter``)."""
    uses_inputs = False

    def __init__(self, idx, num, keep=None):
        self.idx, self.num, self.keep = idx, num, keep

    def forward(self, w):
        xp = get_array_module(w)
        rows = xp.take(w, self.idx.reshape(-1), axis=0).reshape(self.idx.shape + w.shape[1:])
        if self.keep is None:
            return rows.sum(1)
        return xp.einsum("bld,bl->bd", rows, self.keep)

    def backward(self, gy):
        return _BagScatter(self.idx, self.num, self.keep)(gy)


class _BagScatter(Function):
    """The adjoint of _BagSum: g[idx[b, l]] += keep[b, l] * gy[b]."""
    uses_inputs = False

    def __init__(self, idx, num, keep=None):
        self.idx, self.num, self.keep = idx, num, keep

    def forward(self, gy):
        return scatter_add_rows(self.idx, gy, self.num, self.keep)

    def backward(self, gg):
        return _BagSum(self.idx, self.num, self.keep)(gg)


class _SegmentMax(Function):
    """Per-segment max of rows (empty bags give 0); the gradient goes to the arg-max row.
    Its backward is array code (no double backward)."""
    uses_inputs = False

    def __init__(self, seg, bags, keep):
        self.seg, self.bags, self.keep = seg, bags, keep

    def forward(self, rows):
        xp = get_array_module(rows)
        d = rows.shape[1]
        out = xp.full((self.bags, d), -xp.inf, rows.dtype)
        live = self.keep > 0
        xp.maximum.at(out, self.seg[live], rows[live])
        empty = xp.isinf(out) & (out < 0)
        out[empty] = 0
        # the first row of each bag that reaches the max, per column
        hit = (rows == out[self.seg]) & live[:, None]
        pos = xp.where(hit, xp.arange(rows.shape[0])[:, None], rows.shape[0])
        # int32: CuPy's minimum.at (atomicMin) has no int64
        first = xp.full((self.bags, d), rows.shape[0], xp.int32)
        xp.minimum.at(first, self.seg, pos)
        self.first, self.n = first, rows.shape[0]
        return out

    def backward(self, gy):
        xp = get_array_module(gy._data)
        g = xp.zeros((self.n + 1, gy.shape[1]), gy._data.dtype)
        cols = xp.broadcast_to(xp.arange(gy.shape[1]), self.first.shape)
        g[self.first, cols] = gy._data
        return Tensor(g[:self.n])
