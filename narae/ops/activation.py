"""Activation functions: relu, sigmoid, tanh, and the rest of torch.nn.functional's.

Each backward is expressed with differentiable ops (higher-order gradients work). The hot
elementwise ones (relu, leaky_relu, elu/selu/celu, gelu, silu, softplus) are one fused node
with a fused gradient node; piecewise-linear ones share ``PiecewiseLinearGrad``; the rare
ones are compositions.

On the GPU (and under ``kernels.emulate()``) the fused nodes run hand-written kernels
(``backend/kernels/activation.cu``, ``softmax_ce.cu``): one launch per forward or gradient
instead of a chain of elementwise array passes. The gradient nodes keep their structure, so
double backward is the same on both paths.
"""
import math

from ..autograd import grad_mode
from ..autograd.function import Function
from ..backend import get_array_module
from ..backend.kernels import activation_ops as _fused
from ..backend.kernels import softmax_ce_ops as _rows
from ..tensor import Tensor, register_methods
from .arith import _cj, _erf_array, clamp, exp, where
from .reduce import amax
from ._operands import float_operand
from .shape import reshape

__all__ = ["relu", "relu6", "leaky_relu", "prelu", "rrelu", "elu", "selu", "celu", "gelu",
           "silu", "mish", "softplus", "softsign", "hardtanh", "hardsigmoid", "hardswish",
           "logsigmoid", "tanhshrink", "softshrink", "hardshrink", "threshold", "glu",
           "softmin", "sigmoid", "tanh", "softmax", "log_softmax", "maxout", "relu_", "elu_",
           "leaky_relu_", "hardtanh_", "threshold_", "rrelu_", "selu_", "celu_",
           "gumbel_softmax"]


class ReLU(Function):
    uses_inputs = False
    uses_outputs = True

    def forward(self, x):
        if _fused.usable(x):
            return _fused.forward("relu", x)
        return get_array_module(x).maximum(x, 0)

    def backward(self, gy):
        return ReLUGrad()(self.output(), gy)


class ReLUGrad(Function):
    """gy * (y > 0) as one node; its own derivative in gy is the same mask (Chainer's trick)."""
    uses_inputs = False

    def forward(self, y, gy):
        if _fused.usable(y, gy):
            return _fused.backward("relu", y, gy)
        self.mask = y > 0
        return gy * self.mask

    def backward(self, ggx):
        return None, ReLUGrad()(self.inputs[0], ggx)


def _sigmoid_array(xp, x):
    """sigmoid from e = exp(-|x|) <= 1: no overflow, and full relative precision in the left
    tail, where 0.5 * (1 + tanh(x / 2)) rounds to 0 (sigmoid(-30) in float32)."""
    if x.dtype.kind == "c":  # no left-tail trick for complex z (|z| has no sign)
        return 1 / (1 + xp.exp(-x))
    e = xp.exp(-xp.abs(x))
    d = e + 1
    return xp.where(x >= 0, 1 / d, e / d).astype(x.dtype, copy=False)


class Sigmoid(Function):
    uses_inputs = False
    uses_outputs = True

    def forward(self, x):
        if _fused.usable(x):
            return _fused.forward("sigmoid", x)
        return _sigmoid_array(get_array_module(x), x)

    def backward(self, gy):
        return SigmoidGrad()(_cj(self.output()), gy)


class SigmoidGrad(Function):
    """gy * y * (1 - y) in one node; differentiable in y and gy for double backward."""

    def forward(self, y, gy):
        if _fused.usable(y, gy):
            return _fused.backward("sigmoid", y, gy)
        return gy * y * (1 - y)

    def backward(self, g):
        y, gy = self.inputs
        return g * _cj(gy * (1.0 - 2.0 * y)), g * _cj(y * (1.0 - y))


class Tanh(Function):
    uses_inputs = False
    uses_outputs = True

    def forward(self, x):
        if _fused.usable(x):
            return _fused.forward("tanh", x)
        return get_array_module(x).tanh(x)

    def backward(self, gy):
        return TanhGrad()(_cj(self.output()), gy)


