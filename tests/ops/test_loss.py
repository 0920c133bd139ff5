import warnings

import numpy as np
import pytest
import torch

import narae as nr
from helpers import check, randn, rand, RNG


def F(m):
    return m.nn.functional


def labels(*shape, c, ignore=None, ignore_index=-100):
    t = RNG.integers(0, c, shape).astype(np.int64)
    if ignore is not None:
        t.flat[list(ignore)] = ignore_index
    return t


REDUCTIONS = ["mean", "sum", "none"]


# --- cross_entropy ---------------------------------------------------------------------------
@pytest.mark.parametrize("reduction", REDUCTIONS)
def test_cross_entropy_class_indices(reduction):
    check(lambda m, x, t: F(m).cross_entropy(x, t, reduction=reduction), randn(5, 4),
          labels(5, c=4), double=True)


@pytest.mark.parametrize("reduction", REDUCTIONS)
@pytest.mark.parametrize("smoothing", [0.0, 0.2])
def test_cross_entropy_weight_ignore_smoothing(reduction, smoothing):
    w = rand(4, low=0.2, high=2.0)
    t = labels(6, c=4, ignore=[1, 4])
    check(lambda m, x, t, w: F(m).cross_entropy(x, t, weight=w, reduction=reduction,
                                                label_smoothing=smoothing),
          randn(6, 4), t, w, diff=(0,), double=True)
    check(lambda m, x, t: F(m).cross_entropy(x, t, reduction=reduction,
                                             label_smoothing=smoothing),
          randn(6, 4), t, double=(reduction == "mean"))


def test_cross_entropy_custom_ignore_index():
    t = labels(7, c=3)
    t[[0, 3]] = 2
    check(lambda m, x, t: F(m).cross_entropy(x, t, ignore_index=2, label_smoothing=0.1),
          randn(7, 3), t)


@pytest.mark.parametrize("shape", [(2, 3, 4), (2, 4, 2, 3)])
@pytest.mark.parametrize("reduction", ["mean", "none"])
def test_cross_entropy_nd(shape, reduction):
    tshape = (shape[0],) + shape[2:]
    w = rand(shape[1], low=0.5)
    check(lambda m, x, t, w: F(m).cross_entropy(x, t, w, ignore_index=-100, reduction=reduction,
                                                label_smoothing=0.1),
          randn(*shape), labels(*tshape, c=shape[1], ignore=[0]), w, diff=(0,), double=True)


def test_cross_entropy_unbatched():
    check(lambda m, x, t: F(m).cross_entropy(x, t), randn(5), np.array(3, dtype=np.int64),
          double=True)
    check(lambda m, x, t: F(m).cross_entropy(x, t, reduction="none", label_smoothing=0.3),
          randn(5), np.array(0, dtype=np.int64))


@pytest.mark.parametrize("reduction", REDUCTIONS)
@pytest.mark.parametrize("smoothing", [0.0, 0.25])
def test_cross_entropy_probability_targets(reduction, smoothing):
    p = rand(4, 3)
    p /= p.sum(1, keepdims=True)
    w = rand(3, low=0.5)
    # the target is differentiable too (as in torch)
    check(lambda m, x, p: F(m).cross_entropy(x, p, reduction=reduction,
                                             label_smoothing=smoothing),
          randn(4, 3), p, double=True)
    check(lambda m, x, p, w: F(m).cross_entropy(x, p, w, reduction=reduction,
                                                label_smoothing=smoothing),
          randn(4, 3), p, w, diff=(0, 1))


def test_cross_entropy_probability_targets_nd():
    p = rand(2, 3, 4)
    p /= p.sum(1, keepdims=True)
    check(lambda m, x, p: F(m).cross_entropy(x, p), randn(2, 3, 4), p, double=True)


def test_cross_entropy_large_logits_stable():
    x = nr.tensor([[1000.0, -1000.0, 0.0]], requires_grad=True)
    loss = F(nr).cross_entropy(x, nr.tensor([1]))
    loss.backward()
    assert np.isfinite(loss.item()) and np.isfinite(x.grad.numpy()).all()
    np.testing.assert_allclose(loss.item(), 2000.0, rtol=1e-6)


def test_cross_entropy_all_ignored_is_nan_like_torch():
    x = randn(2, 3).astype(np.float32)
    t = np.array([-100, -100])
    with warnings.catch_warnings():
        warnings.simplefilter("ignore")
        ours = F(nr).cross_entropy(nr.tensor(x), nr.tensor(t)).item()
    assert np.isnan(ours) and np.isnan(F(torch).cross_entropy(torch.tensor(x),
                                                              torch.tensor(t)).item())


