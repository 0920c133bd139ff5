"""``autocast``: regions where ops run in a lower precision chosen per op, as in torch.amp.

While a region is active, ``Function.__call__`` hands every op's inputs to ``_cast_inputs``,
which reads the op's ``_autocast`` policy (set by ``narae.amp.policy``):

  "lower"  -- GEMM-like ops: floating inputs are cast to the region's dtype (float16 or
              bfloat16)
  "fp32"   -- ops that lose accuracy or overflow in half precision: low-precision inputs are
              cast up to float32
  None     -- the rest: when float32 and float16/bfloat16 inputs meet, the low-precision ones
              go up to float32 (the widest type), as torch's promotion does

The region's dtype defaults to bfloat16 on "cpu" and float16 on "cuda", as in torch.
bfloat16 is ``ml_dtypes.bfloat16`` (``narae.bfloat16``); NumPy computes the GEMM-like ops
of bfloat16 inputs in float32 and rounds the result (see ``narae.ops._bf16``). bfloat16 has
float32's exponent range, so it needs no GradScaler.

float64 inputs and integer/bool inputs are never touched. Every cast is the differentiable
``Cast`` op, so a float32 parameter used as float16 gets a float32 gradient. Casts of leaf
tensors that require grad (the weights) are cached per region, so a weight used by several
ops is cast once. The backward pass is not an autocast region (the engine switches the hook
off): backward ops run in the dtypes their forward ops used.
"""
import functools
import warnings

import numpy as np

from .. import _dtype
from ..autograd import function as _function
from ..autograd import grad_mode
from ..backend import gpu_available
from ..ops.convert import Cast

__all__ = ["autocast", "is_autocast_enabled", "get_autocast_dtype", "is_autocast_cache_enabled",
           "clear_autocast_cache"]

_DEVICES = ("cpu", "cuda")
_F32, _F64 = np.dtype(np.float32), np.dtype(np.float64)
_HAS_BF16 = _dtype.BF16 is not None
_SUPPORTED = "narae.float16 and narae.bfloat16" if _HAS_BF16 else "narae.float16"

_NO_BF16 = (
    "narae autocast: bfloat16 needs the ml_dtypes package (NumPy has no bfloat16 type of its "
    "own): pip install ml_dtypes, or use dtype=narae.float16 (with a GradScaler for training)")


def _default_dtype(device_type):
    """torch's defaults: bfloat16 on cpu, float16 on cuda (None: bfloat16 unavailable)."""
    if device_type == "cuda":
        return _dtype.float16
    return _dtype.bfloat16 if _HAS_BF16 else None


class _State:
    """The autocast settings in force: per device, the lower dtype (None: region off)."""
    __slots__ = ("low", "dtype", "cache_enabled", "nesting")

    def __init__(self):
        self.low = {"cpu": None, "cuda": None}        # NumPy dtype casts go to, or None
        self.dtype = {d: _default_dtype(d) for d in _DEVICES}  # the narae dtype last set
        self.cache_enabled = True
        self.nesting = 0


_state = _State()
_cache = {}  # (id(weight), dtype, grad mode) -> (weight, version, cast tensor)


# --- queries -------------------------------------------------------------------------------
def _check_device(device_type):
    if not isinstance(device_type, str):
        raise ValueError(f"Expected `device_type` of type `str`, got: `{type(device_type)}`")
    if device_type not in _DEVICES:
        raise RuntimeError(f"User specified an unsupported autocast device_type "
                           f"'{device_type}' (narae supports 'cpu' and 'cuda')")


def is_autocast_enabled(device_type="cuda"):
    """Whether ops on ``device_type`` tensors are autocast right now."""
    _check_device(device_type)
    return _state.low[device_type] is not None


def get_autocast_dtype(device_type):
    """The dtype autocast uses on ``device_type``: the one the region in force (or the last
    one) chose; by default bfloat16 on cpu and float16 on cuda, as in torch."""
    _check_device(device_type)
    d = _state.dtype[device_type]
    if d is None:
        raise RuntimeError(_NO_BF16)  # cpu's default, bfloat16, without ml_dtypes
    return d


def is_autocast_cache_enabled():
    return _state.cache_enabled


def clear_autocast_cache():
    """Drop the cached weight casts (done when the outermost region exits)."""
    _cache.clear()


# --- the cast hook -------------------------------------------------------------------------
def _low_for(a):
    """The region's lower dtype for array ``a``'s device, or None when that device is off."""
    return _state.low["cpu" if isinstance(a, np.ndarray) else "cuda"]


def _cast(x, np_dtype):
    """``x`` as ``np_dtype`` through the differentiable Cast; weights' casts are cached."""
    if (np_dtype != _F32 and _state.cache_enabled and x.requires_grad and x._creator is None
            and x._data.dtype == _F32):
        key = (id(x), np_dtype, grad_mode.state.enabled)
        hit = _cache.get(key)
        if hit is not None and hit[0] is x and hit[1] == x._version[0]:
            node = hit[2]._creator
            if node is None or not node._released:  # a backward may have freed the node
                return hit[2]
        y = Cast(np_dtype)(x)
        _cache[key] = (x, x._version[0], y)  # holding x keeps its id from being reused
        return y
    return Cast(np_dtype)(x)