class TanhGrad(Function):
    """gy * (1 - y^2) in one node; differentiable in y and gy for double backward."""

    def forward(self, y, gy):
        if _fused.usable(y, gy):
            return _fused.backward("tanh", y, gy)
        return gy * (1 - y * y)

    def backward(self, g):
        y, gy = self.inputs
        return g * _cj(gy * y * -2.0), g * _cj(1.0 - y * y)


class Softmax(Function):
    uses_inputs = False
    uses_outputs = True

    def __init__(self, axis):
        self.axis = axis

    def forward(self, x):
        if x.size == 0:  # no rows to normalise (and max over an empty axis has no identity)
            return x.copy()
        if _rows.rowwise_usable(x, self.axis):
            return _rows.softmax(x, self.axis)
        xp = get_array_module(x)
        y = x - x.max(axis=self.axis, keepdims=True)
        xp.exp(y, out=y)
        y /= y.sum(axis=self.axis, keepdims=True)
        return y

    def backward(self, gy):
        fused = _fused_row_grad(self, gy, log=False)
        if fused is not None:
            return fused
        y = self.output()
        # d softmax: y * (gy - <gy, y>) along the axis
        return y * (gy - (gy * y).sum(self.axis, keepdim=True))


class LogSoftmax(Function):
    uses_inputs = False
    uses_outputs = True

    def __init__(self, axis):
        self.axis = axis

    def forward(self, x):
        if x.size == 0:
            return x.copy()
        if _rows.rowwise_usable(x, self.axis):
            return _rows.softmax(x, self.axis, log=True)
        xp = get_array_module(x)
        shifted = x - x.max(axis=self.axis, keepdims=True)
        lse = xp.log(xp.exp(shifted).sum(axis=self.axis, keepdims=True))
        shifted -= lse
        return shifted

    def backward(self, gy):
        fused = _fused_row_grad(self, gy, log=True)
        if fused is not None:
            return fused
        y = self.output()
        return gy - y.exp() * gy.sum(self.axis, keepdim=True)


def _fused_row_grad(fn, gy, log):
    """(log_)softmax's input gradient by one kernel, or None for the differentiable ops
    (recording a graph for double backward, or no kernel path)."""
    y = fn._out_arrays[0]
    if grad_mode.state.enabled or not _rows.rowwise_usable(y, fn.axis, gy._data):
        return None
    return Tensor(_rows.softmax_backward(y, gy._data, fn.axis, log))


def _softmax_dim(input, dim, name):
    if dim is None:
        # torch's legacy rule for an implicit dim
        dim = 0 if input.ndim in (0, 1, 3) else 1
    from ._operands import normalize_dim
    return normalize_dim(dim, input.ndim)


def softmax(input, dim=None, _stacklevel=3, dtype=None):
    if dtype is not None:
        input = input.to(dtype)
    if input.ndim == 0:  # one element: softmax is 1 (array code on 0-d gives NumPy scalars)
        return reshape(Softmax(0)(reshape(input, (1,))), ())
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
    return Sigmoid()(float_operand(input))


def tanh(input):
    return Tanh()(float_operand(input))


def _float_only(name, input):
    """torch implements most activations for floating dtypes only (NotImplementedError)."""
    if input._data.dtype.kind in "biu":
        raise NotImplementedError(f"{name}: expected a floating point input, got {input.dtype} "
                                  f"(input shape {tuple(input.shape)})")
    return input


# --- piecewise-linear activations --------------------------------------------------------
class PiecewiseLinearGrad(Function):
    """gy * factor for a constant factor array (a 0/1 mask or slopes): one fused node.

    It is linear in gy, so its own gradient is the same node again (as ``ReLUGrad``).
    """
    uses_inputs = False

    def __init__(self, factor):
        self.factor = factor

    def forward(self, gy):
        if type(self.factor) is _fused.MaskedSlope:
            return self.factor.scale(gy)
        return gy * self.factor

    def backward(self, gg):
        return PiecewiseLinearGrad(self.factor)(gg)


class PiecewiseLinear(Function):
    """y, slope = ``fn(xp, x)`` in one pass; the slope is kept for ``PiecewiseLinearGrad``.

    ``kind`` and ``params`` name the function and its constants ("leaky_relu", (0.01,)) so
    that readers of the graph (the ONNX exporter) need not look inside ``fn``.
    """
    uses_inputs = False

    def __init__(self, fn, kind=None, params=()):
        self.fn, self.kind, self.params = fn, kind, params

    def forward(self, x):
        y, self.slope = self.fn(get_array_module(x), x)
        return y

    def backward(self, gy):
        return PiecewiseLinearGrad(self.slope)(gy)


