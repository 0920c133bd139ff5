"""Forward-mode automatic differentiation (torch.autograd.forward_ad's API).

    with forward_ad.dual_level():
        x = forward_ad.make_dual(primal, tangent)
        y = f(x)                                   # any narae ops
        value, jvp = forward_ad.unpack_dual(y)     # jvp = J(primal) @ tangent

Inside a dual level, every op whose inputs carry tangents also computes the tangent of its
outputs, eagerly and whatever the grad mode. No op needs a rule of its own: the tangent is
derived from the op's backward by the transpose trick. For one node ``y = f(x)`` the vjp
``g(u) = J^T u`` is linear in the cotangent ``u``, so ``d<g(u), t>/du = J t``: run the node's
backward on a dummy ``u`` with ``create_graph=True``, then differentiate ``<g, t>`` w.r.t. u.
A few very common ops use a direct rule instead, cheaper with the same numbers: linear
ones (``J t = f(t)``), products (``matmul``, ``linear``, ``conv``: one term per factor) and
unary elementwise maps (diagonal J, so ``J t = J^T t``: one backward call).

The tangents are themselves recorded by reverse mode when the primals require grad, so
``grad`` of a tangent (reverse over forward) works; and the backward of a node run on duals
reads the dual inputs, so a backward pass inside a level carries tangents too (forward over
reverse: ``jacfwd(jacrev(f))``, the Hessian). An op whose backward is not differentiable (a
fused gradient kernel) raises, naming the op.

In-place methods on duals (``x.mul_(y)``, ``x[i] = v``, ``x += y``, fills) derive the new
tangent on copies, then run the op on the real tensors; one on a view also updates the
tangent of every dual tensor holding that view (its base), as torch does. (An in-place op
on a base does not update the tangents of views taken from it earlier.) A torch-style
custom Function gets tangents through the narae ops of its forward (its ``jvp`` is unused).

The level is one ``Function.__call__`` instrumentation layer (``engine.instrument``) plus
wrappers around the Tensor's in-place methods, ``contiguous`` and custom ``apply``, all
installed on entry and removed on exit: with no dual level active nothing is paid. Tangents
live in a dict keyed by ``id(tensor)`` with a weak reference that drops the entry when the
tensor dies; leaving the level forgets them all. As in torch only one level can be active
at a time.
"""
import weakref
from collections import namedtuple
from types import MethodType as _MethodType

from . import engine as _engine
from . import function as _function
from . import grad_mode

__all__ = ["UnpackedDualTensor", "enter_dual_level", "exit_dual_level", "make_dual",
           "unpack_dual", "dual_level"]


class UnpackedDualTensor(namedtuple("UnpackedDualTensor", ["primal", "tangent"])):
    """``(primal, tangent)`` as returned by ``unpack_dual``; tangent is None without one."""
    __slots__ = ()


class _State:
    level = None      # the active level (0) or None
    busy = 0          # >0 while this module computes a tangent: ops run plainly then


_state = _State()
# id(tensor) -> (weakref to the tensor, tangent Tensor)
_tangents = {}


def _Tensor():
    return _function._Tensor


# -- the tangent table ----------------------------------------------------------------------
def _get(t):
    """The tangent of ``t`` at the active level, or None."""
    e = _tangents.get(id(t))
    if e is not None and e[0]() is t:
        return e[1]
    return None


def _set(t, tangent):
    key = id(t)

    def _drop(ref, key=key):
        e = _tangents.get(key)
        if e is not None and e[0] is ref:
            del _tangents[key]
    _tangents[key] = (weakref.ref(t, _drop), tangent)


# -- levels ---------------------------------------------------------------------------------
def enter_dual_level():
    """Start a forward-AD level and return it; only one level can be active at a time."""
    if _state.level is not None:
        raise RuntimeError("Nested forward mode AD is not supported at the moment")
    _state.level = 0
    _install()
    return 0


def exit_dual_level(*, level=None):
    """Leave the active level: every tangent made inside it is forgotten."""
    if level is None:
        level = -1 if _state.level is None else _state.level
    if level < 0:
        raise RuntimeError("Dual level must be a positive number.")
    if _state.level is None or level != _state.level:
        raise RuntimeError("Trying to exit a forward AD level that was not the last one that "
                           "was created. This is not supported.")
    _uninstall()
    _tangents.clear()
    _state.level = None


