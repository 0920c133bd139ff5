"""Activation functions: relu, sigmoid, tanh, and the rest of torch.nn.functional's.

Each backward is expressed with differentiable ops (higher-order gradients work).
"""
from ..autograd.function import Function
from ..backend import get_array_module
from ..tensor import register_methods

__all__ = ["relu", "sigmoid", "tanh"]


class ReLU(Function):
    uses_inputs = False
    uses_outputs = True

    def forward(self, x):
        return get_array_module(x).maximum(x, 0)

    def backward(self, gy):
        return gy * (self.output() > 0).to(gy.dtype)


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
        y = self.output()
        return gy * (y * (1.0 - y))


class Tanh(Function):
    uses_inputs = False
    uses_outputs = True

    def forward(self, x):
        return get_array_module(x).tanh(x)

    def backward(self, gy):
        y = self.output()
        return gy * (1.0 - y * y)


def relu(input, inplace=False):
    if inplace:
        return input._apply_inplace(lambda x: ReLU()(x))
    return ReLU()(input)


def sigmoid(input):
    return Sigmoid()(input)


def tanh(input):
    return Tanh()(input)


register_methods(relu=relu, sigmoid=sigmoid, tanh=tanh)
