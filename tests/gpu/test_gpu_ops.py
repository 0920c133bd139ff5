"""Every op on the GPU equals the same op on the CPU: forward outputs and input gradients.

One table, one entry per op and argument combination. Each entry runs its expression on CPU
tensors and on ``.to(device)`` copies of the same inputs, then compares (on the CPU, after
``.cpu()``) the outputs and, after ``sum(output * upstream).backward()`` with the same random
upstream gradient on both sides, the gradient of every differentiable input. The CPU side is
itself checked against torch by tests/ops, so equality here means the GPU is right too.

Conventions of ``Case(name, fn, *args)``: float arrays become differentiable tensors,
integer/bool arrays constant tensors, ``const(array)`` a constant float tensor, anything else
(numbers, tuples, slices) is passed through. Nothing here imports CuPy: the test body is
narae only, so the module imports (and skips) cleanly on a machine without it.
"""
import numpy as np
import pytest

import narae as nr
import narae.nn.functional as F
from narae.ops import recurrent as R

pytestmark = pytest.mark.gpu

RNG = np.random.default_rng(2024)


def randn(*shape):
    return RNG.standard_normal(shape)


def pos(*shape, low=0.5):
    """Strictly positive values (domains of log, sqrt, division...)."""
    return np.abs(RNG.standard_normal(shape)) + low


def unit(*shape, low=0.05, high=0.95):
    """Values inside (0, 1): probabilities for the BCE losses."""
    return RNG.uniform(low, high, shape)


def ints(high, *shape, low=0):
    return RNG.integers(low, high, shape).astype(np.int64)


def mask(*shape, p=0.5):
    return RNG.random(shape) < p


class const:
    """A float array that enters the expression as a constant (no gradient) tensor."""

    def __init__(self, array):
        self.array = np.asarray(array)


class Case:
    """One table row. ``layouts=False`` skips the Fortran-order (non-contiguous) variant,
    e.g. where an input is a view-sensitive in-place target."""

    def __init__(self, name, fn, *args, atol=1e-5, rtol=1e-4, grad=True, layouts=True):
        self.name, self.fn, self.args = name, fn, args
        self.atol, self.rtol, self.grad, self.layouts = atol, rtol, grad, layouts

    def __repr__(self):
        return self.name


def _setitem(index, value=None, scalar=None):
    """``y = x.clone(); y[index] = value`` as an expression: gradients reach x and value."""
    def fn(x, *v):
        y = x.clone()
        y[index if not callable(index) else index(y)] = v[0] if v else scalar
        return y
    return fn


def _setitem_tensor_index(x, idx, v):
    y = x.clone()
    y[idx] = v
    return y


def _lstm(reverse=False, seq_mask=None):
    def fn(x, h0, c0, w_ih, w_hh, b_ih, b_hh):
        y, (h, c) = R.recurrent_sequence("LSTM", x, (h0, c0), w_ih, w_hh, b_ih, b_hh,
                                         reverse=reverse, mask=seq_mask)
        return y, h, c
    return fn


def _rnn(mode, reverse=False, seq_mask=None):
    def fn(x, h0, w_ih, w_hh, b_ih, b_hh):
        return R.recurrent_sequence(mode, x, h0, w_ih, w_hh, b_ih, b_hh, reverse=reverse,
                                    mask=seq_mask)
    return fn


def _batch_norm_train(x, rm, rv, w, b):
    """Training-mode BN also updates the running stats in place: compare them as outputs."""
    y = F.batch_norm(x, rm, rv, w, b, training=True, momentum=0.1, eps=1e-5)
    return y, rm, rv


def _max_unpool(x):
    y, idx = F.max_pool2d(x, 2, return_indices=True)
    return F.max_unpool2d(y, idx, 2), idx


T_, B_, I_, H_ = 5, 3, 4, 6
SEQ_MASK = np.arange(T_)[:, None] < np.array([5, 3, 1])[None, :]
CONV_TOL = dict(atol=1e-4, rtol=1e-3)
GEMM_TOL = dict(atol=1e-4, rtol=1e-4)

