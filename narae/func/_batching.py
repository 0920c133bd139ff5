"""Batched tensors for ``narae.func.vmap``: one call of ``func`` on the whole batch.

A ``BatchedTensor`` holds its array with the batch dimension physically in front while its
Python face (``shape``, ``ndim``, ``numel()``, ``len()`` and ``_data``, which is a
``_LogicalArray`` stand-in with the per-sample shape) is that of one sample, so the
validation and shape arithmetic of narae's public functions runs unchanged. Every op ends in
``Function.__call__``; while a vmap runs, an instrumentation layer (``engine.instrument``)
sends each call that has a batched input to a batching rule (``_batching_rules``), which
runs the op once on the physical arrays, or else to a per-sample loop around that one call.
Elementwise NumPy on the stand-ins (masks, comparisons in public functions) runs batched
too; reading values (``.item()``, ``bool()``) is allowed when all samples agree.

The recorded graph is physical: its nodes run on plain batch-first arrays, so ``grad`` of a
vmap needs nothing special. For ``vmap(grad(f))`` the backward pass runs inside the vmap
(``_backward_layer`` hands those nodes plain batch-first gradients); a batched leaf (what
``grad`` differentiates) is used through one ``_Unwrap`` node, whose backward returns the
summed gradient as a BatchedTensor: ``autograd.grad`` then returns per-sample gradients
with per-sample shapes. Inputs of ``vmap`` that are not mapped (``in_dims=None``) enter as
broadcast (stride-0) batched tensors, so gradients with respect to them are per-sample
too; rules use the unbatched original where the gradient would be summed anyway.

Nested vmaps (``vmap(vmap(f))``, ``vmap(jacrev(f))``) are levels: an inner level folds its
batch behind its parent's into the one leading dim (outer index major), so rules never see
more than one batch dim. An op picks the innermost level of its batched inputs and repeats
those of enclosing levels over it (``_Lift``). Nodes stay physical for the level that
recorded them: a backward inside an inner level C reaching a node of an enclosing level M
hands it gradients of ``relative(C, M)`` (C's extra batch in front of M's arrays), which
run through the rules like the gradients of an unbatched node; ``_Unwrap`` turns them back
into C's gradients of an M tensor.

Whatever cannot be batched exactly (Python branching on values that differ between
samples, raw array reductions on ``x._data``, a per-sample gradient of an unbatched tensor)
raises ``NeedLoop`` and vmap reruns ``func`` as its per-sample loop, so results never depend
on which path ran; a nested vmap that raises it reruns as a loop alone (inside the running
outer level), and the outer one loops only if that fails again.
"""
import copy

import numpy as np

from ..autograd import engine as _engine
from ..autograd import grad_mode
from ..autograd.function import Function
from ..autograd.sparse import SparseGrad as _SparseGrad
from ..backend import device_of, get_array_module
from ..tensor import Tensor

__all__ = ["BatchedTensor", "NeedLoop", "stats"]


class NeedLoop(BaseException):
    """The vectorized run cannot go on exactly: vmap reruns ``func`` as a per-sample loop.

    A BaseException so that ``except Exception`` in user or library code does not swallow it.
    """


class _Level:
    """One running vectorized vmap: batch size, whether it is on, what its calls did.

    Nested vmaps stack: a level inside another one (``parent``) folds both batches into one
    leading physical dim, outer index major (``size`` = parent's size * ``n``), so every
    rule sees one leading batch dim whatever the depth. A tensor of an outer level used at
    an inner one is repeated along that dim (``lift``). ``relative(C, M)`` is the level of
    a backward pass of C running through nodes recorded by its ancestor M: the batch of C
    that M's arrays lack (``C.size // M.size``) in front of M's physical arrays.
    """

    __slots__ = ("size", "parent", "active", "fast", "slow", "slow_ops", "rel", "base",
                 "nested", "counter")

    def __init__(self, size, parent=None, base=None):
        self.size = size
        self.parent = parent
        self.base = base     # (C, M) for a relative level, else None
        self.active = True
        self.fast = 0        # op calls handled by a batching rule
        self.slow = 0        # op calls run by the per-sample fallback loop
        self.slow_ops = {}   # Function name -> number of fallback calls
        self.rel = {}        # ancestor level -> its relative level (see above)
        self.nested = []     # how vmaps nested in this (outermost) one ran
        self.counter = self if base is None else base[0]


_current = None          # the innermost active vmap level (outer ones are its parents)
_last = [None]           # the last finished outermost level (for stats())
_patches = []            # (module, name, replacement) installed while a vmap runs


def current():
    return _current


def is_ancestor(a, c):
    """Whether vmap level ``a`` encloses level ``c`` (strictly)."""
    c = c.parent
    while c is not None:
        if c is a:
            return True
        c = c.parent
    return False


