"""``narae.cuda``: is a GPU usable, synchronising with it, and its memory statistics
(CuPy, loaded lazily: importing this needs no GPU)."""
from ..backend import gpu_available
from ..backend.arrays import _load_cupy
from .memory import (memory_allocated, max_memory_allocated, reset_peak_memory_stats,
                     memory_reserved, max_memory_reserved, empty_cache, memory_stats)

__all__ = ["is_available", "device_count", "synchronize", "manual_seed", "current_device",
           "memory_allocated", "max_memory_allocated", "reset_peak_memory_stats",
           "memory_reserved", "max_memory_reserved", "empty_cache", "memory_stats"]


def is_available():
    return gpu_available()


def device_count():
    cp = _load_cupy()
    if cp is None:
        return 0
    try:
        return cp.cuda.runtime.getDeviceCount()
    except Exception:
        return 0


def synchronize(device=None):
    if not is_available():
        raise RuntimeError("narae.cuda.synchronize: no CUDA GPU is available")
    _load_cupy().cuda.Device().synchronize()


def manual_seed(seed):
    """GPU draws derive from narae.manual_seed; this is kept for torch compatibility."""
    from ..random import manual_seed as _seed
    _seed(seed)


def current_device():
    cp = _load_cupy()
    if cp is None or not is_available():
        raise RuntimeError("narae.cuda.current_device: no CUDA GPU is available")
    return cp.cuda.Device().id
