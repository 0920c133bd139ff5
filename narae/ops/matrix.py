"""Matrix products with accumulation (addmm, baddbmm...), diagonals, trace, kron, cross.

The accumulating products are ``beta * input + alpha * (product)``: the product is narae's
matmul (BLAS) and the scaled sum one fused node, ``ScaledAdd``. Diagonals are two mutually
adjoint nodes, ``Diagonal`` (read a diagonal) and ``DiagEmbed`` (write one into zeros), so
their gradients of any order come from each other.
"""
import warnings

import numpy as np

from ..autograd import function as _function
from ..autograd.function import Function, ShapeError
from ..backend import get_array_module
from ..tensor import Tensor, register_methods
from ._operands import normalize_dim
from .linalg import matmul, mm, outer
from .shape import reshape, broadcast_to, permute, flatten, roll, transpose

# (linalg_cross and linalg_diagonal are narae.linalg.cross/diagonal, not top-level names)
__all__ = ["addmm", "addmv", "addbmm", "baddbmm", "addr", "inner", "vdot", "ger", "cross",
           "trace", "diag", "diag_embed", "diagflat", "diagonal", "kron",
           "addmv_", "diagonal_copy", "adjoint"]


def _shape(t):
    return tuple(t.shape)


# --- beta * input + alpha * product --------------------------------------------------------
class ScaledAdd(Function):
    """``beta * input + alpha * product`` in one node; beta == 0 ignores input's values
    (NaN and inf included), as BLAS and torch do, but still gives it a (zero) gradient."""
    uses_inputs = False

    def __init__(self, beta, alpha):
        self.beta, self.alpha = beta, alpha

    def forward(self, input, product):
        scaled = input * self.beta if self.beta not in (0, 1) else input
        if self.alpha != 1:
            y = product * self.alpha  # a new array: accumulate into it
            if self.beta != 0:
                y += scaled
        else:
            y = product + scaled if self.beta != 0 else product.copy()
        return y if y.dtype == product.dtype else y.astype(product.dtype)

    def backward(self, gy):
        input, product = self.inputs
        gi = (gy if self.beta == 1 else gy * self.beta) if input.requires_grad else None
        gp = (gy if self.alpha == 1 else gy * self.alpha) if product.requires_grad else None
        return gi, gp


def _accumulate(op, input, product, beta, alpha):
    try:
        shape = np.broadcast_shapes(_shape(input), _shape(product))
    except ValueError:
        shape = None
    if shape != _shape(product):
        raise ShapeError(f"{op}: input of shape {_shape(input)} does not broadcast to the shape "
                         f"of the product {_shape(product)}")
    if input._data.dtype != product._data.dtype and _function._autocast_hook is None:
        raise RuntimeError(f"{op}: expected input and the product to have the same dtype, but "
                           f"got {input.dtype} and {product.dtype}")
    return ScaledAdd(beta, alpha)(input, product)


def _need(op, t, ndim, name):
    if not isinstance(t, Tensor):
        raise TypeError(f"{op}(): argument '{name}' must be Tensor, not {type(t).__name__}")
    if t.ndim != ndim:
        raise ShapeError(f"{op}: {name} must be a {ndim}-D tensor, got shape {_shape(t)}")


def addmm(input, mat1, mat2, *, beta=1, alpha=1):
    """``beta * input + alpha * (mat1 @ mat2)`` for matrices; input broadcasts to (n, p)."""
    _need("addmm", mat1, 2, "mat1")
    _need("addmm", mat2, 2, "mat2")
    if mat1.shape[1] != mat2.shape[0]:
        raise ShapeError(f"addmm: mat1 and mat2 shapes cannot be multiplied "
                         f"({mat1.shape[0]}x{mat1.shape[1]} and {mat2.shape[0]}x{mat2.shape[1]})")
    return _accumulate("addmm", input, mm(mat1, mat2), beta, alpha)


def addmv(input, mat, vec, *, beta=1, alpha=1):
    """``beta * input + alpha * (mat @ vec)``; input broadcasts to (n,)."""
    _need("addmv", mat, 2, "mat")
    _need("addmv", vec, 1, "vec")
    if mat.shape[1] != vec.shape[0]:
        raise ShapeError(f"addmv: size mismatch, mat of shape {_shape(mat)} and vec of shape "
                         f"{_shape(vec)}")
    return _accumulate("addmv", input, matmul(mat, vec), beta, alpha)


def _check_batches(op, batch1, batch2):
    _need(op, batch1, 3, "batch1")
    _need(op, batch2, 3, "batch2")
    if batch1.shape[0] != batch2.shape[0] or batch1.shape[2] != batch2.shape[1]:
        raise ShapeError(f"{op}: batch1 of shape {_shape(batch1)} and batch2 of shape "
                         f"{_shape(batch2)} cannot be multiplied (expected (b, n, m) and "
                         f"(b, m, p))")


