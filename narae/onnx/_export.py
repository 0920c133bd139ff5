"""``export``: trace a model once and write the ONNX file (torch.onnx.export's contract)."""
import enum
import inspect
import os

import numpy as np

from ..autograd import engine, grad_mode
from ..autograd.function import Function
from ..backend import get_array_module
from ..ops import norm as _norm
from ..tensor import Tensor
from . import _trace
from ._graph import Graph
from ._dtypes import onnx_type
from .errors import OnnxExporterError, OnnxExporterWarning
from . import _map_elementwise, _map_shape, _map_nn, _map_extra

_MAPPINGS = (_map_elementwise, _map_shape, _map_nn, _map_extra)  # (they fill the registry)

__all__ = ["export", "is_in_onnx_export", "select_model_mode_for_export", "TrainingMode",
           "OperatorExportTypes", "DEFAULT_OPSET", "MIN_OPSET", "MAX_OPSET", "producer_name",
           "producer_version"]

producer_name = "narae"

DEFAULT_OPSET = 17  # torch's default for the TorchScript exporter
_PROTOBUF_LIMIT = 2 ** 31 - 2 ** 26  # weights above this are saved as external data
MIN_OPSET, MAX_OPSET = 13, 21


class TrainingMode(enum.IntEnum):
    """Which mode the model is exported in (torch.onnx.TrainingMode)."""
    EVAL = 0
    PRESERVE = 1
    TRAINING = 2


class OperatorExportTypes(enum.IntEnum):
    """Only plain ONNX operators are written (torch.onnx.OperatorExportTypes)."""
    ONNX = 0
    ONNX_ATEN = 1
    ONNX_ATEN_FALLBACK = 2
    ONNX_FALLTHROUGH = 3


def _version():
    from .. import __version__
    return __version__


producer_version = _version()
_exporting = [False]


def is_in_onnx_export():
    """True while ``export`` runs the model (its probe run and its traced run)."""
    return _exporting[0]


def _require_onnx():
    try:
        import onnx
    except ImportError:
        raise ImportError("narae.onnx.export needs the onnx package: pip install onnx "
                          "(or pip install 'narae[onnx]', which also installs onnxruntime)"
                          ) from None
    return onnx


# --- inputs and outputs --------------------------------------------------------------------
def _arg_names(model):
    fwd = getattr(model, "forward", model)
    try:
        params = list(inspect.signature(fwd).parameters.values())
    except (TypeError, ValueError):
        return []
    return [p.name for p in params if p.kind in (p.POSITIONAL_ONLY, p.POSITIONAL_OR_KEYWORD)]


class _GraphInput(Function):
    """Identity on the same array: makes a graph input a non-leaf, so in-place ops on it go
    through the graph (as on any activation) instead of failing on a leaf."""
    uses_inputs = False

    def forward(self, x):
        return x

    def backward(self, gy):
        return gy


def _input_tensor(arr, floating):
    """A graph input over ``arr``: floating ones record gradients, through a non-leaf."""
    t = Tensor(arr, requires_grad=floating)
    if floating:
        with grad_mode.enable_grad():
            t = _GraphInput()(t)
    return t


def _prepare_inputs(value, base, found, names):
    """A copy of ``value`` whose Tensors are fresh graph-input Tensors; ``found`` receives
    (name, array, tensor) for each."""
    if isinstance(value, Tensor):
        arr = value._data
        if any(a is arr for _, a, _ in found):  # the same array twice: two inputs
            arr = arr.copy()
        t = _input_tensor(arr, value.is_floating_point())
        found.append((names.pop(0) if names else base, arr, t))
        return t
    if isinstance(value, (tuple, list)):
        items = [_prepare_inputs(v, f"{base}.{i}", found, names) for i, v in enumerate(value)]
        return type(value)(items) if not hasattr(value, "_fields") else type(value)(*items)
    if isinstance(value, dict):
        return {k: _prepare_inputs(v, f"{base}.{k}", found, names) for k, v in value.items()}
    return value


