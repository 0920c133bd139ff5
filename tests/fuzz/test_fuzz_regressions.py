"""Minimal regressions for the bugs found by the differential fuzzer (tests/fuzz/fuzz_ops.py).

Each test is the smallest torch-parity case of one bug, named after what was wrong.
"""
import warnings

import numpy as np
import pytest
import torch

import narae as nr
from helpers import check, randn

warnings.filterwarnings("ignore", category=RuntimeWarning)


def both(fn, *arrays, grad=True):
    """fn(m, *tensors) for m in (torch, narae): outputs (values, dtype name) and the gradients of
    out.sum() w.r.t. the float inputs, as numpy, for a direct comparison."""
    res = []
    for m in (torch, nr):
        ts = [(torch.tensor(a) if m is torch else nr.tensor(a)) for a in arrays]
        for t, a in zip(ts, arrays):
            if grad and a.dtype.kind == "f":
                t.requires_grad_(True)
        out = fn(m, *ts)
        val = out.detach().numpy()
        grads = ()
        if grad and out.requires_grad:
            leaves = [t for t in ts if t.requires_grad]
            grads = tuple(None if g is None else g.numpy() for g in
                          m.autograd.grad(out.double().sum(), leaves, allow_unused=True))
        res.append((val, str(out.dtype).split(".")[-1], grads))
    (tv, td, tg), (nv, nd, ng) = res
    assert nd == td, f"dtype {nd} != torch {td}"
    assert nv.shape == tv.shape, f"shape {nv.shape} != torch {tv.shape}"
    np.testing.assert_allclose(nv, tv, rtol=1e-6, atol=1e-6, equal_nan=True)
    assert len(ng) == len(tg)
    for a, b in zip(ng, tg):
        np.testing.assert_allclose(np.zeros_like(b) if a is None else a, b, rtol=1e-6, atol=1e-6,
                                   equal_nan=True)


# --- autograd through in-place fills (narae/creation.py) ----------------------------------
def test_copy_into_nonleaf_routes_gradient_to_source():
    # was: same-shape copy_ kept the old graph (grad to a) and dropped src's gradient
    def f(m, a, b):
        y = a * 1
        y.copy_(b)
        return y * a
    both(f, np.array([2.0, -1.0]), np.array([3.0, 0.5]))


def test_fill_and_zero_on_nonleaf_in_graph():
    # was: RuntimeError "a tensor that is part of a graph cannot be filled in place"
    def f(m, a, v):
        y, z, w = a * 1, a * 2, a * 3
        y.fill_(5.0)
        z.zero_()
        w.fill_(v)  # a 0-d tensor value: differentiable in v
        return y + z + w + a
    both(f, np.array([2.0, -1.0]), np.array(0.5))


# --- zero-gradient ops (narae/ops/arith.py) -------------------------------------------------
def test_rounding_division_has_zero_gradient_even_at_zero_divisor():
    # was: nan gradient from trunc(a / b) differentiated through the division
    both(lambda m, a: m.div(a, a, rounding_mode="trunc") + m.div(a, 2.0, rounding_mode="floor"),
         np.array([0.0, 1.5, -2.5]))


def test_piecewise_constant_gradient_is_exactly_zero_under_inf():
    # was: gy * 0 = nan when the upstream gradient is inf (1/x at x = 0 after floor)
    both(lambda m, x: 1.0 / (m.floor(x) + m.sign(x) * 0 + 1) + (1 / m.round(x)) * 0,
         np.array([0.2, 1.7, -3.2]))


def test_integer_trunc_division_is_exact_and_zero_division_raises():
    a = np.array([7, -7, 7, -7, 2 ** 53 + 1])
    b = np.array([2, 2, -2, -2, 1])
    both(lambda m, x, y: m.div(x, y, rounding_mode="trunc"), a, b)
    for m in (torch, nr):
        with pytest.raises(RuntimeError, match="ZeroDivisionError"):
            m.floor_divide(m.tensor([1, 2]), m.tensor([1, 0]))
    both(lambda m, x: m.floor_divide(x, 0), np.zeros((0, 2), np.int64))  # empty: no error