def _leaky(slope):
    def fn(xp, x):
        if _fused.usable(x):
            return _fused.piecewise("leaky_relu", x, (slope,), 1.0, slope)
        pos = x > 0
        return xp.where(pos, x, x * x.dtype.type(slope)), xp.where(pos, 1, slope).astype(x.dtype)
    return fn


def _hardtanh(lo, hi):
    def fn(xp, x):  # torch passes the gradient strictly inside (lo, hi)
        if _fused.usable(x):
            return _fused.piecewise("hardtanh", x, (lo, hi), 1.0, 0.0)
        return xp.clip(x, lo, hi), (x > lo) & (x < hi)
    return fn


def _hardsigmoid(xp, x):
    if _fused.usable(x):
        return _fused.piecewise("hardsigmoid", x, (), 1.0 / 6.0, 0.0)
    y = xp.clip(x / 6 + 0.5, 0, 1).astype(x.dtype, copy=False)
    return y, (((x > -3) & (x < 3)) / 6.0).astype(x.dtype)


def _threshold(th, value):
    def fn(xp, x):
        keep = x > th
        return xp.where(keep, x, x.dtype.type(value)), keep
    return fn


def _shrink(lambd, soft):
    def fn(xp, x):
        keep = (x < -lambd) | (x > lambd) | (x != x)  # NaN passes through, as torch
        if soft:
            return xp.where(keep, x - xp.sign(x) * x.dtype.type(lambd), 0).astype(x.dtype), keep
        return xp.where(keep, x, 0).astype(x.dtype), keep
    return fn


# --- smooth fused activations: forward node + gradient node ------------------------------


class ELU(Function):
    """scale * (x if x > 0 else alpha * (exp(x * input_scale) - 1)): elu, selu and celu."""

    def __init__(self, alpha, scale=1.0, input_scale=1.0):
        self.params = (alpha, scale, input_scale)

    def forward(self, x):
        alpha, scale, s_in = self.params
        if _fused.usable(x):
            return _fused.forward("elu", x, alpha, scale, s_in)
        xp = get_array_module(x)
        neg = xp.expm1(xp.minimum(x, 0) * x.dtype.type(s_in)) * x.dtype.type(alpha)
        return (xp.where(x > 0, x, neg) * x.dtype.type(scale)).astype(x.dtype, copy=False)

    def backward(self, gy):
        return ELUGrad(self.params)(self.inputs[0], gy)


class ELUGrad(Function):
    def __init__(self, params):
        self.params = params

    def forward(self, x, gy):
        alpha, scale, s_in = self.params
        if _fused.usable(x, gy):
            return _fused.backward("elu", x, gy, scale, s_in, scale * alpha * s_in)
        xp = get_array_module(x)
        dt = x.dtype.type
        slope = xp.exp(xp.minimum(x, 0) * dt(s_in)) * dt(scale * alpha * s_in)
        return gy * xp.where(x > 0, dt(scale), slope)

    def backward(self, g):
        x, gy = self.inputs
        alpha, scale, s_in = self.params
        gx = None
        if x.requires_grad:
            curve = exp(clamp(x, max=0.0) * s_in) * (scale * alpha * s_in * s_in)
            gx = g * gy * where(Tensor(x._data < 0), curve, _zero(x))  # 0 at 0, like torch
        return gx, ELUGrad(self.params)(x, g)


_SQRT_2_PI = math.sqrt(2.0 / math.pi)
_INV_SQRT_2PI = 1.0 / math.sqrt(2.0 * math.pi)
_GELU_C = 0.044715


def _gelu_kernel(approximate):
    return "gelu_tanh" if approximate == "tanh" else "gelu"


