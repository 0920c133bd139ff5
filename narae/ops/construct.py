"""Tensors built from index patterns: meshgrid, tril_indices, block_diag, cartesian_prod...

The differentiable ones are reshapes, broadcasts, gathers and concatenations of their inputs,
so their gradients (of any order) come from those ops. Index tables (combinations) are
computed once on the host and kept on the device (``cached_constant``).
"""
import warnings

import numpy as np

from .. import _dtype
from ..autograd.function import Function, ShapeError
from ..backend import get_array_module, as_device, to_device
from ..backend.constants import cached_constant
from ..tensor import Tensor
from .arith import _cj
from .index import GetItem, getitem
from .shape import reshape, broadcast_to, cat, stack, flip, vstack, _as_tensor_list, for_each_tensor

__all__ = ["tril_indices", "triu_indices", "block_diag", "cartesian_prod", "combinations",
           "meshgrid", "vander", "broadcast_tensors", "broadcast_shapes", "atleast_3d",
           "column_stack", "row_stack", "dstack"]


# --- triangle indices ----------------------------------------------------------------------
def _tri_indices(op, lower, row, col, offset, dtype, device):
    if row < 0 or col < 0:
        raise RuntimeError(f"{op}: row ({row}) and col ({col}) must be non-negative")
    dt = _dtype.to_dtype(dtype if dtype is not None else _dtype.int64)
    if dt.np.kind not in "iu":
        raise NotImplementedError(f'"{op}" not implemented for \'{dt}\' (use an integer dtype)')
    make = np.tril_indices if lower else np.triu_indices
    idx = np.stack(make(int(row), int(offset), int(col))).astype(dt.np)
    return Tensor(to_device(idx, as_device(device)) if device is not None else idx)


def tril_indices(row, col, offset=0, *, dtype=None, device=None, layout=None):
    """The (row, col) indices, as a 2 x N tensor in row-major order, of the lower triangle
    (on and below diagonal ``offset``) of a row x col matrix."""
    return _tri_indices("tril_indices", True, row, col, offset, dtype, device)


def triu_indices(row, col, offset=0, *, dtype=None, device=None, layout=None):
    """The (row, col) indices of the upper triangle (on and above diagonal ``offset``)."""
    return _tri_indices("triu_indices", False, row, col, offset, dtype, device)


# --- block_diag ----------------------------------------------------------------------------
class BlockDiag(Function):
    """Matrices placed corner to corner along the diagonal of a zero matrix."""
    uses_inputs = False

    def forward(self, *xs):
        xp = get_array_module(xs[0])
        rows = [0]
        cols = [0]
        for x in xs:
            rows.append(rows[-1] + x.shape[0])
            cols.append(cols[-1] + x.shape[1])
        self.rows, self.cols = rows, cols
        out = xp.zeros((rows[-1], cols[-1]), xs[0].dtype)
        for k, x in enumerate(xs):
            out[rows[k]:rows[k + 1], cols[k]:cols[k + 1]] = x
        return out

    def backward(self, gy):
        r, c = self.rows, self.cols
        return tuple(getitem(gy, (slice(r[k], r[k + 1]), slice(c[k], c[k + 1])))
                     if x.requires_grad else None for k, x in enumerate(self.inputs))


def block_diag(*tensors):
    """The block-diagonal matrix of the inputs (0-d: 1 x 1, 1-D: a row, 2-D: as is)."""
    if not tensors:
        return Tensor(np.zeros((1, 0), _dtype.get_default_dtype().np))
    for i, t in enumerate(tensors):
        if not isinstance(t, Tensor):
            raise TypeError(f"block_diag(): expected Tensor as element {i}, got "
                            f"{type(t).__name__}")
        if t.ndim > 2:
            raise ShapeError(f"torch.block_diag: Input tensors must have 2 or fewer dimensions. "
                             f"Input {i} has {t.ndim} dimensions (shape {tuple(t.shape)})")
    tensors = _as_tensor_list(list(tensors), "block_diag")
    mats = [reshape(t, (1, 1) if t.ndim == 0 else (1, t.shape[0])) if t.ndim < 2 else t
            for t in tensors]
    return BlockDiag()(*mats)


