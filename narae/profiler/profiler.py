"""The profiler: time every op's forward and backward, and user ranges, inside a block.

While a profile records, ``Function.__call__`` and the engine's per-node backward call are
replaced by timed versions (``narae.autograd.engine.instrument``); outside it they are the
plain ones again, so a program that is not profiled pays nothing.

Ops are named by their Function class (``Linear``, ``MatMul``) and their backward nodes by
``<Name>Backward``. A range's self time is its time minus that of the ranges nested in it
(a backward node's own ops, a ``record_function`` block's ops).
"""
import enum
import functools
import os
import socket
import sys
import threading
import time
import warnings

from ..autograd import engine as _engine
from .events import EventList, FunctionEvent, Interval, write_chrome_trace

__all__ = ["profile", "record_function", "schedule", "tensorboard_trace_handler",
           "ProfilerAction", "ProfilerActivity", "supported_activities"]

_perf_ns = time.perf_counter_ns
_get_ident = threading.get_ident
_NARAE_DIR = os.path.dirname(os.path.dirname(os.path.abspath(__file__))) + os.sep


class ProfilerActivity(enum.Enum):
    """What to time: ``CPU`` (host wall time of each range) and ``CUDA`` (device time).

    narae runs on NumPy or CuPy: only CPU and CUDA have a meaning; the others are accepted
    for torch compatibility and ignored.
    """
    CPU = 0
    XPU = 1
    MTIA = 2
    CUDA = 3
    HPU = 4
    PrivateUse1 = 5


class ProfilerAction(enum.Enum):
    """What the profiler does during a step, as ``schedule`` decides it."""
    NONE = 0
    WARMUP = 1
    RECORD = 2
    RECORD_AND_SAVE = 3
    DEVICE_STOPPED = 4


def supported_activities():
    """The activities this machine can profile: CPU, and CUDA when a GPU is usable."""
    from ..backend import gpu_available
    acts = {ProfilerActivity.CPU}
    if gpu_available():
        acts.add(ProfilerActivity.CUDA)
    return acts


def schedule(*, wait, warmup, active, repeat=0, skip_first=0, skip_first_wait=0):
    """The action for each step: skip ``skip_first`` steps, then cycles of ``wait`` idle,
    ``warmup`` instrumented-but-discarded and ``active`` recorded steps; the last active
    step of a cycle saves the trace (``on_trace_ready``). ``repeat=0`` cycles forever;
    ``skip_first_wait`` drops the wait phase of the first cycle.
    """
    for name, v, least in (("wait", wait, 0), ("warmup", warmup, 0), ("active", active, 1),
                           ("repeat", repeat, 0), ("skip_first", skip_first, 0),
                           ("skip_first_wait", skip_first_wait, 0)):
        if not isinstance(v, int) or v < least:
            raise ValueError(f"schedule: {name} must be an integer >= {least}, got {v!r}")
    if warmup == 0:
        warnings.warn("Profiler won't be using warmup, this can skew profiler results",
                      stacklevel=2)
    cycle = wait + warmup + active

    def schedule_fn(step):
        if step < 0:
            raise ValueError(f"schedule: step must be >= 0, got {step}")
        if step < skip_first:
            return ProfilerAction.NONE
        step -= skip_first
        if skip_first_wait:
            step += wait
        if repeat > 0 and step >= repeat * cycle:
            return ProfilerAction.NONE
        pos = step % cycle
        if pos < wait:
            return ProfilerAction.NONE
        if pos < wait + warmup:
            return ProfilerAction.WARMUP
        return ProfilerAction.RECORD if pos < cycle - 1 else ProfilerAction.RECORD_AND_SAVE
    return schedule_fn


def _always_record(step):
    return ProfilerAction.RECORD


