"""Loss functions with torch.nn.functional's names, arguments, defaults and reductions.

``cross_entropy`` is one fused node (log-softmax and the weighted sum against a target
distribution, with the gradient softmax * sum(q) - q); every target form (class indices with
weights / ignore_index / label smoothing, or class probabilities) is turned into that
distribution ``q``. The other losses are short compositions of differentiable narae ops, so
their gradients of gradients come for free.

On the GPU (and under ``kernels.emulate()``) class-index cross entropy skips building q:
``IndexCrossEntropy`` runs one kernel for the per-row losses and one for the gradient
(``backend/kernels/softmax_ce.cu``).
"""
import math
import warnings

import numpy as np

from .._dtype import is_floating
from ..autograd import grad_mode
from ..autograd.function import Function, ShapeError
from ..backend import capture, get_array_module
from ..backend.constants import scalar
from ..backend.arrays import check_same_device
from ..backend.kernels import softmax_ce_ops as _rows
from ..tensor import Tensor
from .activation import softmax, log_softmax, sigmoid, relu
from .arith import where, log, exp, clamp, abs as _abs, minimum
from .shape import reshape
from .ctc import ctc_loss  # noqa: F401 (re-exported: F.ctc_loss)

__all__ = ["cross_entropy", "nll_loss", "mse_loss", "l1_loss", "smooth_l1_loss", "huber_loss",
           "binary_cross_entropy", "binary_cross_entropy_with_logits", "kl_div",
           "hinge_embedding_loss", "multi_margin_loss", "margin_ranking_loss",
           "soft_margin_loss", "cosine_embedding_loss", "triplet_margin_loss",
           "poisson_nll_loss", "gaussian_nll_loss", "multilabel_soft_margin_loss",
           "multilabel_margin_loss", "triplet_margin_with_distance_loss", "ctc_loss"]


class TargetTypeError(TypeError, RuntimeError):
    """A target of the wrong dtype (a TypeError, and a RuntimeError as torch raises)."""


# --- reductions ----------------------------------------------------------------------------
def _reduction(size_average, reduce, reduction):
    """torch's legacy size_average/reduce flags folded into ``reduction``, validated."""
    if size_average is not None or reduce is not None:
        size_average = True if size_average is None else size_average
        reduce = True if reduce is None else reduce
        reduction = "mean" if size_average and reduce else "sum" if reduce else "none"
        warnings.warn("size_average and reduce args will be deprecated, please use "
                      f"reduction='{reduction}' instead.", UserWarning, stacklevel=3)
    if reduction not in ("none", "mean", "sum"):
        raise ValueError(f"{reduction} is not a valid value for reduction")
    return reduction


def _reduce(loss, reduction):
    if reduction == "none":
        return loss
    return loss.sum() if reduction == "sum" else loss.mean()


def _refuse_complex(name, *tensors):
    """torch has no complex kernel for this loss (it orders values, or needs real
    probabilities): NotImplementedError, as torch."""
    for t in tensors:
        if isinstance(t, Tensor) and t._data.dtype.kind == "c":
            shapes = ", ".join(f"{x.dtype} of shape {tuple(x.shape)}" for x in tensors
                               if isinstance(x, Tensor))
            raise NotImplementedError(f"{name} is not implemented for complex tensors "
                                      f"(got {shapes})")


def _same_shape_warning(input, target):
    if tuple(input.shape) != tuple(target.shape):
        warnings.warn(f"Using a target size ({tuple(target.shape)}) that is different to the "
                      f"input size ({tuple(input.shape)}). This will likely lead to incorrect "
                      "results due to broadcasting. Please ensure they have the same size.",
                      UserWarning, stacklevel=3)


def _as_tensor(value, like):
    if isinstance(value, Tensor):
        return value
    xp = get_array_module(like._data)
    if isinstance(value, (int, float, np.number)):
        return Tensor(scalar(xp, value, like._data.dtype))
    return Tensor(xp.asarray(value, dtype=like._data.dtype))


