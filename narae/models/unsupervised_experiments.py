"""Result experiments for the unsupervised and generative models, each a function returning
a dict of numbers (and, with ``out_dir``, PNG grids), sized to run in well under a minute.

    linear_autoencoder_pca   linear AE with a k-unit bottleneck finds PCA's top-k subspace
    rbm_digits               CD-1 RBM on binarised digits: reconstruction error falls,
                             Gibbs samples look like digits
    dbn_digits               DBN pre-training + fine-tuning classifies digits (>= 95%)
    denoising_digits         a denoising AE's output is closer to the clean digit than its
                             corrupted input
    vae_digits               VAE samples and latent interpolations are digit-like
    gan_digits               DCGAN (or MLP GAN): balanced losses, digit-like samples

"Digit-like" is measured two ways (``sample_quality``): the mean distance from each sample
to its nearest real training digit, against the same for images whose pixels are drawn
independently from the data's per-pixel marginals (matching first-order statistics, no
shape); and the confidence and label diversity of a classifier trained on real digits.
"""
import functools
import os

import numpy as np

import narae as nr

from .. import nn
from ..nn import functional as F
from .autoencoder import (DenoisingAutoencoder, LinearAutoencoder, corrupt, minibatches,
                          train_autoencoder)
from .dbn import DBN
from .gan import GAN, DCGANDiscriminator, DCGANGenerator, MLPDiscriminator, MLPGenerator
from .rbm import BernoulliRBM
from .vae import VAE, train_vae

__all__ = ["digits_flat", "principal_angles", "sample_quality", "pixel_shuffled",
           "linear_autoencoder_pca", "rbm_digits", "dbn_digits", "denoising_digits",
           "vae_digits", "gan_digits"]


# -- data and measures ----------------------------------------------------------------------
def digits_flat(train=True):
    """scikit-learn's digits as (N, 64) float32 Tensor in [0, 1] and (N,) labels."""
    from ..datasets import Digits
    x, y = Digits(train=train).tensors()
    return x.reshape(x.shape[0], 64), y


def _np(t):
    return t.detach().cpu().numpy().astype(np.float64) if isinstance(t, nr.Tensor) \
        else np.asarray(t, np.float64)


def principal_angles(a, b):
    """Principal angles (degrees, ascending) between the column spaces of ``a`` and ``b``:
    arccos of the singular values of Qa^T Qb for orthonormal bases Qa, Qb."""
    qa, _ = np.linalg.qr(_np(a))
    qb, _ = np.linalg.qr(_np(b))
    s = np.clip(np.linalg.svd(qa.T @ qb, compute_uv=False), -1.0, 1.0)
    return np.sort(np.degrees(np.arccos(s)))


def pixel_shuffled(x, seed=0):
    """Each pixel column permuted independently across images: the per-pixel marginals of
    ``x`` with every spatial correlation (i.e. the shape of a digit) destroyed."""
    a = _np(x).reshape(len(x), -1).copy()
    rng = np.random.default_rng(seed)
    for j in range(a.shape[1]):
        a[:, j] = a[rng.permutation(len(a)), j]
    return a


def _nn_distance(samples, reference):
    """Mean Euclidean distance from each sample to its nearest reference row."""
    s, r = _np(samples).reshape(len(samples), -1), _np(reference).reshape(len(reference), -1)
    d2 = (s * s).sum(1)[:, None] - 2 * s @ r.T + (r * r).sum(1)[None]
    return float(np.sqrt(np.maximum(d2.min(1), 0)).mean())


@functools.lru_cache(maxsize=2)
def _digit_classifier(binary):
    """A small MLP classifier of real training digits (optionally binarised),
    trained with its own generator so it never disturbs the caller's random stream."""
    state = nr.get_rng_state()
    nr.manual_seed(1234)
    x, y = digits_flat(True)
    if binary:
        x = (x > 0.5).float()
    clf = nn.Sequential(nn.Linear(64, 64), nn.ReLU(), nn.Linear(64, 10))
    opt = nr.optim.Adam(clf.parameters(), lr=3e-3)
    for _ in range(40):
        for idx in minibatches(x.shape[0], 64):
            loss = F.cross_entropy(clf(x[idx]), y[idx])
            opt.zero_grad()
            loss.backward()
            opt.step()
    clf.eval()
    nr.set_rng_state(state)
    return clf