def _grown(value, axes_of, found_iter):
    """A copy of the prepared inputs with each dynamic axis longer (its first entries
    repeated at the end, so indices stay valid): the probe run's inputs."""
    if isinstance(value, Tensor):
        name, arr, _ = next(found_iter)
        for ax, grow in sorted(axes_of.get(name, {}).items()):
            n = arr.shape[ax]
            if n == 0:
                continue
            xp = get_array_module(arr)
            arr = xp.take(arr, xp.asarray([i % n for i in range(n + grow)]), axis=ax)
        return _input_tensor(arr, value.is_floating_point())
    if isinstance(value, (tuple, list)):
        items = [_grown(v, axes_of, found_iter) for v in value]
        return type(value)(items) if not hasattr(value, "_fields") else type(value)(*items)
    if isinstance(value, dict):
        return {k: _grown(v, axes_of, found_iter) for k, v in value.items()}
    return value


def _probe_shapes(model, call_args, call_kwargs, found, dynamic_axes):
    """Run the model once more with the dynamic input axes grown and record each op's shapes:
    comparing them with the traced ones tells which sizes are dynamic. Each dynamic size (a
    dim_param name) grows by its own amount, so a size met later can be traced back to the
    input axis it comes from: returns (shapes, {(traced, probe size): (input, axis)})."""
    axes_of = {}
    growth = {}  # one growth per dynamic size: axes of the same name grow alike
    input_dims = {}
    for name, arr, _ in found:
        spec = (dynamic_axes or {}).get(name)
        for d in _dynamic_dims(dynamic_axes, name):
            axis = d % arr.ndim
            key = spec[d] if isinstance(spec, dict) else ("axis", axis)
            grow = growth.setdefault(key, len(growth) + 1)
            axes_of.setdefault(name, {})[axis] = grow
            input_dims.setdefault((arr.shape[axis], arr.shape[axis] + grow), (name, axis))
    if not axes_of:
        return None, {}
    it = iter(found)
    args = [_grown(a, axes_of, it) for a in call_args]
    kwargs = {k: _grown(v, axes_of, it) for k, v in call_kwargs.items()}
    shapes = []
    # a training-mode export must not update running statistics twice
    buffers = [(b, b._data.copy()) for _, b in model.named_buffers()] \
        if hasattr(model, "named_buffers") else []
    engine.instrument("onnx_probe", call=_trace.probe_layer(shapes))
    try:
        with grad_mode.enable_grad():
            model(*args, **kwargs)
    except Exception as e:  # the model refuses other sizes: export the traced ones
        import warnings
        warnings.warn(f"narae.onnx.export: the model failed on inputs whose dynamic axes had "
                      f"other sizes ({type(e).__name__}: {e}); reshapes keep their traced "
                      "sizes", OnnxExporterWarning, stacklevel=3)
        return None, {}
    finally:
        engine.instrument("onnx_probe")
        for b, saved in buffers:
            b._data[...] = saved
    return shapes, input_dims


def _flatten(value, out):
    if isinstance(value, Tensor):
        out.append(value)
    elif isinstance(value, (tuple, list)):
        for v in value:
            _flatten(v, out)
    elif isinstance(value, dict):
        for v in value.values():
            _flatten(v, out)
    return out


# --- tracing the plain (non-Function) ops --------------------------------------------------
_TRACED_METHODS = {
    "__eq__": "cmp_eq", "eq": "cmp_eq", "__ne__": "cmp_ne", "ne": "cmp_ne",
    "__lt__": "cmp_lt", "lt": "cmp_lt", "__le__": "cmp_le", "le": "cmp_le",
    "__gt__": "cmp_gt", "gt": "cmp_gt", "__ge__": "cmp_ge", "ge": "cmp_ge",
    "greater": "cmp_gt", "less": "cmp_lt", "greater_equal": "cmp_ge", "less_equal": "cmp_le",
    "not_equal": "cmp_ne", "logical_and": "cmp_logical_and", "logical_or": "cmp_logical_or",
    "logical_xor": "cmp_logical_xor", "logical_not": "logical_not",
    "__and__": "cmp_logical_and", "__or__": "cmp_logical_or", "__invert__": "logical_not",
    "argmax": "argmax", "argmin": "argmin",
}


