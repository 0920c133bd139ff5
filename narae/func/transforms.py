"""``grad``, ``grad_and_value``, ``vjp``, ``jvp``, ``jacrev``, ``jacfwd``, ``hessian``.

Each transform makes fresh differentiable leaves for the arguments it differentiates and
calls ``autograd.grad``. A depth counter tells a transform whether another one is running
around it: then (or when the caller's tensors require grad) the backward is recorded
(``create_graph=True``), so ``grad(grad(f))``, ``jacrev(jacrev(f))`` and
``vmap(grad(f))`` compose. At the outermost level nothing extra is recorded.
"""
import functools

from ..autograd import grad_mode
from ._pytree import tree_flatten, tree_unflatten

__all__ = ["grad", "grad_and_value", "vjp", "jvp", "jacrev", "jacfwd", "hessian", "linearize"]


class _Depth:
    level = 0


_depth = _Depth()


def _Tensor():
    from ..tensor import Tensor
    return Tensor


def _fw():
    from ..autograd import forward_ad
    return forward_ad


def _forward_level_active():
    return _fw()._state.level is not None


def _track(x):
    """A differentiable stand-in for ``x``: linked to x's graph when x is already tracked.

    Inside a forward-AD level (``jacfwd(jacrev(f))``) the stand-in keeps x's tangent, so
    the reverse pass below it is differentiated forward (forward-over-reverse)."""
    if x.requires_grad:
        return x.view_as(x)
    t = x.detach().requires_grad_(True)
    if _forward_level_active():
        tangent = _fw()._get(x)
        if tangent is not None:
            _fw()._set(t, tangent)
    return t


def _record_graph(outer, tracked):
    """Keep the backward's graph: a transform runs around this one, the inputs are tracked,
    or tangents must flow through the backward pass (forward-over-reverse)."""
    return outer > 0 or tracked or (_forward_level_active() and bool(_fw()._tangents))


def _argnums_tuple(argnums, nargs, api):
    if isinstance(argnums, int):
        nums = (argnums,)
    elif isinstance(argnums, tuple) and argnums and all(isinstance(a, int) for a in argnums):
        nums = argnums
    else:
        raise RuntimeError(f"{api}: argnums must be int or Tuple[int, ...], got: "
                           f"{type(argnums)}" if not isinstance(argnums, tuple) else
                           f"{api}: argnums must be non-empty, got: {argnums}")
    if nargs == 0:
        raise RuntimeError(f"{api}: f must take at least one positional arg, got 0")
    out = []
    for a in nums:
        if not -nargs <= a < nargs:
            raise RuntimeError(f"Got argnums={a}, but only {nargs} positional inputs")
        out.append(a % nargs)
    if len(set(out)) != len(out):
        raise RuntimeError(f"{api}: argnums must be unique, got {argnums}")
    return tuple(out)


class _Prepared:
    """The arguments with the differentiated ones replaced by tracked leaves."""

    def __init__(self, args, argnums, api):
        Tensor = _Tensor()
        self.single = isinstance(argnums, int)
        self.nums = _argnums_tuple(argnums, len(args), api)
        args = list(args)
        self.leaves, self.specs, self.tracked_outer = [], [], False
        for n in self.nums:
            leaves, spec = tree_flatten(args[n])
            for x in leaves:
                if not isinstance(x, Tensor):
                    raise RuntimeError(f"{api}: Expected the argument at argnums {n} to be "
                                       f"Tensors (or containers of Tensors), got {type(x)}")
                if not x.is_floating_point():
                    raise RuntimeError(f"{api}: only Tensors of floating point dtype can be "
                                       f"differentiated, got {x.dtype}")
                if x.requires_grad:
                    self.tracked_outer = True
            new = [_track(x) for x in leaves]
            self.leaves.append(new)
            self.specs.append(spec)
            args[n] = tree_unflatten(new, spec)
        self.args = args
        self.flat = [x for group in self.leaves for x in group]

    def pack(self, flat_grads):
        """Gradients shaped like the differentiated arguments (argnums' structure)."""
        out, i = [], 0
        for group, spec in zip(self.leaves, self.specs):
            out.append(tree_unflatten(flat_grads[i:i + len(group)], spec))
            i += len(group)
        return out[0] if self.single else tuple(out)


