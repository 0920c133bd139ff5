"""SparseAdam: "lazy" Adam that touches only the rows a gradient has (embedding tables).

Rows absent from a step's gradient keep their parameters and their moments unchanged,
instead of decaying as in Adam, so a rarely seen word's statistics stay its own.

narae has no sparse tensor layout: an ``Embedding(sparse=True)`` hands its weight a dense
gradient whose unused rows are all zeros. SparseAdam therefore reads the rows present as the
rows (along dimension 0) holding a non-zero value, which are the rows torch's sparse
gradient would store (the one difference: a row looked up whose gradient sums exactly to
zero is skipped here). torch instead raises for a dense gradient.
"""
import math

from ..autograd import grad_mode
from ..backend import get_array_module
from .optimizer import Optimizer, check_betas

__all__ = ["SparseAdam", "sparse_adam_update"]


def _present_rows(grad):
    """Indices of the rows (along dim 0) of ``grad`` with a non-zero value."""
    xp = get_array_module(grad)
    flat = grad.reshape(grad.shape[0], -1)
    return xp.nonzero((flat != 0).any(axis=1))[0]


def sparse_adam_update(param, grad, exp_avg, exp_avg_sq, step, *, lr, beta1, beta2, eps,
                       maximize):
    """One SparseAdam step on raw arrays: only the present rows of ``param`` and of the
    moments change; ``step`` already counts this one."""
    if param.ndim == 0:   # one row
        param, grad, exp_avg, exp_avg_sq = param[None], grad[None], exp_avg[None], \
            exp_avg_sq[None]
    rows = _present_rows(grad)
    if rows.size == 0:
        return
    values = grad[rows]
    if maximize:
        values = -values
    # m <- m + (1 - beta1)(g - m) and v <- v + (1 - beta2)(g^2 - v), on the rows only
    old_avg = exp_avg[rows]
    avg_step = (values - old_avg) * (1 - beta1)
    old_sq = exp_avg_sq[rows]
    sq_step = (values * values - old_sq) * (1 - beta2)
    avg = avg_step + old_avg
    sq = sq_step + old_sq
    exp_avg[rows] = avg
    exp_avg_sq[rows] = sq
    xp = get_array_module(param)
    denom = xp.sqrt(sq)
    denom += eps
    step_size = lr * math.sqrt(1 - beta2 ** step) / (1 - beta1 ** step)
    param[rows] += -step_size * (avg / denom)


class SparseAdam(Optimizer):
    """Adam restricted to the rows present in each gradient (see the module notes)."""

    def __init__(self, params, lr=1e-3, betas=(0.9, 0.999), eps=1e-8, maximize=False):
        if not 0.0 < lr:
            raise ValueError(f"Invalid learning rate: {lr}")
        if not 0.0 < eps:
            raise ValueError(f"Invalid epsilon value: {eps}")
        check_betas(betas)
        defaults = dict(lr=lr, betas=betas, eps=eps, maximize=maximize)
        super().__init__(params, defaults)

    @grad_mode.no_grad()
    def step(self, closure=None):
        loss = self._eval_closure(closure)
        for group in self.param_groups:
            beta1, beta2 = group["betas"]
            kw = dict(lr=group["lr"], beta1=beta1, beta2=beta2, eps=group["eps"],
                      maximize=group.get("maximize", False))
            for p, state in self._params_with_grad(group, "exp_avg", "exp_avg_sq"):
                sparse_adam_update(p._data, p.grad._data, state["exp_avg"]._data,
                                   state["exp_avg_sq"]._data, state["step"], **kw)
        return loss
