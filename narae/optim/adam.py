"""Adam: per-coordinate steps from bias-corrected running moments of the gradient."""
from ..autograd import grad_mode
from ..backend import get_array_module
from . import _multi_tensor as mt
from .optimizer import Optimizer, as_real_pairs, check_non_negative, check_betas

__all__ = ["Adam", "adam_update", "lerp_"]


def lerp_(a, b, w):
    """``a += w * (b - a)`` in place, in torch's two-sided form (exact at ``w == 1``)."""
    if w < 0.5:
        a += w * (b - a)
    else:
        diff = b - a
        diff *= 1 - w
        a[...] = b - diff
    return a


def adam_moments(param, grad, exp_avg, exp_avg_sq, *, lr, beta1, beta2, weight_decay,
                 decoupled_weight_decay, maximize):
    """The start every Adam variant (Adam(W), NAdam, RAdam) shares: the gradient's sign for
    ``maximize``, L2 or decoupled (AdamW) weight decay, then both moments updated in place."""
    if maximize:
        grad = -grad
    if weight_decay != 0:
        if decoupled_weight_decay:
            param *= 1 - lr * weight_decay
        else:
            grad = grad + weight_decay * param
    lerp_(exp_avg, grad, 1 - beta1)
    exp_avg_sq *= beta2
    exp_avg_sq += (1 - beta2) * grad * grad
    return grad


def adam_update(param, grad, exp_avg, exp_avg_sq, max_exp_avg_sq, step, *, lr, beta1, beta2,
                eps, weight_decay, amsgrad, maximize, decoupled_weight_decay):
    """One Adam(W) step on raw arrays; moments are updated in place, ``step`` is already +1."""
    xp = get_array_module(param)
    adam_moments(param, grad, exp_avg, exp_avg_sq, lr=lr, beta1=beta1, beta2=beta2,
                 weight_decay=weight_decay, decoupled_weight_decay=decoupled_weight_decay,
                 maximize=maximize)
    bias_correction1 = 1 - beta1 ** step
    bias_correction2_sqrt = (1 - beta2 ** step) ** 0.5
    step_size = lr / bias_correction1
    if amsgrad:
        xp.maximum(max_exp_avg_sq, exp_avg_sq, out=max_exp_avg_sq)
        denom = xp.sqrt(max_exp_avg_sq)
    else:
        denom = xp.sqrt(exp_avg_sq)
    denom /= bias_correction2_sqrt
    denom += eps
    update = -step_size * exp_avg
    update /= denom
    param += update


class Adam(Optimizer):
    """Adam (Kingma & Ba); ``decoupled_weight_decay=True`` makes it AdamW."""

    def __init__(self, params, lr=1e-3, betas=(0.9, 0.999), eps=1e-8, weight_decay=0,
                 amsgrad=False, *, foreach=None, maximize=False, capturable=False,
                 differentiable=False, fused=None, decoupled_weight_decay=False):
        check_non_negative(lr=lr, eps=eps)
        check_betas(betas)
        check_non_negative(weight_decay=weight_decay)
        defaults = dict(lr=lr, betas=tuple(betas), eps=eps, weight_decay=weight_decay,
                        amsgrad=amsgrad, maximize=maximize, foreach=foreach,
                        capturable=capturable, differentiable=differentiable, fused=fused,
                        decoupled_weight_decay=decoupled_weight_decay)
        super().__init__(params, defaults)

    _step_supports_amp_scaling = True   # GradScaler passes its device-side inf flag

    @grad_mode.no_grad()
    def step(self, closure=None, found_inf=None):
        """One update; ``found_inf`` (a GradScaler's device flag) skips it when non-zero."""
        loss = self._eval_closure(closure)
        for group in self.param_groups:
            params = [p for p in group["params"] if p.grad is not None]
            if self._takes_fused_path(group, params):
                self._fused_step(group, params, found_inf)
                continue
            if mt.skip_on_host(found_inf):
                continue
            beta1, beta2 = group["betas"]
            amsgrad = group["amsgrad"]
            kw = dict(lr=group["lr"], beta1=beta1, beta2=beta2, eps=group["eps"],
                      weight_decay=group["weight_decay"], amsgrad=amsgrad,
                      maximize=group["maximize"],
                      decoupled_weight_decay=group["decoupled_weight_decay"])
            for p in params:
                state = self._state_for(p, "exp_avg", "exp_avg_sq",
                                        *(("max_exp_avg_sq",) if amsgrad else ()))
                state["step"] = mt.host_step(state["step"]) + 1
                adam_update(*as_real_pairs(p, p._data, p.grad._data, state["exp_avg"]._data,
                                           state["exp_avg_sq"]._data,
                                           state["max_exp_avg_sq"]._data if amsgrad else None),
                            state["step"], **kw)
                p._version[0] += 1
        return loss

    @staticmethod
    def _hyper(group):
        beta1, beta2 = group["betas"]
        return (group["lr"], beta1, beta2, group["eps"], group["weight_decay"])

    def _fused_step(self, group, params, found_inf=None):
        """All of the group's tensors of one device and dtype in one kernel launch."""
        amsgrad = group["amsgrad"]
        extra = ("max_exp_avg_sq",) if amsgrad else ()
        for part, ps in self._fused_partitions(group, params, n_hyper=5):
            states = [self._state_for(p, "exp_avg", "exp_avg_sq", *extra) for p in ps]
            part.sync_steps(states)
            second = "max_exp_avg_sq" if amsgrad else "exp_avg_sq"
            tables, total = part.table([
                [p._data for p in ps], [mt.contiguous_grad(p) for p in ps],
                [s["exp_avg"]._data for s in states], [s["exp_avg_sq"]._data for s in states],
                [s[second]._data for s in states]])
            n = len(ps)
            flag = part.no_inf if found_inf is None else mt.flag(found_inf)
            mt.launch(part, "increment_steps", n, [part.steps, n, flag])
            mt.launch(part, "adam_multi", total,
                      [*tables[:5], tables[5], n, total, part.steps, part.hyper.device,
                       amsgrad, group["maximize"], group["decoupled_weight_decay"], flag])
            for p in ps:
                p._version[0] += 1
