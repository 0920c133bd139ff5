"""Quantization primitives: fake quantization (float in, float out, differentiable) and
quantized tensors (integers plus the affine map back to reals).

Affine quantization maps a real x to the integer q = clamp(rint(x / s) + z, qmin, qmax) and
back to s * (q - z). Rounding is half-to-even (C's nearbyint), and 1/s is taken in float32
before the product, exactly as torch's CPU kernels do, so integer values match torch's.

Fake quantization returns s * (q - z) in the input's float dtype. Its gradient is the
straight-through estimate: the incoming gradient where x fell inside [qmin, qmax] after
rounding, zero outside. The learnable variants also give LSQ gradients for s and z
(Esser et al. 2020) with torch's formulas.
"""
import numpy as np

from .. import _dtype
from .._dtype import (qint8, quint8, qint32, qscheme, per_tensor_affine, per_channel_affine,
                      per_tensor_symmetric, per_channel_symmetric,
                      per_channel_affine_float_qparams)
from ..autograd.function import Function
from ..backend import get_array_module
from ..backend.arrays import to_device
from ..backend.device import as_device
from ..tensor import Tensor, register_methods

__all__ = ["fake_quantize_per_tensor_affine", "fake_quantize_per_channel_affine",
           "_fake_quantize_learnable_per_tensor_affine",
           "_fake_quantize_learnable_per_channel_affine",
           "quantize_per_tensor", "quantize_per_channel", "dequantize",
           "quantize_per_tensor_dynamic", "int_repr", "q_scale", "q_zero_point",
           "q_per_channel_scales", "q_per_channel_zero_points", "q_per_channel_axis",
           "quantized_max_pool1d", "quantized_max_pool2d", "qscheme",
           "qint8", "quint8", "qint32", "per_tensor_affine", "per_channel_affine",
           "per_tensor_symmetric", "per_channel_symmetric", "per_channel_affine_float_qparams"]

_F32 = np.float32
# integer range of each quantized dtype
QRANGE = {qint8: (-128, 127), quint8: (0, 255), qint32: (-(1 << 31), (1 << 31) - 1)}


def _check_range(op, quant_min, quant_max):
    if quant_min > quant_max:
        raise RuntimeError(f"{op}: quant_min ({quant_min}) should be less than or equal to "
                           f"quant_max ({quant_max})")


def _scalar(v):
    """A Python number from a number or a one-element tensor (reads a device value back)."""
    if isinstance(v, Tensor):
        if v.numel() != 1:
            raise RuntimeError(f"expected a one-element tensor, got shape {tuple(v.shape)}")
        return v.item()
    return v


def _channel_shape(ndim, axis, n):
    shape = [1] * ndim
    shape[axis] = n
    return tuple(shape)


def _fma(xp, x, a, b):
    """x * a + b rounded once (a fused multiply-add, as torch's vectorized kernels): for
    float32 the exact product fits a float64, whose sum is then rounded to float32."""
    if x.dtype != _F32:
        return x * a + b
    f64 = np.float64
    return (x.astype(f64) * xp.asarray(a, dtype=f64) + xp.asarray(b, dtype=f64)).astype(_F32)


def _fake_quant_arrays(xp, x, inv, scale, zp, qmin, qmax, float_zp):
    """(fake-quantized x, in-range mask). ``inv``/``scale``/``zp`` broadcast against x; an
    integer zero point is added after rounding, a float one before (torch's two kernels)."""
    zp = zp.astype(x.dtype, copy=False)
    q = xp.rint(_fma(xp, x, inv, zp)) if float_zp else xp.rint(x * inv) + zp
    mask = (q >= qmin) & (q <= qmax)
    out = (xp.clip(q, qmin, qmax) - zp) * scale
    return out.astype(x.dtype, copy=False), mask


