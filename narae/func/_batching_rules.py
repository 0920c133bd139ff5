"""Batching rules: how one narae op runs once on batch-first arrays (see ``_batching``).

A rule gets the op (a ``Function`` built by a public function from per-sample shapes), its
inputs (BatchedTensors and plain tensors) and the level, and returns BatchedTensor outputs,
or None to leave the op to the per-sample fallback. Rules compute with narae ops on plain
batch-first tensors, so what they record is an ordinary graph, differentiable both ways.

Families: elementwise ops with broadcasting (batched operands get their batch dim in front
and ones for the dims they lack), reductions and ops along an axis (the axis moves by one),
matmul/linear (a per-sample weight has a node of its own), shape ops (reshape, broadcast,
permute, cat/stack, basic indexing, pad, roll, tril, diagonal), conv/pool (the batch folded
into N), layer/group norm, attention; and, at the level of the public function (its Python
reads the target's values), ``cross_entropy``/``nll_loss`` with class indices and
``embedding`` with batched indices.
"""
import copy

import numpy as np

from ..autograd.function import Function
from ..backend import get_array_module
from ..ops import activation as _act
from ..ops import arith as _arith
from ..ops import attention as _attention_mod
from ..ops import conv as _conv
from ..ops import convert as _convert
from ..ops import elementwise as _ew
from ..ops import embedding as _embedding
from ..ops import index as _index
from ..ops import linalg as _linalg
from ..ops import loss as _loss
from ..ops import matrix as _matrix
from ..ops import norm as _norm
from ..ops import pool as _pool
from ..ops import reduce as _reduce
from ..ops import shape as _shape
from ..ops.shape import reshape, broadcast_to
from ..tensor import Tensor
from ._batching import RULES, BatchedTensor, finish, phys, bsrc, _patches, _holds_batched, \
    current

__all__ = []


def _is_b(x):
    return type(x) is BatchedTensor


def _aligned(x, rank, lvl):
    """Plain batch-first tensor for ``x`` with ``rank`` per-sample dims (ones in front)."""
    if not _is_b(x):
        return x
    p = phys(x)
    n = x._pd.ndim - 1
    if n < rank:
        p = reshape(p, (lvl.size,) + (1,) * (rank - n) + tuple(x._pd.shape[1:]))
    return p


def _expanded(x, lvl):
    """Plain batch-first tensor for ``x``, broadcast over the batch when unbatched."""
    if _is_b(x):
        return phys(x)
    return broadcast_to(reshape(x, (1,) + tuple(x.shape)), (lvl.size,) + tuple(x.shape))


def _logical_ndim(x):
    return x._pd.ndim - 1 if _is_b(x) else x._data.ndim


# -- elementwise ------------------------------------------------------------------------------
def elementwise(fn, inputs, inner, lvl):
    """Broadcasting ops: batched operands as (B, 1.., shape), unbatched ones as they are."""
    rank = max(_logical_ndim(x) for x in inputs)
    return finish(inner(fn, *[_aligned(x, rank, lvl) for x in inputs]), lvl)


_ELEMENTWISE = [
    # arith
    "Add", "Sub", "Conj", "Mul", "Div", "Pow", "PowScalar", "RPowScalar", "Maximum", "Minimum",
    "Where", "AddScalar", "MulScalar", "RSubScalar", "DivScalar", "Neg", "Exp", "Expm1", "Log",
    "Log1p", "Sqrt", "Rsqrt", "Abs", "Sin", "Cos", "Tan", "Erf", "Clamp",
    # activation (the *Grad ops run in double backward inside vmap)
    "ReLU", "ReLUGrad", "Sigmoid", "SigmoidGrad", "Tanh", "TanhGrad", "PiecewiseLinearGrad",
    "PiecewiseLinear", "ELU", "ELUGrad", "GELU", "GELUGrad", "SiLU", "SiLUGrad", "Softplus",
    "SoftplusGrad", "Hardswish", "HardswishGrad",
    # elementwise
    "Acos", "Asin", "Atan", "Acosh", "Asinh", "Atanh", "Sinh", "Cosh", "Atan2", "Hypot",
    "LogAddExp", "XLogY", "Logit", "Sinc", "Frac", "Copysign", "NanToNum", "Erfc", "Erfinv",
    "Lgamma", "Polygamma", "I0", "I1", "FMax",
    # convert
    "Cast", "Clone",
]
for _mod in (_arith, _act, _ew, _convert):
    for _n in _ELEMENTWISE:
        _cls = getattr(_mod, _n, None)
        if isinstance(_cls, type):
            RULES[_cls] = elementwise


