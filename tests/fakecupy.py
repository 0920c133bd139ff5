"""A strict fake CuPy: CuPy's rules for host and device memory, computed by NumPy on the CPU.

``NARAE_GPU_TEST_DEVICE=fake`` runs the GPU suite (``tests/gpu``, ``tests/amp -m gpu``) on a
machine without a GPU through this module. narae sees a CuPy: ``get_array_module`` returns it
for its arrays (``type(a).__module__`` starts with ``cupy``), ``to_device`` copies host arrays
into it, the hand-written kernels launch through ``cupy.RawModule`` (here: the g++ CPU
emulator of ``narae.backend.kernels``), the fused optimizers use ``cupyx.empty_pinned``,
``ndarray.set(..., stream=)`` and ``.data.ptr``.

What makes it useful is what it refuses, as real CuPy does (checked against CuPy's sources):

* a NumPy array (any shape, 0-d included) as an operand of a ufunc, an operator or a
  ``cupy.*`` function: ``TypeError: Unsupported type <class 'numpy.ndarray'>``;
* implicit conversion to NumPy: ``np.asarray(gpu)``, ``np.array(gpu)``,
  ``np.ascontiguousarray(gpu)``, ``float(np.float32(gpu))``... raise ``TypeError`` through
  ``__array__``. ``FakeArray`` is a wrapper, not an ``np.ndarray`` subclass, because NumPy
  never calls ``__array__`` on a subclass (the conversion cannot be intercepted) and every
  ``isinstance(x, np.ndarray)`` in narae would take a device array for a host one;
* ``gpu[basic_index] = numpy_array`` (``ValueError: non-scalar numpy.ndarray cannot be used
  for fill``) and ``cupy.copyto(gpu, numpy_array)`` with more than one element;
* attributes CuPy arrays lack (``.ctypes``, ``__array_interface__``...), ufunc methods CuPy
  lacks (``maximum.reduce``, ``multiply.at``...), and the dtypes ``ufunc.at`` /
  ``cupyx.scatter_add`` cannot do with integer-array indices (int64, int8, bool...);
* kernels launched with a host array as a pointer argument.

What it allows because CuPy does: host data in ``cupy.asarray/array`` (a host-to-device copy:
the fake always copies, so host and device memory never alias), NumPy arrays and lists as
indices (``gpu[np_index]``), as values of an advanced-index assignment, as ``take``/``put``
indices and as the values of ``ufunc.at``; Python and NumPy scalars everywhere; ``float()``,
``int()``, ``bool()``, ``.item()``, ``.tolist()`` (explicit synchronising reads).

CUDA-graph capture (``Stream.begin_capture`` / ``end_capture`` -> ``Graph``, what
``narae.compile`` uses) is emulated faithfully enough to test it: while a stream captures,
device work queued on it -- ufuncs, operators (in place too), ``cupy.*`` functions, methods,
indexing and ``__setitem__``, ``ufunc.at``/scatters, copies, ``ndarray.set(host, stream=)``
(an upload from a pinned buffer, which reads the host buffer again at every replay) and kernel
launches -- is recorded and *not run*: the memory it would write
keeps its old contents, and arrays it would produce come back poisoned (NaN, -1, ...) until
``Graph.launch`` replays the work, in order, on the same memory, writing into the very arrays
returned at capture (see ``_op``). Host reads and waits inside a capture (``float()``,
``.item()``, ``.get()``, printing, ``__index__``, results whose size depends on values such
as ``nonzero`` or boolean-mask indexing, ``synchronize()``, ``set()`` without a stream, and
``cupy.asarray/array`` of host data, a host-synchronous copy from pageable memory) raise
``cudaErrorStreamCaptureUnsupported`` as CUDA does. Allocations are allowed (relaxed mode);
work on a stream other than the capturing one runs at once.

Limits (a pass here is necessary, not sufficient): every NumPy function is assumed to exist in
CuPy with NumPy's semantics (CuPy lacks a few); results are bit-exact NumPy ones (CuPy's
reductions and GEMMs round differently); streams, events and asynchrony do not exist outside a
capture (every call is synchronous), so missing synchronisations go unnoticed; the work
recorded in a capture runs once at capture time on the current (possibly poisoned) values to
learn result shapes, so an op that NumPy refuses on such values fails there; the memory pool
reports zeros and a capture does not use a private pool (freed capture memory is kept alive by
the graph instead); kernels run only for float32/float64 (the emulator's types).
"""
import contextlib
import ctypes
import re
import sys
import types

import numpy as np

__all__ = ["FakeArray", "FakeUfunc", "HostArrayError", "cupy", "cupyx", "install",
           "uninstall", "installed", "is_installed"]

_PY_SCALARS = (bool, int, float, complex)
_MISSING = object()


class HostArrayError(TypeError):
    """A host (NumPy) array where CuPy needs a device array: real CuPy raises TypeError."""


def _host_error(x, where):
    return HostArrayError(
        f"Unsupported type {type(x)} in {where}: a host (NumPy) array mixed with CuPy arrays "
        "[fakecupy: real CuPy raises TypeError here; build the array with the array module of "
        "the operands (xp = get_array_module(...)) or copy it with cupy.asarray]")


def _implicit_error():
    return TypeError(
        "Implicit conversion to a NumPy array is not allowed. Please use `.get()` to construct "
        "a NumPy array explicitly. [fakecupy: a device array reached np.asarray/np.array or "
        "another NumPy conversion]")


def _is_scalar(x):
    return type(x) in _PY_SCALARS or isinstance(x, np.generic)


# -- unwrapping arguments and wrapping results ---------------------------------------------------
def _operand(x, where, keep):
    """A ufunc/operator operand: device arrays and scalars only (lists are refused too)."""
    if type(x) is FakeArray:
        keep.append(x)
        return x._a
    if _is_scalar(x):
        return x
    if isinstance(x, np.ndarray):
        raise _host_error(x, where)
    raise TypeError(f"Unsupported type {type(x)} in {where} [fakecupy: CuPy ufuncs take cupy "
                    "arrays and Python/NumPy scalars only]")


def _arg(x, where, keep):
    """An argument of a ``cupy.*`` function: device arrays inside lists/tuples are unwrapped,
    host arrays (and objects that convert to them, such as tensors) are refused."""
    t = type(x)
    if t is FakeArray:
        keep.append(x)
        return x._a
    if t is list or t is tuple:
        return t([_arg(v, where, keep) for v in x])
    if t is dict:
        return {k: _arg(v, where, keep) for k, v in x.items()}
    if isinstance(x, np.ndarray):
        raise _host_error(x, where)
    if not isinstance(x, (np.generic, type)) and hasattr(x, "__array__"):
        raise TypeError(f"Unsupported type {t} in {where} [fakecupy: CuPy does not convert "
                        "array-likes here]")
    return x


def _lenient(x, where, keep):
    """Like ``_arg`` but host arrays pass (functions CuPy lets read host data)."""
    t = type(x)
    if t is FakeArray:
        keep.append(x)
        return x._a
    if t is list or t is tuple:
        return t([_lenient(v, where, keep) for v in x])
    return x