class FakeQuantizeAffine(Function):
    """s * (clamp(rint(x / s) + z, qmin, qmax) - z); gradient passed straight through inside
    the range. ``scale``/``zero_point`` are arrays shaped to broadcast against x."""
    uses_inputs = False

    def __init__(self, scale, zero_point, quant_min, quant_max, float_zp=False):
        self.scale, self.zero_point = scale, zero_point
        self.qmin, self.qmax, self.float_zp = quant_min, quant_max, float_zp

    def forward(self, x):
        xp = get_array_module(x)
        scale = xp.asarray(self.scale, dtype=_F32)
        zp = xp.asarray(self.zero_point)
        inv = _F32(1) / scale
        out, self.mask = _fake_quant_arrays(xp, x, inv, scale, zp, self.qmin, self.qmax,
                                            self.float_zp)
        return out

    def backward(self, gy):
        return gy * Tensor(self.mask.astype(gy._data.dtype))


def fake_quantize_per_tensor_affine(input, scale, zero_point, quant_min, quant_max):
    """Quantize then dequantize ``input`` with one (scale, zero_point): the float values an
    int model would see, with a straight-through gradient (zero where x was clamped)."""
    _check_range("fake_quantize_per_tensor_affine", quant_min, quant_max)
    if isinstance(zero_point, Tensor) and zero_point.dtype not in (
            _dtype.int32, _dtype.int64, _dtype.float32, _dtype.float16):
        raise RuntimeError(f"fake_quantize_per_tensor_affine: zero_point must be Int32, Float "
                           f"or Half, got {zero_point.dtype}")
    s = float(_scalar(scale))
    z = _scalar(zero_point)
    if z < quant_min or z > quant_max:
        raise RuntimeError(f"fake_quantize_per_tensor_affine: zero_point ({z}) must be "
                           f"between quant_min ({quant_min}) and quant_max ({quant_max})")
    xp = get_array_module(input._data)
    return FakeQuantizeAffine(_F32(s), xp.asarray(int(z), dtype=np.int64), quant_min,
                              quant_max)(input)


def _channel_qparams(op, input, scale, zero_point, axis, scale_dtypes=(_dtype.float32,)):
    """Validated (axis, scale, zero_point arrays shaped to broadcast along ``axis``)."""
    nd = input.ndim
    if axis < -nd or axis >= nd:
        raise IndexError(f"{op}: Dimension out of range (expected to be in range of "
                         f"[{-nd}, {nd - 1}], but got {axis})")
    if axis < 0:
        raise RuntimeError(f"{op}: `axis` must be between 0 and number of dimensions of input "
                           f"({nd}), got {axis}")
    if scale.dtype not in scale_dtypes:
        raise RuntimeError(f"{op}: scale must be Float, found {scale.dtype}")
    if zero_point.dtype not in (_dtype.int32, _dtype.float32, _dtype.float16):
        raise RuntimeError(f"{op}: zero_point must be Int32, Float or Half, found "
                           f"{zero_point.dtype}")
    n = input.shape[axis]
    if scale.ndim != 1 or zero_point.ndim != 1 or scale.shape[0] != n or \
            zero_point.shape[0] != n:
        raise RuntimeError(f"{op}: scale of shape {tuple(scale.shape)} and zero_point of shape "
                           f"{tuple(zero_point.shape)} must be 1-D of size input.size({axis}) "
                           f"= {n} (input of shape {tuple(input.shape)})")
    shape = _channel_shape(nd, axis, n)
    return axis, scale._data.reshape(shape), zero_point._data.reshape(shape)


def fake_quantize_per_channel_affine(input, scale, zero_point, axis, quant_min, quant_max):
    """Fake quantization with one (scale, zero_point) per slice along ``axis``; a float
    zero point is added before rounding (torch's rule), an int32 one after."""
    op = "fake_quantize_per_channel_affine"
    _check_range(op, quant_min, quant_max)
    axis, s, z = _channel_qparams(op, input, scale, zero_point, axis)
    float_zp = z.dtype.kind == "f"
    xp = get_array_module(z)
    if not float_zp and xp is np and ((z < quant_min) | (z > quant_max)).any():
        raise RuntimeError(f"{op}: zero_point must be between quant_min ({quant_min}) and "
                           f"quant_max ({quant_max})")
    return FakeQuantizeAffine(s, z, quant_min, quant_max, float_zp)(input)


