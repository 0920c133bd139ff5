"""Activation functions: relu, sigmoid, tanh, and the rest of torch.nn.functional's.

Each backward is expressed with differentiable ops (higher-order gradients work).
"""
from ..autograd.function import Function
from ..backend import get_array_module
from ..tensor import register_methods

__all__ = ["relu", "sigmoid", "tanh", "softmax", "log_softmax"]


class ReLU(Function):
    uses_inputs = False
    uses_outputs = True

    def forward(self, x):
        return get_array_module(x).maximum(x, 0)

    def backward(self, gy):
        return ReLUGrad()(self.output(), gy)


class ReLUGrad(Function):
    """gy * (y > 0) as one node; its own derivative in gy is the same mask (Chainer's trick)."""
    uses_inputs = False

    def forward(self, y, gy):
        self.mask = y > 0
        return gy * self.mask

    def backward(self, ggx):
        return None, ReLUGrad()(self.inputs[0], ggx)


class Sigmoid(Function):
    uses_inputs = False
    uses_outputs = True

    def forward(self, x):
        xp = get_array_module(x)
        # 0.5 * (1 + tanh(x/2)) is sigmoid without exp overflow for large |x|
        y = xp.tanh(x * 0.5)
        y += 1
        y *= 0.5
        return y

    def backward(self, gy):
        return SigmoidGrad()(self.output(), gy)


class SigmoidGrad(Function):
    """gy * y * (1 - y) in one node; differentiable in y and gy for double backward."""

    def forward(self, y, gy):
        return gy * y * (1 - y)

    def backward(self, g):
        y, gy = self.inputs
        return g * gy * (1.0 - 2.0 * y), g * y * (1.0 - y)


class Tanh(Function):
    uses_inputs = False
    uses_outputs = True

    def forward(self, x):
        return get_array_module(x).tanh(x)

    def backward(self, gy):
        return TanhGrad()(self.output(), gy)


class TanhGrad(Function):
    """gy * (1 - y^2) in one node; differentiable in y and gy for double backward."""

    def forward(self, y, gy):
        return gy * (1 - y * y)

    def backward(self, g):
        y, gy = self.inputs
        return g * gy * y * -2.0, g * (1.0 - y * y)


class Softmax(Function):
    uses_inputs = False
    uses_outputs = True

    def __init__(self, axis):
        self.axis = axis

    def forward(self, x):
        xp = get_array_module(x)
        y = x - x.max(axis=self.axis, keepdims=True)
        xp.exp(y, out=y)
        y /= y.sum(axis=self.axis, keepdims=True)
        return y

    def backward(self, gy):
        y = self.output()
        # d softmax: y * (gy - <gy, y>) along the axis
        return y * (gy - (gy * y).sum(self.axis, keepdim=True))


class LogSoftmax(Function):
    uses_inputs = False
    uses_outputs = True

    def __init__(self, axis):
        self.axis = axis

    def forward(self, x):
        xp = get_array_module(x)
        shifted = x - x.max(axis=self.axis, keepdims=True)
        lse = xp.log(xp.exp(shifted).sum(axis=self.axis, keepdims=True))
        shifted -= lse
        return shifted

    def backward(self, gy):
        y = self.output()
        return gy - y.exp() * gy.sum(self.axis, keepdim=True)


def _softmax_dim(input, dim, name):
    if dim is None:
        # torch's legacy rule for an implicit dim
        dim = 0 if input.ndim in (0, 1, 3) else 1
    from ._operands import normalize_dim
    return normalize_dim(dim, input.ndim)


def softmax(input, dim=None, _stacklevel=3, dtype=None):
    if dtype is not None:
        input = input.to(dtype)
    if input.ndim == 0:
        return Softmax(None)(input)
    return Softmax(_softmax_dim(input, dim, "softmax"))(input)


def log_softmax(input, dim=None, _stacklevel=3, dtype=None):
    if dtype is not None:
        input = input.to(dtype)
    if input.ndim == 0:
        return input - input
    return LogSoftmax(_softmax_dim(input, dim, "log_softmax"))(input)


def relu(input, inplace=False):
    if inplace:
        return input._apply_inplace(lambda x: ReLU()(x))
    return ReLU()(input)


def sigmoid(input):
    return Sigmoid()(input)


def tanh(input):
    return Tanh()(input)


register_methods(relu=relu, sigmoid=sigmoid, tanh=tanh,
                 softmax=lambda self, dim=None, dtype=None: softmax(self, dim, dtype=dtype),
                 log_softmax=lambda self, dim=None, dtype=None: log_softmax(self, dim, dtype=dtype))
