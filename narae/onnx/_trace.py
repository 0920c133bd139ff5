"""Tracing: run the model once and turn every op call into ONNX nodes as it happens.

An instrumentation layer around ``Function.__call__`` (``engine.instrument``) sees each op
with its input and output Tensors. Values are told apart by the identity of their arrays:
an array that came out of a traced op (or is a graph input) has a value name; a parameter's
or buffer's array is an initializer named by its ``state_dict`` key; any other array is a
constant. An op whose inputs are all constants is not exported: its result is a constant
too (constant folding). Comparisons and argmax, which are not Functions, are traced by
wrapping their Tensor methods for the duration of the trace; eval-mode batch norm, several
ops on the CPU and one fused op on the GPU, is wrapped as a whole (``composite_layer``) so
that both export as one node.
"""
import numpy as np

from ._graph import to_numpy
from ._registry import lookup, MAPPERS
from .errors import UnsupportedOperatorError

__all__ = ["Tracer", "Op", "active"]

_active = [None]  # the Tracer of the export in progress


def active():
    """The tracer of the export in progress, or None."""
    return _active[0]


class Op:
    """One traced op call, handed to its mapping: the Function, its inputs and outputs."""

    __slots__ = ("fn", "inputs", "outputs", "tracer", "g", "fn_args", "probe", "used")

    def __init__(self, fn, inputs, outputs, tracer, fn_args=(), probe=None):
        self.fn, self.inputs, self.outputs, self.tracer = fn, inputs, outputs, tracer
        self.g = tracer.g
        self.fn_args = fn_args  # a traced plain function's other arguments
        self.probe = probe      # (output shapes, input shapes) of this call in the probe run
        self.used = set()       # the inputs the mapping put into the graph

    @property
    def kind(self):
        return self.fn if isinstance(self.fn, str) else type(self.fn).__name__

    def x(self, i):
        """The value name of input ``i`` (a node output, an initializer or a graph input)."""
        self.used.add(i)
        return self.tracer.name_of(self.inputs[i])

    def const(self, i):
        """Input ``i``'s value as a NumPy array when it is a constant, else None."""
        t = self.inputs[i]
        return None if self.tracer.is_live(t) else to_numpy(t._data)

    def in_shape(self, i):
        return tuple(self.inputs[i].shape)

    def in_dtype(self, i):
        return np.dtype(self.inputs[i]._data.dtype)

    def out_shape(self, i=0):
        return tuple(self.outputs[i].shape)

    def out_dtype(self, i=0):
        return np.dtype(self.outputs[i]._data.dtype)

    def dynamic_dims(self, i=0):
        """The dims of output ``i`` whose size follows the dynamic input axes (they differed
        in the probe run), or None when there was no probe run."""
        if self.probe is None or i >= len(self.probe[0]):
            return None
        alt = self.probe[0][i]
        shape = self.out_shape(i)
        if len(alt) != len(shape):
            return None
        return {d for d, (a, b) in enumerate(zip(shape, alt)) if a != b}

    def scalar(self, value, i=0):
        """A constant scalar of input ``i``'s dtype."""
        return self.g.const(np.asarray(value, dtype=self.in_dtype(i)))

    def unsupported(self, why=""):
        raise UnsupportedOperatorError(
            f"narae.onnx.export: op {self.kind} in layer '{self.tracer.layer_path()}' "
            f"cannot be exported to ONNX opset {self.g.opset}" + (f": {why}" if why else ""))


