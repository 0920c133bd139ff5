"""Fused losses: ``linear_cross_entropy`` (a linear layer followed by cross entropy).

With many classes (a language model's vocabulary head) the ``(N, C)`` logits dominate
memory. ``LinearCrossEntropy`` walks the batch in chunks of rows: each chunk's logits
``x_c W^T + b`` live only while that chunk's loss is computed, and backward recomputes them
chunk by chunk. Per row, with ``p = softmax(logits)`` and ``y`` the target,

    loss = w_y (logsumexp(logits) - logits_y),    d loss / d logits = w_y (p - onehot(y)),

so ``dx_c = G_c W``, ``dW = sum_c G_c^T x_c``, ``db = sum_c G_c.sum(0)`` with
``G_c = coef * (p - onehot)``. Backward is written with narae ops, so double backward works.
Cases the chunked op does not cover (class-probability targets, label smoothing,
K-dimensional ``out_features``) use the reference ``cross_entropy(linear(...))``.
"""
import dataclasses
import math
import warnings

from .._dtype import is_floating
from ..autograd.function import Function
from ..backend import get_array_module
from ..tensor import Tensor
from .activation import softmax
from .linalg import linear
from .loss import cross_entropy, _check_class_weight, _check_index_target, _reduction
from .shape import cat, reshape

# LinearCrossEntropyOptions is exported by narae.nn (as torch.nn's), not by nn.functional
__all__ = ["linear_cross_entropy"]

_ACC_POLICIES = ("auto", "accurate", "balanced", "compact")


