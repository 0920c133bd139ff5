"""Shape ops: reshape/view, broadcast_to/expand, sum_to, transpose/permute and friends.

These move or repeat elements without arithmetic; their backward moves the gradient back.
"""
import numpy as np

from ..autograd.function import Function
from ..backend import get_array_module
from ..tensor import Tensor, register_methods
from ._operands import normalize_dim

__all__ = ["reshape", "broadcast_to", "sum_to", "transpose", "swapaxes", "permute", "t"]


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


def _view(self, *shape):
    if len(shape) == 1 and not isinstance(shape[0], (int, tuple, list)):
        return self.to(shape[0])  # view(dtype) is not supported: a cast is the closest thing
    return reshape(self, *shape)


def _expand(self, *sizes):
    return broadcast_to(self, *sizes)


def _mT(self):
    return transpose(self, -2, -1)


swapaxes = transpose
register_methods(
    reshape=reshape, view=_view, broadcast_to=broadcast_to, expand=_expand, sum_to_size=sum_to,
    permute=permute, transpose=transpose, swapaxes=transpose, t=t,
    T=property(lambda self: permute(self, tuple(reversed(range(self.ndim))))),
    mT=property(_mT),
    view_as=lambda self, other: reshape(self, other.shape),
    reshape_as=lambda self, other: reshape(self, other.shape),
    expand_as=lambda self, other: broadcast_to(self, other.shape),
)
