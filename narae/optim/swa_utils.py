"""Weight averaging, as torch.optim.swa_utils: Stochastic Weight Averaging (SWA, Izmailov
et al. 2018) and exponential moving averages (EMA) of a model's parameters.

``AveragedModel`` keeps a copy of a model whose weights are the running average of the
trained model's; ``SWALR`` anneals the learning rate to a constant for the SWA phase;
``update_bn`` recomputes BatchNorm statistics for the averaged weights (the running
statistics of the trained model belong to other weights).
"""
import itertools
import math
from copy import deepcopy

from .. import _dtype
from ..autograd import grad_mode
from ..backend import get_array_module
from ..creation import tensor as _tensor
from ..nn.module import Module
from ..nn.normalization import _BatchNorm
from ..tensor import Tensor
from .adam import lerp_
from .lr_scheduler import LRScheduler, _per_group
from .optimizer import round_to_scalar_dtype

__all__ = ["AveragedModel", "update_bn", "SWALR", "get_ema_multi_avg_fn",
           "get_swa_multi_avg_fn", "get_ema_avg_fn", "get_swa_avg_fn"]


def _check_decay(decay):
    if decay < 0.0 or decay > 1.0:
        raise ValueError(f"Invalid decay value {decay} provided. Please provide a value in "
                         "[0,1] range.")


def _blend_non_float(averaged, value):
    """An integer tensor set to ``value`` (computed in the default float dtype), truncated
    towards zero as a float-to-integer copy does."""
    averaged._data[...] = value.astype(averaged._data.dtype)
    averaged._version[0] += 1


def _default_float(xp):
    dt = _dtype.get_default_dtype().np
    return dt if dt in (xp.float32, xp.float64) else xp.float32


def get_ema_multi_avg_fn(decay=0.999):
    """``fn(averaged_list, current_list, num_averaged)`` updating each averaged tensor in
    place to ``decay * averaged + (1 - decay) * current``."""
    _check_decay(decay)

    @grad_mode.no_grad()
    def ema_update(ema_param_list, current_param_list, _):
        for ema, cur in zip(ema_param_list, current_param_list):
            if ema.is_floating_point() or ema.is_complex():
                lerp_(ema._data, cur._data, 1 - decay)
                ema._version[0] += 1
            else:
                xp = get_array_module(ema._data)
                fd = _default_float(xp)
                _blend_non_float(ema, ema._data.astype(fd) * decay
                                 + cur._data.astype(fd) * (1 - decay))
    return ema_update


def get_swa_multi_avg_fn():
    """``fn(averaged_list, current_list, num_averaged)`` making each averaged tensor the
    running mean: ``averaged += (current - averaged) / (num_averaged + 1)``, in place."""

    @grad_mode.no_grad()
    def swa_update(averaged_param_list, current_param_list, num_averaged):
        if isinstance(num_averaged, Tensor):
            # torch divides the integer count as a tensor: the weight is rounded to the
            # default float dtype, and the running mean follows that rounding
            weight = round_to_scalar_dtype(1 / (int(num_averaged.item()) + 1))
        else:
            weight = 1 / (num_averaged + 1)
        for avg, cur in zip(averaged_param_list, current_param_list):
            if avg.is_floating_point() or avg.is_complex():
                lerp_(avg._data, cur._data, weight)
                avg._version[0] += 1
            else:   # as torch, whose integer addcdiv / add with a float alpha refuse
                raise RuntimeError(
                    f"swa_update: cannot average a tensor of integer dtype {avg.dtype} (shape "
                    f"{tuple(avg.shape)}); pass use_buffers=False or an avg_fn")
    return swa_update


def get_ema_avg_fn(decay=0.999):
    """``fn(averaged, current, num_averaged)`` returning ``decay * averaged + (1 - decay) *
    current`` (a new tensor)."""
    _check_decay(decay)

    @grad_mode.no_grad()
    def ema_update(ema_param, current_param, num_averaged):
        return decay * ema_param + (1 - decay) * current_param
    return ema_update


def get_swa_avg_fn():
    """``fn(averaged, current, num_averaged)`` returning the running mean after one more
    model: ``averaged + (current - averaged) / (num_averaged + 1)``."""

    @grad_mode.no_grad()
    def swa_update(averaged_param, current_param, num_averaged):
        return averaged_param + (current_param - averaged_param) / (num_averaged + 1)
    return swa_update


def _group_by_device_and_dtype(averaged, current):
    """``{(device, dtype): ([averaged...], [current...])}`` in first-seen order."""
    groups = {}
    for a, c in zip(averaged, current):
        lists = groups.setdefault((str(a.device), a.dtype), ([], []))
        lists[0].append(a)
        lists[1].append(c)
    return groups


