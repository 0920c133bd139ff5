"""Whether a CUDA-graph capture (``narae.compile``) is recording right now, and its rules.

A captured graph replays the GPU work of one call with no Python in between, so anything
the Python code decided from device values, or computed on the host, is frozen at capture
time. The checks here turn the silent mistakes into errors raised during capture:
host synchronisation (``.item()``, ``.numpy()``, printing a tensor), random numbers drawn on
the host, and optimizers whose per-step scalars live on the host (``capturable=False``).
"""
import threading

__all__ = ["active", "begin", "end", "forbid", "register", "can_read_back"]

_local = threading.local()


class Capture:
    """What one capture saw: objects to keep alive with the graph, hooks to run before replay."""

    def __init__(self, name):
        self.name = name
        self.device = "cuda"    # "check": an eager CPU call held to the same rules
        self.rng_offset = None  # device int64[1]: the counter of in-graph random draws
        self.keep_alive = []
        self.before_replay = []
        self._hooked = set()

    def add_hook(self, owner, hook):
        """Run ``hook()`` before every replay (once per owner, e.g. an optimizer)."""
        if id(owner) not in self._hooked:
            self._hooked.add(id(owner))
            self.keep_alive.append(owner)
            self.before_replay.append(hook)


def active():
    """The Capture being recorded on this thread, or None."""
    return getattr(_local, "capture", None)


def begin(name):
    if active() is not None:
        raise RuntimeError("narae.compile: captures cannot be nested")
    _local.capture = Capture(name)
    return _local.capture


def end():
    cap, _local.capture = active(), None
    return cap


def forbid(what):
    """Raise if a capture is recording: ``what`` cannot be part of a CUDA graph."""
    cap = active()
    if cap is not None:
        raise RuntimeError(
            f"{what} inside a function captured by narae.compile ({cap.name}): a CUDA graph "
            "replays GPU work only, so host synchronisation, host-side values and host "
            "random numbers would be frozen at capture time. Move it outside the compiled "
            "function (e.g. return the loss tensor and call .item() on it afterwards).")


def register(owner, hook, keep=()):
    """Inside a capture: keep ``keep`` alive with the graph and run ``hook`` before replays."""
    cap = active()
    if cap is not None:
        cap.keep_alive.extend(keep)
        if hook is not None:
            cap.add_hook(owner, hook)


def can_read_back():
    """False while a CUDA graph is being recorded: input validation that reads a device value
    back (``bool(bad.any())``) is skipped there, as torch skips its host-side checks."""
    cap = active()
    return cap is None or cap.device != "cuda"