class dual_level:
    """Context manager of a forward-AD level: ``with dual_level(): ...`` (yields the level)."""

    def __enter__(self):
        return enter_dual_level()

    def __exit__(self, *exc):
        exit_dual_level()
        return False


def _check_level(level, op):
    if _state.level is None:
        if op == "_make_dual":
            raise RuntimeError("Trying to create a dual Tensor for forward AD but no level "
                               "exists, make sure to enter_dual_level() first.")
        return False
    if level is not None and level != _state.level:
        raise RuntimeError(f"Invalid level given to {op}")
    return True


def _is_float(t):
    from .._dtype import is_floating
    return is_floating(t._data.dtype) or t._data.dtype.kind == "c"


class _View(_function.Function):
    """The identity as a graph node: a new tensor viewing the same memory."""
    uses_inputs = False

    def forward(self, x):
        return x.view()

    def backward(self, gy):
        return gy


def _alias(t):
    """A new tensor object for the same array (a view in ``t``'s graph when it is tracked)."""
    if t.requires_grad:
        _state.busy += 1
        try:
            with grad_mode.enable_grad():
                a = _View()(t)
        finally:
            _state.busy -= 1
        a._version = t._version
        return a
    a = _Tensor()(t._data)
    a._version = t._version
    return a


def make_dual(tensor, tangent, *, level=None):
    """A view of ``tensor`` whose tangent (forward gradient) is ``tangent``.

    ``tangent`` must have ``tensor``'s shape and device; both must be floating point.
    """
    from ..backend import device_of
    _check_level(level, "_make_dual")
    Tensor = _Tensor()
    if not isinstance(tensor, Tensor) or not isinstance(tangent, Tensor):
        raise TypeError(f"make_dual(): expected Tensors, got {type(tensor).__name__} and "
                        f"{type(tangent).__name__}")
    if not _is_float(tensor):
        raise ValueError(f"Expected primal to be floating point or complex, but got: "
                         f"{tensor.dtype}")
    if not _is_float(tangent):
        raise ValueError(f"Expected tangent to be floating point or complex, but got: "
                         f"{tangent.dtype}")
    if tuple(tangent.shape) != tuple(tensor.shape):
        raise RuntimeError(f"Trying to set a forward gradient that has a different size than "
                           f"that of the original Tensor, this is not supported. Tensor is of "
                           f"size {list(tensor.shape)} while the given forward gradient is of "
                           f"size {list(tangent.shape)}.")
    if device_of(tangent._data) != device_of(tensor._data):
        raise RuntimeError(f"make_dual(): the tangent is on {device_of(tangent._data)} but the "
                           f"primal is on {device_of(tensor._data)}: they must be on the same "
                           "device")
    if _get(tensor) is not None:
        raise RuntimeError(f"Making a dual Tensor based on a Tensor that already has a forward "
                           f"gradient at the same level {_state.level} is not supported.")
    out = _alias(tensor)
    _set(out, tangent)
    return out


def unpack_dual(tensor, *, level=None):
    """``UnpackedDualTensor(primal, tangent)``: a view of the primal (no tangent) and the
    tangent at the level (None when ``tensor`` has none, or is not a Tensor)."""
    if not isinstance(tensor, _Tensor()):
        return UnpackedDualTensor(tensor, None)
    if not _check_level(level, "_fw_primal"):
        return UnpackedDualTensor(tensor, None)
    tangent = _get(tensor)
    if tangent is None:
        return UnpackedDualTensor(tensor, None)
    return UnpackedDualTensor(_alias(tensor), tangent)


# -- propagation through ops ----------------------------------------------------------------
def _forward_ad_layer(inner):
    """``Function.__call__`` while a dual level is active: tangents follow every op."""
    def call(self, *inputs):
        if _state.busy or not _tangents:
            return inner(self, *inputs)
        tangents = None
        for i, x in enumerate(inputs):
            e = _tangents.get(id(x))
            if e is not None and e[0]() is x:
                if tangents is None:
                    tangents = [None] * len(inputs)
                tangents[i] = e[1]
        if tangents is None:
            return inner(self, *inputs)
        return _dual_call(inner, self, inputs, tangents)
    return call