def _wrap(x, keep=()):
    """NumPy results as device arrays: arrays, and scalars as 0-d arrays (as CuPy returns)."""
    if isinstance(x, np.ndarray):
        for k in keep:
            if k._a is x:
                return k
        if type(x) is not np.ndarray:
            x = x.view(np.ndarray)
        return FakeArray._of(x)
    if isinstance(x, np.generic):
        return FakeArray._of(np.asarray(x))
    t = type(x)
    if t is tuple or t is list:
        return t([_wrap(v, keep) for v in x])
    if isinstance(x, tuple) and hasattr(x, "_fields"):      # named tuples (linalg results)
        return t(*[_wrap(v, keep) for v in x])
    return x


def _call(func, args, kwargs, where):
    keep = []
    args = [_arg(a, where, keep) for a in args]
    kwargs = {k: _arg(v, where, keep) for k, v in kwargs.items()}
    return _op(lambda: func(*args, **kwargs), keep, lambda r: _wrap(r, keep))


# -- CUDA-graph capture: device work is recorded, not run, while a stream captures ---------------
_capture = None        # the _Capture being recorded (CUDA allows one per stream; the fake, one)


class _Capture:
    def __init__(self, stream, mode):
        self.stream, self.mode, self.ops = stream, mode, []


def _recording(stream=None):
    """The capture that device work queued on ``stream`` (default: the current stream) joins,
    or None. Work on another stream runs at once (relaxed mode lets other streams work)."""
    cap = _capture
    if cap is None:
        return None
    return cap if (stream if stream is not None else get_current_stream()) is cap.stream \
        else None


def _capture_error(what):
    return CUDARuntimeError(
        f"cudaErrorStreamCaptureUnsupported: operation not permitted when stream is capturing "
        f"({what}) [fakecupy: a CUDA graph records device work without running it, so the "
        "host cannot read device values or wait for the device inside a capture]")


def _no_host_read(what):
    """Host reads and synchronisations fail while any stream captures, as in CUDA."""
    if _capture is not None:
        raise _capture_error(what)


def _poison(a):
    """Fill memory a capture allocated but has not computed yet with visibly wrong values:
    NaN for floats, -1 (in range as a NumPy index) for signed ints, the maximum for unsigned,
    True for bools."""
    if a.size == 0 or not a.flags.writeable:
        return
    kind = a.dtype.kind
    if kind in "fc":
        a.fill(np.nan)
    elif kind == "i":
        a.fill(-1)
    elif kind == "u":
        a.fill(np.iinfo(a.dtype).max)
    elif kind == "b":
        a.fill(True)
    else:                                  # extension floats (ml_dtypes' bfloat16...)
        try:
            a.fill(np.nan)
        except (TypeError, ValueError):
            pass


def _leaves(x, out):
    if isinstance(x, (tuple, list)):
        for v in x:
            _leaves(v, out)
    else:
        out.append(x)
    return out


def _op(fn, touched, wrap=None, stream=None):
    """Device work: ``fn()`` computes it with NumPy (reading and possibly writing the memory
    of the FakeArrays in ``touched``) and ``wrap`` turns its result into the fake's.

    Outside a capture it simply runs. While the stream captures, the work is recorded for
    the graph and its effects are withheld, as on a GPU: ``fn`` runs once only to learn the
    results' shapes and dtypes, the memory it wrote is restored, and results in new memory
    are returned poisoned (``_poison``) until a replay computes them. A replay reruns ``fn``
    on the same memory and copies its new results into the very arrays returned at capture,
    which later recorded work and the caller's objects refer to. Results that view an
    operand (reshape, basic indexing, ``out=``) need no copy."""
    cap = _recording(stream)
    if cap is None:
        out = fn()
        return out if wrap is None else wrap(out)
    arrays = list({id(t._a): t._a for t in touched}.values())
    saved = [(a, a.copy()) for a in arrays if a.flags.writeable]
    try:
        with np.errstate(all="ignore"):
            out = fn()
    finally:
        for a, before in saved:            # recorded, not run: the memory is as it was
            np.copyto(a, before)
    res = out if wrap is None else wrap(out)
    fresh = []
    for i, leaf in enumerate(_leaves(res, [])):
        if type(leaf) is FakeArray:
            a = leaf._a
            if a.flags.writeable and not any(np.may_share_memory(a, b) for b in arrays):
                _poison(a)
                fresh.append((i, a))
        elif arrays and (type(leaf) in _PY_SCALARS or isinstance(leaf, np.generic)):
            raise _capture_error("a device value returned to the host as a Python scalar")

    def replay():
        results = _leaves(fn(), [])
        for i, a in fresh:
            np.copyto(a, results[i], casting="unsafe")
    cap.ops.append(replay)
    return res


class Graph:
    """What ``Stream.end_capture`` returns: the recorded work, replayed in order."""

    def __init__(self, ops):
        self._ops = ops

    def upload(self, stream=None):
        pass

    def launch(self, stream=None):
        if _capture is not None:
            raise NotImplementedError("fakecupy: launching a graph inside a capture")
        for op in self._ops:
            op()


def _index(key, keep):
    """An index for ``__getitem__``/``__setitem__``: device arrays unwrapped; NumPy arrays and
    lists pass (CuPy copies them to the device). Also says whether it is an advanced index."""
    parts = key if type(key) is tuple else (key,)
    out, advanced = [], False
    for p in parts:
        if type(p) is FakeArray:
            keep.append(p)
            p = p._a
            advanced = True
        elif isinstance(p, (np.ndarray, list, bool, np.bool_)):
            advanced = True
        elif p is not None and p is not Ellipsis and not isinstance(p, (slice, int, np.integer)):
            if hasattr(p, "__array__"):
                raise TypeError(f"Unsupported index type {type(p)} [fakecupy]")
        out.append(p)
    return (tuple(out) if type(key) is tuple else out[0]), advanced


# -- device memory, devices, streams --------------------------------------------------------------
class CUDARuntimeError(RuntimeError):
    pass


class _Memory:
    def __init__(self, size):
        self.size = size
        self.device_id = 0


class MemoryPointer:
    """``ndarray.data``: the address (``ptr``) of the array's first element."""

    def __init__(self, array):
        self.ptr = array.ctypes.data
        self.device_id = 0
        self.mem = _Memory(array.nbytes)

    @property
    def device(self):
        return Device(0)

    def __int__(self):
        return self.ptr


class Device:
    """``cupy.cuda.Device``: one fake GPU, id 0."""

    def __init__(self, device=None):
        if isinstance(device, Device):
            device = device.id
        self.id = 0 if device is None else int(device)

    def _check(self):
        if not 0 <= self.id < _DEVICE_COUNT:
            raise CUDARuntimeError("cudaErrorInvalidDevice: invalid device ordinal")

    def __enter__(self):
        self._check()
        return self

    def __exit__(self, *exc):
        return False

    def use(self):
        self._check()

    def synchronize(self):
        self._check()
        _no_host_read("Device.synchronize")

    @property
    def compute_capability(self):
        return "90"

    @property
    def mem_info(self):
        return (64 << 30, 80 << 30)

    def __eq__(self, other):
        return isinstance(other, Device) and other.id == self.id

    def __hash__(self):
        return hash(("fakecupy.Device", self.id))

    def __repr__(self):
        return f"<CUDA Device {self.id}>"