# -- reductions and ops along an axis ---------------------------------------------------------
def _phys_axes(axes, nd):
    if axes is None:
        return tuple(range(1, nd + 1))
    if isinstance(axes, int):
        return axes % nd + 1
    return tuple(a % nd + 1 for a in axes)


def along_axes(attr):
    """Ops with an ``attr`` of axes (or one axis) in per-sample numbering: shift it by one."""
    def rule(fn, inputs, inner, lvl):
        (x,) = inputs
        nd = x._pd.ndim - 1
        axes = getattr(fn, attr)
        if nd == 0:
            if axes is None or axes == () or (isinstance(axes, tuple) and
                                               all(a in (0, -1) for a in axes)):
                axes = ()  # a 0-d sample: reducing over "all" of it reduces nothing
            else:
                return None
            if attr == "axis":
                return None
        new = copy.copy(fn)
        setattr(new, attr, _phys_axes(axes, nd) if nd else axes)
        return finish(inner(new, phys(x)), lvl)
    return rule


for _n in ("Sum", "Mean", "LogSumExp", "Prod", "Extreme", "Var", "PNorm"):
    RULES[getattr(_reduce, _n)] = along_axes("axes")
for _n in ("CumSum", "CumProd"):
    RULES[getattr(_reduce, _n)] = along_axes("axis")


def _softmax_like(fn, inputs, inner, lvl):
    (x,) = inputs
    nd = x._pd.ndim - 1
    if fn.axis is None or nd == 0:
        return None
    new = copy.copy(fn)
    new.axis = fn.axis % nd + 1
    return finish(inner(new, phys(x)), lvl)


RULES[_act.Softmax] = _softmax_like
RULES[_act.LogSoftmax] = _softmax_like


def _select(fn, inputs, inner, lvl):
    """argmax/max(dim)-style: values and indices along one axis."""
    (x,) = inputs
    nd = x._pd.ndim - 1
    if not isinstance(fn.axis, int) or nd == 0:
        return None
    new = copy.copy(fn)
    new.axis = fn.axis % nd + 1
    return finish(inner(new, phys(x)), lvl)


RULES[_reduce.Select] = _select


def _softmax_ce(fn, inputs, inner, lvl):
    """Per-element cross entropy against probabilities q (same shape as the logits)."""
    rank = max(_logical_ndim(x) for x in inputs)
    if rank == 0:
        return None
    x, q = [_expanded(t, lvl) if _logical_ndim(t) == rank else None for t in inputs]
    if x is None or q is None:
        return None
    new = copy.copy(fn)
    new.axis = fn.axis % rank + 1
    return finish(inner(new, x, q), lvl)


RULES[_loss.SoftmaxCrossEntropy] = _softmax_ce


# -- matmul / linear --------------------------------------------------------------------------
RULES[_linalg.MatMul] = elementwise  # both operands >= 2-D: batch dims broadcast like these


class _PerSampleLinear(Function):
    """``x @ w^T (+ b)`` with a weight per sample: x (B, n, in), w (B, out, in), b (B, out).

    The weight's gradient stays per sample: the products ``gy^T x``, computed as a broadcast
    product when n == 1 (the usual ``vmap(grad(f))`` case, a sample being one row), which is
    several times faster than a batched matmul with an inner dimension of 1 and gives the
    same numbers (one multiplication per element). Matmuls keep the batch as NumPy's loop
    of per-sample products, so results equal the per-sample loop's to the bit.
    """

    def forward(self, x, w, b=None):
        xp = get_array_module(x)
        y = xp.matmul(x, xp.swapaxes(w, -1, -2))
        if b is not None:
            y += b[:, None, :]
        return y

    def backward(self, gy):
        x, w = self.inputs[0], self.inputs[1]
        gx = _linalg.matmul(gy, w) if x.requires_grad else None
        gw = gb = None
        if w.requires_grad:
            gt = _shape.transpose(gy, 1, 2)
            gw = gt * x if x.shape[1] == 1 else _linalg.matmul(gt, x)
        if len(self.inputs) == 3 and self.inputs[2].requires_grad:
            gb = gy.sum(1)
        return (gx, gw) if len(self.inputs) == 2 else (gx, gw, gb)