# --- cross entropy and NLL ----------------------------------------------------------------
class SoftmaxCrossEntropy(Function):
    """Per-element ``-sum_c q_c * log_softmax(x)_c`` along ``axis``.

    q is the target distribution (weighted, smoothed, zero where ignored). The gradient in x
    is ``softmax(x) * sum_c q_c - q``; in q it is ``-log_softmax(x)``. Fused array code when no
    graph is recorded, narae ops under create_graph (double backward).
    """

    def __init__(self, axis):
        self.axis = axis

    def forward(self, x, q):
        xp = get_array_module(x)
        ax = self.axis
        if x.shape[ax] == 0:  # no classes: a zero loss (a max over no entries has no identity)
            self.logp = x.copy()
            return xp.zeros(x.shape[:ax] + x.shape[ax + 1:], x.dtype)
        logp = x - x.max(axis=ax, keepdims=True)
        logp -= xp.log(xp.exp(logp).sum(axis=ax, keepdims=True))
        self.logp = logp
        return -(logp * q).sum(axis=ax)

    def backward(self, gl):
        x, q = self.inputs
        ax = self.axis
        if grad_mode.state.enabled:
            g = reshape(gl, x.shape[:ax] + (1,) + x.shape[ax + 1:])
            gx = _softmax_ce_grad(x, q, g, ax) if x.requires_grad else None
            gq = -g * log_softmax(x, ax) if q.requires_grad else None
            return gx, gq
        xp = get_array_module(self.logp)
        g = xp.expand_dims(gl._data, ax)
        qd = q._data
        gx = gq = None
        if x.requires_grad:
            gx = xp.exp(self.logp)
            gx *= g * qd.sum(axis=ax, keepdims=True)
            gx -= g * qd
            gx = Tensor(gx)
        if q.requires_grad:
            gq = Tensor(-g * self.logp)
        return gx, gq


def _softmax_ce_grad(x, q, g, ax):
    """d/dx of g * cross_entropy(x, q) with narae ops (differentiable: double backward)."""
    return softmax(x, ax) * (g * q.sum(ax, keepdim=True)) - g * q


class IndexCrossEntropy(Function):
    """Per-element cross entropy of logits against class indices, fused (the kernel path).

    The same loss as ``SoftmaxCrossEntropy`` with the q of ``_index_target_distribution``,
    but q is never built: the kernels read target and weight directly. Under create_graph
    the gradient is built from narae ops on q instead (double backward).
    """

    def __init__(self, axis, target, weight, ignore_index, smoothing):
        self.target, self.weight = target, weight
        self.ignore_index, self.smoothing = ignore_index, smoothing
        self.rows = _rows.CrossEntropyRows(axis, target._data,
                                           None if weight is None else weight._data,
                                           ignore_index, smoothing)

    def forward(self, x):
        return self.rows.forward(x)

    def backward(self, gl):
        x = self.inputs[0]
        ax = self.rows.axis
        if grad_mode.state.enabled:
            q, _ = _index_target_distribution(x, self.target, ax, self.weight,
                                              self.ignore_index, self.smoothing)
            g = reshape(gl, x.shape[:ax] + (1,) + x.shape[ax + 1:])
            return _softmax_ce_grad(x, Tensor(q), g, ax)
        return Tensor(self.rows.backward(x._data, gl._data))


def _class_axis(input, what):
    if input.ndim == 0:
        raise ShapeError(f"{what}: input must have a class dimension, got a 0-d tensor")
    return 0 if input.ndim == 1 else 1


def _check_class_weight(weight, c, what, input=None):
    if weight is None:
        return
    if input is not None:
        check_same_device(input._data, weight._data, what)
    if tuple(weight.shape) != (c,):
        raise ShapeError(f"{what}: weight of shape {tuple(weight.shape)} does not match the "
                         f"{c} classes (expected shape ({c},))")


