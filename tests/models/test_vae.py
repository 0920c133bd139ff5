"""VAE: the KL term against its closed form and torch, the reparameterisation's gradient."""
import numpy as np
import pytest
import torch

import narae as nr
from narae.models.vae import VAE, kl_normal, reparameterize, train_vae


def test_kl_matches_closed_form_and_torch():
    rng = np.random.default_rng(0)
    mu, logvar = rng.normal(size=(5, 3)), rng.normal(size=(5, 3))
    ours = kl_normal(nr.tensor(mu), nr.tensor(logvar)).numpy()
    var = np.exp(logvar)
    closed = 0.5 * np.sum(var + mu ** 2 - 1 - logvar, axis=1)
    np.testing.assert_allclose(ours, closed, rtol=1e-12)
    q = torch.distributions.Normal(torch.tensor(mu), torch.tensor(np.exp(logvar / 2)))
    p = torch.distributions.Normal(torch.zeros(5, 3, dtype=torch.float64),
                                   torch.ones(5, 3, dtype=torch.float64))
    np.testing.assert_allclose(ours, torch.distributions.kl_divergence(q, p).sum(1).numpy(),
                               rtol=1e-10)


def test_kl_monte_carlo():
    mu, logvar = nr.tensor([[0.5, -1.0]]), nr.tensor([[-0.3, 0.4]])
    z = reparameterize(mu.expand(200000, 2), logvar.expand(200000, 2)).numpy()
    m, lv = mu.numpy(), logvar.numpy()
    log_q = -0.5 * (((z - m) ** 2) / np.exp(lv) + lv + np.log(2 * np.pi)).sum(1)
    log_p = -0.5 * (z ** 2 + np.log(2 * np.pi)).sum(1)
    assert (log_q - log_p).mean() == pytest.approx(kl_normal(mu, logvar).item(), abs=0.02)


def test_kl_gradient_gradcheck():
    mu = nr.randn(3, 2, dtype=nr.float64, requires_grad=True)
    lv = nr.randn(3, 2, dtype=nr.float64, requires_grad=True)
    assert nr.autograd.gradcheck(lambda a, b: kl_normal(a, b), [mu, lv])


def test_reparameterised_gradient_flows():
    mu = nr.randn(4, 3, requires_grad=True)
    logvar = nr.randn(4, 3, requires_grad=True)
    nr.manual_seed(3)
    z = reparameterize(mu, logvar)
    nr.manual_seed(3)
    eps = nr.randn(4, 3)
    z.sum().backward()
    np.testing.assert_allclose(mu.grad.numpy(), np.ones((4, 3)))
    np.testing.assert_allclose(logvar.grad.numpy(),
                               0.5 * np.exp(0.5 * logvar.detach().numpy()) * eps.numpy(),
                               rtol=1e-5)


def test_vae_loss_backpropagates_to_encoder_and_decoder():
    vae = VAE(16, [8], 2)
    vae.loss(nr.rand(10, 16)).backward()
    for name, p in vae.named_parameters():
        assert p.grad is not None and np.abs(p.grad.numpy()).sum() > 0, name


def test_vae_shapes_sampling_and_interpolation():
    vae = VAE(64, [32], 3)
    x = nr.rand(6, 1, 8, 8)
    recon, mu, logvar = vae(x)
    assert recon.shape == (6, 64) and mu.shape == logvar.shape == (6, 3)
    s = vae.sample(5)
    assert s.shape == (5, 64) and 0 <= s.min().item() and s.max().item() <= 1
    path = vae.interpolate(x[0], x[1], steps=4)
    assert path.shape == (4, 64)
    with nr.no_grad():
        np.testing.assert_allclose(path[0].numpy(), vae.decode(vae.encode(x[:1])[0])[0].numpy(),
                                   rtol=1e-5)
        np.testing.assert_allclose(path[-1].numpy(),
                                   vae.decode(vae.encode(x[1:2])[0])[0].numpy(), rtol=1e-5)
    with pytest.raises(RuntimeError, match=r"\(2, 10\)"):
        vae.encode(nr.rand(2, 10))


def test_vae_eval_forward_is_deterministic():
    vae = VAE(16, [8], 2).eval()
    x = nr.rand(3, 16)
    with nr.no_grad():
        np.testing.assert_array_equal(vae(x)[0].numpy(), vae(x)[0].numpy())


def test_vae_training_lowers_negative_elbo_and_is_seeded():
    x = (nr.rand(64, 16) > 0.5).float()
    runs = []
    for _ in range(2):
        nr.manual_seed(2)
        vae = VAE(16, [16], 2)
        runs.append(train_vae(vae, x, epochs=8, batch_size=16, lr=1e-2))
    assert runs[0] == runs[1]
    assert runs[0][-1] < runs[0][0]
