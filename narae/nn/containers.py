"""Containers: ``Sequential``, ``ModuleList``, ``ModuleDict``, ``ParameterList``, ``ParameterDict``.

They are Modules whose children (or parameters) are keyed by position or name, so that
everything inside them is registered: it shows up in ``parameters()``, ``state_dict()``
(``"0.weight"``...), ``to()`` and ``train()``.
"""
import operator
from collections import OrderedDict
from collections.abc import Mapping

from ..tensor import Tensor
from .module import Module, _addindent
from .parameter import Parameter

__all__ = ["Sequential", "ModuleList", "ModuleDict", "ParameterList", "ParameterDict"]


def _index(idx, n, what):
    idx = operator.index(idx)
    if not -n <= idx < n:
        raise IndexError(f"index {idx} is out of range for {what} of length {n}")
    return idx + n if idx < 0 else idx


class _IndexedModules(Module):
    """Shared list behaviour of Sequential and ModuleList: children keyed '0', '1', ..."""

    def __len__(self):
        return len(self._modules)

    def __iter__(self):
        return iter(self._modules.values())

    def _renumber(self, modules):
        self._modules.clear()
        for i, m in enumerate(modules):
            self.add_module(str(i), m)

    def __getitem__(self, idx):
        return list(self._modules.values())[_index(idx, len(self), type(self).__name__)]

    def _extend_from(self, modules):
        for m in modules:
            self.append(m)
        return self

    def __setitem__(self, idx, module):
        key = list(self._modules)[_index(idx, len(self), type(self).__name__)]
        self.add_module(key, module)

    def __delitem__(self, idx):
        mods = list(self._modules.values())
        if isinstance(idx, slice):
            del mods[idx]
        else:
            del mods[_index(idx, len(self), type(self).__name__)]
        self._renumber(mods)  # keep keys "0".."n-1", as torch does

    def append(self, module):
        self.add_module(str(len(self)), module)
        return self

    def extend(self, modules):
        return self._extend_from(modules)

    def insert(self, index, module):
        mods = list(self._modules.values())
        mods.insert(index, module)
        self._renumber(mods)

    def pop(self, idx=-1):
        m = self[idx]
        del self[idx]
        return m

    def __iadd__(self, other):
        return self.extend(other)

    def __add__(self, other):
        out = type(self)()
        out._extend_from(self)
        out._extend_from(other)
        return out

    def __dir__(self):
        return [k for k in super().__dir__() if not k.isdigit()]


class Sequential(_IndexedModules):
    """Runs its modules in order, each on the previous one's output.

    ``Sequential(m1, m2)`` keys them '0', '1'; ``Sequential(OrderedDict(name=m))`` keeps names.
    """

    def __init__(self, *args):
        super().__init__()
        if len(args) == 1 and isinstance(args[0], OrderedDict):
            for name, m in args[0].items():
                self.add_module(name, m)
        else:
            for i, m in enumerate(args):
                self.add_module(str(i), m)

    def __getitem__(self, idx):
        if isinstance(idx, slice):
            return Sequential(OrderedDict(list(self._modules.items())[idx]))
        return super().__getitem__(idx)

    def forward(self, input):
        for m in self._modules.values():
            input = m(input)
        return input


class ModuleList(_IndexedModules):
    """A list of modules that are registered (plain Python lists hide them from the model)."""

    def __init__(self, modules=None):
        super().__init__()
        if modules is not None:
            self.extend(modules)

    def __getitem__(self, idx):
        if isinstance(idx, slice):
            return ModuleList(list(self._modules.values())[idx])
        return super().__getitem__(idx)

    def __repr__(self):
        # torch compresses runs of identical children: "(0-2): 3 x Linear(...)"
        reprs = [repr(m) for m in self]
        if not reprs:
            return "ModuleList()"
        lines, start = [], 0
        for i in range(1, len(reprs) + 1):
            if i == len(reprs) or reprs[i] != reprs[start]:
                text = _addindent(reprs[start], 2)
                if i - start == 1:
                    lines.append(f"({start}): {text}")
                else:
                    lines.append(f"({start}-{i - 1}): {i - start} x {text}")
                start = i
        return "ModuleList(\n  " + "\n  ".join(lines) + "\n)"


