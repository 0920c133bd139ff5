"""``functionalize`` and ``replace_all_batch_norm_modules_`` (torch.func's API).

narae has no graph to rewrite, so ``functionalize`` keeps torch's observable eager
behaviour: ``func`` runs on copies of its tensor arguments (its in-place ops touch only
those), then every argument it mutated gets the new value copied back, as torch propagates
input mutations when the functionalized call ends. An output that is one of the arguments
comes back as that argument.
"""
import functools

from ._pytree import tree_flatten, tree_unflatten

__all__ = ["functionalize", "replace_all_batch_norm_modules_"]

_REMOVE_HELP = (
    "Valid options are:\n"
    "     remove='mutations': all inplace and out= operators will be removed from the "
    "program, and replaced with their out-of-place equivalents.\n"
    "     remove='mutations_and_views': In addition to the above, all aliasing operators "
    "{view} will be replaced with their non-aliasing counterparts, {view}_copy.\n")


def functionalize(func, *, remove="mutations"):
    """``func`` with its in-place updates of arguments applied on copies, then written back."""
    if remove not in ("mutations", "mutations_and_views"):
        raise RuntimeError(f"functionalize(f, remove='mutations'): received invalid argument "
                           f"for remove={remove}. {_REMOVE_HELP}")
    from ..tensor import Tensor

    @functools.wraps(func)
    def wrapper(*args, **kwargs):
        leaves, spec = tree_flatten((args, kwargs))
        copies, pairs = [], []
        for x in leaves:
            if isinstance(x, Tensor):
                c = x.clone()
                pairs.append((x, c, c._version[0]))
                copies.append(c)
            else:
                copies.append(x)
        c_args, c_kwargs = tree_unflatten(copies, spec)
        out = func(*c_args, **c_kwargs)
        back = {}
        for x, c, version in pairs:
            if c._version[0] != version:  # mutated inside func: propagate, as torch does
                x.copy_(c)
            else:
                back[id(c)] = x
        out_leaves, out_spec = tree_flatten(out)
        return tree_unflatten([back.get(id(o), o) if isinstance(o, Tensor) else o
                               for o in out_leaves], out_spec)
    return wrapper


def replace_all_batch_norm_modules_(root):
    """Stop every batch-norm module under ``root`` from tracking running statistics, in place.

    Each one then normalizes with the batch's own statistics in train and eval mode alike
    (its running_mean/running_var/num_batches_tracked become None): what vmap'd or
    per-sample code needs, where one shared running buffer cannot be updated. Returns root.
    """
    from ..nn.normalization import _BatchNorm
    for module in root.modules():
        if isinstance(module, _BatchNorm):
            module.running_mean = None
            module.running_var = None
            module.num_batches_tracked = None
            module.track_running_stats = False
    return root
