"""Adamax: Adam with the infinity norm, ``u_t = max(beta2 * u_{t-1}, |g_t| + eps)``."""
from ..autograd import grad_mode
from ..backend import get_array_module
from .optimizer import Optimizer, as_real_pairs, check_non_negative, check_betas
from .adam import lerp_

__all__ = ["Adamax", "adamax_update"]


def adamax_update(param, grad, exp_avg, exp_inf, step, *, lr, beta1, beta2, eps, weight_decay,
                  maximize):
    """One Adamax step on raw arrays; ``step`` already counts this one."""
    xp = get_array_module(param)
    if maximize:
        grad = -grad
    if weight_decay != 0:
        grad = grad + weight_decay * param
    lerp_(exp_avg, grad, 1 - beta1)
    exp_inf *= beta2
    xp.maximum(exp_inf, xp.abs(grad) + eps, out=exp_inf)
    clr = lr / (1 - beta1 ** step)
    param -= clr * (exp_avg / exp_inf)


class Adamax(Optimizer):
    """Adamax (Kingma & Ba 2015, section 7): steps bounded by ``lr`` whatever the gradient."""

    def __init__(self, params, lr=2e-3, betas=(0.9, 0.999), eps=1e-8, weight_decay=0,
                 foreach=None, *, maximize=False, differentiable=False, capturable=False):
        check_non_negative(lr=lr, eps=eps)
        check_betas(betas)
        check_non_negative(weight_decay=weight_decay)
        defaults = dict(lr=lr, betas=tuple(betas), eps=eps, weight_decay=weight_decay,
                        foreach=foreach, maximize=maximize, differentiable=differentiable,
                        capturable=capturable)
        super().__init__(params, defaults)

    @grad_mode.no_grad()
    def step(self, closure=None):
        loss = self._eval_closure(closure)
        for group in self.param_groups:
            beta1, beta2 = group["betas"]
            kw = dict(lr=group["lr"], beta1=beta1, beta2=beta2, eps=group["eps"],
                      weight_decay=group["weight_decay"], maximize=group["maximize"])
            for p, state in self._params_with_grad(group, "exp_avg", "exp_inf"):
                adamax_update(*as_real_pairs(p, p._data, p.grad._data, state["exp_avg"]._data,
                                             state["exp_inf"]._data), state["step"], **kw)
        return loss