def _fit_tangent(t, x):
    """A tangent in its primal's dtype (torch keeps a differing one; we compute in x's)."""
    if t._data.dtype != x._data.dtype:
        t = t.to(x.dtype)
    return t


def _stand_in(x):
    """A differentiable stand-in for input ``x`` of the node we differentiate locally."""
    if x.requires_grad:
        # an identity node: the output stays in the caller's graph, and the gradient taken
        # at it is this op's own partial derivative (not summed over x's other paths into
        # the op, as taking it at x itself would be when another input depends on x)
        v = _View()(x)
        v._version = x._version
        return v
    s = _Tensor()(x._data, True)
    s._version = x._version
    return s


def _dual_call(inner, fn, inputs, tangents):
    """Run ``fn`` on dual inputs: its outputs, with their tangents ``J t`` attached."""
    Tensor = _Tensor()
    user_grad = grad_mode.state.enabled
    floats = [t is not None and _is_float(x) for x, t in zip(inputs, tangents)]
    tangents = [_fit_tangent(t, x) if f else None for x, t, f in zip(inputs, tangents, floats)]
    track = user_grad and (any(x.requires_grad for x in inputs) or
                           any(t is not None and t.requires_grad for t in tangents))
    rule = _RULES.get(type(fn))
    _state.busy += 1
    try:
        if rule is not None:
            spare = _spare(fn)
            out = inner(fn, *inputs)
            with grad_mode.set_grad_enabled(track):
                outs = out if type(out) is tuple else (out,)
                touts = rule(spare, inputs, tangents, outs)
            if type(touts) is not tuple:
                touts = (touts,)
        else:
            with grad_mode.enable_grad():
                stand = [_stand_in(x) if f else x for x, f in zip(inputs, floats)]
                out = inner(fn, *stand)
            outs = out if type(out) is tuple else (out,)
            if type(fn) in _SELF_ADJOINT and len(inputs) == 1 and type(out) is not tuple \
                    and out.shape == inputs[0].shape and out.requires_grad \
                    and inputs[0]._data.dtype.kind != "c":
                # an elementwise map: J is diagonal, so J t = J^T t, one backward call
                with grad_mode.set_grad_enabled(track):
                    g = fn.backward(tangents[0])
                g = g[0] if type(g) is tuple else g
                touts = (g if g.shape == out.shape else g.expand(*out.shape),)
            else:
                touts = _local_jvp(fn, stand, tangents, outs, track)
            if not (user_grad and any(x.requires_grad for x in inputs)):
                outs = tuple(Tensor(o._data) if o.requires_grad else o for o in outs)
                out = outs if type(out) is tuple else outs[0]
            if "inputs" in fn.__dict__:
                # a backward through this node later (forward-over-reverse) must read the
                # dual inputs, not the stand-ins, so that their tangents flow through it
                fn.inputs = tuple(inputs)
    finally:
        _state.busy -= 1
    for o, t in zip(outs, touts):
        if t is not None and _is_float(o):
            _set(o, t)
    if fn.uses_outputs and "inputs" in fn.__dict__:
        fn._fw_tangents = touts
        fn.output = _MethodType(_dual_output, fn)
    return out


def _dual_output(fn, i=0):
    """``Function.output`` of a node run on duals: the rebuilt output keeps its tangent."""
    t = _function.Function.output(fn, i)
    tangents = fn.__dict__.get("_fw_tangents")
    if _state.level is not None and tangents is not None and tangents[i] is not None:
        _set(t, tangents[i])
    return t