def _lsq_grads(xp, x, gy, scale, inv, zp, qmin, qmax, grad_factor):
    """torch's LSQ gradients (dx, dscale, dzero_point) elementwise; ``zp`` is a float array,
    xq = rint(z + x / s) decides which of the clamp's three pieces x is on."""
    q = xp.rint(_fma(xp, x, inv, zp))
    low, high = q < qmin, q > qmax
    inside = ~(low | high)
    dx = gy * inside
    xfq = (xp.clip(q, qmin, qmax) - zp) * scale
    gf = x.dtype.type(grad_factor)
    dscale = xp.where(inside, gy * (xfq - x) * inv,
                      xp.where(low, gy * (qmin - zp), gy * (qmax - zp))) * gf
    dzp = xp.where(inside, x.dtype.type(0), -gy * scale) * gf
    return dx.astype(x.dtype, copy=False), dscale, dzp


class LearnableFakeQuantize(Function):
    """Fake quantization whose scale and zero point are inputs with LSQ gradients.

    Per tensor (``axis`` None): the forward rounds the zero point half-to-even, the backward
    uses trunc(clamp(z + 0.5)) (torch's two conversions). Per channel: round(z) clamped,
    in both. The backward is array code: no double backward (as torch).
    """

    def __init__(self, axis, quant_min, quant_max, grad_factor):
        self.axis, self.qmin, self.qmax = axis, quant_min, quant_max
        self.grad_factor = grad_factor

    def _params(self, x, scale, zero_point, forward):
        xp = get_array_module(x)
        qmin, qmax = self.qmin, self.qmax
        if self.axis is None:
            s = scale.reshape(-1)[:1].astype(_F32)
            z = zero_point.reshape(-1)[:1].astype(_F32)
            z = xp.clip(xp.rint(z), qmin, qmax) if forward else \
                xp.trunc(xp.clip(z + _F32(0.5), qmin, qmax))
        else:
            shape = _channel_shape(x.ndim, self.axis, x.shape[self.axis])
            s = scale.astype(_F32).reshape(shape)
            z = xp.clip(xp.rint(zero_point.astype(_F32)), qmin, qmax).reshape(shape)
        return xp, s, z

    def forward(self, x, scale, zero_point):
        xp, s, z = self._params(x, scale, zero_point, True)
        out, _ = _fake_quant_arrays(xp, x, _F32(1) / s, s, z.astype(np.int64), self.qmin,
                                    self.qmax, False)
        return out

    def backward(self, gy):
        x, scale, zero_point = (t._data for t in self.inputs)
        xp, s, z = self._params(x, scale, zero_point, False)
        dx, ds, dz = _lsq_grads(xp, x, gy._data, s.astype(x.dtype), (_F32(1) / s).astype(x.dtype),
                                z.astype(x.dtype), self.qmin, self.qmax, self.grad_factor)
        if self.axis is None:
            ds, dz = ds.sum(), dz.sum()
        else:
            others = tuple(i for i in range(x.ndim) if i != self.axis)
            ds, dz = ds.sum(axis=others), dz.sum(axis=others)
        ds = ds.reshape(scale.shape).astype(scale.dtype, copy=False)
        dz = dz.reshape(zero_point.shape).astype(zero_point.dtype, copy=False)
        return Tensor(dx), Tensor(ds), Tensor(dz)


def _check_learnable(op, scale, zero_point):
    if not isinstance(scale, Tensor) or not isinstance(zero_point, Tensor):
        raise TypeError(f"{op}: scale and zero_point must be tensors")