def addbmm(input, batch1, batch2, *, beta=1, alpha=1):
    """``beta * input + alpha * sum_b(batch1[b] @ batch2[b])``: one GEMM over (n, b*m)."""
    _check_batches("addbmm", batch1, batch2)
    b, n, m = batch1.shape
    p = batch2.shape[2]
    left = reshape(permute(batch1, (1, 0, 2)), (n, b * m))
    return _accumulate("addbmm", input, mm(left, reshape(batch2, (b * m, p))), beta, alpha)


def baddbmm(input, batch1, batch2, *, beta=1, alpha=1):
    """``beta * input + alpha * (batch1 @ batch2)`` batch by batch; input broadcasts."""
    _check_batches("baddbmm", batch1, batch2)
    return _accumulate("baddbmm", input, matmul(batch1, batch2), beta, alpha)


def addr(input, vec1, vec2, *, beta=1, alpha=1):
    """``beta * input + alpha * outer(vec1, vec2)``."""
    _need("addr", vec1, 1, "vec1")
    _need("addr", vec2, 1, "vec2")
    return _accumulate("addr", input, outer(vec1, vec2), beta, alpha)


def _inplace(fn):
    """``self.fn_(...)``: fn's result written into self, whose shape may not change."""
    def method(self, *args, **kwargs):
        def op(x, *a, **k):
            out = fn(x, *a, **k)
            if out.shape != x.shape:
                raise RuntimeError(f"{fn.__name__}_: Bad in-place call: input tensor size "
                                   f"{list(x.shape)} and output tensor size {list(out.shape)} "
                                   f"should match")
            return out
        return self._apply_inplace(op, *args, **kwargs)
    method.__name__ = fn.__name__ + "_"
    return method


# --- vector products -----------------------------------------------------------------------
def inner(input, other):
    """Sum over the last dim of both: ``out[i..., j...] = sum_k input[i..., k] other[j..., k]``."""
    from .einsum import tensordot
    if input.ndim == 0 or other.ndim == 0:
        return input * other
    if input.shape[-1] != other.shape[-1]:
        raise ShapeError(f"inner() the last dimension must match on both input tensors but got "
                         f"shapes {list(input.shape)} and {list(other.shape)}")
    return tensordot(input, other, ([-1], [-1]))


def vdot(input, other):
    """Dot product of two 1-D tensors (conjugating the first: real tensors need nothing)."""
    if input.ndim != 1 or other.ndim != 1:
        raise ShapeError(f"1D tensors expected, but got {input.ndim}D and {other.ndim}D tensors")
    if input.shape[0] != other.shape[0]:
        raise ShapeError(f"vdot: inconsistent tensor size, expected tensor [{input.shape[0]}] and "
                         f"src [{other.shape[0]}] to have the same number of elements")
    return matmul(input.conj(), other)


def ger(input, vec2):
    """Outer product of two 1-D tensors (the old name of ``outer``)."""
    _need("ger", input, 1, "input")
    _need("ger", vec2, 1, "vec2")
    return outer(input, vec2)


def _cross(input, other, d):
    # c = a x b along d: c_i = a_{i+1} b_{i+2} - a_{i+2} b_{i+1} (indices mod 3)
    return roll(input, -1, d) * roll(other, 1, d) - roll(input, 1, d) * roll(other, -1, d)


def _broadcast_pair(op, a, b):
    try:
        shape = np.broadcast_shapes(_shape(a), _shape(b))
    except ValueError:
        raise ShapeError(f"{op}: input of shape {_shape(a)} and other of shape {_shape(b)} "
                         f"cannot be broadcast together") from None
    return broadcast_to(a, shape), broadcast_to(b, shape)


def linalg_cross(input, other, *, dim=-1):
    """torch.linalg.cross: the 3-vector cross product along ``dim`` (inputs broadcast)."""
    if input.ndim != other.ndim:
        raise ShapeError(f"linalg.cross: inputs must have the same number of dimensions, got "
                         f"shapes {_shape(input)} and {_shape(other)}")
    n1, n2 = input.shape[normalize_dim(dim, input.ndim)], other.shape[normalize_dim(dim, other.ndim)]
    if n1 != 3 or n2 != 3:
        raise ShapeError(f"linalg.cross: inputs dimension {dim} must have length 3. Got {n1} and "
                         f"{n2} (shapes {_shape(input)} and {_shape(other)})")
    a, b = _broadcast_pair("linalg.cross", input, other)
    return _cross(a, b, normalize_dim(dim, a.ndim))