def _zeros_like(x):
    from ..creation import zeros_like
    return zeros_like(x)


def _detach_tree(tree):
    Tensor = _Tensor()
    leaves, spec = tree_flatten(tree)
    return tree_unflatten([x.detach() if isinstance(x, Tensor) else x for x in leaves], spec)


def _split_aux(out, has_aux, caller):
    """``(output, aux)`` from ``f``'s result: with ``has_aux`` it must be that pair."""
    if not has_aux:
        return out, None
    if not (isinstance(out, tuple) and len(out) == 2):
        raise RuntimeError(f"{caller}: output of function f should be a tuple: (output, aux) "
                           "if has_aux is True")
    return out


def grad_and_value(func, argnums=0, has_aux=False):
    """``f -> (df/dx, f(x))`` for a scalar-valued ``f`` (with ``has_aux``: ``(g, (f, aux))``)."""
    @functools.wraps(func)
    def wrapper(*args, **kwargs):
        from ..autograd import grad as autograd_grad
        Tensor = _Tensor()
        outer = _depth.level
        _depth.level += 1
        try:
            with grad_mode.enable_grad():
                prep = _Prepared(args, argnums, "grad_and_value(f)(*args)")
                out = func(*prep.args, **kwargs)
                out, aux = _split_aux(out, has_aux, "grad_and_value(f)(*args)")
                if not isinstance(out, Tensor):
                    raise RuntimeError("grad_and_value(f)(*args): Expected f(*args) to return "
                                       f"a Tensor, got {type(out)}")
                if out.dim() != 0:
                    raise RuntimeError("grad_and_value(f)(*args): Expected f(*args) to return "
                                       f"a scalar Tensor, got tensor with {out.dim()} dims. "
                                       "Maybe you wanted to use the vjp or jacrev APIs "
                                       "instead?")
                create = _record_graph(outer, prep.tracked_outer)
                if out.requires_grad:
                    gs = autograd_grad(out, prep.flat, create_graph=create, allow_unused=True)
                else:
                    gs = (None,) * len(prep.flat)
                gs = [_zeros_like(x) if g is None else g for g, x in zip(gs, prep.flat)]
        finally:
            _depth.level -= 1
        if not create:
            out = out.detach()
            aux = _detach_tree(aux)
        g = prep.pack(gs)
        return (g, (out, aux)) if has_aux else (g, out)
    return wrapper


def grad(func, argnums=0, has_aux=False):
    """``f -> df/dx`` for a scalar-valued ``f``; ``argnums`` picks the arguments (int/tuple)."""
    gv = grad_and_value(func, argnums, has_aux)

    @functools.wraps(func)
    def wrapper(*args, **kwargs):
        g, value = gv(*args, **kwargs)
        return (g, value[1]) if has_aux else g
    return wrapper


