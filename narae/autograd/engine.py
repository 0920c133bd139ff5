"""The backward pass: walk the graph from the outputs in reverse topological order.

Nodes are visited by decreasing generation (a heap, never recursion, so deep unrolled
RNNs are fine). Each node's output gradients are summed before its ``backward`` runs once.
"""
import heapq
import weakref

from . import grad_mode
from . import function as _function
from ..backend import get_array_module
from .sparse import SparseGrad

__all__ = ["run_backward", "register_post_accumulate_grad_hook"]

_FREED = ("Trying to backward through the graph a second time (or directly access saved "
          "tensors after they have already been freed). Specify retain_graph=True if you need "
          "to backward through the graph a second time.")


def _fit_to_input(g, x):
    """Undo broadcasting and dtype promotion: the one place where a gradient is fitted to x.

    A real input that met a complex gradient keeps its real part (torch's rule: for a real
    x, dL/dx is the real part of the conjugate Wirtinger gradient flowing back to it).
    """
    if g.shape != x.shape:
        g = _sum_to(g, x.shape)
    if g._data.dtype != x._data.dtype:
        if g._data.dtype.kind == "c" and x._data.dtype.kind != "c":
            g = _real_part(g)
        if g._data.dtype != x._data.dtype:
            g = g.to(x.dtype)
    return g


class Accumulator:
    """Sums the gradients arriving for one tensor; may add in place into buffers it made.

    A buffer the accumulator allocated is referenced by nobody else until it is handed out,
    so adding into it in place is safe; gradients returned by ops may be shared (``Add``
    returns the same gradient for both inputs) and are never modified.
    """

    def __init__(self, create_graph):
        self.create_graph = create_graph
        self.owned = set()  # ids of arrays this accumulator allocated and still holds

    def add(self, prev, g):
        if prev is None:
            return g
        if type(g) is not _Tensor or type(prev) is not _Tensor:
            return self._add_other(prev, g)
        if not self.create_graph and id(prev._data) in self.owned and \
                prev._data.shape == g._data.shape and prev._data.dtype == g._data.dtype:
            prev._data += g._data
            return prev
        total = prev + g
        return self._own(total._data) if not self.create_graph else total

    def _add_other(self, prev, g):
        """Sums involving a SparseGrad, a sparse COO gradient or a Tensor subclass."""
        if type(g) is SparseGrad:
            if type(prev) is SparseGrad:
                buf = prev.dense()
            elif _sparse_add is not None and _sparse_add.is_sparse(prev):
                buf = prev._data.to_dense()
            elif id(prev._data) in self.owned:
                buf = prev._data
            else:
                buf = prev._data.copy()
            g.scatter_into(buf)
            return self._own(buf)
        if type(prev) is SparseGrad:
            return self.add(g, prev)
        if _sparse_add is not None and (_sparse_add.is_sparse(g) or _sparse_add.is_sparse(prev)):
            # sparse + sparse stays sparse (concatenated); sparse + dense is dense
            return _sparse_add(prev, g, self.create_graph)
        if not self.create_graph and id(prev._data) in self.owned and \
                prev._data.shape == g._data.shape and prev._data.dtype == g._data.dtype:
            prev._data += g._data
            return prev
        total = prev + g
        return self._own(total._data) if not self.create_graph else total

    def _own(self, buf):
        self.owned.add(id(buf))
        return _Tensor(buf)

    def release(self, g):
        """Hand a finished gradient out: dense, and no longer ours to modify."""
        if type(g) is SparseGrad:
            return _Tensor(g.dense())
        self.owned.discard(id(g._data))
        return g


