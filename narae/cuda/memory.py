"""GPU memory statistics, mirroring ``torch.cuda``'s: what narae's arrays hold now, the peak
since the last reset, and what the memory pool keeps reserved.

narae allocates through CuPy's default memory pool. ``memory_allocated`` is the pool's bytes
in use; the peak needs a running maximum, which a CuPy memory hook keeps from the first call
of any function here on (earlier allocations count in the starting level, not as events).
"""
from ..backend.arrays import _load_cupy, gpu_available

__all__ = ["memory_allocated", "max_memory_allocated", "reset_peak_memory_stats",
           "memory_reserved", "max_memory_reserved", "empty_cache", "memory_stats"]

_tracker = None


def _cupy():
    cp = _load_cupy()
    if cp is None or not gpu_available():
        raise RuntimeError("narae.cuda memory statistics need CuPy and a CUDA GPU "
                           f"({'no GPU is visible to CuPy' if cp else 'pip install narae[cuda]'})")
    return cp


def _make_tracker(cp):
    pool = cp.get_default_memory_pool()

    class PeakTracker(cp.cuda.MemoryHook):
        """Follows malloc/free of pool blocks to keep the peak of bytes in use."""
        name = "NaraePeakTracker"

        def __init__(self):
            self.current = self.peak = pool.used_bytes()
            self.peak_reserved = pool.total_bytes()

        def malloc_postprocess(self, **event):   # device_id, size, mem_size, mem_ptr, pmem_id
            self.current += event["mem_size"]
            if self.current > self.peak:
                self.peak = self.current
                reserved = pool.total_bytes()
                if reserved > self.peak_reserved:
                    self.peak_reserved = reserved

        def free_postprocess(self, **event):     # device_id, mem_size, mem_ptr, pmem_id
            self.current -= event["mem_size"]

    tracker = PeakTracker()
    tracker.__enter__()   # stays installed for the process (this thread's allocations)
    return tracker


def _stats():
    global _tracker
    cp = _cupy()
    if _tracker is None:
        _tracker = _make_tracker(cp)
    return cp.get_default_memory_pool(), _tracker


def memory_allocated(device=None):
    """Bytes held by live GPU arrays."""
    pool, _ = _stats()
    return pool.used_bytes()


def max_memory_allocated(device=None):
    """The peak of ``memory_allocated`` since tracking began or the last reset."""
    pool, tracker = _stats()
    return max(tracker.peak, pool.used_bytes())


def memory_reserved(device=None):
    """Bytes the pool holds from the driver (in use or cached for reuse)."""
    pool, _ = _stats()
    return pool.total_bytes()


def max_memory_reserved(device=None):
    pool, tracker = _stats()
    return max(tracker.peak_reserved, pool.total_bytes())


def reset_peak_memory_stats(device=None):
    """Start the peaks again from the current levels."""
    pool, tracker = _stats()
    tracker.current = tracker.peak = pool.used_bytes()
    tracker.peak_reserved = pool.total_bytes()


def empty_cache():
    """Give cached, unused blocks back to the driver."""
    _cupy().get_default_memory_pool().free_all_blocks()


def memory_stats(device=None):
    """A small dict in torch's key style."""
    return {"allocated_bytes.all.current": memory_allocated(),
            "allocated_bytes.all.peak": max_memory_allocated(),
            "reserved_bytes.all.current": memory_reserved(),
            "reserved_bytes.all.peak": max_memory_reserved()}
