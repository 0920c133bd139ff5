"""``narae.compile``: capture a whole training step once as a CUDA graph and replay it.

A training step of a small model on a fast GPU is mostly Python and kernel-launch overhead:
hundreds of launches of microsecond kernels. Captured once (CuPy stream capture) and
replayed as one CUDA graph, the same GPU work runs with one launch and no Python.

    step = narae.compile(train_step)      # or @narae.compile
    for x, y in loader:                   # drop_last=True: one shape, one graph
        loss = step(x, y)                 # a tensor, overwritten by the next call
    print(loss.item())                    # host syncs go outside the compiled function

Every call of ``step`` is exactly one execution of ``train_step``. The first ``warmup``
calls for a given input signature run eagerly (they allocate the parameters' gradients and
the optimizer state, load kernels, and make cuBLAS set up its workspace); the next call
copies its arguments into static input buffers, captures ``train_step`` on them and replays
the graph once; later calls copy and replay.

Rules (what a graph can and cannot hold):
- **Static shapes.** Tensor arguments are copied into buffers fixed at capture; a new shape
  or dtype makes (after its own warm-up calls) a new graph, up to ``max_graphs``.
  Non-tensor arguments are part of the signature: a new value means a new graph.
- **No host synchronisation inside**: ``.item()``, ``.tolist()``, ``.numpy()``, printing a
  tensor, Python branches on tensor values. They raise during capture. Return tensors and
  read them after the call.
- **Random numbers**: dropout masks are drawn on the device inside a graph (a seed fixed at
  capture, a counter advanced on the device), so every replay gets fresh masks — not the
  same masks as an eager run with the same seed. Other host-side draws (``randn``) raise.
- **Python side effects run once, at capture** (appending to lists, counters, schedulers).
  The optimizer's learning rate is the exception: fused optimizers re-read it before every
  replay, so LR schedulers stepped outside the compiled function work.
- **Outputs are static**: the tensors returned are overwritten by the next call; ``clone()``
  what must survive it. Gradients (``p.grad``) likewise live in the graph's memory.
- Optimizers must take the fused (multi-tensor) path, which is the default for CUDA float
  parameters; SGD with momentum needs its first step during warm-up (the default does this).

On the CPU there is no graph to capture: the compiled function runs eagerly at every call,
but its first calls for a signature are checked against the same rules (host syncs and host
randomness raise), so code that compiles on the CPU also captures on the GPU.
"""
import functools

import numpy as np

from .backend import capture, get_array_module
from .backend.arrays import _load_cupy
from .tensor import Tensor

__all__ = ["compile", "CompiledFunction"]


def compile(model=None, *, warmup=3, max_graphs=8, disable=False, **torch_options):
    """Wrap ``model`` (a function or Module) so its GPU work is captured and replayed.

    Mirrors ``torch.compile``'s call forms (``compile(fn)``, ``@compile``,
    ``@compile(warmup=...)``); torch's ``fullgraph``/``dynamic``/``backend``/``mode``/
    ``options`` are accepted and ignored, since there is one backend: CUDA graphs.
    """
    unknown = set(torch_options) - {"fullgraph", "dynamic", "backend", "mode", "options"}
    if unknown:
        raise TypeError(f"narae.compile got unexpected keyword arguments {sorted(unknown)}")
    if warmup < 1:
        raise ValueError(f"narae.compile: warmup must be >= 1, got {warmup}")
    if model is None:
        return lambda fn: compile(fn, warmup=warmup, max_graphs=max_graphs, disable=disable)
    if disable:
        return model
    return CompiledFunction(model, warmup=warmup, max_graphs=max_graphs)


def _flatten(value, out):
    """Tensors in ``value`` (nested tuples/lists/dicts), in a stable order."""
    if isinstance(value, Tensor):
        out.append(value)
    elif isinstance(value, (list, tuple)):
        for v in value:
            _flatten(v, out)
    elif isinstance(value, dict):
        for k in value:
            _flatten(value[k], out)
    return out


def _signature(args, kwargs):
    def sig(v):
        if isinstance(v, Tensor):
            return ("T", tuple(v.shape), v._data.dtype.str, str(v.device), v.requires_grad)
        if isinstance(v, (list, tuple)):
            return (type(v).__name__,) + tuple(sig(x) for x in v)
        if isinstance(v, dict):
            return ("dict",) + tuple((k, sig(v[k])) for k in v)
        return ("V", repr(v))
    return sig(tuple(args)), sig(dict(kwargs))