class GELU(Function):
    """x * Phi(x) (erf), or its tanh approximation when ``approximate == 'tanh'``."""

    def __init__(self, approximate):
        self.approximate = approximate

    def forward(self, x):
        if _fused.usable(x):
            return _fused.forward(_gelu_kernel(self.approximate), x)
        xp = get_array_module(x)
        dt = x.dtype.type
        if self.approximate == "tanh":
            inner = xp.tanh((x + dt(_GELU_C) * x * x * x) * dt(_SQRT_2_PI))
        else:
            inner = _erf_array(x * dt(1 / math.sqrt(2.0)))
        inner += 1
        return x * inner * dt(0.5)

    def backward(self, gy):
        return GELUGrad(self.approximate)(self.inputs[0], gy)


class GELUGrad(Function):
    def __init__(self, approximate):
        self.approximate = approximate

    def forward(self, x, gy):
        if _fused.usable(x, gy):
            return _fused.backward(_gelu_kernel(self.approximate), x, gy)
        xp = get_array_module(x)
        dt = x.dtype.type
        if self.approximate == "tanh":
            x2 = x * x
            t = xp.tanh((x + dt(_GELU_C) * x2 * x) * dt(_SQRT_2_PI))
            du = (1 + dt(3 * _GELU_C) * x2) * dt(_SQRT_2_PI)
            d = (1 + t + x * (1 - t * t) * du) * dt(0.5)
        else:
            cdf = (_erf_array(x * dt(1 / math.sqrt(2.0))) + 1) * dt(0.5)
            d = cdf + x * xp.exp(x * x * dt(-0.5)) * dt(_INV_SQRT_2PI)
        return gy * d

    def backward(self, g):
        x, gy = self.inputs
        gx = None
        if x.requires_grad:
            if self.approximate == "tanh":
                t = tanh((x + _GELU_C * x * x * x) * _SQRT_2_PI)
                du = (1.0 + 3 * _GELU_C * x * x) * _SQRT_2_PI
                d2 = (1.0 - t * t) * (du - x * t * du * du + x * x * (3 * _GELU_C * _SQRT_2_PI))
            else:
                d2 = exp(x * x * -0.5) * _INV_SQRT_2PI * (2.0 - x * x)
            gx = g * gy * d2
        return gx, GELUGrad(self.approximate)(x, g)


class SiLU(Function):
    """x * sigmoid(x)."""

    def forward(self, x):
        if _fused.usable(x):
            return _fused.forward("silu", x)
        return x * _sigmoid_array(get_array_module(x), x)

    def backward(self, gy):
        return SiLUGrad()(self.inputs[0], gy)


class SiLUGrad(Function):
    def forward(self, x, gy):
        if _fused.usable(x, gy):
            return _fused.backward("silu", x, gy)
        s = _sigmoid_array(get_array_module(x), x)
        return gy * s * (1 + x * (1 - s))

    def backward(self, g):
        x, gy = self.inputs
        gx = None
        if x.requires_grad:
            s = sigmoid(x)
            gx = g * gy * s * (1.0 - s) * (2.0 + x * (1.0 - 2.0 * s))
        return gx, SiLUGrad()(x, g)


class Softplus(Function):
    """log(1 + exp(beta x)) / beta, as max(bx, 0) + log1p(exp(-|bx|)) so it never overflows;
    linear where beta x > threshold (torch's switch)."""

    def __init__(self, beta, threshold):
        self.beta, self.threshold = beta, threshold

    def forward(self, x):
        if _fused.usable(x):
            return _fused.forward("softplus", x, self.beta, self.threshold)
        xp = get_array_module(x)
        dt = x.dtype.type
        bx = x * dt(self.beta)
        smooth = (xp.log1p(xp.exp(-xp.abs(bx))) + xp.maximum(bx, 0)) / dt(self.beta)
        return xp.where(bx > self.threshold, x, smooth).astype(x.dtype, copy=False)

    def backward(self, gy):
        return SoftplusGrad(self.beta, self.threshold)(self.inputs[0], gy)


class SoftplusGrad(Function):
    """gy * sigmoid(beta x) (1 beyond the threshold)."""

    def __init__(self, beta, threshold):
        self.beta, self.threshold = beta, threshold

    def forward(self, x, gy):
        if _fused.usable(x, gy):
            return _fused.backward("softplus", x, gy, self.beta, self.threshold)
        xp = get_array_module(x)
        bx = x * x.dtype.type(self.beta)
        return gy * xp.where(bx > self.threshold, 1, _sigmoid_array(xp, bx)).astype(x.dtype)

    def backward(self, g):
        x, gy = self.inputs
        gx = None
        if x.requires_grad:
            s = sigmoid(x * self.beta)
            curve = s * (1.0 - s) * self.beta
            gx = g * gy * where(Tensor(x._data * self.beta > self.threshold), _zero(x), curve)
        return gx, SoftplusGrad(self.beta, self.threshold)(x, g)


