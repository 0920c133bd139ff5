"""Pruning (``torch.nn.utils.prune``): zero parts of a module's tensor through a mask.

Pruning ``module.weight`` keeps the learnable values as the parameter ``weight_orig``, stores
the 0/1 mask as the buffer ``weight_mask`` and makes ``module.weight`` the product
``weight_orig * weight_mask``, recomputed by a forward pre-hook before every call. The
optimizer therefore still updates ``weight_orig``, but the gradient of a pruned entry is zero.
Pruning the same tensor again stacks the methods in a :class:`PruningContainer`: each new mask
is computed on the entries (or channels) still alive, so ``amount`` counts from those.

    >>> prune.l1_unstructured(linear, "weight", amount=0.3)   # 30 % smallest |w| -> 0
    >>> prune.remove(linear, "weight")                         # make it permanent
"""
import numbers
from abc import ABC, abstractmethod
from collections.abc import Iterable

from ...backend import device_of, get_array_module, to_device
from ...tensor import Tensor

__all__ = ["BasePruningMethod", "PruningContainer", "Identity", "RandomUnstructured",
           "L1Unstructured", "RandomStructured", "LnStructured", "CustomFromMask", "identity",
           "random_unstructured", "l1_unstructured", "random_structured", "ln_structured",
           "global_unstructured", "custom_from_mask", "remove", "is_pruned"]


# -- helpers on raw arrays ------------------------------------------------------------------
def _arr(t):
    return t._data if isinstance(t, Tensor) else t


def _on_device_of(a, ref):
    """``a`` (array or Tensor) as an array on the device of the array ``ref``."""
    a = _arr(a)
    if get_array_module(a) is not get_array_module(ref):
        a = to_device(a, device_of(ref))
    return a


def _check_amount(amount):
    """``amount``: an int (how many to prune) >= 0, or a float fraction in [0, 1]."""
    if not isinstance(amount, numbers.Real):
        raise TypeError(f"Invalid type for amount: {amount}. Must be int or float.")
    if isinstance(amount, numbers.Integral):
        ok = amount >= 0
    else:
        ok = 0.0 <= float(amount) <= 1.0
    if not ok:
        raise ValueError(f"amount={amount} should either be a float in the range [0, 1] or a "
                         "non-negative integer")


def _count_to_prune(amount, size):
    """How many of ``size`` units to prune; a fraction rounds half to even, as Python does."""
    if isinstance(amount, numbers.Integral):
        if amount > size:
            raise ValueError(f"amount={amount} should be smaller than the number of parameters "
                             f"to prune={size}")
        return int(amount)
    return round(amount * size)


def _check_structured(t, dim):
    shape = tuple(t.shape)
    if len(shape) <= 1:
        raise ValueError("Structured pruning can only be applied to multidimensional tensors. "
                         f"Found tensor of shape {shape} with {len(shape)} dims")
    if not -len(shape) <= dim < len(shape):
        raise IndexError(f"Invalid index {dim} for tensor of size {shape}")
    return dim % len(shape)


def _smallest(xp, values, k):
    """Indices of the ``k`` smallest of a 1-D array; ties go to the lower index (stable)."""
    return xp.argsort(values, kind="stable")[:k]


def _channel_mask(xp, keep, ndim, dim, dtype):
    """A mask broadcastable over a tensor: ``keep`` (bool per channel) laid along ``dim``."""
    shape = [1] * ndim
    shape[dim] = keep.shape[0]
    return keep.reshape(shape).astype(dtype)


def _random_indices(n, k, like):
    """``k`` distinct indices in ``[0, n)`` drawn from narae's generator."""
    from ...creation import randperm  # narae's stream: manual_seed makes it reproducible
    return randperm(n, device=device_of(like))._data[:k]


def _ln_norm(xp, a, n, dims):
    """The L-``n`` norm of ``a`` over ``dims`` (``n``: a number, +-inf, or 'fro')."""
    if n == "fro":  # torch takes 'fro' as the 2-norm only over at most two dims
        if len(dims) > 2:
            raise RuntimeError(f"ln_structured: n='fro' over {len(dims)} dims of a tensor of "
                               f"shape {tuple(a.shape)}: use n=2 (the same norm)")
        n = 2
    if isinstance(n, str) or not isinstance(n, numbers.Real):
        raise ValueError(f"ln_structured: unsupported norm order n={n!r} (a number, inf, -inf "
                         "or 'fro')")
    a = xp.abs(a.astype(xp.float64) if a.dtype.kind != "f" else a)
    if n == float("inf"):
        return a.max(axis=dims)
    if n == float("-inf"):
        return a.min(axis=dims)
    if n == 0:
        return (a != 0).sum(axis=dims).astype(a.dtype)
    if n == 1:
        return a.sum(axis=dims)
    if n == 2:
        return xp.sqrt((a * a).sum(axis=dims))
    return (a ** n).sum(axis=dims) ** (1.0 / n)