def _check_index_target(input, target, axis, what, ignore_index):
    """Integer dtype, the input's shape without the class dim, classes in range."""
    c = input.shape[axis]
    if not isinstance(target, Tensor):
        raise TargetTypeError(f"{what}: target must be a Tensor, got {type(target).__name__}")
    # the target is read inside the op's kernels, not as an input: check its device here
    check_same_device(input._data, target._data, what)
    expected = tuple(input.shape[:axis] + input.shape[axis + 1:])
    if target._data.dtype.kind not in "iu":
        hint = (" (class-probability targets must be floating point with the input's shape "
                f"{tuple(input.shape)})" if is_floating(target._data.dtype) else "")
        raise TargetTypeError(f"{what}: expected a target of class indices with an integer "
                              f"dtype (int64) for input of shape {tuple(input.shape)}, but got "
                              f"target of dtype {target.dtype} and shape "
                              f"{tuple(target.shape)}{hint}")
    if tuple(target.shape) != expected:
        raise ShapeError(f"{what}: target of shape {tuple(target.shape)} does not match input of "
                         f"shape {tuple(input.shape)} (expected a target of shape {expected})")
    t = target._data
    if not t.size or not capture.can_read_back():
        return
    bad = ((t < 0) | (t >= c)) & (t != ignore_index)
    if bool(bad.any()):
        value = int(t[bad].ravel()[0])
        raise IndexError(f"{what}: target class {value} is out of range for {c} classes "
                         f"(expected 0..{c - 1}, or ignore_index={ignore_index})")


def _index_target_distribution(input, target, axis, weight, ignore_index, smoothing):
    """The distribution q (input's shape) and the weighted-mean denominator for class indices.

    q = (1 - smoothing) * w[t] * onehot(t) + smoothing / C * w, zero where t == ignore_index;
    the denominator is sum of w[t] over the kept elements (torch's weighted mean).
    """
    x = input._data
    xp = get_array_module(x)
    c = x.shape[axis]
    t = target._data
    keep = t != ignore_index
    tc = xp.where(keep, t, 0)
    cls_shape = (c,) + (1,) * (x.ndim - axis - 1)
    classes = xp.arange(c).reshape(cls_shape)
    w = None if weight is None else weight._data.astype(x.dtype, copy=False)
    wt = keep.astype(x.dtype) if w is None else w[tc] * keep
    q = (xp.expand_dims(tc, axis) == classes) * xp.expand_dims(wt * (1.0 - smoothing), axis)
    q = q.astype(x.dtype, copy=False)
    if smoothing > 0 and c:
        per_class = xp.ones(cls_shape, x.dtype) if w is None else w.reshape(cls_shape)
        q += xp.expand_dims(keep.astype(x.dtype) * (smoothing / c), axis) * per_class
    return q, wt.sum()


def _reduce_weighted(loss, reduction, denominator):
    if reduction == "none":
        return loss
    total = loss.sum()
    if reduction == "sum":
        return total
    xp = get_array_module(loss._data)
    if isinstance(denominator, (int, float, np.number)):
        return total / Tensor(scalar(xp, denominator, loss._data.dtype))
    return total / Tensor(xp.asarray(denominator, dtype=loss._data.dtype))


def cross_entropy(input, target, weight=None, size_average=None, ignore_index=-100, reduce=None,
                  reduction="mean", label_smoothing=0.0):
    """Log-softmax over the class dim (dim 1, or 0 for an unbatched (C,) input) and the
    negative log-likelihood of ``target``: class indices (N, d1, ...) or class probabilities
    (the input's shape)."""
    reduction = _reduction(size_average, reduce, reduction)
    if not 0.0 <= label_smoothing <= 1.0:
        raise ValueError(f"cross_entropy: label_smoothing must be between 0.0 and 1.0, got "
                         f"{label_smoothing}")
    axis = _class_axis(input, "cross_entropy")
    c = input.shape[axis]
    _check_class_weight(weight, c, "cross_entropy", input)
    if not is_floating(input._data.dtype):
        raise TargetTypeError(f"cross_entropy: input must be floating point, got {input.dtype}")
    if isinstance(target, Tensor) and is_floating(target._data.dtype) and \
            tuple(target.shape) == tuple(input.shape):
        if ignore_index >= 0:
            raise ValueError("cross_entropy: ignore_index is not supported for class-probability "
                             "(floating point) targets")
        q = target
        if label_smoothing > 0 and c:  # (no classes: nothing to smooth)
            q = q * (1.0 - label_smoothing) + label_smoothing / c
        if weight is not None:
            q = q * reshape(weight, (c,) + (1,) * (input.ndim - axis - 1))
        return _reduce(SoftmaxCrossEntropy(axis)(input, q), reduction)
    _check_index_target(input, target, axis, "cross_entropy", ignore_index)
    if _rows.rowwise_usable(input._data, axis):
        fused = IndexCrossEntropy(axis, target, weight, ignore_index, label_smoothing)
        loss = fused(input)
        denom = fused.rows.row_weight.sum() if reduction == "mean" else None
        return _reduce_weighted(loss, reduction, denom)
    q, denom = _index_target_distribution(input, target, axis, weight, ignore_index,
                                          label_smoothing)
    loss = SoftmaxCrossEntropy(axis)(input, Tensor(q))
    return _reduce_weighted(loss, reduction, denom)