class ModuleDict(Module):
    """A dict of named modules (insertion-ordered), all registered as children."""

    def __init__(self, modules=None):
        super().__init__()
        if modules is not None:
            self.update(modules)

    def __getitem__(self, key):
        return self._modules[key]

    def __setitem__(self, key, module):
        self.add_module(key, module)

    def __delitem__(self, key):
        del self._modules[key]

    def __len__(self):
        return len(self._modules)

    def __iter__(self):
        return iter(self._modules)

    def __contains__(self, key):
        return key in self._modules

    def clear(self):
        self._modules.clear()

    def pop(self, key):
        m = self._modules[key]
        del self._modules[key]
        return m

    def keys(self):
        return self._modules.keys()

    def items(self):
        return self._modules.items()

    def values(self):
        return self._modules.values()

    def update(self, modules):
        items = modules.items() if isinstance(modules, (Mapping, ModuleDict)) else modules
        for entry in items:
            key, m = entry
            self[key] = m


def _param_line(key, p):
    if isinstance(p, Tensor):
        size = "x".join(str(s) for s in p.shape)
        kind = "Parameter" if isinstance(p, Parameter) else "Tensor"
        dev = "" if p.device.type == "cpu" else f" ({p.device})"
        return f"  ({key}): {kind} containing: [narae.{p.dtype.name} of size {size}{dev}]"
    return f"  ({key}): Object of type: {type(p).__name__}"


def _as_param(value):
    """Tensors put in a ParameterList/Dict become Parameters (other objects are kept)."""
    if isinstance(value, Tensor) and not isinstance(value, Parameter):
        return Parameter(value)
    return value


class ParameterList(Module):
    """A list of Parameters, registered under '0', '1', ... (plain tensors are wrapped)."""

    def __init__(self, values=None):
        super().__init__()
        object.__setattr__(self, "_size", 0)
        if values is not None:
            self.extend(values)

    def __len__(self):
        return self._size

    def __getitem__(self, idx):
        if isinstance(idx, slice):
            return ParameterList([self[i] for i in range(len(self))[idx]])
        return getattr(self, str(_index(idx, len(self), "ParameterList")))

    def __setitem__(self, idx, value):
        setattr(self, str(_index(idx, len(self), "ParameterList")), _as_param(value))

    def __iter__(self):
        return (self[i] for i in range(len(self)))

    def append(self, value):
        object.__setattr__(self, "_size", self._size + 1)
        setattr(self, str(self._size - 1), _as_param(value))
        return self

    def extend(self, values):
        for v in values:
            self.append(v)
        return self

    def __iadd__(self, values):
        return self.extend(values)

    def extra_repr(self):
        return "\n".join(_param_line(i, p) for i, p in enumerate(self))

    def __dir__(self):
        return [k for k in super().__dir__() if not k.isdigit()]


class ParameterDict(Module):
    """A dict of named Parameters (insertion-ordered; plain tensors are wrapped)."""

    def __init__(self, parameters=None):
        super().__init__()
        object.__setattr__(self, "_keys", {})
        if parameters is not None:
            self.update(parameters)

    def __getitem__(self, key):
        return getattr(self, key)

    def __setitem__(self, key, value):
        self._keys[key] = None
        setattr(self, key, _as_param(value))

    def __delitem__(self, key):
        del self._keys[key]
        delattr(self, key)

    def __len__(self):
        return len(self._keys)

    def __iter__(self):
        return iter(self._keys)

    def __contains__(self, key):
        return key in self._keys

    def keys(self):
        return list(self._keys)

    def values(self):
        return [self[k] for k in self._keys]

    def items(self):
        return [(k, self[k]) for k in self._keys]

    def get(self, key, default=None):
        return self[key] if key in self else default

    def pop(self, key):
        v = self[key]
        del self[key]
        return v

    def clear(self):
        for k in list(self._keys):
            del self[k]

    def update(self, parameters):
        items = parameters.items() if hasattr(parameters, "items") else parameters
        for k, v in items:
            self[k] = v

    def extra_repr(self):
        return "\n".join(_param_line(k, p) for k, p in self.items())
