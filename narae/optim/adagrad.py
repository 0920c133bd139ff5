"""Adagrad: per-coordinate steps shrinking with the sum of all past squared gradients."""
from ..autograd import grad_mode
from ..sparse._optim import is_sparse_grad, adagrad_sparse_update
from ..tensor import Tensor
from ..backend import get_array_module
from .optimizer import Optimizer, as_real_pairs, check_non_negative

__all__ = ["Adagrad", "adagrad_update"]


def adagrad_update(param, grad, state_sum, step, *, lr, lr_decay, weight_decay, eps, maximize):
    """One Adagrad step on raw arrays; ``step`` already counts this one."""
    xp = get_array_module(param)
    if maximize:
        grad = -grad
    if weight_decay != 0:
        grad = grad + weight_decay * param
    clr = lr / (1 + (step - 1) * lr_decay)
    state_sum += grad * grad
    std = xp.sqrt(state_sum)
    std += eps
    update = -clr * grad
    update /= std
    param += update


def _initial_state(p, value):
    """A complex weight starts both parts of its sum at ``value`` (torch's view_as_real)."""
    xp = get_array_module(p._data)
    if p._data.dtype.kind == "c":
        value = complex(value, value)
    return {"step": 0, "sum": Tensor(xp.full_like(p._data, value))}


class Adagrad(Optimizer):
    """Adagrad (Duchi et al.). Its state is created up front, as torch does."""
    _accepts_sparse_grads = True

    def __init__(self, params, lr=1e-2, lr_decay=0, weight_decay=0, initial_accumulator_value=0,
                 eps=1e-10, foreach=None, *, maximize=False, differentiable=False, fused=None):
        check_non_negative(lr=lr, lr_decay=lr_decay, weight_decay=weight_decay,
                           initial_accumulator_value=initial_accumulator_value, eps=eps)
        defaults = dict(lr=lr, lr_decay=lr_decay, eps=eps, weight_decay=weight_decay,
                        initial_accumulator_value=initial_accumulator_value, foreach=foreach,
                        maximize=maximize, differentiable=differentiable, fused=fused)
        super().__init__(params, defaults)
        for group in self.param_groups:
            for p in group["params"]:
                self.state[p] = _initial_state(p, group["initial_accumulator_value"])

    @grad_mode.no_grad()
    def step(self, closure=None):
        loss = self._eval_closure(closure)
        for group in self.param_groups:
            kw = dict(lr=group["lr"], lr_decay=group["lr_decay"],
                      weight_decay=group["weight_decay"], eps=group["eps"],
                      maximize=group["maximize"])
            for p in group["params"]:
                if p.grad is None:
                    continue
                state = self.state.get(p)
                if not state:  # a group added after construction
                    state = self.state[p] = _initial_state(p, group["initial_accumulator_value"])
                state["step"] += 1
                if is_sparse_grad(p):  # Embedding(sparse=True): only its rows change
                    adagrad_sparse_update(p._data, p.grad._data, state["sum"]._data,
                                          state["step"], **kw)
                else:
                    adagrad_update(*as_real_pairs(p, p._data, p.grad._data,
                                                  state["sum"]._data), state["step"], **kw)
                p._version[0] += 1
        return loss
