"""Weight regularisation: L1/L2 penalties to add to a loss, and a max-norm constraint.

Penalties are differentiable (built from narae ops), so ``loss + lam * l2_penalty(model)``
backpropagates into every parameter. The max-norm constraint is a projection applied after
each optimizer step: any unit whose incoming weight vector is longer than ``max_value`` is
scaled back onto the ball (Srebro et al., 2005; Hinton et al., 2012's dropout recipe).
"""
from ..backend import get_array_module
from ..tensor import Tensor
from .module import Module

__all__ = ["l1_penalty", "l2_penalty", "MaxNorm", "apply_max_norm_"]


def _params(params):
    if isinstance(params, Module):
        return list(params.parameters())
    if isinstance(params, Tensor):
        return [params]
    return list(params)


def l1_penalty(params):
    """sum_p sum |p| over parameters (a Module, a tensor or an iterable of tensors)."""
    ps = _params(params)
    if not ps:
        raise ValueError("l1_penalty: got no parameters")
    total = ps[0].abs().sum()
    for p in ps[1:]:
        total = total + p.abs().sum()
    return total


def l2_penalty(params):
    """sum_p sum p^2 (no 1/2 factor: its gradient is 2p; weight decay wd == 2 * lambda)."""
    ps = _params(params)
    if not ps:
        raise ValueError("l2_penalty: got no parameters")
    total = (ps[0] * ps[0]).sum()
    for p in ps[1:]:
        total = total + (p * p).sum()
    return total


def _renorm_(t, max_value, dim, norm_type):
    """Scale each slice of ``t`` along ``dim`` whose norm exceeds max_value (torch.renorm_)."""
    a = t._data
    xp = get_array_module(a)
    dim = dim % a.ndim
    axes = tuple(i for i in range(a.ndim) if i != dim)
    if norm_type == float("inf"):
        norms = xp.abs(a).max(axis=axes, keepdims=True)
    else:
        norms = (xp.abs(a) ** norm_type).sum(axis=axes, keepdims=True) ** (1.0 / norm_type)
    scale = xp.where(norms > max_value, max_value / (norms + 1e-7), 1.0).astype(a.dtype)
    a *= scale
    t._version[0] += 1
    return t


class MaxNorm:
    """Constraint ||w_i|| <= max_value for every slice w_i of a weight along ``dim``.

    ``dim=0`` (the default) bounds each output unit's incoming weights for Linear/Conv
    weights (out, in, ...). Calling it on a Module constrains every parameter with at least
    2 dimensions (biases and norm scales are left alone); on tensors, all of them.
    """

    def __init__(self, max_value, dim=0, norm_type=2.0):
        if max_value <= 0:
            raise ValueError(f"MaxNorm: max_value must be positive, got {max_value}")
        self.max_value = max_value
        self.dim = dim
        self.norm_type = float(norm_type)

    def __call__(self, module_or_params):
        if isinstance(module_or_params, Module):
            ps = [p for p in module_or_params.parameters() if p.ndim >= 2]
        else:
            ps = _params(module_or_params)
        for p in ps:
            if p.ndim == 0:
                continue
            _renorm_(p, self.max_value, self.dim, self.norm_type)
        return module_or_params

    def __repr__(self):
        return f"MaxNorm(max_value={self.max_value}, dim={self.dim}, norm_type={self.norm_type})"


def apply_max_norm_(module_or_params, max_value, dim=0, norm_type=2.0):
    """Project weights onto ||w_i|| <= max_value in place (call after ``optimizer.step()``)."""
    return MaxNorm(max_value, dim, norm_type)(module_or_params)