def tensorboard_trace_handler(dir_name, worker_name=None, use_gzip=False,
                              use_python_export=False):
    """An ``on_trace_ready`` that writes each trace to ``dir_name`` as
    ``<worker_name>.<ms>.pt.trace.json`` (``.gz`` with ``use_gzip``), TensorBoard's layout.
    """
    def handler_fn(prof):
        os.makedirs(dir_name, exist_ok=True)
        worker = worker_name or f"{socket.gethostname()}_{os.getpid()}"
        stamp = time.time_ns() // 1_000_000
        suffix = ".pt.trace.json" + (".gz" if use_gzip else "")
        path = os.path.join(dir_name, f"{worker}.{stamp}{suffix}")
        while os.path.exists(path):  # two traces in one millisecond
            stamp += 1
            path = os.path.join(dir_name, f"{worker}.{stamp}{suffix}")
        prof.export_chrome_trace(path)
    return handler_fn


# -- recording --------------------------------------------------------------------------------
_active = None  # the _Recorder of the running profile (record_function reads it)

# An open range: [name, cat, start_ns, child_ns, shapes, stack, child_mem, child_ids, id,
# parent_id, device_events]
_NAME, _CAT, _START, _CHILD, _SHAPES, _STACK, _CMEM, _CIDS, _ID, _PARENT, _DEV = range(11)


def _user_stack():
    """``file(line): function`` of the caller's frames outside narae, innermost first."""
    out = []
    f = sys._getframe(3)
    while f is not None:
        fname = f.f_code.co_filename
        if not fname.startswith(_NARAE_DIR):
            out.append(f"{fname}({f.f_lineno}): {f.f_code.co_name}")
        f = f.f_back
    return out


def _arrays(outputs):
    """The arrays an op returned (Tensors, tuples of Tensors, None)."""
    if outputs is None:
        return ()
    if type(outputs) is not tuple and type(outputs) is not list:
        outputs = (outputs,)
    return [o._data for o in outputs if hasattr(o, "_data")]


class _Recorder:
    """Collects the finished ranges of one profiling window (one thread)."""

    def __init__(self, record_shapes, profile_memory, with_stack, cupy, t0_ns):
        self.t0_ns = t0_ns  # times are microseconds since the profile started
        self.record_shapes = record_shapes
        self.profile_memory = profile_memory
        self.with_stack = with_stack
        self.cupy = cupy
        self.clear()

    def clear(self):
        self.tid = _get_ident()
        self.open_ranges = []
        self.done = []  # closed ranges: (range, end_ns, mem, self_mem)
        self.next_id = 0
        self.device_ref = None
        if self.cupy is not None:
            self.device_ref = self.cupy.cuda.Event()
            self.device_ref.record()
            self.device_t0_us = (_perf_ns() - self.t0_ns) / 1000.0

    def open(self, name, cat, shapes=None):
        stack = self.open_ranges
        r = [name, cat, 0, 0, shapes, None, 0, None, self.next_id,
             stack[-1][_ID] if stack else -1, None]
        self.next_id += 1
        if self.with_stack:
            r[_STACK] = _user_stack()
        if self.cupy is not None:
            ev = self.cupy.cuda.Event()
            ev.record()
            r[_DEV] = ev
        stack.append(r)
        r[_START] = _perf_ns()  # last: the bookkeeping above is not the op's time
        return r

    def close(self, r, outputs=None):
        end = _perf_ns()
        dev_end = None
        if self.cupy is not None and r[_DEV] is not None:
            dev_end = self.cupy.cuda.Event()
            dev_end.record()
        stack = self.open_ranges
        if stack and stack[-1] is r:
            stack.pop()
        elif r in stack:  # ranges closed out of order (a generator): drop the ones above
            del stack[stack.index(r):]
        else:
            return  # opened in an earlier window
        mem = self_mem = 0
        if self.profile_memory:
            arrays = _arrays(outputs)
            ids = r[_CIDS]
            self_mem = sum(a.nbytes for a in arrays if ids is None or id(a) not in ids)
            mem = self_mem + r[_CMEM]
            if stack:
                parent = stack[-1]
                parent[_CMEM] += mem
                if parent[_CIDS] is None:
                    parent[_CIDS] = set()
                parent[_CIDS].update(id(a) for a in arrays)
        if stack:
            stack[-1][_CHILD] += end - r[_START]
        self.done.append((r, end, mem, self_mem, dev_end))

    def events(self):
        """The finished ranges as FunctionEvents, in start order, parents linked."""
        t0 = self.t0_ns
        by_id = {}
        if self.cupy is not None and self.done:
            self.cupy.cuda.get_current_stream().synchronize()  # all events have happened
        out = []
        for r, end, mem, self_mem, dev_end in self.done:
            start_us = (r[_START] - t0) / 1000.0
            end_us = (end - t0) / 1000.0
            e = FunctionEvent(r[_ID], r[_NAME], r[_CAT], self.tid, start_us, end_us,
                              (end - r[_START] - r[_CHILD]) / 1000.0, r[_SHAPES] or [],
                              r[_STACK] or [], mem, self_mem)
            if dev_end is not None:
                elapsed = self.cupy.cuda.get_elapsed_time
                d0 = elapsed(self.device_ref, r[_DEV]) * 1000.0
                d1 = elapsed(self.device_ref, dev_end) * 1000.0
                # (on the device clock, from the window's first event: offset by the host
                # time at which that reference event was recorded)
                e.device_range = Interval(self.device_t0_us + d0, self.device_t0_us + d1)
                e.device_time_total = e.self_device_time_total = d1 - d0
            e.cpu_parent = r[_PARENT]  # an id for now
            by_id[e.id] = e
            out.append(e)
        for e in out:
            parent = by_id.get(e.cpu_parent)
            e.cpu_parent = parent
            if parent is not None:
                parent.cpu_children.append(e)
                parent.self_device_time_total -= e.device_time_total
        out.sort(key=lambda e: (e.time_range.start, e.id))
        return out


