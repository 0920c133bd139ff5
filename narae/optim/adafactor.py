"""Adafactor: Adam-like steps with a factored second moment (a row and a column vector per
matrix instead of a full matrix), relative step sizes and update clipping (Shazeer & Stern
2018), with torch's defaults: no first moment, ``beta2_t = 1 - t**beta2_decay``."""
import math

from ..autograd import grad_mode
from ..backend import get_array_module
from .optimizer import Optimizer
from .adam import lerp_

__all__ = ["Adafactor", "adafactor_update"]


def adafactor_update(param, grad, row_var, col_var, variance, step, *, lr, beta2_decay, eps1,
                     eps2, d, weight_decay, maximize):
    """One Adafactor step on raw arrays; ``step`` already counts this one. Matrices (and
    stacks of them) keep ``row_var``/``col_var``; vectors keep a full ``variance``."""
    xp = get_array_module(param)
    if maximize:
        grad = -grad
    if eps1 is None:
        eps1 = float(xp.finfo(param.dtype).eps)
    one_minus_beta2 = step ** beta2_decay
    rho = min(lr, 1 / math.sqrt(step))
    rms_param = float(xp.sqrt((param * param).sum())) / math.sqrt(param.size)
    alpha = max(eps2, rms_param) * rho
    if weight_decay != 0:
        param *= 1 - lr * weight_decay
    g2 = grad * grad
    if grad.ndim > 1:
        lerp_(row_var, g2.mean(axis=-1, keepdims=True), one_minus_beta2)
        lerp_(col_var, g2.mean(axis=-2, keepdims=True), one_minus_beta2)
        # the rank-1 estimate r c^T / mean(r): row sums times column sums over the total
        estimate = xp.matmul(row_var, col_var)
        estimate /= xp.maximum(row_var.mean(axis=-2, keepdims=True), eps1)
    else:
        lerp_(variance, g2, one_minus_beta2)
        estimate = variance.copy()
    update = 1.0 / xp.sqrt(xp.maximum(estimate, eps1 * eps1))
    update *= grad
    rms_update = float(xp.sqrt((update * update).sum())) / math.sqrt(update.size)
    param -= (alpha / max(1.0, rms_update / d)) * update


class Adafactor(Optimizer):
    """Adafactor: memory O(rows + cols) per matrix, for large embedding/attention weights."""

    def __init__(self, params, lr=1e-2, beta2_decay=-0.8, eps=(None, 1e-3), d=1.0,
                 weight_decay=0.0, *, foreach=None, maximize=False):
        if not 0.0 <= lr:
            raise ValueError(f"Learning rate should be >= 0 but is: {lr}")
        if not 0.0 >= beta2_decay:
            raise ValueError(f"beta2_decay should be <= 0 but is: {beta2_decay}")
        if eps[0] is not None and not 0.0 <= eps[0]:
            raise ValueError(f"epsilon1 should be >= 0 but is: {eps[0]}")
        if not 0.0 <= eps[1]:
            raise ValueError(f"epsilon2 should be >= 0 but is: {eps[1]}")
        if not 1.0 <= d:
            raise ValueError(f"Clipping threshold d should be >= 1 but is: {d}")
        if not 0.0 <= weight_decay:
            raise ValueError(f"weight_decay should be >= 0 but is: {weight_decay}")
        defaults = dict(lr=lr, beta2_decay=beta2_decay, eps=tuple(eps), d=d,
                        weight_decay=weight_decay, foreach=foreach, maximize=maximize)
        super().__init__(params, defaults)

    def _init_state(self, p):
        from ..tensor import Tensor
        xp = get_array_module(p._data)
        state = self.state[p] = {"step": 0}
        if p._data.ndim > 1:
            shape = p._data.shape
            state["row_var"] = Tensor(xp.zeros(shape[:-1] + (1,), p._data.dtype))
            state["col_var"] = Tensor(xp.zeros(shape[:-2] + (1, shape[-1]), p._data.dtype))
        else:
            state["variance"] = Tensor(xp.zeros_like(p._data))
        return state

    @grad_mode.no_grad()
    def step(self, closure=None):
        loss = self._eval_closure(closure)
        for group in self.param_groups:
            eps1, eps2 = group["eps"]
            kw = dict(lr=group["lr"], beta2_decay=group["beta2_decay"], eps1=eps1, eps2=eps2,
                      d=group["d"], weight_decay=group["weight_decay"],
                      maximize=group["maximize"])
            for p in group["params"]:
                if p.grad is None:
                    continue
                if p._data.dtype.kind == "c":
                    raise RuntimeError("Adafactor does not support complex parameters")
                state = self.state.get(p) or self._init_state(p)
                state["step"] += 1
                arrays = [state[k]._data if k in state else None
                          for k in ("row_var", "col_var", "variance")]
                adafactor_update(p._data, p.grad._data, *arrays, state["step"], **kw)
                p._version[0] += 1
        return loss
