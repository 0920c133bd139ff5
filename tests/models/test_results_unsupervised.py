"""The unsupervised/generative results on real digits: each test fails if the effect is absent.

Unmarked tests are small versions that run in seconds; ``slow`` ones are the full
experiments (each well under a minute on an idle machine).
"""
import os

import numpy as np
import pytest

from narae.models import unsupervised_experiments as E


def _assert_digit_like(q, ratio, margin=0.05):
    """Closer to real digits than pixel-shuffled digits are, and recognised as digits."""
    assert q["nn_ratio"] < ratio, q
    assert q["confidence"] > q["noise_confidence"] + margin, q


# -- 2. linear autoencoder = PCA -----------------------------------------------------------
def test_linear_autoencoder_learns_the_pca_subspace():
    r = E.linear_autoencoder_pca(k=3, n=600)
    assert r["angles_deg"].max() < 1.0, r["angles_deg"]
    assert r["ae_mse"] == pytest.approx(r["pca_mse"], rel=1e-3)


def test_principal_angles_detect_a_different_subspace():
    a = np.eye(6)[:, :2]
    assert E.principal_angles(a, a[:, ::-1] * 3).max() < 1e-6
    np.testing.assert_allclose(E.principal_angles(a, np.eye(6)[:, 1:3]), [0.0, 90.0],
                               atol=1e-6)


def test_sample_quality_separates_real_digits_from_shuffled_pixels():
    real, _ = E.digits_flat(False)
    q = E.sample_quality(real[:100])
    _assert_digit_like(q, 0.6)
    shuffled = E.sample_quality(E.pixel_shuffled(real[:100], seed=1))
    assert shuffled["nn_ratio"] > 0.9


# -- 6. RBM and DBN ------------------------------------------------------------------------
def test_rbm_reconstruction_error_falls_quick():
    r = E.rbm_digits(n_hidden=64, epochs=3, n_samples=50, sample_steps=50)
    assert r["errors"][-1] < 0.6 * r["errors"][0]
    assert r["quality"]["nn_ratio"] < 0.9


@pytest.mark.slow
def test_rbm_cd1_digits_samples_look_like_digits(tmp_path):
    r = E.rbm_digits(epochs=20, out_dir=str(tmp_path))
    errors = r["errors"]
    assert errors[-1] < 0.3 * errors[0]
    assert sum(b > a for a, b in zip(errors, errors[1:])) <= 2   # falls (almost) every epoch
    _assert_digit_like(r["quality"], 0.7, margin=0.03)   # seeds 0-2: ratio 0.61-0.64
    assert r["quality"]["n_classes"] >= 7
    assert os.path.getsize(r["grid"]) > 0 and os.path.getsize(r["filters"]) > 0


def test_dbn_quick():
    r = E.dbn_digits(sizes=(64, 64), pretrain_epochs=2, finetune_epochs=5)
    assert r["test_accuracy"] > 0.85
    assert r["pretrain_errors"][0][-1] < r["pretrain_errors"][0][0]


@pytest.mark.slow
def test_dbn_pretraining_then_fine_tuning_reaches_95_percent():
    r = E.dbn_digits()
    assert r["test_accuracy"] >= 0.95, r["test_accuracy"]


# -- 7. denoising autoencoder and VAE ------------------------------------------------------
def test_denoising_autoencoder_beats_the_corrupted_input():
    r = E.denoising_digits(epochs=20)
    assert r["mse_denoised"] < 0.5 * r["mse_corrupted"], r


def test_denoising_autoencoder_gaussian_noise():
    r = E.denoising_digits(noise="gaussian", level=0.3, epochs=15)
    assert r["mse_denoised"] < 0.5 * r["mse_corrupted"], r


def test_vae_quick():
    r = E.vae_digits(epochs=8, n_samples=50)
    assert r["history"][-1] < r["history"][0]
    assert r["quality"]["nn_ratio"] < 0.85


@pytest.mark.slow
def test_vae_samples_and_interpolations_are_digit_like(tmp_path):
    r = E.vae_digits(out_dir=str(tmp_path))
    _assert_digit_like(r["quality"], 0.65)
    _assert_digit_like(r["interp_quality"], 0.65)
    assert r["quality"]["n_classes"] >= 8
    for p in (r["grid"], r["interp_grid"]):
        assert open(p, "rb").read(8) == b"\x89PNG\r\n\x1a\n"


# -- 8. GANs -------------------------------------------------------------------------------
def test_mlp_gan_quick_stays_balanced():
    r = E.gan_digits(kind="mlp", epochs=4, n_samples=50)
    b = r["balance"]
    assert b["collapsed_fraction"] < 0.05, b
    assert 0.2 < b["d_loss"] < 3.0, b


@pytest.mark.slow
def test_dcgan_digits_balanced_and_digit_like(tmp_path):
    r = E.gan_digits(kind="dcgan", out_dir=str(tmp_path))
    b = r["balance"]
    assert b["collapsed_fraction"] < 0.05, b           # neither loss sits at ~0
    assert 0.1 < b["d_loss"] < 2.0 and 0.3 < b["g_loss"] < 5.0, b
    assert b["d_fake"] > 0.03, b                          # D never rejects every fake
    _assert_digit_like(r["quality"], 0.8)
    assert r["quality"]["n_classes"] >= 7                 # no mode collapse
    grids = sorted(os.listdir(os.path.join(tmp_path, "dcgan_epochs")))
    assert len(grids) == len(r["history"]["grids"]) > 1