def _traced_plain(orig, key):
    def wrapped(self, *args, **kwargs):
        out = orig(self, *args, **kwargs)
        tr = _trace.active()
        if tr is None or not isinstance(out, Tensor) or not isinstance(self, Tensor):
            return out
        if key.startswith("cmp_"):
            other = args[0] if args else kwargs.get("other")
            if not isinstance(other, Tensor):
                other = Tensor(np.asarray(other, dtype=np.result_type(self._data.dtype, other)))
            if key.startswith("cmp_logical") and tr.is_live(self) and \
                    (self._data.dtype != np.bool_ or other._data.dtype != np.bool_) and \
                    not orig.__name__.startswith("logical"):
                _trace.Op(key, (self,), [out], tr).unsupported("bitwise ops on integers")
            tr.on_call(None, (self, other), out, key=key)
        elif key == "logical_not":
            tr.on_call(None, (self,), out, key=key)
        else:
            dim = args[0] if args else kwargs.get("dim")
            keepdim = args[1] if len(args) > 1 else kwargs.get("keepdim", False)
            tr.on_call(None, (self,), out, key=key, fn_args=(dim, keepdim))
        return out
    wrapped.__name__ = getattr(orig, "__name__", key)
    return wrapped


def _patch_plain_ops():
    """Wrap the comparison and argmax methods (and narae's functions of the same names)."""
    import narae
    undo = []
    for owner in (Tensor, narae):
        for name, key in _TRACED_METHODS.items():
            orig = owner.__dict__.get(name) if owner is Tensor else getattr(owner, name, None)
            if orig is None or not callable(orig):
                continue
            undo.append((owner, name, orig))
            setattr(owner, name, _traced_plain(orig, key))
    orig = Tensor.__dict__["_take_over"]
    undo.append((Tensor, "_take_over", orig))
    Tensor._take_over = _trace.take_over_layer(orig)
    # eval-mode batch norm, a scale and shift over several ops (one fused op on the GPU
    # kernels): one BatchNormalization node with the running statistics as its inputs
    orig = _norm._affine_eval
    undo.append((_norm, "_affine_eval", orig))
    _norm._affine_eval = _trace.composite_layer(
        orig, "batch_norm_eval", (True, True, True, True, True, False))
    return undo


# --- the module path of each op ------------------------------------------------------------
def _scope_hooks(model, tracer):
    handles = []
    if not hasattr(model, "named_modules"):
        return handles
    for name, mod in model.named_modules():
        def pre(m, args, _name=name):
            tracer.push(_name)

        def post(m, args, out):
            tracer.pop()
        handles.append(mod.register_forward_pre_hook(pre))
        handles.append(mod.register_forward_hook(post))
    return handles


class select_model_mode_for_export:
    """Context manager: the model in ``mode``'s training flag inside, restored after."""

    def __init__(self, model, mode):
        self.model, self.mode = model, mode
        self.saved = []

    def __enter__(self):
        self.saved = _set_mode(self.model, self.mode)

    def __exit__(self, *exc):
        for m, mode in self.saved:
            m.training = mode
        return False


def _set_mode(model, training):
    """Put the model in the export mode; returns how to restore each module's flag."""
    if not hasattr(model, "modules"):
        return []
    saved = [(m, m.training) for m in model.modules()]
    if training == TrainingMode.EVAL:
        model.train(False)
    elif training == TrainingMode.TRAINING:
        model.train(True)
    return saved


# --- the writer ------------------------------------------------------------------------------
def _rename(nodes, old, new):
    for n in nodes:
        n[1] = [new if v == old else v for v in n[1]]
        n[2] = [new if v == old else v for v in n[2]]


def _prune(g, outputs):
    """Drop nodes that no graph output depends on, and initializers nobody reads."""
    needed = set(outputs)
    keep = []
    for n in reversed(g.nodes):
        if any(o in needed for o in n[2]):
            keep.append(n)
            needed.update(v for v in n[1] if v)
    g.nodes = keep[::-1]
    for name in list(g.initializers):
        if name not in needed:
            del g.initializers[name]
    return needed


