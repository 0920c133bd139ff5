"""Quantized modules (torch.ao.nn.quantized) made by ``convert``: they take and return
quantized tensors and compute with integers.

Linear/Conv: the accumulator sum (xq - zx)(wq - zw) is exact (an integer GEMM, carried in
float64, exact below 2^53); the output is requantized as fbgemm does, in float32:
q = clamp(rint((acc + b / (sx sw)) * (sx sw / sy)) + zy, 0, 255) (the lower bound is zy
when a ReLU is fused), so int_repr matches torch's x86/fbgemm within one unit.
"""
import numpy as np

from .... import _dtype
from ...._dtype import qint8, quint8, per_tensor_affine
from ....autograd import grad_mode
from ....backend import get_array_module
from ....nn.module import Module
from ....ops import conv as _conv
from ....ops import pool as _pool
from ....ops.quantize import QuantizedTensor, quantize_per_tensor, quantize_per_channel
from ....tensor import Tensor

__all__ = ["Quantize", "DeQuantize", "Linear", "Conv1d", "Conv2d", "ReLU", "ReLU6", "Hardswish",
           "LeakyReLU", "ELU", "Sigmoid", "Softmax", "Dropout", "BatchNorm2d", "LayerNorm",
           "MaxPool1d", "MaxPool2d", "QuantizedPassThrough", "FloatFunctional",
           "FXFloatFunctional", "QFunctional"]

_F32 = np.float32


def _is_q(x):
    return isinstance(x, QuantizedTensor)


def _require_q(op, x):
    if not _is_q(x):
        raise RuntimeError(f"{op}: expected a quantized input (quint8), got a "
                           f"{getattr(x, 'dtype', type(x).__name__)} tensor; put a QuantStub "
                           "(Quantize) before it")
    if x._axis is not None:
        raise RuntimeError(f"{op}: expected a per-tensor quantized input")


def _centered(q):
    """Integer values minus the zero point(s), as float64 (exact) for the GEMM."""
    a = q._data.astype(np.float64)
    if q._axis is None:
        return a - float(q._zero_point)
    shape = [1] * a.ndim
    shape[q._axis] = a.shape[q._axis]
    return a - q._zero_point.reshape(shape).astype(np.float64)


def _weight_scales(w):
    """Per-output-channel weight scales (float32 array, or a 1-element one per tensor)."""
    xp = get_array_module(w._data)
    if w._axis is None:
        return xp.asarray([w._scale], dtype=_F32)
    return w._scale.astype(_F32)


def _requantize(acc, x_scale, w_scales, bias, out_scale, out_zp, relu, ch_axis):
    """fbgemm's output stage: float32 requantization of the int32 accumulator."""
    xp = get_array_module(acc)
    shape = [1] * acc.ndim
    shape[ch_axis] = -1
    act_w = (_F32(x_scale) * w_scales).reshape(shape).astype(_F32)
    raw = acc.astype(_F32)
    if bias is not None:
        raw = raw + (bias.astype(_F32).reshape(shape) / act_w)
    q = xp.rint(raw * (act_w / _F32(out_scale))) + _F32(out_zp)
    q = xp.clip(q, out_zp if relu else 0, 255).astype(np.uint8)
    return QuantizedTensor(q, quint8, per_tensor_affine, float(out_scale), int(out_zp))


def _quantize_weight(float_wt, observer):
    """Quantize a float weight with the qparams its observer chose (per tensor/channel)."""
    s, z = observer.calculate_qparams()
    if observer.qscheme in (_dtype.per_tensor_affine, _dtype.per_tensor_symmetric):
        return quantize_per_tensor(float_wt, float(s), int(z), observer.dtype)
    if observer.qscheme in (_dtype.per_channel_affine, _dtype.per_channel_symmetric):
        return quantize_per_channel(float_wt, s.double(), z.long(), observer.ch_axis,
                                    observer.dtype)
    raise ValueError(f"unsupported weight qscheme {observer.qscheme}")