def relative(c, m):
    """The level of C's batch relative to its ancestor M (see ``_Level``)."""
    t = c.rel.get(m)
    if t is None:
        t = c.rel[m] = _Level(c.size // m.size, base=(c, m))
    return t


def root(lvl):
    while lvl.parent is not None:
        lvl = lvl.parent
    return lvl


_path = [None, None]     # how the last outermost vmap call ran: ("vectorized"|"loop", why)


def record_path(path, why, lvl=None):
    """How a vmap call ran; a nested one (inside the vectorized level ``lvl``'s parent) is
    recorded in its outermost level's ``nested`` list."""
    if _current is None:
        _path[0], _path[1] = path, why
        return
    entry = {"path": path, "reason": None if why is None else repr(why), "fast": 0,
             "fallback": 0, "fallback_ops": {}}
    if lvl is not None:
        entry.update(fast=lvl.fast, fallback=lvl.slow, fallback_ops=dict(lvl.slow_ops))
    root(_current).nested.append(entry)


def stats():
    """How the last outermost vmap call ran, for tests and debugging.

    ``path``: "vectorized" or "loop" (``reason``: what made it rerun as a loop); ``fast``:
    op calls run by a batching rule; ``fallback``/``fallback_ops``: op calls run by the
    per-sample loop around one op (per Function name). ``nested``: the same for each vmap
    called inside it (one entry per call; ``fast``/``fallback`` count that level's ops).
    """
    lvl = _current or _last[0]
    if lvl is not None:
        lvl = root(lvl)
    out = {"path": _path[0], "reason": None if _path[1] is None else repr(_path[1]),
           "fast": 0, "fallback": 0, "fallback_ops": {}, "nested": []}
    if lvl is not None:
        out.update(fast=lvl.fast, fallback=lvl.slow, fallback_ops=dict(lvl.slow_ops),
                   nested=list(lvl.nested))
    return out


def replacement(func):
    """The batched version of a public function with a function-level rule (else ``func``)."""
    for module, name, repl in _patches:
        if getattr(repl, "__wrapped__", None) is func:
            return repl
    return func


def enter(size):
    """Start a vectorized vmap of batch ``size`` (nested in the running one, if any): install
    the layer and function rules at the outermost one."""
    global _current
    if not RULES:
        import importlib
        importlib.import_module(__name__.rpartition(".")[0] + "._batching_rules")
    parent = _current
    if parent is None:
        lvl = _Level(size)
    else:
        lvl = _Level(parent.size * size, parent)
    _current = lvl
    saved = []
    if parent is None:
        _engine.instrument("vmap", call=_call_layer, backward=_backward_layer)
        for module, name, repl in _patches:
            saved.append((module, name, getattr(module, name)))
            setattr(module, name, repl)
    return lvl, saved


def leave(lvl, saved):
    global _current
    lvl.active = False
    for t in lvl.rel.values():
        t.active = False
    _current = lvl.parent
    if lvl.parent is not None:
        return
    _last[0] = lvl
    for module, name, orig in reversed(saved):
        setattr(module, name, orig)
    _engine.instrument("vmap")


# -- the logical face of a batched array -----------------------------------------------------
def _need_loop(*args, **kwargs):
    raise NeedLoop("vmap: a batched value was read as an array")


class _LogicalArray:
    """What ``BatchedTensor._data`` shows: the per-sample shape and dtype, and no values.

    Reading values (array math, conversion, indexing) raises ``NeedLoop``; NumPy's
    ``*_like`` constructors give an unbatched array of the per-sample shape (only the shape
    and dtype are read), which is how ``autograd.grad`` builds its implicit ones.
    """

    __slots__ = ("_phys", "_lvl")
    # present so that ``Tensor(face)`` keeps the stand-in (as it keeps device arrays): the
    # autograd engine re-wraps gradient arrays that way, and such a plain Tensor still shows
    # per-sample shapes and is recognized as batched by the call layer. Never a real
    # interface: a consumer reading it fails, and vmap reruns as a loop.
    __cuda_array_interface__ = None

    def __init__(self, phys, lvl=None):
        self._phys = phys
        self._lvl = _current if lvl is None else lvl

    def __iadd__(self, other):
        # the engine's in-place gradient accumulation into a buffer it owns
        if type(other) in _LOGICAL and other._lvl is self._lvl and \
                other._phys.shape == self._phys.shape and \
                other._phys.dtype == self._phys.dtype:
            self._phys += other._phys
            return self
        if type(other) not in _LOGICAL and getattr(other, "shape", None) == self.shape and \
                getattr(other, "dtype", None) == self._phys.dtype and \
                type(other).__module__.split(".")[0] == type(self._phys).__module__.split(".")[0]:
            self._phys += other  # a gradient the same for every sample
            return self
        raise NeedLoop("vmap: in-place arithmetic on a batched array")

    @property
    def shape(self):
        return self._phys.shape[1:]

    @property
    def ndim(self):
        return self._phys.ndim - 1

    @property
    def size(self):
        n = 1
        for s in self._phys.shape[1:]:
            n *= s
        return n

    @property
    def dtype(self):
        return self._phys.dtype

    @property
    def itemsize(self):
        return self._phys.itemsize

    @property
    def nbytes(self):
        return self.size * self._phys.itemsize

    @property
    def device(self):
        return self._phys.device

    @property
    def flags(self):
        # what CuPy's ``*_like`` constructors read (besides shape and dtype)
        return _FLAGS

    def __array_function__(self, func, types, args, kwargs):
        name = getattr(func, "__name__", "")
        if name in ("ones_like", "zeros_like", "empty_like", "full_like") and args and \
                args[0] is self:
            shape = kwargs.pop("shape", None) or self.shape
            dtype = kwargs.pop("dtype", None) or self.dtype
            fill = {"ones_like": 1, "zeros_like": 0, "empty_like": 0}.get(name)
            if fill is None:
                fill = args[1] if len(args) > 1 else kwargs["fill_value"]
            return np.full(shape, fill, dtype=dtype)
        return _array_function(func, name, args, kwargs)

    def __array_ufunc__(self, ufunc, method, *inputs, **kwargs):
        # elementwise ufuncs batch exactly (the comparisons of narae.ops.compare, masks...)
        if method != "__call__" or "out" in kwargs:
            raise NeedLoop(f"vmap: numpy.{ufunc.__name__}.{method} read a batched value")
        return _ufunc(ufunc, inputs, kwargs)

    def astype(self, dtype, copy=True):
        return _logical(self._phys.astype(dtype, copy=copy), self._lvl)

    def any(self, axis=None, keepdims=False):
        return self._reduce("any", axis, keepdims)

    def all(self, axis=None, keepdims=False):
        return self._reduce("all", axis, keepdims)

    def _reduce(self, name, axis, keepdims):
        nd = self._phys.ndim - 1
        if axis is None and not keepdims:
            per_sample = getattr(self._phys, name)(axis=tuple(range(1, nd + 1)))
            return uniform(per_sample, f".{name}()")
        axes = tuple(range(1, nd + 1)) if axis is None else \
            tuple(a % nd + 1 for a in (axis if isinstance(axis, tuple) else (axis,)))
        return _logical(getattr(self._phys, name)(axis=axes, keepdims=keepdims), self._lvl)

    def item(self):
        if self.size != 1:
            raise NeedLoop("vmap: .item() of a batched array of several elements")
        return uniform(self._phys.reshape(-1), ".item()")

    def __bool__(self):
        if self.size != 1:
            raise NeedLoop("vmap: bool() of a batched array of several elements")
        return bool(uniform(self._phys.reshape(-1), "bool()"))

    def __getattr__(self, name):
        if name.startswith("__"):
            raise AttributeError(name)
        raise NeedLoop(f"vmap: .{name} of a batched array")

    def __repr__(self):
        return f"<batched array of per-sample shape {self.shape}>"

    __hash__ = object.__hash__


def uniform(per_sample, what):
    """The one value of every sample (a Python scalar), so Python branches alike for all.

    Reading a batched value in Python is exact only when all samples agree; otherwise the
    samples would take different paths, and vmap reruns as a loop.
    """
    first = per_sample[0]
    if per_sample.shape[0] > 1 and not bool((per_sample == first).all()):
        raise NeedLoop(f"vmap: {what} of a batched value that differs between samples")
    return first.item()


def _deepest(levels):
    """The one level all of ``levels`` are it or enclose it (else the values do not mix)."""
    deep = None
    for lvl in levels:
        if deep is None:
            deep = lvl
            continue
        if lvl is deep or is_ancestor(lvl, deep):
            continue
        if is_ancestor(deep, lvl):
            deep = lvl
            continue
        raise NeedLoop("vmap: batched values of unrelated vmap levels meet")
    return deep


def _ufunc(ufunc, inputs, kwargs):
    """An elementwise function of batched stand-ins and plain arrays, run once batch-first."""
    rank = 0
    size = None
    levels = []
    for a in inputs:
        if type(a) in _LOGICAL:
            rank = max(rank, a._phys.ndim - 1)
            if not levels or a._lvl is not levels[-1]:
                levels.append(a._lvl)
        else:
            rank = max(rank, getattr(a, "ndim", 0))
    lvl = _deepest(levels)
    size = lvl.size
    ops = []
    for a in inputs:
        if type(a) in _LOGICAL:
            p = a._phys
            if a._lvl is not lvl:  # an outer level's value: repeated over the inner batch
                from ..backend import get_array_module
                p = get_array_module(p).repeat(p, lvl.size // a._lvl.size, axis=0)
            if p.ndim - 1 < rank:
                p = p.reshape((size,) + (1,) * (rank - p.ndim + 1) + p.shape[1:])
            a = p
        ops.append(a)
    out = ufunc(*ops, **kwargs)
    if type(out) is tuple:
        return tuple(_logical(o, lvl) for o in out)
    return _logical(out, lvl)


# NumPy functions of (a, axis, ...) that work sample by sample along the given axis
_ALONG_AXIS = frozenset(["argmax", "argmin", "sum", "prod", "max", "min", "amax", "amin", "any",
                         "all", "mean", "cumsum", "cumprod", "sort", "argsort", "expand_dims",
                         "squeeze", "flip"])
_NEEDS_AXIS = frozenset(["argmax", "argmin", "cumsum", "cumprod", "sort", "argsort", "flip"])


def _array_function(func, name, args, kwargs):
    """NumPy functions on batched stand-ins: elementwise ones and those along an axis."""
    if name == "where" and len(args) == 3 and not kwargs:
        return _ufunc(func, args, {})
    if name in ("shape", "ndim", "size") and len(args) == 1 and not kwargs:
        return getattr(args[0], name)
    if name in ("result_type", "can_cast", "promote_types", "min_scalar_type"):
        return func(*[a.dtype if type(a) in _LOGICAL else a for a in args], **kwargs)
    if name in _ALONG_AXIS and args and type(args[0]) in _LOGICAL and \
            all(type(a) not in _LOGICAL for a in args[1:]) and \
            all(type(v) not in _LOGICAL for v in kwargs.values()):
        a = args[0]
        nd = a._phys.ndim - 1
        kwargs = dict(kwargs)
        axis = args[1] if len(args) > 1 else kwargs.pop("axis", None)
        rest = args[2:]
        if axis is None:
            if name in _NEEDS_AXIS or name == "expand_dims" or name == "squeeze":
                raise NeedLoop(f"vmap: numpy.{name} over a flattened batched value")
            axis = tuple(range(1, nd + 1))
        elif name == "expand_dims":
            axes = axis if isinstance(axis, tuple) else (axis,)
            out_nd = nd + len(axes)
            axis = tuple(x % out_nd + 1 for x in axes)
        elif isinstance(axis, tuple):
            axis = tuple(x % nd + 1 for x in axis) if nd else ()
        else:
            if nd == 0:
                raise NeedLoop(f"vmap: numpy.{name} along an axis of a 0-d sample")
            axis = axis % nd + 1
        return _logical(func(a._phys, axis, *rest, **kwargs), a._lvl)
    raise NeedLoop(f"vmap: numpy.{name} read a batched value")


def _dunder(name, reflected=False):
    def op(self, *other):
        from ..backend import get_array_module
        xp = get_array_module(self._phys)
        args = (other[0], self) if reflected else (self,) + other
        return _ufunc(getattr(xp, name), args, {})
    return op


for _name, _uf in (("__eq__", "equal"), ("__ne__", "not_equal"), ("__lt__", "less"),
                   ("__le__", "less_equal"), ("__gt__", "greater"),
                   ("__ge__", "greater_equal"), ("__neg__", "negative"),
                   ("__abs__", "absolute"), ("__invert__", "invert"), ("__add__", "add"),
                   ("__sub__", "subtract"), ("__mul__", "multiply"),
                   ("__truediv__", "true_divide"), ("__floordiv__", "floor_divide"),
                   ("__mod__", "remainder"), ("__pow__", "power"), ("__and__", "bitwise_and"),
                   ("__or__", "bitwise_or"), ("__xor__", "bitwise_xor")):
    setattr(_LogicalArray, _name, _dunder(_uf))
    if _name not in ("__eq__", "__ne__", "__lt__", "__le__", "__gt__", "__ge__", "__neg__",
                     "__abs__", "__invert__"):
        setattr(_LogicalArray, "__r" + _name[2:], _dunder(_uf, reflected=True))
for _name in ("__array__", "__len__", "__iter__", "__getitem__", "__setitem__",
              "__float__", "__int__", "__index__", "__complex__", "__pos__", "__matmul__",
              "__rmatmul__", "__isub__", "__imul__", "__itruediv__", "__lshift__",
              "__rshift__", "__contains__"):
    setattr(_LogicalArray, _name, _need_loop)
_LogicalArray.__hash__ = object.__hash__


class _Flags:
    c_contiguous = True
    f_contiguous = False
    writeable = False


_FLAGS = _Flags()


class _LogicalCupyArray(_LogicalArray):
    """The stand-in for a CuPy array: narae's backend tells devices by the type's module."""

    __slots__ = ()


_LogicalCupyArray.__module__ = "cupy._narae_vmap"
_LOGICAL = (_LogicalArray, _LogicalCupyArray)


def _logical(phys, lvl=None):
    if type(phys).__module__.startswith("cupy"):
        return _LogicalCupyArray(phys, lvl)
    return _LogicalArray(phys, lvl)


# -- BatchedTensor ---------------------------------------------------------------------------
class BatchedTensor(Tensor):
    """A tensor of one vmap level: array batch-first (the level's folded batch in front),
    shape per sample (see the module doc)."""

    __slots__ = ("_pd", "_lvl", "_bsrc", "_ualias", "_face")

    @property
    def _data(self):
        if self._lvl.active:
            face = self._face
            if face is None or face._phys is not self._pd:
                face = self._face = _logical(self._pd, self._lvl)
            return face
        return self._pd  # after the vmap: a plain batch-first tensor (graph internals)

    @_data.setter
    def _data(self, value):
        if type(value) in _LOGICAL:
            value = value._phys
        self._pd = value
        self._face = None

    @property
    def device(self):
        return device_of(self._pd)

    def detach(self):
        b = _wrap_array(self._pd, self._lvl)
        b._version = self._version
        b._bsrc = None if self._bsrc is None else self._bsrc.detach()
        return b

    @property
    def data(self):
        return self.detach()

    @data.setter
    def data(self, value):
        raise NeedLoop("vmap: assigning .data of a batched tensor")

    def _previous(self):
        b = _wrap_array(self._pd, self._lvl, self.requires_grad)
        b._creator, b._out_idx, b._gen = self._creator, self._out_idx, self._gen
        return b

    def _take_over(self, result):
        self._check_inplace()
        if type(result) is not BatchedTensor or result._lvl is not self._lvl or \
                result._pd.shape != self._pd.shape:
            raise NeedLoop("vmap: in-place op changing what is batched")
        if result._creator is not None:
            if result._pd.dtype != self._pd.dtype:
                raise NeedLoop("vmap: in-place op changing the dtype")
            self._pd, self._face, self._ualias = result._pd, None, None
            self._creator, self._out_idx, self._gen = result._creator, result._out_idx, \
                result._gen
            self.requires_grad = True
        else:
            self._pd[...] = result._pd
        self._version[0] += 1
        return self

    def view_as(self, other):
        if tuple(other.shape) == tuple(self.shape):
            # through a node of its own, so autograd.grad can return a batched gradient for
            # it (``_track`` in narae.func's transforms differentiates ``x.view_as(x)``)
            return wrap(_engine._plain_call(_Link(), phys(self)), self._lvl)
        return self.reshape(tuple(other.shape))

    def item(self):
        """The value, when every sample has the same one (else vmap reruns as a loop)."""
        if not self._lvl.active:
            return Tensor.item(self)
        if self._data.size != 1:
            raise RuntimeError(f"a Tensor with {self._data.size} elements cannot be converted "
                               "to Scalar")
        return uniform(self._pd.reshape(-1), ".item()")

    def backward(self, *args, **kwargs):
        raise NeedLoop("vmap: .backward() inside vmap (the loop accumulates per sample)")

    def register_hook(self, hook):
        raise NeedLoop("vmap: hooks on batched tensors")

    def retain_grad(self):
        raise NeedLoop("vmap: retain_grad on batched tensors")

    def __repr__(self):
        if not self._lvl.active:
            return Tensor.__repr__(self)
        return (f"BatchedTensor(per-sample shape {tuple(self.shape)}, batch size "
                f"{self._pd.shape[0]}, dtype={self.dtype})")


def _wrap_array(array, lvl, requires_grad=False):
    b = BatchedTensor.__new__(BatchedTensor)
    b._pd = array
    b._face = None
    b._lvl = lvl
    b._bsrc = None
    b._ualias = None
    b.grad = None
    b.requires_grad = requires_grad
    b._creator = None
    b._out_idx = 0
    b._gen = 0
    b._version = [0]
    b._hooks = None
    b._retains_grad = False
    return b


def wrap(t, lvl):
    """The BatchedTensor standing for plain batch-first ``t`` (same node in the graph).

    Its node is marked with the level: it computes on batch-first arrays, so in a backward
    inside this vmap it is handed plain batch-first gradients (``_backward_layer``); to a
    later vmap it is an ordinary node. Callers give it tensors whose node output
    is used through the BatchedTensor only, so that node's gradients never mix a batched
    gradient with plain batch-first ones.
    """
    b = _wrap_array(t._data, lvl, t.requires_grad)
    fn = t._creator
    if fn is not None:
        fn._vmap_batched = lvl  # batch-first for this vmap only: a later one sees plain arrays
    b._creator, b._out_idx, b._gen, b._version = fn, t._out_idx, t._gen, t._version
    return b


class _Link(Function):
    """Identity: gives a leaf a node, so a BatchedTensor made from it is not a new leaf."""
    uses_inputs = False

    def forward(self, a):
        return a

    def backward(self, gy):
        return gy


def wrap_input(t, lvl):
    """``wrap`` for an input of vmap, through a node of its own when it is in a graph.

    A leaf that requires grad stays the one receiving gradients, and no node of the
    caller's graph gets marked as batched.
    """
    if t.requires_grad and grad_mode.state.enabled:
        t = _engine._plain_call(_Link(), t)
    return wrap(t, lvl)


def nest_input(p, lvl):
    """A mapped input of a nested vmap (its dim in front, of a parent level or unbatched)
    as a BatchedTensor of ``lvl``: (parent batch, n, ...) folded into one dim."""
    from ..ops.shape import reshape, broadcast_to
    parent = lvl.parent
    b = as_batched(p)
    if b is not None:
        if not b._lvl.active or not (b._lvl is parent or is_ancestor(b._lvl, parent)):
            raise NeedLoop("vmap: an input batched by an unrelated vmap")
        q = phys(lift(b, parent))
    else:
        shape = tuple(p.shape)
        q = broadcast_to(reshape(p, (1,) + shape), (parent.size,) + shape)
    q = reshape(q, (lvl.size,) + tuple(q.shape[2:]))
    return wrap_input(q, lvl)


class _Shared(Function):
    """Identity marking an unbatched tensor that requires grad where it meets batched ones.

    Its gradient comes summed over the batch: right for a backward after the vmap. A
    backward inside the vmap reaches this node only on the way to a tensor that
    ``autograd.grad`` was asked about (the engine skips the rest), and there torch's answer
    is a gradient per sample (``vmap(lambda x: grad(f)(w_closed_over, x))``): that is left
    to the loop.
    """
    uses_inputs = False

    def __init__(self, lvl):
        self.lvl = lvl

    def forward(self, a):
        return a

    def backward(self, gy):
        if self.lvl.active:
            raise NeedLoop("vmap: a per-sample gradient of an unbatched tensor")
        return gy


def alias(b):
    """A plain tensor standing for BatchedTensor ``b`` in the graph (same node, same array)."""
    t = Tensor(b._pd, b.requires_grad)
    t._creator, t._out_idx, t._gen, t._version = b._creator, b._out_idx, b._gen, b._version
    return t


class _Unwrap(Function):
    """Identity from a BatchedTensor (a leaf or a ``_Link`` output) to its plain array.

    All uses of that tensor go through one such node, so its gradient arrives here already
    summed and is handed back as a BatchedTensor: ``autograd.grad`` inside vmap returns it
    with the per-sample shape. (Other batched tensors are used through plain aliases: their
    node also receives plain gradients, from ``Function.output()`` in double backward, which
    a BatchedTensor gradient must not be added to.)
    """
    uses_inputs = False

    def forward(self, a):
        return a._phys if type(a) in _LOGICAL else a

    def backward(self, gy):
        lvl = self.__dict__.get("lvl")
        if lvl is not None and lvl.active:
            if type(gy._data) in _LOGICAL:  # (the engine's sum of two gradients)
                gy = as_batched(gy)
            if type(gy) is BatchedTensor:
                # a backward of a vmap nested in this one: a gradient per inner sample
                base = gy._lvl.base
                if base is not None and base[1] is lvl and base[0] is _current:
                    return from_relative(gy)
                raise NeedLoop("vmap: a gradient of another vmap level")
            if gy._creator is not None:  # (create_graph) a node of its own: see ``wrap``
                gy = _engine._plain_call(_Link(), gy)
            return wrap(gy, lvl)
        return gy


class _Lift(Function):
    """A tensor of an outer vmap level used at an inner one: each outer sample repeated
    over the inner batch (the outer index is the major part of the inner level's dim)."""
    uses_inputs = False

    def __init__(self, src, dst):
        self.src, self.dst = src, dst

    def forward(self, a):
        xp = get_array_module(a)
        return xp.repeat(a, self.dst.size // self.src.size, axis=0)

    def backward(self, gy):
        from ..ops.shape import reshape, movedim
        src, dst = self.src, self.dst
        shape = (src.size, dst.size // src.size) + tuple(gy.shape[1:])
        if dst.active:
            if type(gy._data) in _LOGICAL:
                gy = as_batched(gy)
            # a backward inside the inner vmap wants per-inner-sample gradients of the outer
            # tensor: the inner level's batch relative to the outer one, in front
            if type(gy) is BatchedTensor or _current is not dst:
                raise NeedLoop("vmap: a per-sample gradient across several vmap levels")
            return wrap(movedim(reshape(gy, shape), 1, 0), relative(dst, src))
        return reshape(gy, shape).sum(1)  # after the inner vmap: summed over its batch


def lift(x, lvl):
    """BatchedTensor ``x`` of an enclosing level as a BatchedTensor of level ``lvl``."""
    if x._lvl is lvl:
        return x
    y = wrap(_engine._plain_call(_Lift(x._lvl, lvl), phys(x)), lvl)
    return y


def to_relative(g, c, m):
    """A gradient of level C as one of level ``relative(C, M)`` (M-physical arrays)."""
    from ..ops.shape import reshape, movedim
    p = phys(g)
    p = reshape(p, (m.size, c.size // m.size) + tuple(p.shape[1:]))
    return wrap(movedim(p, 1, 0), relative(c, m))


def from_relative(g):
    """Back from ``relative(C, M)`` to level C."""
    from ..ops.shape import reshape, movedim
    c, m = g._lvl.base
    p = movedim(phys(g), 0, 1)
    return wrap(reshape(p, (c.size,) + tuple(p.shape[2:])), c)


def phys(x):
    """The plain batch-first tensor for BatchedTensor ``x`` (``x`` itself when unbatched).

    Usually a plain alias in the same place of the graph. A leaf, or the output of a
    ``_Link`` (what ``autograd.grad`` differentiates with respect to), goes through its one
    ``_Unwrap`` node, which gives it its gradient as a BatchedTensor.
    """
    if type(x) is not BatchedTensor:
        return x
    if x.requires_grad and grad_mode.state.enabled:
        src = x._creator
        if src is not None and type(src) is not _Link:
            return alias(x)
        a = x._ualias
        if a is None or a._creator.__dict__.get("_released") or a._data is not x._pd:
            u = _Unwrap()
            u.lvl = x._lvl
            a = x._ualias = _engine._plain_call(u, x)
        return a
    a = Tensor(x._pd)
    a._version = x._version
    return a


def bsrc(x):
    """The unbatched tensor a broadcast input stands for, where using it is exact.

    Exact when no per-sample gradient is asked of ``x``: it does not require grad, or its
    gradient flows on to the unbatched source (summed over the batch, as it should be).
    """
    s = x._bsrc
    if s is None:
        return None
    if not x.requires_grad or x._creator is not None:
        return s
    return None


# -- the call layer --------------------------------------------------------------------------
RULES = {}   # Function class -> rule(fn, inputs, inner, lvl) -> outputs or None (fallback)


def _call_layer(inner):
    def call(fn, *inputs):
        for x in inputs:
            if type(x) is BatchedTensor or type(x._data) in _LOGICAL:
                return _batched_call(fn, inputs, inner)
        return inner(fn, *inputs)
    return call


def as_batched(x):
    """``x`` as a BatchedTensor if it is batched (a plain Tensor may hold a batched face)."""
    if type(x) is BatchedTensor:
        return x
    if isinstance(x, Tensor) and type(x._data) in _LOGICAL:
        if x.requires_grad:
            raise NeedLoop("vmap: a plain tensor holding a batched array requires grad")
        face = x._data
        b = _wrap_array(face._phys, face._lvl)
        b._version = x._version
        return b
    return None


def _batched_call(fn, inputs, inner):
    new = None
    levels = []
    for i, x in enumerate(inputs):
        if type(x) is not BatchedTensor and type(x._data) in _LOGICAL:
            if new is None:
                new = list(inputs)
            new[i] = x = as_batched(x)
        if type(x) is BatchedTensor:
            xl = x._lvl
            if not xl.active:
                raise NeedLoop("vmap: a batched tensor used after its vmap")
            if x._bsrc is not None:
                s = bsrc(x)
                if s is not None:
                    if new is None:
                        new = list(inputs)
                    new[i] = s
                    continue
            if not levels or (xl is not levels[0] and all(xl is not v for v in levels)):
                levels.append(xl)
    if new is not None:
        inputs = tuple(new)
    if not levels:
        return inner(fn, *inputs)
    if len(levels) == 1:
        lvl = levels[0]
    else:  # tensors of enclosing levels are repeated over the innermost one's batch
        lvl = _deepest(levels)
        inputs = tuple(lift(x, lvl) if type(x) is BatchedTensor and x._lvl is not lvl else x
                       for x in inputs)
    if grad_mode.state.enabled:
        for i, x in enumerate(inputs):
            if type(x) is not BatchedTensor and x.requires_grad:
                if new is None or type(new) is not list:
                    new = list(inputs)
                new[i] = _engine._plain_call(_Shared(lvl), x)
        inputs = tuple(new) if new is not None else inputs
    rule = RULES.get(type(fn))
    count = lvl.counter
    if rule is not None:
        out = rule(fn, inputs, inner, lvl)
        if out is not None:
            count.fast += 1
            return out
    count.slow += 1
    name = type(fn).__name__
    count.slow_ops[name] = count.slow_ops.get(name, 0) + 1
    return _fallback(fn, inputs, inner, lvl)


def finish(ys, lvl):
    """Wrap a rule's plain batch-first outputs as BatchedTensors (and mark their node)."""
    if type(ys) is tuple:
        return tuple(finish(y, lvl) for y in ys)
    if ys._data.shape[:1] != (lvl.size,):
        raise NeedLoop("vmap: a rule lost the batch dimension")
    return wrap(ys, lvl)


def _holds_batched(v):
    t = type(v)
    if t is BatchedTensor or t in _LOGICAL:
        return True
    if t is tuple or t is list:
        return any(_holds_batched(u) for u in v)
    if t is dict:
        return any(_holds_batched(u) for u in v.values())
    return False


def _fallback(fn, inputs, inner, lvl):
    """Run ``fn`` once per sample on slices of its batched inputs and stack the results."""
    from ..ops.shape import stack
    if any(_holds_batched(v) for v in fn.__dict__.values()):
        raise NeedLoop(f"vmap: {type(fn).__name__} holds a batched value")
    batched = [type(x) is BatchedTensor for x in inputs]
    ps = [phys(x) if b else x for x, b in zip(inputs, batched)]
    results = []
    for i in range(lvl.size):
        args = [p[i] if b else p for p, b in zip(ps, batched)]
        results.append(inner(copy.copy(fn), *args))
    if type(results[0]) is tuple:
        return tuple(wrap(stack([r[k] for r in results], 0), lvl)
                     for k in range(len(results[0])))
    return wrap(stack(results, 0), lvl)


# -- the backward layer ----------------------------------------------------------------------
def _backward_layer(fn, gys, inner):
    """Hand a node computing on batch-first arrays plain batch-first gradients.

    A gradient arriving there without the batch dimension (``autograd.grad``'s implicit
    ones, made from the per-sample shape) is the same for every sample: it is broadcast.
    Other nodes (ops recorded on unbatched tensors) keep BatchedTensor gradients: their
    backward then runs batched through the call layer (``vmap(vjp_fn)(cotangents)``).
    A node of an enclosing level M, reached by a backward inside a nested level C, gets
    its gradients at ``relative(C, M)`` (C's extra batch in front of M's arrays): its
    backward runs batched over that, like an unbatched node's.
    """
    m = fn.__dict__.get("_vmap_batched")
    cur = _current
    if m is None or not m.active:
        if cur is None or not cur.active:
            return inner(fn, gys)
        gys = _batch_logical_grads(fn, gys, cur)
        if not any(type(g) is BatchedTensor or (g is not None and type(g._data) in _LOGICAL)
                   for g in gys):
            return inner(fn, gys)
        return _batched_backward(fn, gys, inner)
    if m is cur:
        rel = None
    elif cur is not None and is_ancestor(m, cur):
        rel = relative(cur, m)
    else:
        raise NeedLoop("vmap: a backward through nodes of another vmap level")
    fixed = None
    for i, g in enumerate(gys):
        if g is None:
            continue
        if type(g) is not BatchedTensor and type(g._data) in _LOGICAL:
            if g._creator is not None:
                raise NeedLoop("vmap: a recorded gradient holding a batched array")
            g = as_batched(g)
        if type(g) is BatchedTensor:
            gl = g._lvl
            if gl is m or is_ancestor(gl, m):
                g = alias(lift(g, m))        # per sample of M: M's plain arrays
            elif rel is not None and gl is rel:
                continue
            elif rel is not None and (gl is cur or (is_ancestor(m, gl) and
                                                    is_ancestor(gl, cur))):
                g = to_relative(lift(g, cur), cur, m)
            else:
                raise NeedLoop("vmap: a gradient of another vmap level")
        else:
            shape = fn._out_meta[i][0]
            if g._data.shape == shape:
                continue
            from ..ops.shape import broadcast_to
            g = broadcast_to(g, shape)
        if fixed is None:
            fixed = list(gys)
        fixed[i] = g
    gys = gys if fixed is None else fixed
    return inner(fn, gys) if rel is None else _batched_backward(fn, gys, inner)


def _batched_backward(fn, gys, inner):
    """A node's backward on batched gradients. A fused backward reading raw arrays (it
    cannot batch) is run again through its differentiable formula (the one it uses under
    ``create_graph``), whose ops batch; its results are detached, as without a graph."""
    try:
        return _no_sparse(inner(fn, gys))
    except NeedLoop:
        if grad_mode.state.enabled:
            raise
    with grad_mode.enable_grad():
        gxs = inner(fn, gys)
    single = type(gxs) is not tuple
    gxs = _no_sparse((gxs,) if single else gxs)
    gxs = tuple(g.detach() if isinstance(g, Tensor) and g.requires_grad else g for g in gxs)
    return gxs[0] if single else gxs


def _no_sparse(gxs):
    """A sparse gradient (an indexing op's backward) of batched values, as a batched dense
    one: the engine would scatter the stand-in's values into a plain buffer."""
    if type(gxs) is not tuple:
        return _no_sparse((gxs,))[0]
    fixed = None
    for i, g in enumerate(gxs):
        if type(g) is _SparseGrad and type(g.values) in _LOGICAL:
            from ..ops.index import ScatterAdd
            v = g.values
            if fixed is None:
                fixed = list(gxs)
            fixed[i] = ScatterAdd(g.index, g.shape, g.repeated)(_wrap_array(v._phys, v._lvl))
    return gxs if fixed is None else tuple(fixed)


def _batch_logical_grads(fn, gys, lvl):
    """A node recorded on BatchedTensors themselves (a torch-style custom Function, whose
    ``apply`` bypasses the call layer) computes per sample: a plain batch-first gradient
    reaching it (from a rule's node) is handed over as a BatchedTensor."""
    fixed = None
    meta = fn._out_meta
    for i, g in enumerate(gys):
        if g is None or type(g) is BatchedTensor or type(g._data) in _LOGICAL:
            continue
        shape = tuple(meta[i][0])
        if g._data.shape == shape or g._data.shape != (lvl.size,) + shape:
            continue
        if g._creator is not None:
            g = _engine._plain_call(_Link(), g)
        if fixed is None:
            fixed = list(gys)
        fixed[i] = wrap(g, lvl)
    return gys if fixed is None else fixed
