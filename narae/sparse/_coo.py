"""Sparse COO tensors: the array object, the Tensor subclass, and the autograd primitives.

A sparse tensor is a narae Tensor (``SparseTensor``) whose ``_data`` is a ``SparseCOOArray``:
``indices`` (sparse_dim, nnz) int64, ``values`` (nnz, *dense_shape), the full ``shape``, and
a ``coalesced`` flag (indices sorted and unique). Indices may repeat: the dense value at a
position is the sum of its entries (torch's uncoalesced tensors).

Every differentiable sparse op is built from four small primitives on the values, so that
gradients (and gradients of gradients) follow from narae's dense ops:

  FromValues(ix, shape)  values (dense) -> sparse tensor with the pattern ``ix``
  ValuesOf               sparse -> its values (dense); adjoint of FromValues
  ScatterDense(ix, shape) values -> dense tensor (duplicates add up): ``to_dense``
  GatherDense(ix)        dense -> its entries at the pattern; adjoint of ScatterDense

The gradient of a sparse input is thus sparse with the input's own pattern, as in torch.
"""
import numpy as np

from .. import _dtype
from ..autograd import grad_mode
from ..autograd.function import Function
from ..backend import get_array_module, device_of, to_device
from ..tensor import Tensor
from ..ops.embedding import scatter_add_rows

__all__ = ["SparseCOOArray", "SparseTensor", "SparseFunction", "from_values", "values_of",
           "scatter_dense", "gather_dense", "is_sparse", "coalesce_arrays", "add_arrays"]


class SparseCOOArray:
    """The raw storage of a sparse COO tensor (the ``_data`` of a ``SparseTensor``).

    It answers ``shape``/``dtype``/``ndim``/``size`` like an array, so generic attribute code
    works, but refuses arithmetic with NumPy/CuPy (``__array_ufunc__ = None``): a dense op
    handed a sparse tensor fails in its forward and gets a clear error (see ``_dispatch``).
    """
    __slots__ = ("indices", "values", "shape", "coalesced")
    __array_ufunc__ = None
    # Set once any sparse array exists: optimizers without a sparse path check their
    # gradients only from then on (programs that never go sparse pay one attribute read).
    ever_made = False

    def __init__(self, indices, values, shape, coalesced=False):
        SparseCOOArray.ever_made = True
        self.indices, self.values = indices, values
        self.shape, self.coalesced = tuple(int(s) for s in shape), bool(coalesced)

    @property
    def dtype(self):
        return self.values.dtype

    @property
    def ndim(self):
        return len(self.shape)

    @property
    def size(self):
        n = 1
        for s in self.shape:
            n *= s
        return n

    @property
    def itemsize(self):
        return self.values.itemsize

    @property
    def nbytes(self):
        return self.values.nbytes + self.indices.nbytes

    @property
    def sparse_dim(self):
        return self.indices.shape[0]

    @property
    def nnz(self):
        return self.indices.shape[1]

    def clone_arrays(self):
        return SparseCOOArray(self.indices.copy(), self.values.copy(), self.shape, self.coalesced)

    def with_dtype(self, dtype):
        return SparseCOOArray(self.indices, self.values.astype(dtype), self.shape,
                              self.coalesced)

    def __array__(self, *args, **kwargs):  # (NumPy must not wrap it in an object array)
        raise TypeError("a sparse COO tensor cannot be used as a dense array: convert it with "
                        "to_dense()")

    def __getattr__(self, name):
        # (no array methods: a dense op given a sparse tensor must fail, not half-work)
        raise AttributeError(f"'{name}': sparse COO tensors do not support this operation "
                             "(convert with to_dense())")

    def to_dense(self):
        return _scatter_dense(self.indices, self.values, self.shape)

    def coalesce(self):
        if self.coalesced:
            return self
        uniq, inv = coalesce_arrays(self.indices, self.shape)
        return SparseCOOArray(uniq, _segment_sum(self.values, inv, uniq.shape[1]), self.shape,
                              True)

    def __repr__(self):
        return f"SparseCOOArray(shape={self.shape}, nnz={self.nnz}, dtype={self.dtype})"