class Tracer:
    """Keeps the value names while the model runs; maps each op call to ONNX nodes."""

    def __init__(self, graph, params, export_params=True):
        self.g = graph
        self.params = params          # id(array) -> state_dict key
        self.export_params = export_params
        self.names = {}               # id(array) -> value name (graph inputs, node outputs)
        self.versions = {}            # id(array) -> (version counter, value) when named
        self.consts = {}              # id(array) -> initializer name of a constant
        self.folded = set()           # ids of arrays computed by ops on constants only
        self.param_inputs = []        # (name, array) when export_params=False
        self.keep = []                # arrays whose ids are keys above: never reused
        self.scopes = []
        self.count = 0                # ops exported
        self.calls = 0                # Function calls seen (exported or folded)
        self.probe = None             # output shapes per Function call from the probe run
        self.probe_mismatch = False   # the probe run called other ops than the trace
        self.input_dims = {}          # (traced, probe size) -> (graph input, axis)
        self.muted = 0                # > 0 inside a composite exported as one node

    # -- values ---------------------------------------------------------------------------
    def is_live(self, t):
        k = id(t._data)
        return k in self.names or k in self.params

    def bind(self, t, name):
        self.names[id(t._data)] = name
        self.versions[id(t._data)] = (t._version, t._version[0])
        self.keep.append(t._data)

    def name_of(self, t):
        arr = t._data
        k = id(arr)
        n = self.names.get(k)
        if n is not None:
            seen = self.versions.get(k)
            if seen is not None and seen[0] is t._version and t._version[0] != seen[1]:
                from .errors import OnnxExporterError
                raise OnnxExporterError(
                    f"narae.onnx.export: the tensor of shape {tuple(t.shape)} named {n!r} was "
                    f"modified in place outside narae's ops (in layer '{self.layer_path()}'), "
                    "which the trace cannot see; use the out-of-place form (x = x + 1)")
            return n
        p = self.params.get(k)
        if p is not None:
            self.names[k] = p
            self.keep.append(arr)
            if self.export_params:
                self.g.add_initializer(p, to_numpy(arr, copy=False))
            else:
                self.g._used.add(p)
                self.param_inputs.append((p, arr))
            return p
        n = self.consts.get(k)
        if n is None:
            self.check_traced(t)
            n = self.consts[k] = self.g.const(to_numpy(arr))
            self.keep.append(arr)
        return n

    def check_traced(self, t):
        """A constant that autograd recorded was computed from the inputs or parameters
        without the trace seeing it (an op on raw arrays): freezing it would be wrong."""
        if t._creator is None or id(t._data) in self.folded:
            return
        fn = t._creator
        what = getattr(fn, "_node_name", None) or type(fn).__name__
        from .errors import UnsupportedOperatorError
        raise UnsupportedOperatorError(
            f"narae.onnx.export: a tensor of shape {tuple(t.shape)} used in layer "
            f"'{self.layer_path()}' was computed by {what} from the inputs or parameters on "
            "raw arrays, outside narae's ops: the trace cannot follow it (write it with "
            "narae ops to export it)")

    # -- scopes ---------------------------------------------------------------------------
    def layer_path(self):
        return (self.scopes[-1] if self.scopes else "") or "<model>"

    def push(self, name):
        self.scopes.append(name)
        self.g.scope = "/" + name.replace(".", "/") if name else ""

    def pop(self):
        if self.scopes:
            self.scopes.pop()
        last = self.scopes[-1] if self.scopes else ""
        self.g.scope = "/" + last.replace(".", "/") if last else ""

    # -- ops ------------------------------------------------------------------------------
    def on_call(self, fn, inputs, out, key=None, fn_args=()):
        """Map one op call; ``key`` names a traced plain function (comparisons, argmax)."""
        outs = list(out) if type(out) is tuple else [out]
        probe = None
        if key is None:
            if self.probe is not None and self.calls < len(self.probe):
                probe = self.probe[self.calls]
                if probe[2] is not type(fn):  # other sizes took another path: stop using it
                    self.probe_mismatch = True
                    self.probe, probe = None, None
            self.calls += 1
        if self.muted:  # a step of a composite whose own mapping writes the nodes
            return
        live = [t for t in inputs if self.is_live(t)]
        if not live:
            for t in inputs:
                self.check_traced(t)
            for t in outs:  # constant folding: the outputs stay constants
                self.folded.add(id(t._data))
                self.keep.append(t._data)
            return
        mapper = MAPPERS.get(key) if key is not None else lookup(type(fn))
        op = Op(key if key is not None else fn, inputs, outs, self, fn_args, probe)
        if mapper is None:
            op.unsupported("no ONNX mapping for this op")
        names = mapper(op)
        if probe is not None and len(probe[1]) == len(inputs):
            self._check_constants(fn, [inputs[i] for i in sorted(op.used)],
                                  [probe[1][i] for i in sorted(op.used)], sorted(op.used))
        if isinstance(names, str):
            names = [names]
        for t, n in zip(outs, names):
            if n is not None:
                self.bind(t, n)
        self.count += 1


    def _check_constants(self, fn, inputs, probe_shapes, positions):
        """Warn when a constant input changed size with the dynamic axes in the probe run: it
        was made outside narae's ops (``zeros(batch, ...)``), so the graph keeps its size."""
        for i, t, alt in zip(positions, inputs, probe_shapes):
            if not self.is_live(t) and tuple(t.shape) != alt:
                import warnings
                from .errors import OnnxExporterWarning
                warnings.warn(
                    f"narae.onnx.export: input {i} of op {type(fn).__name__} in layer "
                    f"'{self.layer_path()}' is a constant of shape {tuple(t.shape)} whose size "
                    f"follows the dynamic axes (it became {alt} with other input sizes); it "
                    "was made outside narae's ops, so the exported graph keeps the traced "
                    "size", OnnxExporterWarning, stacklevel=4)


