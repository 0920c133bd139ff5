"""Observers: modules that watch the tensors flowing through them and choose quantization
parameters (scale, zero_point) for them, as torch.ao.quantization.observer.

Affine: scale = (max(x_max, 0) - min(x_min, 0)) / (qmax - qmin),
zero_point = qmin - round(min(x_min, 0) / scale); symmetric: scale = max|x| / ((qmax - qmin)/2)
and zero_point 0 (128 for quint8). The range always contains 0 so that 0 is exact.
Arithmetic is float32 as torch's, so the qparams agree bit for bit.
"""
import functools
import math
import warnings

import numpy as np

from ... import _dtype
from ..._dtype import (qint8, quint8, qint32, per_tensor_affine, per_tensor_symmetric,
                       per_channel_affine, per_channel_symmetric,
                       per_channel_affine_float_qparams)
from ...backend import get_array_module
from ...nn.module import Module
from ...tensor import Tensor

__all__ = ["ObserverBase", "UniformQuantizationObserverBase", "MinMaxObserver",
           "MovingAverageMinMaxObserver", "PerChannelMinMaxObserver",
           "MovingAveragePerChannelMinMaxObserver", "HistogramObserver",
           "FixedQParamsObserver", "PlaceholderObserver", "NoopObserver", "RecordingObserver",
           "default_observer", "default_weight_observer", "default_placeholder_observer",
           "default_debug_observer", "default_histogram_observer",
           "default_per_channel_weight_observer", "default_dynamic_quant_observer",
           "default_float_qparams_observer", "default_fixed_qparams_range_0to1_observer",
           "default_fixed_qparams_range_neg1to1_observer",
           "default_symmetric_fixed_qparams_observer", "default_affine_fixed_qparams_observer",
           "weight_observer_range_neg_127_to_127",
           "per_channel_weight_observer_range_neg_127_to_127",
           "get_observer_state_dict", "load_observer_state_dict"]

_F32 = np.float32
_EPS = float(np.finfo(np.float32).eps)
_PER_TENSOR = (per_tensor_affine, per_tensor_symmetric)
_PER_CHANNEL = (per_channel_affine, per_channel_symmetric, per_channel_affine_float_qparams)
_INT_DTYPES = (qint8, quint8, qint32, _dtype.int8, _dtype.uint8, _dtype.int32, _dtype.int16)


def _with_args(cls_or_self, **kwargs):
    """A factory making instances with these keyword arguments (torch's ``with_args``)."""
    return functools.partial(cls_or_self, **kwargs)


def calculate_qmin_qmax(quant_min, quant_max, has_customized_qrange, dtype, reduce_range):
    """The integer range: the user's (halved by ``reduce_range``) or dtype's 8/32-bit one."""
    if has_customized_qrange:
        n = quant_max - quant_min + 1
        if dtype in (qint8, _dtype.int8) and not 0 < n <= 256:
            raise ValueError("quantization range should be positive and not exceed the "
                             f"maximum bit range (=256), got [{quant_min}, {quant_max}]")
        if reduce_range:
            quant_min, quant_max = quant_min // 2, quant_max // 2
        return quant_min, quant_max
    if dtype in (qint8, _dtype.int8):
        return (-64, 63) if reduce_range else (-128, 127)
    if dtype in (quint8, _dtype.uint8):
        return (0, 127) if reduce_range else (0, 255)
    if dtype in (qint32, _dtype.int32):
        return -(1 << 31), (1 << 31) - 1
    if dtype is _dtype.int16:
        return -(1 << 15), (1 << 15) - 1
    return 0, 15


_SMALL_SCALE = 6.1e-5