def nll_loss(input, target, weight=None, size_average=None, ignore_index=-100, reduce=None,
             reduction="mean"):
    """-input[n, target[n]] * weight[target[n]] for log-probability input (N, C, d1, ...)."""
    reduction = _reduction(size_average, reduce, reduction)
    _refuse_complex("nll_loss", input)
    axis = _class_axis(input, "nll_loss")
    c = input.shape[axis]
    _check_class_weight(weight, c, "nll_loss", input)
    _check_index_target(input, target, axis, "nll_loss", ignore_index)
    q, denom = _index_target_distribution(input, target, axis, weight, ignore_index, 0.0)
    # only the target entries: an inf/nan elsewhere in a row must not leak in through 0 * inf
    picked = where(Tensor(q != 0), input, Tensor(get_array_module(q).zeros((), q.dtype)))
    loss = -(picked * Tensor(q)).sum(axis)
    return _reduce_weighted(loss, reduction, denom)


# --- regression losses ---------------------------------------------------------------------
def _weighted(loss, weight, reduction, input, mean_by_weight):
    """torch's optional elementwise ``weight`` for mse/l1/huber (must match the input)."""
    if weight is None:
        return _reduce(loss, reduction)
    if tuple(weight.shape) != tuple(input.shape):
        raise ValueError(f"Weights and input must have the same size: weight of shape "
                         f"{tuple(weight.shape)}, input of shape {tuple(input.shape)}")
    loss = loss * weight
    if reduction == "mean" and mean_by_weight:
        return loss.sum() / weight.sum()
    return _reduce(loss, reduction)


def mse_loss(input, target, size_average=None, reduce=None, reduction="mean", weight=None):
    """(input - target) ** 2, reduced (a weighted mean divides by the weights' sum)."""
    reduction = _reduction(size_average, reduce, reduction)
    _refuse_complex("mse_loss", input, target)
    _same_shape_warning(input, target)
    d = input - target
    return _weighted(d * d, weight, reduction, input, True)


def l1_loss(input, target, size_average=None, reduce=None, reduction="mean", weight=None):
    reduction = _reduction(size_average, reduce, reduction)
    _same_shape_warning(input, target)
    return _weighted(_abs(input - target), weight, reduction, input, True)


def smooth_l1_loss(input, target, size_average=None, reduce=None, reduction="mean", beta=1.0):
    """0.5 d^2 / beta where |d| < beta, else |d| - 0.5 beta (plain L1 for beta == 0)."""
    reduction = _reduction(size_average, reduce, reduction)
    _same_shape_warning(input, target)
    if beta < 0:
        raise RuntimeError(f"smooth_l1_loss does not support negative values for beta, got {beta}")
    d = input - target
    ad = _abs(d)
    if beta == 0:  # plain L1: |d| is real, complex inputs work (as torch)
        return _reduce(ad, reduction)
    _refuse_complex("smooth_l1_loss", input, target)
    return _reduce(where(ad < beta, d * d * (0.5 / beta), ad - 0.5 * beta), reduction)