# --- dtype promotion ------------------------------------------------------------------------
@pytest.mark.parametrize("expr", [
    lambda m, x: x ** 0.5, lambda m, x: 2.5 ** x, lambda m, x: m.pow(x, 2.0),
    lambda m, x: 2 ** x, lambda m, x: x ** 2, lambda m, x: m.square(x > 0),
    lambda m, x: (x > 0) ** 2, lambda m, x: 2 ** (x > 0), lambda m, x: 2.0 ** (x > 0),
    lambda m, x: m.clamp(x, -0.5, 0.8), lambda m, x: m.clamp(x, min=0),
    lambda m, x: m.sigmoid(x), lambda m, x: m.tanh(x), lambda m, x: m.sigmoid(x > 0),
    lambda m, x: m.sign(x > 0),
], ids=["int**0.5", "2.5**int", "pow(int,2.0)", "2**int", "int**2", "square(bool)",
        "bool**2", "2**bool", "2.0**bool", "clamp(int,float)", "clamp(int,int)", "sigmoid(int)",
        "tanh(int)", "sigmoid(bool)", "sign(bool)"])
def test_scalar_promotion_matches_torch(expr):
    # was: 2.5 ** int computed in int64 (wrong values), int ** 0.5 float64, ...
    both(expr, np.array([1, 2, -1, 3]), grad=False)


def test_integer_base_to_negative_integer_power_is_zero():
    # was: NumPy's "Integers to negative integer powers are not allowed"
    both(lambda m, x: 3 ** x + 1 ** x, np.array([-2, -1, 0, 2]), grad=False)


def test_integer_hardtanh_keeps_dtype_and_float_only_activations_refuse_ints():
    both(lambda m, x: m.nn.functional.hardtanh(x, -0.5, 6.5) + m.nn.functional.relu6(x),
         np.array([-3, 0, 3, 7]), grad=False)
    for name in ("gelu", "elu", "silu", "softplus", "leaky_relu", "hardswish", "logsigmoid"):
        with pytest.raises(NotImplementedError, match=name):
            getattr(nr.nn.functional, name)(nr.tensor([1, 2]))


# --- activations on edge shapes (narae/ops/activation.py) -----------------------------------
@pytest.mark.parametrize("shape,dim", [((), 0), ((0, 3), 0), ((2, 0), 1)])
def test_softmax_on_scalar_and_empty(shape, dim):
    # was: "return arrays must be of ArrayType" (0-d) / max of an empty axis
    check(lambda m, x: m.softmax(x, dim) + m.log_softmax(x, dim), randn(*shape))


def test_shrink_propagates_nan():
    both(lambda m, x: m.nn.functional.softshrink(x, 0.3) + m.nn.functional.hardshrink(x, 0.3),
         np.array([np.nan, 0.1, 1.0]))


# --- indexing (narae/ops/index.py) ----------------------------------------------------------
@pytest.mark.parametrize("key", [
    lambda m: (0, slice(None), m.tensor([2, 0, 2])),
    lambda m: (slice(None), m.tensor([1, 0]), slice(None), 1),
    lambda m: (1, m.tensor([True, False, True, True]), slice(None), -1),
], ids=["int-slice-array", "slice-array-slice-int", "int-mask-slice-int"])
def test_ints_mixed_with_index_arrays_follow_torch(key):
    # was: NumPy's rule (ints count as advanced indices): x[0, :, idx] came out (k, B)
    x = randn(3, 4, 5, 6)
    check(lambda m, t: t[key(m)], x)

    def assign(m, t):
        y = t * 1
        y[key(m)] = 7.0
        return y
    check(assign, x)


