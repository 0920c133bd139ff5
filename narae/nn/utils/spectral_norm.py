"""Spectral normalization in its hook form (``torch.nn.utils.spectral_norm``): the
parameter ``<name>_orig`` and the power-iteration vectors ``<name>_u``, ``<name>_v``
(buffers) replace ``<name>``, which is ``orig / sigma`` before every forward."""
from ... import randn
from ...autograd import grad_mode
from ...ops.norm import normalize
from ._norms import weight_as_matrix, power_iteration, spectral_sigma

__all__ = ["spectral_norm", "remove_spectral_norm"]


class _SpectralNormHook:
    def __init__(self, name, n_power_iterations, dim, eps):
        if n_power_iterations <= 0:
            raise ValueError("Expected n_power_iterations to be positive, but got "
                             f"n_power_iterations={n_power_iterations}")
        self.name, self.n_power_iterations, self.dim, self.eps = \
            name, n_power_iterations, dim, eps

    def compute(self, module, do_power_iteration):
        weight = getattr(module, self.name + "_orig")
        u, v = getattr(module, self.name + "_u"), getattr(module, self.name + "_v")
        matrix = weight_as_matrix(weight, self.dim)
        if do_power_iteration:
            power_iteration(matrix, u, v, self.n_power_iterations, self.eps)
            u, v = u.clone(), v.clone()  # backward must not see the next step's in-place update
        return weight / spectral_sigma(matrix, u, v)

    def __call__(self, module, inputs):
        setattr(module, self.name, self.compute(module, do_power_iteration=module.training))


def spectral_norm(module, name="weight", n_power_iterations=1, eps=1e-12, dim=None):
    """Divide ``module.<name>`` by its spectral norm (largest singular value), estimated
    with ``n_power_iterations`` power-method steps per training forward."""
    for hook in module._forward_pre_hooks.values():
        if isinstance(hook, _SpectralNormHook) and hook.name == name:
            raise RuntimeError(f"Cannot register two spectral_norm hooks on the same "
                               f"parameter {name}")
    if dim is None:
        from .parametrizations import _is_conv_transpose
        dim = 1 if _is_conv_transpose(module) else 0
    hook = _SpectralNormHook(name, n_power_iterations, dim, eps)
    weight = module._parameters[name]
    with grad_mode.no_grad():
        h, w = weight_as_matrix(weight.detach(), dim).shape
        u = normalize(randn(h, dtype=weight.dtype, device=weight.device), dim=0, eps=eps)
        v = normalize(randn(w, dtype=weight.dtype, device=weight.device), dim=0, eps=eps)
    del module._parameters[name]
    module.register_parameter(name + "_orig", weight)
    setattr(module, name, weight.detach())
    module.register_buffer(name + "_u", u)
    module.register_buffer(name + "_v", v)
    module.register_forward_pre_hook(hook)
    return module


def remove_spectral_norm(module, name="weight"):
    """Leave ``<name>`` as a plain parameter holding the normalized weight."""
    from ..parameter import Parameter
    for key, hook in list(module._forward_pre_hooks.items()):
        if isinstance(hook, _SpectralNormHook) and hook.name == name:
            with grad_mode.no_grad():
                weight = hook.compute(module, do_power_iteration=False)
            del module._forward_pre_hooks[key]
            delattr(module, name)
            del module._parameters[name + "_orig"]
            del module._buffers[name + "_u"]
            del module._buffers[name + "_v"]
            module.register_parameter(name, Parameter(weight.detach()))
            return module
    raise ValueError(f"spectral_norm of '{name}' not found in {module}")