class Hardswish(Function):
    """x * relu6(x + 3) / 6."""

    def forward(self, x):
        if _fused.usable(x):
            return _fused.forward("hardswish", x)
        xp = get_array_module(x)
        return (x * xp.clip(x + 3, 0, 6) / 6).astype(x.dtype, copy=False)

    def backward(self, gy):
        return HardswishGrad()(self.inputs[0], gy)


class HardswishGrad(Function):
    """torch's slopes: 0 up to -3 (included), x / 3 + 0.5 inside, 1 from 3 on."""

    def forward(self, x, gy):
        if _fused.usable(x, gy):
            return _fused.backward("hardswish", x, gy)
        xp = get_array_module(x)
        d = xp.where(x <= -3, 0, xp.where(x < 3, x / 3 + 0.5, 1)).astype(x.dtype, copy=False)
        return gy * d

    def backward(self, g):
        x, gy = self.inputs
        gx = None
        if x.requires_grad:
            inside = ((x._data > -3) & (x._data < 3)) / 3.0
            gx = g * gy * Tensor(inside.astype(x._data.dtype))
        return gx, HardswishGrad()(x, g)


class _Halves(Function):
    """Split ``axis`` into its two halves (two outputs); the gradient joins them again."""
    uses_inputs = False

    def __init__(self, axis):
        self.axis = axis

    def forward(self, x):
        a, b = get_array_module(x).split(x, 2, axis=self.axis)
        return a, b

    def backward(self, ga, gb):
        return _Join(self.axis)(ga, gb)


class _Join(Function):
    """Concatenate two tensors along ``axis`` (the inverse of ``_Halves``)."""
    uses_inputs = False

    def __init__(self, axis):
        self.axis = axis

    def forward(self, a, b):
        return get_array_module(a).concatenate((a, b), axis=self.axis)

    def backward(self, g):
        return _Halves(self.axis)(g)


def _zero(like):
    return Tensor(get_array_module(like._data).zeros((), like._data.dtype))


def _maybe_inplace(input, inplace, op):
    """torch's ``inplace=True``: the result replaces ``input``'s values."""
    if inplace:
        return input._apply_inplace(op)
    return op(input)


# --- the user-facing functions -----------------------------------------------------------
def relu6(input, inplace=False):
    return hardtanh(input, 0.0, 6.0, inplace)


def leaky_relu(input, negative_slope=0.01, inplace=False):
    _float_only("leaky_relu", input)
    return _maybe_inplace(input, inplace, lambda x: PiecewiseLinear(
        _leaky(negative_slope), "leaky_relu", (negative_slope,))(x))


def hardtanh(input, min_val=-1.0, max_val=1.0, inplace=False):
    if min_val > max_val:
        raise ValueError(f"hardtanh: min_val cannot be greater than max_val (got min_val="
                         f"{min_val}, max_val={max_val})")
    kind = input._data.dtype.kind
    if kind == "b":
        raise RuntimeError("hardtanh: Bool inputs not supported")
    if kind in "iu":  # integer input stays integer: the bounds truncate toward 0, as torch's
        lo, hi = int(min_val), int(max_val)
        return _maybe_inplace(input, inplace, lambda x: clamp(x, lo, hi))
    return _maybe_inplace(input, inplace,
                          lambda x: PiecewiseLinear(
                              _hardtanh(min_val, max_val), "hardtanh", (min_val, max_val))(x))


def hardsigmoid(input, inplace=False):
    _float_only("hardsigmoid", input)
    return _maybe_inplace(input, inplace,
                          lambda x: PiecewiseLinear(_hardsigmoid, "hardsigmoid")(x))


def hardswish(input, inplace=False):
    _float_only("hardswish", input)
    return _maybe_inplace(input, inplace, lambda x: Hardswish()(x))


