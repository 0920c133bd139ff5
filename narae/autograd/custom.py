"""torch-style custom Functions: ``class MyFn(narae.autograd.Function)`` with static methods.

    class MyExp(narae.autograd.Function):
        @staticmethod
        def forward(ctx, x):
            y = x.exp(); ctx.save_for_backward(y); return y
        @staticmethod
        def backward(ctx, grad):
            (y,) = ctx.saved_tensors; return grad * y
    MyExp.apply(x)

``forward`` runs on Tensors with recording off; ``apply`` then records one graph node, an
instance of ``MyExpBackward`` (an internal-style Function), whose ``backward`` calls the
user's ``backward`` (or ``vjp``) on Tensors. Written with narae's differentiable ops, that
backward is recorded under ``create_graph=True``, so double backward works.
"""
import functools
import inspect

from . import grad_mode
from . import function as _function
from .function import Function

__all__ = ["FunctionCtx", "once_differentiable"]

_FREED = ("Trying to backward through the graph a second time (or directly access saved "
          "tensors after they have already been freed). Saved intermediate values of the graph "
          "are freed when you call .backward() or autograd.grad(). Specify retain_graph=True "
          "if you need to backward through the graph a second time or if you need to access "
          "saved tensors after calling backward.")

_TYPE_NAMES = {"float32": "FloatTensor", "float64": "DoubleTensor", "float16": "HalfTensor",
               "bfloat16": "BFloat16Tensor", "int64": "LongTensor", "int32": "IntTensor",
               "int16": "ShortTensor", "int8": "CharTensor", "uint8": "ByteTensor",
               "bool": "BoolTensor"}


def _type_str(t):
    name = _TYPE_NAMES.get(str(t._data.dtype), "Tensor")
    prefix = "narae.cuda." if t.device.type == "cuda" else "narae."
    return prefix + name


class FunctionCtx:
    """The ``ctx`` handed to a torch-style Function's forward/setup_context and backward."""

    materialize_grads = True
    needs_input_grad = ()
    _to_save = ()
    _saved = None
    _dirty = ()
    _non_differentiable = ()
    _freed = False
    _node_name = "Function"

    def save_for_backward(self, *tensors):
        """Keep tensors (or None) for backward; read them back with ``saved_tensors``."""
        from ..tensor import Tensor
        for t in tensors:
            if t is not None and not isinstance(t, Tensor):
                raise TypeError("save_for_backward can only save variables, but argument "
                                f"{tensors.index(t)} is of type {type(t).__name__}")
        self._to_save = tensors

    def save_for_forward(self, *tensors):
        """Forward-mode AD is not implemented in narae; kept for API compatibility."""
        self._to_save_forward = tensors

    def mark_dirty(self, *args):
        """Declare the input tensors that ``forward`` modified in place (and returns)."""
        self._dirty = args

    def mark_non_differentiable(self, *args):
        """Declare outputs that get no gradient (integer indices, masks...)."""
        self._non_differentiable = args

    def set_materialize_grads(self, value):
        """False: backward receives None (not zeros) for outputs that got no gradient."""
        self.materialize_grads = bool(value)

    @property
    def saved_tensors(self):
        """The tensors given to ``save_for_backward``; raises if one was modified in place."""
        if self._freed:
            raise RuntimeError(_FREED)
        if self._saved is None:
            return tuple(self._to_save)
        out = []
        for entry in self._saved:
            if entry is None:
                out.append(None)
                continue
            t, version, creator_name, idx = entry
            if t._version[0] != version:
                raise RuntimeError(
                    "one of the variables needed for gradient computation has been modified "
                    f"by an inplace operation: [{_type_str(t)} {list(t.shape)}], which is "
                    f"output {idx} of {creator_name}, is at version {t._version[0]}; expected "
                    f"version {version} instead. Hint: enable anomaly detection to find the "
                    "operation that failed to compute its gradient, with "
                    "narae.autograd.set_detect_anomaly(True).")
            out.append(t)
        return tuple(out)

    saved_variables = saved_tensors