_DEVICE_COUNT = 1


class Event:
    def __init__(self, block=False, disable_timing=False, interprocess=False):
        self.ptr = id(self)

    def record(self, stream=None):
        return self

    def synchronize(self):
        _no_host_read("Event.synchronize")

    @property
    def done(self):
        return True


class Stream:
    """Streams exist as objects and as capture targets: outside a capture the fake runs
    everything synchronously; a capturing stream records the work queued on it."""
    null = None

    def __init__(self, null=False, non_blocking=False, ptr=None):
        self.ptr = 0 if null else id(self)
        self.device_id = 0

    def synchronize(self):
        _no_host_read("Stream.synchronize")

    def record(self, event=None):
        return event if event is not None else Event()

    def wait_event(self, event):
        pass

    @property
    def done(self):
        return True

    def use(self):
        _streams[:] = [self]
        return self

    def __enter__(self):
        _streams.append(self)
        return self

    def __exit__(self, *exc):
        _streams.pop()
        return False

    def is_capturing(self):
        return _capture is not None and _capture.stream is self

    def begin_capture(self, mode=None):
        """Record the device work queued on this stream until ``end_capture`` (see ``_op``)."""
        global _capture
        if self.ptr == 0:
            raise CUDARuntimeError("cudaErrorStreamCaptureUnsupported: the legacy null stream "
                                   "cannot be captured")
        if _capture is not None:
            raise CUDARuntimeError("cudaErrorIllegalState: a stream is capturing already "
                                   "[fakecupy: one capture at a time]")
        _capture = _Capture(self, mode)

    def end_capture(self):
        global _capture
        if not self.is_capturing():
            raise CUDARuntimeError("cudaErrorIllegalState: the stream is not capturing")
        ops, _capture = _capture.ops, None
        return Graph(ops)


Stream.null = Stream(null=True)
_streams = []


def get_current_stream(device_id=None):
    return _streams[-1] if _streams else Stream.null


class MemoryPool:
    """The pool API narae reads; the fake allocates with NumPy and reports no usage."""

    def __init__(self, allocator=None):
        self._limit = 0

    def malloc(self, size):
        return MemoryPointer(np.empty(size, np.uint8))

    def used_bytes(self):
        return 0

    def total_bytes(self):
        return 0

    def free_bytes(self):
        return 0

    def free_all_blocks(self, stream=None):
        pass

    def n_free_blocks(self):
        return 0

    def set_limit(self, size=None, fraction=None):
        self._limit = size or 0

    def get_limit(self):
        return self._limit


class PinnedMemoryPool(MemoryPool):
    pass


_default_pool = MemoryPool()
_default_pinned_pool = PinnedMemoryPool()
_hooks = []


class MemoryHook:
    """``cupy.cuda.MemoryHook``: subclasses install themselves with ``with``/``__enter__``.
    The fake never calls the hook methods (it has no allocator events)."""
    name = "MemoryHook"

    def __enter__(self):
        _hooks.append(self)
        return self

    def __exit__(self, *exc):
        if self in _hooks:
            _hooks.remove(self)
        return False

    def alloc_preprocess(self, **kwargs):
        pass

    def alloc_postprocess(self, **kwargs):
        pass

    def malloc_preprocess(self, **kwargs):
        pass

    def malloc_postprocess(self, **kwargs):
        pass

    def free_preprocess(self, **kwargs):
        pass

    def free_postprocess(self, **kwargs):
        pass


@contextlib.contextmanager
def using_allocator(allocator=None):
    yield


# -- the array ------------------------------------------------------------------------------------
# cupy.ndarray's methods that return arrays (wrapped) or Python values (_NO_WRAP); anything
# else a NumPy array has (ctypes, tobytes's cousins, __array_interface__...) is refused.
_METHODS = frozenset("""
    all any argmax argmin argpartition argsort astype clip compress conj conjugate copy
    cumprod cumsum diagonal dot dump dumps flatten item max mean min nonzero partition prod
    ravel repeat reshape round sort squeeze std sum swapaxes take tobytes tofile tolist trace
    transpose var view choose
""".split())
_NO_WRAP = frozenset(["item", "tolist", "tobytes", "dumps", "dump", "tofile"])
# results whose size depends on values: CuPy reads a count back to the host (a sync)
_DATA_DEPENDENT = frozenset(["nonzero", "compress", "argwhere", "flatnonzero", "unique",
                             "extract"])
_HOST_OK_METHODS = frozenset(["take", "reshape", "transpose", "compress", "choose", "put"])


def _new(result):
    return FakeArray._of(np.asarray(result))


def _binop(ufunc, name, reflected=False):
    def op(self, other):
        touched = [self]
        if type(other) is FakeArray:
            touched.append(other)
            b = other._a
        elif isinstance(other, np.ndarray):
            raise _host_error(other, f"cupy.ndarray.{name}")
        elif not _is_scalar(other):
            return NotImplemented
        else:
            b = other
        a = self._a
        if reflected:
            return _op(lambda: ufunc(b, a), touched, _new)
        return _op(lambda: ufunc(a, b), touched, _new)
    op.__name__ = name
    return op


def _rbinop(ufunc, name):
    return _binop(ufunc, name, reflected=True)


def _ibinop(ufunc, name):
    def op(self, other):
        touched = [self]
        if type(other) is FakeArray:
            touched.append(other)
            other = other._a
        elif isinstance(other, np.ndarray):
            raise _host_error(other, f"cupy.ndarray.{name}")
        elif not _is_scalar(other):
            return NotImplemented
        a = self._a
        _op(lambda: ufunc(a, other, out=a), touched)
        return self
    op.__name__ = name
    return op


def _unop(ufunc, name):
    def op(self):
        a = self._a
        return _op(lambda: ufunc(a), [self], _new)
    op.__name__ = name
    return op