CASES = [
    # -- arithmetic (with broadcasting) and unary math ----------------------------------------
    Case("add", lambda a, b: a + b, randn(3, 4), randn(4)),
    Case("add_alpha", lambda a, b: nr.add(a, b, alpha=2.5), randn(3, 4), randn(3, 1)),
    Case("add_scalar", lambda a: a + 1.5, randn(3, 4)),
    Case("sub", lambda a, b: a - b, randn(2, 3, 4), randn(3, 1)),
    Case("rsub", lambda a: 2.0 - a, randn(3, 4)),
    Case("mul", lambda a, b: a * b, randn(3, 4), randn(2, 1, 4)),
    Case("div", lambda a, b: a / b, randn(3, 4), pos(3, 4)),
    Case("rdiv", lambda a: 1.0 / a, pos(3, 4)),
    Case("pow_scalar", lambda a: a ** 3, randn(3, 4)),
    Case("pow_tensor", lambda a, b: a ** b, pos(3, 4), randn(3, 4)),
    Case("rpow", lambda a: 2.0 ** a, randn(3, 4)),
    Case("neg", lambda a: -a, randn(3, 4)),
    Case("exp", nr.exp, randn(3, 4)),
    Case("expm1", nr.expm1, randn(3, 4)),
    Case("log", nr.log, pos(3, 4)),
    Case("log2", nr.log2, pos(3, 4)),
    Case("log10", nr.log10, pos(3, 4)),
    Case("log1p", nr.log1p, pos(3, 4)),
    Case("sqrt", nr.sqrt, pos(3, 4)),
    Case("rsqrt", nr.rsqrt, pos(3, 4)),
    Case("square", nr.square, randn(3, 4)),
    Case("reciprocal", nr.reciprocal, pos(3, 4)),
    Case("abs", nr.abs, randn(3, 4)),
    Case("sin", nr.sin, randn(3, 4)),
    Case("cos", nr.cos, randn(3, 4)),
    Case("tan", nr.tan, randn(3, 4) * 0.5),
    Case("erf", nr.erf, randn(3, 4)),
    Case("sign", nr.sign, randn(3, 4)),
    Case("floor", nr.floor, randn(3, 4) * 3),
    Case("ceil", nr.ceil, randn(3, 4) * 3),
    Case("round", nr.round, randn(3, 4) * 3 + 0.1),
    Case("trunc", nr.trunc, randn(3, 4) * 3),
    Case("clamp", lambda a: nr.clamp(a, min=-0.5, max=0.7), randn(4, 5)),
    Case("clamp_tensor_bounds", lambda a, lo: nr.clamp(a, min=lo), randn(4, 5), randn(5)),
    Case("maximum", nr.maximum, randn(3, 4), randn(3, 4)),
    Case("minimum", nr.minimum, randn(3, 4), randn(4)),
    Case("where", nr.where, mask(3, 4), randn(3, 4), randn(3, 4)),
    Case("floor_divide", nr.floor_divide, randn(3, 4) * 4, pos(3, 4)),
    Case("remainder", nr.remainder, randn(3, 4) * 4, pos(3, 4)),
    Case("fmod", nr.fmod, randn(3, 4) * 4, pos(3, 4)),
    Case("lerp", nr.lerp, randn(3, 4), randn(3, 4), unit(3, 4)),
    Case("addcmul", lambda a, b, c: nr.addcmul(a, b, c, value=0.5), randn(3, 4), randn(3, 4),
         randn(3, 4)),
    Case("addcdiv", lambda a, b, c: nr.addcdiv(a, b, c, value=0.5), randn(3, 4), randn(3, 4),
         pos(3, 4)),
    Case("compare", lambda a, b: (a > b, a <= b, nr.eq(a, a), nr.isclose(a, b)),
         randn(3, 4), randn(3, 4), grad=False),
    Case("logical", lambda m, n: (nr.logical_and(m, n), nr.logical_xor(m, n), ~m),
         mask(3, 4), mask(3, 4), grad=False),
    Case("all_any", lambda a: ((a > -1).all(), (a > 1).any(dim=1), nr.isfinite(a)), randn(3, 4),
         grad=False),
    # -- reductions -----------------------------------------------------------------------------
    Case("sum_all", lambda a: a.sum(), randn(4, 5)),
    Case("sum_dim", lambda a: a.sum(dim=(0, 2), keepdim=True), randn(3, 4, 5)),
    Case("mean_dim", lambda a: a.mean(dim=1), randn(3, 4, 5)),
    Case("mean_large", lambda a: a.mean(dim=0), randn(1000, 7), atol=1e-5),
    Case("prod", lambda a: a.prod(dim=1), pos(3, 4)),
    Case("logsumexp", lambda a: nr.logsumexp(a, dim=1), randn(3, 6) * 5),
    Case("max_all", lambda a: a.max(), randn(4, 5)),
    Case("max_dim", lambda a: a.max(dim=1), randn(4, 5)),
    Case("min_dim_keepdim", lambda a: a.min(dim=0, keepdim=True), randn(4, 5)),
    Case("amax", lambda a: nr.amax(a, dim=(1, 2)), randn(3, 4, 5)),
    Case("amin", lambda a: nr.amin(a, dim=-1), randn(3, 4, 5)),
    Case("argmax", lambda a: (a.argmax(), a.argmax(dim=1)), randn(4, 5), grad=False),
    Case("argmin", lambda a: a.argmin(dim=0), randn(4, 5), grad=False),
    Case("var", lambda a: a.var(dim=1), randn(4, 6)),
    Case("std_biased", lambda a: a.std(dim=0, unbiased=False), randn(4, 6)),
    Case("var_mean", lambda a: nr.var_mean(a, dim=1), randn(4, 6)),
    Case("norm", lambda a: a.norm(dim=1), randn(4, 6)),
    Case("norm_p1", lambda a: nr.norm(a, p=1), randn(4, 6)),
    Case("cumsum", lambda a: a.cumsum(dim=1), randn(3, 6)),
    Case("cumprod", lambda a: a.cumprod(dim=1), pos(3, 5, low=0.5)),
    Case("median", lambda a: a.median(dim=1), randn(3, 7)),
    Case("count_nonzero", lambda a: nr.count_nonzero(a, dim=0), mask(4, 5), grad=False),
    # -- shape ------------------------------------------------------------------------------------
    Case("reshape", lambda a: a.reshape(6, -1), randn(3, 4, 2)),
    Case("view_after_transpose", lambda a: a.t().contiguous().view(-1), randn(3, 4)),
    Case("transpose", lambda a: a.transpose(0, 2), randn(2, 3, 4)),
    Case("permute", lambda a: a.permute(2, 0, 1), randn(2, 3, 4)),
    Case("flatten", lambda a: a.flatten(1), randn(2, 3, 4)),
    Case("unflatten", lambda a: a.unflatten(1, (2, 2)), randn(3, 4)),
    Case("squeeze_unsqueeze", lambda a: a.unsqueeze(0).squeeze(2), randn(3, 1, 4)),
    Case("expand", lambda a: a.expand(3, 4, 5), randn(4, 1)),
    Case("broadcast_to", lambda a: nr.broadcast_to(a, (2, 3, 4)), randn(3, 1)),
    Case("repeat", lambda a: a.repeat(2, 3), randn(2, 3)),
    Case("tile", lambda a: nr.tile(a, (2, 1, 2)), randn(2, 3)),
    Case("cat", lambda a, b: nr.cat([a, b], dim=1), randn(2, 3), randn(2, 5)),
    Case("stack", lambda a, b: nr.stack([a, b], dim=1), randn(2, 3), randn(2, 3)),
    Case("split", lambda a: nr.split(a, [1, 3], dim=1), randn(2, 4)),
    Case("chunk", lambda a: a.chunk(3, dim=0), randn(6, 2)),
    Case("unbind", lambda a: a.unbind(1), randn(2, 3)),
    Case("flip", lambda a: a.flip(0, 1), randn(3, 4)),
    Case("roll", lambda a: nr.roll(a, (1, -2), (0, 1)), randn(3, 4)),
    Case("movedim", lambda a: nr.movedim(a, 0, -1), randn(2, 3, 4)),
    Case("narrow", lambda a: a.narrow(1, 1, 2), randn(3, 4)),
    Case("tril_triu", lambda a: (nr.tril(a, -1), nr.triu(a, 1)), randn(4, 4)),
    Case("pad_constant", lambda a: F.pad(a, (1, 2, 0, 1), value=0.5), randn(2, 3, 4)),
    Case("pad_reflect", lambda a: F.pad(a, (2, 1), mode="reflect"), randn(2, 3, 5)),
    Case("pad_replicate", lambda a: F.pad(a, (1, 1, 2, 0), mode="replicate"), randn(1, 2, 3, 4)),
    # -- indexing ---------------------------------------------------------------------------------
    Case("getitem_int", lambda a: a[1], randn(3, 4)),
    Case("getitem_neg_int", lambda a: a[:, -1], randn(3, 4)),
    Case("getitem_slices", lambda a: a[1:, ::2], randn(4, 6)),
    Case("getitem_ellipsis_none", lambda a: a[..., None, 1:3], randn(2, 3, 4)),
    Case("getitem_int_tensor", lambda a, i: a[i], randn(5, 3), np.array([0, 4, 1, 1, 3])),
    Case("getitem_int_tensor_2d", lambda a, i: a[:, i], randn(3, 5), ints(5, 2, 3)),
    Case("getitem_two_int_tensors", lambda a, i, j: a[i, j], randn(4, 5),
         np.array([0, 3, 3]), np.array([4, 0, 4])),
    Case("getitem_list", lambda a: a[[0, 2, 2]], randn(3, 4)),
    Case("getitem_numpy_index", lambda a: a[np.array([1, 0])], randn(3, 4)),
    Case("getitem_bool_mask", lambda a, m: a[m], randn(4, 5), mask(4, 5)),
    Case("getitem_row_mask", lambda a, m: a[m], randn(4, 5), np.array([True, False, True, True])),
    Case("getitem_computed_mask", lambda a: a[a > 0], randn(4, 5)),
    Case("setitem_slice", _setitem((slice(1, 3), slice(None, None, 2))), randn(4, 6), randn(2, 3),
         layouts=False),
    Case("setitem_scalar", _setitem((0, slice(1, 3)), scalar=7.0), randn(3, 4), layouts=False),
    Case("setitem_int_tensor", _setitem_tensor_index, randn(5, 3), np.array([4, 0, 2]),
         randn(3, 3), layouts=False),
    Case("setitem_mask", _setitem(lambda y: y.detach() > 0.5, scalar=-1.0), randn(4, 5),
         layouts=False),
    Case("setitem_broadcast_value", _setitem((slice(None), 1)), randn(4, 3), randn(1),
         layouts=False),
    Case("gather", lambda a, i: nr.gather(a, 1, i), randn(3, 5), ints(5, 3, 4)),
    Case("scatter", lambda a, i, s: nr.scatter(a, 1, i, s), randn(3, 5),
         np.array([[0, 1], [2, 3], [4, 0]]), randn(3, 2)),
    Case("scatter_add_dups", lambda a, i, s: nr.scatter_add(a, 1, i, s), randn(3, 5),
         ints(5, 3, 6), randn(3, 6)),
    Case("index_select", lambda a, i: nr.index_select(a, 0, i), randn(5, 3), np.array([4, 1, 1])),
    Case("index_add_dups", lambda a, i, s: nr.index_add(a, 0, i, s), randn(5, 3),
         np.array([0, 2, 0, 4]), randn(4, 3)),
    Case("masked_fill", lambda a, m: a.masked_fill(m, -2.0), randn(3, 4), mask(3, 4)),
    Case("masked_select", lambda a, m: nr.masked_select(a, m), randn(3, 4), mask(3, 4)),
    Case("take_along_dim", lambda a, i: nr.take_along_dim(a, i, dim=1), randn(3, 5),
         ints(5, 3, 2)),
    Case("sort", lambda a: nr.sort(a, dim=1, descending=True), randn(3, 6)),
    Case("argsort", lambda a: nr.argsort(a, dim=0), randn(5, 3), grad=False),
    Case("topk", lambda a: nr.topk(a, 3, dim=1), randn(3, 7)),
    Case("kthvalue", lambda a: nr.kthvalue(a, 2, dim=1), randn(3, 7)),
    Case("nonzero", lambda m: (nr.nonzero(m), nr.argwhere(m)), mask(4, 5), grad=False),
    Case("one_hot", lambda i: F.one_hot(i, 6), ints(6, 7), grad=False),
    # -- matmul / linear --------------------------------------------------------------------------
    Case("matmul_2d", nr.matmul, randn(3, 4), randn(4, 5)),
    Case("matmul_batched_broadcast", nr.matmul, randn(2, 1, 3, 4), randn(3, 4, 5)),
    Case("matmul_vec", nr.matmul, randn(2, 3, 4), randn(4)),
    Case("matmul_large", nr.matmul, randn(64, 128), randn(128, 96), **GEMM_TOL),
    Case("mm", nr.mm, randn(3, 4), randn(4, 2)),
    Case("bmm", nr.bmm, randn(2, 3, 4), randn(2, 4, 5)),
    Case("mv", nr.mv, randn(3, 4), randn(4)),
    Case("dot", nr.dot, randn(6), randn(6)),
    Case("outer", nr.outer, randn(3), randn(4)),
    Case("linear", F.linear, randn(5, 4), randn(3, 4), randn(3)),
    Case("linear_3d_nobias", F.linear, randn(2, 5, 4), randn(3, 4)),
    Case("linear_large", F.linear, randn(256, 784), randn(256, 784) * 0.05, randn(256),
         **GEMM_TOL),
    # -- activations ------------------------------------------------------------------------------
    Case("relu", F.relu, randn(4, 5)),
    Case("relu6", F.relu6, randn(4, 5) * 4),
    Case("leaky_relu", lambda a: F.leaky_relu(a, 0.2), randn(4, 5)),
    Case("prelu", F.prelu, randn(2, 3, 4), unit(3)),
    Case("rrelu_eval", lambda a: F.rrelu(a, training=False), randn(4, 5)),
    Case("elu", lambda a: F.elu(a, alpha=0.7), randn(4, 5)),
    Case("selu", F.selu, randn(4, 5)),
    Case("celu", lambda a: F.celu(a, alpha=1.3), randn(4, 5)),
    Case("gelu", F.gelu, randn(4, 5)),
    Case("gelu_tanh", lambda a: F.gelu(a, approximate="tanh"), randn(4, 5)),
    Case("silu", F.silu, randn(4, 5)),
    Case("mish", F.mish, randn(4, 5)),
    Case("softplus", lambda a: F.softplus(a, beta=2.0, threshold=3.0), randn(4, 5) * 3),
    Case("softsign", F.softsign, randn(4, 5)),
    Case("hardtanh", lambda a: F.hardtanh(a, -0.5, 0.5), randn(4, 5)),
    Case("hardsigmoid", F.hardsigmoid, randn(4, 5) * 4),
    Case("hardswish", F.hardswish, randn(4, 5) * 4),
    Case("logsigmoid", F.logsigmoid, randn(4, 5) * 3),
    Case("tanhshrink", F.tanhshrink, randn(4, 5)),
    Case("softshrink", F.softshrink, randn(4, 5)),
    Case("hardshrink", F.hardshrink, randn(4, 5)),
    Case("threshold", lambda a: F.threshold(a, 0.1, -1.0), randn(4, 5)),
    Case("glu", F.glu, randn(3, 6)),
    Case("sigmoid", F.sigmoid, randn(4, 5) * 3),
    Case("tanh", F.tanh, randn(4, 5) * 2),
    Case("softmax", lambda a: F.softmax(a, dim=-1), randn(4, 7) * 3),
    Case("softmax_dim0", lambda a: F.softmax(a, dim=0), randn(4, 7) * 3),
    Case("softmax_wide", lambda a: F.softmax(a, dim=1), randn(8, 1000) * 3),
    Case("log_softmax", lambda a: F.log_softmax(a, dim=1), randn(4, 7) * 3),
    Case("log_softmax_3d", lambda a: F.log_softmax(a, dim=1), randn(2, 5, 3) * 3),
    Case("softmin", lambda a: F.softmin(a, dim=1), randn(4, 7)),
    Case("maxout", lambda a: F.maxout(a, 2, dim=1), randn(3, 6)),
    # -- losses -----------------------------------------------------------------------------------
    Case("cross_entropy", F.cross_entropy, randn(6, 5), ints(5, 6)),
    Case("cross_entropy_sum", lambda a, t: F.cross_entropy(a, t, reduction="sum"), randn(6, 5),
         ints(5, 6)),
    Case("cross_entropy_none", lambda a, t: F.cross_entropy(a, t, reduction="none"), randn(6, 5),
         ints(5, 6)),
    Case("cross_entropy_weight", lambda a, t, w: F.cross_entropy(a, t, weight=w), randn(6, 5),
         ints(5, 6), const(pos(5))),
    Case("cross_entropy_ignore", lambda a, t: F.cross_entropy(a, t, ignore_index=2),
         randn(6, 5), np.array([0, 2, 1, 2, 4, 3])),
    Case("cross_entropy_smoothing", lambda a, t: F.cross_entropy(a, t, label_smoothing=0.1),
         randn(6, 5), ints(5, 6)),
    Case("cross_entropy_probs", F.cross_entropy, randn(6, 5),
         const(np.exp(randn(6, 5)) / np.exp(randn(6, 5)).sum(1, keepdims=True))),
    Case("cross_entropy_spatial", F.cross_entropy, randn(2, 4, 3, 3), ints(4, 2, 3, 3)),
    Case("cross_entropy_large", F.cross_entropy, randn(512, 10) * 3, ints(10, 512)),
    Case("nll_loss", F.nll_loss, randn(6, 5), ints(5, 6)),
    Case("mse_loss", F.mse_loss, randn(4, 5), randn(4, 5)),
    Case("l1_loss", F.l1_loss, randn(4, 5), randn(4, 5)),
    Case("smooth_l1_loss", lambda a, b: F.smooth_l1_loss(a, b, beta=0.5), randn(4, 5),
         randn(4, 5)),
    Case("huber_loss", lambda a, b: F.huber_loss(a, b, delta=0.7), randn(4, 5), randn(4, 5)),
    Case("binary_cross_entropy", F.binary_cross_entropy, unit(4, 5), const(unit(4, 5))),
    Case("binary_cross_entropy_weight",
         lambda a, t, w: F.binary_cross_entropy(a, t, weight=w), unit(4, 5), const(unit(4, 5)),
         const(pos(5))),
    Case("bce_with_logits", lambda a, t, w: F.binary_cross_entropy_with_logits(a, t, pos_weight=w),
         randn(4, 5) * 3, const(unit(4, 5)), const(pos(5))),
    Case("kl_div", lambda a, t: F.kl_div(a, t, reduction="batchmean"),
         F.log_softmax(nr.tensor(randn(4, 5)), dim=1).numpy().astype(np.float64),
         const(unit(4, 5))),
    Case("hinge_embedding_loss", F.hinge_embedding_loss, randn(4, 5),
         const(np.sign(randn(4, 5)))),
    Case("multi_margin_loss", F.multi_margin_loss, randn(6, 5), ints(5, 6)),
    Case("margin_ranking_loss", lambda a, b, y: F.margin_ranking_loss(a, b, y, margin=0.2),
         randn(6), randn(6), const(np.sign(randn(6)))),
    Case("soft_margin_loss", F.soft_margin_loss, randn(4, 5), const(np.sign(randn(4, 5)))),
    Case("cosine_embedding_loss", F.cosine_embedding_loss, randn(4, 5), randn(4, 5),
         const(np.sign(randn(4)))),
    Case("triplet_margin_loss", F.triplet_margin_loss, randn(4, 5), randn(4, 5), randn(4, 5)),
    Case("poisson_nll_loss", F.poisson_nll_loss, randn(4, 5), const(pos(4, 5))),
    Case("gaussian_nll_loss", F.gaussian_nll_loss, randn(4, 5), randn(4, 5), pos(4, 5)),
    Case("multilabel_soft_margin_loss", F.multilabel_soft_margin_loss, randn(4, 5),
         const(mask(4, 5).astype(np.float64))),
    Case("multilabel_margin_loss", F.multilabel_margin_loss, randn(3, 5),
         np.array([[3, 0, -1, 1, 0], [1, 2, 4, -1, 0], [0, -1, 0, 0, 0]])),
    # -- convolution ------------------------------------------------------------------------------
    Case("conv1d", F.conv1d, randn(2, 3, 9), randn(4, 3, 3), randn(4), **CONV_TOL),
    Case("conv1d_stride_pad_dil", lambda x, w: F.conv1d(x, w, stride=2, padding=2, dilation=2),
         randn(2, 3, 11), randn(4, 3, 3), **CONV_TOL),
    Case("conv2d", F.conv2d, randn(2, 3, 7, 7), randn(4, 3, 3, 3), randn(4), **CONV_TOL),
    Case("conv2d_stride_pad", lambda x, w, b: F.conv2d(x, w, b, stride=2, padding=1),
         randn(2, 3, 8, 8), randn(5, 3, 3, 3), randn(5), **CONV_TOL),
    Case("conv2d_groups", lambda x, w: F.conv2d(x, w, groups=2, padding=1), randn(2, 4, 6, 6),
         randn(6, 2, 3, 3), **CONV_TOL),
    Case("conv2d_depthwise", lambda x, w: F.conv2d(x, w, groups=4), randn(2, 4, 6, 6),
         randn(4, 1, 3, 3), **CONV_TOL),
    Case("conv2d_dilation", lambda x, w: F.conv2d(x, w, dilation=2), randn(1, 2, 9, 9),
         randn(3, 2, 3, 3), **CONV_TOL),
    Case("conv2d_same", lambda x, w: F.conv2d(x, w, padding="same"), randn(2, 2, 6, 7),
         randn(3, 2, 4, 3), **CONV_TOL),
    Case("conv2d_1x1", F.conv2d, randn(2, 8, 5, 5), randn(4, 8, 1, 1), **CONV_TOL),
    Case("conv2d_5x5_mnist", lambda x, w, b: F.conv2d(x, w, b, padding=2), randn(4, 1, 28, 28),
         randn(8, 1, 5, 5) * 0.2, randn(8), **CONV_TOL),
    Case("conv2d_large_kernel", lambda x, w: F.conv2d(x, w, padding=3), randn(2, 8, 16, 16),
         randn(8, 8, 7, 7) * 0.05, **CONV_TOL),
    Case("conv_transpose1d", lambda x, w, b: F.conv_transpose1d(x, w, b, stride=2, padding=1),
         randn(2, 3, 5), randn(3, 4, 3), randn(4), **CONV_TOL),
    Case("conv_transpose2d", F.conv_transpose2d, randn(2, 3, 4, 4), randn(3, 2, 3, 3), randn(2),
         **CONV_TOL),
    Case("conv_transpose2d_stride_outpad",
         lambda x, w: F.conv_transpose2d(x, w, stride=2, padding=1, output_padding=1),
         randn(2, 3, 4, 5), randn(3, 4, 3, 3), **CONV_TOL),
    Case("conv_transpose2d_groups", lambda x, w: F.conv_transpose2d(x, w, groups=2, stride=2),
         randn(1, 4, 3, 3), randn(4, 3, 2, 2), **CONV_TOL),
    # -- pooling ----------------------------------------------------------------------------------
    Case("max_pool1d", lambda x: F.max_pool1d(x, 3, stride=2, padding=1), randn(2, 3, 9)),
    Case("max_pool2d", lambda x: F.max_pool2d(x, 2), randn(2, 3, 6, 6)),
    Case("max_pool2d_overlap", lambda x: F.max_pool2d(x, 3, stride=2, padding=1),
         randn(2, 3, 7, 7)),
    Case("max_pool2d_ceil_dil", lambda x: F.max_pool2d(x, 2, stride=2, dilation=2, ceil_mode=True),
         randn(1, 2, 9, 9)),
    Case("max_pool2d_indices", lambda x: F.max_pool2d(x, 2, return_indices=True),
         randn(2, 3, 6, 6)),
    Case("max_unpool2d", _max_unpool, randn(2, 3, 6, 6)),
    Case("avg_pool1d", lambda x: F.avg_pool1d(x, 3, stride=2), randn(2, 3, 9)),
    Case("avg_pool2d", lambda x: F.avg_pool2d(x, 2), randn(2, 3, 6, 6)),
    Case("avg_pool2d_pad_exclude",
         lambda x: F.avg_pool2d(x, 3, stride=2, padding=1, count_include_pad=False,
                                ceil_mode=True), randn(2, 3, 8, 8)),
    Case("adaptive_avg_pool1d", lambda x: F.adaptive_avg_pool1d(x, 4), randn(2, 3, 10)),
    Case("adaptive_avg_pool2d", lambda x: F.adaptive_avg_pool2d(x, (3, 2)), randn(2, 3, 7, 5)),
    Case("adaptive_avg_pool2d_global", lambda x: F.adaptive_avg_pool2d(x, 1), randn(2, 3, 4, 4)),
    Case("adaptive_max_pool1d", lambda x: F.adaptive_max_pool1d(x, 3), randn(2, 3, 8)),
    Case("adaptive_max_pool2d", lambda x: F.adaptive_max_pool2d(x, (2, 3)), randn(2, 3, 7, 7)),
    Case("lp_pool2d", lambda x: F.lp_pool2d(x, 2, 2), pos(2, 3, 6, 6)),
    # -- resizing ---------------------------------------------------------------------------------
    Case("interpolate_nearest", lambda x: F.interpolate(x, scale_factor=2), randn(2, 3, 4, 5)),
    Case("interpolate_nearest_size", lambda x: F.interpolate(x, size=(7, 3)), randn(2, 3, 4, 5)),
    Case("interpolate_nearest_exact", lambda x: F.interpolate(x, size=7, mode="nearest-exact"),
         randn(2, 3, 5)),
    Case("interpolate_linear", lambda x: F.interpolate(x, size=9, mode="linear"), randn(2, 3, 5)),
    Case("interpolate_bilinear",
         lambda x: F.interpolate(x, size=(28, 28), mode="bilinear", align_corners=False),
         randn(2, 1, 8, 8)),
    Case("interpolate_bilinear_corners",
         lambda x: F.interpolate(x, scale_factor=1.5, mode="bilinear", align_corners=True),
         randn(2, 2, 4, 6)),
    Case("interpolate_downsample",
         lambda x: F.interpolate(x, size=(3, 4), mode="bilinear"), randn(1, 2, 8, 9)),
    Case("pixel_shuffle", lambda x: (F.pixel_shuffle(x, 2), F.pixel_unshuffle(x, 2)),
         randn(2, 8, 4, 4)),
    # -- normalisation ----------------------------------------------------------------------------
    Case("batch_norm_train_2d", _batch_norm_train, randn(4, 3, 5, 5), const(randn(3)),
         const(pos(3)), randn(3), randn(3)),
    Case("batch_norm_train_1d", _batch_norm_train, randn(8, 5), const(randn(5)), const(pos(5)),
         randn(5), randn(5)),
    Case("batch_norm_train_seq", _batch_norm_train, randn(4, 3, 6), const(randn(3)),
         const(pos(3)), randn(3), randn(3)),
    Case("batch_norm_train_large", _batch_norm_train, randn(64, 16, 8, 8), const(randn(16)),
         const(pos(16)), randn(16), randn(16), atol=1e-4, rtol=1e-3),
    Case("batch_norm_eval", lambda x, rm, rv, w, b: F.batch_norm(x, rm, rv, w, b),
         randn(4, 3, 5, 5), const(randn(3)), const(pos(3)), randn(3), randn(3)),
    Case("batch_norm_no_affine",
         lambda x: F.batch_norm(x, None, None, training=True), randn(4, 3, 5, 5)),
    Case("layer_norm", lambda x, w, b: F.layer_norm(x, (4, 5), w, b), randn(3, 4, 5), randn(4, 5),
         randn(4, 5)),
    Case("layer_norm_wide", lambda x, w, b: F.layer_norm(x, (512,), w, b), randn(16, 512),
         randn(512), randn(512), atol=1e-4, rtol=1e-3),
    Case("group_norm", lambda x, w, b: F.group_norm(x, 2, w, b), randn(3, 4, 5, 5), randn(4),
         randn(4)),
    Case("instance_norm", lambda x, w, b: F.instance_norm(x, weight=w, bias=b), randn(2, 3, 5, 5),
         randn(3), randn(3)),
    Case("local_response_norm", lambda x: F.local_response_norm(x, 3), randn(2, 5, 4, 4)),
    Case("normalize", lambda x: F.normalize(x, dim=1), randn(4, 5)),
    Case("rms_norm", lambda x, w: F.rms_norm(x, (5,), w), randn(3, 4, 5), randn(5)),
    # -- embedding --------------------------------------------------------------------------------
    Case("embedding", F.embedding, np.array([[0, 2, 2], [5, 1, 0]]), randn(6, 4)),
    Case("embedding_padding_idx", lambda i, w: F.embedding(i, w, padding_idx=0),
         np.array([[0, 2, 2], [5, 1, 0]]), randn(6, 4)),
    Case("embedding_large_vocab", F.embedding, ints(1000, 32, 16), randn(1000, 64)),
    Case("embedding_bag_mean", lambda i, w, o: F.embedding_bag(i, w, o, mode="mean"),
         np.array([1, 2, 4, 5, 4, 3, 2]), randn(6, 3), np.array([0, 2, 5])),
    Case("embedding_bag_sum", lambda i, w: F.embedding_bag(i, w, mode="sum"),
         np.array([[1, 2, 4], [4, 3, 2]]), randn(6, 3)),
    # -- attention --------------------------------------------------------------------------------
    Case("sdpa", F.scaled_dot_product_attention, randn(2, 3, 4, 8), randn(2, 3, 6, 8),
         randn(2, 3, 6, 8)),
    Case("sdpa_causal", lambda q, k, v: F.scaled_dot_product_attention(q, k, v, is_causal=True),
         randn(2, 2, 5, 4), randn(2, 2, 5, 4), randn(2, 2, 5, 4)),
    Case("sdpa_bool_mask",
         lambda q, k, v, m: F.scaled_dot_product_attention(q, k, v, attn_mask=m),
         randn(2, 4, 8), randn(2, 6, 8), randn(2, 6, 8),
         np.tril(np.ones((4, 6), dtype=bool), k=2)),
    Case("sdpa_float_mask_scale",
         lambda q, k, v, m: F.scaled_dot_product_attention(q, k, v, attn_mask=m, scale=0.3),
         randn(2, 4, 8), randn(2, 6, 8), randn(2, 6, 8), const(randn(4, 6))),
    Case("sdpa_large", F.scaled_dot_product_attention, randn(4, 4, 64, 32), randn(4, 4, 64, 32),
         randn(4, 4, 64, 32), atol=1e-4, rtol=1e-3),
    # -- fused recurrent sequences ----------------------------------------------------------------
    Case("lstm_sequence", _lstm(), randn(T_, B_, I_), randn(B_, H_), randn(B_, H_),
         randn(4 * H_, I_) * 0.5, randn(4 * H_, H_) * 0.5, randn(4 * H_), randn(4 * H_)),
    Case("lstm_sequence_reverse_masked", _lstm(True, SEQ_MASK), randn(T_, B_, I_), randn(B_, H_),
         randn(B_, H_), randn(4 * H_, I_) * 0.5, randn(4 * H_, H_) * 0.5, randn(4 * H_),
         randn(4 * H_)),
    Case("lstm_sequence_lm_size", _lstm(), randn(64, 32, 128) * 0.5, randn(32, 256) * 0.1,
         randn(32, 256) * 0.1, randn(1024, 128) * 0.06, randn(1024, 256) * 0.06,
         randn(1024) * 0.06, randn(1024) * 0.06, atol=1e-4, rtol=1e-3),
    Case("gru_sequence", _rnn("GRU"), randn(T_, B_, I_), randn(B_, H_), randn(3 * H_, I_) * 0.5,
         randn(3 * H_, H_) * 0.5, randn(3 * H_), randn(3 * H_)),
    Case("gru_sequence_reverse_masked", _rnn("GRU", True, SEQ_MASK), randn(T_, B_, I_),
         randn(B_, H_), randn(3 * H_, I_) * 0.5, randn(3 * H_, H_) * 0.5, randn(3 * H_),
         randn(3 * H_)),
    Case("rnn_tanh_sequence", _rnn("RNN_TANH"), randn(T_, B_, I_), randn(B_, H_),
         randn(H_, I_) * 0.5, randn(H_, H_) * 0.5, randn(H_), randn(H_)),
    Case("rnn_relu_sequence", _rnn("RNN_RELU"), randn(T_, B_, I_), randn(B_, H_),
         randn(H_, I_) * 0.5, randn(H_, H_) * 0.5, randn(H_), randn(H_)),
    Case("gru_cell", lambda x, h, wi, wh, bi, bh: R.gru_cell(x, h, wi, wh, bi, bh),
         randn(B_, I_), randn(B_, H_), randn(3 * H_, I_), randn(3 * H_, H_), randn(3 * H_),
         randn(3 * H_)),
    Case("lstm_cell", lambda x, h, c, wi, wh: R.lstm_cell(x, (h, c), wi, wh), randn(B_, I_),
         randn(B_, H_), randn(B_, H_), randn(4 * H_, I_), randn(4 * H_, H_)),
    # -- distances --------------------------------------------------------------------------------
    Case("cosine_similarity", F.cosine_similarity, randn(4, 5), randn(4, 5)),
    Case("pairwise_distance", F.pairwise_distance, randn(4, 5), randn(4, 5)),
    Case("cdist", F.cdist, randn(4, 5), randn(3, 5)),
]


