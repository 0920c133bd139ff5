"""Normalization: batch_norm, layer_norm, group_norm, instance_norm, local_response_norm,
normalize.

``Normalize`` is the one fused op behind the first four: ``(x - mean) * rsqrt(var + eps)``
over a set of axes, times an optional weight plus an optional bias. Its backward is fused
array code when no graph is recorded (the usual training step) and the same formula written
with narae ops under ``create_graph=True``, so gradients of gradients work.

Batch norm (per-channel statistics of (N, C, ...) input) takes the hand-written kernels when
``use_kernels`` says so (CuPy, or NumPy under ``kernels.emulate()``): reductions for the
statistics, one fused kernel per element-wise pass (``backend/kernels/batchnorm_ops.py``).
"""
import numpy as np

from ..autograd import grad_mode
from ..autograd.function import Function, ShapeError
from ..backend import get_array_module
from ..backend.kernels import batchnorm_ops as bn_kernels
from ..tensor import Tensor
from .arith import rsqrt, clamp
from .shape import reshape, sum_to_array

__all__ = ["batch_norm", "layer_norm", "group_norm", "instance_norm", "local_response_norm",
           "normalize", "rms_norm"]


class Normalize(Function):
    """y = (x - mean) / sqrt(var + eps) * w + b, statistics over ``axes`` (biased variance).

    ``w`` and ``b`` (optional, as flagged) are already shaped to broadcast against x. After
    the forward pass ``self.mean`` and ``self.var`` hold the statistics (for running stats).
    """

    def __init__(self, axes, eps, has_weight=False, has_bias=False):
        self.axes, self.eps = axes, eps
        self.has_weight, self.has_bias = has_weight, has_bias

    def forward(self, x, *params):
        xp = get_array_module(x)
        self.on_kernels = self._per_channel(x) and bn_kernels.applies(xp, x, *params)
        if self.on_kernels:
            return self._forward_kernels(x, params)
        ax = self.axes
        mean = x.mean(axis=ax, keepdims=True)
        xhat = x - mean
        var = (xhat * xhat).mean(axis=ax, keepdims=True)
        rstd = 1.0 / xp.sqrt(var + self.eps)
        xhat *= rstd
        self.mean, self.var, self.rstd, self.xhat = mean, var, rstd, xhat
        y = xhat
        if self.has_weight:
            y = y * params[0]
        if self.has_bias:
            y = y + params[-1]
        return y if y is not xhat else xhat.copy()

    def _per_channel(self, x):
        """Statistics per channel of (N, C, ...): batch norm, which has kernels."""
        return x.ndim >= 2 and tuple(self.axes) == (0,) + tuple(range(2, x.ndim))

    def _forward_kernels(self, x, params):
        mean, var, invstd = bn_kernels.batch_stats(x, self.eps)
        shape = (1, x.shape[1]) + (1,) * (x.ndim - 2)
        self.mean, self.var = mean.reshape(shape), var.reshape(shape)
        self.channel_stats = (mean, invstd)
        w = params[0] if self.has_weight else None
        b = params[-1] if self.has_bias else None
        return bn_kernels.forward(x, mean, invstd, w, b)

    def _backward_kernels(self, g):
        x = self.inputs[0]._data
        w = self.inputs[1] if self.has_weight else None
        mean, invstd = self.channel_stats
        sum_gy, sum_gy_xhat = bn_kernels.backward_sums(x, g, mean, invstd)
        gx = None
        if self.inputs[0].requires_grad:
            gx = Tensor(bn_kernels.backward_train(x, g, mean, invstd,
                                                  w._data if w is not None else None,
                                                  sum_gy, sum_gy_xhat))
        grads = [gx]
        if w is not None:
            grads.append(Tensor(sum_gy_xhat.reshape(w.shape)) if w.requires_grad else None)
        if self.has_bias:
            b = self.inputs[-1]
            grads.append(Tensor(sum_gy.reshape(b.shape)) if b.requires_grad else None)
        return tuple(grads)

    def backward(self, gy):
        if grad_mode.state.enabled:
            return self._backward_graph(gy)
        if self.on_kernels:
            return self._backward_kernels(gy._data)
        g = gy._data
        w = self.inputs[1] if self.has_weight else None
        ax, xhat, rstd = self.axes, self.xhat, self.rstd
        gxhat = g * w._data if w is not None else g
        gx = None
        if self.inputs[0].requires_grad:
            gx = gxhat - gxhat.mean(axis=ax, keepdims=True)
            gx -= xhat * (gxhat * xhat).mean(axis=ax, keepdims=True)
            gx *= rstd
            gx = Tensor(gx)
        grads = [gx]
        if w is not None:
            grads.append(Tensor(sum_to_array(g * xhat, w.shape)) if w.requires_grad else None)
        if self.has_bias:
            b = self.inputs[-1]
            grads.append(Tensor(sum_to_array(g, b.shape)) if b.requires_grad else None)
        return tuple(grads)

    def _backward_graph(self, gy):
        """The same gradient as differentiable ops (recomputing the statistics from x)."""
        x = self.inputs[0]
        ax = self.axes
        xc = x - x.mean(ax, keepdim=True)
        rstd = rsqrt((xc * xc).mean(ax, keepdim=True) + self.eps)
        xhat = xc * rstd
        w = self.inputs[1] if self.has_weight else None
        gxhat = gy * w if w is not None else gy
        gx = rstd * (gxhat - gxhat.mean(ax, keepdim=True)
                     - xhat * (gxhat * xhat).mean(ax, keepdim=True))
        grads = [gx]
        if w is not None:
            grads.append(gy * xhat if w.requires_grad else None)
        if self.has_bias:
            grads.append(gy if self.inputs[-1].requires_grad else None)
        return tuple(grads)