def huber_loss(input, target, reduction="mean", delta=1.0, weight=None):
    """0.5 d^2 where |d| < delta, else delta * (|d| - 0.5 delta)."""
    reduction = _reduction(None, None, reduction)
    _same_shape_warning(input, target)
    if delta <= 0:
        raise RuntimeError(f"huber_loss does not support non-positive values for delta, got "
                           f"{delta}")
    _refuse_complex("huber_loss", input, target)
    d = input - target
    ad = _abs(d)
    loss = where(ad < delta, d * d * 0.5, (ad - 0.5 * delta) * delta)
    return _weighted(loss, weight, reduction, input, False)


# --- binary classification ----------------------------------------------------------------
class BinaryCrossEntropy(Function):
    """-(t log x + (1 - t) log(1 - x)) with each log clamped at -100 (torch's choice: finite
    loss at x in {0, 1}); gradient (x - t) / max(x (1 - x), 1e-12)."""

    def forward(self, x, t):
        xp = get_array_module(x)
        with np.errstate(divide="ignore"):
            lx = xp.maximum(xp.log(x), -100.0)
            l1x = xp.maximum(xp.log(1.0 - x), -100.0)
        self.log_ratio = l1x - lx
        return -(t * lx + (1.0 - t) * l1x)

    def backward(self, gy):
        x, t = self.inputs
        gx = gy * (x - t) / clamp(x * (1.0 - x), min=1e-12) if x.requires_grad else None
        gt = None
        if t.requires_grad:
            if grad_mode.state.enabled:  # differentiable in x too
                gt = gy * (clamp(log(1.0 - x), min=-100.0) - clamp(log(x), min=-100.0))
            else:
                gt = gy * Tensor(self.log_ratio)
        return gx, gt


def binary_cross_entropy(input, target, weight=None, size_average=None, reduce=None,
                         reduction="mean"):
    """Binary cross entropy of probabilities ``input`` in [0, 1] against ``target``."""
    reduction = _reduction(size_average, reduce, reduction)
    if tuple(target.shape) != tuple(input.shape):
        raise ShapeError(f"binary_cross_entropy: using a target of shape {tuple(target.shape)} "
                         f"that is different to the input shape {tuple(input.shape)} is not "
                         "supported; please ensure they have the same size")
    _refuse_complex("binary_cross_entropy", input, target)
    x = input._data
    if x.size and capture.can_read_back() and bool(((x < 0) | (x > 1)).any()):
        raise RuntimeError("binary_cross_entropy: all elements of input should be between 0 and 1")
    loss = BinaryCrossEntropy()(input, target.to(input.dtype))
    if weight is not None:
        loss = loss * weight
    return _reduce(loss, reduction)


class SoftplusNeg(Function):
    """log(1 + exp(-x)) computed stably (= -logsigmoid(x)); gradient -sigmoid(-x)."""

    def forward(self, x):
        return get_array_module(x).logaddexp(0.0, -x).astype(x.dtype, copy=False)

    def backward(self, gy):
        return gy * (sigmoid(self.inputs[0]) - 1.0)


def binary_cross_entropy_with_logits(input, target, weight=None, size_average=None, reduce=None,
                                     reduction="mean", pos_weight=None):
    """sigmoid + binary cross entropy in the stable form (1 - t) x + (1 + (pw - 1) t)
    softplus(-x); ``pos_weight`` weighs the positive term per class (last dim)."""
    reduction = _reduction(size_average, reduce, reduction)
    if tuple(target.shape) != tuple(input.shape):
        raise ShapeError(f"binary_cross_entropy_with_logits: target size {tuple(target.shape)} "
                         f"must be the same as input size {tuple(input.shape)}")
    _refuse_complex("binary_cross_entropy_with_logits", input, target)
    sp = SoftplusNeg()(input)
    if pos_weight is not None:
        loss = (1.0 - target) * input + ((pos_weight - 1.0) * target + 1.0) * sp
    else:
        loss = (1.0 - target) * input + sp
    if weight is not None:
        loss = loss * weight
    return _reduce(loss, reduction)


def soft_margin_loss(input, target, size_average=None, reduce=None, reduction="mean"):
    """log(1 + exp(-target * input)), target in {-1, 1}. Complex input: the same formula on
    the principal branch of log (holomorphic, as torch computes it)."""
    reduction = _reduction(size_average, reduce, reduction)
    z = target * input
    if z._data.dtype.kind == "c":
        return _reduce(log(exp(-z) + 1.0), reduction)
    return _reduce(SoftplusNeg()(z), reduction)


