"""ASGD: SGD with a decaying step and a running (Polyak–Ruppert) average of the iterates.

The average ``ax`` starts at step ``t0``; after training, copying ``state["ax"]`` into the
parameters gives the averaged model, which converges faster in theory (Polyak & Juditsky).
"""
from ..autograd import grad_mode
from .optimizer import Optimizer, as_real_pairs, check_non_negative, round_to_scalar_dtype

__all__ = ["ASGD", "asgd_update"]


def asgd_update(param, grad, ax, step, eta, mu, *, lr, lambd, alpha, t0, weight_decay,
                maximize):
    """One ASGD step on raw arrays; returns the next ``(eta, mu)``."""
    if maximize:
        grad = -grad
    if weight_decay != 0:
        grad = grad + weight_decay * param
    param *= 1 - lambd * eta
    param -= eta * grad
    if mu != 1:
        ax += (param - ax) * mu
    else:
        ax[...] = param
    r = round_to_scalar_dtype  # torch keeps eta and mu in 0-d tensors of its scalar dtype
    return r(lr / ((1 + lambd * lr * step) ** alpha)), r(1 / max(1, step - t0))


class ASGD(Optimizer):
    """Averaged SGD (Polyak & Juditsky 1992) with torch's step-size schedule."""

    def __init__(self, params, lr=1e-2, lambd=1e-4, alpha=0.75, t0=1e6, weight_decay=0,
                 foreach=None, maximize=False, differentiable=False, capturable=False):
        check_non_negative(lr=lr, weight_decay=weight_decay)
        defaults = dict(lr=lr, lambd=lambd, alpha=alpha, t0=t0, weight_decay=weight_decay,
                        foreach=foreach, maximize=maximize, differentiable=differentiable,
                        capturable=capturable)
        super().__init__(params, defaults)

    @grad_mode.no_grad()
    def step(self, closure=None):
        loss = self._eval_closure(closure)
        for group in self.param_groups:
            kw = dict(lr=group["lr"], lambd=group["lambd"], alpha=group["alpha"],
                      t0=group["t0"], weight_decay=group["weight_decay"],
                      maximize=group["maximize"])
            for p, state in self._params_with_grad(
                    group, "ax", eta=round_to_scalar_dtype(group["lr"]), mu=1.0):
                state["eta"], state["mu"] = asgd_update(
                    *as_real_pairs(p, p._data, p.grad._data, state["ax"]._data), state["step"], state["eta"],
                    state["mu"], **kw)
        return loss