# -- the harness --------------------------------------------------------------------------------
def _flatten(out):
    """Outputs as a flat list (ops may return tuples, named tuples or nested pairs)."""
    if isinstance(out, (tuple, list)):
        return [leaf for o in out for leaf in _flatten(o)]
    return [out]


def _inputs(args, device, fortran):
    """Fresh tensors for one run: the same values on every call, moved with ``.to``."""
    tensors = []
    for a in args:
        if isinstance(a, const):
            tensors.append(nr.from_numpy(a.array.astype(np.float32)).to(device))
        elif isinstance(a, np.ndarray):
            is_float = a.dtype.kind == "f"
            arr = a.astype(np.float32) if is_float else a.copy()
            if fortran and is_float and arr.ndim >= 2:
                arr = np.asfortranarray(arr)
            t = nr.from_numpy(arr).to(device)
            if is_float:
                t.requires_grad_(True)
            tensors.append(t)
        else:
            tensors.append(a)
    return tensors


def _run(case, device, fortran):
    """Outputs and input gradients of ``case`` on ``device`` (gradients still on it)."""
    inputs = _inputs(case.args, device, fortran)
    outs = _flatten(case.fn(*inputs))
    grads = []
    diff = [o for o in outs if isinstance(o, nr.Tensor) and o.requires_grad]
    if case.grad and diff:
        rng = np.random.default_rng(7)  # the same upstream gradient on both devices
        ups = [nr.from_numpy(rng.standard_normal(o.shape).astype(np.float32)).to(device)
               for o in diff]
        loss = sum((o * u).sum() for o, u in zip(diff, ups))
        loss.backward()
        grads = [t.grad if isinstance(t, nr.Tensor) and t.requires_grad else None
                 for t in inputs]
    return outs, grads


