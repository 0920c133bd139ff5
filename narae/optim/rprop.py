"""Rprop: each weight keeps its own step size, grown while its gradient keeps its sign and
shrunk when the sign flips; only the gradient's sign is used (Riedmiller & Braun 1993)."""
from ..autograd import grad_mode
from ..backend import get_array_module
from ..tensor import Tensor
from .optimizer import Optimizer, as_real_pairs, check_non_negative

__all__ = ["Rprop", "rprop_update"]


def rprop_update(param, grad, prev, step_size, *, etaminus, etaplus, step_size_min,
                 step_size_max, maximize):
    """One Rprop step on raw arrays (torch's variant: after a sign flip the weight stays put
    and the gradient is forgotten, so the next step does not flip again)."""
    xp = get_array_module(param)
    if maximize:
        grad = -grad
    agreement = xp.sign(grad * prev)
    factor = xp.where(agreement > 0, etaplus, xp.where(agreement < 0, etaminus, 1.0))
    step_size *= factor.astype(step_size.dtype, copy=False)
    xp.clip(step_size, step_size_min, step_size_max, out=step_size)
    grad = xp.where(agreement < 0, 0, grad).astype(grad.dtype, copy=False)
    param -= xp.sign(grad) * step_size
    prev[...] = grad


class Rprop(Optimizer):
    """Resilient backpropagation, for full-batch training (the sign of a noisy mini-batch
    gradient says little)."""

    def __init__(self, params, lr=1e-2, etas=(0.5, 1.2), step_sizes=(1e-6, 50), *,
                 capturable=False, foreach=None, maximize=False, differentiable=False):
        check_non_negative(lr=lr)
        if not 0.0 < etas[0] < 1.0 < etas[1]:
            raise ValueError(f"Invalid eta values: {etas[0]}, {etas[1]}")
        defaults = dict(lr=lr, etas=tuple(etas), step_sizes=tuple(step_sizes),
                        foreach=foreach, maximize=maximize, differentiable=differentiable,
                        capturable=capturable)
        super().__init__(params, defaults)

    @grad_mode.no_grad()
    def step(self, closure=None):
        loss = self._eval_closure(closure)
        for group in self.param_groups:
            etaminus, etaplus = group["etas"]
            step_size_min, step_size_max = group["step_sizes"]
            for p, state in self._params_with_grad(group, "prev"):
                if "step_size" not in state:
                    xp = get_array_module(p._data)
                    lr = group["lr"]  # a complex weight steps lr in both parts, as torch
                    state["step_size"] = Tensor(xp.full_like(
                        p._data, complex(lr, lr) if p._data.dtype.kind == "c" else lr))
                rprop_update(*as_real_pairs(p, p._data, p.grad._data, state["prev"]._data,
                                            state["step_size"]._data), etaminus=etaminus, etaplus=etaplus,
                             step_size_min=step_size_min, step_size_max=step_size_max,
                             maximize=group["maximize"])
        return loss