def _normalize_fn(x, axes, eps, weight, bias):
    fn = Normalize(axes, eps, weight is not None, bias is not None)
    params = [p for p in (weight, bias) if p is not None]
    return fn, fn(x, *params)


def _channel_param(p, c, ndim, what, name):
    """A (C,) weight/bias/statistic reshaped to (C, 1, ..., 1) to broadcast over (N, C, ...)."""
    if p is None:
        return None
    if p.shape != (c,):
        raise ShapeError(f"{what}: {name} of shape {tuple(p.shape)} does not match the "
                         f"{c} channels of the input (expected shape ({c},))")
    return reshape(p, (c,) + (1,) * (ndim - 2))


def _update_running(stat, value, momentum):
    """stat = (1 - momentum) * stat + momentum * value, in place and outside the graph."""
    data = stat._data
    value = value.astype(data.dtype, copy=False).reshape(data.shape)
    data *= 1.0 - momentum
    data += momentum * value
    stat._version[0] += 1


def batch_norm(input, running_mean, running_var, weight=None, bias=None, training=False,
               momentum=0.1, eps=1e-05):
    """Normalize each channel of (N, C), (N, C, L) or (N, C, H, W) input.

    training: batch statistics, and running_mean / running_var (if given) are updated in place
    with ``momentum`` (the unbiased variance, like torch). Otherwise the running statistics
    are used. ``momentum=None`` (a cumulative average) is the module's business: it passes
    1 / num_batches_tracked here.
    """
    if input.ndim < 2:
        raise ShapeError(f"batch_norm: expected an input of shape (N, C, ...), got shape "
                         f"{tuple(input.shape)}")
    if momentum is None:
        raise TypeError("batch_norm: momentum must be a float (for a cumulative average pass "
                        "1 / num_batches_tracked, as nn.BatchNorm does)")
    c, nd = input.shape[1], input.ndim
    w = _channel_param(weight, c, nd, "batch_norm", "weight")
    b = _channel_param(bias, c, nd, "batch_norm", "bias")
    for name, s in (("running_mean", running_mean), ("running_var", running_var)):
        if s is not None and s.numel() != c:
            raise ShapeError(f"batch_norm: {name} of shape {tuple(s.shape)} does not match the "
                             f"{c} channels of the input of shape {tuple(input.shape)}")
    if training:
        count = input.numel() // max(c, 1)
        if count == 1:  # (an empty batch is fine: an empty result, as torch)
            raise ValueError(f"Expected more than 1 value per channel when training, got input "
                             f"size {list(input.shape)}")
        axes = (0,) + tuple(range(2, nd))
        fn, y = _normalize_fn(input, axes, eps, w, b)
        if count == 0:  # an empty batch has no statistics: the running ones stay
            return y
        if running_mean is not None:
            _update_running(running_mean, fn.mean, momentum)
        if running_var is not None:
            _update_running(running_var, fn.var * (count / (count - 1)), momentum)
        return y
    if running_mean is None or running_var is None:
        raise RuntimeError("batch_norm: running_mean and running_var must be defined in "
                           "evaluation mode (training=False)")
    return _affine_eval(input, running_mean, running_var, weight, bias, eps)


