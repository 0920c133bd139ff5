"""Matrix products: matmul (batched, with the vector cases of torch.matmul), mm, bmm, ..."""
import math
from .._dtype import BF16 as _BF16
from ..autograd import function as _function
from ..autograd.function import Function, ShapeError
from ..backend import get_array_module
from ..tensor import register_methods
from . import _bf16
from .shape import transpose, reshape, sum_to
from .arith import _cj

__all__ = ["matmul", "mm", "bmm", "mv", "dot", "outer", "linear", "bilinear"]


class MatMul(Function):
    """a @ b for a, b with ndim >= 2 (batch dims broadcast; the engine sums them back)."""

    def forward(self, a, b):
        if a.dtype is _BF16 or b.dtype is _BF16:  # float32 arithmetic, rounded once (_bf16)
            (a, b), low = _bf16.widen(a, b)
            return _bf16.narrow(get_array_module(a).matmul(a, b), low)
        return get_array_module(a).matmul(a, b)

    def backward(self, gy):
        a, b = self.inputs  # (complex: gy @ b^H and a^H @ gy)
        ga = matmul(gy, _cj(transpose(b, -1, -2))) if a.requires_grad else None
        gb = matmul(_cj(transpose(a, -1, -2)), gy) if b.requires_grad else None
        return ga, gb


def _check(a, b, what):
    if a.ndim == 0 or b.ndim == 0:
        raise RuntimeError(f"{what}: both arguments need at least 1 dimension, got shapes "
                           f"{tuple(a.shape)} and {tuple(b.shape)}")
    ka = a.shape[-1]
    kb = b.shape[-2] if b.ndim >= 2 else b.shape[0]
    if ka != kb:
        raise RuntimeError(f"{what}: shapes {tuple(a.shape)} and {tuple(b.shape)} cannot be "
                           f"multiplied ({ka} != {kb})")
    if a._data.dtype != b._data.dtype and _function._autocast_hook is None:  # autocast casts
        raise RuntimeError(f"{what}: expected both operands to have the same dtype, but got "
                           f"{a.dtype} and {b.dtype}")


def matmul(input, other):
    """torch.matmul: 1-D operands are promoted to matrices and the added dim removed after."""
    _check(input, other, "matmul")
    a, b = input, other
    if a.ndim == 1 and b.ndim == 1:
        return reshape(MatMul()(reshape(a, (1, -1)), reshape(b, (-1, 1))), ())
    if a.ndim == 1:
        return reshape(MatMul()(reshape(a, (1, -1)), b), b.shape[:-2] + b.shape[-1:])
    if b.ndim == 1:
        return reshape(MatMul()(a, reshape(b, (-1, 1))), a.shape[:-1])
    return MatMul()(a, b)


def mm(input, mat2):
    if input.ndim != 2 or mat2.ndim != 2:
        raise RuntimeError(f"mm: expected 2-D tensors, got shapes {tuple(input.shape)} and "
                           f"{tuple(mat2.shape)}")
    return matmul(input, mat2)


def bmm(input, mat2):
    if input.ndim != 3 or mat2.ndim != 3 or input.shape[0] != mat2.shape[0]:
        raise RuntimeError(f"bmm: expected 3-D tensors with equal batch size, got shapes "
                           f"{tuple(input.shape)} and {tuple(mat2.shape)}")
    return matmul(input, mat2)


def mv(input, vec):
    if input.ndim != 2 or vec.ndim != 1:
        raise RuntimeError(f"mv: expected a matrix and a vector, got shapes {tuple(input.shape)} "
                           f"and {tuple(vec.shape)}")
    return matmul(input, vec)


def dot(input, other):
    if input.ndim != 1 or other.ndim != 1:
        raise RuntimeError(f"1D tensors expected, but got {input.ndim}D and {other.ndim}D tensors")
    return matmul(input, other)


def outer(input, vec2):
    return reshape(input, (-1, 1)) * reshape(vec2, (1, -1))


class Linear(Function):
    """y = x @ W.T + b in one node: one GEMM forward, two GEMMs and a sum backward."""

    def forward(self, x, w, b=None):
        xp = get_array_module(x)
        low = None
        if x.dtype is _BF16 or w.dtype is _BF16:  # float32 arithmetic, rounded once (_bf16)
            (x, w, b), low = _bf16.widen(x, w, b)
        y = xp.matmul(x, w.T)
        if b is not None:
            y += b
        return _bf16.narrow(y, low)

    def backward(self, gy):
        x, w = self.inputs[0], self.inputs[1]
        gx = matmul(gy, _cj(w)) if x.requires_grad else None
        gw = None
        if w.requires_grad:
            if gy.ndim == 2:
                gw = matmul(transpose(gy, 0, 1), _cj(x))
            else:
                rows = math.prod(gy.shape[:-1])  # (not -1: ambiguous when a size is 0)
                gw = matmul(transpose(reshape(gy, (rows, gy.shape[-1])), 0, 1),
                            reshape(_cj(x), (rows, x.shape[-1])))
        if len(self.inputs) == 3:
            b = self.inputs[2]
            gb = sum_to(gy, b.shape) if b.requires_grad else None
            return gx, gw, gb
        return gx, gw


def linear(input, weight, bias=None):
    """torch.nn.functional.linear: input @ weight.T + bias (weight is out x in)."""
    if weight.ndim != 2 or input.ndim == 0 or input.shape[-1] != weight.shape[1]:
        raise RuntimeError(f"linear: input of shape {tuple(input.shape)} does not match weight of "
                           f"shape {tuple(weight.shape)} (expected input[..., {weight.shape[-1]}])")
    if bias is not None and bias.shape not in ((weight.shape[0],), ()):
        raise RuntimeError(f"linear: bias of shape {tuple(bias.shape)} does not match weight of "
                           f"shape {tuple(weight.shape)}")
    if input.ndim == 1:
        y = Linear()(reshape(input, (1, -1)), weight, *(() if bias is None else (bias,)))
        return reshape(y, (weight.shape[0],))
    return Linear()(input, weight, *(() if bias is None else (bias,)))


register_methods(matmul=matmul, mm=mm, bmm=bmm, mv=mv, dot=dot, outer=outer,
                 __matmul__=matmul, __rmatmul__=lambda self, other: matmul(other, self))


def bilinear(input1, input2, weight, bias=None):
    """``y_k = x1^T W_k x2 + b_k`` over the last dims: one GEMM of x1 with W laid out as
    (in1, out * in2), then a product with x2 summed over in2."""
    from .shape import reshape
    out, in1, in2 = weight.shape
    if input1.shape[-1] != in1 or input2.shape[-1] != in2 or \
            tuple(input1.shape[:-1]) != tuple(input2.shape[:-1]):
        raise ShapeError(f"bilinear: inputs of shapes {tuple(input1.shape)} and "
                         f"{tuple(input2.shape)} do not fit a weight of shape "
                         f"{tuple(weight.shape)} (expected (*, {in1}) and (*, {in2}))")
    w = reshape(weight.permute(1, 0, 2), (in1, out * in2))
    t = reshape(input1.matmul(w), tuple(input1.shape[:-1]) + (out, in2))
    y = (t * reshape(input2, tuple(input2.shape[:-1]) + (1, in2))).sum(-1)
    return y if bias is None else y + bias