# -- methods ----------------------------------------------------------------------------------
class BasePruningMethod(ABC):
    """A way of computing a pruning mask; applied to a module it becomes the forward pre-hook
    that refreshes ``module.<name> = <name>_orig * <name>_mask``."""

    _tensor_name = None

    def __call__(self, module, inputs):
        setattr(module, self._tensor_name, self.apply_mask(module))

    @abstractmethod
    def compute_mask(self, t, default_mask):
        """The new mask for tensor ``t``: ``default_mask`` (the mask so far) with more zeros."""

    def _name(self, module, what="has to be pruned"):
        if self._tensor_name is None:
            raise AssertionError(f"Module {module} {what}")
        return self._tensor_name

    def apply_mask(self, module):
        """``<name>_orig * <name>_mask``: the pruned tensor, differentiable in ``orig``."""
        name = self._name(module)
        mask = getattr(module, name + "_mask")
        orig = getattr(module, name + "_orig")
        if mask.dtype != orig.dtype:
            mask = mask.to(dtype=orig.dtype)
        return mask * orig

    @classmethod
    def apply(cls, module, name, *args, importance_scores=None, **kwargs):
        """Prune ``module.<name>`` with ``cls(*args, **kwargs)``, stacking it on any pruning
        already there; returns the method (or container) registered as the hook."""
        new = cls(*args, **kwargs)  # bad arguments fail before the module is touched
        new._tensor_name = name
        keys = [k for k, h in module._forward_pre_hooks.items()
                if isinstance(h, BasePruningMethod) and h._tensor_name == name]
        if len(keys) > 1:
            raise AssertionError(f"Avoid adding multiple pruning hooks to the same tensor {name}"
                                 f" of module {module}. Use a PruningContainer.")
        old = module._forward_pre_hooks.pop(keys[0]) if keys else None
        if old is None:
            method = new
        elif isinstance(old, PruningContainer):
            old.add_pruning_method(new)
            method = old
        else:
            method = PruningContainer(old)
            method.add_pruning_method(new)

        try:
            orig = getattr(module, name)
        except AttributeError:
            if old is not None:
                module.register_forward_pre_hook(old)
            raise
        if importance_scores is not None:
            if tuple(importance_scores.shape) != tuple(orig.shape):
                if old is not None:
                    _undo_stack(module, old, method)
                raise AssertionError(f"importance_scores should have the same shape as parameter"
                                     f" {name} of {module}, got {tuple(importance_scores.shape)}"
                                     f" vs {tuple(orig.shape)}")
        else:
            importance_scores = orig

        first = old is None
        if first:
            module.register_parameter(name + "_orig", orig)
            del module._parameters[name]
            xp = get_array_module(orig._data)
            default_mask = Tensor(xp.ones(orig.shape, dtype=orig._data.dtype))
        else:
            default_mask = Tensor(getattr(module, name + "_mask")._data.copy())
        try:
            mask = method.compute_mask(importance_scores, default_mask=default_mask)
            if not isinstance(mask, Tensor):
                mask = Tensor(mask)
            module.register_buffer(name + "_mask", mask)
            setattr(module, name, method.apply_mask(module))
            module.register_forward_pre_hook(method)
        except Exception:
            if first:  # put the parameter back as it was (torch's order: appended)
                module.__dict__.pop(name, None)
                module._buffers.pop(name + "_mask", None)
                module.register_parameter(name, module._parameters.pop(name + "_orig"))
            else:
                _undo_stack(module, old, method)
            raise
        return method

    def prune(self, t, default_mask=None, importance_scores=None):
        """``t * mask``, with the mask computed from ``importance_scores`` (default ``t``)."""
        if importance_scores is not None:
            if tuple(importance_scores.shape) != tuple(t.shape):
                raise AssertionError("importance_scores should have the same shape as tensor t,"
                                     f" got {tuple(importance_scores.shape)} vs "
                                     f"{tuple(t.shape)}")
        else:
            importance_scores = t
        if default_mask is None:
            xp = get_array_module(_arr(t))
            default_mask = Tensor(xp.ones(t.shape, dtype=_arr(t).dtype))
        mask = self.compute_mask(importance_scores, default_mask=default_mask)
        if isinstance(t, Tensor) and mask.dtype != t.dtype:
            mask = mask.to(dtype=t.dtype)
        return t * mask

    def remove(self, module):
        """Make the pruning permanent: ``<name>`` becomes a plain parameter again holding
        ``orig * mask`` (the same Parameter object as ``<name>_orig``, so optimizers holding
        it keep working); ``<name>_orig`` and ``<name>_mask`` are dropped."""
        name = self._name(module, "has to be pruned before pruning can be removed")
        weight = self.apply_mask(module)
        module.__dict__.pop(name, None)
        orig = module._parameters.pop(name + "_orig")
        orig.data = weight.data
        delattr(module, name + "_mask")
        setattr(module, name, orig)