def _shapes(tensors):
    return [list(t._data.shape) if hasattr(t, "_data") else [] for t in tensors]


def _call_layer(rec):
    """A ``Function.__call__`` wrapper timing each forward into ``rec``."""
    shapes = rec.record_shapes

    def wrap(inner):
        def profiled_call(self, *inputs):
            if _get_ident() != rec.tid:  # only the profiling thread is recorded
                return inner(self, *inputs)
            r = rec.open(type(self).__name__, "cpu_op", _shapes(inputs) if shapes else None)
            try:
                out = inner(self, *inputs)
            except BaseException:
                rec.close(r)
                raise
            rec.close(r, out)
            return out
        return profiled_call
    return wrap


def _backward_layer(rec):
    """An engine backward hook timing each node's backward as ``<Name>Backward``."""
    shapes = rec.record_shapes

    def profiled_backward(fn, gys, inner):
        if _get_ident() != rec.tid:
            return inner(fn, gys)
        name = fn.__dict__.get("_node_name") or type(fn).__name__ + "Backward"
        r = rec.open(name, "cpu_op", _shapes(gys) if shapes else None)
        try:
            gxs = inner(fn, gys)
        except BaseException:
            rec.close(r)
            raise
        rec.close(r, gxs)
        return gxs
    return profiled_backward


def _module_call(rec, plain):
    """``Module.__call__`` recording one ``nn.Module: <Class>`` range per call."""
    def profiled_module_call(self, *args, **kwargs):
        if _get_ident() != rec.tid:
            return plain(self, *args, **kwargs)
        r = rec.open(f"nn.Module: {type(self).__name__}", "python_function")
        try:
            return plain(self, *args, **kwargs)
        finally:
            rec.close(r)
    return profiled_module_call


class record_function:
    """A named user range (context manager or decorator); nestable. Free when no profile
    is recording.

        with record_function("data"):
            batch = next(it)
    """

    def __init__(self, name, args=None):
        if not isinstance(name, str):
            raise TypeError(f"record_function: name must be a str, got {type(name).__name__}")
        self.name = name
        self.args = args
        self._ranges = []

    def __enter__(self):
        rec = _active
        self._ranges.append(None if rec is None or _get_ident() != rec.tid else
                            (rec, rec.open(self.name, "user_annotation")))
        return self

    def __exit__(self, *exc):
        entry = self._ranges.pop() if self._ranges else None
        if entry is not None:
            entry[0].close(entry[1])
        return False

    def __call__(self, func):
        @functools.wraps(func)
        def wrapper(*args, **kwargs):
            with record_function(self.name, self.args):
                return func(*args, **kwargs)
        return wrapper


