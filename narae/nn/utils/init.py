"""``skip_init``: build a module without running its parameter initialisation."""
import inspect

__all__ = ["skip_init"]


def _keep(tensor, *args, **kwargs):
    return tensor


def _skip(self, *args, **kwargs):
    return None


def skip_init(module_cls, *args, **kwargs):
    """``module_cls(*args, **kwargs)`` with parameters and buffers allocated but not initialised.

    Saves the cost of an initialisation that will be overwritten anyway (loading a checkpoint,
    a custom scheme). torch builds on the meta device then ``to_empty``; narae instead turns
    every ``narae.nn.init`` fill function and the ``reset_parameters`` of ``module_cls`` (and
    its bases) into no-ops while the constructor runs, then restores them. Values are
    unspecified (whatever the allocation held). As in torch, ``module_cls`` must accept a
    ``device`` argument (default ``"cpu"``) and must not compute with its parameters in its
    constructor other than through ``narae.nn.init``.
    """
    from .. import init
    from ..module import Module
    if not (isinstance(module_cls, type) and issubclass(module_cls, Module)):
        raise RuntimeError(f"Expected a Module; got {module_cls}")
    if "device" not in inspect.signature(module_cls).parameters:
        raise RuntimeError("Module must support a 'device' arg to skip initialization")
    kwargs["device"] = kwargs.pop("device", "cpu")
    saved = []
    for name in init.__all__:
        fn = getattr(init, name, None)
        if name.endswith("_") or name in ("uniform", "normal", "constant", "eye", "dirac",
                                          "xavier_uniform", "xavier_normal", "kaiming_uniform",
                                          "kaiming_normal", "orthogonal", "sparse"):
            if callable(fn):
                saved.append((init, name, fn))
    for cls in module_cls.__mro__:
        if "reset_parameters" in cls.__dict__:
            saved.append((cls, "reset_parameters", cls.__dict__["reset_parameters"]))
    try:
        for owner, name, _ in saved:
            setattr(owner, name, _skip if name == "reset_parameters" else _keep)
        return module_cls(*args, **kwargs)
    finally:
        for owner, name, fn in reversed(saved):
            setattr(owner, name, fn)