def _float_and_observer(mod):
    """(float layer holding the weight, its weight observer after seeing the weight) for
    ``from_float``: a plain/fused float module gets a fresh observer from its qconfig, a QAT
    module brings its ``weight_fake_quant`` (with BatchNorm folded in first for ConvBn)."""
    if hasattr(mod, "weight_fake_quant"):
        wobs = mod.weight_fake_quant
        layer = mod.fused_conv() if hasattr(mod, "bn") else mod
    else:
        if getattr(mod, "qconfig", None) is None:
            raise ValueError(f"{type(mod).__name__}: from_float needs a qconfig (run "
                             "prepare first)")
        layer = mod[0] if isinstance(mod, _fused_types()) else mod
        wobs = mod.qconfig.weight()
    if not hasattr(mod, "activation_post_process"):
        raise ValueError(f"{type(mod).__name__}: from_float needs an observed module (run "
                         "prepare and calibrate first)")
    with grad_mode.no_grad():
        wobs(layer.weight.detach())
    return layer, wobs


class _QParamsModule(Module):
    """A quantized module with an output (scale, zero_point), saved in state_dict."""
    scale = 1.0
    zero_point = 0
    _SAVE_QPARAMS = True  # (torch keeps some modules' qparams out of state_dict: ELU...)

    def _save_to_state_dict(self, destination, prefix, keep_vars):
        super()._save_to_state_dict(destination, prefix, keep_vars)
        if not self._SAVE_QPARAMS:
            return
        destination[prefix + "scale"] = Tensor(np.array(self.scale, np.float32))
        destination[prefix + "zero_point"] = Tensor(np.array(self.zero_point, np.int64))

    def _load_from_state_dict(self, state_dict, prefix, strict, missing_keys, unexpected_keys,
                              error_msgs):
        for name, cast in (("scale", float), ("zero_point", int)):
            key = prefix + name
            if key in state_dict:
                setattr(self, name, cast(np.asarray(state_dict[key])))
            elif strict and self._SAVE_QPARAMS:
                missing_keys.append(key)
        super()._load_from_state_dict(
            {k: v for k, v in state_dict.items() if k not in (prefix + "scale",
                                                                 prefix + "zero_point")},
            prefix, strict, missing_keys, unexpected_keys, error_msgs)


class Quantize(_QParamsModule):
    """Float -> quantized tensor with fixed (scale, zero_point): the converted QuantStub."""

    def __init__(self, scale, zero_point, dtype, factory_kwargs=None):
        super().__init__()
        self.scale, self.zero_point, self.dtype = float(scale), int(zero_point), dtype

    def forward(self, X):
        return quantize_per_tensor(X, self.scale, self.zero_point, self.dtype)

    @staticmethod
    def from_float(mod, use_precomputed_fake_quant=False):
        s, z = mod.activation_post_process.calculate_qparams()
        return Quantize(float(s), int(z), mod.activation_post_process.dtype)

    def extra_repr(self):
        return f"scale={self.scale}, zero_point={self.zero_point}, dtype={self.dtype}"


class DeQuantize(Module):
    """Quantized -> float32: the converted DeQuantStub."""

    def forward(self, Xq):
        return Xq.dequantize()

    @staticmethod
    def from_float(mod, use_precomputed_fake_quant=False):
        return DeQuantize()


_PACKED_KEYS = ("weight", "weight_scale", "weight_zero_point", "weight_axis", "bias")