class _CustomNode(Function):
    """Graph node of one ``apply`` call: engine-facing, calls the user's backward."""
    uses_inputs = False   # saved tensors are version-checked by ctx.saved_tensors
    _forward_cls = None
    _node_name = "CustomFunctionBackward"

    def backward(self, *gys):
        ctx = self._ctx
        full = [None] * self._n_outputs
        for j, g in zip(self._out_pos, gys):
            full[j] = g
        cls = self._forward_cls
        user_fn = cls.vjp if cls.vjp is not Function.vjp else cls.backward
        gxs = user_fn(ctx, *full)
        if type(gxs) is not tuple:
            gxs = tuple(gxs) if isinstance(gxs, list) else (gxs,)
        n = self._n_args
        name = self._node_name
        if len(gxs) != n:
            if len(gxs) < n or any(g is not None for g in gxs[n:]):
                raise RuntimeError(f"function {name} returned an incorrect number of gradients "
                                   f"(expected {n}, got {len(gxs)})")
            gxs = gxs[:n]
        tensor_pos = self._tensor_pos
        out = []
        k = 0
        for pos, g in enumerate(gxs):
            if k < len(tensor_pos) and tensor_pos[k] == pos:
                x = self.inputs[k]
                k += 1
                if g is not None:
                    if not isinstance(g, _function._Tensor):
                        raise TypeError(f"function {name} returned a gradient of type "
                                        f"{type(g).__name__} at index {pos}: expected a Tensor "
                                        "or None")
                    if g.shape != x.shape and not _expandable(x.shape, g.shape):
                        raise RuntimeError(f"Function {name} returned an invalid gradient at "
                                           f"index {pos} - got {list(g.shape)} but expected "
                                           f"shape compatible with {list(x.shape)}")
                out.append(g)
            elif g is not None:
                raise RuntimeError(f"function {name} returned a gradient different than None "
                                   f"at position {pos + 1}, but the corresponding forward "
                                   "input was not a Variable")
        return tuple(out)

    def release(self):
        ctx = self.__dict__.get("_ctx")
        if ctx is not None:
            ctx._freed = True
        super().release()

    @property
    def saved_tensors(self):
        return self._ctx.saved_tensors

    @property
    def needs_input_grad(self):
        return self._ctx.needs_input_grad

    def __repr__(self):
        return f"<{self._node_name}>"


def _expandable(shape, target):
    """``shape`` broadcasts to ``target`` (a gradient of that shape sums back to ``shape``)."""
    if len(shape) > len(target):
        return False
    for a, b in zip(reversed(shape), reversed(target)):
        if a != b and a != 1:
            return False
    return True


def _backward_cls(cls):
    node_cls = cls.__dict__.get("_backward_cls")
    if node_cls is None:
        name = cls.__name__ + "Backward"
        node_cls = type(name, (_CustomNode,), {"_forward_cls": cls, "_node_name": name,
                                               "__module__": cls.__module__})
        cls._backward_cls = node_cls
    return node_cls


def _has_setup_context(cls):
    return cls.setup_context is not Function.__dict__["setup_context"].__func__