def test_setitem_value_with_extra_leading_ones():
    # was: "setting an array element with a sequence" for x[1] = tensor of shape (1,)
    def f(m, x, v):
        y = x * 1
        y[1] = v
        return y
    check(f, randn(3), randn(1, 1))
    z = nr.zeros(3)
    z[1] = nr.tensor([5.0])
    assert z.tolist() == [0.0, 5.0, 0.0]


def test_masked_fill_out_of_place_broadcasts_to_mask():
    mask = np.array([[[True], [False]]])
    check(lambda m, x, k: m.masked_fill(x, k, 0.5), randn(3), mask)
    with pytest.raises(RuntimeError, match="masked_fill_"):
        nr.zeros(3).masked_fill_(nr.tensor(mask), 0.5)


def test_index_select_on_scalar_stays_scalar():
    check(lambda m, x, i: m.index_select(x, 0, i), randn(), np.array([0]))


# --- empty and degenerate sizes ---------------------------------------------------------------
def test_linear_backward_with_zero_features():
    # was: reshape(gy, (-1, 0)) in the weight gradient
    check(lambda m, x, w, b: m.nn.functional.linear(x, w, b), randn(3, 2, 4), randn(0, 4),
          randn(0))
    check(lambda m, x, w: m.nn.functional.linear(x, w), randn(3, 2, 0), randn(5, 0))


def test_nll_loss_ignores_inf_outside_the_target():
    # was: dense one-hot product: 0 * inf = nan in a row with an inf off the target
    x = np.array([[1.0, np.inf, -2.0], [np.nan, 0.5, 1.0]])
    t = np.array([0, 1])
    for red in ("none", "mean"):
        both(lambda m, a, b: m.nn.functional.nll_loss(a, b, weight=m.tensor([1.0, 2.0, 3.0], dtype=m.float64),
                                                      reduction=red), x, t)


def test_norms_and_adaptive_pool_on_empty_batch():
    for m in (torch, nr):
        F = m.nn.functional
        rm, rv = m.zeros(2), m.ones(2)
        assert tuple(F.batch_norm(m.zeros(0, 2), rm, rv, training=True).shape) == (0, 2)
        assert rm.tolist() == [0.0, 0.0] and rv.tolist() == [1.0, 1.0]  # stats untouched
        assert tuple(F.group_norm(m.zeros(0, 4, 1), 2).shape) == (0, 4, 1)
        assert tuple(F.instance_norm(m.zeros(3, 4, 0)).shape) == (3, 4, 0)
        assert tuple(F.adaptive_max_pool1d(m.zeros(0, 4, 1), 3).shape) == (0, 4, 3)


# --- reductions: dims of a 0-d tensor and the empty dim list (narae/ops/_operands.py) ------
@pytest.mark.parametrize("name", ["sum", "mean", "amax", "prod", "logsumexp", "nansum",
                                  "nanmean", "count_nonzero"])
@pytest.mark.parametrize("dim", [0, -1])
def test_reduction_over_dim_of_scalar(name, dim):
    # was: "axis 0 is out of bounds for array of dimension 0"
    a = randn()
    if name == "count_nonzero":
        both(lambda m, x: m.count_nonzero(x, dim=dim), a, grad=False)
    else:
        check(lambda m, x: getattr(m, name)(x, dim), a)
    check(lambda m, x: m.aminmax(x, dim=dim).max, a)


@pytest.mark.parametrize("name", ["sum", "mean", "nansum", "std", "var", "count_nonzero"])
def test_empty_dim_list_reduces_everything(name):
    # was: dim=() reduced nothing; torch's reductions read it as "all dims"
    # (no gradient check for std/var: torch 2.13's backward of std(x, dim=()) is inf)
    fn = lambda m, x: getattr(m, name)(x, dim=()).double()  # noqa: E731
    both(fn, randn(2, 3), grad=name in ("sum", "mean", "nansum"))


def test_empty_dim_list_keeps_everything_for_all_any_flip_squeeze():
    both(lambda m, x: m.all(x > 0, dim=()).double() + m.any(x > 0, dim=()).double()
         + m.flip(x, ()) + m.squeeze(x, ()), randn(2, 1, 3))