def multilabel_soft_margin_loss(input, target, weight=None, size_average=None, reduce=None,
                                reduction="mean"):
    """Per-class binary logistic loss averaged over the classes (last dim) of each sample."""
    reduction = _reduction(size_average, reduce, reduction)
    _refuse_complex("multilabel_soft_margin_loss", input, target)
    # -(t logsigmoid(x) + (1 - t) logsigmoid(-x)) with logsigmoid(z) = -softplus(-z)
    loss = target * SoftplusNeg()(input) + (1.0 - target) * SoftplusNeg()(-input)
    if weight is not None:
        loss = loss * weight
    if loss.ndim == 0:
        return loss
    dim = loss.ndim - 1
    return _reduce(loss.sum(dim) / loss.shape[dim], reduction)


def multilabel_margin_loss(input, target, size_average=None, reduce=None, reduction="mean"):
    """sum over target classes j and non-target classes i of max(0, 1 - (x[j] - x[i])) / C;
    ``target`` holds class indices, ended by the first -1."""
    reduction = _reduction(size_average, reduce, reduction)
    if input.ndim not in (1, 2) or tuple(target.shape) != tuple(input.shape):
        raise ShapeError(f"multilabel_margin_loss: expected input (N, C) or (C,) and a target of "
                         f"the same shape, got {tuple(input.shape)} and {tuple(target.shape)}")
    if target._data.dtype.kind not in "iu":
        raise TargetTypeError(f"multilabel_margin_loss: target must hold integer class indices, "
                              f"got {target.dtype}")
    x = input if input.ndim == 2 else reshape(input, (1, -1))
    t = target._data.reshape(x.shape)
    xp = get_array_module(t)
    n, c = x.shape
    # the valid prefix of each row: entries before its first -1
    valid = xp.cumprod(t >= 0, axis=1).astype(bool)
    if t.size and bool(((t >= c) & valid).any()):
        raise IndexError(f"multilabel_margin_loss: target class {int(t[(t >= c) & valid][0])} is "
                         f"out of range for {c} classes")
    counts = xp.zeros((n, c), input._data.dtype)
    rows = xp.broadcast_to(xp.arange(n)[:, None], t.shape)
    xp.add.at(counts, (rows[valid], t[valid]), 1)
    is_target = counts > 0
    pair = counts[:, :, None] * (~is_target)[:, None, :]  # (N, target j, other i)
    xj = reshape(x, (n, c, 1))
    xi = reshape(x, (n, 1, c))
    loss = (relu(1.0 - xj + xi) * Tensor(pair)).sum((1, 2)) / c
    if input.ndim == 1:
        loss = reshape(loss, ())
    return _reduce(loss, reduction)


def kl_div(input, target, size_average=None, reduce=None, reduction="mean", log_target=False):
    """KL(target || exp(input)) pointwise: target * (log target - input). 'batchmean' divides
    the sum by the batch size (the true KL divergence); 'mean' by the number of elements."""
    if reduction == "batchmean" and size_average is None and reduce is None:
        red = "batchmean"
    else:
        red = _reduction(size_average, reduce, reduction)
    for t in (input, target):
        if isinstance(t, Tensor) and t._data.dtype.kind == "c":
            raise RuntimeError(f"kl_div: Complex inputs not supported (input {input.dtype} of "
                               f"shape {tuple(input.shape)}, target {target.dtype})")
    if log_target:
        loss = exp(target) * (target - input)
    else:
        positive = target > 0
        safe = where(positive, target, 1.0)
        loss = target * log(safe) - target * input  # xlogy(t, t): 0 where t == 0
    if red == "batchmean":
        total = loss.sum()
        return total / input.shape[0] if input.ndim else total
    return _reduce(loss, red)


def hinge_embedding_loss(input, target, margin=1.0, size_average=None, reduce=None,
                         reduction="mean"):
    """x where target == 1, max(0, margin - x) where target == -1."""
    reduction = _reduction(size_average, reduce, reduction)
    margin_term = where(target != 1, clamp(margin - input, min=0.0), 0.0)
    self_term = where(target != -1, input, 0.0)
    return _reduce(margin_term + self_term, reduction)