def cross(input, other, dim=None):
    """Cross product along ``dim``; without it, along the first dim of size 3 (deprecated in
    torch, which warns)."""
    if dim is not None:
        return linalg_cross(input, other, dim=dim)
    warnings.warn("Using torch.cross without specifying the dim arg is deprecated.\nPlease "
                  "either pass the dim explicitly or simply use torch.linalg.cross.\nThe default "
                  "value of dim will change to agree with that of linalg.cross in a future "
                  "release.", UserWarning, stacklevel=2)
    if input.ndim != other.ndim:
        return linalg_cross(input, other)  # (raises torch's error)
    try:
        shape = np.broadcast_shapes(_shape(input), _shape(other))
    except ValueError:
        shape = _shape(input)
    for d, n in enumerate(shape):
        if n == 3:
            return linalg_cross(input, other, dim=d)
    raise ShapeError(f"cross: no dimension of size 3 in input (shapes {_shape(input)} and "
                     f"{_shape(other)})")


def kron(input, other):
    """Kronecker product: ``out[i * B + j] = input[i] * other[j]`` in every dim."""
    nd = max(input.ndim, other.ndim)
    sa = (1,) * (nd - input.ndim) + _shape(input)
    sb = (1,) * (nd - other.ndim) + _shape(other)
    a = reshape(input, tuple(v for s in sa for v in (s, 1)))
    b = reshape(other, tuple(v for s in sb for v in (1, s)))
    return reshape(a * b, tuple(x * y for x, y in zip(sa, sb)))


# --- diagonals -----------------------------------------------------------------------------
class Diagonal(Function):
    """The diagonal ``offset`` of dims (d1, d2), appended as the last dim (a view)."""
    uses_inputs = False

    def __init__(self, offset, d1, d2):
        self.offset, self.d1, self.d2 = offset, d1, d2

    def forward(self, x):
        self.in_shape = x.shape
        y = get_array_module(x).diagonal(x, self.offset, self.d1, self.d2)
        if isinstance(y, np.ndarray) and not y.flags.writeable:
            try:  # NumPy's diagonal views are read-only; torch's write through
                y.flags.writeable = True
            except ValueError:
                pass
        return y

    def backward(self, gy):
        return DiagEmbed(self.in_shape, self.offset, self.d1, self.d2)(gy)


class DiagEmbed(Function):
    """Zeros of ``shape`` with the last dim of the input written on diagonal ``offset`` of
    dims (d1, d2) (Diagonal's adjoint)."""
    uses_inputs = False

    def __init__(self, shape, offset, d1, d2):
        self.shape, self.offset, self.d1, self.d2 = tuple(shape), offset, d1, d2

    def forward(self, g):
        xp = get_array_module(g)
        d1, d2 = self.d1, self.d2
        rest = tuple(s for i, s in enumerate(self.shape) if i not in (d1, d2))
        n1, n2 = self.shape[d1], self.shape[d2]
        out = xp.zeros(rest + (n1, n2), g.dtype)
        k = g.shape[-1]
        if k:
            i = xp.arange(k)
            out[..., i + max(-self.offset, 0), i + max(self.offset, 0)] = g
        # dims d1, d2 now last: put them back (the others keep their order)
        return xp.moveaxis(out, (-2, -1), (d1, d2))

    def backward(self, gy):
        return Diagonal(self.offset, self.d1, self.d2)(gy)


def _two_dims(op, dim1, dim2, ndim):
    d1, d2 = normalize_dim(dim1, ndim), normalize_dim(dim2, ndim)
    if d1 == d2:
        raise RuntimeError(f"{op}: diagonal dimensions cannot be identical {dim1}, {dim2}")
    return d1, d2


def diagonal(input, offset=0, dim1=0, dim2=1):
    """The diagonal ``offset`` (above the main one if > 0) of the matrices in dims
    (dim1, dim2), as a new last dim."""
    if input.ndim < 2:
        raise ShapeError(f"diagonal: input must have at least 2 dimensions, got shape "
                         f"{_shape(input)}")
    d1, d2 = _two_dims("diagonal", dim1, dim2, input.ndim)
    return Diagonal(int(offset), d1, d2)(input)


def diag_embed(input, offset=0, dim1=-2, dim2=-1):
    """Matrices (in dims dim1, dim2 of a result with one more dim) whose diagonal ``offset``
    holds the last dim of input; zeros elsewhere."""
    if input.ndim < 1:
        raise ShapeError("diag_embed: input must have at least 1 dimension, got a 0-d tensor")
    nd = input.ndim + 1
    d1, d2 = _two_dims("diag_embed", dim1, dim2, nd)
    n = input.shape[-1] + abs(int(offset))
    rest = iter(input.shape[:-1])
    shape = tuple(n if i in (d1, d2) else next(rest) for i in range(nd))
    return DiagEmbed(shape, int(offset), d1, d2)(input)


