"""SparseAdam: "lazy" Adam that touches only the rows a gradient has (embedding tables).

Rows absent from a step's sparse gradient (``Embedding(sparse=True)``) keep their
parameters and their moments unchanged, instead of decaying as in Adam, so a rarely seen
word's statistics stay its own. A dense gradient is refused, as torch does.
"""
from ..autograd import grad_mode
from ..sparse._optim import is_sparse_grad, sparse_adam_sparse_update
from .optimizer import Optimizer, check_betas

__all__ = ["SparseAdam"]


class SparseAdam(Optimizer):
    """Adam restricted to the rows present in each gradient (see the module notes)."""
    _accepts_sparse_grads = True

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
                if not is_sparse_grad(p):
                    raise RuntimeError("SparseAdam does not support dense gradients, please "
                                       "consider Adam instead")
                sparse_adam_sparse_update(p._data, p.grad._data, state["exp_avg"]._data,
                                          state["exp_avg_sq"]._data, state["step"], **kw)
        return loss