def margin_ranking_loss(input1, input2, target, margin=0, size_average=None, reduce=None,
                        reduction="mean"):
    """max(0, -target * (input1 - input2) + margin)."""
    reduction = _reduction(size_average, reduce, reduction)
    if not (input1.ndim == input2.ndim == target.ndim):
        raise ShapeError(f"margin_ranking_loss: all input tensors should have the same "
                         f"dimension, got shapes {tuple(input1.shape)}, {tuple(input2.shape)} "
                         f"and {tuple(target.shape)}")
    return _reduce(clamp(-target * (input1 - input2) + margin, min=0.0), reduction)


def multi_margin_loss(input, target, p=1, margin=1.0, weight=None, size_average=None,
                      reduce=None, reduction="mean"):
    """Multi-class hinge: sum over j != y of max(0, margin - x[y] + x[j]) ** p / C."""
    reduction = _reduction(size_average, reduce, reduction)
    if p not in (1, 2):
        raise ValueError("multi_margin_loss: only p == 1 and p == 2 supported")
    if input.ndim > 2:
        raise ShapeError(f"multi_margin_loss: expected an input of shape (N, C) or (C,), got "
                         f"shape {tuple(input.shape)}")
    axis = _class_axis(input, "multi_margin_loss")
    c = input.shape[axis]
    _check_class_weight(weight, c, "multi_margin_loss", input)
    _check_index_target(input, target, axis, "multi_margin_loss", None)
    xp = get_array_module(input._data)
    t = target._data
    onehot = xp.expand_dims(t, axis) == xp.arange(c)
    picked = (input * Tensor(onehot.astype(input._data.dtype))).sum(axis, keepdim=True)
    z = relu(input - picked + margin)
    if p == 2:
        z = z * z
    scale = (~onehot).astype(input._data.dtype)
    if weight is not None:
        scale = scale * xp.expand_dims(weight._data[t], axis)
    loss = (z * Tensor(scale)).sum(axis) / c
    return _reduce(loss, reduction)


def cosine_embedding_loss(input1, input2, target, margin=0, size_average=None, reduce=None,
                          reduction="mean"):
    """1 - cos(x1, x2) where target == 1, max(0, cos(x1, x2) - margin) where target == -1."""
    reduction = _reduction(size_average, reduce, reduction)
    if input1.ndim not in (1, 2) or tuple(input1.shape) != tuple(input2.shape):
        raise ShapeError(f"cosine_embedding_loss: expected 1D or 2D inputs of one shape, got "
                         f"{tuple(input1.shape)} and {tuple(input2.shape)}")
    dim = input1.ndim - 1
    eps = 1e-12
    prod = (input1 * input2).sum(dim)
    mag1 = (input1 * input1).sum(dim) + eps
    mag2 = (input2 * input2).sum(dim) + eps
    cos = prod / (mag1 * mag2).sqrt()
    pos = where(target == 1, 1.0 - cos, 0.0)
    neg = where(target == -1, clamp(cos - margin, min=0.0), 0.0)
    return _reduce(pos + neg, reduction)


def triplet_margin_loss(anchor, positive, negative, margin=1.0, p=2, eps=1e-06, swap=False,
                        size_average=None, reduce=None, reduction="mean"):
    """max(0, margin + d(a, p) - d(a, n)) with pairwise p-norm distances (``swap``: use
    d(p, n) when it is smaller)."""
    from .distance import pairwise_distance
    reduction = _reduction(size_average, reduce, reduction)
    if not (anchor.ndim == positive.ndim == negative.ndim):
        raise ShapeError(f"triplet_margin_loss: anchor, positive and negative must have the same "
                         f"number of dimensions, got shapes {tuple(anchor.shape)}, "
                         f"{tuple(positive.shape)} and {tuple(negative.shape)}")
    if margin <= 0:
        raise ValueError(f"triplet_margin_loss: expected margin > 0, got {margin}")
    d_pos = pairwise_distance(anchor, positive, p, eps)
    d_neg = pairwise_distance(anchor, negative, p, eps)
    if swap:
        d_neg = minimum(d_neg, pairwise_distance(positive, negative, p, eps))
    return _reduce(clamp(d_pos - d_neg + margin, min=0.0), reduction)