class _WeightedModule(_QParamsModule):
    """A quantized module with a quantized weight and a float bias.

    torch packs them for fbgemm; narae keeps the integers, their per-channel qparams and the
    bias as non-persistent buffers (so ``model.to(device)`` moves them) and saves them as
    plain tensors under ``<_PACKED_PREFIX>weight``, ``weight_scale``, ``weight_zero_point``
    (``weight_axis`` per channel) and ``bias``: narae checkpoints hold tensors only, not
    quantized tensors.
    """
    _PACKED_PREFIX = ""

    def weight(self):
        w = self._packed_weight
        qdtype, qscheme, scale, zp, axis = self._packed_meta
        if axis is not None:
            scale, zp = self._packed_weight_scale._data, self._packed_weight_zero_point._data
        return QuantizedTensor(w._data, qdtype, qscheme, scale, zp, axis)

    def bias(self):
        return self._packed_bias

    def set_weight_bias(self, w, b):
        per_channel = w._axis is not None
        self.register_buffer("_packed_weight", Tensor(w._data), persistent=False)
        self.register_buffer("_packed_weight_scale",
                             Tensor(w._scale) if per_channel else None, persistent=False)
        self.register_buffer("_packed_weight_zero_point",
                             Tensor(w._zero_point) if per_channel else None, persistent=False)
        self._packed_meta = (w._qdtype, w._qscheme, None if per_channel else w._scale,
                             None if per_channel else w._zero_point, w._axis)
        self.register_buffer("_packed_bias", None if b is None else b.detach(),
                             persistent=False)

    def _save_to_state_dict(self, destination, prefix, keep_vars):
        prefix_p = prefix + self._PACKED_PREFIX
        w = self.weight()
        destination[prefix_p + "weight"] = w.int_repr()
        if w._axis is None:
            destination[prefix_p + "weight_scale"] = Tensor(np.array([w.q_scale()], np.float64))
            destination[prefix_p + "weight_zero_point"] = Tensor(
                np.array([w.q_zero_point()], np.int64))
        else:
            destination[prefix_p + "weight_scale"] = w.q_per_channel_scales()
            destination[prefix_p + "weight_zero_point"] = w.q_per_channel_zero_points()
            destination[prefix_p + "weight_axis"] = Tensor(np.array(w.q_per_channel_axis()))
        if self.bias() is not None:
            destination[prefix_p + "bias"] = self.bias().detach()
        super()._save_to_state_dict(destination, prefix, keep_vars)

    def _load_from_state_dict(self, state_dict, prefix, strict, missing_keys, unexpected_keys,
                              error_msgs):
        prefix_p = prefix + self._PACKED_PREFIX

        def get(name):
            v = state_dict.get(prefix_p + name)
            return None if v is None else (v._data if isinstance(v, Tensor) else np.asarray(v))
        q, sc, zp, axis, b = (get(n) for n in _PACKED_KEYS)
        if q is None or sc is None or zp is None:
            missing_keys += [prefix_p + n for n in _PACKED_KEYS[:3] if get(n) is None]
        else:
            qdtype = qint8 if q.dtype == np.int8 else quint8
            if axis is None:
                w = QuantizedTensor(q, qdtype, per_tensor_affine, float(sc.reshape(-1)[0]),
                                    int(zp.reshape(-1)[0]))
            else:
                w = QuantizedTensor(q, qdtype, _dtype.per_channel_affine, sc.astype(np.float64),
                                    zp.astype(np.int64), int(axis))
            self.set_weight_bias(w, None if b is None else Tensor(b))
        skip = {prefix_p + n for n in _PACKED_KEYS}
        rest = {k: v for k, v in state_dict.items() if k not in skip}
        super()._load_from_state_dict(rest, prefix, strict, missing_keys, unexpected_keys,
                                      error_msgs)


class Linear(_WeightedModule):
    """y_q = requantize(x_q W_q^T + b): int8 weights, quint8 activations."""
    _relu = False
    _PACKED_PREFIX = "_packed_params."

    def __init__(self, in_features, out_features, bias_=True, dtype=qint8):
        super().__init__()
        self.in_features, self.out_features = in_features, out_features
        w = quantize_per_tensor(Tensor(np.zeros((out_features, in_features), _F32)), 1.0, 0,
                                dtype)
        self.set_weight_bias(w, Tensor(np.zeros(out_features, _F32)) if bias_ else None)
        self.scale, self.zero_point = 1.0, 0

    def _get_name(self):
        return "Quantized" + type(self).__name__

    def extra_repr(self):
        w = self.weight()
        return (f"in_features={self.in_features}, out_features={self.out_features}, "
                f"scale={self.scale}, zero_point={self.zero_point}, qscheme={w.qscheme()}")

    def forward(self, x):
        _require_q(type(self).__name__, x)
        if x.shape[-1] != self.in_features:
            raise RuntimeError(f"{type(self).__name__}: input of shape {tuple(x.shape)} does "
                               f"not match in_features={self.in_features}")
        w = self.weight()
        acc = _centered(x) @ _centered(w).T
        b = self.bias()
        return _requantize(acc, x._scale, _weight_scales(w), None if b is None else b._data,
                           self.scale, self.zero_point, self._relu, acc.ndim - 1)

    @classmethod
    def from_float(cls, mod, use_precomputed_fake_quant=False):
        lin, wobs = _float_and_observer(mod)
        s, z = mod.activation_post_process.calculate_qparams()
        with grad_mode.no_grad():
            qw = _quantize_weight(lin.weight.detach().float(), wobs)
        q = cls(lin.in_features, lin.out_features, dtype=wobs.dtype)
        q.set_weight_bias(qw, None if lin.bias is None else lin.bias.detach())
        q.scale, q.zero_point = float(s), int(z)
        return q