class FakeArray:
    """A device array: NumPy memory behind CuPy's interface and CuPy's refusals."""
    __slots__ = ("_a", "__weakref__")
    __module__ = "cupy._fake"
    __array_priority__ = 100.0
    __hash__ = None

    def __init__(self, shape, dtype=float, memptr=None, strides=None, order="C"):
        """``cupy.ndarray(shape, dtype)``: uninitialised device memory."""
        if memptr is not None or strides is not None:
            raise NotImplementedError("fakecupy: ndarray(memptr=..., strides=...)")
        self._a = np.empty(shape, dtype, order=order)
        if _capture is not None:
            _poison(self._a)

    @classmethod
    def _of(cls, array):
        obj = object.__new__(cls)
        obj._a = array
        return obj

    # -- attributes -----------------------------------------------------------------------------
    @property
    def shape(self):
        return self._a.shape

    @shape.setter
    def shape(self, value):
        self._a.shape = value

    @property
    def dtype(self):
        return self._a.dtype

    @property
    def ndim(self):
        return self._a.ndim

    @property
    def size(self):
        return self._a.size

    @property
    def itemsize(self):
        return self._a.itemsize

    @property
    def nbytes(self):
        return self._a.nbytes

    @property
    def strides(self):
        return self._a.strides

    @property
    def flags(self):
        return self._a.flags

    @property
    def T(self):
        return FakeArray._of(self._a.T)

    @property
    def mT(self):
        return FakeArray._of(self._a.mT)

    @property
    def real(self):
        return FakeArray._of(self._a.real)

    @real.setter
    def real(self, value):  # (CuPy writes the real part in place, device data only)
        self.real[...] = value

    @property
    def imag(self):
        return FakeArray._of(self._a.imag)

    @imag.setter
    def imag(self, value):
        if self._a.dtype.kind != "c":
            raise TypeError("cupy.ndarray: the imaginary part of a real array is read-only "
                            "[fakecupy]")
        self.imag[...] = value

    @property
    def base(self):
        b = self._a.base
        return FakeArray._of(b) if type(b) is np.ndarray else None

    @property
    def data(self):
        return MemoryPointer(self._a)

    @property
    def device(self):
        return Device(0)

    @property
    def __cuda_array_interface__(self):
        a = self._a
        return {"shape": a.shape, "typestr": a.dtype.str, "descr": a.dtype.descr,
                "data": (a.ctypes.data, False), "version": 3,
                "strides": None if a.flags.c_contiguous else a.strides}

    def __getattr__(self, name):
        if name in _METHODS:
            meth = getattr(self._a, name)
            where = f"cupy.ndarray.{name}"
            convert = _lenient if name in _HOST_OK_METHODS else _arg

            def method(*args, **kwargs):
                if name in _NO_WRAP:
                    _no_host_read(f"cupy.ndarray.{name}")
                    return meth(*args, **kwargs)
                if name in _DATA_DEPENDENT:
                    _no_host_read(f"cupy.ndarray.{name}: its result's size depends on values")
                keep = [self]
                args = [convert(a, where, keep) for a in args]
                kwargs = {k: convert(v, where, keep) for k, v in kwargs.items()}
                return _op(lambda: meth(*args, **kwargs), keep, lambda r: _wrap(r, keep))
            method.__name__ = name
            return method
        if name == "_a":
            raise AttributeError(name)
        raise AttributeError(f"'cupy.ndarray' object has no attribute '{name}' [fakecupy: "
                             "CuPy arrays lack it]")

    # -- host transfers -------------------------------------------------------------------------
    def get(self, stream=None, order="C", out=None, blocking=True):
        """A NumPy copy (device-to-host)."""
        _no_host_read("cupy.ndarray.get")
        if out is not None:
            if not isinstance(out, np.ndarray):
                raise TypeError("Only numpy.ndarray can be obtained from cupy.ndarray")
            if out.shape != self.shape or out.dtype != self.dtype:
                raise ValueError("Shape or dtype mismatch")
            np.copyto(out, self._a)
            return out
        return np.array(self._a, order=order, copy=True)

    def set(self, arr, stream=None):
        """Copy a NumPy array of the same shape and dtype in (host-to-device)."""
        if not isinstance(arr, np.ndarray):
            raise TypeError(f"Only numpy.ndarray can be set to cupy.ndarray, got {type(arr)}")
        if self.shape != arr.shape:
            raise ValueError(f"Shape mismatch. Old shape: {self.shape}, new shape: {arr.shape}")
        if self.dtype != arr.dtype:
            raise TypeError(f"{arr.dtype} array cannot be set to {self.dtype} array")
        if not (self._a.flags.c_contiguous or self._a.flags.f_contiguous):
            raise RuntimeError("Cannot set to non-contiguous array")
        if stream is None:
            # CuPy copies synchronously (cudaMemcpy), which a capture cannot record
            _no_host_read("cupy.ndarray.set without stream=: a synchronous copy")
        a = self._a
        # recorded in a capture, the copy reads the host buffer again at every replay
        _op(lambda: np.copyto(a, arr), [self], stream=stream)

    def __array__(self, dtype=None, copy=None):
        raise _implicit_error()

    # -- CuPy-only methods ------------------------------------------------------------------------
    def fill(self, value):
        if isinstance(value, np.ndarray):
            if value.shape != ():
                raise ValueError("non-scalar numpy.ndarray cannot be used for fill")
            value = value.item()
        touched = [self]
        if type(value) is FakeArray:
            touched.append(value)
            value = value._a
        a = self._a
        _op(lambda: a.fill(value), touched)

    def put(self, indices, values, mode="wrap"):
        keep = [self]
        indices, values = _lenient(indices, "put", keep), _lenient(values, "put", keep)
        a = self._a
        _op(lambda: a.put(indices, values, mode=mode), keep)

    def scatter_add(self, slices, value):
        _scatter(self, slices, value, np.add, "add")

    def scatter_max(self, slices, value):
        _scatter(self, slices, value, np.maximum, "max")

    def scatter_min(self, slices, value):
        _scatter(self, slices, value, np.minimum, "min")

    def reduced_view(self, dtype=None):
        return self

    def toDlpack(self):
        raise NotImplementedError("fakecupy: DLPack")

    # -- indexing -------------------------------------------------------------------------------
    def __getitem__(self, key):
        keep = [self]
        k, advanced = _index(key, keep)
        parts = k if type(k) is tuple else (k,)
        if not advanced:
            out = self._a[k]
            if isinstance(out, np.generic):      # CuPy returns 0-d views, not scalars
                if not any(p is Ellipsis for p in parts):
                    return FakeArray._of(self._a[parts + (Ellipsis,)])
            else:
                return _wrap(out, keep)          # a view: no device work
        elif _capture is not None and any(np.asarray(p).dtype == np.bool_ for p in parts
                                          if isinstance(p, (np.ndarray, list))):
            _no_host_read("boolean-mask indexing: CuPy reads the mask's count back")
        a = self._a
        return _op(lambda: a[k], keep, lambda r: _wrap(r, keep))

    def __setitem__(self, key, value):
        keep = [self]
        k, advanced = _index(key, keep)
        if type(value) is FakeArray:
            keep.append(value)
            value = value._a
        elif isinstance(value, np.ndarray):
            if not advanced and value.shape != ():
                # CuPy assigns a basic-index target with fill(), which takes scalars only
                raise ValueError("non-scalar numpy.ndarray cannot be used for fill [fakecupy: "
                                 "a host array assigned into a device array's slice]")
        elif not _is_scalar(value):
            if not advanced:
                raise TypeError(f"Unsupported type {type(value)} [fakecupy: CuPy assigns a "
                                "basic-index target with fill(), which takes scalars only]")
            if hasattr(value, "__array__"):
                raise TypeError(f"Unsupported type {type(value)} as a value [fakecupy]")
        a = self._a
        _op(lambda: a.__setitem__(k, value), keep)

    def __len__(self):
        return len(self._a)

    def __iter__(self):
        if self._a.ndim == 0:
            raise TypeError("iteration over a 0-d array")
        return (self[i] for i in range(len(self._a)))

    def __contains__(self, value):
        return bool((self == value).any())

    # -- conversions to Python (explicit, synchronising reads: CuPy allows them) ---------------
    def __bool__(self):
        _no_host_read("bool(cupy.ndarray)")
        return bool(self._a)

    def __int__(self):
        _no_host_read("int(cupy.ndarray)")
        return int(self._a)

    def __float__(self):
        _no_host_read("float(cupy.ndarray)")
        return float(self._a)

    def __complex__(self):
        _no_host_read("complex(cupy.ndarray)")
        return complex(self._a)

    def __index__(self):
        _no_host_read("cupy.ndarray.__index__")
        return self._a.__index__()

    def __repr__(self):
        _no_host_read("repr(cupy.ndarray)")
        return repr(self._a)

    def __str__(self):
        _no_host_read("str(cupy.ndarray)")
        return str(self._a)

    def __format__(self, spec):
        _no_host_read("format(cupy.ndarray)")
        return format(self._a[()] if self._a.ndim == 0 else self._a, spec)

    def __copy__(self):
        a = self._a
        return _op(lambda: a.copy(), [self], _new)

    def __deepcopy__(self, memo):
        return self.__copy__()

    def __reduce__(self):
        _no_host_read("pickling a cupy.ndarray")
        return (_rebuild, (self._a.copy(),))

    # -- NumPy protocols: np.* functions on device arrays run as cupy.* (as CuPy's do) ---------
    def __array_ufunc__(self, ufunc, method, *inputs, **kwargs):
        fu = _ufunc(ufunc)
        if method == "__call__":
            return fu(*inputs, **kwargs)
        return getattr(fu, method)(*inputs, **kwargs)

    def __array_function__(self, func, types, args, kwargs):
        for t in types:
            if t is not FakeArray and not issubclass(t, np.ndarray):
                return NotImplemented
        special = _NAMESPACE_OVERRIDES.get(func.__name__)
        if special is not None and getattr(np, func.__name__, None) is func:
            return special(*args, **kwargs)
        where = f"numpy.{func.__name__} on cupy arrays"
        if func.__name__ in _HOST_OK_FUNCTIONS:
            return _metadata_call(func, args, kwargs, where)
        if func.__name__ in _DATA_DEPENDENT:
            _no_host_read(f"{where}: its result's size depends on values")
        return _call(func, args, kwargs, where)

    # -- operators --------------------------------------------------------------------------------
    __add__ = _binop(np.add, "__add__")
    __radd__ = _rbinop(np.add, "__radd__")
    __iadd__ = _ibinop(np.add, "__iadd__")
    __sub__ = _binop(np.subtract, "__sub__")
    __rsub__ = _rbinop(np.subtract, "__rsub__")
    __isub__ = _ibinop(np.subtract, "__isub__")
    __mul__ = _binop(np.multiply, "__mul__")
    __rmul__ = _rbinop(np.multiply, "__rmul__")
    __imul__ = _ibinop(np.multiply, "__imul__")
    __truediv__ = _binop(np.true_divide, "__truediv__")
    __rtruediv__ = _rbinop(np.true_divide, "__rtruediv__")
    __itruediv__ = _ibinop(np.true_divide, "__itruediv__")
    __floordiv__ = _binop(np.floor_divide, "__floordiv__")
    __rfloordiv__ = _rbinop(np.floor_divide, "__rfloordiv__")
    __ifloordiv__ = _ibinop(np.floor_divide, "__ifloordiv__")
    __mod__ = _binop(np.remainder, "__mod__")
    __rmod__ = _rbinop(np.remainder, "__rmod__")
    __imod__ = _ibinop(np.remainder, "__imod__")
    __pow__ = _binop(np.power, "__pow__")
    __rpow__ = _rbinop(np.power, "__rpow__")
    __ipow__ = _ibinop(np.power, "__ipow__")
    __matmul__ = _binop(np.matmul, "__matmul__")
    __rmatmul__ = _rbinop(np.matmul, "__rmatmul__")
    __imatmul__ = _ibinop(np.matmul, "__imatmul__")
    __and__ = _binop(np.bitwise_and, "__and__")
    __rand__ = _rbinop(np.bitwise_and, "__rand__")
    __iand__ = _ibinop(np.bitwise_and, "__iand__")
    __or__ = _binop(np.bitwise_or, "__or__")
    __ror__ = _rbinop(np.bitwise_or, "__ror__")
    __ior__ = _ibinop(np.bitwise_or, "__ior__")
    __xor__ = _binop(np.bitwise_xor, "__xor__")
    __rxor__ = _rbinop(np.bitwise_xor, "__rxor__")
    __ixor__ = _ibinop(np.bitwise_xor, "__ixor__")
    __lshift__ = _binop(np.left_shift, "__lshift__")
    __rlshift__ = _rbinop(np.left_shift, "__rlshift__")
    __rshift__ = _binop(np.right_shift, "__rshift__")
    __rrshift__ = _rbinop(np.right_shift, "__rrshift__")
    __eq__ = _binop(np.equal, "__eq__")
    __ne__ = _binop(np.not_equal, "__ne__")
    __lt__ = _binop(np.less, "__lt__")
    __le__ = _binop(np.less_equal, "__le__")
    __gt__ = _binop(np.greater, "__gt__")
    __ge__ = _binop(np.greater_equal, "__ge__")
    __neg__ = _unop(np.negative, "__neg__")
    __pos__ = _unop(np.positive, "__pos__")
    __abs__ = _unop(np.absolute, "__abs__")
    __invert__ = _unop(np.invert, "__invert__")

    def __divmod__(self, other):
        return _ufunc(np.divmod)(self, other)

    def __rdivmod__(self, other):
        return _ufunc(np.divmod)(other, self)