def _numpy(t):
    return t.detach().cpu().numpy()


def _close(got, want, case, what):
    got, want = np.asarray(got), np.asarray(want)
    assert got.shape == want.shape, f"{case}: {what} shape {got.shape} != cpu {want.shape}"
    assert got.dtype == want.dtype, f"{case}: {what} dtype {got.dtype} != cpu {want.dtype}"
    if got.dtype.kind in "biu":
        np.testing.assert_array_equal(got, want, err_msg=f"{case}: {what}")
    else:
        np.testing.assert_allclose(got, want, atol=case.atol, rtol=case.rtol,
                                   err_msg=f"{case}: {what}")


def _on(t, device):
    return nr.backend.as_device(device) == t.device


def with_layouts(cases):
    """``(case, fortran)`` pairs: every case contiguous, and again in Fortran order where it
    has a float input of 2+ dims. Other op tables (``test_gpu_ops_*.py``) reuse this and
    ``check_case`` with their own ``CASES``."""
    return [(c, False) for c in cases] + [
        (c, True) for c in cases
        if c.layouts and any(isinstance(a, np.ndarray) and a.dtype.kind == "f" and a.ndim >= 2
                             for a in c.args)]


def layout_ids(pairs):
    return [f"{c.name}{'-noncontig' if f else ''}" for c, f in pairs]