def _fake_quantize_learnable_per_tensor_affine(input, scale, zero_point, quant_min, quant_max,
                                               grad_factor=1.0):
    """Fake quantization with learnable one-element ``scale`` and ``zero_point`` tensors
    (LSQ): dL/ds and dL/dz follow the clamp's pieces, scaled by ``grad_factor``."""
    op = "_fake_quantize_learnable_per_tensor_affine"
    _check_learnable(op, scale, zero_point)
    _check_range(op, quant_min, quant_max)
    if scale.numel() != 1 or zero_point.numel() != 1:
        raise RuntimeError(f"{op}: scale of shape {tuple(scale.shape)} and zero_point of shape "
                           f"{tuple(zero_point.shape)} must have one element each")
    return LearnableFakeQuantize(None, quant_min, quant_max, grad_factor)(
        input, scale, zero_point)


def _fake_quantize_learnable_per_channel_affine(input, scale, zero_point, axis, quant_min,
                                                quant_max, grad_factor=1.0):
    """Per-channel LSQ fake quantization: one learnable (scale, zero_point) per slice along
    ``axis``; the zero point is rounded half-to-even and clamped before use."""
    op = "_fake_quantize_learnable_per_channel_affine"
    _check_learnable(op, scale, zero_point)
    _check_range(op, quant_min, quant_max)
    axis, _, _ = _channel_qparams(op, input, scale, zero_point, axis,
                                  (_dtype.float32, _dtype.float64))
    return LearnableFakeQuantize(axis, quant_min, quant_max, grad_factor)(
        input, scale, zero_point)


# -- quantized tensors ----------------------------------------------------------------------
def _quantize_array(xp, x, inv, zp, dtype, fused):
    """clamp(rint(x * inv + zp)) in float32 arithmetic as ``dtype``'s integer array; torch
    fuses the multiply-add (one rounding) for 8-bit per-tensor quantization only."""
    lo, hi = QRANGE[dtype]
    x = x.astype(_F32, copy=False)
    t = _fma(xp, x, inv, zp) if fused else x * inv + zp.astype(_F32)
    return xp.clip(xp.rint(t), lo, hi).astype(dtype.np)