def _rebuild(host):
    return FakeArray._of(host)


# -- scatter operations (ufunc.at, cupyx.scatter_add, ndarray.scatter_*) --------------------------
# atomicAdd/atomicMax/atomicMin exist for these dtypes only (CuPy's _scatter_op_single)
_SCATTER_DTYPES = {
    "add": (np.int32, np.float16, np.float32, np.float64, np.uint32, np.uint64),
    "max": (np.int32, np.float32, np.float64, np.uint32, np.uint64),
    "min": (np.int32, np.float32, np.float64, np.uint32, np.uint64),
}


def _scatter(a, slices, value, ufunc, op):
    where = f"scatter_{op} / {ufunc.__name__}.at"
    if type(a) is not FakeArray:
        if isinstance(a, np.ndarray):
            raise _host_error(a, where)
        raise TypeError(f"Unsupported type {type(a)} in {where}")
    keep = [a]
    idx, _ = _index(slices, keep)
    parts = idx if type(idx) is tuple else (idx,)
    arrays = [p for p in parts if isinstance(p, (np.ndarray, list))]
    single_mask = len(arrays) == 1 and np.asarray(arrays[0]).dtype == np.bool_
    if arrays and not single_mask and not issubclass(a.dtype.type, _SCATTER_DTYPES[op]):
        raise TypeError(f"scatter_{op} only supports "
                        f"{', '.join(np.dtype(t).name for t in _SCATTER_DTYPES[op])} as data "
                        f"type, not {a.dtype} [fakecupy: CuPy's {ufunc.__name__}.at / "
                        f"cupyx.scatter_{op} with integer-array indices]")
    if type(value) is FakeArray:
        keep.append(value)
        value = value._a
    target = a._a
    _op(lambda: ufunc.at(target, idx, value), keep)