def _ir_version(onnx, opset):
    best = None
    for row in onnx.helper.VERSION_TABLE:
        if row[2] >= opset and (best is None or row[1] < best):
            best = row[1]
    return best or onnx.IR_VERSION


def _dynamic_dims(dynamic_axes, name):
    spec = (dynamic_axes or {}).get(name)
    if spec is None:
        return {}
    if isinstance(spec, dict):
        return {int(k): str(v) for k, v in spec.items()}
    return {int(k): f"{name}_dynamic_axes_{i + 1}" for i, k in enumerate(spec)}


def _value_info(onnx, name, dtype, shape, dims):
    shape = [dims.get(i, dims.get(i - len(shape), n)) for i, n in enumerate(shape)]
    return onnx.helper.make_tensor_value_info(name, onnx_type(dtype), shape)


def _verify(model_proto, found, outputs, out_names, rtol=1e-3, atol=1e-5):
    """``verify=True``: run the graph in onnxruntime on the example inputs and compare."""
    try:
        import onnxruntime as ort
    except ImportError:
        raise ImportError("narae.onnx.export(verify=True) needs onnxruntime: pip install "
                          "onnxruntime") from None
    if model_proto.ByteSize() > _PROTOBUF_LIMIT:
        return
    from ._graph import to_numpy
    sess = ort.InferenceSession(model_proto.SerializeToString(),
                                providers=["CPUExecutionProvider"])
    feed_names = {i.name for i in sess.get_inputs()}
    feeds = {name: to_numpy(arr) for name, arr, _ in found if name in feed_names}
    for name, got, t in zip(out_names, sess.run(out_names, feeds), outputs):
        want = to_numpy(t._data)
        if got.shape != want.shape or not np.allclose(got, want, rtol=rtol, atol=atol,
                                                      equal_nan=True):
            diff = float(np.max(np.abs(got - want))) if got.shape == want.shape else None
            raise OnnxExporterError(
                f"narae.onnx.export(verify=True): output {name!r} differs between "
                f"onnxruntime and narae (shapes {got.shape} and {want.shape}, max |difference| "
                f"{diff})")


def _check_names(kind, names, count):
    if names is None:
        return
    if len(names) > count:
        raise ValueError(f"narae.onnx.export: {len(names)} {kind} names given for {count} "
                         f"{kind}s: {list(names)}")
    if len(set(names)) != len(names):
        raise ValueError(f"narae.onnx.export: {kind} names must be unique, got {list(names)}")