class QuantizedTensor(Tensor):
    """A quantized tensor: the integer array (``int_repr``) and its quantization parameters.

    Per tensor: x ~ scale * (q - zero_point). Per channel: one (scale, zero_point) per slice
    along ``axis``, kept as float64 and int64 arrays (torch's dtypes). Not differentiable;
    arithmetic goes through ``dequantize()`` or the quantized modules in ``narae.ao.nn``.
    """
    __slots__ = ("_qdtype", "_qscheme", "_scale", "_zero_point", "_axis")

    def __init__(self, data, qdtype, qscheme, scale, zero_point, axis=None):
        super().__init__(data)
        self._qdtype, self._qscheme = qdtype, qscheme
        self._scale, self._zero_point, self._axis = scale, zero_point, axis

    # -- torch's accessors
    @property
    def dtype(self):
        return self._qdtype

    @property
    def is_quantized(self):
        return True

    def is_floating_point(self):
        return False

    def qscheme(self):
        return self._qscheme

    def _per_tensor(self, what):
        if self._axis is not None:
            raise RuntimeError(f"{what}: expected a per-tensor quantized tensor, got qscheme "
                               f"{self._qscheme}")

    def _per_channel(self, what):
        if self._axis is None:
            raise RuntimeError(f"{what}: expected a per-channel quantized tensor, got qscheme "
                               f"{self._qscheme}")

    def q_scale(self):
        self._per_tensor("q_scale")
        return self._scale

    def q_zero_point(self):
        self._per_tensor("q_zero_point")
        return self._zero_point

    def q_per_channel_scales(self):
        self._per_channel("q_per_channel_scales")
        return Tensor(self._scale.copy())

    def q_per_channel_zero_points(self):
        self._per_channel("q_per_channel_zero_points")
        return Tensor(self._zero_point.copy())

    def q_per_channel_axis(self):
        self._per_channel("q_per_channel_axis")
        return self._axis

    def int_repr(self):
        """The stored integers as a plain int8/uint8/int32 tensor."""
        return Tensor(self._data.copy())

    def dequantize(self):
        """scale * (q - zero_point) as float32."""
        q = self._data
        if self._axis is None:
            return Tensor(((q.astype(_F32) - _F32(self._zero_point)) * _F32(self._scale)))
        shape = _channel_shape(q.ndim, self._axis, q.shape[self._axis])
        z = self._zero_point.reshape(shape).astype(_F32)
        s = self._scale.reshape(shape).astype(_F32)
        return Tensor((q.astype(_F32) - z) * s)

    def _like(self, data, axis=None):
        return QuantizedTensor(data, self._qdtype, self._qscheme, self._scale,
                               self._zero_point, self._axis if axis is None else axis)

    # -- the few shape operations quantized models need (per-tensor, or keeping the axis)
    def _reshaped(self, what, data):
        if self._axis is not None:
            raise RuntimeError(f"{what}: not supported for per-channel quantized tensors")
        return self._like(data)

    def reshape(self, *shape):
        shape = shape[0] if len(shape) == 1 and isinstance(shape[0], (tuple, list)) else shape
        return self._reshaped("reshape", self._data.reshape(shape))

    view = reshape

    def flatten(self, start_dim=0, end_dim=-1):
        s = self.shape
        nd = max(len(s), 1)
        a, b = start_dim % nd, end_dim % nd
        new = s[:a] + (int(np.prod(s[a:b + 1], dtype=np.int64)),) + s[b + 1:] if s else (1,)
        return self._reshaped("flatten", self._data.reshape(new))

    def __getitem__(self, index):
        """Basic indexing (per-tensor qparams carry over to the selection)."""
        if self._axis is not None:
            raise NotImplementedError("indexing a per-channel quantized tensor")
        return self._like(self._data[index._data if isinstance(index, Tensor) else index])

    def _no_arithmetic(self, *args, **kwargs):
        raise NotImplementedError(
            f"arithmetic on a quantized tensor of shape {tuple(self.shape)} ({self._qdtype}) is "
            "not supported (as in torch): dequantize() it, or use the quantized modules "
            "(narae.ao.nn.quantized.QFunctional for add/mul/cat)")

    __add__ = __radd__ = __sub__ = __rsub__ = __mul__ = __rmul__ = _no_arithmetic
    __truediv__ = __rtruediv__ = __matmul__ = __rmatmul__ = __neg__ = __pow__ = _no_arithmetic
    __iadd__ = __isub__ = __imul__ = __itruediv__ = _no_arithmetic

    def clone(self, *, memory_format=None):
        return self._like(self._data.copy())

    def detach(self):
        return self._like(self._data)

    def contiguous(self, memory_format=None):
        return self._like(get_array_module(self._data).ascontiguousarray(self._data))

    def to(self, *args, **kwargs):
        """Move to a device (a dtype other than this one is refused, as in torch)."""
        for a in list(args) + list(kwargs.values()):
            if isinstance(a, _dtype.dtype) and a is not self._qdtype:
                raise RuntimeError(f"to(): cannot convert a quantized tensor to {a}; use "
                                   "dequantize() first")
        dev = next((a for a in list(args) + [kwargs.get("device")]
                    if a is not None and not isinstance(a, (_dtype.dtype, bool))), None)
        if dev is None:
            return self
        d = as_device(dev)
        move = lambda a: to_device(a, d) if hasattr(a, "shape") else a  # noqa: E731
        return QuantizedTensor(move(self._data), self._qdtype, self._qscheme,
                               move(self._scale), move(self._zero_point), self._axis)

    def cpu(self):
        return self.to("cpu")

    def __repr__(self):
        body = repr(self.dequantize())[len("tensor("):-1]
        for tail in (", dtype=narae.float32",):
            if body.endswith(tail):
                body = body[:-len(tail)]
        extras = []
        if self.device.type != "cpu":
            extras.append(f"device='{self.device}'")
        extras += [f"size={tuple(self.shape)}", f"dtype={self._qdtype}",
                   f"quantization_scheme={self._qscheme}"]
        if self._axis is None:
            extras += [f"scale={self._scale}", f"zero_point={self._zero_point}"]
        else:
            extras += [f"scale={self.q_per_channel_scales()!r}",
                       f"zero_point={self.q_per_channel_zero_points()!r}",
                       f"axis={self._axis}"]
        # torch's layout: suffixes joined by ", ", wrapping before one that would pass 80
        text = "tensor(" + body
        indent = " " * len("tensor(")
        for e in extras:
            last = text.split("\n")[-1]
            if len(last) + len(e) + 2 > 80:
                text += ",\n" + indent + e
            else:
                text += ", " + e
        return text + ")"