# -- ufuncs ---------------------------------------------------------------------------------------
class FakeUfunc:
    """``cupy.ufunc``: NumPy's ufunc under CuPy's rules (operands, and the methods CuPy has)."""

    def __init__(self, uf, name=None):
        self._uf = uf
        self.__name__ = name or uf.__name__

    nin = property(lambda self: self._uf.nin)
    nout = property(lambda self: self._uf.nout)
    nargs = property(lambda self: self._uf.nargs)
    identity = property(lambda self: self._uf.identity)
    types = property(lambda self: self._uf.types)

    def __repr__(self):
        return f"<ufunc 'cupy_{self.__name__}'>"

    def __call__(self, *args, **kwargs):
        where = f"cupy.{self.__name__}"
        keep = []
        ins = [_operand(a, where, keep) for a in args]
        out = kwargs.get("out")
        if out is not None:
            outs = out if type(out) is tuple else (out,)
            kwargs["out"] = tuple(None if o is None else _operand(o, where + " (out=)", keep)
                                  for o in outs)
        if "where" in kwargs and not _is_scalar(kwargs["where"]):
            kwargs["where"] = _operand(kwargs["where"], where + " (where=)", keep)
        return _op(lambda: self._uf(*ins, **kwargs), keep, lambda r: _wrap(r, keep))

    def _method_array(self, array, method):
        if type(array) is not FakeArray:
            if isinstance(array, np.ndarray):
                raise _host_error(array, f"cupy.{self.__name__}.{method}")
            raise TypeError(f"Unsupported type {type(array)} in cupy.{self.__name__}.{method}")
        return array

    def _unsupported(self, method):
        return NotImplementedError(f"`cupy_{self.__name__}.{method}` is not supported yet "
                                   "[fakecupy: CuPy's ufunc lacks this method]")

    def reduce(self, array, axis=0, dtype=None, out=None, keepdims=False, **kwargs):
        if self.__name__ not in ("add", "multiply"):
            raise self._unsupported("reduce")
        array = self._method_array(array, "reduce")
        f = array.sum if self.__name__ == "add" else array.prod
        return f(axis, dtype, out, keepdims)

    def accumulate(self, array, axis=0, dtype=None, out=None):
        if self.__name__ not in ("add", "multiply"):
            raise self._unsupported("accumulate")
        array = self._method_array(array, "accumulate")
        f = array.cumsum if self.__name__ == "add" else array.cumprod
        return f(axis, dtype, out)

    def reduceat(self, array, indices, axis=0, dtype=None, out=None):
        if self.__name__ != "add":
            raise self._unsupported("reduceat")
        array = self._method_array(array, "reduceat")
        keep = [array]
        a, indices = array._a, _lenient(indices, "reduceat", keep)
        out = _lenient(out, "reduceat", keep)
        return _op(lambda: np.add.reduceat(a, indices, axis, dtype, out), keep,
                   lambda r: _wrap(r, keep))

    def outer(self, A, B, **kwargs):
        # CuPy converts both operands with core.array: host data is copied, not refused
        keep = []
        A, B = _lenient(A, "outer", keep), _lenient(B, "outer", keep)
        return _op(lambda: self._uf.outer(A, B, **kwargs), keep, lambda r: _wrap(r, keep))

    def at(self, a, indices, b=None):
        op = {"add": "add", "maximum": "max", "minimum": "min"}.get(self.__name__)
        if op is None:
            raise self._unsupported("at")
        if b is None:
            raise ValueError("second operand needed for ufunc")
        _scatter(a, indices, b, self._uf, op)


_ufuncs = {}


def _ufunc(uf):
    fu = _ufuncs.get(uf)
    if fu is None:
        fu = _ufuncs[uf] = FakeUfunc(uf)
    return fu


# -- hand-written kernels: cupy.RawModule runs them with narae's g++ emulator ----------------------
_TYPEDEF = re.compile(r"typedef\s+(float|double|__half)\s+T;\n")


class RawModule:
    def __init__(self, code=None, path=None, options=(), backend="nvrtc", translate_cucomplex=False,
                 enable_cooperative_groups=False, name_expressions=None, jitify=False):
        if code is None:
            raise NotImplementedError("fakecupy: RawModule(path=...)")
        m = _TYPEDEF.search(code)
        self.code = code
        self._ctype = m.group(1) if m else None
        self._text = code[m.end():] if m else code

    def get_function(self, name):
        return RawKernel(self.code, name, _module=self)


class RawKernel:
    def __init__(self, code, name, options=(), backend="nvrtc", translate_cucomplex=False,
                 enable_cooperative_groups=False, jitify=False, _module=None):
        self.code, self.name = code, name
        self._module = _module if _module is not None else RawModule(code=code)

    def __call__(self, grid, block, args, shared_mem=0, stream=None,
                 enable_cooperative_groups=False):
        from narae.backend.kernels import emulator
        from narae.backend.kernels.signature import parse_kernels
        mod = self._module
        signatures = parse_kernels(mod._text)
        if self.name not in signatures:
            raise CUDARuntimeError(f"CUDA_ERROR_NOT_FOUND: named symbol not found: {self.name}")
        params = signatures[self.name]
        dtype = {"float": np.float32, "double": np.float64}.get(mod._ctype)
        if dtype is None:
            raise NotImplementedError(f"fakecupy: the kernel emulator runs float/double kernels, "
                                      f"not {mod._ctype}")
        if len(args) != len(params):
            raise TypeError(f"{self.name}: {len(params)} parameters, {len(args)} arguments")
        lib = emulator.compile_library("fakecupy", mod._text, signatures, dtype)
        fn = getattr(lib, f"narae_launch_{self.name}")
        grid = tuple(grid) if isinstance(grid, tuple) else (grid,)
        block = tuple(block) if isinstance(block, tuple) else (block,)
        cargs = [ctypes.c_uint32(v) for v in grid + (1,) * (3 - len(grid)) +
                 block + (1,) * (3 - len(block))]
        for p, a in zip(params, args):
            if p.pointer:
                if type(a) is not FakeArray:
                    if isinstance(a, np.ndarray):
                        raise _host_error(a, f"kernel {self.name} (argument {p.name})")
                    raise TypeError(f"Unsupported type {type(a)} for pointer argument {p.name}")
                cargs.append(ctypes.c_void_p(a._a.ctypes.data))
            else:
                if isinstance(a, np.ndarray) or type(a) is FakeArray:
                    raise TypeError(f"{self.name}: argument {p.name} must be a scalar")
                ct = emulator._CTYPES[p.base] or (ctypes.c_float if dtype is np.float32
                                                  else ctypes.c_double)
                cargs.append(ct(a.item() if hasattr(a, "item") else a))
        cap = _recording(stream)
        if cap is None:
            fn(*cargs)
        else:        # a launch in a capture becomes a graph node: recorded, not run
            cap.ops.append(lambda arrays=args: fn(*cargs))