def export(model, args=(), f=None, *, kwargs=None, verbose=None, input_names=None,
           output_names=None, opset_version=None, dynamo=True, external_data=True,
           dynamic_shapes=None, custom_translation_table=None, report=False, optimize=True,
           verify=False, profile=False, dump_exported_program=False, artifacts_dir=".",
           export_params=True, keep_initializers_as_inputs=False, dynamic_axes=None,
           training=TrainingMode.EVAL, operator_export_type=OperatorExportTypes.ONNX,
           do_constant_folding=True, custom_opsets=None, export_modules_as_functions=False,
           autograd_inlining=True):
    """Export ``model`` to ONNX by tracing one call ``model(*args, **kwargs)``.

    Every op the call runs becomes ONNX nodes; Python control flow is unrolled as it went
    for these inputs (as torch's tracer does). Parameters and buffers become initializers
    named by their ``state_dict`` keys, other constants anonymous initializers (ops on
    constants only are folded). ``f`` is a path or a binary file object; without ``f`` the
    ``onnx.ModelProto`` is returned. With ``dynamic_axes`` the model first runs once more on
    inputs whose dynamic axes are longer, which tells every reshape which of its sizes
    follow them. ``verify=True`` runs the graph in onnxruntime and compares. narae has one
    exporter, the tracer: ``dynamo`` and the other dynamo-only options are accepted and
    ignored (torch's ``dynamo=False`` behaviour); ``dynamic_shapes`` given as
    ``{input name: {axis: name}}`` is read as ``dynamic_axes``.

    >>> narae.onnx.export(model, (x,), "model.onnx", input_names=["x"],
    ...                   output_names=["y"], dynamic_axes={"x": {0: "batch"}, "y": {0: "batch"}})
    """
    onnx = _require_onnx()
    opset = DEFAULT_OPSET if opset_version is None else int(opset_version)
    if not MIN_OPSET <= opset <= MAX_OPSET:
        raise ValueError(f"narae.onnx.export: opset_version {opset_version} is not supported "
                         f"(narae exports opsets {MIN_OPSET} to {MAX_OPSET})")
    if operator_export_type not in (OperatorExportTypes.ONNX, 0):
        raise ValueError("narae.onnx.export: only operator_export_type=OperatorExportTypes.ONNX "
                         "is supported")
    if custom_opsets:
        raise ValueError("narae.onnx.export: custom_opsets is not supported")
    if custom_translation_table:
        raise ValueError("narae.onnx.export: custom_translation_table (a dynamo exporter "
                         "option) is not supported")
    if _exporting[0]:
        raise OnnxExporterError("narae.onnx.export: an export is already in progress")
    if isinstance(dynamic_shapes, dict):
        dynamic_axes = dict(dynamic_axes or {})
        for k, v in dynamic_shapes.items():
            if v is not None:
                dynamic_axes.setdefault(k, v)
    if isinstance(args, Tensor):
        args = (args,)
    elif not isinstance(args, tuple):
        args = tuple(args) if isinstance(args, list) else (args,)
    if kwargs is None and args and isinstance(args[-1], dict):
        args, kwargs = args[:-1], args[-1]  # torch's convention: a trailing dict is kwargs
    kwargs = dict(kwargs or {})

    g = Graph(opset)
    params = {}
    if hasattr(model, "named_parameters"):
        for name, p in list(model.named_parameters()) + list(model.named_buffers()):
            if p is not None:
                params.setdefault(id(p._data), name)
    tracer = _trace.Tracer(g, params, export_params)

    found = []
    names = list(input_names or [])
    arg_names = _arg_names(model)
    call_args = [_prepare_inputs(a, arg_names[i] if i < len(arg_names) else f"input_{i}",
                                 found, names) for i, a in enumerate(args)]
    call_kwargs = {k: _prepare_inputs(v, k, found, names) for k, v in kwargs.items()}
    _check_names("input", input_names, len(found))
    for name, _, t in found:
        g._used.add(name)
        tracer.bind(t, name)

    saved_modes = _set_mode(model, training)
    undo = []
    handles = []
    _exporting[0] = True
    try:
        tracer.probe, tracer.input_dims = _probe_shapes(model, call_args, call_kwargs, found,
                                                        dynamic_axes)
        handles = _scope_hooks(model, tracer)
        _trace._active[0] = tracer
        engine.instrument("onnx_trace", call=_trace.call_layer)
        undo = _patch_plain_ops()
        with grad_mode.enable_grad():
            result = model(*call_args, **call_kwargs)
    finally:
        _exporting[0] = False
        _trace._active[0] = None
        engine.instrument("onnx_trace")
        for owner, name, orig in reversed(undo):
            setattr(owner, name, orig)
        for h in handles:
            h.remove()
        for m, mode in saved_modes:
            m.training = mode

    if tracer.probe_mismatch or (tracer.probe is not None and tracer.calls != len(tracer.probe)):
        import warnings
        warnings.warn("narae.onnx.export: the model runs other ops when the dynamic axes have "
                      "other sizes (Python control flow on sizes); the graph follows the traced "
                      "sizes and may fail for others", OnnxExporterWarning, stacklevel=2)
    outputs = _flatten(result, [])
    if not outputs:
        raise OnnxExporterError("narae.onnx.export: the model returned no tensors")
    _check_names("output", output_names, len(outputs))
    g.scope = ""
    out_names = []
    graph_inputs = {n for n, _, _ in found} | {n for n, _ in tracer.param_inputs}
    produced = {o for n in g.nodes for o in n[2]}
    for i, t in enumerate(outputs):
        src = tracer.name_of(t)
        want = output_names[i] if output_names and i < len(output_names) else None
        if want is None:
            want = src if src in produced and src not in out_names else f"output_{i}"
        if want in g.initializers or want in graph_inputs:
            raise ValueError(f"narae.onnx.export: output name {want!r} is already the name of "
                             "an input or a parameter")
        if src == want and src in produced and src not in out_names:
            out_names.append(src)
            continue
        if src in produced and src not in out_names and src not in graph_inputs:
            g._used.add(want)
            _rename(g.nodes, src, want)
            tracer.names = {k: (want if v == src else v) for k, v in tracer.names.items()}
        else:
            g._used.add(want)
            g.nodes.append(["Identity", [src], [want], {}, g.fresh("/Identity")])
        out_names.append(want)

    _prune(g, out_names)
    dyn_sizes = set()
    inputs_vi = []
    for name, arr, _ in found:
        dims = _dynamic_dims(dynamic_axes, name)
        dyn_sizes.update(arr.shape[i] for i in dims if -arr.ndim <= i < arr.ndim)
        inputs_vi.append(_value_info(onnx, name, arr.dtype, arr.shape, dims))
    for name, arr in tracer.param_inputs:
        inputs_vi.append(_value_info(onnx, name, arr.dtype, arr.shape, {}))
    outputs_vi = []
    for name, t in zip(out_names, outputs):
        dims = _dynamic_dims(dynamic_axes, name)
        shape = [None if (i not in dims and dynamic_axes and n in dyn_sizes) else n
                 for i, n in enumerate(t.shape)]
        outputs_vi.append(_value_info(onnx, name, t._data.dtype, shape, dims))
    unknown = set(dynamic_axes or {}) - {n for n, _, _ in found} - set(out_names)
    if unknown:
        import warnings
        warnings.warn(f"narae.onnx.export: dynamic_axes names {sorted(unknown)} are neither "
                      "inputs nor outputs of the graph", UserWarning, stacklevel=2)

    from onnx import numpy_helper
    inits = [numpy_helper.from_array(np.array(a, order="C"), name)
             for name, a in g.initializers.items()]
    if keep_initializers_as_inputs:
        inputs_vi += [onnx.helper.make_tensor_value_info(name, onnx_type(a.dtype), a.shape)
                      for name, a in g.initializers.items()]
    nodes = [onnx.helper.make_node(op_type, ins, outs, name=nname, **attrs)
             for op_type, ins, outs, attrs, nname in g.nodes]
    graph = onnx.helper.make_graph(nodes, "main_graph", inputs_vi, outputs_vi, inits)
    model_proto = onnx.helper.make_model(
        graph, opset_imports=[onnx.helper.make_opsetid("", opset)], producer_name=producer_name,
        producer_version=producer_version, ir_version=_ir_version(onnx, opset))
    if verbose:
        printer = getattr(onnx, "printer", None)
        print(printer.to_text(model_proto.graph) if printer is not None
              else onnx.helper.printable_graph(model_proto.graph))
    if verify:
        _verify(model_proto, found, outputs, out_names)
    if f is None:
        return model_proto
    if not isinstance(f, (str, os.PathLike)) and not hasattr(f, "write"):
        raise TypeError(f"narae.onnx.export: f must be a path or a binary file object, got "
                        f"{type(f).__name__}")
    big = sum(a.nbytes for a in g.initializers.values()) > _PROTOBUF_LIMIT
    if big:  # protobuf cannot hold 2 GB: the weights go to a file beside the model
        if not isinstance(f, (str, os.PathLike)) or not external_data:
            raise OnnxExporterError("narae.onnx.export: the model's weights exceed protobuf's "
                                    "2 GB limit; give f as a path with external_data=True")
        path = os.fspath(f)
        onnx.save_model(model_proto, path, save_as_external_data=True,
                        all_tensors_to_one_file=True,
                        location=os.path.basename(path) + ".data", size_threshold=1024)
        return None
    data = model_proto.SerializeToString()
    if isinstance(f, (str, os.PathLike)):
        with open(f, "wb") as fh:
            fh.write(data)
    else:
        f.write(data)
    return None