def _apply(cls, args, kwargs):
    Tensor = _function._Tensor
    node_cls = _backward_cls(cls)
    setup = _has_setup_context(cls)
    if setup:  # as torch: forward's defaults become explicit inputs
        bound = inspect.signature(cls.forward).bind(*args, **kwargs)
        bound.apply_defaults()
        args, kwargs = bound.args, bound.kwargs
    tensor_pos = [i for i, a in enumerate(args) if isinstance(a, Tensor)]
    tensors = [args[i] for i in tensor_pos]
    record = grad_mode.state.enabled and any(t.requires_grad for t in tensors)
    ctx = FunctionCtx()
    ctx._node_name = node_cls._node_name
    ctx.needs_input_grad = tuple(isinstance(a, Tensor) and a.requires_grad and record
                                 for a in args)
    # graph position of every tensor input before forward (an in-place forward moves it)
    before = [(t._creator, t._out_idx, t._gen, t.requires_grad) for t in tensors]
    prev = grad_mode.state.enabled
    grad_mode.state.enabled = False
    try:
        if setup:
            output = cls.forward(*args, **kwargs)
            cls.setup_context(ctx, args, output)
        else:
            output = cls.forward(ctx, *args, **kwargs)
    finally:
        grad_mode.state.enabled = prev
    is_tuple = isinstance(output, tuple)
    outs = output if is_tuple else (output,)
    dirty = {id(t) for t in ctx._dirty}
    if dirty:
        out_ids = {id(o) for o in outs}
        if any(i not in out_ids for i in dirty):
            raise RuntimeError("Some elements marked as dirty during the forward method were "
                               "not returned as output. The inputs that are modified inplace "
                               "must all be outputs of the Function.")
    if not record:
        return output
    for t, (creator, _, _, req) in zip(tensors, before):
        if id(t) in dirty and creator is None and req:
            raise RuntimeError("a leaf Variable that requires grad has been used in an "
                               "in-place operation.")
    node = node_cls()
    node._ctx = ctx
    inputs = []
    gen = 0
    for t, (creator, out_idx, tgen, req) in zip(tensors, before):
        if id(t) in dirty:  # the node's input is the tensor as it was before forward
            s = Tensor(t._data, req)
            s._creator, s._out_idx, s._gen = creator, out_idx, tgen
            t = s
        inputs.append(t)
        if tgen > gen:
            gen = tgen
    node.inputs = tuple(inputs)
    node.generation = gen
    input_ids = {id(t) for t in tensors}
    non_diff = {id(t) for t in ctx._non_differentiable}
    results, meta, out_pos = [], [], []
    for pos, o in enumerate(outs):
        if not isinstance(o, Tensor):
            results.append(o)
            continue
        if id(o) in dirty:
            t = o
        elif id(o) in input_ids or o._creator is not None:
            t = Tensor(o._data)  # an alias: the input itself keeps its own history
            t._version = o._version
        else:
            t = o
        if id(o) not in non_diff and t.is_floating_point():
            t._creator = node
            t._out_idx = len(meta)
            t._gen = gen + 1
            t.requires_grad = True
        else:
            t._creator = None
            t.requires_grad = False
        out_pos.append(pos)
        meta.append((o._data.shape, o._data.dtype))
        results.append(t)
    node._out_meta = meta
    node._out_pos = out_pos
    node._n_outputs = len(outs)
    node._n_args = len(args)
    node._tensor_pos = tensor_pos
    if not ctx.materialize_grads:
        node._materialize_grads = False
    ctx._saved = [None if t is None else
                  (t, t._version[0], _creator_name(t), t._out_idx) for t in ctx._to_save]
    if _anomaly_hook is not None:
        _anomaly_hook(node)
    return tuple(results) if is_tuple else results[0]


def _creator_name(t):
    fn = t._creator
    if fn is None:
        return "a leaf"
    return getattr(fn, "_node_name", None) or type(fn).__name__ + "Backward"


_anomaly_hook = None  # set by narae.autograd.anomaly_mode while anomaly detection is on


class _DelayedError(Function):
    """Identity in forward; its backward raises (marks a once_differentiable backward)."""
    uses_inputs = False

    def forward(self, y, *rest):
        return y

    def backward(self, *gys):
        raise RuntimeError("trying to differentiate twice a function that was marked with "
                           "@once_differentiable")


def once_differentiable(fn):
    """Decorate a custom backward that is not itself differentiable.

    It runs without recording; when a graph was asked for (``create_graph=True``) its
    results are linked to a node whose backward raises, so double backward fails loudly
    instead of silently returning wrong (zero) gradients.
    """
    @functools.wraps(fn)
    def wrapper(ctx, *args):
        with grad_mode.no_grad():
            outputs = fn(ctx, *args)
        if not grad_mode.state.enabled:
            return outputs
        Tensor = _function._Tensor
        needing = [a for a in args if isinstance(a, Tensor) and a.requires_grad]
        if not needing:
            return outputs
        tup = isinstance(outputs, tuple)
        outs = outputs if tup else (outputs,)
        wrapped = tuple(_DelayedError()(o, *needing)
                        if isinstance(o, Tensor) and o.is_floating_point() else o for o in outs)
        return wrapped if tup else wrapped[0]
    return wrapper


_function._custom_apply = _apply
