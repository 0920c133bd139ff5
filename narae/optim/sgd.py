"""Stochastic gradient descent, with optional (Nesterov) momentum and L2 weight decay."""
from ..autograd import grad_mode
from ..sparse._coo import SparseCOOArray
from ..sparse._optim import is_sparse_grad, sgd_sparse_update
from ..tensor import Tensor
from . import _multi_tensor as mt
from .optimizer import Optimizer, check_non_negative

__all__ = ["SGD", "sgd_update"]


def sgd_update(param, grad, buf, *, lr, momentum, dampening, weight_decay, nesterov, maximize):
    """One SGD step on raw arrays, in place on ``param``; returns the momentum buffer.

    ``buf`` is None on the first step: torch then starts the buffer at the gradient itself
    (no dampening), and so do we.
    """
    if maximize:
        grad = -grad
    if weight_decay != 0:
        grad = grad + weight_decay * param
    if momentum != 0:
        if buf is None:
            buf = grad.copy()
        else:
            buf *= momentum
            buf += (1 - dampening) * grad
        grad = grad + momentum * buf if nesterov else buf
    param -= lr * grad
    return buf


class SGD(Optimizer):
    """``p -= lr * g`` with ``g`` optionally through weight decay and a momentum buffer."""
    _accepts_sparse_grads = True

    def __init__(self, params, lr=1e-3, momentum=0, dampening=0, weight_decay=0,
                 nesterov=False, *, maximize=False, foreach=None, differentiable=False,
                 fused=None):
        check_non_negative(lr=lr, momentum=momentum, weight_decay=weight_decay)
        if nesterov and (momentum <= 0 or dampening != 0):
            raise ValueError("Nesterov momentum requires a momentum and zero dampening")
        defaults = dict(lr=lr, momentum=momentum, dampening=dampening,
                        weight_decay=weight_decay, nesterov=nesterov, maximize=maximize,
                        foreach=foreach, differentiable=differentiable, fused=fused)
        super().__init__(params, defaults)

    _step_supports_amp_scaling = True   # GradScaler passes its device-side inf flag

    @grad_mode.no_grad()
    def step(self, closure=None, found_inf=None):
        """One update; ``found_inf`` (a GradScaler's device flag) skips it when non-zero."""
        loss = self._eval_closure(closure)
        for group in self.param_groups:
            lr, momentum = group["lr"], group["momentum"]
            params = [p for p in group["params"] if p.grad is not None]
            has_sparse = SparseCOOArray.ever_made and any(is_sparse_grad(p) for p in params)
            # torch's first momentum step sets buf = grad: done by the per-tensor path
            first = momentum != 0 and any("momentum_buffer" not in self.state.get(p, {})
                                          for p in params)
            if not first and not has_sparse and self._takes_fused_path(group, params):
                self._fused_step(group, params, found_inf)
                continue
            if mt.skip_on_host(found_inf):
                continue
            kw = dict(lr=lr, momentum=momentum, dampening=group["dampening"],
                      weight_decay=group["weight_decay"], nesterov=group["nesterov"],
                      maximize=group["maximize"])
            for p in params:
                # (a sparse grad, from Embedding(sparse=True), updates only its rows)
                upd = sgd_sparse_update if has_sparse and is_sparse_grad(p) else sgd_update
                if momentum != 0:
                    state = self.state.setdefault(p, {})
                    old = state.get("momentum_buffer")
                    buf = upd(p._data, p.grad._data, None if old is None else old._data, **kw)
                    if old is None:
                        state["momentum_buffer"] = Tensor(buf)
                else:
                    upd(p._data, p.grad._data, None, **kw)
                p._version[0] += 1
        return loss

    @staticmethod
    def _hyper(group):
        return (group["lr"], group["momentum"], group["dampening"], group["weight_decay"])

    def _fused_step(self, group, params, found_inf=None):
        """All of the group's tensors of one device and dtype in one kernel launch."""
        momentum = group["momentum"]
        for part, ps in self._fused_partitions(group, params, n_hyper=4):
            datas = [p._data for p in ps]
            bufs = [self.state[p]["momentum_buffer"]._data for p in ps] if momentum else datas
            tables, total = part.table([datas, [mt.contiguous_grad(p) for p in ps], bufs])
            mt.launch(part, "sgd_multi", total,
                      [*tables[:3], tables[3], len(ps), total, part.hyper.device,
                       group["nesterov"], group["maximize"],
                       part.no_inf if found_inf is None else mt.flag(found_inf)])
            for p in ps:
                p._version[0] += 1
