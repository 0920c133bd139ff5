"""FakeQuantize modules: an observer plus fake quantization, for quantization-aware training
(torch.ao.quantization.fake_quantize). In training the observer updates (scale, zero_point)
from each batch, then the input is quantized and dequantized, so the model learns with the
rounding error it will meet after ``convert``; gradients pass straight through."""
import numpy as np

from ... import _dtype
from ..._dtype import (qint8, quint8, per_tensor_affine, per_tensor_symmetric,
                       per_channel_affine, per_channel_symmetric,
                       per_channel_affine_float_qparams)
from ...backend import get_array_module
from ...nn.module import Module
from ...ops.quantize import fake_quantize_per_tensor_affine, fake_quantize_per_channel_affine
from ...tensor import Tensor
from .observer import (MovingAverageMinMaxObserver, MovingAveragePerChannelMinMaxObserver,
                       HistogramObserver, FixedQParamsObserver, _with_args, choose_qparams,
                       default_fixed_qparams_range_neg1to1_observer,
                       default_fixed_qparams_range_0to1_observer)

__all__ = ["FakeQuantizeBase", "FakeQuantize", "FixedQParamsFakeQuantize",
           "FusedMovingAvgObsFakeQuantize", "disable_fake_quant", "enable_fake_quant",
           "disable_observer", "enable_observer", "default_fake_quant",
           "default_weight_fake_quant", "default_dynamic_fake_quant",
           "default_fixed_qparams_range_neg1to1_fake_quant",
           "default_fixed_qparams_range_0to1_fake_quant",
           "default_symmetric_fixed_qparams_fake_quant", "default_affine_fixed_qparams_fake_quant",
           "default_per_channel_weight_fake_quant", "default_embedding_fake_quant",
           "default_histogram_fake_quant", "default_fused_act_fake_quant",
           "default_fused_wt_fake_quant", "default_fused_per_channel_wt_fake_quant",
           "fused_wt_fake_quant_range_neg_127_to_127",
           "fused_per_channel_wt_fake_quant_range_neg_127_to_127"]

_PER_CHANNEL = (per_channel_affine, per_channel_symmetric, per_channel_affine_float_qparams)
_PER_TENSOR = (per_tensor_affine, per_tensor_symmetric)
_IINFO = {qint8: (-128, 127), quint8: (0, 255), _dtype.qint32: (-(1 << 31), (1 << 31) - 1),
          _dtype.int8: (-128, 127), _dtype.uint8: (0, 255)}


class FakeQuantizeBase(Module):
    """Base of fake-quantize modules: two switches, ``fake_quant_enabled`` and
    ``observer_enabled`` (uint8 buffers, as torch's)."""
    with_args = classmethod(_with_args)

    def __init__(self):
        super().__init__()
        self.register_buffer("fake_quant_enabled", Tensor(np.array([1], np.uint8)))
        self.register_buffer("observer_enabled", Tensor(np.array([1], np.uint8)))

    def forward(self, x):
        raise NotImplementedError

    def calculate_qparams(self, **kwargs):
        raise NotImplementedError

    def _set(self, name, enabled):
        b = self._buffers[name]
        b._data = b._data * 0 + (1 if enabled else 0)

    def enable_fake_quant(self, enabled=True):
        self._set("fake_quant_enabled", enabled)

    def disable_fake_quant(self):
        self.enable_fake_quant(False)

    def enable_observer(self, enabled=True):
        self._set("observer_enabled", enabled)

    def disable_observer(self):
        self.enable_observer(False)

    @classmethod
    def with_callable_args(cls, **kwargs):
        def make(**more):
            return cls(**{k: v() for k, v in kwargs.items()}, **more)
        return make