def threshold(input, threshold, value, inplace=False):
    """x where x > threshold, else ``value``."""
    return _maybe_inplace(input, inplace,
                          lambda x: PiecewiseLinear(
                              _threshold(threshold, value), "threshold", (threshold, value))(x))


def hardshrink(input, lambd=0.5):
    _float_only("hardshrink", input)
    return PiecewiseLinear(_shrink(lambd, False), "hardshrink", (lambd,))(input)


def softshrink(input, lambd=0.5):
    _float_only("softshrink", input)
    if lambd < 0:
        raise RuntimeError(f"softshrink: lambda must be greater or equal to 0, got {lambd}")
    return PiecewiseLinear(_shrink(lambd, True), "softshrink", (lambd,))(input)


def rrelu(input, lower=1.0 / 8, upper=1.0 / 3, training=False, inplace=False):
    """leaky_relu with a random slope in [lower, upper] per element when training, else the
    mean slope."""
    if not training:
        return leaky_relu(input, (lower + upper) / 2, inplace)
    from ..creation import rand
    r = rand(*input.shape, dtype=input.dtype, device=input.device)._data * (upper - lower) + lower

    def fn(xp, x):
        slope = xp.where(x <= 0, r, 1).astype(x.dtype)
        return x * slope, slope
    return _maybe_inplace(input, inplace,
                          lambda x: PiecewiseLinear(fn, "rrelu", (lower, upper))(x))


def prelu(input, weight):
    """leaky_relu with a learned slope: one per channel (dim 1) or a single one."""
    n = weight.numel()
    if n != 1:
        channels = input.shape[1] if input.ndim >= 2 else 1
        if weight.ndim != 1 or n != channels:
            raise RuntimeError(f"prelu: weight of shape {tuple(weight.shape)} must have 1 or "
                               f"{channels} elements (channels of input {tuple(input.shape)})")
        weight = reshape(weight, (n,) + (1,) * (input.ndim - 2))
    elif input.ndim < weight.ndim:
        weight = reshape(weight, ())
    return where(input > 0, input, weight * input)


def elu(input, alpha=1.0, inplace=False):
    _float_only("elu", input)
    return _maybe_inplace(input, inplace, lambda x: ELU(alpha)(x))


_SELU_ALPHA = 1.6732632423543772848170429916717
_SELU_SCALE = 1.0507009873554804934193349852946


def selu(input, inplace=False):
    _float_only("selu", input)
    return _maybe_inplace(input, inplace, lambda x: ELU(_SELU_ALPHA, _SELU_SCALE)(x))


def celu(input, alpha=1.0, inplace=False):
    _float_only("celu", input)
    if alpha == 0:
        raise RuntimeError("ZeroDivisionError: celu: alpha must not be 0")
    return _maybe_inplace(input, inplace, lambda x: ELU(alpha, 1.0, 1.0 / alpha)(x))


def gelu(input, approximate="none"):
    _float_only("gelu", input)
    if approximate not in ("none", "tanh"):
        raise RuntimeError(f"gelu: approximate must be 'none' or 'tanh', got {approximate!r}")
    return GELU(approximate)(input)


def silu(input, inplace=False):
    _float_only("silu", input)
    return _maybe_inplace(input, inplace, lambda x: SiLU()(x))


def softplus(input, beta=1.0, threshold=20.0):
    _float_only("softplus", input)
    return Softplus(beta, threshold)(input)


def mish(input, inplace=False):
    _float_only("mish", input)
    return _maybe_inplace(input, inplace, lambda x: x * tanh(softplus(x)))


def logsigmoid(input):
    """log(sigmoid(x)) = -softplus(-x), stable for large |x|."""
    _float_only("logsigmoid", input)
    return -Softplus(1.0, math.inf)(-input)


def softsign(input):
    return input / (input.abs() + 1.0)


def tanhshrink(input):
    return input - tanh(input)


def glu(input, dim=-1):
    """a * sigmoid(b) where a, b are the two halves of ``dim``."""
    if input.ndim == 0:
        raise RuntimeError("glu does not support scalars because halving size must be even")
    from ._operands import normalize_dim
    axis = normalize_dim(dim, input.ndim)
    if input.shape[axis] % 2:
        raise RuntimeError(f"glu: Halving dimension must be even, but dimension {axis} is size "
                           f"{input.shape[axis]} (input shape {tuple(input.shape)})")
    a, b = _Halves(axis)(input)
    return a * sigmoid(b)


