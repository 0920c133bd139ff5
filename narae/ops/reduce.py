"""Reductions: sum, mean, ... over one axis, several, or all."""
from ..autograd.function import Function
from ..backend import get_array_module
from ..tensor import register_methods
from ._operands import normalize_dims
from .shape import broadcast_to, reshape

__all__ = ["sum", "mean", "logsumexp"]


def _expand_back(gy, in_shape, axes, keepdim):
    """Broadcast a reduced gradient back over the reduced axes."""
    if not keepdim:
        kept = list(in_shape)
        for a in axes:
            kept[a] = 1
        gy = reshape(gy, tuple(kept))
    return broadcast_to(gy, in_shape)


class Sum(Function):
    uses_inputs = False

    def __init__(self, axes, keepdim):
        self.axes, self.keepdim = axes, keepdim

    def forward(self, x):
        self.in_shape = x.shape
        return x.sum(axis=self.axes, keepdims=self.keepdim)

    def backward(self, gy):
        return _expand_back(gy, self.in_shape, self.axes, self.keepdim)


class Mean(Function):
    uses_inputs = False

    def __init__(self, axes, keepdim):
        self.axes, self.keepdim = axes, keepdim

    def forward(self, x):
        self.in_shape = x.shape
        return x.mean(axis=self.axes, keepdims=self.keepdim)

    def backward(self, gy):
        count = 1
        for a in self.axes:
            count *= self.in_shape[a]
        # an empty reduction has an empty input: nothing to divide, so guard the 0
        return _expand_back(gy, self.in_shape, self.axes, self.keepdim) / max(count, 1)


class LogSumExp(Function):
    uses_outputs = True

    def __init__(self, axes, keepdim):
        self.axes, self.keepdim = axes, keepdim

    def forward(self, x):
        xp = get_array_module(x)
        if x.size == 0:
            return xp.log(xp.exp(x).sum(axis=self.axes, keepdims=self.keepdim))
        m = x.max(axis=self.axes, keepdims=True)
        m = xp.where(xp.isfinite(m), m, 0)  # all -inf rows: keep -inf instead of nan
        y = xp.log(xp.exp(x - m).sum(axis=self.axes, keepdims=True)) + m
        return y if self.keepdim else y.squeeze(self.axes)

    def backward(self, gy):
        x = self.inputs[0]
        y = _expand_back(self.output(), x.shape, self.axes, self.keepdim)
        return _expand_back(gy, x.shape, self.axes, self.keepdim) * (x - y).exp()


def logsumexp(input, dim, keepdim=False):
    """log(sum(exp(x))) along ``dim``, computed stably (max subtracted first)."""
    return LogSumExp(normalize_dims(dim, input.ndim), keepdim)(input)


def sum(input, dim=None, keepdim=False, *, dtype=None):
    if dtype is not None:
        input = input.to(dtype)
    elif input._data.dtype.kind in "biu":
        from .. import _dtype
        input = input.to(_dtype.int64)  # torch sums integers and bools as int64
    return Sum(normalize_dims(dim, input.ndim), keepdim)(input)


def mean(input, dim=None, keepdim=False, *, dtype=None):
    if dtype is not None:
        input = input.to(dtype)
    if input._data.dtype.kind != "f":
        raise RuntimeError(f"mean(): could not infer output dtype. Input dtype must be either a "
                           f"floating point or complex dtype. Got: {input.dtype}")
    return Mean(normalize_dims(dim, input.ndim), keepdim)(input)


register_methods(sum=sum, mean=mean, logsumexp=logsumexp)