class _Leaves:
    """Where leaf gradients go: accumulated into ``.grad``, or captured for autograd.grad."""

    def __init__(self, capture, create_graph):
        self.capture = capture
        self.create_graph = create_graph
        self.assigned = set()  # ids of arrays already stored in some .grad during this pass

    def receive(self, t, g):
        for hook in t._hooks or ():
            r = hook(g)
            if r is not None:
                g = r
        capture = self.capture
        if capture is not None:
            key = id(t)
            if key in capture:
                prev = capture[key]
                capture[key] = g if prev is None else prev + g
            return
        if self.create_graph:
            t.grad = g if t.grad is None else t.grad + g
            return
        if type(g) is not _Tensor and _sparse_add is not None and (
                _sparse_add.is_sparse(g) or _sparse_add.is_sparse(t.grad)):
            # a sparse gradient: kept sparse, summed with a sparse .grad by concatenation
            t.grad = g if t.grad is None else _sparse_add(t.grad, g, False)
            return
        data = g._data
        if id(data) in self.assigned:  # never let two leaves share one gradient array
            data = data.copy()
        if t.grad is None:
            t.grad = _Tensor(data)
        else:
            try:
                t.grad = _Tensor(t.grad._data + data)
            except TypeError:  # (a sparse .grad refuses NumPy's +: the dense sum is ours)
                if _sparse_add is None or not _sparse_add.is_sparse(t.grad):
                    raise
                t.grad = _sparse_add(t.grad, g, False)
        self.assigned.add(id(t.grad._data))


def run_backward(roots, root_grads, retain_graph, create_graph, capture=None):
    """Propagate ``root_grads`` from ``roots`` through the graph.

    Without ``capture`` the gradients of leaf tensors are accumulated into ``.grad``.
    With ``capture`` (a dict ``id(tensor) -> None`` for the tensors passed to
    ``autograd.grad``) those gradients are returned in it instead and no ``.grad`` changes.
    """
    pending = {}          # Function -> list of gradients, one per output
    heap = []
    counter = 0           # tie-breaker: Functions are not orderable
    leaves = _Leaves(capture, create_graph)
    leaf_grads = {}       # id(leaf) -> [leaf, summed gradient]; written once at the end
    acc = Accumulator(create_graph)
    # non-leaf tensors passed to autograd.grad: (id(fn), output index) -> id(tensor)
    wanted = {}
    needed = _nodes_leading_to(roots, capture) if capture is not None else None
    # leaves with post-accumulate hooks (DDP's bucketed all-reduce) get their .grad and run
    # their hooks as soon as their last gradient has arrived, not after the whole walk
    early = _edges_to_hooked_leaves(roots) if _post_hooks and capture is None else None
    prev_mode = grad_mode.state.enabled
    grad_mode.state.enabled = create_graph
    prev_autocast = _function._autocast_hook
    _function._autocast_hook = None  # backward runs in the forward's dtypes, as in torch
    try:
        todo = list(zip(roots, root_grads))
        while True:
            for t, g in todo:
                fn = t._creator
                if fn is None:
                    if t.requires_grad:
                        entry = leaf_grads.get(id(t))
                        if entry is None:
                            leaf_grads[id(t)] = [t, g]
                        else:
                            entry[1] = acc.add(entry[1], g)
                        if early is not None and id(t) in early:
                            _arrived(early, t, leaf_grads, leaves, acc)
                    continue
                if needed is not None and fn not in needed and id(t) not in capture:
                    continue  # autograd.grad: nothing wanted lies behind this node
                slot = pending.get(fn)
                if slot is None:
                    if fn._released:
                        raise RuntimeError(_FREED)
                    slot = pending[fn] = [None] * len(fn._out_meta)
                    counter += 1
                    heapq.heappush(heap, (-fn.generation, counter, fn))
                i = t._out_idx
                slot[i] = acc.add(slot[i], g)
                if capture is not None and id(t) in capture:
                    wanted[id(fn), i] = id(t)
            if not heap:
                break
            fn = heapq.heappop(heap)[2]
            gys = [g if g is None else acc.release(g) for g in pending.pop(fn)]
            if fn._hooks is not None or fn._retain is not None:
                _run_nonleaf_hooks(fn, gys, capture)
            if wanted:
                for i, g in enumerate(gys):
                    key = wanted.get((id(fn), i))
                    if key is not None and g is not None:
                        prev = capture[key]
                        capture[key] = g if prev is None else prev + g
                if fn not in needed:  # popped only to hand over a wanted output's gradient:
                    todo = []         # nothing wanted lies behind it, so leave it intact
                    continue
            if len(gys) > 1 and fn._materialize_grads:
                gys = [g if g is not None else _zeros(shape, dtype, fn)
                       for g, (shape, dtype) in zip(gys, fn._out_meta)]
            if fn._versions is not None or fn._out_versions is not None:
                fn.check_versions()
            if _backward_hook is None:
                gxs = fn.backward(*gys)
            else:  # anomaly detection and/or the profiler (see ``instrument``)
                gxs = _backward_hook(fn, gys)
            inputs = fn.inputs
            if type(gxs) is not tuple:
                gxs = (gxs,)
            if len(gxs) != len(inputs):
                raise RuntimeError(f"{type(fn).__name__}.backward returned {len(gxs)} gradients "
                                   f"for {len(inputs)} inputs")
            if not retain_graph:
                fn.release()
            todo = []
            for x, gx in zip(inputs, gxs):
                if early is not None and gx is None and id(x) in early:
                    _arrived(early, x, leaf_grads, leaves, acc)  # (an edge with no gradient)
                if gx is not None and x.requires_grad:
                    if type(gx) is not SparseGrad and (
                            gx._data.shape != x._data.shape or gx._data.dtype != x._data.dtype):
                        gx = _fit_to_input(gx, x)
                    todo.append((x, gx))
        for t, g in leaf_grads.values():
            leaves.receive(t, acc.release(g))
            if _post_hooks and capture is None:  # empty unless someone registered one
                run_post_accumulate_hooks(t)
    finally:
        grad_mode.state.enabled = prev_mode
        _function._autocast_hook = prev_autocast