def vjp(func, *primals, has_aux=False):
    """``(f(*primals), vjp_fn)``: ``vjp_fn(cotangents)`` returns one gradient per primal."""
    from ..autograd import grad as autograd_grad
    Tensor = _Tensor()
    outer = _depth.level
    _depth.level += 1
    try:
        with grad_mode.enable_grad():
            prep = _Prepared(primals, tuple(range(len(primals))), "vjp(f, *primals)")
            out = func(*prep.args)
            out, aux = _split_aux(out, has_aux, "vjp(f, *primals)")
    finally:
        _depth.level -= 1
    out_leaves, out_spec = tree_flatten(out)
    for o in out_leaves:
        if not isinstance(o, Tensor):
            raise RuntimeError("vjp(f, *primals): Expected f to be a function that has only "
                               f"Tensors or containers of Tensors as output, got {type(o)}")
    base_create = _record_graph(outer, prep.tracked_outer)

    def vjp_fn(*cotangents):
        cts = cotangents[0] if len(cotangents) == 1 else cotangents
        ct_leaves, ct_spec = tree_flatten(cts)
        if len(ct_leaves) != len(out_leaves):
            raise RuntimeError("Expected pytree structure of cotangents to be the same as "
                               "pytree structure of outputs to the function")
        for o, c in zip(out_leaves, ct_leaves):
            if tuple(o.shape) != tuple(c.shape):
                raise RuntimeError(f"Mismatch in shape: grad_output has a shape of "
                                   f"{tuple(c.shape)} and output has a shape of "
                                   f"{tuple(o.shape)}")
        create = base_create or _depth.level > 0 or any(c.requires_grad for c in ct_leaves)
        pairs = [(o, c) for o, c in zip(out_leaves, ct_leaves) if o.requires_grad]
        with grad_mode.enable_grad():
            if pairs:
                gs = autograd_grad([o for o, _ in pairs], prep.flat, [c for _, c in pairs],
                                   retain_graph=True, create_graph=create, allow_unused=True)
            else:
                gs = (None,) * len(prep.flat)
        gs = [_zeros_like(x) if g is None else g for g, x in zip(gs, prep.flat)]
        res = prep.pack(gs)
        return res
    shown = out if base_create else _detach_tree(out)
    if has_aux:
        return shown, vjp_fn, (aux if base_create else _detach_tree(aux))
    return shown, vjp_fn


def _check_jvp_args(primals, tangents):
    """Flattened primals and tangents, checked as torch.func.jvp checks them."""
    Tensor = _Tensor()
    api = "jvp(f, primals, tangents)"
    if not isinstance(primals, tuple):
        raise RuntimeError(f"{api}: Expected primals to be a tuple. E.g. it should be valid to "
                           "call f(*primals).")
    if not isinstance(tangents, tuple) or len(tangents) != len(primals):
        raise RuntimeError(f"{api}: Expected tangents to be a tuple of the same length as "
                           "primals")
    p_leaves, p_spec = tree_flatten(primals)
    t_leaves, t_spec = tree_flatten(tangents)
    if len(p_leaves) != len(t_leaves):
        raise RuntimeError(f"{api}: Expected primals and tangents to have the same python "
                           f"structure. For example, if primals is a tuple of 3 tensors, "
                           f"tangents also must be. Got primals with structure {p_spec} and "
                           f"tangents with structure {t_spec}")
    for p, t in zip(p_leaves, t_leaves):
        if not isinstance(p, Tensor) or not isinstance(t, Tensor):
            raise RuntimeError(f"{api}: Expected primals and tangents to only contain Tensors, "
                               f"got {type(p)} and {type(t)}")
        if not p.is_floating_point():
            raise ValueError(f"Expected primal to be floating point or complex, but got: "
                             f"{p.dtype}")
        if tuple(p.shape) != tuple(t.shape):
            raise RuntimeError("Trying to set a forward gradient that has a different size than "
                               "that of the original Tensor, this is not supported. Tensor is "
                               f"of size {list(p.shape)} while the given forward gradient is of "
                               f"size {list(t.shape)}.")
    return p_leaves, p_spec, t_leaves


def _check_outputs(out_leaves, api):
    Tensor = _Tensor()
    for o in out_leaves:
        if not isinstance(o, Tensor):
            raise RuntimeError(f"{api}: expected f(*primals) to return only tensors, got "
                               f"unsupported type {type(o)}")