def _local_jvp(fn, stand, tangents, outs, track):
    """``J t`` for the one node ``fn`` just recorded, by differentiating its vjp."""
    from . import grad as autograd_grad
    from ..creation import zeros_like
    Tensor = _Tensor()
    diff = [o for o in outs if o.requires_grad and _is_float(o)]
    wrt, seen = [], set()
    for s, t in zip(stand, tangents):
        # (a tensor passed twice is one stand-in: its gradient already sums both uses)
        if t is not None and id(s) not in seen:
            seen.add(id(s))
            wrt.append((s, t))
    res = {}
    if diff and wrt:
        # any u works (g is linear in u); ones rather than zeros, so that a backward with
        # no graph (not differentiable) can be told from one whose gradient is truly zero
        us = [Tensor(_ones(o), True) for o in diff]
        try:
            with grad_mode.enable_grad():
                gs = autograd_grad(diff, [s for s, _ in wrt], us, retain_graph=True,
                                   create_graph=True, allow_unused=True)
                pairs = []
                for g, (s, t) in zip(gs, wrt):
                    if g is None:
                        continue
                    if not g.requires_grad:
                        if _all_zero(g):
                            continue
                        raise _not_differentiable(fn, stand)
                    pairs.append((g, t))
                if pairs:
                    with grad_mode.set_grad_enabled(track):
                        jts = autograd_grad([g for g, _ in pairs], us, [t for _, t in pairs],
                                            create_graph=track, allow_unused=True)
                    for o, j in zip(diff, jts):
                        res[id(o)] = j
        except RuntimeError as e:
            if "forward AD" in str(e):
                raise
            raise RuntimeError(f"forward AD through {type(fn).__name__}: its backward could not "
                               f"be differentiated to derive the tangent ({e}); input shapes: "
                               f"{', '.join(str(tuple(s.shape)) for s in stand)}") from e
    touts = []
    for o in outs:
        if not _is_float(o):
            touts.append(None)
            continue
        j = res.get(id(o))
        if j is None:
            j = zeros_like(o.detach())
        elif not track:
            j = j.detach()
        touts.append(j)
    return tuple(touts)


def _zeros(o):
    from ..backend import get_array_module
    return get_array_module(o._data).zeros(o._data.shape, o._data.dtype)


def _ones(o):
    from ..backend import get_array_module
    return get_array_module(o._data).ones(o._data.shape, o._data.dtype)


def _all_zero(g):
    from ..backend import get_array_module, capture
    data = g._data
    if not capture.can_read_back():
        return False
    return not bool(get_array_module(data).any(data))


def _not_differentiable(fn, inputs):
    shapes = ", ".join(str(tuple(x.shape)) for x in inputs)
    return RuntimeError(f"forward AD: {type(fn).__name__} has a backward that is not itself "
                        f"differentiable (a fused gradient kernel), so its forward-mode "
                        f"derivative cannot be derived from it (input shapes: {shapes})")


# -- in-place methods on dual tensors -------------------------------------------------------
_NOT_WRAPPED = {"requires_grad_", "detach_", "share_memory_", "resize_", "resize_as_",
                "apply_", "map_"}
_DUNDER_INPLACE = ("__iadd__", "__isub__", "__imul__", "__itruediv__", "__setitem__")
_saved_methods = {}


def _inplace_names():
    Tensor = _Tensor()
    names = [n for n in dir(Tensor) if n.endswith("_") and not n.startswith("_")
             and n not in _NOT_WRAPPED]
    return names + [n for n in _DUNDER_INPLACE if hasattr(Tensor, n)] + ["contiguous"]


# in-place fills: the new value is a constant, so the tangent becomes zero
_FILLS = {"zero_", "fill_", "uniform_", "normal_", "bernoulli_", "random_", "exponential_",
          "geometric_", "cauchy_", "log_normal_"}


def _wrap_inplace(orig, name):
    Tensor = _Tensor()

    def method(self, *args, **kwargs):
        if _state.busy or not _tangents:
            return orig(self, *args, **kwargs)
        t_self = _get(self)
        others = [(i, a, _get(a)) for i, a in enumerate(args) if isinstance(a, Tensor)]
        others += [(k, a, _get(a)) for k, a in kwargs.items() if isinstance(a, Tensor)]
        if t_self is None and all(t is None for _, _, t in others):
            return orig(self, *args, **kwargs)
        if name in _FILLS:
            _state.busy += 1
            try:
                out = orig(self, *args, **kwargs)
            finally:
                _state.busy -= 1
            if _is_float(self):
                _set(self, _Tensor()(_zeros(self)))
                _update_bases(self, _get(self))
            return out
        return _dual_inplace(orig, self, args, kwargs, t_self, others, name)
    method.__name__ = getattr(orig, "__name__", "inplace")
    method.__doc__ = orig.__doc__
    method._forward_ad_wrapped = orig
    return method