def take_over_layer(orig):
    """``Tensor._take_over`` while tracing: an in-place op outside the graph copies the
    result into the old array, which from then on stands for the result's value."""
    def traced_take_over(self, result):
        out = orig(self, result)
        tr = _active[0]
        if tr is not None and result._data is not self._data and \
                id(result._data) in tr.names:
            tr.bind(self, tr.names[id(result._data)])
        elif tr is not None and id(self._data) in tr.versions:
            tr.versions[id(self._data)] = (self._version, self._version[0])
        return out
    return traced_take_over


def composite_layer(orig, key, tensor_args):
    """Wrap a function made of several narae ops (eval-mode batch norm) so that the trace
    maps it as one op, ``key``: its steps run as always but are not exported one by one.
    ``tensor_args`` tells the Tensor arguments (the op's inputs, None where absent) from the
    others (the mapping's ``fn_args``). Used only when its first argument is a traced value."""
    def traced_composite(*args):
        tr = _active[0]
        if tr is None or tr.muted or not tr.is_live(args[0]):
            return orig(*args)
        tr.muted += 1
        try:
            out = orig(*args)
        finally:
            tr.muted -= 1
        inputs = tuple(a for a, is_t in zip(args, tensor_args) if is_t and a is not None)
        present = tuple(a is not None for a, is_t in zip(args, tensor_args) if is_t)
        others = tuple(a for a, is_t in zip(args, tensor_args) if not is_t)
        tr.on_call(None, inputs, out, key=key, fn_args=(present,) + others)
        return out
    traced_composite.__name__ = getattr(orig, "__name__", key)
    return traced_composite


def probe_layer(shapes):
    """An instrumentation layer that only records each op's output shapes (the probe run)."""
    def wrap(inner):
        def probing_call(self, *inputs):
            out = inner(self, *inputs)
            outs = out if type(out) is tuple else (out,)
            shapes.append(([tuple(t.shape) for t in outs], [tuple(t.shape) for t in inputs],
                           type(self)))
            return out
        return probing_call
    return wrap


def call_layer(inner):
    """The instrumentation layer: run the op, then let the active tracer map it."""
    def traced_call(self, *inputs):
        out = inner(self, *inputs)
        tr = _active[0]
        if tr is not None:
            tr.on_call(self, inputs, out)
        return out
    return traced_call