def _check_quant_input(op, input, dtype):
    if not isinstance(input, Tensor) or isinstance(input, QuantizedTensor) or \
            not input.is_floating_point():
        got = getattr(input, "dtype", type(input).__name__)
        raise RuntimeError(f"{op}: expected a float tensor, got {got}")
    if dtype not in QRANGE:
        raise RuntimeError(f"{op}: dtype must be narae.qint8, narae.quint8 or narae.qint32, "
                           f"got {dtype}")


def _check_zero_points(op, zero_points, dtype):
    lo, hi = QRANGE[dtype]
    for z in zero_points:
        if z < lo or z > hi:
            raise RuntimeError(f"{op}: zero_point {int(z)} is outside the range [{lo}, {hi}] "
                               f"of {dtype}")


def quantize_per_tensor(input, scale, zero_point, dtype):
    """Quantize a float tensor (or a list of them) with one scale and zero point:
    q = clamp(rint(x / scale) + zero_point) in ``dtype``'s integer range."""
    if isinstance(input, (list, tuple)):
        return [quantize_per_tensor(t, _scalar(s), _scalar(z), dtype)
                for t, s, z in zip(input, scale, zero_point)]
    op = "quantize_per_tensor"
    _check_quant_input(op, input, dtype)
    s, z = float(_scalar(scale)), int(_scalar(zero_point))
    if s <= 0:
        raise RuntimeError(f"{op}: scale must be positive, got {s}")
    _check_zero_points(op, [z], dtype)
    xp = get_array_module(input._data)
    inv = _F32(1) / _F32(s)
    q = _quantize_array(xp, input._data, inv, xp.asarray(z, dtype=np.int64), dtype,
                        dtype is not qint32)
    scheme = per_tensor_affine
    return QuantizedTensor(q, dtype, scheme, s, z)


def quantize_per_channel(input, scales, zero_points, axis, dtype):
    """Quantize with one (scale, zero_point) per slice along ``axis``: ``scales`` and
    ``zero_points`` are 1-D tensors of size input.size(axis)."""
    op = "quantize_per_channel"
    _check_quant_input(op, input, dtype)
    nd = input.ndim
    if axis < 0 or axis >= nd:
        raise RuntimeError(f"{op}: channel axis out of range: got {axis}, expected [0, {nd}) "
                           f"for input of shape {tuple(input.shape)}")
    n = input.shape[axis]
    if scales.ndim != 1 or zero_points.ndim != 1 or scales.shape[0] != n or \
            zero_points.shape[0] != n:
        raise RuntimeError(f"{op}: scales of shape {tuple(scales.shape)} and zero_points of "
                           f"shape {tuple(zero_points.shape)} must be 1-D of size "
                           f"input.size({axis}) = {n} (input of shape {tuple(input.shape)})")
    xp = get_array_module(input._data)
    s64 = scales._data.astype(np.float64)
    z64 = zero_points._data.astype(np.int64)
    if xp is np:  # (on a device this check would read the values back)
        _check_zero_points(op, z64, dtype)
    shape = _channel_shape(nd, axis, n)
    inv = (_F32(1) / s64.astype(_F32)).reshape(shape)
    q = _quantize_array(xp, input._data, inv, z64.reshape(shape), dtype, False)
    return QuantizedTensor(q, dtype, per_channel_affine, s64, z64, axis)