class BatchNormEval(Function):
    """y = (x - mean) * invstd * w + b with fixed per-channel statistics, on the kernels.

    ``mean`` and ``invstd`` are (C,) arrays copied at construction (the running statistics
    may be updated in place before backward); w and b, when flagged, are inputs shaped
    (C, 1, ..., 1) like Normalize's.
    """

    def __init__(self, mean, invstd, has_weight, has_bias):
        self.mean, self.invstd = mean, invstd
        self.has_weight, self.has_bias = has_weight, has_bias

    def forward(self, x, *params):
        w = params[0] if self.has_weight else None
        b = params[-1] if self.has_bias else None
        return bn_kernels.forward(x, self.mean, self.invstd, w, b)

    def backward(self, gy):
        if grad_mode.state.enabled:
            return self._backward_graph(gy)
        x = self.inputs[0]
        w = self.inputs[1] if self.has_weight else None
        g = gy._data
        grads = [Tensor(bn_kernels.backward_eval(g, self.invstd, w._data if w is not None
                                                 else None)) if x.requires_grad else None]
        sum_gy = sum_gy_xhat = None
        if w is not None and w.requires_grad or self.has_bias and self.inputs[-1].requires_grad:
            sum_gy, sum_gy_xhat = bn_kernels.backward_sums(x._data, g, self.mean, self.invstd)
        if w is not None:
            grads.append(Tensor(sum_gy_xhat.reshape(w.shape)) if w.requires_grad else None)
        if self.has_bias:
            b = self.inputs[-1]
            grads.append(Tensor(sum_gy.reshape(b.shape)) if b.requires_grad else None)
        return tuple(grads)

    def _backward_graph(self, gy):
        """The same gradient as differentiable ops (for create_graph=True)."""
        x = self.inputs[0]
        shape = (1, x.shape[1]) + (1,) * (x.ndim - 2)
        invstd = Tensor(self.invstd.reshape(shape))
        w = self.inputs[1] if self.has_weight else None
        grads = [gy * (invstd * w if w is not None else invstd)]
        if w is not None:
            xhat = (x - Tensor(self.mean.reshape(shape))) * invstd
            grads.append(gy * xhat if w.requires_grad else None)
        if self.has_bias:
            grads.append(gy if self.inputs[-1].requires_grad else None)
        return tuple(grads)


def _eval_kernels(input, mean, var, weight, bias, eps):
    """_affine_eval on the batch-norm kernels, or None where they do not apply."""
    xp = get_array_module(input._data)
    arrays = [t._data for t in (mean, var, weight, bias) if t is not None]
    if mean.requires_grad or var.requires_grad or \
            not bn_kernels.applies(xp, input._data, *arrays):
        return None
    c, nd = input.shape[1], input.ndim
    m = xp.array(mean._data.reshape(-1))
    invstd = 1.0 / xp.sqrt(var._data.reshape(-1) + eps)
    params = [reshape(p, (c,) + (1,) * (nd - 2)) for p in (weight, bias) if p is not None]
    fn = BatchNormEval(m, invstd.astype(m.dtype, copy=False), weight is not None,
                       bias is not None)
    return fn(input, *params)


def _affine_eval(input, mean, var, weight, bias, eps):
    """(x - mean) / sqrt(var + eps) * w + b with fixed statistics, as one scale and shift."""
    y = _eval_kernels(input, mean, var, weight, bias, eps)
    if y is not None:
        return y
    c, nd = input.shape[1], input.ndim
    scale = rsqrt(reshape(var, (c,)) + eps)
    if weight is not None:
        scale = scale * weight
    shift = -reshape(mean, (c,)) * scale
    if bias is not None:
        shift = shift + bias
    shape = (c,) + (1,) * (nd - 2)
    return input * reshape(scale, shape) + reshape(shift, shape)


def _trailing_shape(op, input, normalized_shape):
    """``normalized_shape`` as a tuple, checked to be the trailing dims of ``input``."""
    if isinstance(normalized_shape, int):
        normalized_shape = (normalized_shape,)
    shape = tuple(int(s) for s in normalized_shape)
    k = len(shape)
    if k == 0 or input.ndim < k or tuple(input.shape[-k:]) != shape:
        raise ShapeError(f"{op}: given normalized_shape={list(shape)}, expected input with "
                         f"shape [*, {', '.join(map(str, shape))}], but got input of shape "
                         f"{tuple(input.shape)}")
    return shape


def layer_norm(input, normalized_shape, weight=None, bias=None, eps=1e-05):
    """Normalize over the trailing ``normalized_shape`` dims; weight/bias have that shape."""
    shape = _trailing_shape("layer_norm", input, normalized_shape)
    k = len(shape)
    for name, p in (("weight", weight), ("bias", bias)):
        if p is not None and tuple(p.shape) != shape:
            raise ShapeError(f"layer_norm: {name} of shape {tuple(p.shape)} does not match "
                             f"normalized_shape {shape}")
    axes = tuple(range(input.ndim - k, input.ndim))
    return _normalize_fn(input, axes, eps, weight, bias)[1]