def add_arrays(a, b):
    """Sum of two gradients, one at least sparse: sparse + sparse stays sparse (entries
    concatenated, coalesced lazily, as torch accumulates); sparse + dense is dense."""
    if type(a) is SparseCOOArray and type(b) is SparseCOOArray:
        if a.shape != b.shape:
            raise RuntimeError(f"add: sparse tensors of shapes {a.shape} and {b.shape} differ")
        xp = get_array_module(a.values)
        dt = np.result_type(a.dtype, b.dtype)
        return SparseCOOArray(xp.concatenate([a.indices, b.indices], 1),
                              xp.concatenate([a.values.astype(dt, copy=False),
                                              b.values.astype(dt, copy=False)]), a.shape)
    if type(a) is SparseCOOArray:
        a, b = b, a
    return a + b.to_dense()


def is_sparse(t):
    return type(t._data) is SparseCOOArray


def _strides(shape):
    """Row-major element strides of ``shape`` (Python ints)."""
    st, acc = [], 1
    for s in reversed(shape):
        st.append(acc)
        acc *= s
    return st[::-1]


def _linear(indices, shape):
    """Linear (row-major) position of each column of ``indices`` within ``shape``."""
    xp = get_array_module(indices)
    lin = xp.zeros(indices.shape[1], xp.int64)
    for d, st in enumerate(_strides(shape)):  # (a loop over dims, not elements)
        lin += indices[d] * st
    return lin