def jvp(func, primals, tangents, *, strict=False, has_aux=False):
    """``(f(*primals), J @ tangents)``: one forward pass carrying the tangents (forward AD).

    Inside another forward-AD level (``jvp`` of ``jvp``: narae has one level at a time, as
    torch's forward_ad) the double-vjp trick is used instead: same result, reverse mode.
    """
    p_leaves, p_spec, t_leaves = _check_jvp_args(primals, tangents)
    if _forward_level_active():
        return _jvp_reverse(func, primals, tangents, has_aux)
    fw = _fw()
    outer = _depth.level
    _depth.level += 1
    try:
        with fw.dual_level():
            duals = [fw.make_dual(p, t) for p, t in zip(p_leaves, t_leaves)]
            out = func(*tree_unflatten(duals, p_spec))
            out, aux = _split_aux(out, has_aux, "jvp(f, primals, tangents)")
            out_leaves, out_spec = tree_flatten(out)
            _check_outputs(out_leaves, "jvp(f, primals, tangents)")
            prims, tans = [], []
            for o in out_leaves:
                prim, tan = fw.unpack_dual(o)
                prims.append(prim)
                tans.append(_zeros_like(o.detach()) if tan is None else tan)
    finally:
        _depth.level -= 1
    create = outer > 0 or any(x.requires_grad for x in p_leaves + t_leaves) or \
        any(o.requires_grad for o in prims)
    if not create:
        prims, tans = [o.detach() for o in prims], [t.detach() for t in tans]
        aux = _detach_tree(aux)
    res = (tree_unflatten(prims, out_spec), tree_unflatten(tans, out_spec))
    return res + (aux,) if has_aux else res


def _jvp_reverse(func, primals, tangents, has_aux):
    """``jvp`` by the double-vjp trick (reverse mode twice): ``J t = d<J^T u, t>/du``."""
    from ..autograd import grad as autograd_grad
    outer = _depth.level
    _depth.level += 1
    try:
        with grad_mode.enable_grad():
            prep = _Prepared(primals, tuple(range(len(primals))), "jvp(f, primals, tangents)")
            t_leaves = tree_flatten(tangents)[0]
            out = func(*prep.args)
            out, aux = _split_aux(out, has_aux, "jvp(f, primals, tangents)")
            out_leaves, out_spec = tree_flatten(out)
            _check_outputs(out_leaves, "jvp(f, primals, tangents)")
            us = [_zeros_like(o).requires_grad_(True) for o in out_leaves]
            pairs = [(o, u) for o, u in zip(out_leaves, us) if o.requires_grad]
            if pairs:
                gi = autograd_grad([o for o, _ in pairs], prep.flat, [u for _, u in pairs],
                                   create_graph=True, allow_unused=True)
            else:
                gi = (None,) * len(prep.flat)
            create = outer > 0 or prep.tracked_outer or any(t.requires_grad for t in t_leaves)
            keep = [(g, t) for g, t in zip(gi, t_leaves) if g is not None and g.requires_grad]
            if keep:
                res = autograd_grad([g for g, _ in keep], us, [t for _, t in keep],
                                    create_graph=True, allow_unused=True)
            else:
                res = (None,) * len(us)
            res = [_zeros_like(o) if r is None else r for r, o in zip(res, out_leaves)]
    finally:
        _depth.level -= 1
    if not create:
        out, res = _detach_tree(out), [r.detach() for r in res]
        aux = _detach_tree(aux)
    tangent_out = tree_unflatten(res, out_spec)
    return (out, tangent_out, aux) if has_aux else (out, tangent_out)


def linearize(func, *primals):
    """``(f(*primals), jvp_fn)``: ``jvp_fn(*tangents)`` is ``J @ tangents`` at ``primals``.

    As torch.func.linearize: for many jvps at one point. Each call runs a forward-AD pass
    (torch traces the linearized graph once; the results are the same).
    """
    Tensor = _Tensor()
    p_leaves, p_spec = tree_flatten(primals)
    for p in p_leaves:
        if not isinstance(p, Tensor):
            raise RuntimeError(f"linearize: Expected primals to only contain Tensors, got "
                               f"{type(p)}")
    out = func(*primals)  # (in the caller's graph when the primals require grad, as torch)
    out_leaves, out_spec = tree_flatten(out)
    _check_outputs(out_leaves, "linearize")
    frozen = [p.detach() for p in p_leaves]

    def jvp_fn(*tangents):
        t_leaves, t_spec = tree_flatten(tangents)
        if t_spec != p_spec:
            raise RuntimeError(f"Expected the tangents {t_spec} to have the same argument "
                               f"structure as the primals {p_spec}")
        for p, t in zip(frozen, t_leaves):
            if not isinstance(t, Tensor) or tuple(t.shape) != tuple(p.shape) or \
                    t.dtype != p.dtype:
                got = (tuple(t.shape), t.dtype) if isinstance(t, Tensor) else type(t)
                raise RuntimeError(f"linearize: Mismatch in shape or dtype of tangent: "
                                   f"expected {(tuple(p.shape), p.dtype)}, got {got}")
        _, tans = jvp(lambda *a: func(*a), tree_unflatten(frozen, p_spec),
                      tree_unflatten(t_leaves, p_spec))
        return tans
    return out, jvp_fn