def rms_norm(input, normalized_shape, weight=None, eps=None):
    """x / sqrt(mean(x^2) + eps) over the trailing ``normalized_shape`` dims, times weight
    (eps defaults to the dtype's machine epsilon, as torch's)."""
    shape = _trailing_shape("rms_norm", input, normalized_shape)
    k = len(shape)
    if weight is not None and tuple(weight.shape) != shape:
        raise ShapeError(f"rms_norm: weight of shape {tuple(weight.shape)} does not match "
                         f"normalized_shape {shape}")
    if eps is None:
        eps = float(np.finfo(input._data.dtype).eps)
    axes = tuple(range(input.ndim - k, input.ndim))
    y = input * rsqrt((input * input).mean(axes, keepdim=True) + eps)
    return y * weight if weight is not None else y


def group_norm(input, num_groups, weight=None, bias=None, eps=1e-05):
    """Normalize over groups of channels (and all spatial positions) of (N, C, ...)."""
    if input.ndim < 2:
        raise ShapeError(f"group_norm: expected an input of shape (N, C, ...), got shape "
                         f"{tuple(input.shape)}")
    n, c, nd = input.shape[0], input.shape[1], input.ndim
    if num_groups <= 0 or c % num_groups:
        raise ShapeError(f"group_norm: expected the number of channels of the input of shape "
                         f"{tuple(input.shape)} to be divisible by num_groups={num_groups}")
    w = _channel_param(weight, c, nd, "group_norm", "weight")
    b = _channel_param(bias, c, nd, "group_norm", "bias")
    grouped = reshape(input, (n, num_groups, input.numel() // max(n * num_groups, 1)))
    y = reshape(_normalize_fn(grouped, (2,), eps, None, None)[1], input.shape)
    if w is not None:
        y = y * w
    if b is not None:
        y = y + b
    return y


def instance_norm(input, running_mean=None, running_var=None, weight=None, bias=None,
                  use_input_stats=True, momentum=0.1, eps=1e-05):
    """Normalize each channel of each sample over its spatial positions."""
    if input.ndim < 3:
        raise ShapeError(f"instance_norm: expected an input of shape (N, C, L, ...), got shape "
                         f"{tuple(input.shape)}")
    c, nd = input.shape[1], input.ndim
    if not use_input_stats:
        if running_mean is None or running_var is None:
            raise RuntimeError("instance_norm: running_mean and running_var are needed when "
                               "use_input_stats=False")
        return _affine_eval(input, running_mean, running_var, weight, bias, eps)
    w = _channel_param(weight, c, nd, "instance_norm", "weight")
    b = _channel_param(bias, c, nd, "instance_norm", "bias")
    axes = tuple(range(2, nd))
    count = int(np.prod(input.shape[2:]))
    if count == 1:
        raise ValueError(f"Expected more than 1 spatial element when training, got input size "
                         f"{list(input.shape)}")
    fn, y = _normalize_fn(input, axes, eps, w, b)
    if count == 0 or input.shape[0] == 0:  # nothing to average: the running stats stay
        return y
    # the running statistics average the per-instance statistics over the batch
    if running_mean is not None:
        _update_running(running_mean, fn.mean.mean(axis=0), momentum)
    if running_var is not None:
        _update_running(running_var, fn.var.mean(axis=0) * (count / (count - 1)), momentum)
    return y


class ChannelWindowSum(Function):
    """Sum over channels c - before .. c + after (zero padding) along axis 1.

    Linear; its adjoint is the same window mirrored, so the backward is this op again.
    """
    uses_inputs = False

    def __init__(self, before, after):
        self.before, self.after = before, after

    def forward(self, x):
        xp = get_array_module(x)
        c = x.shape[1]
        pad = [(0, 0)] * x.ndim
        pad[1] = (self.before + 1, self.after)  # one extra zero: cs[k] = sum of the first k
        cs = xp.cumsum(xp.pad(x, pad), axis=1)
        size = self.before + self.after + 1
        return cs[:, size:size + c] - cs[:, :c]

    def backward(self, gy):
        return ChannelWindowSum(self.after, self.before)(gy)


def local_response_norm(input, size, alpha=0.0001, beta=0.75, k=1.0):
    """x / (k + alpha * mean of x^2 over ``size`` neighbouring channels) ** beta (AlexNet)."""
    if input.ndim < 3:
        raise ShapeError(f"local_response_norm: expected 3D or higher dimensionality input, got "
                         f"shape {tuple(input.shape)}")
    if input.numel() == 0:
        return input
    window = ChannelWindowSum(size // 2, (size - 1) // 2)(input * input)
    return input / (window * (alpha / size) + k) ** beta


def normalize(input, p=2.0, dim=1, eps=1e-12, out=None):
    """input / max(||input||_p, eps) along ``dim``."""
    from .distance import VectorNorm
    from ._operands import normalize_dim
    if out is not None:
        raise NotImplementedError("normalize: out= is not supported")
    if input.ndim == 0:
        return input / clamp(abs(input), min=eps)
    d = normalize_dim(dim, input.ndim)
    return input / clamp(VectorNorm(d, p)(input), min=eps)