def _edges_to_hooked_leaves(roots):
    """id(leaf) -> how many gradients may still reach it (graph edges plus root entries),
    for the leaves that have post-accumulate hooks."""
    counts = {}
    seen = set()
    stack = []
    for t in roots:
        if t._creator is None:
            if id(t) in _post_hooks:
                counts[id(t)] = counts.get(id(t), 0) + 1
        elif t._creator not in seen:
            seen.add(t._creator)
            stack.append(t._creator)
    while stack:
        fn = stack.pop()
        for x in fn.inputs:
            c = x._creator
            if c is None:
                if id(x) in _post_hooks and x.requires_grad:
                    counts[id(x)] = counts.get(id(x), 0) + 1
            elif c not in seen:
                seen.add(c)
                stack.append(c)
    return counts


def _arrived(early, t, leaf_grads, leaves, acc):
    """One of ``t``'s gradients has arrived (or its edge carried none): after the last,
    write ``t.grad`` and run its post-accumulate hooks now."""
    key = id(t)
    early[key] -= 1
    if early[key] == 0:
        del early[key]
        entry = leaf_grads.pop(key, None)
        if entry is not None:
            leaves.receive(t, acc.release(entry[1]))
            run_post_accumulate_hooks(t)


# id(leaf) -> {handle id: hook}; kept outside the Tensor so a tensor without such hooks
# pays nothing, and the leaf loop above pays one truthiness check while it is empty.
_post_hooks = {}
_next_handle = [0]


class _PostAccumulateHandle:
    """What ``register_post_accumulate_grad_hook`` returns: ``remove()`` unregisters."""

    __slots__ = ("_key", "id")

    def __init__(self, key, hid):
        self._key, self.id = key, hid

    def remove(self):
        hooks = _post_hooks.get(self._key)
        if hooks is not None:
            hooks.pop(self.id, None)
            if not hooks:
                del _post_hooks[self._key]

    def __enter__(self):
        return self

    def __exit__(self, *exc):
        self.remove()


def _forget(key):
    _post_hooks.pop(key, None)


def register_post_accumulate_grad_hook(t, hook):
    """Call ``hook(t)`` each time backward has finished accumulating ``t.grad``."""
    key = id(t)
    hooks = _post_hooks.get(key)
    if hooks is None:
        hooks = _post_hooks[key] = {}
        weakref.finalize(t, _forget, key)  # ids are reused once the tensor is gone
    _next_handle[0] += 1
    hooks[_next_handle[0]] = hook
    return _PostAccumulateHandle(key, _next_handle[0])


