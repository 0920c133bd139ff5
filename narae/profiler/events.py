"""What a profile produces: one ``FunctionEvent`` per timed range, their per-name averages,
and the text table and Chrome trace made from them.

Times are in microseconds (floats), memory in bytes, as in torch.profiler.
"""
import gzip
import json
import os
import tempfile

__all__ = ["FunctionEvent", "FunctionEventAvg", "EventList", "Interval"]


class Interval:
    """A time range in microseconds."""

    __slots__ = ("start", "end")

    def __init__(self, start, end):
        self.start, self.end = start, end

    def elapsed_us(self):
        return self.end - self.start

    def __repr__(self):
        return f"Interval(start={self.start:.3f}, end={self.end:.3f})"


class FunctionEvent:
    """One timed range: an op's forward, a node's backward, or a user ``record_function``.

    ``self_*`` values exclude the ranges nested inside this one.
    """

    __slots__ = ("id", "name", "cat", "thread", "time_range", "self_cpu_time_total",
                 "device_time_total", "self_device_time_total", "input_shapes", "stack",
                 "cpu_memory_usage", "self_cpu_memory_usage", "cpu_parent", "cpu_children",
                 "device_range")

    def __init__(self, id, name, cat, thread, start_us, end_us, self_cpu_time_total,
                 input_shapes=None, stack=None, cpu_memory_usage=0, self_cpu_memory_usage=0):
        self.id, self.name, self.cat, self.thread = id, name, cat, thread
        self.time_range = Interval(start_us, end_us)
        self.self_cpu_time_total = self_cpu_time_total
        self.device_time_total = 0.0
        self.self_device_time_total = 0.0
        self.device_range = None  # Interval on the device clock, with the CUDA activity
        self.input_shapes = input_shapes if input_shapes is not None else []
        self.stack = stack if stack is not None else []
        self.cpu_memory_usage = cpu_memory_usage
        self.self_cpu_memory_usage = self_cpu_memory_usage
        self.cpu_parent = None
        self.cpu_children = []

    key = property(lambda self: self.name)
    cpu_time_total = property(lambda self: self.time_range.elapsed_us())
    cuda_time_total = property(lambda self: self.device_time_total)
    self_cuda_time_total = property(lambda self: self.self_device_time_total)
    count = property(lambda self: 1)
    is_user_annotation = property(lambda self: self.cat == "user_annotation")

    def __repr__(self):
        return (f"<FunctionEvent id={self.id} name={self.name!r} "
                f"cpu_time_total={self.cpu_time_total:.3f}us "
                f"self_cpu_time_total={self.self_cpu_time_total:.3f}us "
                f"input_shapes={self.input_shapes}>")


class FunctionEventAvg:
    """The events of one key summed: ``count`` calls, their totals, and the averages."""

    def __init__(self, key, input_shapes=None, stack=None):
        self.key = key
        self.count = 0
        self.cpu_time_total = 0.0
        self.self_cpu_time_total = 0.0
        self.device_time_total = 0.0
        self.self_device_time_total = 0.0
        self.cpu_memory_usage = 0
        self.self_cpu_memory_usage = 0
        self.input_shapes = input_shapes
        self.stack = stack
        self.is_user_annotation = False
        self.flops = 0

    def add(self, e):
        """Fold event (or average) ``e`` into this row."""
        if self.count == 0:
            if self.input_shapes is None:
                self.input_shapes = e.input_shapes
            if self.stack is None:
                self.stack = e.stack
            self.is_user_annotation = e.is_user_annotation
        self.count += e.count
        self.cpu_time_total += e.cpu_time_total
        self.self_cpu_time_total += e.self_cpu_time_total
        self.device_time_total += e.device_time_total
        self.self_device_time_total += e.self_device_time_total
        self.cpu_memory_usage += e.cpu_memory_usage
        self.self_cpu_memory_usage += e.self_cpu_memory_usage
        return self

    __iadd__ = add

    cpu_time = property(lambda self: self.cpu_time_total / max(self.count, 1))
    self_cpu_time = property(lambda self: self.self_cpu_time_total / max(self.count, 1))
    device_time = property(lambda self: self.device_time_total / max(self.count, 1))
    cuda_time = device_time
    cuda_time_total = property(lambda self: self.device_time_total)
    self_cuda_time_total = property(lambda self: self.self_device_time_total)

    def __repr__(self):
        return (f"<FunctionEventAvg key={self.key!r} count={self.count} "
                f"cpu_time_total={self.cpu_time_total:.3f}us "
                f"self_cpu_time_total={self.self_cpu_time_total:.3f}us "
                f"input_shapes={self.input_shapes} "
                f"cpu_memory_usage={self.cpu_memory_usage}>")