def diag(input, diagonal=0):
    """1-D input: the square matrix with it on diagonal ``diagonal``; 2-D: that diagonal."""
    if input.ndim == 1:
        n = input.shape[0] + abs(int(diagonal))
        return DiagEmbed((n, n), int(diagonal), 0, 1)(input)
    if input.ndim == 2:
        return Diagonal(int(diagonal), 0, 1)(input)
    raise ShapeError(f"diag(): Supports 1D or 2D tensors. Got {input.ndim}D (shape "
                     f"{_shape(input)})")


def diagflat(input, offset=0):
    """The flattened input on diagonal ``offset`` of a square matrix."""
    return diag(flatten(input), offset)


def trace(input):
    """Sum of the main diagonal of a matrix (integers sum to int64)."""
    if input.ndim != 2:
        raise ShapeError(f"trace: expected a matrix, but got tensor with dim {input.ndim} (shape "
                         f"{_shape(input)})")
    return Diagonal(0, 0, 1)(input).sum()


class FillDiagonal(Function):
    """A copy with the main diagonal (all indices equal) set to ``value``; with ``wrap`` a tall
    matrix restarts its diagonal every ``cols + 1`` rows (NumPy's fill_diagonal)."""
    uses_inputs = False

    def __init__(self, value, wrap):
        self.value, self.wrap = value, wrap

    def forward(self, x):
        out = x.copy()
        flat = out.reshape(-1)
        shape = x.shape
        if x.ndim == 2:
            step = shape[1] + 1
            end = flat.size if self.wrap else shape[1] * shape[1]
        else:  # a hypercube: stride of (1, 1, ..., 1) in elements
            step = 1 + int(np.sum(np.cumprod(shape[:-1])))
            end = flat.size
        flat[:end:step] = self.value
        return out

    def backward(self, gy):
        return FillDiagonal(0, self.wrap)(gy)


def linalg_diagonal(A, *, offset=0, dim1=-2, dim2=-1):
    """torch.linalg.diagonal: ``diagonal`` with defaults for batches of matrices (the lead
    exposes it as narae.linalg.diagonal; not exported at the top level)."""
    return diagonal(A, offset, dim1, dim2)


def diagonal_copy(input, offset=0, dim1=0, dim2=1):
    """``diagonal`` as a new tensor rather than a view."""
    return diagonal(input, offset, dim1, dim2).clone()


# --- conjugate transposes (real tensors: transposes) ---------------------------------------
def adjoint(input):
    """The conjugate transpose of the last two dims (a view)."""
    if input.ndim < 2:
        raise ShapeError(f"tensor.adjoint() is only supported on matrices or batches of "
                         f"matrices. Got {input.ndim}-D tensor.")
    return transpose(input, -2, -1)


def _H(self):
    if self.ndim == 0:
        return self
    if self.ndim != 2:
        raise ShapeError(f"tensor.H is only supported on matrices (2-D tensors). Got "
                         f"{self.ndim}-D tensor.")
    return transpose(self, 0, 1)


def _mH(self):
    if self.ndim < 2:
        raise ShapeError(f"tensor.mH is only supported on matrices or batches of matrices. Got "
                         f"{self.ndim}-D tensor.")
    return transpose(self, -2, -1)


def _fill_diagonal(input, fill_value, wrap=False):
    if input.ndim < 2:
        raise ShapeError(f"fill_diagonal_: dimensions must larger than 1 (got shape "
                         f"{_shape(input)})")
    if input.ndim > 2 and len(set(input.shape)) != 1:
        raise ShapeError(f"fill_diagonal_: all dimensions of input must be of equal length "
                         f"(got shape {_shape(input)})")
    return FillDiagonal(fill_value, bool(wrap))(input)


def _fill_diagonal_(self, fill_value, wrap=False):
    return self._apply_inplace(_fill_diagonal, fill_value, wrap)


addmv_ = _inplace(addmv)  # (torch has this one in-place variant as a function too)

register_methods(
    addmm=addmm, addmm_=_inplace(addmm), addmv=addmv, addmv_=addmv_, addbmm=addbmm,
    addbmm_=_inplace(addbmm), baddbmm=baddbmm, baddbmm_=_inplace(baddbmm), addr=addr,
    addr_=_inplace(addr), inner=inner, vdot=vdot, ger=ger, cross=cross, kron=kron, trace=trace,
    diag=diag, diag_embed=diag_embed, diagflat=diagflat, diagonal=diagonal,
    fill_diagonal_=_fill_diagonal_, adjoint=adjoint, H=property(_H), mH=property(_mH),
)
