"""Tagger, N-to-1 classifier and autoencoder: shapes, padding invariance, quick learning."""
import numpy as np
import pytest

import narae as nr
from narae import nn, optim
from narae.models.sequence import SequenceAutoencoder, SequenceClassifier, SequenceTagger

RNG = np.random.default_rng(3)


def _ids(*shape, vocab=12):
    return nr.tensor(RNG.integers(1, vocab, shape))


def test_tagger_shapes_and_padding_invariance():
    m = SequenceTagger(6, 8, num_tags=4, vocab_size=12)
    x = _ids(3, 7)
    assert tuple(m(x).shape) == (3, 7, 4)
    lengths = [7, 3, 5]
    out = m(x, lengths).detach().numpy()
    for b, n in enumerate(lengths):
        alone = m(x[b:b + 1, :n]).detach().numpy()
        np.testing.assert_allclose(out[b, :n], alone[0], atol=1e-5)


@pytest.mark.parametrize("pooling", ["last", "mean"])
@pytest.mark.parametrize("bidirectional", [False, True])
def test_classifier_ignores_padding(pooling, bidirectional):
    m = SequenceClassifier(4, 8, 3, num_layers=2, pooling=pooling, bidirectional=bidirectional)
    x = nr.randn(3, 6, 4)
    lengths = [2, 6, 4]
    out = m(x, lengths).detach().numpy()
    assert out.shape == (3, 3)
    for b, n in enumerate(lengths):
        alone = m(x[b:b + 1, :n]).detach().numpy()
        np.testing.assert_allclose(out[b], alone[0], atol=1e-5)


def test_classifier_learns_first_token_task():
    """N-to-1 where the label is the first token: needs memory across the sequence."""
    nr.manual_seed(0)
    m = SequenceClassifier(8, 16, 3, vocab_size=6, cell="gru")
    opt = optim.Adam(m.parameters(), lr=3e-2)
    loss_fn = nn.CrossEntropyLoss()
    for _ in range(60):
        x = RNG.integers(3, 6, (32, 6))
        y = RNG.integers(0, 3, 32)
        x[:, 0] = y
        loss = loss_fn(m(nr.tensor(x)), nr.tensor(y))
        opt.zero_grad()
        loss.backward()
        opt.step()
    x = RNG.integers(3, 6, (64, 6))
    y = RNG.integers(0, 3, 64)
    x[:, 0] = y
    acc = (m(nr.tensor(x)).argmax(-1).numpy() == y).mean()
    assert acc > 0.9


def test_autoencoder_shapes_and_learning():
    nr.manual_seed(0)
    m = SequenceAutoencoder(3, 16)
    x = nr.tensor(np.sin(np.linspace(0, 3, 8)[None, :, None] * (1 + RNG.random((16, 1, 3))))
                  .astype(np.float32))
    assert tuple(m(x).shape) == (16, 8, 3)
    assert tuple(m.encode(x).shape) == (16, 16)
    assert tuple(m.decode(m.encode_state(x), 5).shape) == (16, 5, 3)
    opt = optim.Adam(m.parameters(), lr=1e-2)
    losses = []
    for _ in range(40):
        loss = ((m(x) - x) ** 2).mean()
        opt.zero_grad()
        loss.backward()
        opt.step()
        losses.append(loss.item())
    assert losses[-1] < 0.3 * losses[0]
    with pytest.raises(RuntimeError, match=r"\(B, T, 3\)"):
        m(nr.randn(2, 5, 4))


def test_bad_options():
    with pytest.raises(ValueError, match="pooling"):
        SequenceClassifier(4, 8, 2, pooling="max")
    with pytest.raises(ValueError, match="unknown cell"):
        SequenceTagger(4, 8, 2, cell="transformer")