def jacrev(func, argnums=0, *, has_aux=False, chunk_size=None, _preallocate_and_copy=False):
    """``f -> J``: the Jacobian by reverse mode, all output elements' backward passes in one
    ``vmap``-batched backward over the rows of the identity (torch's way).

    The result nests like torch's: the output's structure, each leaf holding the argument's
    structure (a tuple over ``argnums`` when it is a tuple), each Jacobian block of shape
    ``output.shape + input.shape``.
    """
    if chunk_size is not None and (not isinstance(chunk_size, int) or chunk_size <= 0):
        raise ValueError("jacrev: `chunk_size` should be greater than 0.")

    @functools.wraps(func)
    def wrapper(*args, **kwargs):
        from ..autograd import grad as autograd_grad
        from ..backend import get_array_module
        from ..creation import zeros
        from .vmap import vmap
        Tensor = _Tensor()
        outer = _depth.level
        _depth.level += 1
        try:
            with grad_mode.enable_grad():
                prep = _Prepared(args, argnums, "jacrev")
                out = func(*prep.args, **kwargs)
                out, aux = _split_aux(out, has_aux, "jacrev(f, ...)(*args)")
                out_leaves, out_spec = tree_flatten(out)
                for o in out_leaves:
                    if not isinstance(o, Tensor):
                        raise RuntimeError("jacrev(f, ...)(*args): Expected f to be a function "
                                           "that has only Tensors or containers of Tensors as "
                                           f"output, got {type(o)}")
                create = _record_graph(outer, prep.tracked_outer)
                blocks = []
                for o in out_leaves:
                    n = o.numel()
                    rows = [[] for _ in prep.flat]
                    if o.requires_grad and n:
                        eye = get_array_module(o._data).eye(n, dtype=o._data.dtype)
                        basis = Tensor(eye.reshape((n,) + tuple(o.shape)))

                        def vjp_row(onehot, o=o):
                            gs = autograd_grad(o, prep.flat, onehot, retain_graph=True,
                                               create_graph=create, allow_unused=True)
                            return tuple(_zeros_like(x) if g is None else g
                                         for g, x in zip(gs, prep.flat))
                        # all rows in one batched backward (vmap falls back to a loop where
                        # an op has no batching rule)
                        for j, g in enumerate(vmap(vjp_row, chunk_size=chunk_size)(basis)):
                            rows[j] = [g]
                    per_input = []
                    for j, x in enumerate(prep.flat):
                        shape = tuple(o.shape) + tuple(x.shape)
                        per_input.append(rows[j][0].reshape(shape) if rows[j] else
                                         zeros(shape, dtype=x.dtype, device=x.device))
                    blocks.append(prep.pack(per_input))
        finally:
            _depth.level -= 1
        if not create:
            blocks = [_detach_tree(b) for b in blocks]
            aux = _detach_tree(aux)
        jac = tree_unflatten(blocks, out_spec)
        return (jac, aux) if has_aux else jac
    return wrapper


def jacfwd(func, argnums=0, has_aux=False, *, randomness="error"):
    """``f -> J`` by forward mode: one forward-AD pass per input element (a column of J).

    Cheaper than ``jacrev`` when the inputs are fewer than the outputs. Inside another
    forward-AD level (``jacfwd(jacfwd(f))``; narae has one level at a time) the inner one
    is computed in reverse mode, with the same result.
    """
    if randomness not in ("error", "different", "same"):
        raise RuntimeError(f"Only allowed values for randomness are 'error', 'different', or "
                           f"'same'. Got {randomness}")
    rev = jacrev(func, argnums, has_aux=has_aux)

    @functools.wraps(func)
    def wrapper(*args, **kwargs):
        if _forward_level_active():
            return rev(*args, **kwargs)
        return _jacfwd(func, argnums, has_aux, args, kwargs)
    return wrapper