class FakeQuantize(FakeQuantizeBase):
    """x -> (clamp(rint(x / scale) + zero_point, qmin, qmax) - zero_point) * scale, with
    (scale, zero_point) from the observer ``activation_post_process`` while it is enabled."""

    def __init__(self, observer=MovingAverageMinMaxObserver, quant_min=None, quant_max=None,
                 is_dynamic=False, **observer_kwargs):
        super().__init__()
        if quant_min is not None and quant_max is not None:
            if quant_min > quant_max:
                raise ValueError("quant_min must be less than or equal to quant_max")
            dtype = observer_kwargs.get("dtype", quint8)
            dtype = getattr(observer, "keywords", {}).get("dtype", dtype)
            lo, hi = _IINFO.get(dtype, (quant_min, quant_max))
            if quant_min < lo:
                raise ValueError("quant_min out of bound")
            if quant_max > hi:
                raise ValueError("quant_max out of bound")
            observer_kwargs.update({"quant_min": quant_min, "quant_max": quant_max})
        observer_kwargs["is_dynamic"] = is_dynamic
        self.activation_post_process = observer(**observer_kwargs)
        app = self.activation_post_process
        self.quant_min, self.quant_max = app.quant_min, app.quant_max
        self.is_dynamic = app.is_dynamic
        zp_dtype = np.float32 if app.qscheme is per_channel_affine_float_qparams else np.int32
        self.register_buffer("scale", Tensor(np.array([1.0], np.float32)))
        self.register_buffer("zero_point", Tensor(np.array([0], zp_dtype)))
        self.dtype, self.qscheme = app.dtype, app.qscheme
        self.ch_axis = getattr(app, "ch_axis", -1)
        if self.qscheme not in _PER_CHANNEL + _PER_TENSOR:
            raise ValueError("Only per channel and per tensor quantization are supported in "
                             f"fake quantize got qscheme: {self.qscheme}")
        self.is_per_channel = self.qscheme in _PER_CHANNEL

    def calculate_qparams(self):
        return self.activation_post_process.calculate_qparams()

    def forward(self, X):
        if int(self.observer_enabled._data[0]) == 1:
            self.activation_post_process(X.detach())
            s, z = self.calculate_qparams()
            xp = get_array_module(self.scale._data)
            self.scale._data = xp.asarray(s._data, dtype=self.scale._data.dtype)
            self.zero_point._data = xp.asarray(z._data, dtype=self.zero_point._data.dtype)
        if int(self.fake_quant_enabled._data[0]) == 1:
            app = self.activation_post_process
            if self.is_per_channel:
                X = fake_quantize_per_channel_affine(X, self.scale, self.zero_point,
                                                     self.ch_axis, app.quant_min, app.quant_max)
            else:
                X = fake_quantize_per_tensor_affine(X, self.scale, self.zero_point,
                                                    app.quant_min, app.quant_max)
        return X

    def extra_repr(self):
        app = self.activation_post_process
        return (f"fake_quant_enabled={self.fake_quant_enabled!r}, observer_enabled="
                f"{self.observer_enabled!r}, quant_min={app.quant_min}, quant_max="
                f"{app.quant_max}, dtype={self.dtype}, qscheme={self.qscheme}, ch_axis="
                f"{self.ch_axis}, scale={self.scale!r}, zero_point={self.zero_point!r}")

    def _load_from_state_dict(self, state_dict, prefix, *args, **kwargs):
        for name in ("scale", "zero_point"):  # per-channel qparams change size: take theirs
            if prefix + name in state_dict:
                b = self._buffers[name]
                b._data = get_array_module(b._data).zeros(
                    tuple(state_dict[prefix + name].shape), b._data.dtype)
        super()._load_from_state_dict(state_dict, prefix, *args, **kwargs)


class FixedQParamsFakeQuantize(FakeQuantize):
    """Fake quantization with fixed (scale, zero_point) from a FixedQParamsObserver."""

    def __init__(self, observer):
        super().__init__(observer=observer)
        if type(self.activation_post_process) is not FixedQParamsObserver:
            raise TypeError(f"{type(self).__name__}'s observer must be a FixedQParamsObserver")
        self._observer_ctr = observer
        self.scale = self.activation_post_process.scale
        self.zero_point = self.activation_post_process.zero_point
        if self.qscheme not in _PER_TENSOR:
            raise ValueError("Only per tensor quantization is supported "
                             f"FixedQParamsFakeQuantize module, got qscheme:{self.qscheme}")

    def calculate_qparams(self):
        return self.scale, self.zero_point

    def extra_repr(self):
        app = self.activation_post_process
        return (f"fake_quant_enabled={self.fake_quant_enabled!r}, observer_enabled="
                f"{self.observer_enabled!r}, scale={self.scale!r}, zero_point="
                f"{self.zero_point!r}, dtype={self.dtype}, quant_min={app.quant_min}, "
                f"quant_max={app.quant_max}, qscheme={self.qscheme}")


class FusedMovingAvgObsFakeQuantize(FakeQuantize):
    """FakeQuantize with a moving-average min/max observer (torch fuses the two into one
    kernel; here it is the same computation in two steps). Switches are int64 buffers."""

    def __init__(self, observer=MovingAverageMinMaxObserver, quant_min=0, quant_max=255,
                 **observer_kwargs):
        super().__init__(observer, quant_min, quant_max, **observer_kwargs)
        if not isinstance(self.activation_post_process,
                          (MovingAverageMinMaxObserver, MovingAveragePerChannelMinMaxObserver)):
            raise TypeError("Fused observer+fake_quant module only works with "
                            "MovingAverageMinMaxObserver")
        self.fake_quant_enabled._data = self.fake_quant_enabled._data.astype(np.int64)
        self.observer_enabled._data = self.observer_enabled._data.astype(np.int64)
        self.is_symmetric_quant = self.qscheme in (per_tensor_symmetric, per_channel_symmetric)

    def calculate_qparams(self):
        return self.activation_post_process.calculate_qparams()

    def forward(self, X):
        app = self.activation_post_process
        if int(self.observer_enabled._data[0]) == 1:
            app(X.detach())
            # torch's fused kernel picks qparams with fbgemm's rule (symmetric schemes
            # widen the range to [-128 m, 127 m]), not with the observer's
            lo = np.asarray(app.min_val.__array__(), np.float32)
            hi = np.asarray(app.max_val.__array__(), np.float32)
            s, z = choose_qparams(lo, hi, app.quant_min, app.quant_max,
                                  self.is_symmetric_quant)
            xp = get_array_module(self.scale._data)
            self.scale._data = xp.asarray(s.reshape(-1), dtype=self.scale._data.dtype)
            self.zero_point._data = xp.asarray(z.reshape(-1), dtype=self.zero_point._data.dtype)
        if int(self.fake_quant_enabled._data[0]) == 1:
            if self.is_per_channel:
                X = fake_quantize_per_channel_affine(X, self.scale, self.zero_point,
                                                     self.ch_axis, app.quant_min, app.quant_max)
            else:
                X = fake_quantize_per_tensor_affine(X, self.scale, self.zero_point,
                                                    app.quant_min, app.quant_max)
        return X

    def extra_repr(self):
        app = self.activation_post_process
        return (f"fake_quant_enabled={self.fake_quant_enabled!r}, observer_enabled="
                f"{self.observer_enabled!r}, scale={self.scale!r}, zero_point="
                f"{self.zero_point!r}, dtype={self.dtype}, quant_min={app.quant_min}, "
                f"quant_max={app.quant_max}, qscheme={self.qscheme}, reduce_range="
                f"{app.reduce_range}")