_is_floating = _dtype.is_floating


def _to_lower(inputs):
    out = None
    for i, x in enumerate(inputs):
        dt = x._data.dtype
        if dt == _F64 or not _is_floating(dt):
            continue
        low = _low_for(x._data)
        if low is None or dt == low:
            continue
        if out is None:
            out = list(inputs)
        out[i] = _cast(x, low)
    return inputs if out is None else tuple(out)


def _to_fp32(inputs):
    out = None
    for i, x in enumerate(inputs):
        dt = x._data.dtype
        if dt == _F32 or dt == _F64 or not _is_floating(dt) or _low_for(x._data) is None:
            continue
        if out is None:
            out = list(inputs)
        out[i] = _cast(x, _F32)
    return inputs if out is None else tuple(out)


def _promote(inputs):
    """float16/bfloat16 meets float32: run in float32 (float64 and non-float inputs are
    ignored)."""
    has32 = has_low = False
    for x in inputs:
        dt = x._data.dtype
        if dt == _F32:
            has32 = True
        elif dt != _F64 and _is_floating(dt):
            has_low = True
    if has32 and has_low:
        return _to_fp32(inputs)
    return inputs


def _cast_inputs(fn, inputs):
    """The hook ``Function.__call__`` runs inside autocast regions."""
    policy = fn._autocast
    if policy is None:
        return _promote(inputs) if len(inputs) > 1 else inputs
    if policy == "lower":
        return _to_lower(inputs)
    if policy == "fp32":
        return _to_fp32(inputs)
    return inputs  # "keep": the op handles dtypes itself


def _refresh_hook():
    on = any(low is not None for low in _state.low.values())
    _function._autocast_hook = _cast_inputs if on else None


# --- the context manager -------------------------------------------------------------------
def _is_bfloat16(d):
    """A bfloat16 request: narae.bfloat16, the name, or ml_dtypes' type or NumPy dtype."""
    if d is _dtype.bfloat16:
        return True
    return "bfloat16" in str(d if isinstance(d, str) else getattr(d, "__name__", d))


class autocast:
    """Run the ops of a region in mixed precision (context manager or decorator).

    ``autocast(device_type, dtype=None, enabled=True, cache_enabled=None)``: device_type is
    "cpu" or "cuda" and only affects tensors on that device. dtype is narae.float16 or
    narae.bfloat16; it defaults to bfloat16 on cpu and float16 on cuda, as in torch
    (bfloat16 needs the ml_dtypes package). ``enabled=False`` makes a region that turns
    autocast off.
    """

    def __init__(self, device_type, dtype=None, enabled=True, cache_enabled=None):
        _check_device(device_type)
        self.device = device_type
        self._enabled = bool(enabled)
        self._cache_enabled = cache_enabled
        self._saved = []  # a stack, so one instance may be entered again (recursion)
        self.fast_dtype = None
        if dtype is None:
            dtype = _default_dtype(device_type)
            if dtype is None:  # cpu without ml_dtypes
                if self._enabled:
                    raise RuntimeError(_NO_BF16 + " (autocast('cpu') defaults to bfloat16, "
                                       "as in torch)")
                return
        elif _is_bfloat16(dtype):
            if not _HAS_BF16:
                if self._enabled:
                    raise RuntimeError(_NO_BF16)
                return
            dtype = _dtype.bfloat16
        dtype = _dtype.to_dtype(dtype)
        if dtype is not _dtype.float16 and dtype is not _dtype.bfloat16:
            if self._enabled:
                warnings.warn(f"In {device_type.upper()} autocast, but the target dtype "
                              f"{dtype} is not supported. Disabling autocast. narae's autocast "
                              f"supports {_SUPPORTED}.", UserWarning, stacklevel=2)
            self._enabled = False
        if device_type == "cuda" and self._enabled and not gpu_available():
            warnings.warn("User provided device_type of 'cuda', but CUDA is not available. "
                          "Disabling", UserWarning, stacklevel=2)
            self._enabled = False
        self.fast_dtype = dtype

    def __enter__(self):
        dev = self.device
        self._saved.append((_state.low[dev], _state.dtype[dev], _state.cache_enabled))
        _state.nesting += 1
        if self._enabled:
            _state.low[dev] = self.fast_dtype.np
            _state.dtype[dev] = self.fast_dtype
        else:
            _state.low[dev] = None
        if self._cache_enabled is not None:
            _state.cache_enabled = bool(self._cache_enabled)
        _refresh_hook()
        return self

    def __exit__(self, *exc):
        dev = self.device
        _state.low[dev], _state.dtype[dev], _state.cache_enabled = self._saved.pop()
        _state.nesting -= 1
        if _state.nesting == 0:
            _cache.clear()
        _refresh_hook()
        return False

    def __call__(self, func):
        @functools.wraps(func)
        def wrapper(*args, **kwargs):
            with self:
                return func(*args, **kwargs)
        return wrapper

    def __repr__(self):
        return (f"autocast(device_type={self.device!r}, dtype={self.fast_dtype}, "
                f"enabled={self._enabled})")