def _linear(fn, inputs, inner, lvl):
    x, w = inputs[0], inputs[1]
    b = inputs[2] if len(inputs) == 3 else None
    if not _is_b(w) and (b is None or not _is_b(b)):
        return finish(inner(fn, phys(x), *inputs[1:]), lvl)  # x batched: one GEMM
    if not _is_b(w):
        y = inner(_linalg.Linear(), phys(x), w) if _is_b(x) else \
            _expanded(inner(_linalg.Linear(), x, w), lvl)
        return finish(y + reshape(phys(b), (lvl.size,) + (1,) * (y.ndim - 2) +
                                  (b._pd.shape[-1],)), lvl)
    # a weight per sample: x as (B, n, in), one node, back to x's per-sample shape
    xs = tuple(x._pd.shape[1:]) if _is_b(x) else tuple(x.shape)
    xb = reshape(_expanded(x, lvl), (lvl.size, -1, xs[-1]))
    extra = ()
    if b is not None:
        if _is_b(b) and b._pd.ndim == 2:
            extra = (phys(b),)
    y = inner(_PerSampleLinear(), xb, phys(w), *extra)
    y = reshape(y, (lvl.size,) + xs[:-1] + (w._pd.shape[1],))
    if b is not None and not extra:
        y = y + (phys(b) if _is_b(b) else b)
    return finish(y, lvl)


RULES[_linalg.Linear] = _linear


# -- shape ops --------------------------------------------------------------------------------
def _reshape(fn, inputs, inner, lvl):
    new = copy.copy(fn)
    new.shape = (lvl.size,) + tuple(fn.shape)
    return finish(inner(new, phys(inputs[0])), lvl)


def _broadcast(fn, inputs, inner, lvl):
    (x,) = inputs
    new = copy.copy(fn)
    new.shape = (lvl.size,) + tuple(fn.shape)
    return finish(inner(new, _aligned(x, len(fn.shape), lvl)), lvl)


def _sum_to(fn, inputs, inner, lvl):
    """Summing a sample's leading dims away: those sit behind the batch dim, so they are
    summed as ones of a same-rank shape (the batch dim is kept)."""
    (x,) = inputs
    shape = tuple(fn.shape)
    lead = x._pd.ndim - 1 - len(shape)
    new = copy.copy(fn)
    new.shape = (lvl.size,) + (1,) * max(lead, 0) + shape
    y = inner(new, phys(x))
    if lead > 0:
        y = reshape(y, (lvl.size,) + shape)
    return finish(y, lvl)


def _permute(fn, inputs, inner, lvl):
    (x,) = inputs
    nd = x._pd.ndim - 1
    new = copy.copy(fn)
    new.axes = (0,) + tuple(a % nd + 1 for a in fn.axes)
    return finish(inner(new, phys(x)), lvl)


def _join(fn, inputs, inner, lvl):
    """cat/stack: unbatched pieces are broadcast over the batch."""
    if getattr(fn, "skip_empty", False):
        return None
    new = copy.copy(fn)
    new.axis = fn.axis + 1
    return finish(inner(new, *[_expanded(x, lvl) for x in inputs]), lvl)


RULES[_shape.Reshape] = _reshape
RULES[_shape.BroadcastTo] = _broadcast
RULES[_shape.SumTo] = _sum_to
RULES[_shape.Permute] = _permute
RULES[_shape.Cat] = _join
RULES[_shape.Stack] = _join


def _batched_key(key):
    """``key`` behind a full slice for the batch dim, or None where that would move the
    batch dim (NumPy puts separated advanced indices in front of the result)."""
    key = key if type(key) is tuple else (key,)
    if _holds_batched(key):
        return None
    adv = []
    has_array = False
    for i, k in enumerate(key):
        if k is None or k is Ellipsis or type(k) is slice:
            continue
        if type(k) in (int, bool) or isinstance(k, np.integer):
            adv.append(i)
        elif hasattr(k, "shape") and hasattr(k, "dtype"):
            adv.append(i)
            has_array = True
        else:
            return None
    if has_array and adv != list(range(adv[0], adv[0] + len(adv))):
        return None
    return (slice(None),) + key