def _dual_inplace(orig, self, args, kwargs, t_self, others, name):
    """``self.op_(*args)`` with tangents: the tangent of the new value, derived on copies."""
    Tensor = _Tensor()
    if not _is_float(self):
        return orig(self, *args, **kwargs)
    track = grad_mode.state.enabled and any(
        t is not None and t.requires_grad for t in [t_self] + [t for _, _, t in others])
    _state.busy += 1
    try:
        with grad_mode.enable_grad():
            base = Tensor(self._data.copy(), True)
            s = _View()(base)  # a non-leaf: in-place ops on it are recorded
            args, kwargs = list(args), dict(kwargs)
            wrt = [(base, _fit_tangent(t_self, self))] if t_self is not None else []
            for key, a, t in others:
                if t is not None and _is_float(a):
                    leaf = Tensor(a._data.copy(), True)
                    wrt.append((leaf, _fit_tangent(t, a)))
                    if isinstance(key, int):
                        args[key] = leaf
                    else:
                        kwargs[key] = leaf
            node = s._creator
            r = orig(s, *args, **kwargs)  # (a bad call fails here as it would on self)
            s = r if isinstance(r, Tensor) else s
            if s._creator is node:  # not re-pointed: the new value is a constant
                touts = (Tensor(_zeros(s)),)
            else:
                touts = _local_jvp(s._creator, [w for w, _ in wrt], [t for _, t in wrt],
                                   (s,), track)
        # the primal: the op itself on the real tensors (it keeps their reverse-mode graph)
        out = orig(self, *[a for a in _orig_args(args, others)],
                   **_orig_kwargs(kwargs, others))
    finally:
        _state.busy -= 1
    tangent = touts[0]
    if tangent is not None and tangent.shape != self.shape:
        tangent = tangent.reshape(self.shape)
    _set(self, tangent)
    _update_bases(self, tangent)
    return out


def _root(a):
    while getattr(a, "base", None) is not None:
        a = a.base
    return a


