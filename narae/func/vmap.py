"""``vmap``: map a function over a batch dimension of its inputs.

``func`` runs once, on ``BatchedTensor`` inputs whose arrays hold the whole batch (the
batch dim in front) while their shapes are per-sample; every op on them runs batched (see
``_batching``). Where something cannot be batched exactly (``.item()`` or ``bool()`` of a
batched value, random numbers, an op reading batched values in Python), ``func`` is rerun as
a loop: once per batch index on the slices ``x.select(in_dim, i)``, results stacked along
``out_dims``. Either way results equal torch.func.vmap's, and gradients flow both ways
(``grad(vmap(f))`` and ``vmap(grad(f))``). A vmap called inside a running one (``vmap(vmap(f))``,
``vmap(jacrev(f))``, whose Jacobian is a vmap over rows) is vectorized too, as a level whose
batch is folded behind its parent's; when it cannot be, only that inner call reruns as a loop.
"""
import functools

from ._pytree import tree_flatten, tree_unflatten, broadcast_prefix
from . import _batching

__all__ = ["vmap"]


def _name(func):
    return getattr(func, "__name__", repr(func))


def vmap(func, in_dims=0, out_dims=0, randomness="error", *, chunk_size=None):
    """Vectorize ``func`` over dimension ``in_dims`` of its inputs.

    ``in_dims``/``out_dims``: an int, None (not mapped), or a structure matching the args /
    outputs. ``randomness``: 'error' raises if ``func`` draws random numbers, 'different'
    draws anew per sample, 'same' replays the same random numbers for every sample.
    ``chunk_size``: run that many samples at a time (less memory, same result).
    """
    if randomness not in ("error", "different", "same"):
        raise RuntimeError(f"Only allowed values for randomness are 'error', 'different', or "
                           f"'same'. Got {randomness}")
    if chunk_size is not None and (not isinstance(chunk_size, int) or chunk_size <= 0):
        raise ValueError(f"vmap: chunk_size should be None or greater than 0. (got "
                         f"{chunk_size})")
    _check_dims_type(in_dims, "in_dims", func)
    _check_dims_type(out_dims, "out_dims", func)

    @functools.wraps(func)
    def wrapper(*args, **kwargs):
        from .. import random as _random
        leaves, spec, norm, size = _prepare(func, in_dims, args)
        state = _random.get_rng_state()
        outermost = _batching.current() is None
        levels = []
        why = None
        if _forward_ad_active():
            why = "forward-mode AD is active"
            _batching.record_path("loop", why)
        elif size > 0:
            try:
                out = _vectorized(func, leaves, spec, norm, size, out_dims, kwargs,
                                  chunk_size, state, levels)
                _batching.record_path("vectorized", None, _merged(levels))
                return out
            except _batching.NeedLoop as e:
                # (a nested level's loop reruns only this inner call; what the outer level
                # cannot take either propagates from inside that loop)
                why = e
            except Exception as e:  # the loop tells a real error (per-sample shapes) apart
                why = e
            _batching.record_path("loop", why, _merged(levels))
            _random.set_rng_state(state)
        out = _loop(func, leaves, spec, norm, size, out_dims, kwargs, randomness, state)
        if outermost:  # (vmaps inside the loop ran as outermost ones and recorded theirs)
            _batching.record_path("loop", why)
        return out
    return wrapper


def _merged(levels):
    """One level's counts for the chunks of a vmap call (for stats())."""
    if not levels:
        return None
    if len(levels) == 1:
        return levels[0]
    total = _batching._Level(levels[0].size)
    for lvl in levels:
        total.fast += lvl.fast
        total.slow += lvl.slow
        for k, v in lvl.slow_ops.items():
            total.slow_ops[k] = total.slow_ops.get(k, 0) + v
    return total


def _forward_ad_active():
    """Inside a forward-AD level (jvp, jacfwd): tangents ride on tensors the batched path
    would re-wrap, so vmap keeps to its loop there."""
    from ..autograd import forward_ad
    state = getattr(forward_ad, "_state", None)
    return getattr(state, "level", None) is not None


