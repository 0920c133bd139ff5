"""Parametrizations: a module's tensor computed from other parameters on every access.

``register_parametrization(linear, "weight", P())`` moves the parameter to
``linear.parametrizations.weight.original`` and makes ``linear.weight`` a property returning
``P()(original)``, so optimizers update ``original`` while the module computes with the
constrained value (unit norm, orthogonality...). As in torch, the module's class is swapped
for a generated subclass that holds the property, so other instances are unaffected.
"""
from contextlib import contextmanager

from ...autograd import grad_mode
from ..containers import ModuleDict, ModuleList
from ..module import Module
from ..parameter import Parameter

__all__ = ["register_parametrization", "remove_parametrizations", "is_parametrized",
           "cached", "ParametrizationList", "type_before_parametrizations"]

_cache_depth = 0
_cache = {}


@contextmanager
def cached():
    """Inside this block each parametrized tensor is computed once and reused (e.g. an RNN
    weight used at every time step)."""
    global _cache_depth
    _cache_depth += 1
    try:
        yield
    finally:
        _cache_depth -= 1
        if _cache_depth == 0:
            _cache.clear()


class ParametrizationList(ModuleList):
    """The parametrizations of one tensor, applied in order, and the ``original`` tensor(s)
    they start from (``original0``, ``original1``... when ``right_inverse`` returns a tuple)."""

    def __init__(self, modules, original, unsafe=False):
        super().__init__(modules)
        self.unsafe = unsafe
        with grad_mode.no_grad():
            new = original
            for module in reversed(list(self)):
                if hasattr(module, "right_inverse"):
                    new = module.right_inverse(new)
        self.is_tensor = not isinstance(new, (tuple, list))
        if self.is_tensor:
            if not unsafe and (tuple(new.shape) != tuple(original.shape)
                               or new.dtype != original.dtype):
                raise ValueError("When `right_inverse` outputs one tensor, it may not change "
                                 f"the dtype or shape: {original.dtype} {tuple(original.shape)}"
                                 f" -> {new.dtype} {tuple(new.shape)}")
            # keep the user's Parameter object (optimizers may hold it): copy values in place
            with grad_mode.no_grad():
                original._data[...] = new._data
            if isinstance(original, Parameter):
                self.original = original
            else:  # a buffer stays a buffer
                self.register_buffer("original", original)
        else:
            self.ntensors = len(new)
            for i, t in enumerate(new):
                setattr(self, f"original{i}",
                        Parameter(t.detach().clone(), requires_grad=original.requires_grad))

    def forward(self):
        if self.is_tensor:
            x = self[0](self.original)
        else:
            x = self[0](*(getattr(self, f"original{i}") for i in range(self.ntensors)))
        for module in list(self)[1:]:
            x = module(x)
        return x

    def right_inverse(self, value):
        """Assigning ``module.weight = value`` stores the originals that produce ``value``."""
        with grad_mode.no_grad():
            for module in reversed(list(self)):
                if hasattr(module, "right_inverse"):
                    value = module.right_inverse(value)
                elif not self.unsafe and module is not self[0]:
                    raise RuntimeError(f"parametrization {type(module).__name__} does not "
                                       "implement right_inverse.")
            if self.is_tensor:
                self.original._data[...] = value._data
            else:
                for i, t in enumerate(value):
                    getattr(self, f"original{i}")._data[...] = t._data


def _property(name):
    def get(self):
        plist = self.parametrizations[name]
        if _cache_depth:
            key = (id(self), name)
            if key not in _cache:
                _cache[key] = plist()
            return _cache[key]
        return plist()

    def set_(self, value):
        self.parametrizations[name].right_inverse(value)

    return property(get, set_)


def _swap_class(module):
    """Give ``module`` its own subclass (once) so properties can be added to it alone."""
    cls = type(module)
    if getattr(cls, "_is_parametrized_class", False):
        return cls
    new = type(f"Parametrized{cls.__name__}", (cls,), {"_is_parametrized_class": True,
                                                        "_original_class": cls})
    module.__class__ = new
    return new


def register_parametrization(module, tensor_name, parametrization, *, unsafe=False):
    """Make ``module.<tensor_name>`` equal ``parametrization(original)``; a second call on
    the same name chains parametrizations."""
    if not isinstance(parametrization, Module):
        raise TypeError(f"parametrization must be a Module, got {type(parametrization)}")
    if is_parametrized(module, tensor_name):
        plist = module.parametrizations[tensor_name]
        if not unsafe:
            current = getattr(module, tensor_name)
            probe = parametrization(current)
            if tuple(probe.shape) != tuple(current.shape) or probe.dtype != current.dtype:
                raise ValueError("Registering a parametrization may not change the shape or "
                                 f"dtype of the tensor: {tuple(current.shape)} -> "
                                 f"{tuple(probe.shape)}")
        plist.append(parametrization)
        return module
    params, buffers = module._parameters, module._buffers
    if tensor_name in params:
        original = params.pop(tensor_name)
    elif tensor_name in buffers:
        original = buffers.pop(tensor_name)
    else:
        raise ValueError(f"Module '{module}' does not have a parameter, a buffer, or a "
                         f"parametrized element with name '{tensor_name}'")
    plist = ParametrizationList([parametrization], original, unsafe=unsafe)
    if not unsafe:
        value = plist()
        if tuple(value.shape) != tuple(original.shape) or value.dtype != original.dtype:
            raise ValueError("Registering a parametrization may not change the shape or dtype "
                             f"of the tensor: {tuple(original.shape)} -> {tuple(value.shape)}")
    if "parametrizations" not in module._modules:
        module.parametrizations = ModuleDict()
    module.parametrizations[tensor_name] = plist
    setattr(_swap_class(module), tensor_name, _property(tensor_name))
    return module


def is_parametrized(module, tensor_name=None):
    """Whether ``module`` (or its tensor ``tensor_name``) has a parametrization."""
    plists = module._modules.get("parametrizations")
    if not isinstance(plists, ModuleDict):
        return False
    return len(plists) > 0 if tensor_name is None else tensor_name in plists


def type_before_parametrizations(module):
    """The module's class before parametrizations swapped it."""
    cls = type(module)
    return getattr(cls, "_original_class", cls)


def remove_parametrizations(module, tensor_name, leave_parametrized=True):
    """Undo ``register_parametrization``: the tensor becomes a plain parameter again, holding
    the parametrized value (``leave_parametrized``) or the original."""
    if not is_parametrized(module, tensor_name):
        raise ValueError(f"Module {module} does not have a parametrization on {tensor_name}")
    plist = module.parametrizations[tensor_name]
    with grad_mode.no_grad():
        if leave_parametrized:
            value = plist()
            if plist.is_tensor:  # keep the Parameter object optimizers may hold
                original = plist.original
                if tuple(original.shape) != tuple(value.shape):
                    raise ValueError("the parametrized value's shape differs from the original")
                original._data[...] = value._data
                new = original
            else:
                new = Parameter(value.detach().clone(), requires_grad=True)
        elif plist.is_tensor:
            new = plist.original
        else:
            raise ValueError("Cannot leave unparametrized (`leave_parametrized=False`) a "
                             "tensor that is parametrized in terms of a sequence of tensors.")
    delattr(type(module), tensor_name)
    del module.parametrizations[tensor_name]
    module.register_parameter(tensor_name, new)
    if not is_parametrized(module):
        del module._modules["parametrizations"]
        module.__class__ = type_before_parametrizations(module)
    return module
