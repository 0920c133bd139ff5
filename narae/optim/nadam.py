"""NAdam: Adam with Nesterov momentum, using Dozat's warming-up momentum schedule."""
from ..autograd import grad_mode
from ..backend import get_array_module
from .optimizer import Optimizer, as_real_pairs, check_non_negative, check_betas, round_to_scalar_dtype
from .adam import adam_moments

__all__ = ["NAdam", "nadam_update"]


def nadam_update(param, grad, exp_avg, exp_avg_sq, step, mu_product, *, lr, beta1, beta2, eps,
                 weight_decay, momentum_decay, decoupled_weight_decay, maximize):
    """One NAdam step on raw arrays; returns the new running product of the momenta ``mu``.

    torch keeps ``mu_product`` in a scalar tensor of the default dtype (float32), so the
    product is rounded to that dtype here as well: the trajectories stay identical.
    """
    xp = get_array_module(param)
    grad = adam_moments(param, grad, exp_avg, exp_avg_sq, lr=lr, beta1=beta1, beta2=beta2,
                        weight_decay=weight_decay,
                        decoupled_weight_decay=decoupled_weight_decay, maximize=maximize)
    bias_correction2 = 1 - beta2 ** step
    mu = beta1 * (1.0 - 0.5 * 0.96 ** (step * momentum_decay))
    mu_next = beta1 * (1.0 - 0.5 * 0.96 ** ((step + 1) * momentum_decay))
    r = round_to_scalar_dtype
    mu_product = r(r(mu_product) * r(mu))
    mu_product_next = mu_product * mu_next
    denom = xp.sqrt(exp_avg_sq / bias_correction2)
    denom += eps
    update = (-lr * (1.0 - mu) / (1.0 - mu_product)) * grad
    update /= denom
    param += update
    update = (-lr * mu_next / (1.0 - mu_product_next)) * exp_avg
    update /= denom
    param += update
    return mu_product


class NAdam(Optimizer):
    """NAdam (Dozat 2016); ``decoupled_weight_decay=True`` gives NAdamW."""

    def __init__(self, params, lr=2e-3, betas=(0.9, 0.999), eps=1e-8, weight_decay=0,
                 momentum_decay=4e-3, decoupled_weight_decay=False, *, foreach=None,
                 maximize=False, capturable=False, differentiable=False):
        check_non_negative(lr=lr, eps=eps)
        check_betas(betas)
        check_non_negative(weight_decay=weight_decay, momentum_decay=momentum_decay)
        defaults = dict(lr=lr, betas=tuple(betas), eps=eps, weight_decay=weight_decay,
                        momentum_decay=momentum_decay,
                        decoupled_weight_decay=decoupled_weight_decay, maximize=maximize,
                        foreach=foreach, capturable=capturable, differentiable=differentiable)
        super().__init__(params, defaults)

    @grad_mode.no_grad()
    def step(self, closure=None):
        loss = self._eval_closure(closure)
        for group in self.param_groups:
            beta1, beta2 = group["betas"]
            kw = dict(lr=group["lr"], beta1=beta1, beta2=beta2, eps=group["eps"],
                      weight_decay=group["weight_decay"], momentum_decay=group["momentum_decay"],
                      decoupled_weight_decay=group["decoupled_weight_decay"],
                      maximize=group["maximize"])
            for p, state in self._params_with_grad(group, "exp_avg", "exp_avg_sq",
                                                   mu_product=1.0):
                state["mu_product"] = nadam_update(
                    *as_real_pairs(p, p._data, p.grad._data, state["exp_avg"]._data,
                                   state["exp_avg_sq"]._data),
                    state["step"], state["mu_product"], **kw)
        return loss