LAYOUT_CASES = with_layouts(CASES)


@pytest.mark.parametrize("case,fortran", LAYOUT_CASES, ids=layout_ids(LAYOUT_CASES))
def test_op_matches_cpu(case, fortran, device):
    check_case(case, fortran, device)


def check_case(case, fortran, device):
    """Forward outputs and every input's gradient: device == CPU within float32 tolerance."""
    cpu_outs, cpu_grads = _run(case, "cpu", fortran)
    dev_outs, dev_grads = _run(case, device, fortran)
    assert len(dev_outs) == len(cpu_outs), f"{case}: number of outputs differs"
    for k, (d, c) in enumerate(zip(dev_outs, cpu_outs)):
        if not isinstance(c, nr.Tensor):
            assert d == c, f"{case}: output {k} {d!r} != cpu {c!r}"
            continue
        assert _on(d, device), f"{case}: output {k} is on {d.device}, expected {device}"
        _close(_numpy(d), _numpy(c), case, f"output {k}")
    for k, (d, c) in enumerate(zip(dev_grads, cpu_grads)):
        if c is None:
            assert d is None or not np.any(_numpy(d)), f"{case}: input {k} has a gradient " \
                "only on the device"
            continue
        assert d is not None, f"{case}: gradient of input {k} missing on the device"
        assert _on(d, device), f"{case}: gradient of input {k} is on {d.device}"
        _close(_numpy(d), _numpy(c), case, f"gradient of input {k}")