def _prepare(func, in_dims, args):
    """Flattened inputs, their normalized in_dims, and the batch size (with vmap's checks)."""
    from ..tensor import Tensor
    api = f"vmap({_name(func)}, in_dims={in_dims}, ...)(<inputs>)"
    if isinstance(in_dims, tuple) and len(in_dims) != len(args):
        raise ValueError(f"{api}: in_dims is not compatible with the structure of `inputs`. "
                         f"in_dims has {len(in_dims)} entries but there are {len(args)} "
                         "inputs.")
    leaves, spec = tree_flatten(args)
    dims = broadcast_prefix(in_dims, args, api) if isinstance(in_dims, tuple) \
        else [in_dims] * len(leaves)
    size = None
    norm = []
    for x, d in zip(leaves, dims):
        if d is None:
            norm.append(None)
            continue
        if not isinstance(d, int):
            raise ValueError(f"{api}: in_dims must be int or None, got {d!r}")
        if not isinstance(x, Tensor):
            raise ValueError(f"{api}: Got in_dim={d} for an input but the input is of type "
                             f"{type(x)}. We cannot vmap over non-Tensor arguments, please "
                             "use None as the respective in_dim")
        if not -x.dim() <= d < max(x.dim(), 1) or x.dim() == 0:
            raise ValueError(f"{api}: Got in_dim={d} for some input, but that input is a "
                             f"Tensor of dimensionality {x.dim()} so expected in_dim to "
                             f"satisfy -{x.dim()} <= in_dim < {x.dim()}.")
        d = d % x.dim()
        n = x.shape[d]
        if size is not None and n != size:
            raise ValueError(f"{api}: Expected all tensors to have the same size in the "
                             f"mapped dimension, got sizes {size} and {n} for the mapped "
                             "dimension")
        size = n
        norm.append(d)
    if size is None:
        raise ValueError(f"{api}: at least one input must be batched (Got all in_dims=None "
                         "or no Tensor inputs).")
    return leaves, spec, norm, size


def _out_dims(func, out_dims, first):
    leaves = tree_flatten(first)[0]
    if isinstance(out_dims, (tuple, list, dict)):
        return broadcast_prefix(out_dims, first, f"vmap({_name(func)}, ...)")
    return [out_dims] * len(leaves)


def _check_out(func, o, od, ndim):
    from ..tensor import Tensor
    if not isinstance(o, Tensor):
        raise ValueError(f"vmap({_name(func)}, ...): `{_name(func)}` must only return "
                         f"Tensors, got type {type(o)}. Did you mean to set out_dims= "
                         "to None for output?")
    if od is None:
        return None
    nd = ndim + 1
    if not -nd <= od < nd:
        raise ValueError(f"vmap({_name(func)}, ...): Got out_dim={od} for an output "
                         f"of dimensionality {ndim}; expected -{nd} <= out_dim < "
                         f"{nd}.")
    return od % nd


# -- the vectorized path -------------------------------------------------------------------------
def _vectorized(func, leaves, spec, norm, size, out_dims, kwargs, chunk_size, state, levels):
    from ..ops.shape import cat
    if chunk_size is None or chunk_size >= size:
        return _vectorized_chunk(func, leaves, spec, norm, size, 0, size, out_dims, kwargs,
                                 state, levels)
    parts = [_vectorized_chunk(func, leaves, spec, norm, size, lo, min(lo + chunk_size, size),
                               out_dims, kwargs, state, levels)
             for lo in range(0, size, chunk_size)]
    first, out_spec = tree_flatten(parts[0])
    per = [tree_flatten(p)[0] for p in parts]
    odims = _out_dims(func, out_dims, parts[0])
    joined = [first[j] if od is None else cat([p[j] for p in per], od if od >= 0 else
                                              od + first[j].dim())
              for j, od in enumerate(odims)]
    return tree_unflatten(joined, out_spec)


