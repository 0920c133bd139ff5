"""The sparse-gradient updates of the optimizers torch lets take them (SGD, Adagrad,
SparseAdam), on raw arrays: ``param`` and the state dense, ``grad`` a SparseCOOArray.

Each follows torch's step exactly: the gradient is coalesced first, and only the rows it
holds change (SparseAdam, Adagrad's update), or the dense meaning of the gradient is used
where torch's sparse arithmetic amounts to that (SGD's momentum buffer).
"""
import math

from ..backend import get_array_module
from ._coo import SparseCOOArray

__all__ = ["is_sparse_grad", "sgd_sparse_update", "adagrad_sparse_update",
           "sparse_adam_sparse_update", "reject_sparse_grad", "sparse_grad_norm",
           "scale_sparse_grad_"]


def is_sparse_grad(p):
    """Whether parameter ``p`` holds a sparse COO gradient."""
    return p.grad is not None and type(p.grad._data) is SparseCOOArray


def reject_sparse_grad(name, p):
    """torch's error for an optimizer without a sparse path."""
    if is_sparse_grad(p):
        if name in ("Adam", "AdamW"):
            raise RuntimeError("Adam does not support sparse gradients, please consider "
                               "SparseAdam instead")
        raise RuntimeError(f"{name} does not support sparse gradients")


def _rows(grad):
    """The coalesced gradient's positions (a tuple usable as an index) and its values."""
    c = grad.coalesce()
    return tuple(c.indices), c.values


def sgd_sparse_update(param, grad, buf, *, lr, momentum, dampening, weight_decay, nesterov,
                      maximize):
    """One SGD step with a sparse gradient; returns the momentum buffer (dense: torch's
    sparse buffer adds up to the same numbers)."""
    if weight_decay != 0:
        raise RuntimeError("add(sparse, dense) is not supported. Use add(dense, sparse) "
                           "instead.")
    if momentum != 0:
        from ..optim.sgd import sgd_update
        return sgd_update(param, grad.to_dense(), buf, lr=lr, momentum=momentum,
                          dampening=dampening, weight_decay=0, nesterov=nesterov,
                          maximize=maximize)
    pos, values = _rows(grad)
    step = values * (lr if maximize else -lr)
    param[pos] += step.astype(param.dtype, copy=False)
    return buf


def adagrad_sparse_update(param, grad, state_sum, step, *, lr, lr_decay, weight_decay, eps,
                          maximize):
    """One Adagrad step with a sparse gradient (``step`` counts this one): the sum of squares
    grows at the gradient's rows only, and only those rows move."""
    if weight_decay != 0:
        raise RuntimeError("weight_decay option is not compatible with sparse gradients")
    xp = get_array_module(param)
    pos, values = _rows(grad)
    if maximize:
        values = -values
    clr = lr / (1 + (step - 1) * lr_decay)
    state_sum[pos] += values * values
    std = xp.sqrt(state_sum[pos]) + eps
    param[pos] += -clr * (values / std)


def sparse_adam_sparse_update(param, grad, exp_avg, exp_avg_sq, step, *, lr, beta1, beta2,
                              eps, maximize):
    """One SparseAdam step: the moments and the parameter change at the gradient's rows
    only (``step`` counts this one)."""
    xp = get_array_module(param)
    pos, values = _rows(grad)
    if values.shape[0] == 0:
        return
    if maximize:
        values = -values
    old_avg, old_sq = exp_avg[pos], exp_avg_sq[pos]
    avg = old_avg + (values - old_avg) * (1 - beta1)
    sq = old_sq + (values * values - old_sq) * (1 - beta2)
    exp_avg[pos] = avg
    exp_avg_sq[pos] = sq
    step_size = lr * math.sqrt(1 - beta2 ** step) / (1 - beta1 ** step)
    param[pos] += -step_size * (avg / (xp.sqrt(sq) + eps))


def sparse_grad_norm(grad, norm_type=2.0):
    """The ``norm_type``-norm of a sparse gradient (of its dense meaning: coalesced values),
    as a 0-d array on the gradient's device."""
    xp = get_array_module(grad.values)
    v = xp.abs(grad.coalesce().values)
    if norm_type == float("inf"):
        return v.max() if v.size else xp.zeros((), v.dtype)
    return (v ** norm_type).sum() ** (1.0 / norm_type)


def scale_sparse_grad_(p, factor):
    """Multiply ``p``'s sparse gradient by ``factor`` (a number or 0-d array) in place."""
    g = p.grad._data
    g.values = g.values * factor