def dequantize(input):
    """The float32 values of a quantized tensor (or of each in a list); float tensors are
    returned unchanged."""
    if isinstance(input, (list, tuple)):
        return [dequantize(t) for t in input]
    if isinstance(input, QuantizedTensor):
        return input.dequantize()
    return input


def quantize_per_tensor_dynamic(input, dtype, reduce_range):
    """Quantize with (scale, zero_point) chosen from the input's own range (fbgemm's rule, as
    dynamic quantization does); quint8 or qint8, range halved by ``reduce_range``."""
    from ..ao.quantization.observer import choose_qparams
    if dtype not in (quint8, qint8):
        raise RuntimeError(f"quantize_per_tensor_dynamic: dtype must be narae.quint8 or "
                           f"narae.qint8, got {dtype}")
    _check_quant_input("quantize_per_tensor_dynamic", input, dtype)
    a = input._data
    lo, hi = (float(a.min()), float(a.max())) if a.size else (0.0, 0.0)
    qmin, qmax = QRANGE[dtype]
    if reduce_range:
        qmin, qmax = qmin // 2, qmax // 2
    s, z = choose_qparams(lo, hi, qmin, qmax)
    return quantize_per_tensor(input, float(s), int(z), dtype)


def _quantized_only(name):
    def method(self, *args):
        raise RuntimeError(f"{name}: expected a quantized tensor, got a {self.dtype} tensor")
    method.__name__ = name
    return method


def _call(name):
    def fn(input):
        return getattr(input, name)()
    fn.__name__ = name
    fn.__doc__ = f"``input.{name}()`` of a quantized tensor."
    return fn


int_repr = _call("int_repr")
q_scale = _call("q_scale")
q_zero_point = _call("q_zero_point")
q_per_channel_scales = _call("q_per_channel_scales")
q_per_channel_zero_points = _call("q_per_channel_zero_points")
q_per_channel_axis = _call("q_per_channel_axis")


def _quantized_pool(name, fn_name):
    def pool(input, kernel_size, stride=(), padding=0, dilation=1, ceil_mode=False):
        from . import pool as _pool
        if not isinstance(input, QuantizedTensor) or input._axis is not None:
            raise RuntimeError(f"{name}: expected a per-tensor quantized input")
        y = getattr(_pool, fn_name)(Tensor(input._data.astype(_F32)), kernel_size,
                                    stride or None, padding, dilation, ceil_mode)
        # max commutes with the increasing map q -> scale * (q - zero_point)
        return input._like(y._data.astype(input._data.dtype))
    pool.__name__ = name
    pool.__doc__ = f"Max pooling of a quantized tensor on its integers ({fn_name})."
    return pool


quantized_max_pool1d = _quantized_pool("quantized_max_pool1d", "max_pool1d")
quantized_max_pool2d = _quantized_pool("quantized_max_pool2d", "max_pool2d")


def _plain_is_quantized(self):
    return False


def _plain_dequantize(self):
    return self


# (QuantizedTensor's own definitions take precedence over these Tensor-level ones)
register_methods(is_quantized=property(_plain_is_quantized), dequantize=_plain_dequantize,
                 **{n: _quantized_only(n) for n in (
                     "int_repr", "q_scale", "q_zero_point", "q_per_channel_scales",
                     "q_per_channel_zero_points", "q_per_channel_axis", "qscheme")})