def _addresses(t, xp):
    """The element address (in items) of every element of ``t``, in ``t``'s order."""
    item = t._data.itemsize
    offs = xp.full(t.shape, t.data_ptr() // item, dtype=xp.int64)
    for k, (n, s) in enumerate(zip(t.shape, t.stride())):
        shape = [1] * t.ndim
        shape[k] = n
        offs = offs + (xp.arange(n, dtype=xp.int64) * s).reshape(shape)
    return offs.reshape(-1)


def _update_bases(view, tangent):
    """An in-place op on a view changed its base too: give every dual tensor that holds all
    of the view's elements (its base, as torch's view tracking does) the new tangent there."""
    from ..backend import get_array_module, capture
    if getattr(view._data, "base", None) is None or tangent is None or \
            not capture.can_read_back():
        return
    root = _root(view._data)
    xp = get_array_module(view._data)
    av = None
    _state.busy += 1
    try:
        for ref, bt in list(_tangents.values()):
            b = ref()
            if b is None or b is view or b._data.dtype != view._data.dtype or \
                    _root(b._data) is not root or b.numel() < view.numel():
                continue
            if av is None:
                av = _addresses(view, xp)
            ab = _addresses(b, xp)
            order = xp.argsort(ab, kind="stable")
            ranked = ab[order]
            pos = xp.minimum(xp.searchsorted(ranked, av), ranked.size - 1)
            if not bool((ranked[pos] == av).all()):
                continue  # the view is not inside b
            idx = _Tensor()(order[pos])
            flat = bt.reshape(-1)
            flat = flat.index_put((idx,), tangent.reshape(-1).to(flat.dtype))
            _set(b, flat.reshape(b.shape))
    finally:
        _state.busy -= 1


def _orig_args(args, others):
    args = list(args)
    for key, a, _ in others:
        if isinstance(key, int):
            args[key] = a
    return args


def _orig_kwargs(kwargs, others):
    kwargs = dict(kwargs)
    for key, a, _ in others:
        if not isinstance(key, int):
            kwargs[key] = a
    return kwargs


def _wrap_contiguous(orig):
    """``Tensor.contiguous`` copies a non-contiguous tensor that needs no grad without an op
    (a fast path no layer sees): the copy gets the same tangent, made contiguous too."""
    def contiguous(self, *args, **kwargs):
        out = orig(self, *args, **kwargs)
        if out is not self and _tangents and not _state.busy:
            t = _get(self)
            if t is not None and _get(out) is None:
                _state.busy += 1
                try:
                    _set(out, orig(t))
                finally:
                    _state.busy -= 1
        return out
    contiguous.__doc__ = orig.__doc__
    return contiguous


def _has_tangent(t):
    """Whether ``t`` carries a tangent (cheap when no dual level is active): for op code
    whose fast path for tensors that need no grad would otherwise skip the op."""
    return bool(_tangents) and _get(t) is not None


def _wrap_custom_apply(orig):
    """torch-style ``Function.apply``: its forward runs narae ops on the dual inputs, so the
    outputs get tangents from those ops; a forward written in raw array code gives none,
    which is an error (torch asks for a ``jvp`` staticmethod, which narae does not use)."""
    def apply(cls, args, kwargs):
        if _state.busy or not _tangents:
            return orig(cls, args, kwargs)
        Tensor = _Tensor()
        dual = any(isinstance(a, Tensor) and _get(a) is not None
                   for a in list(args) + list(kwargs.values()))
        out = orig(cls, args, kwargs)
        if dual:
            for o in (out if isinstance(out, tuple) else (out,)):
                if isinstance(o, Tensor) and _is_float(o) and _get(o) is None:
                    raise RuntimeError(
                        f"forward AD: the custom Function {cls.__name__} returned an output "
                        f"of shape {tuple(o.shape)} without a tangent: its forward must "
                        "compute its outputs with narae ops for forward-mode AD (a jvp "
                        "staticmethod is not supported)")
        return out
    return apply


_saved_custom_apply = []
_wrappers = {}  # name -> (original method, its wrapper): built once, swapped in per level


def _install():
    Tensor = _Tensor()
    if not _RULES:
        _register_rules()  # (not at import: narae.autograd is loaded before narae.ops)
    _engine.instrument("forward_ad", call=_forward_ad_layer)
    if not _wrappers or len(Tensor.__dict__) != _wrappers.get(None):
        for name in _inplace_names():  # (re)built when methods were added since
            orig = Tensor.__dict__.get(name)
            if orig is None or not callable(orig):
                continue
            known = _wrappers.get(name)
            if known is None or known[0] is not orig:
                _wrappers[name] = (orig, _wrap_contiguous(orig) if name == "contiguous"
                                   else _wrap_inplace(orig, name))
        _wrappers[None] = len(Tensor.__dict__)
    _saved_custom_apply.append(_function._custom_apply)
    _function._custom_apply = _wrap_custom_apply(_function._custom_apply)
    for name, pair in _wrappers.items():
        if name is not None and Tensor.__dict__.get(name) is pair[0]:
            _saved_methods[name] = pair[0]
            setattr(Tensor, name, pair[1])


def _uninstall():
    Tensor = _Tensor()
    _engine.instrument("forward_ad")
    if _saved_custom_apply:
        _function._custom_apply = _saved_custom_apply.pop()
    for name, orig in _saved_methods.items():
        setattr(Tensor, name, orig)
    _saved_methods.clear()


# -- direct rules for the commonest ops -----------------------------------------------------
# rule(spare, inputs, tangents, outputs) -> output tangent(s); ``spare`` is an unused copy
# of the op (same settings) that a rule may call on tangents for ops linear in them.
def _spare(fn):
    s = object.__new__(type(fn))
    s.__dict__.update(fn.__dict__)
    return s


_RULES = {}
# unary elementwise ops: their Jacobian is diagonal (self-adjoint), J t = backward(t)
_SELF_ADJOINT = set()


def _register_rules():
    from ..ops import arith, linalg, shape
    Tensor = _Tensor()

    def linear(spare, inputs, tangents, outs):
        # an op linear in its float inputs: J t = f(t) (missing tangents are zeros)
        args = []
        for x, t in zip(inputs, tangents):
            if t is not None:
                args.append(t)
            elif _is_float(x):
                args.append(Tensor(_zeros(x)))
            else:
                args.append(x)
        return spare(*args)

    def unary_linear(spare, inputs, tangents, outs):
        return spare(tangents[0])

    def mul(spare, inputs, tangents, outs):
        (a, b), (ta, tb) = inputs, tangents
        r = None
        if ta is not None:
            r = ta * b
        if tb is not None:
            r = a * tb if r is None else r + a * tb
        return r

    def matmul(spare, inputs, tangents, outs):
        (a, b), (ta, tb) = inputs, tangents
        r = None
        if ta is not None:
            r = _spare(spare)(ta, b)
        if tb is not None:
            q = _spare(spare)(a, tb)
            r = q if r is None else r + q
        return r

    def lin(spare, inputs, tangents, outs):
        x, w = inputs[0], inputs[1]
        tx, tw = tangents[0], tangents[1]
        tb = tangents[2] if len(tangents) > 2 else None
        r = None
        if tx is not None:
            r = linalg.linear(tx, w)
        if tw is not None:
            q = linalg.linear(x, tw)
            r = q if r is None else r + q
        if tb is not None:
            r = (tb + _zeros_t(outs[0])) if r is None else r + tb
        if r is None:
            r = Tensor(_zeros(outs[0]))
        return r

    def div(spare, inputs, tangents, outs):
        b, (ta, tb) = inputs[1], tangents
        r = None
        if ta is not None:
            r = ta / b
        if tb is not None:
            q = -outs[0] * tb / b
            r = q if r is None else r + q
        return r

    def conv(spare, inputs, tangents, outs):
        # bilinear in (x, w), plus a bias along the channel dim: C(tx, w) + C(x, tw) + tb
        x, w = inputs[0], inputs[1]
        tx, tw = tangents[0], tangents[1]
        tb = tangents[2] if len(tangents) > 2 else None
        r = None
        if tx is not None:
            r = _spare(spare)(tx, w)
        if tw is not None:
            q = _spare(spare)(x, tw)
            r = q if r is None else r + q
        if tb is not None or r is None:
            out = outs[0]
            q = _zeros_t(out)
            if tb is not None:
                q = q + tb.reshape((1, -1) + (1,) * (out.ndim - 2))
            r = q if r is None else r + q
        return r

    from ..ops import conv as conv_ops
    _RULES[conv_ops._Conv] = conv
    for cls in (arith.Add, arith.Sub):
        _RULES[cls] = linear
    for cls in (arith.Neg, arith.MulScalar, arith.DivScalar, shape.Reshape, shape.Permute,
                shape.BroadcastTo, shape.SumTo):
        _RULES[cls] = unary_linear
    _RULES[arith.AddScalar] = lambda spare, inputs, tangents, outs: tangents[0]
    _RULES[arith.Mul] = mul
    _RULES[arith.Div] = div
    _RULES[linalg.MatMul] = matmul
    _RULES[linalg.Linear] = lin
    from ..ops import activation, elementwise
    for mod, names in (
            (arith, "Exp Expm1 Log Log1p Sqrt Rsqrt Abs Sin Cos Tan Erf Clamp PowScalar "
                    "RPowScalar"),
            (activation, "ReLU Sigmoid Tanh PiecewiseLinear ELU GELU SiLU Softplus Hardswish"),
            (elementwise, "Acos Asin Atan Acosh Asinh Atanh Sinh Cosh Logit Sinc Erfc Erfinv "
                          "Lgamma I0 I1 Frac NanToNum")):
        for n in names.split():
            cls = getattr(mod, n, None)
            if cls is not None:
                _SELF_ADJOINT.add(cls)


def _zeros_t(o):
    return _Tensor()(_zeros(o))