def _fused_types():
    from ..intrinsic import modules as nni
    return nni._FusedModule


class _ConvNd(_WeightedModule):
    _relu = False
    _dims = 2

    def __init__(self, in_channels, out_channels, kernel_size, stride=1, padding=0,
                 dilation=1, groups=1, bias=True, padding_mode="zeros", device=None,
                 dtype=None):
        super().__init__()
        if padding_mode != "zeros":
            raise NotImplementedError(f"{type(self).__name__}: only padding_mode='zeros' is "
                                      f"supported, got {padding_mode!r}")
        n = self._dims

        def tup(v):
            return tuple(v) if isinstance(v, (tuple, list)) else (v,) * n
        self.in_channels, self.out_channels = in_channels, out_channels
        self.kernel_size, self.stride = tup(kernel_size), tup(stride)
        self.padding = padding if isinstance(padding, str) else tup(padding)
        self.dilation, self.groups = tup(dilation), groups
        self.padding_mode = padding_mode
        shape = (out_channels, in_channels // groups) + self.kernel_size
        w = quantize_per_tensor(Tensor(np.zeros(shape, _F32)), 1.0, 0, qint8)
        self.set_weight_bias(w, Tensor(np.zeros(out_channels, _F32)) if bias else None)
        self.scale, self.zero_point = 1.0, 0

    def _get_name(self):
        return "Quantized" + type(self).__name__

    def extra_repr(self):
        s = (f"{self.in_channels}, {self.out_channels}, kernel_size={self.kernel_size}, "
             f"stride={self.stride}, scale={self.scale}, zero_point={self.zero_point}")
        if self.padding != (0,) * self._dims:
            s += f", padding={self.padding}"
        if self.dilation != (1,) * self._dims:
            s += f", dilation={self.dilation}"
        if self.groups != 1:
            s += f", groups={self.groups}"
        if self.bias() is None:
            s += ", bias=False"
        return s

    def forward(self, x):
        _require_q(type(self).__name__, x)
        if x.ndim != self._dims + 2 or x.shape[1] != self.in_channels:
            raise RuntimeError(f"{type(self).__name__}: expected input of shape (N, "
                               f"{self.in_channels}, ...) with {self._dims + 2} dims, got "
                               f"{tuple(x.shape)}")
        w = self.weight()
        fn = _conv.conv2d if self._dims == 2 else _conv.conv1d
        with grad_mode.no_grad():  # exact integer sums, in float64
            acc = fn(Tensor(_centered(x)), Tensor(_centered(w)), None, self.stride,
                     self.padding, self.dilation, self.groups)._data
        b = self.bias()
        return _requantize(acc, x._scale, _weight_scales(w), None if b is None else b._data,
                           self.scale, self.zero_point, self._relu, 1)

    @classmethod
    def from_float(cls, mod, use_precomputed_fake_quant=False):
        conv, wobs = _float_and_observer(mod)
        s, z = mod.activation_post_process.calculate_qparams()
        with grad_mode.no_grad():
            qw = _quantize_weight(conv.weight.detach().float(), wobs)
        q = cls(conv.in_channels, conv.out_channels, conv.kernel_size, conv.stride,
                conv.padding, conv.dilation, conv.groups, conv.bias is not None,
                conv.padding_mode)
        q.set_weight_bias(qw, None if conv.bias is None else conv.bias.detach())
        q.scale, q.zero_point = float(s), int(z)
        return q


class Conv1d(_ConvNd):
    """Quantized 1-D convolution over (N, C, L) quint8 inputs."""
    _dims = 1


class Conv2d(_ConvNd):
    """Quantized 2-D convolution over (N, C, H, W) quint8 inputs."""
    _dims = 2


class ReLU(Module):
    """max(x, 0) on a quantized tensor: q -> max(q, zero_point), same qparams (torch applies
    nn.ReLU to quantized tensors directly; narae's ops do not dispatch on them, so convert
    swaps nn.ReLU for this). Float input falls back to the float ReLU."""

    def __init__(self, inplace=False):
        super().__init__()
        self.inplace = inplace

    def forward(self, x):
        if not _is_q(x):
            from ....ops.activation import relu
            return relu(x)
        xp = get_array_module(x._data)
        return x._like(xp.maximum(x._data, x._data.dtype.type(x._zero_point)))

    @classmethod
    def from_float(cls, mod, use_precomputed_fake_quant=False):
        return cls(getattr(mod, "inplace", False))


class ReLU6(ReLU):
    """min(max(x, 0), 6) on a quantized tensor, keeping its qparams."""

    def forward(self, x):
        if not _is_q(x):
            from ....ops.arith import clamp
            return clamp(x, 0.0, 6.0)
        xp = get_array_module(x._data)
        lo, hi = QRANGE_OF[x._qdtype]
        six = min(max(int(np.rint(6.0 / x._scale)) + x._zero_point, lo), hi)
        return x._like(xp.clip(x._data, x._zero_point, six).astype(x._data.dtype))


QRANGE_OF = {quint8: (0, 255), qint8: (-128, 127)}


class _Requantizing(_QParamsModule):
    """Float op on the dequantized input, quantized again to the (scale, zero_point) the
    output observer chose (``from_float``)."""
    _name = ""

    def _op(self, x):
        raise NotImplementedError

    def forward(self, input):
        _require_q(self._get_name(), input)
        return quantize_per_tensor(self._op(input.dequantize()), self.scale, self.zero_point,
                                   input.dtype)

    def _get_name(self):
        return "Quantized" + type(self).__name__

    def extra_repr(self):
        return f"scale={self.scale}, zero_point={self.zero_point}"

    @staticmethod
    def _qparams(mod):
        s, z = mod.activation_post_process.calculate_qparams()
        return float(s), int(z)


class Hardswish(_Requantizing):
    """x * relu6(x + 3) / 6 of a quantized tensor."""

    def __init__(self, scale, zero_point, device=None, dtype=None):
        super().__init__()
        self.scale, self.zero_point = float(scale), int(zero_point)

    def _op(self, x):
        from ....ops.activation import hardswish
        return hardswish(x)

    @classmethod
    def from_float(cls, mod, use_precomputed_fake_quant=False):
        return cls(*cls._qparams(mod))


class LeakyReLU(_Requantizing):
    """max(x, 0) + negative_slope * min(x, 0) of a quantized tensor."""

    def __init__(self, scale, zero_point, negative_slope=0.01, inplace=False, device=None,
                 dtype=None):
        super().__init__()
        self.scale, self.zero_point = float(scale), int(zero_point)
        self.negative_slope, self.inplace = negative_slope, inplace

    def _op(self, x):
        from ....ops.activation import leaky_relu
        return leaky_relu(x, self.negative_slope)

    @classmethod
    def from_float(cls, mod, use_precomputed_fake_quant=False):
        return cls(*cls._qparams(mod), mod.negative_slope, mod.inplace)


class ELU(_Requantizing):
    """x if x > 0 else alpha * (exp(x) - 1), of a quantized tensor."""
    _SAVE_QPARAMS = False

    def __init__(self, scale, zero_point, alpha=1.0):
        super().__init__()
        self.scale, self.zero_point, self.alpha = float(scale), int(zero_point), alpha

    def _op(self, x):
        from ....ops.activation import elu
        return elu(x, self.alpha)

    @classmethod
    def from_float(cls, mod, use_precomputed_fake_quant=False):
        return cls(*cls._qparams(mod), mod.alpha)


class Sigmoid(_Requantizing):
    """1 / (1 + exp(-x)) of a quantized tensor, to (output_scale, output_zero_point).
    ``convert`` makes it with the fixed qparams torch's sigmoid gives quantized tensors:
    scale 1/256 and zero point 0 (quint8), which cover [0, 1) exactly."""
    _SAVE_QPARAMS = False

    def __init__(self, output_scale, output_zero_point):
        super().__init__()
        self.scale, self.zero_point = float(output_scale), int(output_zero_point)

    def _op(self, x):
        from ....ops.activation import sigmoid
        return sigmoid(x)

    def _get_name(self):
        return "Sigmoid"

    def extra_repr(self):
        return ""

    @classmethod
    def from_float(cls, mod, use_precomputed_fake_quant=False):
        if hasattr(mod, "activation_post_process"):
            return cls(*cls._qparams(mod))
        return cls(1.0 / 256.0, 0)


class Softmax(_Requantizing):
    """softmax along ``dim`` of a quantized tensor."""
    _SAVE_QPARAMS = False

    def __init__(self, dim=None, scale=1.0, zero_point=0):
        super().__init__()
        self.dim, self.scale, self.zero_point = dim, float(scale), int(zero_point)

    def _op(self, x):
        from ....ops.activation import softmax
        dim = self.dim if self.dim is not None else (0 if x.ndim in (0, 1, 3) else 1)
        return softmax(x, dim)

    @classmethod
    def from_float(cls, mod, use_precomputed_fake_quant=False):
        return cls(mod.dim, *cls._qparams(mod))


class Dropout(Module):
    """Dropout of a quantized model: the identity (quantized models run in inference)."""

    def __init__(self, p=0.5, inplace=False):
        super().__init__()
        self.p, self.inplace = p, inplace

    def forward(self, input):
        return input

    def _get_name(self):
        return "QuantizedDropout"

    @classmethod
    def from_float(cls, mod, use_precomputed_fake_quant=False):
        return cls(mod.p, mod.inplace)


class BatchNorm2d(_Requantizing):
    """Inference batch norm of a quantized (N, C, H, W) tensor, with the float module's
    running statistics and affine parameters (buffers, saved in state_dict)."""

    def __init__(self, num_features, eps=1e-5, momentum=0.1, device=None, dtype=None):
        super().__init__()
        self.num_features, self.eps, self.momentum = num_features, eps, momentum
        for name, fill in (("weight", 1.0), ("bias", 0.0), ("running_mean", 0.0),
                           ("running_var", 1.0)):
            self.register_buffer(name, Tensor(np.full(num_features, fill, _F32)))
        self.register_buffer("num_batches_tracked", Tensor(np.array(0, np.int64)))

    def _op(self, x):
        from ....ops.norm import batch_norm
        return batch_norm(x, self.running_mean, self.running_var, self.weight, self.bias,
                          False, self.momentum, self.eps)

    @classmethod
    def from_float(cls, mod, use_precomputed_fake_quant=False):
        q = cls(mod.num_features, mod.eps, mod.momentum)
        for name in ("weight", "bias", "running_mean", "running_var"):
            getattr(q, name)._data = getattr(mod, name).detach()._data.astype(_F32)
        q.scale, q.zero_point = cls._qparams(mod)
        return q


class LayerNorm(_Requantizing):
    """Layer norm of a quantized tensor over its last dims (float weight and bias)."""

    def __init__(self, normalized_shape, weight, bias, scale, zero_point, eps=1e-5,
                 elementwise_affine=True, device=None, dtype=None):
        super().__init__()
        self.normalized_shape = tuple(normalized_shape) if isinstance(
            normalized_shape, (tuple, list)) else (normalized_shape,)
        self.eps, self.elementwise_affine = eps, elementwise_affine
        self.register_buffer("weight", None if weight is None else weight.detach())
        self.register_buffer("bias", None if bias is None else bias.detach())
        self.scale, self.zero_point = float(scale), int(zero_point)

    def _op(self, x):
        from ....ops.norm import layer_norm
        return layer_norm(x, self.normalized_shape, self.weight, self.bias, self.eps)

    @classmethod
    def from_float(cls, mod, use_precomputed_fake_quant=False):
        return cls(mod.normalized_shape, mod.weight, mod.bias, *cls._qparams(mod), mod.eps,
                   mod.elementwise_affine)


class QuantizedPassThrough(Module):
    """Runs a float module that commutes with the (increasing) affine quantization map -
    reshapes, max pooling, dropout in eval, identity - on the integers, keeping qparams."""

    def __init__(self, module):
        super().__init__()
        self.module = module

    def forward(self, x):
        if not _is_q(x):
            return self.module(x)
        if x._axis is not None:
            raise RuntimeError(f"{type(self.module).__name__}: per-tensor quantized input "
                               "expected")
        with grad_mode.no_grad():
            y = self.module(Tensor(x._data.astype(_F32)))
        return x._like(y._data.astype(x._data.dtype))

    @classmethod
    def from_float(cls, mod, use_precomputed_fake_quant=False):
        return cls(mod)


class _Pool(Module):
    _fn = None

    def __init__(self, kernel_size, stride=None, padding=0, dilation=1, return_indices=False,
                 ceil_mode=False):
        super().__init__()
        self.kernel_size, self.stride, self.padding = kernel_size, stride, padding
        self.dilation, self.ceil_mode = dilation, ceil_mode

    def forward(self, x):
        fn = getattr(_pool, self._fn)
        args = (self.kernel_size, self.stride, self.padding, self.dilation, self.ceil_mode)
        if not _is_q(x):
            return fn(x, *args)
        with grad_mode.no_grad():  # max commutes with the increasing map q -> s (q - z)
            y = fn(Tensor(x._data.astype(_F32)), *args)
        return x._like(y._data.astype(x._data.dtype))

    @classmethod
    def from_float(cls, mod, use_precomputed_fake_quant=False):
        return cls(mod.kernel_size, mod.stride, mod.padding, mod.dilation, False,
                   mod.ceil_mode)


class MaxPool1d(_Pool):
    """Max pooling of a quantized (N, C, L) tensor (on the integers, same qparams)."""
    _fn = "max_pool1d"


class MaxPool2d(_Pool):
    """Max pooling of a quantized (N, C, H, W) tensor (on the integers, same qparams)."""
    _fn = "max_pool2d"


# -- functional wrappers for add/mul/cat ----------------------------------------------------
class FloatFunctional(Module):
    """Float add/mul/cat as a module, so prepare can observe their outputs (torch's way to
    quantize arithmetic in eager mode); ``convert`` turns it into QFunctional."""

    def __init__(self):
        super().__init__()
        from ....nn import Identity
        self.activation_post_process = Identity()

    def forward(self, x):
        raise RuntimeError("FloatFunctional is not intended to use the 'forward'. Please use "
                           "the underlying operation")

    def _post(self, r):
        return self.activation_post_process(r)

    def add(self, x, y):
        return self._post(x + y)

    def add_scalar(self, x, y):
        return x + y  # (not observed: torch quantizes it with the input's qparams)

    def mul(self, x, y):
        return self._post(x * y)

    def mul_scalar(self, x, y):
        return x * y

    def cat(self, x, dim=0):
        from ....ops.shape import cat
        return self._post(cat(x, dim))

    def add_relu(self, x, y):
        from ....ops.activation import relu
        return self._post(relu(x + y))

    def matmul(self, x, y):
        from ....ops.linalg import matmul
        return self._post(matmul(x, y))


class FXFloatFunctional(FloatFunctional):
    """FloatFunctional without the observer (torch's FX-mode variant)."""

    def _post(self, r):
        return r


class QFunctional(_QParamsModule):
    """add/mul/cat of quantized tensors: dequantize, compute in float, quantize to the
    (scale, zero_point) the observer chose."""

    def __init__(self):
        super().__init__()
        from ....nn import Identity
        self.scale, self.zero_point = 1.0, 0
        self.activation_post_process = Identity()

    def forward(self, x):
        raise RuntimeError("Functional is not intended to use the 'forward'. Please use the "
                           "underlying operation")

    def extra_repr(self):
        return f"scale={self.scale}, zero_point={self.zero_point}"

    def _q(self, r, dtype):
        return quantize_per_tensor(r, self.scale, self.zero_point, dtype)

    def add(self, x, y):
        return self._q(x.dequantize() + y.dequantize(), x.dtype)

    def add_scalar(self, x, y):
        return quantize_per_tensor(x.dequantize() + y, x.q_scale(), x.q_zero_point(),
                                   x.dtype)

    def mul(self, x, y):
        return self._q(x.dequantize() * y.dequantize(), x.dtype)

    def mul_scalar(self, x, y):
        return quantize_per_tensor(x.dequantize() * y, x.q_scale() * abs(y),
                                   x.q_zero_point() if y >= 0 else
                                   QRANGE_OF[x.dtype][1] - x.q_zero_point() +
                                   QRANGE_OF[x.dtype][0], x.dtype)

    def cat(self, x, dim=0):
        from ....ops.shape import cat
        return self._q(cat([t.dequantize() for t in x], dim), x[0].dtype)

    def add_relu(self, x, y):
        from ....ops.activation import relu
        return self._q(relu(x.dequantize() + y.dequantize()), x.dtype)

    def matmul(self, x, y):
        from ....ops.linalg import matmul
        return self._q(matmul(x.dequantize(), y.dequantize()), x.dtype)

    @classmethod
    def from_float(cls, mod, use_precomputed_fake_quant=False):
        s, z = mod.activation_post_process.calculate_qparams()
        q = cls()
        q.scale, q.zero_point = float(s), int(z)
        return q
