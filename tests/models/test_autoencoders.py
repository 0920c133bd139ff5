"""Autoencoders: shapes, penalties against their formulas, corruption, greedy stacking."""
import numpy as np
import pytest

import narae as nr
from narae import nn
from narae.models.autoencoder import (Autoencoder, ConvAutoencoder, DenoisingAutoencoder,
                                      LinearAutoencoder, SparseAutoencoder,
                                      StackedAutoencoder, corrupt, kl_sparsity,
                                      train_autoencoder)


def _data(n=64, d=16):
    return nr.rand(n, d)


def test_autoencoder_shapes_and_training_reduces_loss():
    x = _data()
    ae = Autoencoder(16, [8, 4])
    assert ae.encode(x).shape == (64, 4) and ae(x).shape == (64, 16)
    hist = train_autoencoder(ae, x, epochs=15, batch_size=16, lr=1e-2)
    assert hist[-1] < hist[0]


def test_autoencoder_bad_arguments():
    with pytest.raises(ValueError, match="loss"):
        Autoencoder(4, [2], loss="hinge")
    with pytest.raises(ValueError, match="activation"):
        Autoencoder(4, [2], activation="swoosh")


def test_linear_autoencoder_is_linear():
    ae = LinearAutoencoder(10, 3, bias=False)
    assert not any(isinstance(m, (nn.Sigmoid, nn.ReLU, nn.Tanh)) for m in ae.modules())
    x, y = nr.randn(5, 10), nr.randn(5, 10)
    with nr.no_grad():   # f(2x + 3y) = 2 f(x) + 3 f(y)
        np.testing.assert_allclose(ae(2 * x + 3 * y).numpy(), (2 * ae(x) + 3 * ae(y)).numpy(),
                                   atol=1e-5)
    assert ae.subspace().shape == (10, 3)


def test_kl_sparsity_matches_formula():
    h = nr.rand(20, 6) * 0.9 + 0.05
    q = h.numpy().astype(np.float64).mean(0)
    rho = 0.1
    expected = np.sum(rho * np.log(rho / q) + (1 - rho) * np.log((1 - rho) / (1 - q)))
    assert kl_sparsity(h, rho).item() == pytest.approx(expected, rel=1e-5)
    assert kl_sparsity(nr.full((4, 3), rho), rho).item() == pytest.approx(0, abs=1e-6)


@pytest.mark.parametrize("kind", ["l1", "kl"])
def test_sparse_autoencoder_penalty_lowers_activity(kind):
    x = _data(128, 16)
    nr.manual_seed(1)
    dense = SparseAutoencoder(16, 32, sparsity=kind, beta=0.0)
    train_autoencoder(dense, x, epochs=20, batch_size=32, lr=1e-2)
    nr.manual_seed(1)
    sparse = SparseAutoencoder(16, 32, sparsity=kind, beta=0.5 if kind == "kl" else 0.05,
                               rho=0.05)
    train_autoencoder(sparse, x, epochs=20, batch_size=32, lr=1e-2)
    with nr.no_grad():
        assert sparse.encode(x).mean().item() < 0.6 * dense.encode(x).mean().item()
    with pytest.raises(ValueError, match="sparsity"):
        SparseAutoencoder(4, 8, sparsity="l0")


def test_sparse_loss_is_reconstruction_plus_penalty():
    ae = SparseAutoencoder(8, 12, sparsity="l1", beta=0.3)
    x = nr.rand(10, 8)
    h = ae.encode(x)
    expected = ae.reconstruction_loss(ae.decode(h), x) + 0.3 * h.abs().sum(1).mean()
    assert ae.loss(x).item() == pytest.approx(expected.item(), rel=1e-6)


def test_corruption_kinds():
    x = nr.ones(200, 50)
    m = corrupt(x, "mask", 0.3).numpy()
    assert set(np.unique(m)) <= {0.0, 1.0} and abs((m == 0).mean() - 0.3) < 0.02
    g = corrupt(x, "gaussian", 0.5).numpy() - 1
    assert abs(g.std() - 0.5) < 0.02
    sp = corrupt(nr.full((200, 50), 0.5), "salt_pepper", 0.2).numpy()
    assert abs((sp != 0.5).mean() - 0.2) < 0.02
    with pytest.raises(ValueError, match="unknown kind"):
        corrupt(x, "blur")


def test_denoising_autoencoder_trains_on_corrupted_input():
    dae = DenoisingAutoencoder(16, [8], noise="mask", noise_level=0.5)
    x = _data()
    with nr.no_grad():   # the loss sees a corrupted input, the forward pass does not
        assert dae.loss(x).item() != pytest.approx(dae.reconstruction_loss(dae(x), x).item())
    hist = train_autoencoder(dae, x, epochs=5, batch_size=16, lr=1e-2)
    assert len(hist) == 5


def test_conv_autoencoder_shapes_and_layers():
    ae = ConvAutoencoder(1, (8, 16))
    x = nr.rand(4, 1, 8, 8)
    assert ae.encode(x).shape == (4, 16, 2, 2)
    assert ae(x).shape == (4, 1, 8, 8)
    assert sum(isinstance(m, nn.ConvTranspose2d) for m in ae.decoder.modules()) == 2
    assert all(m.stride == (2, 2) for m in ae.encoder.modules() if isinstance(m, nn.Conv2d))
    hist = train_autoencoder(ae, nr.rand(32, 1, 8, 8), epochs=3, batch_size=16, lr=1e-2)
    assert hist[-1] < hist[0]
    with pytest.raises(RuntimeError, match=r"\(4, 64\)"):
        ae(nr.rand(4, 64))


def test_stacked_autoencoder_greedy_pretraining_then_fine_tuning():
    x = _data(64, 16)
    sae = StackedAutoencoder([16, 8, 4])
    before = [p.detach().numpy().copy() for p in sae.layers[1].parameters()]
    losses = sae.pretrain(x, epochs=3, batch_size=16)
    assert len(losses) == 2
    after = [p.detach().numpy() for p in sae.layers[1].parameters()]
    assert any(not np.array_equal(a, b) for a, b in zip(before, after))   # layer 2 trained
    assert sae.encode(x).shape == (64, 4) and sae(x).shape == (64, 16)
    hist = sae.fine_tune(x, epochs=3, batch_size=16)
    assert len(hist) == 3
    clf = sae.classifier(3)
    assert clf(x).shape == (64, 3)
    assert clf[0].weight is sae.layers[0].encoder[0].weight   # shares the pre-trained weights


def test_stacked_denoising_pretraining_runs():
    sae = StackedAutoencoder([16, 8], noise="mask", noise_level=0.3)
    assert len(sae.pretrain(_data(), epochs=2)) == 1


def test_training_is_deterministic_under_manual_seed():
    x = _data()
    runs = []
    for _ in range(2):
        nr.manual_seed(7)
        ae = DenoisingAutoencoder(16, [8])
        runs.append(train_autoencoder(ae, x, epochs=2, batch_size=16))
    assert runs[0] == runs[1]