def test_cross_entropy_errors():
    x = nr.randn(3, 5)
    with pytest.raises(IndexError, match=r"target class 7 .* 5 classes"):
        F(nr).cross_entropy(x, nr.tensor([0, 7, 1]))
    with pytest.raises(IndexError, match=r"target class -3 .* 5 classes"):
        F(nr).cross_entropy(x, nr.tensor([0, -3, 1]))
    with pytest.raises(TypeError, match=r"integer dtype.*float32"):
        F(nr).cross_entropy(x, nr.tensor([0.0, 1.0, 2.0]))
    with pytest.raises(RuntimeError, match=r"\(4,\).*\(3, 5\)"):
        F(nr).cross_entropy(x, nr.tensor([0, 1, 2, 3]))
    with pytest.raises(ValueError, match=r"\(3, 2\).*\(3, 5\)"):
        F(nr).cross_entropy(x, nr.tensor([[0, 1], [1, 1], [2, 2]]))
    with pytest.raises(RuntimeError, match=r"weight of shape \(4,\)"):
        F(nr).cross_entropy(x, nr.tensor([0, 1, 2]), weight=nr.ones(4))
    with pytest.raises(ValueError, match="reduction"):
        F(nr).cross_entropy(x, nr.tensor([0, 1, 2]), reduction="avg")
    with pytest.raises(ValueError, match="ignore_index"):
        F(nr).cross_entropy(x, nr.randn(3, 5), ignore_index=1)


def test_legacy_size_average_reduce():
    x, t = randn(4, 3), labels(4, c=3)
    with warnings.catch_warnings():
        warnings.simplefilter("ignore")
        for kw in [dict(size_average=False), dict(reduce=False), dict(size_average=True)]:
            check(lambda m, x, t: F(m).cross_entropy(x, t, **kw), x, t, gradcheck=False)


# --- nll_loss --------------------------------------------------------------------------------
@pytest.mark.parametrize("reduction", REDUCTIONS)
def test_nll_loss(reduction):
    w = rand(4, low=0.3)
    t = labels(5, c=4, ignore=[2])
    # linear in x: the gradient is constant (no double-backward check)
    check(lambda m, x, t, w: F(m).nll_loss(x, t, w, reduction=reduction), randn(5, 4), t, w,
          diff=(0,))
    check(lambda m, x, t: F(m).nll_loss(m.log_softmax(x, 1), t, ignore_index=1,
                                        reduction=reduction),
          randn(2, 4, 3), labels(2, 3, c=4))


def test_nll_loss_errors():
    with pytest.raises(IndexError, match=r"target class 4 .* 4 classes"):
        F(nr).nll_loss(nr.randn(2, 4), nr.tensor([4, 0]))
    with pytest.raises(TypeError, match="integer"):
        F(nr).nll_loss(nr.randn(2, 4), nr.tensor([1.0, 0.0]))


# --- regression losses -----------------------------------------------------------------------
@pytest.mark.parametrize("reduction", REDUCTIONS)
def test_mse_l1(reduction):
    check(lambda m, x, y: F(m).mse_loss(x, y, reduction=reduction), randn(3, 4), randn(3, 4),
          double=True)
    check(lambda m, x, y: F(m).l1_loss(x, y, reduction=reduction), randn(3, 4), randn(3, 4))
    w = rand(3, 4, low=0.1)
    check(lambda m, x, y, w: F(m).mse_loss(x, y, reduction=reduction, weight=w), randn(3, 4),
          randn(3, 4), w, double=True)
    check(lambda m, x, y, w: F(m).l1_loss(x, y, reduction=reduction, weight=w), randn(3, 4),
          randn(3, 4), w)


def test_mse_broadcast_warns():
    with pytest.warns(UserWarning, match="target size"):
        F(nr).mse_loss(nr.randn(3, 4), nr.randn(4))
    with pytest.raises(ValueError, match="Weights and input"):
        F(nr).mse_loss(nr.randn(3, 4), nr.randn(3, 4), weight=nr.ones(4))


@pytest.mark.parametrize("beta", [1.0, 0.5, 0.0])
@pytest.mark.parametrize("reduction", REDUCTIONS)
def test_smooth_l1(beta, reduction):
    check(lambda m, x, y: F(m).smooth_l1_loss(x, y, reduction=reduction, beta=beta),
          randn(4, 3), randn(4, 3))