def _undo_stack(module, old, method):
    """Restore ``old`` as the hook after a failed stacking of a new method on it."""
    if method is old:  # old was a container: drop the method just appended
        old._pruning_methods = old._pruning_methods[:-1]
    module.register_forward_pre_hook(old)


class PruningContainer(BasePruningMethod):
    """The pruning methods applied in turn to one tensor. Its mask is the previous mask with
    the last method's mask written over the part still alive: the unpruned entries (for an
    unstructured method), the channels with any unpruned entry (structured), or the whole
    tensor (global)."""

    def __init__(self, *args):
        self._pruning_methods = ()
        if len(args) == 1 and not isinstance(args[0], BasePruningMethod) \
                and isinstance(args[0], Iterable):
            args = tuple(args[0])
        if args:
            self._tensor_name = getattr(args[0], "_tensor_name", None)
        for method in args:
            self.add_pruning_method(method)

    def add_pruning_method(self, method):
        """Append ``method``; it must act on the same tensor name as the container."""
        if method is not None and not isinstance(method, BasePruningMethod):
            raise TypeError(f"{type(method)} is not a BasePruningMethod subclass")
        if method is not None and method._tensor_name != self._tensor_name:
            raise ValueError("Can only add pruning methods acting on the parameter named "
                             f"'{self._tensor_name}' to PruningContainer {self}. Found "
                             f"'{method._tensor_name}'")
        self._pruning_methods += (method,)

    def __len__(self):
        return len(self._pruning_methods)

    def __iter__(self):
        return iter(self._pruning_methods)

    def __getitem__(self, idx):
        return self._pruning_methods[idx]

    def compute_mask(self, t, default_mask):
        """Run the last method on the still-alive part of ``t`` and merge its mask in."""
        method = self._pruning_methods[-1]
        scores, mask = _arr(t), _arr(default_mask)
        kind = getattr(method, "PRUNING_TYPE", None)
        if kind == "unstructured":
            alive = mask == 1
        elif kind == "structured":
            if not hasattr(method, "dim"):
                raise AttributeError('Pruning methods of PRUNING_TYPE "structured" need to have '
                                     "the attribute `dim` defined.")
            nd = scores.ndim
            dim = method.dim + nd if method.dim < 0 else method.dim
            if not 0 <= dim < nd:
                raise IndexError(f"Index is out of bounds for tensor with dimensions {nd}")
            others = tuple(d for d in range(nd) if d != dim)
            alive = [slice(None)] * nd
            alive[dim] = mask.sum(axis=others) != 0
            alive = tuple(alive)
        elif kind == "global":
            alive = (slice(None),) * scores.ndim
        else:
            raise ValueError(f"Unrecognized PRUNING_TYPE {kind}")
        part = method.compute_mask(Tensor(scores[alive]), default_mask=Tensor(mask[alive]))
        new = mask.astype(scores.dtype, copy=True)
        new[alive] = _on_device_of(part, new).astype(new.dtype, copy=False)
        return Tensor(new)


class Identity(BasePruningMethod):
    """Prunes nothing: the mask is all ones (useful to give a module the pruned layout)."""

    PRUNING_TYPE = "unstructured"

    def compute_mask(self, t, default_mask):
        return default_mask

    @classmethod
    def apply(cls, module, name):
        return super().apply(module, name)