class profile:
    """Profile the ops run inside the block (or between ``start()`` and ``stop()``).

        with narae.profiler.profile(record_shapes=True) as prof:
            loss = model(x).sum(); loss.backward()
        print(prof.key_averages().table(sort_by="cpu_time_total", row_limit=10))

    ``activities``: ``ProfilerActivity.CPU`` times each range on the host clock. With
    ``ProfilerActivity.CUDA`` and a GPU, CuPy events are recorded on the current stream at
    each range's start and end, so a range's device time is the stream time between them
    (its kernels, and any idle gap); it is read at the end, without synchronizing per op.
    ``record_shapes`` keeps input shapes, ``profile_memory`` counts the bytes of the arrays
    each range returns (allocations; frees are not tracked), ``with_stack`` keeps the user's
    Python stack, ``with_modules`` adds an ``nn.Module: <Class>`` range per module call.
    ``schedule``/``step()`` choose the recorded steps; ``on_trace_ready(prof)`` runs after
    each saved window. ``with_flops``, ``experimental_config``, ``execution_trace_observer``,
    ``custom_trace_id_callback`` and ``post_processing_timeout_s`` are accepted and ignored.
    """

    def __init__(self, *, activities=None, schedule=None, on_trace_ready=None,
                 record_shapes=False, profile_memory=False, with_stack=False,
                 with_flops=False, with_modules=False, experimental_config=None,
                 execution_trace_observer=None, acc_events=False, use_cuda=None,
                 custom_trace_id_callback=None, post_processing_timeout_s=None):
        if activities is None:
            activities = supported_activities()
        acts = set()
        for a in activities:
            for k in (a if isinstance(a, dict) else (a,)):
                if not isinstance(k, ProfilerActivity):
                    raise TypeError(f"profile: activities must be ProfilerActivity members, "
                                    f"got {k!r}")
                acts.add(k)
        if use_cuda:
            warnings.warn("The attribute `use_cuda` will be deprecated soon, please use "
                          "ProfilerActivity.CUDA instead.", FutureWarning, stacklevel=2)
            acts.add(ProfilerActivity.CUDA)
        if on_trace_ready is not None and not callable(on_trace_ready):
            raise TypeError("profile: on_trace_ready must be callable")
        self.activities = acts
        self.schedule = schedule if schedule is not None else _always_record
        self.record_steps = schedule is not None
        self.on_trace_ready = on_trace_ready
        self.record_shapes = record_shapes
        self.profile_memory = profile_memory
        self.with_stack = with_stack
        self.with_flops = with_flops
        self.with_modules = with_modules
        self.acc_events = acc_events
        self.step_num = 0
        self.current_action = None
        self._rec = None
        self._events = []
        self._step_range = None
        self._running = False
        self._module_plain = None
        self._t0_ns = self._wall0_ns = 0
        self._metadata = {}

    # -- context manager ------------------------------------------------------------------
    def __enter__(self):
        self.start()
        return self

    def __exit__(self, *exc):
        self.stop()
        return False

    # -- control --------------------------------------------------------------------------
    def start(self):
        """Begin profiling (the first step's action comes from the schedule)."""
        if self._running:
            raise RuntimeError("profile.start: this profiler is already running")
        self._running = True
        self._t0_ns, self._wall0_ns = _perf_ns(), time.time_ns()
        self.step_num = 0
        self.current_action = self.schedule(self.step_num)
        self._transit(ProfilerAction.NONE, self.current_action)
        self._open_step()

    def stop(self):
        """Stop profiling; a window being recorded is saved (``on_trace_ready``)."""
        if not self._running:
            return
        self._close_step()
        action = self.current_action
        if action in (ProfilerAction.RECORD, ProfilerAction.RECORD_AND_SAVE):
            self._save()
        elif action is ProfilerAction.WARMUP:
            self._uninstall()
        self._running = False
        self.current_action = None

    def step(self):
        """Mark the end of a training step: the schedule picks the next step's action."""
        if not self._running:
            return
        self._close_step()
        prev = self.current_action
        self.step_num += 1
        self.current_action = self.schedule(self.step_num)
        self._transit(prev, self.current_action)
        self._open_step()

    def _transit(self, prev, cur):
        A = ProfilerAction
        on = (A.WARMUP, A.RECORD, A.RECORD_AND_SAVE)
        if prev is A.RECORD_AND_SAVE or (prev is A.RECORD and cur in (A.NONE, A.WARMUP)):
            if prev is A.RECORD:
                warnings.warn(f"Incorrect schedule: RECORD followed by {cur.name}",
                              stacklevel=3)
            self._save()
            prev = A.NONE
        if prev in (A.NONE, A.DEVICE_STOPPED, None):
            if cur in on:
                self._install()
        elif prev is A.WARMUP:
            if cur in (A.RECORD, A.RECORD_AND_SAVE):
                self._rec.clear()  # warmup steps absorb start-up costs; not kept
            elif cur is A.NONE:
                self._uninstall()

    def _open_step(self):
        if self.record_steps and self._rec is not None and \
                self.current_action is not ProfilerAction.WARMUP:
            self._step_range = (self._rec, self._rec.open(f"ProfilerStep#{self.step_num}",
                                                          "user_annotation"))

    def _close_step(self):
        if self._step_range is not None:
            rec, r = self._step_range
            rec.close(r)
            self._step_range = None

    def _install(self):
        global _active
        if _active is not None:
            raise RuntimeError("profile: another profiler is already recording")
        cupy = None
        if ProfilerActivity.CUDA in self.activities:
            from ..backend import gpu_available
            from ..backend.arrays import _load_cupy
            if gpu_available():
                cupy = _load_cupy()
            else:
                warnings.warn("profile: CUDA activity requested but no GPU is available; "
                              "only CPU times are recorded", stacklevel=4)
        rec = self._rec = _Recorder(self.record_shapes, self.profile_memory,
                                    self.with_stack, cupy, self._t0_ns)
        _engine.instrument("profiler", call=_call_layer(rec), backward=_backward_layer(rec))
        if self.with_modules:
            from ..nn.module import Module
            self._module_plain = Module.__dict__["__call__"]
            Module.__call__ = _module_call(rec, self._module_plain)
        _active = rec

    def _uninstall(self):
        global _active
        _engine.instrument("profiler")
        if self._module_plain is not None:
            from ..nn.module import Module
            Module.__call__ = self._module_plain
            self._module_plain = None
        if _active is self._rec:
            _active = None

    def _save(self):
        self._uninstall()
        events = self._rec.events()
        self._rec = None
        self._events = self._events + events if self.acc_events else events
        if self.on_trace_ready is not None:
            self.on_trace_ready(self)

    # -- results --------------------------------------------------------------------------
    def events(self):
        """The recorded ranges (of the last saved window) as an EventList of FunctionEvents."""
        return EventList(self._events, use_device=self._use_device(),
                         profile_memory=self.profile_memory)

    def _use_device(self):
        return any(e.device_range is not None for e in self._events)

    def key_averages(self, group_by_input_shape=False, group_by_stack_n=0,
                     group_by_overload_name=False):
        """Per-op rows (count, totals, averages): an EventList with ``.table()``."""
        return self.events().key_averages(group_by_input_shape, group_by_stack_n,
                                          group_by_overload_name)

    def export_chrome_trace(self, path, use_python_export=False):
        """Write the recorded ranges as Chrome trace JSON to ``path`` (atomically)."""
        meta = {"baseTimeNanoseconds": self._wall0_ns, "deviceProperties": []}
        meta.update(self._metadata)
        write_chrome_trace(self._events, path, meta)

    def add_metadata(self, key, value):
        """Add ``key: value`` (a string) to the top level of exported traces."""
        self._metadata[key] = str(value)

    def add_metadata_json(self, key, value):
        """Add ``key`` with ``value`` (a JSON string) to the top level of exported traces."""
        import json
        self._metadata[key] = json.loads(value)

    def export_stacks(self, path, metric="self_cpu_time_total"):
        """Write ``frame;frame;...;op value`` lines (flame-graph input) for ``with_stack``."""
        if not self.with_stack:
            raise RuntimeError("export_stacks: profile with with_stack=True first")
        lines = []
        for e in self._events:
            if e.stack:
                value = int(getattr(e, metric))
                lines.append(";".join(reversed(e.stack)) + f";{e.name} {value}")
        with open(path, "w") as f:
            f.write("\n".join(lines) + ("\n" if lines else ""))
