"""Small constant arrays (index tables, weights) built on the host, kept per device.

Uploading such a table at every call costs a host-to-device copy per op and, worse, cannot
happen inside a CUDA-graph capture (a copy from pageable host memory is host-synchronous).
Made once per (device, key) -- during eager warm-up calls -- they are reused from then on.
Callers must treat the arrays as read-only.
"""
import numpy as np

__all__ = ["cached_constant", "scalar"]

_cache = {}
_MAX = 256


def cached_constant(xp, key, make):
    """``make()`` (a tuple of NumPy arrays or one array) on ``xp``'s current device, cached."""
    device = -1 if xp is np else xp.cuda.Device().id
    full = (xp.__name__, device, key)
    hit = _cache.get(full)
    if hit is None:
        made = make()
        if xp is not np:
            made = tuple(xp.asarray(a) for a in made) if isinstance(made, tuple) \
                else xp.asarray(made)
        if len(_cache) >= _MAX:
            _cache.clear()
        hit = _cache[full] = made
    return hit


def scalar(xp, value, dtype):
    """A 0-d array holding ``value``. On the GPU it is filled by a kernel that takes the value
    as an argument -- ``cupy.asarray(value)`` would copy it from pageable host memory, which
    is slower and cannot be recorded in a CUDA graph."""
    if xp is np:
        return np.asarray(value, dtype=dtype)
    return xp.full((), value, dtype=dtype)