def triplet_margin_with_distance_loss(anchor, positive, negative, *, distance_function=None,
                                      margin=1.0, swap=False, reduction="mean"):
    """max(0, margin + d(a, p) - d(a, n)) for any distance function d (default: the pairwise
    2-norm); ``swap`` uses d(p, n) instead of d(a, n) where it is smaller."""
    if reduction not in ("mean", "sum", "none"):
        raise ValueError(f"{reduction} is not a valid value for reduction")
    if margin <= 0:
        raise ValueError(f"margin must be greater than 0, got {margin}")
    if not (anchor.ndim == positive.ndim == negative.ndim):
        raise ShapeError(f"triplet_margin_with_distance_loss: the anchor, positive, and negative "
                         f"tensors are expected to have the same number of dimensions, but got: "
                         f"anchor {anchor.ndim}D, positive {positive.ndim}D, and negative "
                         f"{negative.ndim}D inputs (shapes {tuple(anchor.shape)}, "
                         f"{tuple(positive.shape)}, {tuple(negative.shape)})")
    if distance_function is None:
        from .distance import pairwise_distance as distance_function
    d_pos = distance_function(anchor, positive)
    d_neg = distance_function(anchor, negative)
    if swap:
        d_neg = minimum(d_neg, distance_function(positive, negative))
    return _reduce(clamp(d_pos - d_neg + margin, min=0.0), reduction)


def poisson_nll_loss(input, target, log_input=True, full=False, size_average=None, eps=1e-08,
                     reduce=None, reduction="mean"):
    """exp(x) - t x for log-rate input, else x - t log(x + eps); ``full`` adds Stirling's
    approximation of log(t!) where t > 1."""
    reduction = _reduction(size_average, reduce, reduction)
    if log_input:
        loss = exp(input) - target * input
    else:
        loss = input - target * log(input + eps)
    if full:
        big = target > 1
        safe = where(big, target, 1.0)
        stirling = safe * log(safe) - safe + 0.5 * log(safe * (2 * math.pi))
        loss = loss + where(big, stirling, 0.0)
    return _reduce(loss, reduction)


class _ClampKeepGrad(Function):
    """Values clamped below at ``lo`` but the gradient passed through unchanged (torch clamps
    the variance in place under no_grad in gaussian_nll_loss)."""
    uses_inputs = False

    def __init__(self, lo):
        self.lo = lo

    def forward(self, x):
        return get_array_module(x).maximum(x, self.lo).astype(x.dtype, copy=False)

    def backward(self, gy):
        return gy


def gaussian_nll_loss(input, target, var, full=False, eps=1e-06, reduction="mean"):
    """0.5 (log var + (input - target)^2 / var) (+ 0.5 log 2 pi with ``full``); ``var`` may
    have the input's shape, lack its last dim, or have size 1 there."""
    reduction = _reduction(None, None, reduction)
    if not isinstance(var, Tensor):
        xp = get_array_module(input._data)
        var = Tensor(xp.full(input.shape, float(var), input._data.dtype))
    if tuple(var.shape) != tuple(input.shape):
        if tuple(input.shape[:-1]) == tuple(var.shape):
            var = reshape(var, tuple(var.shape) + (1,))
        elif not (tuple(input.shape[:-1]) == tuple(var.shape[:-1]) and var.shape[-1] == 1):
            raise ShapeError(f"gaussian_nll_loss: var of shape {tuple(var.shape)} is of "
                             f"incorrect size for input of shape {tuple(input.shape)}")
    if var._data.size and bool((var._data < 0).any()):
        raise ValueError("gaussian_nll_loss: var has negative entry/entries")
    var = _ClampKeepGrad(eps)(var)
    d = input - target
    loss = (log(var) + d * d / var) * 0.5
    if full:
        loss = loss + 0.5 * math.log(2 * math.pi)
    return _reduce(loss, reduction)