@pytest.mark.parametrize("delta", [1.0, 0.3, 2.0])
@pytest.mark.parametrize("reduction", REDUCTIONS)
def test_huber(delta, reduction):
    check(lambda m, x, y: F(m).huber_loss(x, y, reduction=reduction, delta=delta),
          randn(4, 3), randn(4, 3))
    w = rand(4, 3)
    check(lambda m, x, y, w: F(m).huber_loss(x, y, reduction, delta, w), randn(4, 3),
          randn(4, 3), w, diff=(0, 1))


# --- binary ----------------------------------------------------------------------------------
@pytest.mark.parametrize("reduction", REDUCTIONS)
def test_binary_cross_entropy(reduction):
    x, t, w = rand(3, 4, low=0.05, high=0.95), rand(3, 4), rand(3, 4)
    check(lambda m, x, t: F(m).binary_cross_entropy(x, t, reduction=reduction), x, t,
          double=True)
    check(lambda m, x, t, w: F(m).binary_cross_entropy(x, t, w, reduction=reduction), x, t, w,
          diff=(0,))


def test_binary_cross_entropy_clamps_log():
    x = np.array([0.0, 1.0, 0.5, 1e-30], dtype=np.float32)
    t = np.array([1.0, 0.0, 1.0, 0.0], dtype=np.float32)
    check(lambda m, x, t: F(m).binary_cross_entropy(x, t, reduction="none"), x, t, diff=(0,),
          gradcheck=False)


def test_binary_cross_entropy_errors():
    with pytest.raises(RuntimeError, match="between 0 and 1"):
        F(nr).binary_cross_entropy(nr.tensor([1.5]), nr.tensor([1.0]))
    with pytest.raises(ValueError, match=r"\(3,\).*\(2,\)"):
        F(nr).binary_cross_entropy(nr.rand(2), nr.rand(3))


@pytest.mark.parametrize("reduction", REDUCTIONS)
def test_bce_with_logits(reduction):
    x, t = randn(4, 3) * 3, rand(4, 3)
    check(lambda m, x, t: F(m).binary_cross_entropy_with_logits(x, t, reduction=reduction),
          x, t, double=True)
    pw, w = rand(3, low=0.5, high=3.0), rand(4, 3)
    check(lambda m, x, t, w, pw: F(m).binary_cross_entropy_with_logits(
        x, t, w, reduction=reduction, pos_weight=pw), x, t, w, pw, diff=(0, 1), double=True)


def test_bce_with_logits_stable_at_large_logits():
    x = np.array([-200.0, -50.0, 0.0, 50.0, 200.0], dtype=np.float32)
    t = np.array([1.0, 0.0, 1.0, 1.0, 0.0], dtype=np.float32)
    check(lambda m, x, t: F(m).binary_cross_entropy_with_logits(x, t, reduction="none"), x, t,
          diff=(0,), gradcheck=False)
    with pytest.raises(ValueError, match=r"\(3,\).*\(2,\)"):
        F(nr).binary_cross_entropy_with_logits(nr.randn(2), nr.rand(3))


@pytest.mark.parametrize("reduction", REDUCTIONS)
def test_soft_margin(reduction):
    t = np.sign(randn(3, 4))
    check(lambda m, x, t: F(m).soft_margin_loss(x, t, reduction=reduction), randn(3, 4) * 3, t,
          diff=(0,))


# --- kl_div ----------------------------------------------------------------------------------
@pytest.mark.parametrize("reduction", ["mean", "sum", "none", "batchmean"])
@pytest.mark.parametrize("log_target", [False, True])
def test_kl_div(reduction, log_target):
    p = rand(3, 4, low=0.05)
    p /= p.sum(1, keepdims=True)
    target = np.log(p) if log_target else p
    with warnings.catch_warnings():
        warnings.simplefilter("ignore")  # torch warns about 'mean'
        check(lambda m, x, t: F(m).kl_div(x, t, reduction=reduction, log_target=log_target),
              np.log(rand(3, 4, low=0.1)), target)


def test_kl_div_zero_target():
    t = np.array([[0.0, 0.5, 0.5]])
    check(lambda m, x, t: F(m).kl_div(x, t, reduction="batchmean"), randn(1, 3), t, diff=(0,))


# --- margin / embedding losses ---------------------------------------------------------------
@pytest.mark.parametrize("reduction", REDUCTIONS)
def test_hinge_embedding(reduction):
    t = np.sign(randn(3, 4))
    check(lambda m, x, t: F(m).hinge_embedding_loss(x, t, margin=0.7, reduction=reduction),
          randn(3, 4), t, diff=(0,))