def _getitem(fn, inputs, inner, lvl):
    """``x[key]``: the same key behind a full slice for the batch dim.

    Basic keys (ints, slices, None, ...) always; integer/bool index arrays (unbatched) when
    they sit together, since NumPy moves separated advanced indices to the front of the
    result, where the batch dim must stay. A two-step key (torch's ints first, then the
    index arrays) gets the slice in each step.
    """
    key = _batched_any_key(fn.key)
    if key is None:
        return None
    new = copy.copy(fn)
    new.key = key
    return finish(inner(new, phys(inputs[0])), lvl)


RULES[_index.GetItem] = _getitem


def _batched_any_key(key):
    if type(key) is getattr(_index, "_TwoStep", None):
        first, rest = _batched_key(key.first), _batched_key(key.rest)
        return None if first is None or rest is None else type(key)(first, rest)
    return _batched_key(key)


def _scatter_add(fn, inputs, inner, lvl):
    """GetItem's adjoint (``x[key]``'s backward): the same key behind the batch dim."""
    key = _batched_any_key(fn.key)
    if key is None:
        return None
    new = copy.copy(fn)
    new.key, new.shape = key, (lvl.size,) + tuple(fn.shape)
    return finish(inner(new, phys(inputs[0])), lvl)


def _zero_at(fn, inputs, inner, lvl):
    key = _batched_any_key(fn.key)
    if key is None:
        return None
    new = copy.copy(fn)
    new.key = key
    return finish(inner(new, phys(inputs[0])), lvl)


RULES[_index.ScatterAdd] = _scatter_add
RULES[_index.ZeroAt] = _zero_at


def _roll(fn, inputs, inner, lvl):
    (x,) = inputs
    nd = x._pd.ndim - 1
    if fn.dims is None or nd == 0:
        return None
    new = copy.copy(fn)
    new.dims = tuple(d % nd + 1 for d in fn.dims)
    return finish(inner(new, phys(x)), lvl)


def _pad(fn, inputs, inner, lvl):
    new = copy.copy(fn)
    new.pads = ((0, 0),) + tuple(fn.pads)
    return finish(inner(new, phys(inputs[0])), lvl)


def _diagonal(fn, inputs, inner, lvl):
    (x,) = inputs
    nd = x._pd.ndim - 1
    new = copy.copy(fn)
    new.d1, new.d2 = fn.d1 % nd + 1, fn.d2 % nd + 1
    return finish(inner(new, phys(x)), lvl)


def _trailing(fn, inputs, inner, lvl):
    """Ops on the last dims only (tril/triu): the batch dim in front changes nothing."""
    (x,) = inputs
    return finish(inner(fn, phys(x)), lvl)


RULES[_shape.Roll] = _roll
RULES[_shape.ConstantPad] = _pad
RULES[_shape.Tri] = _trailing
RULES[_matrix.Diagonal] = _diagonal


# -- convolution, pooling, normalization, attention --------------------------------------------
def _fold_first(fn, inputs, inner, lvl):
    """conv/pool on an (N, C, *spatial) sample: the batch is folded into N (weights unbatched).

    The op's geometry does not depend on N, so (B, N, ...) runs as (B * N, ...).
    """
    x = inputs[0]
    if not _is_b(x) or any(_is_b(t) for t in inputs[1:]) or x._pd.ndim < 3:
        return None
    shape = x._pd.shape
    y = inner(copy.copy(fn), reshape(phys(x), (shape[0] * shape[1],) + shape[2:]),
              *inputs[1:])
    return finish(reshape(y, (shape[0], shape[1]) + tuple(y.shape[1:])), lvl)


RULES[_conv._Conv] = _fold_first
RULES[_pool._MaxPool] = _fold_first
RULES[_pool._AvgPool] = _fold_first


def _normalize(fn, inputs, inner, lvl):
    """layer_norm/group_norm-style statistics over ``axes``: shifted by one; the affine
    parameters (shaped to broadcast against x) must be unbatched."""
    x = inputs[0]
    if not _is_b(x) or any(_is_b(t) for t in inputs[1:]):
        return None
    nd = x._pd.ndim - 1
    new = copy.copy(fn)
    new.axes = tuple(a % nd + 1 for a in fn.axes)
    return finish(inner(new, phys(x), *inputs[1:]), lvl)


RULES[_norm.Normalize] = _normalize


