"""Classic results (``narae.models.experiments``): each test fails if the effect is absent.

Unmarked tests are quick versions (seconds); ``slow`` ones run the documented settings
(each well under a minute).
"""
import numpy as np
import pytest

from narae.models import experiments as E


# 1. perceptron vs MLP on XOR ---------------------------------------------------------------
def test_perceptron_cannot_learn_xor_but_mlp_can():
    r = E.xor()
    assert r["perceptron_and_converged"] and r["perceptron_and_accuracy"] == 1.0
    assert not r["perceptron_xor_converged"]
    assert r["perceptron_xor_accuracy"] <= 0.75
    assert r["mlp_xor_accuracy"] == 1.0


def test_xor_is_deterministic():
    assert E.xor(mlp_steps=50) == E.xor(mlp_steps=50)


# 3. vanishing gradients --------------------------------------------------------------------
def _check_gradient_norms(r):
    sig, relu = r["sigmoid_grad_norms"], r["relu_he_grad_norms"]
    assert len(sig) == len(relu) == 11
    assert r["sigmoid_first_over_last"] < 1e-4               # vanishes towards the input
    assert all(a < b for a, b in zip(sig[:-1], sig[1:]))     # monotonically, layer by layer
    assert 0.1 < r["relu_he_first_over_last"] < 10           # stays of the same order


def test_vanishing_gradients_quick():
    r = E.vanishing_gradients(epochs=3)
    _check_gradient_norms(r)
    assert r["sigmoid_test_accuracy"] < 0.2                  # stuck at chance
    assert r["sigmoid_bn_test_accuracy"] > 0.7               # batch norm trains


@pytest.mark.slow
def test_vanishing_gradients_full():
    r = E.vanishing_gradients()
    _check_gradient_norms(r)
    assert min(r["sigmoid_train_loss"]) > 2.2                # never leaves log(10) = 2.30
    assert r["sigmoid_bn_train_loss"][-1] < 0.5
    assert r["sigmoid_bn_test_accuracy"] > 0.88


# 4. regularisation ------------------------------------------------------------------------
def _check_regularization(r):
    none = r["none"]
    assert none["train_accuracy"] == 1.0 and none["loss_gap"] > 0.3   # it does overfit
    assert r["dropout"]["loss_gap"] < 0.8 * none["loss_gap"]
    assert r["l2"]["loss_gap"] < 0.8 * none["loss_gap"]
    assert r["l1"]["near_zero_fraction"] > 0.3
    assert r["l1"]["near_zero_fraction"] > 5 * r["l2"]["near_zero_fraction"]
    assert r["l1"]["test_accuracy"] > none["test_accuracy"] - 0.03    # sparse, still accurate


def test_regularization_shrinks_gap_and_l1_sparsifies():
    _check_regularization(E.regularization())


@pytest.mark.slow
@pytest.mark.parametrize("seed", [1, 2])
def test_regularization_other_seeds(seed):
    _check_regularization(E.regularization(seed=seed))


# 5. optimisers ----------------------------------------------------------------------------
def test_adaptive_and_momentum_beat_sgd_on_ill_conditioned_problem():
    r = E.optimizer_conditioning(condition=1e3, max_steps=3000)
    sgd = r["sgd"]["steps"]
    assert 500 < sgd <= 3000                                  # SGD does get there, slowly
    for name in ("momentum", "rmsprop", "adam"):
        assert r[name]["steps"] * 5 <= sgd, (name, r)


def test_sgd_slows_down_with_condition_number():
    easy = E.optimizer_conditioning(condition=10, lrs=(1.5, 1.0))["sgd"]["steps"]
    hard = E.optimizer_conditioning(condition=1e3, lrs=(1.5, 1.0))["sgd"]["steps"]
    assert hard > 20 * easy


def test_adagrad_beats_sgd_on_sparse_features():
    r = E.adagrad_sparse()
    assert r["adagrad"]["loss"] < 0.5 * r["sgd"]["loss"]
    assert r["adagrad"]["rare_weight_error"] < 0.25 * r["sgd"]["rare_weight_error"]
    # SGD's difficulty is specific to the rare features
    assert r["sgd"]["rare_weight_error"] > 5 * r["sgd"]["frequent_weight_error"]


# 9. CNN vs MLP, LeNet-5 on digits ----------------------------------------------------------
def test_cnn_beats_mlp_at_equal_budget_quick():
    r = E.cnn_vs_mlp(n_train=300, seeds=(0,))
    assert abs(r["cnn"]["params"] - r["mlp"]["params"]) < 0.01 * r["cnn"]["params"]
    assert r["cnn"]["mean_test_accuracy"] > r["mlp"]["mean_test_accuracy"] + 0.015


@pytest.mark.slow
def test_cnn_beats_mlp_at_equal_budget_full():
    r = E.cnn_vs_mlp()
    cnn, dense = np.array(r["cnn"]["test_accuracy"]), np.array(r["mlp"]["test_accuracy"])
    assert (cnn > dense).sum() >= 2
    assert cnn.mean() > dense.mean() + 0.005


def test_lenet_digits_quick():
    r = E.lenet_digits(epochs=3)
    assert r["params"] == 61_706
    assert r["test_accuracy"] > 0.85


@pytest.mark.slow
def test_lenet_digits_reaches_98_percent():
    assert E.lenet_digits()["test_accuracy"] >= 0.98


def test_random_affine():
    x = np.zeros((4, 1, 7, 7), np.float32)
    x[:, :, 3, 3] = 1
    same = E.random_affine(x, np.random.default_rng(0), degrees=0, scale=0, shift=0)
    np.testing.assert_allclose(same, x, atol=1e-6)                # identity warp
    moved = E.random_affine(x, np.random.default_rng(0), degrees=0, scale=0, shift=0.5)
    assert (moved[:, 0, 3, 3] >= 0.24).all() and not np.allclose(moved, x)
    np.testing.assert_allclose(moved.sum((1, 2, 3)), 1, atol=1e-5)   # bilinear keeps mass