# -- the cupy namespace ---------------------------------------------------------------------------
# cupy.* functions that accept host data (they read dtypes/shapes, or copy to the device)
_HOST_OK_FUNCTIONS = frozenset("""
    result_type can_cast promote_types min_scalar_type common_type shape ndim size isscalar
    iscomplexobj isrealobj broadcast_shapes dtype finfo iinfo issubdtype
""".split())
# cupy.* functions that allocate memory and do no device work
_ALLOCATIONS = frozenset(["empty", "empty_like"])
# NumPy names CuPy does not have (refused rather than silently computed on the host)
_NOT_IN_CUPY = frozenset("""
    frompyfunc vectorize matrix memmap recarray ma rec char ctypeslib object_ str_ bytes_ void
    nditer ndindex nested_iters errstate seterr geterr longdouble clongdouble float128
    complex256 fromfunction fromiter fromregex genfromtxt loadtxt savetxt
""".split())


def _metadata_call(func, args, kwargs, where):
    """A function of shapes and dtypes (host data allowed): no device work to record."""
    keep = []
    return func(*[_lenient(a, where, keep) for a in args],
                **{k: _lenient(v, where, keep) for k, v in kwargs.items()})


def _function(func, name):
    where = f"cupy.{name}"
    if name in _HOST_OK_FUNCTIONS:         # shapes and dtypes: no device work
        def f(*args, **kwargs):
            return _metadata_call(func, args, kwargs, where)
    elif name in _ALLOCATIONS:             # memory, no work: poisoned in a capture
        def f(*args, **kwargs):
            keep = []
            out = _wrap(func(*[_arg(a, where, keep) for a in args],
                             **{k: _arg(v, where, keep) for k, v in kwargs.items()}), keep)
            if _capture is not None:
                _poison(out._a)
            return out
    else:
        def f(*args, **kwargs):
            if name.rpartition(".")[2] in _DATA_DEPENDENT:
                _no_host_read(f"{where}: its result's size depends on values")
            return _call(func, args, kwargs, where)
    f.__name__ = name
    f.__wrapped__ = func
    return f


def _h2d(data, dtype=None, order="K", ndmin=0):
    """Host data -> new device memory (always a copy: device memory is separate). In a
    capture the copy is recorded, from a snapshot of the host data taken now."""
    keep = []
    data = _lenient(data, "cupy.array", keep)
    if keep:                                   # device arrays inside a list: device work
        return _op(lambda: np.array(data, dtype=dtype, order=order or "K", copy=True,
                                    ndmin=ndmin), keep, _new)
    # pageable host memory: CuPy copies it with a host-synchronous cudaMemcpy, which a
    # capture refuses (uploads from pinned buffers go through ``ndarray.set(..., stream=)``)
    _no_host_read("copying pageable host data to the device (cupy.asarray/array)")
    arr = np.array(data, dtype=dtype, order=order or "K", copy=True, ndmin=ndmin)
    if arr.dtype.kind in "OSU":
        raise ValueError(f"Unsupported dtype {arr.dtype}")
    return _op(lambda: arr.copy(), (), _new)


def _same_or_new(a):
    return lambda r: a if r is a._a else FakeArray._of(r)


def asarray(a, dtype=None, order=None, *, blocking=False):
    if type(a) is FakeArray:
        x = a._a
        return _op(lambda: np.asarray(x, dtype=dtype, order=order), [a], _same_or_new(a))
    return _h2d(a, dtype, order or "K")


def asanyarray(a, dtype=None, order=None):
    return asarray(a, dtype, order)


def array(obj, dtype=None, copy=True, order="K", subok=False, ndmin=0, *, blocking=False):
    if type(obj) is FakeArray:
        x = obj._a
        return _op(lambda: np.array(x, dtype=dtype, copy=copy, order=order, ndmin=ndmin),
                   [obj], _same_or_new(obj))
    return _h2d(obj, dtype, order, ndmin)


def asnumpy(a, stream=None, order="C", out=None, *, blocking=True):
    if type(a) is FakeArray:
        return a.get(stream, order, out)
    if out is not None:
        out[...] = a
        return out
    return np.asarray(a, order=order)


def copyto(dst, src, casting="same_kind", where=None):
    if type(dst) is not FakeArray:
        raise _host_error(dst, "cupy.copyto (dst)") if isinstance(dst, np.ndarray) else \
            TypeError(f"Unsupported type {type(dst)} in cupy.copyto")
    keep = [dst]
    if type(src) is FakeArray:
        keep.append(src)
        src = src._a
    elif isinstance(src, np.ndarray):
        if src.size != 1:
            raise ValueError("non-scalar numpy.ndarray cannot be used for copyto [fakecupy: "
                             "a host array copied into a device array]")
        src = src.reshape(())[()]
    elif not _is_scalar(src):
        raise TypeError(f"Unsupported type {type(src)} in cupy.copyto")
    if where is not None and not _is_scalar(where):
        where = _operand(where, "cupy.copyto (where=)", keep)
    d = dst._a
    _op(lambda: np.copyto(d, src, casting=casting, where=True if where is None else where),
        keep)


def get_array_module(*args):
    for a in args:
        if type(a) is FakeArray:
            return cupy
    return np


_NAMESPACE_OVERRIDES = {"asarray": asarray, "asanyarray": asanyarray, "array": array,
                        "copyto": copyto}


class _Namespace(types.ModuleType):
    """A module whose missing attributes come from a NumPy module, wrapped for the device."""

    def __init__(self, name, numpy_module, doc=None):
        super().__init__(name, doc)
        self._numpy_module = numpy_module

    def __getattr__(self, name):
        if name.startswith("__") or name.startswith("_"):
            raise AttributeError(name)
        if name in _NOT_IN_CUPY:
            raise AttributeError(f"module '{self.__name__}' has no attribute '{name}' "
                                 "[fakecupy: CuPy lacks it]")
        try:
            obj = getattr(self._numpy_module, name)
        except AttributeError:
            raise AttributeError(f"module '{self.__name__}' has no attribute '{name}'") from None
        if isinstance(obj, np.ufunc):
            value = _ufunc(obj)
        elif isinstance(obj, type) or isinstance(obj, np.dtype):
            value = obj                                   # scalar types, dtype, finfo...
        elif isinstance(obj, types.ModuleType):
            raise AttributeError(f"fakecupy: submodule {self.__name__}.{name} is not faked")
        elif callable(obj):
            prefix = self.__name__[len("cupy."):] + "." if self.__name__ != "cupy" else ""
            value = _function(obj, prefix + name)
        else:
            value = obj                                   # constants: pi, inf, nan, newaxis
        setattr(self, name, value)
        return value