@dataclasses.dataclass(frozen=True)
class LinearCrossEntropyOptions:
    """How ``linear_cross_entropy`` chunks the batch (torch.nn.LinearCrossEntropyOptions).

    ``batch_chunk_size`` rows per chunk, or ``chunking_method`` ``"aspect_ratio[:N]"``: chunks
    whose ``(rows, C)`` logits are about as big as the ``(N, in_features)`` input, divided by
    N (``"auto"`` means ``"aspect_ratio:2"``). narae computes in the input's dtype whatever
    ``acc_policy``/``acc_dtype`` say, and its backward recomputes the logits, so
    ``retain_graph=True`` always works (``allow_retain_graph`` is accepted for parity).
    """
    allow_retain_graph: bool = False
    batch_chunk_size: int = None
    chunking_method: str = "auto"
    acc_policy: str = "auto"
    acc_dtype: object = None

    def __post_init__(self):
        if self.acc_policy not in _ACC_POLICIES:
            raise ValueError(f"invalid acc_policy: {self.acc_policy!r}")
        if self.chunking_method is not None and self.chunking_method != "auto":
            name, sep, factor = self.chunking_method.partition(":")
            if not (name == "aspect_ratio" and (not sep or (factor.isdigit() and int(factor) > 0))):
                raise ValueError(f"invalid chunking_method: {self.chunking_method!r}")
        b = self.batch_chunk_size
        if not (b is None or (isinstance(b, int) and not isinstance(b, bool) and b > 0)):
            raise ValueError(f"batch_chunk_size must be positive int or None, got {b!r}")

    def _chunk_size(self, num_batches, in_features, num_classes):
        """Rows per chunk for this call (torch's resolution of the fields)."""
        method = self.chunking_method
        if method == "auto":
            method = None if self.batch_chunk_size is not None else "aspect_ratio:2"
        size = num_batches if self.batch_chunk_size is None else min(self.batch_chunk_size,
                                                                      num_batches)
        if method is not None:
            factor = int(method.split(":", 1)[1]) if ":" in method else 1
            grow = -(-num_classes // max(in_features, 1))
            want = -(-num_batches // max(grow, 1))
            size = min((1 << max(want - 1, 0).bit_length()) // factor, num_batches)
            if self.batch_chunk_size is not None and self.batch_chunk_size != size:
                raise ValueError(f"batch_chunk_size (={self.batch_chunk_size}) and "
                                 f"chunking_method ('{method}') give different chunk sizes "
                                 f"({self.batch_chunk_size} vs {size}); pass only one.")
        return max(1, size)


_DEFAULT_OPTIONS = LinearCrossEntropyOptions()


class LinearCrossEntropy(Function):
    """Cross entropy of ``x W^T (+ b)`` against class indices, ``chunk`` rows at a time.

    Forward keeps only per-row numbers (the loss coefficient of each row); backward
    recomputes each chunk's softmax. The output is the per-row loss (reduction 'none') or
    its weighted sum / mean.
    """

    def __init__(self, target, weight, reduction, ignore_index, chunk):
        self.target, self.weight = target, weight  # arrays (weight may be None)
        self.reduction, self.ignore_index, self.chunk = reduction, ignore_index, chunk

    def forward(self, x, w, b=None):
        xp = get_array_module(x)
        n, c = x.shape[0], w.shape[0]
        t = self.target
        ignored = t == self.ignore_index
        t = xp.where(ignored, 0, t).astype(xp.int64)  # ignored rows: any valid class, weight 0
        if self.weight is None:
            row_w = (~ignored).astype(x.dtype)
        else:
            row_w = xp.where(ignored, 0, self.weight.astype(x.dtype)[t]).astype(x.dtype)
        losses = xp.empty(n, dtype=x.dtype)
        wt = w.T
        for s in range(0, n, self.chunk):
            e = min(n, s + self.chunk)
            z = x[s:e] @ wt
            if b is not None:
                z += b
            top = z.max(axis=1, keepdims=True) if c else xp.zeros((e - s, 1), x.dtype)
            lse = xp.log(xp.exp(z - top).sum(axis=1)) + top[:, 0]
            losses[s:e] = lse - xp.take_along_axis(z, t[s:e, None], axis=1)[:, 0]
        losses *= row_w
        self.safe_target = t
        if self.reduction == "none":
            self.coef = row_w
            return losses
        if self.reduction == "sum":
            self.coef = row_w
            return losses.sum()
        denom = row_w.sum()
        # all rows ignored: 0/0 = nan, as torch
        with _quiet(xp):
            self.coef = row_w / denom
            return (losses.sum() / denom).astype(x.dtype)

    def backward(self, gy):
        x, w = self.inputs[0], self.inputs[1]
        b = self.inputs[2] if len(self.inputs) > 2 else None
        need_x, need_w = x.requires_grad, w.requires_grad
        need_b = b is not None and b.requires_grad
        xp = get_array_module(x._data)
        n, c = x.shape[0], w.shape[0]
        coef = Tensor(self.coef) * gy  # (N,): the per-row factor of d loss / d logits
        gxs, gw, gb = [], None, None
        wt = w.t()
        rows = xp.arange(min(self.chunk, n))
        for s in range(0, n, self.chunk):
            e = min(n, s + self.chunk)
            xc = x[s:e]
            z = xc.matmul(wt)
            if b is not None:
                z = z + b
            hot = xp.zeros((e - s, c), dtype=x._data.dtype)
            hot[rows[:e - s], self.safe_target[s:e]] = 1
            g = (softmax(z, 1) - Tensor(hot)) * reshape(coef[s:e], (e - s, 1))
            if need_x:
                gxs.append(g.matmul(w))
            if need_w:
                part = g.t().matmul(xc)
                gw = part if gw is None else gw + part
            if need_b:
                part = g.sum(0)
                gb = part if gb is None else gb + part
        gx = None
        if need_x:
            gx = (gxs[0] if len(gxs) == 1 else cat(gxs, 0)) if gxs else x * 0
        if need_w and gw is None:  # empty batch
            gw = w * 0
        if need_b and gb is None:
            gb = b * 0
        return (gx, gw) if b is None else (gx, gw, gb)


class _quiet:
    """Silence 0/0 warnings (NumPy only; CuPy does not warn)."""

    def __init__(self, xp):
        self.ctx = xp.errstate(invalid="ignore", divide="ignore") if hasattr(xp, "errstate") \
            else None

    def __enter__(self):
        if self.ctx is not None:
            self.ctx.__enter__()

    def __exit__(self, *exc):
        if self.ctx is not None:
            self.ctx.__exit__(*exc)


def linear_cross_entropy(input, linear_weight, target, *, linear_bias=None, weight=None,
                         reduction="mean", ignore_index=None, label_smoothing=0.0,
                         options=None):
    """``cross_entropy(linear(input, linear_weight, linear_bias), target)`` without holding
    all the logits: the batch is processed in chunks (see ``LinearCrossEntropyOptions``).

    ``linear_weight`` is ``(C, in_features)`` or ``(C, d1, ..., dK, in_features)`` for a
    K-dimensional loss (logits ``(N, C, d1, ..., dK)``, computed by the reference path).
    ``ignore_index=None`` means -100 for class-index targets.
    """
    if input.ndim < 1 or input.ndim > 2:
        raise RuntimeError(f"linear_cross_entropy: expected input with dimensionality 1 or 2, "
                           f"got {input.ndim} (shape {tuple(input.shape)})")
    if linear_weight.ndim < 2:
        raise RuntimeError(f"linear_cross_entropy: expected linear_weight with dimensionality "
                           f"at least 2, got {linear_weight.ndim} "
                           f"(shape {tuple(linear_weight.shape)})")
    in_features = input.shape[-1]
    if in_features != linear_weight.shape[-1]:
        raise RuntimeError(f"linear_cross_entropy: expected equal input and linear_weight last "
                           f"dimensions (in_features), got input of shape {tuple(input.shape)} "
                           f"and linear_weight of shape {tuple(linear_weight.shape)}")
    num_classes = linear_weight.shape[0]
    out_features = tuple(linear_weight.shape[1:-1])
    batch = tuple(input.shape[:-1])
    if linear_bias is not None and tuple(linear_bias.shape) != (num_classes,) + out_features:
        raise RuntimeError(f"linear_cross_entropy: expected linear_bias shape "
                           f"{(num_classes,) + out_features}, got {tuple(linear_bias.shape)}")
    if out_features and not batch:
        raise RuntimeError(f"linear_cross_entropy: K-dimensional loss defined by linear_weight "
                           f"shape {tuple(linear_weight.shape)} requires batched input, "
                           f"(N, {in_features}), got unbatched input with shape "
                           f"{tuple(input.shape)}")
    reduction = _reduction(None, None, reduction)
    logits_shape = batch + (num_classes,) + out_features
    probabilities = tuple(target.shape) == logits_shape
    if probabilities and ignore_index is not None:
        raise RuntimeError("linear_cross_entropy: ignore_index cannot be specified when target "
                           "contains probabilities")
    ignore_index = -100 if ignore_index is None else ignore_index
    integer_target = isinstance(target, Tensor) and target._data.dtype.kind in "iu"
    chunked = not out_features and label_smoothing == 0.0 and integer_target and \
        not probabilities
    if options is not None and not chunked:
        warnings.warn("linear_cross_entropy: ``options`` ignored; the chunked path needs class "
                      "index targets, label_smoothing == 0 and out_features == (). Got "
                      f"label_smoothing={label_smoothing}, target.dtype={target.dtype}, "
                      f"out_features={out_features}.", stacklevel=2)
    if not chunked:
        w2 = linear_weight
        b2 = linear_bias
        if out_features:
            w2 = reshape(linear_weight, (math.prod(out_features) * num_classes, in_features))
            if linear_bias is not None:
                b2 = reshape(linear_bias, (w2.shape[0],))
        logits = reshape(linear(input, w2, b2), logits_shape)
        return cross_entropy(logits, target, weight=weight, reduction=reduction,
                             ignore_index=ignore_index, label_smoothing=label_smoothing)
    if not is_floating(input._data.dtype):
        raise RuntimeError(f"linear_cross_entropy: input must be floating point, got "
                           f"{input.dtype}")
    if linear_weight._data.dtype != input._data.dtype or (
            linear_bias is not None and linear_bias._data.dtype != input._data.dtype):
        raise RuntimeError(f"linear_cross_entropy: expected input, linear_weight and "
                           f"linear_bias of one dtype, got {input.dtype}, "
                           f"{linear_weight.dtype} and "
                           f"{None if linear_bias is None else linear_bias.dtype}")
    x, t = (input, target) if batch else (reshape(input, (1, in_features)), reshape(target, (1,)))
    # validate against the logits' shape without making them
    xp = get_array_module(x._data)
    probe = Tensor(xp.broadcast_to(xp.zeros((), x._data.dtype), (x.shape[0], num_classes)))
    _check_class_weight(weight, num_classes, "linear_cross_entropy", input)
    _check_index_target(probe, t, 1, "linear_cross_entropy", ignore_index)
    chunk = (options or _DEFAULT_OPTIONS)._chunk_size(x.shape[0], in_features, num_classes)
    fn = LinearCrossEntropy(t._data, None if weight is None else weight._data, reduction,
                            ignore_index, chunk)
    args = (x, linear_weight) if linear_bias is None else (x, linear_weight, linear_bias)
    out = fn(*args)
    if not batch and reduction == "none":
        out = reshape(out, ())
    return out
