"""RAdam: Adam whose adaptive step is switched on only once the variance estimate is
trustworthy, and then scaled by the rectification term ``r_t`` (Liu et al. 2020)."""
import math

from ..autograd import grad_mode
from ..backend import get_array_module
from .optimizer import Optimizer, as_real_pairs, check_non_negative, check_betas
from .adam import adam_moments

__all__ = ["RAdam", "radam_update"]


def radam_update(param, grad, exp_avg, exp_avg_sq, step, *, lr, beta1, beta2, eps,
                 weight_decay, decoupled_weight_decay, maximize):
    """One RAdam step on raw arrays; ``step`` already counts this one."""
    xp = get_array_module(param)
    adam_moments(param, grad, exp_avg, exp_avg_sq, lr=lr, beta1=beta1, beta2=beta2,
                 weight_decay=weight_decay, decoupled_weight_decay=decoupled_weight_decay,
                 maximize=maximize)
    bias_correction1 = 1 - beta1 ** step
    bias_correction2 = 1 - beta2 ** step
    corrected = exp_avg / bias_correction1
    # the length of the approximated simple moving average, and its limit
    rho_inf = 2 / (1 - beta2) - 1
    rho_t = rho_inf - 2 * step * (beta2 ** step) / bias_correction2
    if rho_t > 5.0:
        rect = math.sqrt((rho_t - 4) * (rho_t - 2) * rho_inf
                         / ((rho_inf - 4) * (rho_inf - 2) * rho_t))
        adaptive = math.sqrt(bias_correction2) / (xp.sqrt(exp_avg_sq) + eps)
        param -= corrected * lr * adaptive * rect
    else:  # too few steps for a variance estimate: plain momentum SGD
        param -= corrected * lr


class RAdam(Optimizer):
    """RAdam; ``decoupled_weight_decay=True`` applies AdamW-style decay."""

    def __init__(self, params, lr=1e-3, betas=(0.9, 0.999), eps=1e-8, weight_decay=0,
                 decoupled_weight_decay=False, *, foreach=None, maximize=False,
                 capturable=False, differentiable=False):
        check_non_negative(lr=lr, eps=eps)
        check_betas(betas)
        check_non_negative(weight_decay=weight_decay)
        defaults = dict(lr=lr, betas=tuple(betas), eps=eps, weight_decay=weight_decay,
                        decoupled_weight_decay=decoupled_weight_decay, foreach=foreach,
                        maximize=maximize, capturable=capturable, differentiable=differentiable)
        super().__init__(params, defaults)

    @grad_mode.no_grad()
    def step(self, closure=None):
        loss = self._eval_closure(closure)
        for group in self.param_groups:
            beta1, beta2 = group["betas"]
            kw = dict(lr=group["lr"], beta1=beta1, beta2=beta2, eps=group["eps"],
                      weight_decay=group["weight_decay"],
                      decoupled_weight_decay=group["decoupled_weight_decay"],
                      maximize=group["maximize"])
            for p, state in self._params_with_grad(group, "exp_avg", "exp_avg_sq"):
                radam_update(*as_real_pairs(p, p._data, p.grad._data, state["exp_avg"]._data,
                                            state["exp_avg_sq"]._data), state["step"], **kw)
        return loss