def _attention(fn, inputs, inner, lvl):
    """q, k, v (and the additive bias) broadcast over their leading dims: align them."""
    if fn.drop is not None:
        return None
    rank = max(_logical_ndim(x) for x in inputs)
    return finish(inner(fn, *[_aligned(x, rank, lvl) if _is_b(x) else x for x in inputs]),
                  lvl)


RULES[_attention_mod.Attention] = _attention


# -- cross_entropy / nll_loss with class indices (rules at the public function) ---------------
def _class_index_loss(orig, name):
    """``orig(input, target, ...)`` batched: the batch is folded into the loss's N dimension.

    The per-element losses come from one unbatched call with ``reduction='none'``; the
    per-sample reduction (torch's weighted mean: sum of losses / sum of the kept targets'
    weights) is then taken over each sample's own elements.
    """
    def batched(input, target, weight=None, size_average=None, ignore_index=-100,
                reduce=None, reduction="mean", *args, **kwargs):
        lvl = current()
        if weight is not None and _is_b(weight) and bsrc(weight) is not None:
            weight = bsrc(weight)
        if lvl is None or not (_is_b(input) or _is_b(target)) or \
                (weight is not None and _is_b(weight)) or args or \
                not isinstance(target, Tensor) or target._data.dtype.kind not in "iu" or \
                size_average is not None or reduce is not None or input.ndim == 0:
            return orig(input, target, weight, size_average, ignore_index, reduce, reduction,
                        *args, **kwargs)
        if reduction not in ("none", "mean", "sum"):
            return orig(input, target, weight, size_average, ignore_index, reduce, reduction,
                        *args, **kwargs)
        if input.ndim == 1:  # one sample of (C,) logits and a () target: N = B
            x, t = _expanded(input, lvl), _expanded(target, lvl)
            lead = ()
        else:
            lead = tuple(input.shape[:1])
            x = _expanded(input, lvl)
            x = reshape(x, (-1,) + tuple(x.shape[2:]))
            t = _expanded(target, lvl)
            t = reshape(t, (-1,) + tuple(t.shape[2:]))
        loss = orig(x, t, weight, None, ignore_index, None, "none", *args, **kwargs)
        loss = reshape(loss, (lvl.size,) + lead + tuple(loss.shape[1:]))
        if reduction == "none":
            return finish(loss, lvl)
        dims = tuple(range(1, loss.ndim))
        total = loss.sum(dims) if dims else loss
        if reduction == "sum":
            return finish(total, lvl)
        tb = reshape(t, (lvl.size, -1))
        keep = (tb != ignore_index)
        if weight is None:
            denom = keep.to(loss.dtype).sum(1)
        else:
            safe = tb * keep.to(tb.dtype)  # ignored targets read class 0, weighted by 0
            denom = (weight[safe] * keep.to(loss.dtype)).sum(1)
        return finish(total / denom, lvl)
    batched.__name__ = name
    batched.__wrapped__ = orig
    return batched


def _batched_embedding(orig):
    """``embedding(indices, weight)`` with batched indices: one lookup of all of them."""
    def embedding(input, weight, padding_idx=None, max_norm=None, norm_type=2.0,
                  scale_grad_by_freq=False, sparse=False):
        lvl = current()
        if _is_b(weight) and bsrc(weight) is not None:
            weight = bsrc(weight)
        if lvl is None or not _is_b(input) or _is_b(weight) or max_norm is not None or \
                scale_grad_by_freq:  # (counts over the batch would differ per sample)
            return orig(input, weight, padding_idx, max_norm, norm_type, scale_grad_by_freq,
                        sparse)
        return finish(orig(phys(input), weight, padding_idx, None, norm_type, False, sparse),
                      lvl)
    embedding.__wrapped__ = orig
    return embedding


def _install_function_rules():
    from ..nn import functional as F
    table = [(_loss, "cross_entropy", lambda f: _class_index_loss(f, "cross_entropy")),
             (_loss, "nll_loss", lambda f: _class_index_loss(f, "nll_loss")),
             (_embedding, "embedding", _batched_embedding)]
    for module, name, make in table:
        orig = getattr(module, name)
        repl = make(orig)
        _patches.append((module, name, repl))
        if getattr(F, name, None) is orig:
            _patches.append((F, name, repl))


_install_function_rules()