def choose_qparams(lo, hi, qmin, qmax, preserve_sparsity=False):
    """fbgemm's ChooseQuantizationParams, elementwise over arrays of ranges [lo, hi] (used
    by dynamic quantization and the fused fake-quantize kernel; observers use the simpler
    rule above). The range is widened to contain 0 (made symmetric with
    ``preserve_sparsity``), scale = range / (qmax - qmin) in float64 (at least 6.1e-5, 0.1
    for an empty range), and the zero point is taken from whichever end adds the smaller
    rounding error, then nudged to an integer. Returns float64 scales (kernels use them as
    float32) and int64 zero points.
    """
    f32, f64 = _F32, np.float64
    lo = np.minimum(np.asarray(lo, f32), f32(0))
    hi = np.maximum(np.asarray(hi, f32), f32(0))
    straddle = (lo < 0) & (hi > 0)
    if preserve_sparsity:
        sym_min, sym_max = f32(-((qmax - qmin) // 2 + 1)), f32((qmax - qmin) // 2)
        m = np.maximum(np.abs(lo / sym_min), np.abs(hi / sym_max)).astype(f64)
        lo = np.where(straddle, (m * sym_min).astype(f32), lo)
        hi = np.where(straddle, (m * sym_max).astype(f32), hi)
    scale = (hi.astype(f64) - lo) / (qmax - qmin)
    with np.errstate(divide="ignore", over="ignore"):
        degenerate = (scale.astype(f32) == 0) | np.isinf(f32(1) / scale.astype(f32))
    scale = np.where(degenerate, 0.1, scale)
    small = scale < _SMALL_SCALE
    if small.any():  # widen tiny ranges to the smallest scale fbgemm accepts
        with np.errstate(divide="ignore", invalid="ignore"):
            amp = (f32(_SMALL_SCALE) / scale.astype(f32)).astype(f32)
        full = f32(_SMALL_SCALE * (qmax - qmin))
        new_hi = np.where(lo == 0, full, np.where(hi == 0, hi, hi * amp))
        new_lo = np.where(lo == 0, lo, np.where(hi == 0, -full, lo * amp))
        lo, hi = np.where(small, new_lo, lo), np.where(small, new_hi, hi)
        scale = np.where(small, _SMALL_SCALE, scale)
    lo64, hi64 = lo.astype(f64), hi.astype(f64)
    from_min, from_max = qmin - lo64 / scale, qmax - hi64 / scale
    err_min = abs(qmin) - np.abs(lo64 / scale)
    err_max = abs(qmax) - np.abs(hi64 / scale)
    zp = np.where(err_min < err_max, from_min, from_max)
    if preserve_sparsity:
        zp = np.where(straddle, (qmin + qmax) / 2, zp)
    zp = np.where(zp < qmin, qmin, np.where(zp > qmax, qmax, np.rint(zp)))
    return scale, zp.astype(np.int64)


class ObserverBase(Module):
    """Base of all observers: ``forward`` records statistics and returns its input;
    ``calculate_qparams`` turns them into (scale, zero_point)."""
    with_args = classmethod(_with_args)

    def __init__(self, dtype, is_dynamic=False):
        super().__init__()
        self.dtype = dtype
        self.is_dynamic = is_dynamic

    def calculate_qparams(self, **kwargs):
        raise NotImplementedError

    @classmethod
    def with_callable_args(cls, **kwargs):
        """A factory calling each keyword's value (a callable) anew per instance."""
        def make(**more):
            return cls(**{k: v() for k, v in kwargs.items()}, **more)
        return make


class UniformQuantizationObserverBase(ObserverBase):
    """Shared qparams computation of the min/max-based observers (see the module doc)."""

    def __init__(self, dtype=quint8, qscheme=per_tensor_affine, reduce_range=False,
                 quant_min=None, quant_max=None, factory_kwargs=None, eps=_EPS,
                 is_dynamic=False, **kwargs):
        super().__init__(dtype=dtype, is_dynamic=is_dynamic)
        self.qscheme = qscheme
        if reduce_range:
            warnings.warn("Please use quant_min and quant_max to specify the range for "
                          "observers. reduce_range will be deprecated in a future release of "
                          "PyTorch.", stacklevel=2)
        self.reduce_range = reduce_range
        self.register_buffer("eps", Tensor(np.array([eps], _F32)))
        if qscheme not in _PER_TENSOR + _PER_CHANNEL:
            raise ValueError(f"{type(self).__name__}: unsupported qscheme {qscheme}")
        if dtype not in _INT_DTYPES:
            raise ValueError(f"{type(self).__name__}: unsupported dtype {dtype}")
        self.has_customized_qrange = quant_min is not None and quant_max is not None
        if self.has_customized_qrange:
            if not quant_min <= 0 <= quant_max:
                raise ValueError("Used-specified quantization range must include 0.")
            if quant_min >= quant_max:
                raise ValueError("qmin must be strictly less than qmax for user-specified "
                                 "quantization range.")
        self.quant_min, self.quant_max = calculate_qmin_qmax(
            quant_min, quant_max, self.has_customized_qrange, dtype, reduce_range)

    def _calculate_qparams(self, min_val, max_val):
        """(scale, zero_point) tensors from float32 min/max arrays (0-d or per channel)."""
        xp = get_array_module(min_val)
        if min_val.size == 0 or max_val.size == 0 or (
                min_val.ndim == 0 and math.isinf(float(min_val)) and float(min_val) > 0
                and math.isinf(float(max_val)) and float(max_val) < 0):
            warnings.warn("must run observer before calling calculate_qparams. Returning "
                          "default values.", stacklevel=2)
            return Tensor(xp.array([1.0], _F32)), Tensor(xp.array([0], np.int64))
        if xp is np and not (min_val <= max_val).all():
            raise ValueError(f"min {min_val} should be less than max {max_val}")
        qmin, qmax = self.quant_min, self.quant_max
        zero = _F32(0)
        min_neg = xp.minimum(min_val, zero)
        max_pos = xp.maximum(max_val, zero)
        eps = self.eps._data.astype(_F32)
        qs = self.qscheme
        if qs in (per_tensor_symmetric, per_channel_symmetric):
            max_pos = xp.maximum(-min_neg, max_pos)
            scale = xp.maximum(max_pos / _F32((qmax - qmin) / 2), eps)
            if self.dtype in (quint8, _dtype.uint8):
                mid = (qmin + qmax) // 2 if self.has_customized_qrange else 128
            else:
                mid = 0
            zero_point = xp.full(min_neg.shape, mid, np.int64)
        elif qs is per_channel_affine_float_qparams:
            scale = (max_val - min_val) / _F32(qmax - qmin)
            scale = xp.where(scale > eps, scale, _F32(1))
            zero_point = (-min_val / scale).astype(_F32)
        else:
            scale = xp.maximum((max_pos - min_neg) / _F32(qmax - qmin), eps)
            zero_point = xp.clip(qmin - xp.rint(min_neg / scale).astype(np.int32), qmin,
                                 qmax).astype(np.int32)
        scale = scale.astype(_F32).reshape(-1) if scale.ndim == 0 else scale.astype(_F32)
        if zero_point.ndim == 0:
            zero_point = zero_point.reshape(-1)
        return Tensor(scale), Tensor(zero_point)

    def reset_min_max_vals(self):
        raise NotImplementedError("Cannot reset min/max values in the given observer.")


class MinMaxObserver(UniformQuantizationObserverBase):
    """Running minimum and maximum of everything seen (per tensor)."""

    def __init__(self, dtype=quint8, qscheme=per_tensor_affine, reduce_range=False,
                 quant_min=None, quant_max=None, factory_kwargs=None, eps=_EPS,
                 is_dynamic=False, **kwargs):
        if qscheme not in _PER_TENSOR:
            raise NotImplementedError(f"{type(self).__name__}'s qscheme only supports "
                                      f"per_tensor_symmetric and per_tensor_affine, got "
                                      f"{qscheme}")
        super().__init__(dtype=dtype, qscheme=qscheme, reduce_range=reduce_range,
                         quant_min=quant_min, quant_max=quant_max, eps=eps,
                         is_dynamic=is_dynamic, **kwargs)
        self.register_buffer("min_val", Tensor(np.array(np.inf, _F32)))
        self.register_buffer("max_val", Tensor(np.array(-np.inf, _F32)))
        if qscheme is per_tensor_symmetric and reduce_range and dtype is quint8:
            raise NotImplementedError("Cannot reduce range for symmetric quantization for "
                                      "quint8")

    def forward(self, x_orig):
        if x_orig.numel() == 0:
            return x_orig
        x = x_orig._data.astype(_F32, copy=False)
        xp = get_array_module(x)
        lo, hi = x.min(), x.max()
        self.min_val._data = xp.asarray(xp.minimum(lo, self.min_val._data), dtype=_F32)
        self.max_val._data = xp.asarray(xp.maximum(hi, self.max_val._data), dtype=_F32)
        return x_orig

    def calculate_qparams(self):
        return self._calculate_qparams(self.min_val._data, self.max_val._data)

    def extra_repr(self):
        return f"min_val={float(self.min_val)}, max_val={float(self.max_val)}"

    def reset_min_max_vals(self):
        xp = get_array_module(self.min_val._data)
        self.min_val._data = xp.array(np.inf, _F32)
        self.max_val._data = xp.array(-np.inf, _F32)


class MovingAverageMinMaxObserver(MinMaxObserver):
    """Exponential moving averages of the minimum and maximum:
    m <- m + c * (min(X) - m), starting from the first batch's values."""

    def __init__(self, averaging_constant=0.01, dtype=quint8, qscheme=per_tensor_affine,
                 reduce_range=False, quant_min=None, quant_max=None, eps=_EPS,
                 is_dynamic=False, **kwargs):
        if qscheme not in _PER_TENSOR:
            raise NotImplementedError(f"MovingAverageMinMaxObserver's qscheme only supports "
                                      f"per tensor schemes, got {qscheme}")
        self.averaging_constant = averaging_constant
        if is_dynamic and averaging_constant != 1:
            raise NotImplementedError("MovingAverageMinMaxObserver doesn't support dynamic "
                                      f"quantization for averaging constant of "
                                      f"{averaging_constant}")
        super().__init__(dtype=dtype, qscheme=qscheme, reduce_range=reduce_range,
                         quant_min=quant_min, quant_max=quant_max, eps=eps,
                         is_dynamic=is_dynamic, **kwargs)

    def forward(self, x_orig):
        if x_orig.numel() == 0:
            return x_orig
        x = x_orig._data.astype(_F32, copy=False)
        lo, hi = x.min(), x.max()
        m, M = self.min_val._data, self.max_val._data
        if float(m) == np.inf and float(M) == -np.inf:
            m, M = lo, hi
        else:
            c = _F32(self.averaging_constant)
            m = m + c * (lo - m)
            M = M + c * (hi - M)
        xp = get_array_module(x)
        self.min_val._data = xp.asarray(m, dtype=_F32)
        self.max_val._data = xp.asarray(M, dtype=_F32)
        return x_orig


def _channel_rows(x, ch_axis):
    """x as (channels, everything else): swap the channel axis to the front, flatten."""
    xp = get_array_module(x)
    y = xp.swapaxes(x, 0, ch_axis) if ch_axis % x.ndim else x
    return y.reshape(y.shape[0], -1)


class PerChannelMinMaxObserver(UniformQuantizationObserverBase):
    """Running minimum and maximum per slice along ``ch_axis`` (for weights)."""

    def __init__(self, ch_axis=0, dtype=quint8, qscheme=per_channel_affine,
                 reduce_range=False, quant_min=None, quant_max=None, factory_kwargs=None,
                 eps=_EPS, is_dynamic=False, **kwargs):
        if qscheme not in _PER_CHANNEL:
            raise NotImplementedError(f"{type(self).__name__}'s qscheme only supports per "
                                      f"channel schemes, got {qscheme}")
        if is_dynamic:
            raise NotImplementedError(f"{type(self).__name__} doesn't support dynamic "
                                      "quantization")
        super().__init__(dtype=dtype, qscheme=qscheme, reduce_range=reduce_range,
                         quant_min=quant_min, quant_max=quant_max, eps=eps,
                         is_dynamic=is_dynamic, **kwargs)
        self.ch_axis = ch_axis
        self.register_buffer("min_val", Tensor(np.zeros(0, _F32)))
        self.register_buffer("max_val", Tensor(np.zeros(0, _F32)))
        if qscheme is per_channel_symmetric and reduce_range and dtype is quint8:
            raise NotImplementedError("Cannot reduce range for symmetric quantization for "
                                      "quint8")

    def _combine(self, m, M, lo, hi):
        xp = get_array_module(lo)
        return xp.minimum(lo, m), xp.maximum(hi, M)

    def forward(self, x_orig):
        if x_orig.numel() == 0:
            return x_orig
        y = _channel_rows(x_orig._data.astype(_F32, copy=False), self.ch_axis)
        lo, hi = y.min(axis=1), y.max(axis=1)
        m, M = self.min_val._data, self.max_val._data
        if m.size == 0 or M.size == 0:
            m, M = lo, hi
        else:
            m, M = self._combine(m, M, lo, hi)
        self.min_val._data, self.max_val._data = m.astype(_F32), M.astype(_F32)
        return x_orig

    def calculate_qparams(self):
        return self._calculate_qparams(self.min_val._data, self.max_val._data)

    def extra_repr(self):
        return f"min_val={self.min_val!r}, max_val={self.max_val!r}"

    def reset_min_max_vals(self):
        xp = get_array_module(self.min_val._data)
        self.min_val._data = xp.zeros(0, _F32)
        self.max_val._data = xp.zeros(0, _F32)

    def _load_from_state_dict(self, state_dict, prefix, *args, **kwargs):
        for name in ("min_val", "max_val"):  # (the buffers change size once data is seen)
            if prefix + name in state_dict:
                b = self._buffers[name]
                b._data = get_array_module(b._data).zeros(tuple(state_dict[prefix + name].shape),
                                                          _F32)
        super()._load_from_state_dict(state_dict, prefix, *args, **kwargs)


class MovingAveragePerChannelMinMaxObserver(PerChannelMinMaxObserver):
    """Per-channel exponential moving averages of the minimum and maximum."""

    def __init__(self, averaging_constant=0.01, ch_axis=0, dtype=quint8,
                 qscheme=per_channel_affine, reduce_range=False, quant_min=None,
                 quant_max=None, eps=_EPS, is_dynamic=False, **kwargs):
        if qscheme not in _PER_CHANNEL:
            raise NotImplementedError(f"{type(self).__name__}'s qscheme only supports per "
                                      f"channel schemes, got {qscheme}")
        super().__init__(ch_axis=ch_axis, dtype=dtype, qscheme=qscheme,
                         reduce_range=reduce_range, quant_min=quant_min, quant_max=quant_max,
                         eps=eps, is_dynamic=is_dynamic, **kwargs)
        self.averaging_constant = averaging_constant

    def _combine(self, m, M, lo, hi):
        c = _F32(self.averaging_constant)
        return m + c * (lo - m), M + c * (hi - M)


def _linspace32(xp, start, end, steps):
    """torch's float32 linspace: start + i*step for the first half, end - (n-1-i)*step after."""
    start, end = _F32(start), _F32(end)
    step = (end - start) / _F32(steps - 1)
    i = xp.arange(steps)
    half = steps // 2
    lo = start + step * i[:half].astype(_F32)
    hi = end - step * (steps - 1 - i[half:]).astype(_F32)
    return xp.concatenate([lo, hi]).astype(_F32)


def _histc32(xp, x, bins, lo, hi):
    """torch.histc in float32: bin = trunc((x - lo) * bins / (hi - lo)), hi in the last bin,
    values outside [lo, hi] dropped."""
    lo, hi = _F32(lo), _F32(hi)
    if lo == hi:
        lo, hi = lo - _F32(1), hi + _F32(1)
    x = x.reshape(-1).astype(_F32, copy=False)
    x = x[(x >= lo) & (x <= hi)]
    pos = ((x - lo) * _F32(bins) / (hi - lo)).astype(np.int64)
    pos = xp.minimum(pos, bins - 1)
    return xp.bincount(pos, minlength=bins)[:bins].astype(_F32)


class HistogramObserver(UniformQuantizationObserverBase):
    """A histogram of the values seen (``bins`` bins over the running [min, max]); qparams
    come from the sub-range that minimizes the L2 quantization error (an outlier-trimming
    search from both ends, as torch's / caffe2's NormMinimization)."""

    def __init__(self, bins=2048, dtype=quint8, qscheme=per_tensor_affine, reduce_range=False,
                 quant_min=None, quant_max=None, factory_kwargs=None, eps=_EPS,
                 is_dynamic=False, **kwargs):
        if qscheme not in _PER_TENSOR:
            raise NotImplementedError("HistogramObserver's qscheme only supports "
                                      "per_tensor_symmetric and per_tensor_affine.")
        if is_dynamic:
            raise NotImplementedError("HistogramObserver doesn't support dynamic quantization")
        super().__init__(dtype=dtype, qscheme=qscheme, reduce_range=reduce_range,
                         quant_min=quant_min, quant_max=quant_max, eps=eps,
                         is_dynamic=is_dynamic, **kwargs)
        self.bins = bins
        self.register_buffer("histogram", Tensor(np.zeros(bins, _F32)))
        self.register_buffer("min_val", Tensor(np.array(np.inf, _F32)))
        self.register_buffer("max_val", Tensor(np.array(-np.inf, _F32)))
        self.dst_nbins = 2 ** (8 * dtype.itemsize)
        self.upsample_rate = 16

    def _quantization_error(self, hist, bin_width, start, end):
        """L2 error of quantizing the histogram's mass to dst_nbins levels over bins
        [start, end], each source bin's values spread uniformly (float32 as torch)."""
        dst_w = bin_width * (end - start + 1) / self.dst_nbins
        if dst_w == 0.0:
            return 0.0
        xp = np
        bw, dw = _F32(bin_width), _F32(dst_w)
        src = xp.arange(self.bins)
        begin = (src - start).astype(_F32) * bw
        stop = begin + bw
        last = self.dst_nbins - 1
        d_begin = xp.clip(xp.floor_divide(begin, dw), 0, last)
        d_end = xp.clip(xp.floor_divide(stop, dw), 0, last)
        density = hist / bw
        half = _F32(dst_w / 2)

        def l2(a, b):  # density * integral of t^2 over [a, b]
            return density * ((b * b * b - a * a * a) / _F32(3))
        norm = l2(begin - (d_begin + _F32(0.5)) * dw, xp.full(self.bins, half, _F32))
        norm = norm + (d_end - d_begin - _F32(1)) * l2(-half, half)
        norm = norm + l2(-half, stop - (d_end * dw + half))
        return float(norm.astype(_F32).sum(dtype=_F32))

    def _non_linear_param_search(self):
        hist = np.asarray(self.histogram.__array__(), _F32)
        lo, hi = float(self.min_val), float(self.max_val)
        bin_width = (hi - lo) / self.bins
        total = float(hist.sum(dtype=_F32))
        csum = np.cumsum(hist, dtype=_F32)
        alpha, beta, step = 0.0, 1.0, 1e-5
        start, end = 0, self.bins - 1
        norm_min = float("inf")
        while alpha < beta:
            next_alpha, next_beta = alpha + step, beta - step
            # first bin whose cumulative mass reaches alpha, last one still under beta
            left = int(np.searchsorted(csum, _F32(next_alpha * total), "left"))
            left = min(max(left, start), end)
            right = int(np.searchsorted(csum, _F32(next_beta * total), "right")) - 1
            right = max(min(right, end), start)
            new_start, new_end = start, end
            if left - start > end - right:
                new_start, alpha = left, next_alpha
            else:
                new_end, beta = right, next_beta
            if new_start == start and new_end == end:
                continue
            norm = self._quantization_error(hist, bin_width, new_start, new_end)
            if norm > norm_min:
                break
            norm_min, start, end = norm, new_start, new_end
        width32 = (self.max_val._data - self.min_val._data) / _F32(self.bins)
        new_min = self.min_val._data + width32 * _F32(start)
        new_max = self.min_val._data + width32 * _F32(end + 1)
        return new_min.astype(_F32), new_max.astype(_F32)

    def _upscale_histogram(self, xp, hist, orig_min, orig_max, new_min, new_max):
        rate = self.upsample_rate
        fine = xp.repeat(hist, rate) / _F32(rate)
        size = (orig_max - orig_min) / _F32(self.bins * rate)
        mids = _linspace32(xp, orig_min, orig_max, self.bins * rate + 1)[:-1] + _F32(0.5) * size
        edges = _linspace32(xp, new_min, new_max, self.bins + 1)
        idx = xp.clip(xp.searchsorted(edges, mids, "right") - 1, 0, self.bins - 1)
        return xp.bincount(idx, weights=fine, minlength=self.bins).astype(_F32)

    def forward(self, x_orig):
        if x_orig.numel() == 0:
            return x_orig
        x = x_orig._data.astype(_F32, copy=False)
        xp = get_array_module(x)
        lo, hi = x.min(), x.max()
        if np.isinf(float(lo)) or np.isinf(float(hi)):
            warnings.warn("torch.inf detected in input tensor, ignoring input", stacklevel=2)
            x = x[xp.abs(x) != np.inf]
            if x.size == 0:
                return x_orig
            lo, hi = x.min(), x.max()
        cur_min, cur_max = self.min_val._data, self.max_val._data
        if float(cur_min) == np.inf or float(cur_max) == -np.inf:
            self.min_val._data, self.max_val._data = xp.asarray(lo, _F32), xp.asarray(hi, _F32)
            self.histogram._data = _histc32(xp, x, self.bins, lo, hi)
            return x_orig
        new_min, new_max = xp.minimum(cur_min, lo), xp.maximum(cur_max, hi)
        update = _histc32(xp, x, self.bins, new_min, new_max)
        hist = self.histogram._data
        if float(new_min) == float(cur_min) and float(new_max) == float(cur_max):
            self.histogram._data = (hist + update).astype(_F32)
            return x_orig
        if float(cur_min) == float(cur_max):
            moved = _histc32(xp, xp.asarray([cur_min]), self.bins, new_min, new_max) * hist.sum()
        else:
            moved = self._upscale_histogram(xp, hist, cur_min, cur_max, new_min, new_max)
        self.histogram._data = (update + moved).astype(_F32)
        self.min_val._data = xp.asarray(new_min, _F32)
        self.max_val._data = xp.asarray(new_max, _F32)
        return x_orig

    def calculate_qparams(self):
        if float(self.min_val) == np.inf and float(self.max_val) == -np.inf:
            warnings.warn("must run observer before calling calculate_qparams. Returning "
                          "default scale and zero point ", stacklevel=2)
            xp = get_array_module(self.min_val._data)
            return Tensor(xp.array([1.0], _F32)), Tensor(xp.array([0], np.int64))
        if self.bins != self.histogram.shape[0]:
            raise ValueError("The number of bins in histogram should be equal to the number "
                             "of bins supplied while making this observer")
        new_min, new_max = self._non_linear_param_search()
        xp = get_array_module(self.min_val._data)
        return self._calculate_qparams(xp.asarray(new_min), xp.asarray(new_max))

    def extra_repr(self):
        return f"min_val={float(self.min_val)}, max_val={float(self.max_val)}"


class FixedQParamsObserver(ObserverBase):
    """Fixed (scale, zero_point), for ops whose output range is known (sigmoid: [0, 1])."""

    def __init__(self, scale, zero_point, dtype=quint8, qscheme=per_tensor_affine,
                 quant_min=0, quant_max=255, is_dynamic=False, **kwargs):
        if is_dynamic:
            raise NotImplementedError("FixedQParamsObserver doesn't support dynamic "
                                      "quantization")
        super().__init__(dtype=dtype, is_dynamic=is_dynamic)
        self.quant_min, self.quant_max = quant_min, quant_max
        self.register_buffer("scale", Tensor(np.array([scale], _F32)))
        self.register_buffer("zero_point", Tensor(np.array([zero_point], np.int32)))
        self.qscheme = qscheme

    def forward(self, X):
        return X

    def calculate_qparams(self):
        return self.scale, self.zero_point


class PlaceholderObserver(ObserverBase):
    """Records nothing: carries the dtype (and dynamic flag) a later pass needs."""

    def __init__(self, dtype=_dtype.float32, custom_op_name="", compute_dtype=None,
                 quant_min=None, quant_max=None, qscheme=None, eps=None, is_dynamic=False):
        super().__init__(dtype=dtype, is_dynamic=is_dynamic)
        if qscheme is None:
            qscheme = per_tensor_affine
        if eps is None:
            eps = _EPS
        self.quant_min, self.quant_max = quant_min, quant_max
        self.qscheme, self.eps = qscheme, eps
        self.custom_op = custom_op_name
        if compute_dtype:
            is_dynamic = True
            self.is_dynamic = True
            warnings.warn("Please use `is_dynamic` instead of `compute_dtype`.", stacklevel=2)

    def forward(self, x):
        return x

    def extra_repr(self):
        return f"dtype={self.dtype}, is_dynamic={self.is_dynamic}"

    def calculate_qparams(self):
        raise RuntimeError("calculate_qparams should not be called for PlaceholderObserver")


class RecordingObserver(ObserverBase):
    """Keeps every tensor it sees (for debugging)."""

    def __init__(self, dtype=quint8):
        super().__init__(dtype=dtype, is_dynamic=False)
        self.tensor_val = []

    def forward(self, x):
        self.tensor_val.append(x.clone())
        return x

    def calculate_qparams(self):
        raise RuntimeError("calculate_qparams should not be called for RecordingObserver")

    def get_tensor_value(self):
        return self.tensor_val


class NoopObserver(ObserverBase):
    """Does nothing; marks a tensor to keep in ``dtype`` (float16 by default)."""

    def __init__(self, dtype=_dtype.float16, custom_op_name=""):
        super().__init__(dtype=dtype, is_dynamic=False)
        self.dtype = dtype
        self.custom_op = custom_op_name

    def forward(self, x):
        return x

    def calculate_qparams(self):
        raise RuntimeError("calculate_qparams should not be called for NoopObserver")


def get_observer_state_dict(mod):
    """The state entries of every observer inside ``mod`` (names as in mod's state_dict)."""
    from collections import OrderedDict
    return OrderedDict((k, v) for k, v in mod.state_dict().items()
                       if "activation_post_process" in k)


def load_observer_state_dict(mod, obs_dict):
    """Load observer entries saved by ``get_observer_state_dict``."""
    missing, unexpected = mod.load_state_dict(obs_dict, strict=False)
    missing = [k for k in missing if "activation_post_process" in k]
    if missing or unexpected:
        raise RuntimeError(f"Missing keys for observer {missing} in state_dict, unexpected "
                           f"{unexpected}")


default_observer = MinMaxObserver.with_args(quant_min=0, quant_max=127)
default_placeholder_observer = PlaceholderObserver
default_debug_observer = RecordingObserver
default_weight_observer = MinMaxObserver.with_args(dtype=qint8, qscheme=per_tensor_symmetric)
weight_observer_range_neg_127_to_127 = MinMaxObserver.with_args(
    dtype=qint8, qscheme=per_tensor_symmetric, quant_min=-127, quant_max=127, eps=2 ** -12)
default_histogram_observer = HistogramObserver.with_args(quant_min=0, quant_max=127)
default_per_channel_weight_observer = PerChannelMinMaxObserver.with_args(
    dtype=qint8, qscheme=per_channel_symmetric)
per_channel_weight_observer_range_neg_127_to_127 = PerChannelMinMaxObserver.with_args(
    dtype=qint8, qscheme=per_channel_symmetric, quant_min=-127, quant_max=127, eps=2 ** -12)
default_dynamic_quant_observer = PlaceholderObserver.with_args(
    dtype=quint8, quant_min=0, quant_max=255, is_dynamic=True)
default_float_qparams_observer = PerChannelMinMaxObserver.with_args(
    dtype=quint8, qscheme=per_channel_affine_float_qparams, ch_axis=0)
default_fixed_qparams_range_neg1to1_observer = FixedQParamsObserver.with_args(
    scale=2.0 / 256.0, zero_point=128, dtype=quint8, quant_min=0, quant_max=255)
default_fixed_qparams_range_0to1_observer = FixedQParamsObserver.with_args(
    scale=1.0 / 256.0, zero_point=0, dtype=quint8, quant_min=0, quant_max=255)
default_symmetric_fixed_qparams_observer = default_fixed_qparams_range_neg1to1_observer
default_affine_fixed_qparams_observer = default_fixed_qparams_range_0to1_observer
