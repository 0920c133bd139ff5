"""Ready-made parametrizations (``register_parametrization`` modules): weight_norm and
spectral_norm, as ``torch.nn.utils.parametrizations``."""
from ...autograd import grad_mode
from ...ops.norm import normalize
from ..module import Module
from . import parametrize
from ._norms import (norm_except_dim, weight_norm_value, weight_as_matrix, power_iteration,
                     spectral_sigma)

__all__ = ["weight_norm", "spectral_norm"]


class _WeightNorm(Module):
    def __init__(self, dim=0):
        super().__init__()
        self.dim = -1 if dim is None else dim

    def forward(self, weight_g, weight_v):
        return weight_norm_value(weight_g, weight_v, self.dim)

    def right_inverse(self, weight):
        return norm_except_dim(weight, self.dim), weight


def weight_norm(module, name="weight", dim=0):
    """Re-parametrize ``module.<name>`` as ``g * v / ||v||``: ``original0`` is ``g`` (one
    length per slice along ``dim``), ``original1`` is ``v``."""
    parametrize.register_parametrization(module, name, _WeightNorm(dim), unsafe=True)

    def convert_old_keys(state_dict, prefix, *args):
        # state dicts saved with the hook form (weight_g/weight_v) load too, as in torch
        g, v = f"{prefix}{name}_g", f"{prefix}{name}_v"
        if g in state_dict and v in state_dict:
            state_dict[f"{prefix}parametrizations.{name}.original0"] = state_dict.pop(g)
            state_dict[f"{prefix}parametrizations.{name}.original1"] = state_dict.pop(v)

    if hasattr(module, "_register_load_state_dict_pre_hook"):
        module._register_load_state_dict_pre_hook(convert_old_keys)
    return module


class _SpectralNorm(Module):
    def __init__(self, weight, n_power_iterations=1, dim=0, eps=1e-12):
        super().__init__()
        ndim = weight.ndim
        if dim >= ndim or dim < -ndim:
            raise IndexError("Dimension out of range (expected to be in range of "
                             f"[-{ndim}, {ndim - 1}] but got {dim})")
        if n_power_iterations <= 0:
            raise ValueError("Expected n_power_iterations to be positive, but got "
                             f"n_power_iterations={n_power_iterations}")
        self.dim = dim if dim >= 0 else dim + ndim
        self.eps, self.n_power_iterations = eps, n_power_iterations
        if ndim > 1:
            with grad_mode.no_grad():
                matrix = weight_as_matrix(weight.detach(), self.dim)
                h, w = matrix.shape
                u = normalize(_randn_like(weight, h), dim=0, eps=eps)
                v = normalize(_randn_like(weight, w), dim=0, eps=eps)
            self.register_buffer("_u", u)
            self.register_buffer("_v", v)
            # start from a good estimate, as torch does
            power_iteration(matrix, self._u, self._v, 15, eps, u_first=True)

    def forward(self, weight):
        if weight.ndim == 1:  # a vector's spectral norm is its 2-norm
            return normalize(weight, dim=0, eps=self.eps)
        matrix = weight_as_matrix(weight, self.dim)
        if self.training:
            power_iteration(matrix, self._u, self._v, self.n_power_iterations, self.eps,
                            u_first=True)
        return weight / spectral_sigma(matrix, self._u.clone(), self._v.clone())

    def right_inverse(self, value):
        return value


def _randn_like(weight, n):
    from ... import randn
    return randn(n, dtype=weight.dtype, device=weight.device)


def spectral_norm(module, name="weight", n_power_iterations=1, eps=1e-12, dim=None):
    """Divide ``module.<name>`` by its largest singular value (estimated by power iteration,
    one step per training forward), bounding the layer's Lipschitz constant — the GAN
    discriminator regulariser of Miyato et al. 2018. ``dim`` defaults to 1 for transposed
    convolutions (their output channels), else 0."""
    weight = getattr(module, name, None)
    if weight is None:
        raise ValueError(f"Module '{module}' has no parameter or buffer with name '{name}'")
    if dim is None:
        dim = 1 if _is_conv_transpose(module) else 0
    parametrize.register_parametrization(
        module, name, _SpectralNorm(weight, n_power_iterations, dim, eps))
    return module


def _is_conv_transpose(module):
    from .. import conv
    return isinstance(module, tuple(getattr(conv, n) for n in dir(conv)
                                    if n.startswith("ConvTranspose")))