# --- grids and products of sets ------------------------------------------------------------
def _tensor_args(tensors, op):
    if len(tensors) == 1 and isinstance(tensors[0], (list, tuple)):
        tensors = tuple(tensors[0])
    for i, t in enumerate(tensors):
        if not isinstance(t, Tensor):
            raise TypeError(f"{op}(): expected Tensor as element {i}, got {type(t).__name__}")
    return tensors


def meshgrid(*tensors, indexing=None):
    """Coordinate grids: output i repeats input i (0-d or 1-D) along its own dim. ``'ij'``:
    dim i belongs to input i; ``'xy'`` (Cartesian) swaps the first two dims."""
    tensors = _tensor_args(tensors, "meshgrid")
    if not tensors:
        raise RuntimeError("meshgrid expects a non-empty TensorList")
    if indexing is None:
        warnings.warn("torch.meshgrid: in an upcoming release, it will be required to pass the "
                      "indexing argument.", UserWarning, stacklevel=2)
        indexing = "ij"
    if indexing not in ("ij", "xy"):
        raise RuntimeError(f'torch.meshgrid: indexing must be one of "xy" or "ij", but '
                           f'received: {indexing}')
    for i, t in enumerate(tensors):
        if t.ndim > 1:
            raise ShapeError(f"torch.meshgrid: Expected 0D or 1D tensor in the tensor list but "
                             f"got a tensor of shape {tuple(t.shape)} at position {i}")
        if t._data.dtype != tensors[0]._data.dtype:
            raise RuntimeError(f"meshgrid expects all tensors to have the same dtype, got "
                               f"{tensors[0].dtype} and {t.dtype}")
    n = len(tensors)
    dims = list(range(n))
    if indexing == "xy" and n >= 2:
        dims[0], dims[1] = 1, 0
    sizes = [t._data.size for t in tensors]
    shape = [0] * n
    for i, d in enumerate(dims):
        shape[d] = sizes[i]
    out = []
    for t, d in zip(tensors, dims):
        view = tuple(-1 if k == d else 1 for k in range(n))
        out.append(broadcast_to(reshape(t, view), tuple(shape)))
    return tuple(out)


def cartesian_prod(*tensors):
    """All tuples (a, b, ...) with a from the first 1-D input, b from the second...: an
    (N, k) tensor in row-major order (one input: that input)."""
    tensors = _tensor_args(tensors, "cartesian_prod")
    if not tensors:
        raise RuntimeError("cartesian_prod expects a non-empty TensorList")
    for t in tensors:
        if t.ndim != 1:
            raise ShapeError(f"Expect a 1D vector, but got shape {list(t.shape)}")
    if len(tensors) == 1:
        return tensors[0]
    grids = meshgrid(*_as_tensor_list(list(tensors), "cartesian_prod"), indexing="ij")
    return stack([reshape(g, (-1,)) for g in grids], 1)


def _combination_index(n, r, with_replacement):
    """(C, r) indices of the sorted r-tuples of range(n) (strictly increasing, or
    non-decreasing with replacement), in lexicographic order. Grown one column at a time:
    each row is repeated once per admissible next index, so memory is O(C * r), not n ** r."""
    rows = np.arange(n, dtype=np.int64).reshape(-1, 1)
    for _ in range(r - 1):
        start = rows[:, -1] if with_replacement else rows[:, -1] + 1
        counts = n - start
        first = np.cumsum(counts) - counts  # where each row's group begins
        col = np.arange(int(counts.sum())) - np.repeat(first - start, counts)
        rows = np.concatenate([np.repeat(rows, counts, axis=0), col[:, None]], axis=1)
    return rows


def combinations(input, r=2, with_replacement=False):
    """The length-r combinations of a 1-D tensor's elements (as itertools.combinations, or
    combinations_with_replacement), one per row."""
    if input.ndim != 1:
        raise ShapeError(f"Expect a 1D vector, but got shape {list(input.shape)}")
    r = int(r)
    if r < 0:
        raise RuntimeError(f"Expect a non-negative number, but got {r}")
    if r == 0:
        return GetItem(slice(0, 0))(input)
    xp = get_array_module(input._data)
    n = input.shape[0]
    idx = cached_constant(xp, ("combinations", n, r, bool(with_replacement)),
                          lambda: _combination_index(n, r, bool(with_replacement)))
    return GetItem(idx, True)(input)


