"""GANs: losses against their formulas, DCGAN's architecture rules, training loop, seeding."""
import os

import numpy as np
import pytest

import narae as nr
from narae import nn
from narae.models.gan import (GAN, DCGANDiscriminator, DCGANGenerator, MLPDiscriminator,
                              MLPGenerator, discriminator_loss, generator_loss)

_POOLING = tuple(getattr(nn, n) for n in dir(nn) if "Pool" in n and isinstance(getattr(nn, n),
                                                                              type))


def _sig(x):
    return 1 / (1 + np.exp(-x))


def test_losses_match_formulas():
    real, fake = np.array([1.5, -0.3, 0.2]), np.array([-2.0, 0.4, 0.1])
    d = discriminator_loss(nr.tensor(real), nr.tensor(fake)).item()
    assert d == pytest.approx(-np.mean(np.log(_sig(real))) - np.mean(np.log(1 - _sig(fake))))
    mm = generator_loss(nr.tensor(fake), "minimax").item()
    assert mm == pytest.approx(np.mean(np.log(1 - _sig(fake))))
    ns = generator_loss(nr.tensor(fake), "non_saturating").item()
    assert ns == pytest.approx(-np.mean(np.log(_sig(fake))))
    with pytest.raises(ValueError, match="kind"):
        generator_loss(nr.tensor(fake), "wasserstein")


def test_non_saturating_loss_keeps_gradient_when_d_rejects_fakes():
    """Early on D(G(z)) ~ 0: d/dlogit of log(1 - D) vanishes, of -log D does not."""
    logits = nr.tensor([-8.0], requires_grad=True)
    generator_loss(logits, "minimax").backward()
    g_mm = abs(logits.grad.item())
    logits.grad = None
    generator_loss(logits, "non_saturating").backward()
    assert g_mm < 1e-3 and abs(logits.grad.item()) > 0.99


def test_dcgan_shapes():
    G, D = DCGANGenerator(10, 8), DCGANDiscriminator(1, 8)
    img = G(nr.randn(3, 10))
    assert img.shape == (3, 1, 8, 8)
    assert -1 <= img.min().item() and img.max().item() <= 1
    assert D(img).shape == (3,)
    G32, D32 = DCGANGenerator(10, 4, channels=3, image_size=32), DCGANDiscriminator(3, 4, 32)
    assert D32(G32(nr.randn(2, 10))).shape == (2,)
    with pytest.raises(ValueError, match="power of two"):
        DCGANGenerator(10, 8, image_size=12)
    with pytest.raises(RuntimeError, match=r"\(2, 64\)"):
        D(nr.rand(2, 64))


def _layers(model):
    return [m for m in model.net]


@pytest.mark.parametrize("image_size", [8, 32])
def test_dcgan_architecture_rules(image_size):
    G = DCGANGenerator(16, 8, channels=1, image_size=image_size)
    D = DCGANDiscriminator(1, 8, image_size=image_size)
    g, d = _layers(G), _layers(D)
    # no pooling anywhere: resolution changes only through strided (transposed) convolutions
    assert not any(isinstance(m, _POOLING) for m in list(G.modules()) + list(D.modules()))
    # no fully connected hidden layers: G's only Linear is the first (projection of z),
    # D has none (its last conv is flattened into the single output)
    assert [i for i, m in enumerate(g) if isinstance(m, nn.Linear)] == [0]
    assert not any(isinstance(m, nn.Linear) for m in D.modules())
    convs_g = [m for m in g if isinstance(m, nn.ConvTranspose2d)]
    assert convs_g and all(m.stride == (2, 2) for m in convs_g)
    convs_d = [m for m in d if isinstance(m, nn.Conv2d)]
    assert all(m.stride == (2, 2) for m in convs_d[:-1])
    # batch norm after the projection and every hidden transposed conv of G, but not on the
    # output layer (which is followed by Tanh)
    for i, m in enumerate(g):
        if isinstance(m, (nn.Linear, nn.ConvTranspose2d)) and m is not convs_g[-1]:
            nxt = g[i + 2] if isinstance(g[i + 1], nn.Unflatten) else g[i + 1]
            assert isinstance(nxt, nn.BatchNorm2d)
            assert isinstance(g[g.index(nxt) + 1], nn.ReLU)
    assert isinstance(g[-1], nn.Tanh) and g[-2] is convs_g[-1]
    # D: no batch norm on the input layer, batch norm on every later strided conv
    assert isinstance(d[1], nn.LeakyReLU) and d[1].negative_slope == 0.2
    for m in convs_d[1:-1]:
        assert isinstance(d[d.index(m) + 1], nn.BatchNorm2d)
        assert isinstance(d[d.index(m) + 2], nn.LeakyReLU)
    assert not any(isinstance(m, nn.ReLU) for m in D.modules())
    # N(0, 0.02) initialisation
    assert abs(convs_g[0].weight.detach().numpy().std() - 0.02) < 0.005


def test_mlp_gan_shapes():
    G, D = MLPGenerator(4, (16,), 64), MLPDiscriminator(64, (16,))
    x = G(nr.randn(5, 4))
    assert x.shape == (5, 64) and D(x).shape == (5,)
    assert D(x.reshape(5, 1, 8, 8)).shape == (5,)


def test_gan_sample_range_and_bad_loss():
    gan = GAN(DCGANGenerator(8, 4), DCGANDiscriminator(1, 4))
    s = gan.sample(6)
    assert s.shape == (6, 1, 8, 8) and 0 <= s.min().item() and s.max().item() <= 1
    with pytest.raises(ValueError, match="loss"):
        GAN(MLPGenerator(), MLPDiscriminator(), loss="hinge")


def test_gan_fit_updates_both_players_and_saves_a_grid_per_epoch(tmp_path):
    x = nr.rand(40, 1, 8, 8)
    gan = GAN(DCGANGenerator(8, 4), DCGANDiscriminator(1, 4))
    g0 = [p.detach().numpy().copy() for p in gan.generator.parameters()]
    d0 = [p.detach().numpy().copy() for p in gan.discriminator.parameters()]
    hist = gan.fit(x, epochs=2, batch_size=16, sample_dir=str(tmp_path), n_fixed=9)
    assert len(hist["d_loss"]) == len(hist["g_loss"]) == 6
    assert [os.path.basename(p) for p in hist["grids"]] == ["epoch_001.png", "epoch_002.png"]
    for p in hist["grids"]:
        assert open(p, "rb").read(8) == b"\x89PNG\r\n\x1a\n"
    assert any(not np.array_equal(a, p.detach().numpy())
               for a, p in zip(g0, gan.generator.parameters()))
    assert any(not np.array_equal(a, p.detach().numpy())
               for a, p in zip(d0, gan.discriminator.parameters()))


@pytest.mark.parametrize("loss", ["minimax", "non_saturating"])
def test_gan_fit_is_deterministic_under_manual_seed(loss):
    x = nr.rand(32, 64)
    runs = []
    for _ in range(2):
        nr.manual_seed(3)
        gan = GAN(MLPGenerator(4, (8,), 64), MLPDiscriminator(64, (8,)), loss=loss)
        h = gan.fit(x, epochs=2, batch_size=16)
        runs.append((h["d_loss"], h["g_loss"], gan.sample(3).numpy()))
    assert runs[0][0] == runs[1][0] and runs[0][1] == runs[1][1]
    np.testing.assert_array_equal(runs[0][2], runs[1][2])