def _vectorized_chunk(func, leaves, spec, norm, size, lo, hi, out_dims, kwargs, state, levels):
    from .. import random as _random
    from ..ops.shape import movedim, broadcast_to, stack, reshape
    from ..tensor import Tensor
    n = hi - lo
    lvl, saved = _batching.enter(n)
    levels.append(lvl)
    parent = lvl.parent
    func = _batching.replacement(func)  # vmap(F.cross_entropy): its batched version
    try:
        wrapped = []
        for x, d in zip(leaves, norm):
            if d is not None:
                p = movedim(x, d, 0)
                if n != size:
                    p = p[lo:hi]
                wrapped.append(_batching.wrap_input(p, lvl) if parent is None else
                               _batching.nest_input(p, lvl))
            elif parent is not None and _batching.as_batched(x) is not None:
                wrapped.append(x)  # an enclosing level's tensor: lifted where it is used
            elif isinstance(x, Tensor):
                b = _batching.wrap_input(broadcast_to(x.reshape((1,) + tuple(x.shape)),
                                                (n,) + tuple(x.shape)), lvl)
                b._bsrc = x
                wrapped.append(b)
            else:
                wrapped.append(x)
        out = func(*tree_unflatten(wrapped, spec), **kwargs)
        if _rng_moved(state, _random.get_rng_state()):
            raise _batching.NeedLoop("vmap: random numbers (the loop applies randomness=)")
        out_leaves, out_spec = tree_flatten(out)
        odims = _out_dims(func, out_dims, out)
        results = []
        for o, od in zip(out_leaves, odims):
            b = _batching.as_batched(o)
            o = o if b is None else b
            batched = type(o) is _batching.BatchedTensor
            od = _check_out(func, o, od, o.dim() if hasattr(o, "dim") else 0)
            if batched and o._lvl is not lvl:
                if parent is None or not o._lvl.active or not (
                        o._lvl is parent or _batching.is_ancestor(o._lvl, parent)):
                    raise _batching.NeedLoop("vmap: an output of another vmap")
                batched = False  # an enclosing level's value: the same for this batch
            if od is None:
                if batched:
                    raise _batching.NeedLoop("vmap: out_dims=None for a batched output")
                results.append(o)
            elif batched and parent is not None:
                # (parent batch * n, ...) -> the parent's (n, ...) sample, n at out_dim
                p = _batching.phys(o)
                p = reshape(p, (parent.size, n) + tuple(p.shape[1:]))
                results.append(_batching.wrap(p if od == 0 else movedim(p, 1, od + 1),
                                              parent))
            elif batched:
                p = _batching.phys(o)
                results.append(p if od == 0 else movedim(p, 0, od))
            else:
                results.append(stack([o] * n, od))
    finally:
        _batching.leave(lvl, saved)
    return tree_unflatten(results, out_spec)


# -- the loop ----------------------------------------------------------------------------------
def _loop(func, leaves, spec, norm, size, out_dims, kwargs, randomness, state):
    """``func`` once per batch index, results stacked (the reference semantics)."""
    from ..ops.shape import stack
    from .. import random as _random
    results = []
    for i in range(size):
        if randomness == "same":
            _random.set_rng_state(state)
        sliced = [x if d is None else x.select(d, i) for x, d in zip(leaves, norm)]
        results.append(func(*tree_unflatten(sliced, spec), **kwargs))
        if randomness == "error" and i == 0 and _rng_moved(state, _random.get_rng_state()):
            raise RuntimeError("vmap: called random operation while in randomness error "
                               "mode. Please either use the 'same' or 'different' "
                               "randomness flags on vmap or perform the randomness "
                               "operation out of vmap")
    out_leaves0, out_spec = tree_flatten(results[0])
    per_sample = [tree_flatten(r)[0] for r in results]
    odims = _out_dims(func, out_dims, results[0])
    stacked = []
    for j, (o, od) in enumerate(zip(out_leaves0, odims)):
        od = _check_out(func, o, od, o.dim() if hasattr(o, "dim") else 0)
        if od is None:
            stacked.append(o)
            continue
        stacked.append(stack([s[j] for s in per_sample], od))
    return tree_unflatten(stacked, out_spec)


def _check_dims_type(dims, what, func):
    leaves = tree_flatten(dims)[0]
    for d in leaves:
        if d is not None and (not isinstance(d, int) or isinstance(d, bool)):
            raise ValueError(f"vmap({_name(func)}, {what}={dims}, ...): expected {what} to be "
                             f"int or (nested) tuple of ints/None, got {type(d).__name__}")


def _rng_moved(before, after):
    """Whether the default generator advanced (some random op ran)."""
    import numpy as np
    if type(before) is dict:
        if before.keys() != after.keys():
            return True
        return any(_rng_moved(before[k], after[k]) for k in before)
    if isinstance(before, (tuple, list)):
        return len(before) != len(after) or any(_rng_moved(a, b) for a, b in zip(before, after))
    if isinstance(before, np.ndarray):
        return not np.array_equal(before, after)
    return before != after