class RandomUnstructured(BasePruningMethod):
    """Prunes ``amount`` entries chosen uniformly at random."""

    PRUNING_TYPE = "unstructured"

    def __init__(self, amount):
        _check_amount(amount)
        self.amount = amount

    def compute_mask(self, t, default_mask):
        size = int(_arr(t).size)
        k = _count_to_prune(self.amount, size)
        mask = _arr(default_mask).copy()
        if k:
            mask.reshape(-1)[_random_indices(size, k, mask)] = 0
        return Tensor(mask)

    @classmethod
    def apply(cls, module, name, amount):
        return super().apply(module, name, amount=amount)


class L1Unstructured(BasePruningMethod):
    """Prunes the ``amount`` entries of smallest absolute value."""

    PRUNING_TYPE = "unstructured"

    def __init__(self, amount):
        _check_amount(amount)
        self.amount = amount

    def compute_mask(self, t, default_mask):
        scores = _arr(t)
        k = _count_to_prune(self.amount, int(scores.size))
        mask = _arr(default_mask).copy()
        if k:
            xp = get_array_module(scores)
            mask.reshape(-1)[_smallest(xp, xp.abs(scores).reshape(-1), k)] = 0
        return Tensor(mask)

    @classmethod
    def apply(cls, module, name, amount, importance_scores=None):
        return super().apply(module, name, amount=amount, importance_scores=importance_scores)


class RandomStructured(BasePruningMethod):
    """Prunes ``amount`` whole channels along ``dim``, chosen uniformly at random."""

    PRUNING_TYPE = "structured"

    def __init__(self, amount, dim=-1):
        _check_amount(amount)
        self.amount = amount
        self.dim = dim

    def compute_mask(self, t, default_mask):
        scores = _arr(t)
        dim = _check_structured(scores, self.dim)
        channels = scores.shape[dim]
        k = _count_to_prune(self.amount, channels)
        base = _arr(default_mask)
        if k == 0:
            return default_mask if isinstance(default_mask, Tensor) else Tensor(base)
        xp = get_array_module(scores)
        keep = xp.ones(channels, dtype=bool)
        keep[_random_indices(channels, k, keep)] = False
        return Tensor(_channel_mask(xp, keep, scores.ndim, dim, scores.dtype)
                      * base.astype(scores.dtype, copy=False))

    @classmethod
    def apply(cls, module, name, amount, dim=-1):
        return super().apply(module, name, amount=amount, dim=dim)


class LnStructured(BasePruningMethod):
    """Prunes the ``amount`` channels along ``dim`` of smallest L-``n`` norm (the norm taken
    over every other dim)."""

    PRUNING_TYPE = "structured"

    def __init__(self, amount, n, dim=-1):
        _check_amount(amount)
        self.amount = amount
        self.n = n
        self.dim = dim

    def compute_mask(self, t, default_mask):
        scores = _arr(t)
        dim = _check_structured(scores, self.dim)
        channels = scores.shape[dim]
        k = _count_to_prune(self.amount, channels)
        xp = get_array_module(scores)
        norms = _ln_norm(xp, scores, self.n, tuple(d for d in range(scores.ndim) if d != dim))
        base = _arr(default_mask)
        if k == 0:
            return default_mask if isinstance(default_mask, Tensor) else Tensor(base)
        # keep the (channels - k) largest norms: drop the k smallest
        keep = xp.ones(channels, dtype=bool)
        keep[_smallest(xp, norms, k)] = False
        return Tensor(_channel_mask(xp, keep, scores.ndim, dim, scores.dtype)
                      * base.astype(scores.dtype, copy=False))

    @classmethod
    def apply(cls, module, name, amount, n, dim, importance_scores=None):
        return super().apply(module, name, amount=amount, n=n, dim=dim,
                             importance_scores=importance_scores)


class CustomFromMask(BasePruningMethod):
    """Prunes where the given ``mask`` is zero."""

    PRUNING_TYPE = "global"

    def __init__(self, mask):
        self.mask = mask

    def compute_mask(self, t, default_mask):
        base = _arr(default_mask)
        if tuple(base.shape) != tuple(self.mask.shape):
            raise AssertionError(f"default_mask shape {tuple(base.shape)} must match self.mask "
                                 f"shape {tuple(self.mask.shape)}")
        given = _on_device_of(self.mask, base).astype(base.dtype, copy=False)
        return Tensor(base * given)

    @classmethod
    def apply(cls, module, name, mask):
        return super().apply(module, name, mask=mask)