def _unlinear(lin, shape):
    xp = get_array_module(lin)
    rows = [(lin // st) % s for st, s in zip(_strides(shape), shape)]
    if not rows:
        return xp.zeros((0, lin.shape[0]), xp.int64)
    return xp.stack(rows).astype(xp.int64)


def coalesce_arrays(indices, shape):
    """Sorted unique columns of ``indices`` (over the sparse ``shape``) and each column's
    position among them: one ``unique`` on linearised indices (NumPy and CuPy alike)."""
    xp = get_array_module(indices)
    sshape = shape[:indices.shape[0]]
    lin = _linear(indices, sshape)
    uniq, inv = xp.unique(lin, return_inverse=True)
    return _unlinear(uniq, sshape), inv.reshape(-1)


def _first_of_each(indices, shape):
    """The sorted unique columns of ``indices`` and where each first occurs."""
    xp = get_array_module(indices)
    sshape = shape[:indices.shape[0]]
    uniq, first = xp.unique(_linear(indices, sshape), return_index=True)
    return _unlinear(uniq, sshape), first


def _segment_sum(values, seg, n):
    """``out[seg[k]] += values[k]`` for an ``out`` of n rows (values of any trailing shape)."""
    xp = get_array_module(values)
    rest = values.shape[1:]
    d = 1
    for s in rest:
        d *= s
    if values.dtype.kind == "c" or values.dtype.kind not in "f":
        out = xp.zeros((n,) + rest, values.dtype)
        if values.shape[0]:
            if xp is np:
                np.add.at(out, seg, values)
            else:
                xp.add.at(out, seg, values)
        return out
    return scatter_add_rows(seg, values.reshape(values.shape[0], d), n).reshape((n,) + rest)


def _scatter_dense(indices, values, shape):
    """The dense array of shape ``shape`` holding ``values`` at ``indices`` (repeats add)."""
    k = indices.shape[0]
    sshape = shape[:k]
    n = 1
    for s in sshape:
        n *= s
    return _segment_sum(values, _linear(indices, sshape), n).reshape(shape)


def _gather_dense(dense, indices):
    """Entries of ``dense`` at the columns of ``indices``: shape (nnz, *dense_dims)."""
    return dense[tuple(indices)]


def _gather_sparse(sp, indices):
    """Entries of the sparse array ``sp`` at the columns of ``indices`` (0 where absent)."""
    xp = get_array_module(sp.values)
    c = sp.coalesce()
    sshape = sp.shape[:sp.sparse_dim]
    have = _linear(c.indices, sshape)
    want = _linear(indices, sshape)
    out = xp.zeros((indices.shape[1],) + c.values.shape[1:], c.values.dtype)
    if have.shape[0] == 0 or want.shape[0] == 0:
        return out
    pos = xp.searchsorted(have, want)
    pos = xp.minimum(pos, have.shape[0] - 1)
    hit = have[pos] == want
    out[hit] = c.values[pos[hit]]
    return out


# -- the Tensor subclass ---------------------------------------------------------------------
class SparseTensor(Tensor):
    """A Tensor in torch's ``sparse_coo`` layout (its ``_data`` is a ``SparseCOOArray``)."""
    __slots__ = ()

    def __init__(self, data, requires_grad=False):
        if type(data) is not SparseCOOArray:
            raise TypeError(f"SparseTensor: expected a SparseCOOArray, got {type(data).__name__}"
                            " (build sparse tensors with narae.sparse_coo_tensor)")
        self._data = data
        self.grad = None
        self.requires_grad = requires_grad
        self._creator = None
        self._out_idx = 0
        self._gen = 0
        self._version = [0]
        self._hooks = None
        self._retains_grad = False

    @property
    def device(self):
        return device_of(self._data.values)

    @property
    def data(self):
        return SparseTensor(self._data)

    @data.setter
    def data(self, value):
        self._data = value._data if isinstance(value, Tensor) else value

    @property
    def layout(self):
        from ..tensor_info import sparse_coo
        return sparse_coo

    is_sparse = property(lambda self: True)

    def detach(self):
        t = SparseTensor(self._data)
        t._version = self._version
        return t

    def numpy(self):
        raise TypeError("numpy(): not supported for sparse tensors; call to_dense() first")

    def item(self):
        if self._data.size != 1:
            raise RuntimeError(f"a Tensor with {self._data.size} elements cannot be converted "
                               "to Scalar")
        return self._data.to_dense().reshape(()).item()

    def tolist(self):
        raise TypeError("tolist(): not supported for sparse tensors; call to_dense() first")

    def __array__(self, dtype=None, copy=None):
        raise TypeError("cannot convert a sparse tensor to a NumPy array: call to_dense() first")

    def __repr__(self):
        pad = " " * len("tensor(")

        def field(name, array):
            body = repr(Tensor(array))
            if array.size == 0:  # torch shows the shape of empty parts
                body = f"tensor([], size={tuple(array.shape)})"
            body = body.replace(f", dtype={_dtype.from_numpy_dtype(array.dtype)}", "")
            return name + "=" + ("\n" + " " * (len(name) + 1)).join(body.split("\n"))
        sp = self._data
        parts = [field("indices", sp.indices), field("values", sp.values)]
        tail = [f"size={tuple(self.shape)}", f"nnz={sp.nnz}"]
        if self.device.type != "cpu":
            tail.append(f"device='{self.device}'")
        if sp.dtype != np.float32:
            tail.append(f"dtype={self.dtype}")
        tail.append("layout=narae.sparse_coo")
        if self._creator is not None:
            tail.append(f"grad_fn={self._creator!r}")
        elif self.requires_grad:
            tail.append("requires_grad=True")
        lines, line = [], ""
        for item in tail:  # torch wraps the trailer at 80 columns
            if line and len(pad) + len(line) + len(item) + 3 > 80:
                lines.append(line + ",")
                line = item
            else:
                line = item if not line else line + ", " + item
        lines.append(line)
        body = (",\n").join(parts) + ",\n" + "\n".join(lines)
        return "tensor(" + body.replace("\n", "\n" + pad) + ")"


# -- autograd primitives -------------------------------------------------------------------
class SparseFunction(Function):
    """A Function whose inputs or outputs may be sparse: wraps a SparseCOOArray result as a
    SparseTensor (the dense ``Function.__call__`` stays untouched)."""

    def __call__(self, *inputs):
        ys = self.forward(*[x._data for x in inputs])
        wrap = SparseTensor if type(ys) is SparseCOOArray else Tensor
        if grad_mode.state.enabled and any(x.requires_grad for x in inputs):
            self._link(inputs)
            t = wrap(ys, _dtype.is_differentiable(ys.dtype))
            t._creator = self
            t._gen = self.generation + 1
            self._out_meta = ((ys.shape, ys.dtype),)
            return t
        return wrap(ys)


class FromValues(SparseFunction):
    """values (nnz, *dense) -> the sparse tensor with pattern ``indices`` and ``shape``."""
    uses_inputs = False

    def __init__(self, indices, shape, coalesced=False):
        self.indices, self.shape, self.coalesced = indices, tuple(shape), coalesced

    def forward(self, values):
        return SparseCOOArray(self.indices, values, self.shape, self.coalesced)

    def backward(self, gy):
        if type(gy._data) is SparseCOOArray:
            return _GatherSparse(self.indices)(gy)
        return GatherDense(self.indices)(gy)


class ValuesOf(SparseFunction):
    """A sparse tensor's values (the adjoint of FromValues)."""
    uses_inputs = False

    def forward(self, sp):
        self.indices, self.shape, self.coalesced = sp.indices, sp.shape, sp.coalesced
        return sp.values

    def backward(self, gy):
        if self.coalesced:
            return FromValues(self.indices, self.shape, True)(gy)
        # duplicates of one position all see the gradient at that position: the gradient
        # w.r.t. the (dense meaning of the) input keeps one of them, on the coalesced pattern
        uniq, first = _first_of_each(self.indices, self.shape)
        return FromValues(uniq, self.shape, True)(Take(first)(gy))


class _GatherSparse(SparseFunction):
    """A sparse tensor's entries at the pattern ``indices`` (zero where it has none)."""
    uses_inputs = False

    def __init__(self, indices):
        self.indices = indices

    def forward(self, sp):
        self.shape = sp.shape
        return _gather_sparse(sp, self.indices)

    def backward(self, gy):
        return FromValues(self.indices, self.shape)(gy)


class ScatterDense(SparseFunction):
    """values -> the dense tensor with them at ``indices`` (repeated indices add up)."""
    uses_inputs = False

    def __init__(self, indices, shape):
        self.indices, self.shape = indices, tuple(shape)

    def forward(self, values):
        return _scatter_dense(self.indices, values, self.shape)

    def backward(self, gy):
        return GatherDense(self.indices)(gy)


class GatherDense(SparseFunction):
    """A dense tensor's entries at the columns of ``indices`` (adjoint of ScatterDense)."""
    uses_inputs = False

    def __init__(self, indices):
        self.indices = indices

    def forward(self, x):
        if type(x) is SparseCOOArray:  # a sparse gradient met where a dense one was expected
            self.shape = x.shape
            return _gather_sparse(x, self.indices)
        self.shape = x.shape
        return _gather_dense(x, self.indices)

    def backward(self, gy):
        return ScatterDense(self.indices, self.shape)(gy)


class SegmentSum(SparseFunction):
    """out[seg[k]] += values[k] over ``n`` rows; its adjoint is ``Take``."""
    uses_inputs = False

    def __init__(self, seg, n):
        self.seg, self.n = seg, n

    def forward(self, values):
        return _segment_sum(values, self.seg, self.n)

    def backward(self, gy):
        return Take(self.seg, self.n)(gy)


class Take(SparseFunction):
    """Rows ``idx`` of a dense tensor (along dim 0); its adjoint is ``SegmentSum``."""
    uses_inputs = False

    def __init__(self, idx, n=None):
        self.idx, self.n = idx, n

    def forward(self, x):
        self.n = x.shape[0]
        return get_array_module(x).take(x, self.idx, axis=0)

    def backward(self, gy):
        return SegmentSum(self.idx, self.n)(gy)


def from_values(values, indices, shape, coalesced=False):
    return FromValues(indices, shape, coalesced)(values)


def values_of(sp):
    return ValuesOf()(sp)


def scatter_dense(values, indices, shape):
    return ScatterDense(indices, shape)(values)


def gather_dense(x, indices):
    return GatherDense(indices)(x)


def _to_device(sp, device):
    return SparseCOOArray(to_device(sp.indices, device), to_device(sp.values, device),
                          sp.shape, sp.coalesced)


class ToDeviceSparse(SparseFunction):
    uses_inputs = False

    def __init__(self, device):
        self.device = device

    def forward(self, sp):
        self.src = device_of(sp.values)
        return _to_device(sp, self.device)

    def backward(self, gy):
        return ToDeviceSparse(self.src)(gy)




def _engine_sparse_add(a, b, create_graph):
    """The engine's sum of two gradients, one at least sparse (see engine._sparse_add)."""
    if create_graph:
        return a + b
    out = add_arrays(a._data, b._data)
    return SparseTensor(out) if type(out) is SparseCOOArray else Tensor(out)


def _is_sparse_or_none(t):
    return t is not None and type(t._data) is SparseCOOArray


_engine_sparse_add.is_sparse = _is_sparse_or_none


def _install():
    from ..autograd import engine, function
    from ._dispatch import on_forward_error
    engine._sparse_add = _engine_sparse_add
    function._sparse_hook = on_forward_error


_install()
