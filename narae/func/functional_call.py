"""``functional_call``: run a module with some parameters/buffers replaced by given tensors."""
from collections import OrderedDict

__all__ = ["functional_call", "stack_module_state"]


def _merge(dicts):
    if isinstance(dicts, dict):
        return dicts
    if not isinstance(dicts, (tuple, list)) or not all(isinstance(d, dict) for d in dicts):
        raise ValueError("Expected parameter_and_buffer_dicts to be a dict, or a list/tuple of "
                         f"dicts, but got {type(dicts)}")
    merged, repeated = {}, []
    for d in dicts:
        for k, v in d.items():
            if k in merged:
                repeated.append(k)
            merged[k] = v
    if repeated:
        raise ValueError(f"{repeated} appeared in multiple dictionaries; behavior of "
                         "functional call is ambiguous")
    return merged


def _slot(module, key):
    """``(submodule, registry dict or None, attribute name)`` for a dotted key."""
    *path, name = key.split(".")
    sub = module
    for part in path:
        mods = sub.__dict__.get("_modules", {})
        if part not in mods:
            raise AttributeError(f"functional_call: {type(sub).__name__} has no submodule "
                                 f"{part!r} (key {key!r})")
        sub = mods[part]
    for reg in ("_parameters", "_buffers"):
        d = sub.__dict__.get(reg)
        if d is not None and name in d:
            return sub, d, name
    return sub, None, name


def functional_call(module, parameter_and_buffer_dicts, args=None, kwargs=None, *,
                    tie_weights=True, strict=False):
    """``module(*args, **kwargs)`` with the named parameters/buffers replaced, then restored.

    The module is not copied: its registries are patched for the duration of the call and
    put back afterwards (also when the call raises). With ``tie_weights`` a replacement for
    one name of a tied parameter (one tensor registered under several names) applies to all.
    """
    values = dict(_merge(parameter_and_buffer_dicts))
    if tie_weights:
        # names under which the same tensor is registered share one replacement
        groups = {}
        for name, t in list(module.named_parameters(remove_duplicate=False)) + \
                list(module.named_buffers(remove_duplicate=False)):
            groups.setdefault(id(t), []).append(name)
        for names in groups.values():
            if len(names) < 2:
                continue
            given = [n for n in names if n in values]
            if not given:
                continue
            first = values[given[0]]
            if any(values[n] is not first for n in given[1:]):
                raise ValueError(f"functional_call got multiple values for keys {given}, "
                                 "which are tied. Consider using tie_weights=False")
            for n in names:
                values.setdefault(n, first)
    if strict:
        expected = [n for n, _ in module.named_parameters(remove_duplicate=False)] + \
            [n for n, _ in module.named_buffers(remove_duplicate=False)]
        missing = [n for n in expected if n not in values]
        unexpected = [n for n in values if n not in set(expected)]
        if missing or unexpected:
            msg = []
            if unexpected:
                msg.append("Unexpected key(s): " + ", ".join(repr(k) for k in unexpected) + ".")
            if missing:
                msg.append("Missing key(s): " + ", ".join(repr(k) for k in missing) + ".")
            raise RuntimeError(f"Error(s) in reparametrizing for {type(module).__name__}:\n\t"
                               + "\n\t".join(msg))
    if args is None:
        args = ()
    elif not isinstance(args, tuple):
        args = (args,)
    kwargs = {} if kwargs is None else kwargs
    saved = []  # (registry or submodule __dict__, name, had it, old value)
    try:
        for key, value in values.items():
            sub, reg, name = _slot(module, key)
            if reg is None:  # a plain attribute, as torch allows
                d = sub.__dict__
                saved.append((d, name, name in d, d.get(name)))
                d[name] = value
            else:
                saved.append((reg, name, True, reg[name]))
                reg[name] = value
        return module(*args, **kwargs)
    finally:
        for reg, name, had, old in reversed(saved):
            if had:
                reg[name] = old
            else:
                del reg[name]


def stack_module_state(models):
    """Stack the parameters and buffers of same-shaped models: ``(params, buffers)`` dicts
    whose tensors have a new leading dimension, one entry per model (for ``vmap``)."""
    from ..ops.shape import stack
    if not models:
        raise RuntimeError("stack_module_state: Expected at least one model, got 0.")
    if not (all(m.training for m in models) or all(not m.training for m in models)):
        raise RuntimeError("stack_module_state: Expected all models to have the same training/"
                           "eval mode.")
    first = type(models[0])
    if not all(type(m) is first for m in models):
        raise RuntimeError("stack_module_state: Expected all models to be of the same class.")
    params = OrderedDict((k, stack([dict(m.named_parameters())[k].detach() for m in models])
                          .requires_grad_(True))
                         for k, _ in models[0].named_parameters())
    buffers = OrderedDict((k, stack([dict(m.named_buffers())[k] for m in models]))
                          for k, _ in models[0].named_buffers())
    return params, buffers
