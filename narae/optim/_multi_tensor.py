"""Multi-tensor optimizer updates: one kernel launch for all parameters of a group.

On the GPU a per-parameter update costs several launches per tensor (ResNet-20 has 65
tensors); the fused kernels in ``backend/kernels/optim.cu`` update every element of every
tensor of a (device, dtype) partition in one launch, reading the tensors through tables of
addresses. Step counts and hyper-parameters live in device memory, so the update is also
safe to capture in a CUDA graph (``narae.compile``): replays see the current learning rate
(refreshed from the host before each replay) and advance the step counts on the device.

Tables are uploaded from pinned host buffers that stay alive with their cache entry, so an
upload recorded in a graph reads valid memory at every replay.
"""
import numpy as np

from ..backend import capture, get_array_module, kernels
from ..backend.arrays import _load_cupy
from ..tensor import Tensor

__all__ = ["fused_available", "FusedPartition", "partitions", "launch", "host_step",
           "contiguous_grad", "flag", "skip_on_host"]

_MAX_TABLES = 16


def fused_available(xp):
    """Fused kernels run on CuPy arrays, and on NumPy arrays while the emulator is on."""
    return kernels.use_kernels(xp)


def _address(a):
    return a.ctypes.data if isinstance(a, np.ndarray) else a.data.ptr


class _HostToDevice:
    """A device array filled from a pinned host buffer owned by the same object."""

    def __init__(self, xp, host):
        if xp is np:
            self.host = self.device = np.ascontiguousarray(host)
            return
        import cupyx
        self.host = cupyx.empty_pinned(host.shape, host.dtype)
        self.host[...] = host
        self.device = xp.empty(host.shape, host.dtype)
        self.upload()

    def upload(self):
        if self.device is not self.host:
            # async copy on the current stream (without a stream CuPy copies synchronously,
            # which a graph capture cannot record), from pinned memory
            self.device.set(self.host, stream=_load_cupy().cuda.get_current_stream())


def _synchronize(xp):
    """Wait until no queued upload still reads the pinned buffers. Inside a CUDA-graph
    capture there is nothing to wait for (``narae.compile`` synchronises before capturing,
    and uploads queued during the capture are recorded, not run), and synchronising the
    capturing stream is an error that invalidates the capture."""
    cap = capture.active()
    if xp is not np and (cap is None or cap.device != "cuda"):
        _load_cupy().cuda.get_current_stream().synchronize()


class FusedPartition:
    """The parameters of one group that share a device and dtype, and their device tables."""

    def __init__(self, xp, dtype, n_hyper):
        self.xp, self.dtype = xp, dtype
        self.tables = {}
        self.hyper = _HostToDevice(xp, np.zeros(n_hyper, np.float64))
        self._hyper_values = None
        self.steps = None            # float32 device array (Adam-like optimizers)
        self.step_tensors = ()
        self.no_inf = xp.zeros(1, np.float32)   # the found_inf flag when no GradScaler runs

    def set_hyper(self, values, upload=True):
        """Write the hyper-parameters to the pinned buffer (waiting for in-flight copies first
        when they changed) and queue their upload. A captured graph holds that upload, so
        before a replay writing the buffer (``upload=False``) is enough."""
        values = tuple(float(v) for v in values)
        if values != self._hyper_values:
            _synchronize(self.xp)
            self.hyper.host[...] = values
            self._hyper_values = values
        if upload:
            self.hyper.upload()

    def table(self, columns):
        """Device tables for ``columns`` (lists of arrays, one list per role) plus offsets."""
        sizes = [a.size for a in columns[0]]
        key = tuple(_address(a) for col in columns for a in col) + tuple(sizes)
        entry = self.tables.get(key)
        if entry is None:
            if len(self.tables) >= _MAX_TABLES:
                _synchronize(self.xp)     # no upload from an old pinned buffer is in flight
                self.tables.clear()
            host = [np.array([_address(a) for a in col], np.int64) for col in columns]
            offsets = np.zeros(len(sizes) + 1, np.int64)
            np.cumsum(sizes, out=offsets[1:])
            entry = self.tables[key] = [_HostToDevice(self.xp, h) for h in host + [offsets]]
            capture.register(None, None, keep=[entry])
        return [e.device for e in entry], int(sum(sizes))

    def sync_steps(self, states):
        """Make ``states[t]['step']`` 0-d views into one device array of float32 counts."""
        if len(states) == len(self.step_tensors) and all(
                s.get("step") is t for s, t in zip(states, self.step_tensors)):
            return
        values = np.array([_step_value(s.get("step", 0)) for s in states], np.float32)
        self.steps = self.xp.asarray(values)
        self.step_tensors = tuple(Tensor(self.steps[t:t + 1].reshape(()))
                                  for t in range(len(states)))
        for s, t in zip(states, self.step_tensors):
            s["step"] = t


def launch(part, kernel, n, args):
    kernels.launch_1d("optim", kernel, part.dtype, n, args)


def flag(found_inf):
    """A GradScaler's inf flag (0-d float32 device array) as the kernels' float32[1]."""
    a = found_inf._data if isinstance(found_inf, Tensor) else found_inf
    return a.reshape(1).astype(np.float32, copy=False)


def skip_on_host(found_inf):
    """The per-tensor path reads the flag back (not capturable; fused updates do not)."""
    if found_inf is None:
        return False
    a = found_inf._data if isinstance(found_inf, Tensor) else found_inf
    return bool(float(a.reshape(()))) if a.size else False


def host_step(step):
    """A step count as a Python int (state loaded from a fused optimizer holds a tensor)."""
    return step if type(step) is int else int(round(_step_value(step)))


def _step_value(step):
    if isinstance(step, Tensor):
        xp = get_array_module(step._data)
        return float(step._data if xp is np else xp.asnumpy(step._data))
    return float(step)


def partitions(params):
    """Group ``params`` (with gradients) by (array module, dtype); C-contiguity required."""
    out = {}
    for p in params:
        a = p._data
        key = (get_array_module(a), a.dtype.str, getattr(getattr(a, "device", None), "id", -1))
        out.setdefault(key, []).append(p)
    return out


def contiguous_grad(p):
    g = p.grad._data
    if g.dtype != p._data.dtype or not g.flags.c_contiguous:
        g = get_array_module(g).ascontiguousarray(g, dtype=p._data.dtype)
    return g