def test_table_covers_the_op_set():
    """Guard against the table silently shrinking: the headline ops must all be there."""
    names = {c.name for c in CASES}
    for required in ("add", "matmul_2d", "linear", "softmax", "log_softmax", "cross_entropy",
                     "conv1d", "conv2d", "conv_transpose2d", "max_pool2d", "avg_pool2d",
                     "interpolate_bilinear", "batch_norm_train_2d", "layer_norm", "group_norm",
                     "embedding", "sdpa", "lstm_sequence", "gru_sequence", "getitem_bool_mask",
                     "getitem_int_tensor", "getitem_slices", "setitem_slice", "sum_dim"):
        assert required in names, required


# -- randomness: statistics only, masks differ between devices ---------------------------------
@pytest.mark.parametrize("p", [0.2, 0.5])
def test_dropout_statistics(p, device):
    """Kept units scaled by 1/(1-p), about p of them dropped; the gradient is the same mask."""
    x = nr.ones(200, 500).to(device).requires_grad_(True)
    y = F.dropout(x, p=p, training=True)
    assert _on(y, device)
    y.sum().backward()
    out, g = _numpy(y), _numpy(x.grad)
    kept = out != 0
    np.testing.assert_allclose(out[kept], 1.0 / (1.0 - p), rtol=1e-6)
    assert abs((~kept).mean() - p) < 0.01, f"dropped fraction {(~kept).mean():.4f}, p={p}"
    np.testing.assert_array_equal(g, out)