def _jacfwd(func, argnums, has_aux, args, kwargs):
    from ..backend import get_array_module
    from ..creation import zeros
    from ..ops.shape import stack
    Tensor = _Tensor()
    fw = _fw()
    api = "jacfwd(f, ...)(*args)"
    single = isinstance(argnums, int)
    nums = _argnums_tuple(argnums, len(args), "jacfwd")
    groups, specs = [], []
    for n in nums:
        leaves, spec = tree_flatten(args[n])
        for x in leaves:
            if not isinstance(x, Tensor):
                raise RuntimeError(f"jacfwd: Expected the argument at argnums {n} to be Tensors "
                                   f"(or containers of Tensors), got {type(x)}")
            if not x.is_floating_point():
                raise RuntimeError(f"jacfwd: only Tensors of floating point dtype can be "
                                   f"differentiated, got {x.dtype}")
        groups.append(leaves)
        specs.append(spec)
    flat = [x for g in groups for x in g]

    def call(j=None, e=None):
        """f with input leaf j made dual with tangent e (plain f when j is None)."""
        new_args = list(args)
        k = 0
        for n, leaves, spec in zip(nums, groups, specs):
            cur = []
            for x in leaves:
                cur.append(fw.make_dual(x, e) if k == j else x)
                k += 1
            new_args[n] = tree_unflatten(cur, spec)
        out = func(*new_args, **kwargs)
        return _split_aux(out, has_aux, api)

    outer = _depth.level
    _depth.level += 1
    first = None
    cols = [[] for _ in flat]  # per input leaf: one list of output tangents per element
    try:
        with fw.dual_level():
            for j, x in enumerate(flat):
                n = x.numel()
                if not n:
                    continue
                eye = get_array_module(x._data).eye(n, dtype=x._data.dtype)
                for k in range(n):
                    out, aux = call(j, Tensor(eye[k].reshape(x.shape)))
                    out_leaves, out_spec = tree_flatten(out)
                    _check_outputs(out_leaves, api)
                    tans = []
                    for o in out_leaves:
                        p, t = fw.unpack_dual(o)
                        tans.append(_zeros_like(o.detach()) if t is None else t)
                    if first is None:
                        first = ([fw.unpack_dual(o).primal for o in out_leaves], out_spec, aux)
                    cols[j].append(tans)
        if first is None:  # no input elements at all: f once for the output structure
            out, aux = call()
            out_leaves, out_spec = tree_flatten(out)
            _check_outputs(out_leaves, api)
            first = (out_leaves, out_spec, aux)
    finally:
        _depth.level -= 1
    out_leaves, out_spec, aux = first
    blocks = []
    for i, o in enumerate(out_leaves):
        per_input = []
        for j, x in enumerate(flat):
            shape = tuple(o.shape) + tuple(x.shape)
            if cols[j]:
                col = stack([c[i].reshape(-1) for c in cols[j]], -1)
                per_input.append(col.reshape(shape))
            else:
                per_input.append(zeros(shape, dtype=o.dtype, device=o.device))
        packed, at = [], 0
        for g in groups:
            packed.append(per_input[at:at + len(g)])
            at += len(g)
        packed = [tree_unflatten(p, spec) for p, spec in zip(packed, specs)]
        blocks.append(packed[0] if single else tuple(packed))
    create = outer > 0 or any(x.requires_grad for x in flat)
    if not create:
        blocks = [_detach_tree(b) for b in blocks]
        aux = _detach_tree(aux)
    jac = tree_unflatten(blocks, out_spec)
    return (jac, aux) if has_aux else jac


def hessian(func, argnums=0):
    """``f -> H``: the Jacobian of the Jacobian (``jacfwd(jacrev(f))``)."""
    return jacfwd(jacrev(func, argnums), argnums)