@pytest.mark.parametrize("p", [1, 2])
@pytest.mark.parametrize("reduction", REDUCTIONS)
def test_multi_margin(p, reduction):
    w = rand(5, low=0.2)
    check(lambda m, x, t: F(m).multi_margin_loss(x, t, p=p, margin=0.8, reduction=reduction),
          randn(4, 5), labels(4, c=5))
    check(lambda m, x, t, w: F(m).multi_margin_loss(x, t, p, 1.0, w, reduction=reduction),
          randn(4, 5), labels(4, c=5), w, diff=(0,))
    check(lambda m, x, t: F(m).multi_margin_loss(x, t, p=p, reduction=reduction), randn(5),
          np.array(2))


@pytest.mark.parametrize("reduction", REDUCTIONS)
def test_margin_ranking(reduction):
    t = np.sign(randn(6))
    check(lambda m, a, b, t: F(m).margin_ranking_loss(a, b, t, margin=0.3, reduction=reduction),
          randn(6), randn(6), t, diff=(0, 1))


@pytest.mark.parametrize("reduction", REDUCTIONS)
def test_cosine_embedding(reduction):
    t = np.array([1.0, -1.0, 1.0, -1.0])
    check(lambda m, a, b, t: F(m).cosine_embedding_loss(a, b, t, margin=0.1, reduction=reduction),
          randn(4, 3), randn(4, 3), t, diff=(0, 1))
    check(lambda m, a, b, t: F(m).cosine_embedding_loss(a, b, t), randn(3), randn(3),
          np.array(-1.0), diff=(0, 1))


@pytest.mark.parametrize("swap", [False, True])
@pytest.mark.parametrize("p", [2, 1])
def test_triplet_margin(swap, p):
    check(lambda m, a, b, c: F(m).triplet_margin_loss(a, b, c, margin=2.0, p=p, swap=swap),
          randn(4, 3), randn(4, 3), randn(4, 3))


# --- likelihood losses -----------------------------------------------------------------------
@pytest.mark.parametrize("log_input", [True, False])
@pytest.mark.parametrize("full", [False, True])
def test_poisson_nll(log_input, full):
    x = randn(3, 4) if log_input else rand(3, 4, low=0.2, high=3.0)
    t = np.floor(rand(3, 4, high=5.0))
    check(lambda m, x, t: F(m).poisson_nll_loss(x, t, log_input=log_input, full=full), x, t,
          diff=(0,))


@pytest.mark.parametrize("var_shape", [(4, 3), (4,), (4, 1)])
@pytest.mark.parametrize("full", [False, True])
def test_gaussian_nll(var_shape, full):
    var = rand(*var_shape, low=0.2, high=2.0)
    var.flat[0] = 1e-8  # clamped to eps; the gradient still flows (as torch's)
    check(lambda m, x, t, v: F(m).gaussian_nll_loss(x, t, v, full=full), randn(4, 3),
          randn(4, 3), var, gradcheck=False)
    check(lambda m, x, t, v: F(m).gaussian_nll_loss(x, t, v, full=full, reduction="sum"),
          randn(4, 3), randn(4, 3), rand(*var_shape, low=0.5))


def test_gaussian_nll_errors():
    with pytest.raises(ValueError, match="var"):
        F(nr).gaussian_nll_loss(nr.randn(4, 3), nr.randn(4, 3), nr.ones(3, 4))
    with pytest.raises(ValueError, match="negative"):
        F(nr).gaussian_nll_loss(nr.randn(4, 3), nr.randn(4, 3), -nr.ones(4, 3))


@pytest.mark.parametrize("reduction", REDUCTIONS)
def test_multilabel_soft_margin(reduction):
    t = (rand(3, 4) > 0.5).astype(np.float64)
    check(lambda m, x, t: F(m).multilabel_soft_margin_loss(x, t, reduction=reduction),
          randn(3, 4) * 2, t, diff=(0,))
    check(lambda m, x, t, w: F(m).multilabel_soft_margin_loss(x, t, w, reduction=reduction),
          randn(3, 4), t, rand(4), diff=(0,))


@pytest.mark.parametrize("reduction", REDUCTIONS)
def test_multilabel_margin(reduction):
    t = np.array([[3, 0, -1, 1], [1, 2, 3, 0], [-1, 1, 1, 1], [2, 2, -1, 0]])
    check(lambda m, x, t: F(m).multilabel_margin_loss(x, t, reduction=reduction), randn(4, 4), t)
    check(lambda m, x, t: F(m).multilabel_margin_loss(x, t, reduction=reduction), randn(4),
          np.array([2, 0, -1, 3]))