# --- vander --------------------------------------------------------------------------------
class Vander(Function):
    """Powers ``x[i] ** j`` for j < N (increasing), as an (len(x), N) matrix."""

    def __init__(self, n):
        self.n = n

    def forward(self, x):
        xp = get_array_module(x)
        return xp.power(x[:, None], xp.arange(self.n, dtype=x.dtype))

    def backward(self, gy):
        # d/dx sum_j g_j x^j = sum_{j >= 1} j g_j x^(j-1): again a Vandermonde matrix
        x = self.inputs[0]
        if self.n <= 1:
            return getitem(gy, (slice(None), slice(0, 0))).sum(1)
        xp = get_array_module(x._data)
        ks = Tensor(xp.arange(1, self.n, dtype=x._data.dtype))
        # (complex x: the conjugate derivative, torch's convention)
        return (getitem(gy, (slice(None), slice(1, None))) * _cj(ks * Vander(self.n - 1)(x))
                ).sum(1)


def vander(x, N=None, increasing=False):
    """The Vandermonde matrix of 1-D x: columns x^(N-1), ..., x, 1 (or reversed with
    ``increasing``); integers and bools give int64."""
    if x.ndim != 1:
        raise ShapeError(f"x must be a one-dimensional tensor (got shape {tuple(x.shape)}).")
    n = x.shape[0] if N is None else int(N)
    if n < 0:
        raise RuntimeError(f"N must be non-negative (got {n}).")
    if not (x.is_floating_point() or x._data.dtype.kind == "c"):
        x = x.to(_dtype.int64)
    y = Vander(n)(x)
    return y if increasing else flip(y, 1)


# --- broadcasting --------------------------------------------------------------------------
def broadcast_shapes(*shapes):
    """The shape that tensors of the given shapes (ints or sequences) broadcast to."""
    dims = []
    for s in shapes:
        s = (s,) if isinstance(s, (int, np.integer)) else tuple(s)
        for v in s:
            if v < 0:
                raise ValueError("Attempting to broadcast a dimension with negative length!")
        dims.append(tuple(int(v) for v in s))
    out = []
    for k, s in enumerate(dims):
        for i in range(1, len(s) + 1):
            if i > len(out):
                out.insert(0, s[-i])
            elif out[-i] == 1:
                out[-i] = s[-i]
            elif s[-i] != 1 and s[-i] != out[-i]:
                raise RuntimeError(f"Attempting to broadcast a dimension of length {s[-i]} at "
                                   f"{-i}! Mismatching argument at index {k} had {s}; but "
                                   f"expected shape should be broadcastable to {out}")
    return tuple(out)


def broadcast_tensors(*tensors):
    """The inputs expanded to their common broadcast shape (views; gradients sum back)."""
    tensors = _tensor_args(tensors, "broadcast_tensors")
    try:
        shape = np.broadcast_shapes(*[tuple(t.shape) for t in tensors])
    except ValueError:
        raise ShapeError(f"broadcast_tensors: shapes "
                         f"{', '.join(str(tuple(t.shape)) for t in tensors)} cannot be "
                         f"broadcast together") from None
    return tuple(broadcast_to(t, shape) for t in tensors)


# --- stacking ------------------------------------------------------------------------------
def _atleast_3d(t):
    if t.ndim == 0:
        return reshape(t, (1, 1, 1))
    if t.ndim == 1:
        return reshape(t, (1, t.shape[0], 1))
    if t.ndim == 2:
        return reshape(t, tuple(t.shape) + (1,))
    return t


def atleast_3d(*tensors):
    """Views with at least three dims: (n,) -> (1, n, 1), (m, n) -> (m, n, 1)."""
    return for_each_tensor(tensors, _atleast_3d, "atleast_3d")


def column_stack(tensors):
    """Inputs side by side as columns: 0-d and 1-D inputs become (n, 1) first."""
    tensors = _as_tensor_list(tensors, "column_stack")
    cols = [reshape(t, (t._data.size, 1)) if t.ndim <= 1 else t for t in tensors]
    return cat(cols, 1)


def row_stack(tensors):
    """Alias of ``vstack``: inputs stacked as rows."""
    return vstack(tensors)


def dstack(tensors):
    """Inputs stacked along the third dim (after ``atleast_3d``)."""
    return cat([_atleast_3d(t) for t in _as_tensor_list(tensors, "dstack")], 2)