class _Generator:
    """``cupy.random.Generator``: NumPy's generator, drawing into device arrays."""

    def __init__(self, rng):
        self._rng = rng

    def __getattr__(self, name):
        if name.startswith("_"):
            raise AttributeError(name)
        meth = getattr(self._rng, name)
        if not callable(meth):
            return meth
        return _function(meth, f"random.Generator.{name}")


def default_rng(seed=None):
    return _Generator(np.random.default_rng(seed))


def _build():
    cp = _Namespace("cupy", np, __doc__)
    cp.__version__ = "14.0.0+fake"
    cp.__file__ = __file__
    cp.ndarray = FakeArray
    cp.ufunc = FakeUfunc
    cp.asarray, cp.asanyarray, cp.array, cp.asnumpy = asarray, asanyarray, array, asnumpy
    cp.copyto, cp.get_array_module = copyto, get_array_module
    cp.RawModule, cp.RawKernel = RawModule, RawKernel
    cp.get_default_memory_pool = lambda: _default_pool
    cp.get_default_pinned_memory_pool = lambda: _default_pinned_pool
    cp.is_available = lambda: True

    cuda = types.ModuleType("cupy.cuda")
    runtime = types.ModuleType("cupy.cuda.runtime")
    runtime.getDeviceCount = lambda: _DEVICE_COUNT
    runtime.getDevice = lambda: 0
    runtime.setDevice = lambda device: Device(device).use()
    runtime.deviceSynchronize = lambda: _no_host_read("cudaDeviceSynchronize")
    runtime.getDeviceProperties = lambda device: {"name": b"fakecupy CPU device",
                                                  "totalGlobalMem": 80 << 30, "major": 9,
                                                  "minor": 0, "multiProcessorCount": 1,
                                                  "warpSize": 32}
    runtime.memGetInfo = lambda: Device(0).mem_info
    runtime.CUDARuntimeError = CUDARuntimeError
    runtime.streamCaptureModeGlobal = 0
    runtime.streamCaptureModeThreadLocal = 1
    runtime.streamCaptureModeRelaxed = 2
    runtime.is_hip = False
    for name, value in dict(
            Device=Device, Stream=Stream, ExternalStream=Stream, Event=Event,
            get_current_stream=get_current_stream, MemoryPool=MemoryPool,
            PinnedMemoryPool=PinnedMemoryPool, MemoryHook=MemoryHook, MemoryPointer=MemoryPointer,
            using_allocator=using_allocator, Graph=Graph, set_allocator=lambda allocator=None: None,
            set_pinned_memory_allocator=lambda allocator=None: None, runtime=runtime,
            is_available=lambda: True, get_elapsed_time=lambda start, end: 0.0,
            CUDARuntimeError=CUDARuntimeError).items():
        setattr(cuda, name, value)
    cp.cuda = cuda

    random = _Namespace("cupy.random", np.random)
    random.default_rng = default_rng
    random.Generator = _Generator
    cp.random = random
    cp.linalg = _Namespace("cupy.linalg", np.linalg)
    cp.fft = _Namespace("cupy.fft", np.fft)
    lib = types.ModuleType("cupy.lib")
    lib.stride_tricks = _Namespace("cupy.lib.stride_tricks", np.lib.stride_tricks)
    cp.lib = lib

    cx = types.ModuleType("cupyx", "fakecupy's cupyx: pinned host buffers and scatter ops")
    cx.empty_pinned = lambda shape, dtype=float, order="C": np.empty(shape, dtype, order=order)
    cx.zeros_pinned = lambda shape, dtype=float, order="C": np.zeros(shape, dtype, order=order)
    cx.empty_like_pinned = lambda a, dtype=None: np.empty_like(a, dtype=dtype)
    cx.zeros_like_pinned = lambda a, dtype=None: np.zeros_like(a, dtype=dtype)
    cx.scatter_add = lambda a, slices, value: _scatter(a, slices, value, np.add, "add")
    cx.scatter_max = lambda a, slices, value: _scatter(a, slices, value, np.maximum, "max")
    cx.scatter_min = lambda a, slices, value: _scatter(a, slices, value, np.minimum, "min")
    cx.get_runtime_info = lambda full=True: "fakecupy"
    scipy = types.ModuleType("cupyx.scipy")
    special = types.ModuleType("cupyx.scipy.special")
    try:
        import scipy.special as _special
        special.erf = FakeUfunc(_special.erf, "erf")
        for _name in ("erfc", "erfinv", "gammaln", "digamma", "polygamma", "i0", "i1", "gammainc",
                      "gammaincc", "i0e", "i1e", "j0", "j1", "y0", "y1", "k0", "k1", "k0e", "k1e",
                      "zeta", "erfcx", "ndtr", "ndtri", "log_ndtr"):
            setattr(special, _name, FakeUfunc(getattr(_special, _name), _name))
    except ImportError:                   # an erf ufunc without SciPy
        import math
        special.erf = FakeUfunc(np.frompyfunc(math.erf, 1, 1), "erf")
    scipy.special = special
    cx.scipy = scipy
    modules = {"cupy": cp, "cupy.cuda": cuda, "cupy.cuda.runtime": runtime,
               "cupy.random": random, "cupy.linalg": cp.linalg, "cupy.fft": cp.fft,
               "cupy.lib": lib, "cupy.lib.stride_tricks": lib.stride_tricks, "cupyx": cx,
               "cupyx.scipy": scipy, "cupyx.scipy.special": special}
    return cp, cx, modules


cupy, cupyx, _MODULES = _build()


# -- installing it as narae's CuPy ---------------------------------------------------------------
_saved = None


def is_installed():
    return _saved is not None


def install():
    """Make narae (and ``import cupy`` / ``import cupyx``) use the fake until ``uninstall``."""
    global _saved
    if _saved is not None:
        return cupy
    import narae.backend.arrays as arrays
    import narae.backend.kernels.gpu as gpu
    _saved = (arrays._cupy, arrays._cupy_checked, dict(gpu._modules),
              {name: sys.modules.get(name, _MISSING) for name in _MODULES})
    arrays._cupy, arrays._cupy_checked = cupy, True
    gpu._modules.clear()
    sys.modules.update(_MODULES)
    return cupy


def uninstall():
    """Restore narae's CuPy state and ``sys.modules`` as they were before ``install``."""
    global _saved
    if _saved is None:
        return
    import narae.backend.arrays as arrays
    import narae.backend.kernels.gpu as gpu
    import narae.cuda.memory as memory
    arrays._cupy, arrays._cupy_checked, modules, saved_sys = _saved
    gpu._modules.clear()
    gpu._modules.update(modules)
    if isinstance(memory._tracker, MemoryHook):
        memory._tracker.__exit__(None, None, None)
        memory._tracker = None
    for name, mod in saved_sys.items():
        if mod is _MISSING:
            sys.modules.pop(name, None)
        else:
            sys.modules[name] = mod
    _saved = None


@contextlib.contextmanager
def installed():
    """``with installed() as cp:`` runs the block with the fake as narae's CuPy."""
    was = is_installed()
    install()
    try:
        yield cupy
    finally:
        if not was:
            uninstall()