_SORT_KEYS = ("cpu_time", "cpu_time_total", "self_cpu_time_total", "device_time",
              "device_time_total", "self_device_time_total", "cuda_time", "cuda_time_total",
              "self_cuda_time_total", "cpu_memory_usage", "self_cpu_memory_usage", "count")


class EventList(list):
    """A list of events (or of averages) that can print itself as a table."""

    def __init__(self, events=(), *, use_device=False, profile_memory=False,
                 with_shapes=False, with_stack=False):
        super().__init__(events)
        self._use_device = use_device
        self._profile_memory = profile_memory
        self._with_shapes = with_shapes
        self._with_stack = with_stack

    def _like(self, rows, **kw):
        opts = dict(use_device=self._use_device, profile_memory=self._profile_memory,
                    with_shapes=self._with_shapes, with_stack=self._with_stack)
        opts.update(kw)
        return EventList(rows, **opts)

    @property
    def self_cpu_time_total(self):
        """The sum of self CPU times: the wall time spent in the profiled ranges."""
        return sum(e.self_cpu_time_total for e in self)

    def key_averages(self, group_by_input_shape=False, group_by_stack_n=0,
                     group_by_overload_name=False):
        """One ``FunctionEventAvg`` per name (and input shapes / top stack frames if asked)."""
        rows = {}
        for e in self:
            key = e.key
            if group_by_input_shape:
                key = (key, str(e.input_shapes))
            if group_by_stack_n > 0:
                key = (key, tuple(e.stack[:group_by_stack_n]))
            row = rows.get(key)
            if row is None:
                row = rows[key] = FunctionEventAvg(e.key)
                if group_by_stack_n > 0:
                    row.stack = list(e.stack[:group_by_stack_n])
            row.add(e)
        return self._like(rows.values(), with_shapes=group_by_input_shape,
                          with_stack=group_by_stack_n > 0)

    def total_average(self):
        """All events folded into one row named ``Total``."""
        total = FunctionEventAvg("Total")
        for e in self:
            total.add(e)
        total.input_shapes, total.stack = [], []
        return total

    def table(self, sort_by=None, row_limit=100, max_src_column_width=75,
              max_name_column_width=55, max_shapes_column_width=80, header=None,
              top_level_events_only=False, time_unit=None):
        """A text table of the rows, sorted (descending) by the attribute ``sort_by``."""
        rows = list(self)
        if top_level_events_only:
            rows = [e for e in rows if getattr(e, "cpu_parent", None) is None]
        if sort_by is not None:
            if sort_by not in _SORT_KEYS:
                raise ValueError(f"table: unknown sort_by {sort_by!r}; expected one of "
                                 f"{', '.join(_SORT_KEYS)}")
            rows.sort(key=lambda e: getattr(e, sort_by), reverse=True)
        if row_limit is not None and row_limit >= 0:
            rows = rows[:row_limit]
        return _table(self, rows, header, time_unit, max_name_column_width,
                      max_shapes_column_width, max_src_column_width)

    def __str__(self):
        return self.table()

    def export_chrome_trace(self, path):
        """Write these events as Chrome trace JSON (chrome://tracing, Perfetto) to ``path``."""
        write_chrome_trace(self, path)


# -- the table --------------------------------------------------------------------------------
def _fmt_time(us, unit=None):
    if unit is None:
        unit = "s" if us >= 1e6 else "ms" if us >= 1e3 else "us"
    scale = {"s": 1e6, "ms": 1e3, "us": 1.0}.get(unit)
    if scale is None:
        raise ValueError(f"table: unknown time_unit {unit!r}; expected 's', 'ms' or 'us'")
    return f"{us / scale:.3f}{unit}"


def _fmt_memory(nbytes):
    for size, unit in ((1 << 30, "Gb"), (1 << 20, "Mb"), (1 << 10, "Kb")):
        if abs(nbytes) >= size:
            return f"{nbytes / size:.2f} {unit}"
    return f"{int(nbytes)} b"


def _fmt_pct(part, total):
    return f"{100.0 * part / total:.2f}%" if total else "0.00%"


def _clip(text, width):
    return text if len(text) <= width else text[:width - 3] + "..."