def sample_quality(samples, binary=False):
    """Digit-likeness of ``samples`` ((N, 64) or (N, 1, 8, 8), values in [0, 1]).

    Returns ``nn_dist`` (mean distance to the nearest training digit), ``noise_nn_dist``
    (the same for as many pixel-shuffled digits), ``real_nn_dist`` (for real test digits:
    the ideal), their ratio ``nn_ratio`` = nn_dist / noise_nn_dist, and from a classifier
    trained on real digits ``confidence`` (mean max-probability), ``noise_confidence`` and
    ``n_classes`` (distinct predicted labels: low means mode collapse).
    """
    s = _np(samples).reshape(len(samples), 64)
    train_x = _np(digits_flat(True)[0])
    test_x = _np(digits_flat(False)[0])
    if binary:
        train_x, test_x = (train_x > 0.5).astype(float), (test_x > 0.5).astype(float)
    noise = pixel_shuffled(train_x)[:len(s)]
    clf = _digit_classifier(binary)
    with nr.no_grad():
        probs = clf(nr.tensor(s, dtype=nr.float32)).softmax(1).numpy()
        noise_probs = clf(nr.tensor(noise, dtype=nr.float32)).softmax(1).numpy()
    nn_dist = _nn_distance(s, train_x)
    noise_dist = _nn_distance(noise, train_x)
    return {"nn_dist": nn_dist, "noise_nn_dist": noise_dist,
            "real_nn_dist": _nn_distance(test_x[:len(s)], train_x),
            "nn_ratio": nn_dist / noise_dist,
            "confidence": float(probs.max(1).mean()),
            "noise_confidence": float(noise_probs.max(1).mean()),
            "n_classes": int(len(np.unique(probs.argmax(1))))}


def _save(out_dir, name, images, **kwargs):
    if out_dir is None:
        return None
    from ..plotting import save_image
    return save_image(images, os.path.join(out_dir, name), **kwargs)


# -- 2. linear autoencoder = PCA subspace ---------------------------------------------------
def linear_autoencoder_pca(k=4, steps=60, n=None, seed=0):
    """Train a linear autoencoder (64 -> k -> 64, MSE) full-batch with L-BFGS on centred
    digits; compare the decoder's column space with the top-k right singular vectors of the
    data. Returns the principal angles (degrees) and both reconstruction errors (equal at
    the optimum: PCA's is the minimum any rank-k linear map can reach)."""
    nr.manual_seed(seed)
    x, _ = digits_flat(True)
    if n is not None:
        x = x[:n]
    x = x.double()
    x = x - x.mean(0)
    ae = LinearAutoencoder(64, k, bias=False).double()
    opt = nr.optim.LBFGS(ae.parameters(), lr=1, max_iter=steps, history_size=20,
                         line_search_fn="strong_wolfe")

    def closure():
        opt.zero_grad()
        loss = ae.loss(x)
        loss.backward()
        return loss
    for _ in range(10):
        opt.step(closure)
    xn = _np(x)
    _, _, vt = np.linalg.svd(xn, full_matrices=False)
    pcs = vt[:k].T
    pca_mse = float(((xn - xn @ pcs @ pcs.T) ** 2).mean())
    with nr.no_grad():
        ae_mse = float(ae.loss(x).item())
    return {"angles_deg": principal_angles(ae.subspace(), pcs), "ae_mse": ae_mse,
            "pca_mse": pca_mse, "k": k}


# -- 6. RBM and DBN on digits ------------------------------------------------------------------
def rbm_digits(n_hidden=100, epochs=20, k=1, persistent=False, lr=0.05, batch_size=20,
               n_samples=100, sample_steps=500, seed=0, out_dir=None):
    """CD-k RBM on binarised digits. Returns reconstruction errors per epoch, Gibbs samples
    (mean of p(v|h) after ``sample_steps`` steps from random states) and their quality."""
    nr.manual_seed(seed)
    x, _ = digits_flat(True)
    v = (x > 0.5).float()
    rbm = BernoulliRBM(64, n_hidden)
    errors = rbm.fit(v, epochs=epochs, batch_size=batch_size, lr=lr, k=k,
                     persistent=persistent)
    _, samples = rbm.sample(n_samples, steps=sample_steps)
    out = {"errors": errors, "samples": samples,
           "quality": sample_quality(samples, binary=True), "model": rbm}
    out["grid"] = _save(out_dir, "rbm_samples.png", samples)
    if out_dir is not None:
        from ..plotting import save_image
        out["filters"] = save_image(rbm.W.detach().T, os.path.join(out_dir, "rbm_filters.png"),
                                    nrow=10, per_image=True)
    return out


def dbn_digits(sizes=(64, 256), pretrain_epochs=30, finetune_epochs=30, lr=0.05,
               finetune_lr=3e-3, batch_size=16, dropout=0.0, input_dropout=0.0, seed=0,
               pretrain=True):
    """DBN on digits (pixel intensities as Bernoulli probabilities): greedy CD-1
    pre-training, then backprop fine-tuning of the unrolled MLP (Adam, cosine-annealed).
    Returns the test accuracy and the pre-training reconstruction errors.

    On this split (the last 359 digits: harder than a shuffled split, where scikit-learn's
    RBF SVC gets 94.2%) the pre-trained net reaches 95.8-96.1% over seeds 0-7; the same
    MLP fine-tuned from the RBMs' small random initialisation (``pretrain=False``)
    95.3-95.8% over seeds 3-7."""
    nr.manual_seed(seed)
    x, y = digits_flat(True)
    xt, yt = digits_flat(False)
    dbn = DBN(list(sizes))
    histories = dbn.pretrain(x, epochs=pretrain_epochs, lr=lr,
                             batch_size=batch_size) if pretrain else []
    mlp, losses = dbn.fine_tune(x, y, 10, epochs=finetune_epochs, lr=finetune_lr,
                                batch_size=batch_size, dropout=dropout,
                                input_dropout=input_dropout)
    mlp.eval()
    with nr.no_grad():
        acc = float((mlp(xt).argmax(1) == yt).float().mean().item())
    return {"test_accuracy": acc, "pretrain_errors": histories, "finetune_losses": losses}