def _rebuild(value, tensors):
    """``value`` with its tensors replaced, in ``_flatten`` order, from the iterator."""
    if isinstance(value, Tensor):
        return next(tensors)
    if isinstance(value, (list, tuple)):
        return type(value)(_rebuild(v, tensors) for v in value)
    if isinstance(value, dict):
        return {k: _rebuild(value[k], tensors) for k in value}
    return value


class _Graph:
    """One captured signature: static inputs, the CUDA graph, its outputs and memory."""

    def __init__(self, fn, args, kwargs, cp):
        self.cp = cp
        inputs = _flatten((args, kwargs), [])
        self.static_inputs = [Tensor(cp.array(t._data, copy=True), requires_grad=t.requires_grad)
                              for t in inputs]
        s_args, s_kwargs = _rebuild((args, kwargs), iter(self.static_inputs))
        self.pool = cp.cuda.MemoryPool()
        self.stream = cp.cuda.Stream(non_blocking=True)
        # the capture starts with nothing in flight: uploads from pinned buffers queued by
        # eager steps are done before the capture may rewrite those buffers (optimizers'
        # hyper-parameters), which it does without synchronising
        cp.cuda.get_current_stream().synchronize()
        # the counter of in-graph random draws (dropout) starts before, and outside, the graph
        self.rng_offset = cp.zeros(1, cp.int64)
        cap = capture.begin(getattr(fn, "__name__", type(fn).__name__))
        cap.device = "cuda"
        cap.rng_offset = self.rng_offset
        graph = None
        try:
            with cp.cuda.using_allocator(self.pool.malloc), self.stream:
                self.stream.begin_capture(mode=cp.cuda.runtime.streamCaptureModeRelaxed)
                try:
                    self.outputs = fn(*s_args, **s_kwargs)
                finally:
                    graph = self.stream.end_capture()
        except Exception as e:
            raise RuntimeError(
                f"narae.compile: capturing {cap.name} failed ({type(e).__name__}: {e}). "
                "See narae.compile's rules: static shapes, no host syncs, no host random "
                "numbers inside the compiled function.") from e
        finally:
            capture.end()
        self.graph = graph
        self.keep_alive = cap.keep_alive
        self.before_replay = cap.before_replay
        if hasattr(self.graph, "upload"):     # instantiate now, not at the first replay
            self.graph.upload(self.stream)

    def replay(self, args, kwargs):
        current = self.cp.cuda.get_current_stream()
        for static, t in zip(self.static_inputs, _flatten((args, kwargs), [])):
            if t._data is not static._data:
                static._data[...] = t._data if get_array_module(t._data) is self.cp \
                    else self.cp.asarray(t._data)
        for hook in self.before_replay:
            hook()
        self.graph.launch(current)
        return self.outputs


class CompiledFunction:
    """The callable ``narae.compile`` returns (see the module docstring for the rules)."""

    def __init__(self, fn, warmup=3, max_graphs=8):
        self.fn = fn
        self.warmup = warmup
        self.max_graphs = max_graphs
        self.graphs = {}       # signature -> _Graph
        self.calls = {}        # signature -> eager calls so far
        self.on_gpu = {}       # signature -> does the function work on the GPU?
        functools.update_wrapper(self, fn, updated=())

    def __call__(self, *args, **kwargs):
        sig = _signature(args, kwargs)
        graph = self.graphs.get(sig)
        if graph is not None:
            return graph.replay(args, kwargs)
        done = self.calls.get(sig, 0)
        if done < self.warmup or not self.on_gpu.get(sig):
            self.calls[sig] = done + 1
            out = self._checked_call(args, kwargs) if done == 0 else self.fn(*args, **kwargs)
            if done == 0:   # GPU work if an argument or a result lives on the GPU
                tensors = _flatten((args, kwargs, out), [])
                self.on_gpu[sig] = any(get_array_module(t._data) is not np for t in tensors)
            return out
        if len(self.graphs) >= self.max_graphs:
            raise RuntimeError(
                f"narae.compile: {self.max_graphs} graphs captured already, one per input "
                "signature; shapes keep changing (a last partial batch? use drop_last=True), "
                f"new signature: {sig}")
        cp = _load_cupy()
        graph = self.graphs[sig] = _Graph(self.fn, args, kwargs, cp)
        return graph.replay(args, kwargs)

    def _checked_call(self, args, kwargs):
        """Run eagerly under the capture rules (host syncs / host randomness raise)."""
        cap = capture.begin(getattr(self.fn, "__name__", type(self.fn).__name__))
        cap.device = "check"
        try:
            return self.fn(*args, **kwargs)
        finally:
            capture.end()

    def reset(self):
        """Forget captured graphs (e.g. after replacing the optimizer or the model)."""
        self.graphs.clear()
        self.calls.clear()
        self.on_gpu.clear()