# --- more edge values -----------------------------------------------------------------------
def test_integer_fmod_by_zero_raises():
    for m in (torch, nr):
        with pytest.raises(RuntimeError, match="ZeroDivisionError"):
            m.fmod(m.tensor([3, 4]), m.tensor([2, 0]))


def test_cross_entropy_with_zero_classes():
    # was: a max over the empty class axis (no identity)
    check(lambda m, x, t: m.nn.functional.cross_entropy(x, t, reduction="none"),
          randn(2, 0, 2), randn(2, 0, 2))


def test_integer_avg_pool_truncates_like_torch():
    # was: the mean computed in the integer dtype (all zeros)
    x = np.array([[[-3, 0, 5, 6, 7]]])
    for kw in ({}, dict(stride=2, padding=1, ceil_mode=True, count_include_pad=False)):
        k = 3 if kw else 2
        both(lambda m, t: m.nn.functional.avg_pool1d(t, k, **kw), x, grad=False)
    both(lambda m, t: m.nn.functional.avg_pool2d(t[None].expand(1, 1, 2, 5), 2,
                                                 divisor_override=3), x, grad=False)


def test_lerp_from_the_nearer_end():
    # was: start + w (end - start) everywhere: inf start gave nan at w >= 0.5
    a, b = np.array([np.inf, 1.0, 2.0]), np.array([0.0, 3.0, -1.0])
    both(lambda m, x, y: m.lerp(x, y, 0.7), a, b)
    both(lambda m, x, y, w: m.lerp(x[1:], y[1:], w), a, b, np.array([0.7, 1.0]))


def test_zero_d_integer_tensor_index_acts_as_int():
    # torch reads x[tensor(0), :, idx] as x[0, :, idx] (NumPy: an advanced index)
    check(lambda m, x, i, j: x[i, :, j], randn(2, 3, 4), np.array(0), np.array([1, 2]))


def test_fill_of_a_view_inside_the_graph_still_refuses():
    # narae has no view tracking in the graph: filling a view would not reach its base
    b = nr.tensor([1.0, 2.0, 3.0], requires_grad=True) * 1
    with pytest.raises(RuntimeError, match="view"):
        b[:2].zero_()


def test_mode_of_bool_scalar_keeps_dtype():
    both(lambda m, x: m.mode(x).values, np.array(True), grad=False)


def test_label_smoothing_with_zero_classes():
    # was: ZeroDivisionError (smoothing / number of classes)
    check(lambda m, x, t: m.nn.functional.cross_entropy(x, t, label_smoothing=0.2,
                                                        reduction="sum"),
          randn(4, 0, 4), randn(4, 0, 4))


# --- elementwise.py and reduce.py findings ---------------------------------------------------
def test_xlogy_gradient_is_zero_where_the_incoming_gradient_is_zero():
    both(lambda m, a, b: m.xlogy(a, b)[1:], np.array([1.0, 1.0, 2.0]), np.array([-1.0, 2.0, 3.0]))


def test_heaviside_of_nan_is_zero():
    both(lambda m, x, v: m.heaviside(x, v), np.array([np.nan, 0.0, -1.0, 2.0]), np.array([0.5]),
         grad=False)


def test_std_gradient_of_a_constant_slice_is_zero():
    both(lambda m, x: m.std(x, dim=1), np.array([[1.0, 1.0, 1.0], [1.0, 2.0, 4.0]]))
    both(lambda m, x: m.std_mean(x, dim=0)[0], np.array([[2.0, 1.0], [2.0, 3.0]]))


def test_logsumexp_of_ints_max_of_0d_bool_median_of_empty():
    both(lambda m, x: m.logsumexp(x, 0), np.array([1, 2, 3]))
    both(lambda m, x: m.max(x, 0).values, np.array(True))
    both(lambda m, x: m.min(x, 0).values, np.array(False))
    both(lambda m, x: m.median(x), np.zeros(0))