# -- functional interface -------------------------------------------------------------------
def identity(module, name):
    """Give ``module.<name>`` the pruned layout (``_orig``, ``_mask``) with nothing pruned."""
    Identity.apply(module, name)
    return module


def random_unstructured(module, name, amount):
    """Prune ``amount`` (count or fraction) random entries of ``module.<name>``."""
    RandomUnstructured.apply(module, name, amount)
    return module


def l1_unstructured(module, name, amount, importance_scores=None):
    """Prune the ``amount`` entries of ``module.<name>`` with the smallest ``|score|``
    (scores default to the tensor itself)."""
    L1Unstructured.apply(module, name, amount=amount, importance_scores=importance_scores)
    return module


def random_structured(module, name, amount, dim):
    """Prune ``amount`` random channels of ``module.<name>`` along ``dim``."""
    RandomStructured.apply(module, name, amount, dim)
    return module


def ln_structured(module, name, amount, n, dim, importance_scores=None):
    """Prune the ``amount`` channels along ``dim`` with the smallest L-``n`` norm."""
    LnStructured.apply(module, name, amount, n, dim, importance_scores=importance_scores)
    return module


def global_unstructured(parameters, pruning_method, importance_scores=None, **kwargs):
    """Prune several tensors as if they were one: ``pruning_method(**kwargs)`` (an
    unstructured method) ranks all their entries together, e.g. the 20 % smallest weights of
    the whole network, whatever layer they sit in.

    ``parameters``: ``(module, name)`` pairs; ``importance_scores``: an optional dict from
    such pairs to score tensors of the same shapes.
    """
    if not isinstance(parameters, Iterable):
        raise TypeError("global_unstructured(): parameters is not an Iterable")
    parameters = list(parameters)
    if importance_scores is None:
        importance_scores = {}
    if not isinstance(importance_scores, dict):
        raise TypeError("global_unstructured(): importance_scores must be of type dict")
    if not parameters:
        raise ValueError("global_unstructured(): got no (module, name) pairs to prune")
    method = pruning_method(**kwargs)
    if getattr(method, "PRUNING_TYPE", None) != "unstructured":
        raise TypeError('Only "unstructured" PRUNING_TYPE supported for the `pruning_method`. '
                        f"Found method {pruning_method} of type "
                        f"{getattr(method, 'PRUNING_TYPE', None)}")
    tensors = [getattr(module, name) for module, name in parameters]
    ref = tensors[0]._data
    xp = get_array_module(ref)
    scores, masks = [], []
    for (module, name), t in zip(parameters, tensors):
        s = importance_scores.get((module, name), t)
        if tuple(s.shape) != tuple(t.shape):
            raise ValueError(f"global_unstructured(): importance_scores for '{name}' has shape "
                             f"{tuple(s.shape)}, the tensor {tuple(t.shape)}")
        scores.append(_on_device_of(s, ref).reshape(-1))
        m = getattr(module, name + "_mask", None)
        masks.append(xp.ones(t.shape, dtype=t._data.dtype).reshape(-1) if m is None
                     else _on_device_of(m, ref).reshape(-1))
    container = PruningContainer()
    container._tensor_name = method._tensor_name = "temp"
    container.add_pruning_method(method)
    final = _arr(container.compute_mask(Tensor(xp.concatenate(scores)),
                                        Tensor(xp.concatenate(masks))))
    start = 0
    for (module, name), t in zip(parameters, tensors):
        n = int(t._data.size)
        custom_from_mask(module, name, mask=Tensor(final[start:start + n].reshape(t.shape)))
        start += n


def custom_from_mask(module, name, mask):
    """Prune ``module.<name>`` where ``mask`` is zero."""
    CustomFromMask.apply(module, name, mask)
    return module


def remove(module, name):
    """Make the pruning of ``module.<name>`` permanent: the parameter ``<name>`` holds the
    pruned values, and ``<name>_orig``, ``<name>_mask`` and the hook are gone."""
    for key, hook in module._forward_pre_hooks.items():
        if isinstance(hook, BasePruningMethod) and hook._tensor_name == name:
            hook.remove(module)
            del module._forward_pre_hooks[key]
            return module
    raise ValueError(f"Parameter '{name}' of module {module} has to be pruned before pruning "
                     "can be removed")


def is_pruned(module):
    """Whether ``module`` or any of its submodules carries a pruning hook."""
    return any(isinstance(hook, BasePruningMethod)
               for _, sub in module.named_modules() for hook in sub._forward_pre_hooks.values())