# -- 7. denoising autoencoder and VAE --------------------------------------------------------
def denoising_digits(noise="mask", level=0.5, hidden=(128,), epochs=40, seed=0,
                     out_dir=None):
    """Train a denoising autoencoder; on test digits corrupted the same way, compare the MSE
    to the clean digit of (a) the corrupted input and (b) the reconstruction."""
    nr.manual_seed(seed)
    x, _ = digits_flat(True)
    xt, _ = digits_flat(False)
    dae = DenoisingAutoencoder(64, list(hidden), noise=noise, noise_level=level,
                               activation="relu", loss="bce")
    history = train_autoencoder(dae, x, epochs=epochs, batch_size=32, lr=2e-3)
    dae.eval()
    with nr.no_grad():
        noisy = corrupt(xt, noise, level)
        den = dae(noisy)
        mse_noisy = float(F.mse_loss(noisy, xt).item())
        mse_den = float(F.mse_loss(den, xt).item())
    out = {"mse_corrupted": mse_noisy, "mse_denoised": mse_den, "history": history,
           "examples": (xt[:10], noisy[:10].clamp(0, 1), den[:10])}
    if out_dir is not None:
        rows = nr.cat([xt[:10], noisy[:10].clamp(0, 1), den[:10]], 0)
        out["grid"] = _save(out_dir, "denoising.png", rows, nrow=10)
    return out


def vae_digits(latent_dim=4, hidden=(128,), epochs=60, n_samples=100, seed=0,
               out_dir=None):
    """Train a VAE; measure the quality of prior samples and of the images along latent
    interpolations between test digits of different classes (each path's 8 frames)."""
    nr.manual_seed(seed)
    x, _ = digits_flat(True)
    xt, yt = digits_flat(False)
    vae = VAE(64, list(hidden), latent_dim)
    history = train_vae(vae, x, epochs=epochs, batch_size=32, lr=2e-3)
    vae.eval()
    samples = vae.sample(n_samples)
    yt_np = yt.numpy()
    paths = []
    for a, b in [(0, 1), (3, 8), (4, 7), (2, 5), (6, 9)]:
        i, j = int(np.flatnonzero(yt_np == a)[0]), int(np.flatnonzero(yt_np == b)[0])
        paths.append(vae.interpolate(xt[i], xt[j], steps=8))
    interp = nr.cat(paths, 0)
    out = {"history": history, "samples": samples, "interpolations": interp,
           "quality": sample_quality(samples), "interp_quality": sample_quality(interp)}
    out["grid"] = _save(out_dir, "vae_samples.png", samples, nrow=10)
    out["interp_grid"] = _save(out_dir, "vae_interpolations.png", interp, nrow=8)
    return out


# -- 8. GANs ----------------------------------------------------------------------------------
def gan_digits(kind="dcgan", epochs=25, latent_dim=16, width=32, batch_size=64,
               loss="non_saturating", n_samples=100, seed=0, out_dir=None):
    """Train a DCGAN (or an MLP GAN, ``kind="mlp"``) on digits, saving a fixed-noise grid
    each epoch in ``out_dir``. ``balance`` reports the last half of training: the mean
    losses and the fraction of steps where either loss fell below 0.05 (a player winning
    outright, the sign of a collapsed game)."""
    nr.manual_seed(seed)
    x, _ = digits_flat(True)
    if kind == "dcgan":
        model = GAN(DCGANGenerator(latent_dim, width), DCGANDiscriminator(1, width), loss)
        data = x.reshape(-1, 1, 8, 8)
    elif kind == "mlp":
        model = GAN(MLPGenerator(latent_dim, (width * 4,), 64),
                    MLPDiscriminator(64, (width * 4,)), loss)
        data = x
    else:
        raise ValueError(f"gan_digits: kind must be 'dcgan' or 'mlp', got {kind!r}")
    sample_dir = None if out_dir is None else os.path.join(out_dir, f"{kind}_epochs")
    hist = model.fit(data, epochs=epochs, batch_size=batch_size, sample_dir=sample_dir)
    half = len(hist["d_loss"]) // 2
    d, g = np.array(hist["d_loss"][half:]), np.array(hist["g_loss"][half:])
    balance = {"d_loss": float(d.mean()), "g_loss": float(g.mean()),
               "collapsed_fraction": float(((d < 0.05) | (np.abs(g) < 0.05)).mean()),
               "d_real": float(np.mean(hist["d_real"][half:])),
               "d_fake": float(np.mean(hist["d_fake"][half:]))}
    samples = model.sample(n_samples)
    out = {"history": hist, "balance": balance, "samples": samples,
           "quality": sample_quality(samples)}
    out["grid"] = _save(out_dir, f"{kind}_samples.png", samples, nrow=10)
    return out
