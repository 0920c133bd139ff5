"""``vmap``: map a function over a batch dimension of its inputs.

This vmap is a loop: it calls ``func`` once per batch index on the slices
``x.select(in_dim, i)`` and stacks the results along ``out_dims``. Results equal
torch.func.vmap's (and gradients flow through the slicing and stacking), but the speed is
that of B separate calls, not of one batched call. Nested vmaps are nested loops.
"""
import functools

from ._pytree import tree_flatten, tree_unflatten, broadcast_prefix

__all__ = ["vmap"]


def _name(func):
    return getattr(func, "__name__", repr(func))


def vmap(func, in_dims=0, out_dims=0, randomness="error", *, chunk_size=None):
    """Vectorize ``func`` over dimension ``in_dims`` of its inputs (by looping, see above).

    ``in_dims``/``out_dims``: an int, None (not mapped), or a structure matching the args /
    outputs. ``randomness``: 'error' raises if ``func`` draws random numbers, 'different'
    draws anew per sample, 'same' replays the same random numbers for every sample.
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
        from ..tensor import Tensor
        from ..ops.shape import stack
        from .. import random as _random
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
        state = _random.get_rng_state() if randomness != "different" else None
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
        odims = broadcast_prefix(out_dims, results[0], f"vmap({_name(func)}, ...)") \
            if isinstance(out_dims, (tuple, list, dict)) else [out_dims] * len(out_leaves0)
        stacked = []
        for j, (o, od) in enumerate(zip(out_leaves0, odims)):
            if not isinstance(o, Tensor):
                raise ValueError(f"vmap({_name(func)}, ...): `{_name(func)}` must only return "
                                 f"Tensors, got type {type(o)}. Did you mean to set out_dims= "
                                 "to None for output?")
            if od is None:
                stacked.append(o)
                continue
            nd = o.dim() + 1
            if not -nd <= od < nd:
                raise ValueError(f"vmap({_name(func)}, ...): Got out_dim={od} for an output "
                                 f"of dimensionality {o.dim()}; expected -{nd} <= out_dim < "
                                 f"{nd}.")
            stacked.append(stack([s[j] for s in per_sample], od % nd))
        return tree_unflatten(stacked, out_spec)
    return wrapper


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