def run_post_accumulate_hooks(t):
    """Run the post-accumulate-grad hooks of leaf ``t`` (its ``.grad`` is already written)."""
    hooks = _post_hooks.get(id(t))
    if hooks:
        for hook in list(hooks.values()):
            hook(t)


def _nodes_leading_to(roots, capture):
    """The Functions from which some tensor in ``capture`` can be reached backwards.

    autograd.grad visits only these, so asking for d(loss)/d(input) does not also compute
    every weight gradient behind it. Iterative DFS (graphs can be thousands of nodes deep).
    """
    reaches = {}  # Function -> bool
    stack = [(t._creator, False) for t in roots if t._creator is not None]
    while stack:
        fn, expanded = stack.pop()
        if fn in reaches and not expanded:
            continue
        if not expanded:
            if fn._released:  # its inputs are gone: say so rather than "unused"
                raise RuntimeError(_FREED)
            stack.append((fn, True))
            reaches.setdefault(fn, False)
            for x in fn.inputs:
                if x._creator is not None and x._creator not in reaches:
                    stack.append((x._creator, False))
            continue
        hit = False
        for x in fn.inputs:
            if id(x) in capture or (x._creator is not None and reaches.get(x._creator)):
                hit = True
                break
        reaches[fn] = hit
    return {fn for fn, hit in reaches.items() if hit}


def _run_nonleaf_hooks(fn, gys, capture):
    for i, g in enumerate(gys):
        if g is None:
            continue
        for hook in (fn._hooks or {}).get(i, ()):
            r = hook(g)
            if r is not None:
                gys[i] = g = r
        ref = (fn._retain or {}).get(i)
        t = ref() if ref is not None else None
        if t is not None and capture is None:
            t.grad = g.detach() if t.grad is None else t.grad + g.detach()


def _zeros(shape, dtype, fn):
    xp = get_array_module(fn.inputs[0]._data)
    return _Tensor(xp.zeros(shape, dtype))


_Tensor = None
_sum_to = None
# Set by narae.sparse: ``_sparse_add(a, b, create_graph)`` sums two gradients of which one
# at least is sparse COO; ``_sparse_add.is_sparse(t)`` tells a sparse tensor.
_sparse_add = None
_real_part = None  # set by narae.ops.complex (a differentiable ``real``)

# -- instrumentation: modes that watch every op (anomaly detection, the profiler) -------------
# Each mode installs a layer while it is on and removes it after. Layers compose, so several
# modes can be on at once; with none installed, ``Function.__call__`` is the plain one again
# and the backward loop pays its one ``_backward_hook is None`` check per node.
_backward_hook = None  # hook(fn, gys) -> gradients, or None for a plain ``fn.backward(*gys)``
_plain_call = _function.Function.__dict__["__call__"]
_call_layers = {}      # name -> wrap(call) -> call, applied in installation order
_backward_layers = {}  # name -> hook(fn, gys, inner) where inner(fn, gys) runs the rest


def _plain_backward(fn, gys):
    return fn.backward(*gys)


def _chain(hook, inner):
    def layered(fn, gys):
        return hook(fn, gys, inner)
    return layered


def instrument(name, call=None, backward=None):
    """Install the instrumentation layer ``name`` (or remove it when both are None).

    ``call(inner)`` returns a replacement for ``Function.__call__`` that calls ``inner``;
    ``backward(fn, gys, inner)`` runs one node's backward through ``inner(fn, gys)``.
    Reinstalling a name replaces its layer; the composition is rebuilt each time.
    """
    global _backward_hook
    _call_layers.pop(name, None)
    _backward_layers.pop(name, None)
    if call is not None:
        _call_layers[name] = call
    if backward is not None:
        _backward_layers[name] = backward
    c = _plain_call
    for wrap in _call_layers.values():
        c = wrap(c)
    _function.Function.__call__ = c
    hook = None
    for layer in _backward_layers.values():
        hook = _chain(layer, hook or _plain_backward)
    _backward_hook = hook


def is_instrumented(name):
    """Whether the layer ``name`` is installed."""
    return name in _call_layers or name in _backward_layers