def test_dropout_eval_and_p0_are_identity(device):
    x = nr.from_numpy(randn(4, 5).astype(np.float32)).to(device)
    np.testing.assert_array_equal(_numpy(F.dropout(x, 0.5, training=False)), _numpy(x))
    np.testing.assert_array_equal(_numpy(F.dropout(x, 0.0, training=True)), _numpy(x))


def test_dropout2d_drops_whole_channels(device):
    x = nr.ones(64, 32, 4, 4).to(device)
    y = _numpy(F.dropout2d(x, p=0.5, training=True))
    per_channel = y.reshape(64, 32, -1)
    assert np.all((per_channel == 0).all(-1) | (per_channel == 2.0).all(-1))
    assert abs((per_channel[..., 0] == 0).mean() - 0.5) < 0.05


def test_alpha_dropout_keeps_mean_and_variance(device):
    x = nr.from_numpy(RNG.standard_normal((400, 500)).astype(np.float32)).to(device)
    y = _numpy(F.alpha_dropout(x, p=0.3, training=True))
    assert abs(y.mean()) < 0.02 and abs(y.std() - 1.0) < 0.02


def test_device_randomness_follows_manual_seed(device):
    """The same seed gives the same mask on the same device (reproducible GPU runs)."""
    x = nr.ones(1000).to(device)
    nr.manual_seed(5)
    a = _numpy(F.dropout(x, 0.5, training=True))
    nr.manual_seed(5)
    b = _numpy(F.dropout(x, 0.5, training=True))
    np.testing.assert_array_equal(a, b)