class AveragedModel(Module):
    """A copy of ``model`` (``self.module``) holding the average of the weights passed to
    ``update_parameters``: SWA's equal-weight running mean by default, any other rule
    through ``avg_fn(averaged, current, n)`` or the in-place
    ``multi_avg_fn(averaged_list, current_list, n)`` (e.g. ``get_ema_multi_avg_fn``).

    ``use_buffers=True`` averages the buffers (BatchNorm statistics) too; otherwise they are
    copied from the model at each update. ``n_averaged`` counts the updates.
    """

    def __init__(self, model, device=None, avg_fn=None, multi_avg_fn=None, use_buffers=False):
        super().__init__()
        if avg_fn is not None and multi_avg_fn is not None:
            raise AssertionError("Only one of avg_fn and multi_avg_fn should be provided")
        self.module = deepcopy(model)
        if device is not None:
            self.module = self.module.to(device)
        self.register_buffer("n_averaged", _tensor(0, dtype=_dtype.long, device=device))
        self.avg_fn = avg_fn
        self.multi_avg_fn = multi_avg_fn
        self.use_buffers = use_buffers

    def forward(self, *args, **kwargs):
        return self.module(*args, **kwargs)

    @grad_mode.no_grad()
    def update_parameters(self, model):
        """Fold ``model``'s current weights into the average (the first call copies them)."""
        if self.use_buffers:
            own = itertools.chain(self.module.parameters(), self.module.buffers())
            theirs = itertools.chain(model.parameters(), model.buffers())
        else:
            own, theirs = self.parameters(), model.parameters()
        own_list, their_list = [], []
        first = int(self.n_averaged.item()) == 0
        for p_avg, p_model in zip(own, theirs):
            p_model = p_model.detach().to(p_avg.device)
            own_list.append(p_avg.detach())
            their_list.append(p_model)
            if first:
                p_avg.detach().copy_(p_model)
        if not first:
            if self.multi_avg_fn is not None or self.avg_fn is None:
                for (device, _), (avgs, curs) in _group_by_device_and_dtype(
                        own_list, their_list).items():
                    n = self.n_averaged.to(device)
                    if self.multi_avg_fn is not None:
                        self.multi_avg_fn(avgs, curs, n)
                    elif device.startswith("cuda"):
                        # torch's multi-tensor path on CUDA (its weight rounding included)
                        get_swa_multi_avg_fn()(avgs, curs, n)
                    else:
                        avg_fn = get_swa_avg_fn()
                        for p_avg, p_model in zip(avgs, curs):
                            p_avg.copy_(avg_fn(p_avg, p_model, n))
            else:
                for p_avg, p_model in zip(own_list, their_list):
                    n = self.n_averaged.to(p_avg.device)
                    p_avg.copy_(self.avg_fn(p_avg, p_model, n))
        if not self.use_buffers:
            # buffers are not averaged: keep them equal to the model's
            for b_own, b_model in zip(self.module.buffers(), model.buffers()):
                b_own.detach().copy_(b_model.detach().to(b_own.device))
        self.n_averaged.add_(1)


@grad_mode.no_grad()
def update_bn(loader, model, device=None):
    """Recompute every BatchNorm's running mean and variance with one pass over ``loader``.

    The statistics are reset and, with ``momentum=None``, become the plain average over
    the batches (a cumulative mean), as the averaged weights need; each batch is the item
    itself or its first element (an ``(input, target)`` pair).
    """
    momenta = {}
    for module in model.modules():
        if isinstance(module, _BatchNorm):
            module.reset_running_stats()
            momenta[module] = module.momentum
    if not momenta:
        return
    was_training = model.training
    model.train()
    for module in momenta:
        module.momentum = None
    for input in loader:
        if isinstance(input, (list, tuple)):
            input = input[0]
        if device is not None:
            input = input.to(device)
        model(input)
    for module, momentum in momenta.items():
        module.momentum = momentum
    model.train(was_training)


class SWALR(LRScheduler):
    """Anneal each group's learning rate to ``swa_lr`` over ``anneal_epochs`` steps, then
    hold it.

    With ``t = min(1, epoch / anneal_epochs)`` and ``alpha`` = ``t`` ("linear") or
    ``(1 - cos(pi t)) / 2`` ("cos"), ``lr = alpha swa_lr + (1 - alpha) lr_0``; ``lr_0`` is
    recovered from the current lr each step (torch's recursive form, so it composes).
    """

    def __init__(self, optimizer, swa_lr, anneal_epochs=10, anneal_strategy="cos",
                 last_epoch=-1):
        for value, group in zip(_per_group("swa_lr", optimizer, swa_lr),
                                optimizer.param_groups):
            group["swa_lr"] = value
        if anneal_strategy not in ("cos", "linear"):
            raise ValueError("anneal_strategy must be one of 'cos' or 'linear', instead got "
                             f"{anneal_strategy}")
        self._set_anneal_func(anneal_strategy)
        if not isinstance(anneal_epochs, int) or anneal_epochs < 0:
            raise ValueError(f"anneal_epochs must be equal or greater than 0, got "
                             f"{anneal_epochs}")
        self.anneal_epochs = anneal_epochs
        super().__init__(optimizer, last_epoch)

    @staticmethod
    def _linear_anneal(t):
        return t

    @staticmethod
    def _cosine_anneal(t):
        return (1 - math.cos(math.pi * t)) / 2

    @staticmethod
    def _get_initial_lr(lr, swa_lr, alpha):
        # invert lr = alpha swa_lr + (1 - alpha) lr_0
        if alpha == 1:
            return swa_lr
        return (lr - alpha * swa_lr) / (1 - alpha)

    def _set_anneal_func(self, anneal_strategy):
        self._anneal_strategy = anneal_strategy
        self.anneal_func = self._cosine_anneal if anneal_strategy == "cos" \
            else self._linear_anneal

    def get_lr(self):
        step = self._step_count - 1
        if self.anneal_epochs == 0:
            step = max(1, step)
        span = max(1, self.anneal_epochs)
        prev_alpha = self.anneal_func(max(0, min(1, (step - 1) / span)))
        groups = self.optimizer.param_groups
        start = [self._get_initial_lr(g["lr"], g["swa_lr"], prev_alpha) for g in groups]
        alpha = self.anneal_func(max(0, min(1, step / span)))
        return [g["swa_lr"] * alpha + lr * (1 - alpha) for g, lr in zip(groups, start)]

    def state_dict(self):
        """Everything but the optimizer and the annealing function (a strategy name)."""
        return {k: v for k, v in self.__dict__.items() if k not in ("optimizer", "anneal_func")}

    def load_state_dict(self, state_dict):
        self.__dict__.update(state_dict)
        self._set_anneal_func(self._anneal_strategy)