def softmin(input, dim=None, _stacklevel=3, dtype=None):
    return softmax(-input, dim, dtype=dtype)


def maxout(input, pool_size, dim=1):
    """Max over groups of ``pool_size`` consecutive features along ``dim`` (Goodfellow et al.)."""
    from ._operands import normalize_dim
    axis = normalize_dim(dim, input.ndim)
    c = input.shape[axis]
    if pool_size < 1 or c % pool_size:
        raise RuntimeError(f"maxout: size {c} of dim {axis} (input shape {tuple(input.shape)}) is "
                           f"not a multiple of pool_size={pool_size}")
    shape = input.shape[:axis] + (c // pool_size, pool_size) + input.shape[axis + 1:]
    return amax(reshape(input, shape), axis + 1)


# --- in-place forms (torch.nn.functional's ``op_``): the result replaces input's values ------
def relu_(input):
    """In-place relu."""
    return relu(input, inplace=True)


def elu_(input, alpha=1.0):
    """In-place elu."""
    return elu(input, alpha, inplace=True)


def leaky_relu_(input, negative_slope=0.01):
    """In-place leaky_relu."""
    return leaky_relu(input, negative_slope, inplace=True)


def hardtanh_(input, min_val=-1.0, max_val=1.0):
    """In-place hardtanh."""
    return hardtanh(input, min_val, max_val, inplace=True)


def threshold_(input, threshold, value):
    """In-place threshold."""
    return _maybe_inplace(input, True,
                          lambda x: PiecewiseLinear(
                              _threshold(threshold, value), "threshold", (threshold, value))(x))


def rrelu_(input, lower=1.0 / 8, upper=1.0 / 3, training=False):
    """In-place rrelu."""
    return rrelu(input, lower, upper, training, inplace=True)


def selu_(input):
    """In-place selu."""
    return selu(input, inplace=True)


def celu_(input, alpha=1.0):
    """In-place celu."""
    return celu(input, alpha, inplace=True)


def _gumbel_noise(logits):
    """Standard Gumbel samples shaped like ``logits``: -log(E) with E ~ Exponential(1)."""
    from ..creation import rand
    xp = get_array_module(logits._data)
    u = rand(*logits.shape, dtype=logits.dtype, device=logits.device)._data
    e = -xp.log1p(-u)  # u in [0, 1): e in [0, inf)
    tiny = xp.finfo(e.dtype).tiny
    return Tensor(-xp.log(xp.maximum(e, tiny)))


def gumbel_softmax(logits, tau=1, hard=False, eps=1e-10, dim=-1):
    """softmax((logits + g) / tau) along ``dim`` with g ~ Gumbel(0, 1): a differentiable sample
    from the categorical distribution softmax(logits) (Jang et al., 2016).

    ``hard=True`` returns the one-hot of the sample's argmax, with the soft sample's gradient
    (straight-through: ``one_hot - y.detach() + y``). ``eps`` is unused, as in torch.
    """
    if logits.ndim == 0:
        raise RuntimeError("gumbel_softmax: logits must have at least one dimension")
    y = softmax((logits + _gumbel_noise(logits)) / tau, dim)
    if not hard:
        return y
    from ._operands import normalize_dim
    axis = normalize_dim(dim, logits.ndim)
    xp = get_array_module(y._data)
    idx = xp.expand_dims(y._data.argmax(axis=axis), axis)
    shape = [1] * y.ndim
    shape[axis] = y.shape[axis]
    positions = xp.arange(y.shape[axis]).reshape(shape)
    one_hot = Tensor((positions == idx).astype(y._data.dtype))
    return one_hot - y.detach() + y


register_methods(relu=relu, sigmoid=sigmoid, tanh=tanh, hardshrink=hardshrink, prelu=prelu,
                 relu_=lambda self: relu(self, inplace=True),
                 sigmoid_=lambda self: self._apply_inplace(sigmoid),
                 tanh_=lambda self: self._apply_inplace(tanh),
                 softmax=lambda self, dim=None, dtype=None: softmax(self, dim, dtype=dtype),
                 log_softmax=lambda self, dim=None, dtype=None: log_softmax(self, dim, dtype=dtype))