@pytest.mark.parametrize("make", [
    lambda d: nr.randn(500, 400, device=d),
    lambda d: nr.rand(500, 400, device=d) * 2 - 1 + nr.zeros(500, 400, device=d),
    lambda d: nr.randn(500, 400, device=d).normal_(0.0, 1.0),
], ids=["randn", "rand", "normal_"])
def test_random_creation_on_device(make, device):
    t = make(device)
    assert _on(t, device)
    a = _numpy(t)
    assert a.dtype == np.float32 and abs(a.mean()) < 0.02


# -- creation and transfer ----------------------------------------------------------------------
def test_creation_functions_on_device(device):
    checks = {
        "zeros": (nr.zeros(2, 3, device=device), np.zeros((2, 3), np.float32)),
        "ones": (nr.ones(2, 3, device=device), np.ones((2, 3), np.float32)),
        "full": (nr.full((2, 2), 1.5, device=device), np.full((2, 2), 1.5, np.float32)),
        "arange": (nr.arange(5, device=device), np.arange(5)),
        "eye": (nr.eye(3, device=device), np.eye(3, dtype=np.float32)),
        "tensor": (nr.tensor([[1.0, 2.0]], device=device), np.array([[1.0, 2.0]], np.float32)),
        "zeros_like": (nr.zeros_like(nr.ones(2, device=device)), np.zeros(2, np.float32)),
    }
    for name, (t, want) in checks.items():
        assert _on(t, device), f"{name} is on {t.device}"
        _close(_numpy(t), want, Case(name, None), "value")


def test_round_trip_and_scalars(device):
    a = randn(3, 4).astype(np.float32)
    t = nr.from_numpy(a).to(device)
    assert _on(t, device) and t.is_cuda == (device != "cpu")
    assert _on(t.cpu(), "cpu")
    np.testing.assert_array_equal(t.cpu().numpy(), a)
    assert t.sum().item() == pytest.approx(float(a.sum()), rel=1e-5)
    assert t[0].tolist() == pytest.approx(a[0].tolist())
    if device != "cpu":
        assert _on(nr.from_numpy(a).cuda(), device)


def test_gradient_flows_back_through_to(device):
    """A CPU leaf used on the device gets its gradient on the CPU (ToDevice's backward)."""
    x = nr.from_numpy(randn(3, 4).astype(np.float32)).requires_grad_(True)
    y = (x.to(device) * 2).sum()
    y.backward()
    assert _on(x.grad, "cpu")
    np.testing.assert_allclose(x.grad.numpy(), np.full((3, 4), 2.0, np.float32))


def test_double_backward_on_device(device):
    """create_graph=True works on the device (gradient penalties, gradchecks)."""
    a = randn(5).astype(np.float32)
    xs = [nr.from_numpy(a).to(d).requires_grad_(True) for d in ("cpu", device)]
    res = []
    for x in xs:
        (g,) = nr.autograd.grad(nr.tanh(x).pow(3).sum(), [x], create_graph=True)
        (gg,) = nr.autograd.grad(g.sum(), [x])
        res.append((_numpy(g), _numpy(gg)))
    np.testing.assert_allclose(res[1][0], res[0][0], rtol=1e-4, atol=1e-6)
    np.testing.assert_allclose(res[1][1], res[0][1], rtol=1e-4, atol=1e-6)


def test_float64_on_device(device):
    """float64 works on the device too (gradchecks use it)."""
    a = randn(4, 5)
    outs = []
    for d in ("cpu", device):
        x = nr.from_numpy(a).to(d).requires_grad_(True)
        y = F.log_softmax(x @ x.t(), dim=1).sum()
        y.backward()
        assert x.grad.dtype == nr.float64
        outs.append((y.item(), _numpy(x.grad)))
    assert outs[1][0] == pytest.approx(outs[0][0], rel=1e-12)
    np.testing.assert_allclose(outs[1][1], outs[0][1], rtol=1e-10, atol=1e-12)