def _apply_if_fake(method):
    def fn(mod):
        if isinstance(mod, FakeQuantizeBase):
            getattr(mod, method)()
    fn.__name__ = method
    fn.__doc__ = f"``mod.{method}()`` when mod is a fake-quantize module (use with " \
                 f"``model.apply``)."
    return fn


disable_fake_quant = _apply_if_fake("disable_fake_quant")
enable_fake_quant = _apply_if_fake("enable_fake_quant")
disable_observer = _apply_if_fake("disable_observer")
enable_observer = _apply_if_fake("enable_observer")

default_fake_quant = FakeQuantize.with_args(
    observer=MovingAverageMinMaxObserver, quant_min=0, quant_max=255, dtype=quint8,
    qscheme=per_tensor_affine, reduce_range=True)
default_weight_fake_quant = FakeQuantize.with_args(
    observer=MovingAverageMinMaxObserver, quant_min=-128, quant_max=127, dtype=qint8,
    qscheme=per_tensor_symmetric, reduce_range=False)
default_dynamic_fake_quant = FakeQuantize.with_args(
    observer=MovingAverageMinMaxObserver, quant_min=0, quant_max=255, is_dynamic=True,
    dtype=quint8, averaging_constant=1)
default_fixed_qparams_range_neg1to1_fake_quant = FixedQParamsFakeQuantize.with_args(
    observer=default_fixed_qparams_range_neg1to1_observer)
default_fixed_qparams_range_0to1_fake_quant = FixedQParamsFakeQuantize.with_args(
    observer=default_fixed_qparams_range_0to1_observer)
default_symmetric_fixed_qparams_fake_quant = default_fixed_qparams_range_neg1to1_fake_quant
default_affine_fixed_qparams_fake_quant = default_fixed_qparams_range_0to1_fake_quant
default_per_channel_weight_fake_quant = FakeQuantize.with_args(
    observer=MovingAveragePerChannelMinMaxObserver, quant_min=-128, quant_max=127,
    dtype=qint8, qscheme=per_channel_symmetric, reduce_range=False, ch_axis=0)
default_embedding_fake_quant = FakeQuantize.with_args(
    observer=MovingAveragePerChannelMinMaxObserver, qscheme=per_channel_affine_float_qparams,
    dtype=quint8, quant_min=0, quant_max=255, ch_axis=0, averaging_constant=1)
default_histogram_fake_quant = FakeQuantize.with_args(
    observer=HistogramObserver, quant_min=0, quant_max=255, dtype=quint8,
    qscheme=per_tensor_affine, reduce_range=True)
default_fused_act_fake_quant = FusedMovingAvgObsFakeQuantize.with_args(
    observer=MovingAverageMinMaxObserver, quant_min=0, quant_max=255, dtype=quint8)
default_fused_wt_fake_quant = FusedMovingAvgObsFakeQuantize.with_args(
    observer=MovingAverageMinMaxObserver, quant_min=-128, quant_max=127, dtype=qint8,
    qscheme=per_tensor_symmetric)
default_fused_per_channel_wt_fake_quant = FusedMovingAvgObsFakeQuantize.with_args(
    observer=MovingAveragePerChannelMinMaxObserver, quant_min=-128, quant_max=127,
    dtype=qint8, qscheme=per_channel_symmetric)
fused_wt_fake_quant_range_neg_127_to_127 = FusedMovingAvgObsFakeQuantize.with_args(
    observer=MovingAverageMinMaxObserver, quant_min=-127, quant_max=127, dtype=qint8,
    qscheme=per_tensor_symmetric, eps=2 ** -12)
fused_per_channel_wt_fake_quant_range_neg_127_to_127 = FusedMovingAvgObsFakeQuantize.with_args(
    observer=MovingAveragePerChannelMinMaxObserver, quant_min=-127, quant_max=127,
    dtype=qint8, qscheme=per_channel_symmetric, eps=2 ** -12)