def _table(all_rows, rows, header, unit, name_w, shapes_w, src_w):
    self_cpu = sum(e.self_cpu_time_total for e in all_rows)
    self_dev = sum(e.self_device_time_total for e in all_rows)
    use_dev = all_rows._use_device
    cols = [("Name", lambda e: _clip(e.key, name_w), "<"),
            ("Self CPU %", lambda e: _fmt_pct(e.self_cpu_time_total, self_cpu), ">"),
            ("Self CPU", lambda e: _fmt_time(e.self_cpu_time_total, unit), ">"),
            ("CPU total %", lambda e: _fmt_pct(e.cpu_time_total, self_cpu), ">"),
            ("CPU total", lambda e: _fmt_time(e.cpu_time_total, unit), ">"),
            ("CPU time avg", lambda e: _fmt_time(e.cpu_time_total / max(e.count, 1), unit),
             ">")]
    if use_dev:
        cols += [("Self CUDA", lambda e: _fmt_time(e.self_device_time_total, unit), ">"),
                 ("Self CUDA %", lambda e: _fmt_pct(e.self_device_time_total, self_dev), ">"),
                 ("CUDA total", lambda e: _fmt_time(e.device_time_total, unit), ">"),
                 ("CUDA time avg",
                  lambda e: _fmt_time(e.device_time_total / max(e.count, 1), unit), ">")]
    if all_rows._profile_memory:
        cols += [("CPU Mem", lambda e: _fmt_memory(e.cpu_memory_usage), ">"),
                 ("Self CPU Mem", lambda e: _fmt_memory(e.self_cpu_memory_usage), ">")]
    cols.append(("# of Calls", lambda e: str(e.count), ">"))
    if all_rows._with_shapes:
        cols.append(("Input Shapes", lambda e: _clip(str(e.input_shapes), shapes_w), "<"))
    if all_rows._with_stack:
        cols.append(("Source Location",
                     lambda e: _clip(e.stack[0] if e.stack else "", src_w), "<"))
    cells = [[fmt(e) for _, fmt, _ in cols] for e in rows]
    widths = [max([len(name)] + [len(r[i]) for r in cells]) for i, (name, _, _) in
              enumerate(cols)]

    def line(values):
        return "  ".join(f"{v:{align}{w}}" for v, w, (_, _, align) in
                         zip(values, widths, cols)).rstrip()

    rule = "  ".join("-" * w for w in widths)
    out = []
    if header is not None:
        out += ["=" * len(rule), header]
    out += [rule, line([name for name, _, _ in cols]), rule]
    out += [line(r) for r in cells]
    out += [rule, f"Self CPU time total: {_fmt_time(self_cpu, unit)}"]
    if use_dev:
        out.append(f"Self CUDA time total: {_fmt_time(self_dev, unit)}")
    return "\n".join(out) + "\n"


# -- the Chrome trace -------------------------------------------------------------------------
def chrome_trace(events, meta=None):
    """The Chrome trace (``{"traceEvents": [...]}``) of raw events: complete ("X") events."""
    pid = os.getpid()
    trace = []
    for e in events:
        args = {}
        if e.input_shapes:
            args["Input Dims"] = e.input_shapes
        if e.cpu_memory_usage:
            args["Memory"] = e.cpu_memory_usage
        if e.stack:
            args["Call stack"] = ";".join(e.stack)
        trace.append({"ph": "X", "cat": e.cat, "name": e.name, "pid": pid, "tid": e.thread,
                      "ts": e.time_range.start, "dur": e.time_range.elapsed_us(),
                      "args": args})
        if e.device_range is not None:
            trace.append({"ph": "X", "cat": "gpu_range", "name": e.name, "pid": "GPU",
                          "tid": "stream", "ts": e.device_range.start,
                          "dur": e.device_range.elapsed_us(), "args": {}})
    trace.append({"ph": "M", "name": "process_name", "pid": pid, "tid": 0,
                  "args": {"name": "python (narae)"}})
    out = {"schemaVersion": 1, "displayTimeUnit": "ms", "traceEvents": trace}
    if meta:
        out.update(meta)
    return out


def write_chrome_trace(events, path, meta=None):
    """Write the Chrome trace of ``events`` to ``path`` atomically (gzip if it ends in .gz)."""
    path = os.fspath(path)
    text = json.dumps(chrome_trace(events, meta)).encode()
    if path.endswith(".gz"):
        text = gzip.compress(text)
    folder = os.path.dirname(os.path.abspath(path))
    fd, tmp = tempfile.mkstemp(dir=folder, prefix=".tmp-", suffix=".trace")
    try:
        with os.fdopen(fd, "wb") as f:
            f.write(text)
        os.replace(tmp, path)  # readers never see half a file
    except BaseException:
        if os.path.exists(tmp):
            os.remove(tmp)
        raise
