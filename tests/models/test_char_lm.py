"""CharLSTM: shapes, state, reproducible sampling, and a short training run."""
import math

import numpy as np
import pytest

import narae as nr
from narae.datasets import TextCorpus
from narae.models.char_lm import CharLSTM, evaluate_bpc, sample_logits, train_char_lstm

TEXT = "the quick brown fox jumps over the lazy dog. " * 40


def test_forward_shapes_and_state():
    m = CharLSTM(20, embed_dim=8, hidden_size=12, num_layers=2)
    x = nr.tensor(np.random.default_rng(0).integers(0, 20, (3, 7)))
    logits, (h, c) = m(x)
    assert tuple(logits.shape) == (3, 7, 20)
    assert tuple(h.shape) == (2, 3, 12) and tuple(c.shape) == (2, 3, 12)
    # carrying the state over two halves equals one pass
    a, s = m(x[:, :4])
    b, _ = m(x[:, 4:], s)
    np.testing.assert_allclose(np.concatenate([a.detach().numpy(), b.detach().numpy()], 1),
                               logits.detach().numpy(), atol=1e-6)
    single, _ = m(x[0])
    np.testing.assert_allclose(single.detach().numpy(), logits[0].detach().numpy(), atol=1e-6)


def test_sampling_is_reproducible_and_respects_top_k():
    m = CharLSTM(10, embed_dim=4, hidden_size=8)
    nr.manual_seed(5)
    a = m.sample([1, 2, 3], 20, temperature=1.5)
    nr.manual_seed(5)
    b = m.sample([1, 2, 3], 20, temperature=1.5)
    assert a.tolist() == b.tolist() and tuple(a.shape) == (20,) and a.dtype == nr.int64
    g1, g2 = nr.Generator().manual_seed(9), nr.Generator().manual_seed(9)
    assert m.sample([4], 15, generator=g1).tolist() == m.sample([4], 15, generator=g2).tolist()
    greedy = m.sample([1, 2], 10, temperature=0)
    assert m.sample([1, 2], 10, top_k=1).tolist() == greedy.tolist()
    assert m.training  # sampling restores the mode


def test_sample_logits_top_k_and_temperature():
    logits = np.array([0.0, 5.0, 4.0, -3.0])
    g = nr.Generator().manual_seed(0)
    draws = {sample_logits(logits, 1.0, 2, g) for _ in range(200)}
    assert draws <= {1, 2} and len(draws) == 2
    assert sample_logits(logits, 0.0) == 1
    cold = [sample_logits(logits, 0.05, None, g) for _ in range(50)]
    assert set(cold) == {1}


def test_sample_needs_a_prefix():
    with pytest.raises(ValueError, match="prefix"):
        CharLSTM(5, 4, 4).sample([], 3)


def test_short_training_run_lowers_the_loss():
    corpus = TextCorpus(text=TEXT, val_fraction=0.2)
    r = train_char_lstm(epochs=3, batch_size=8, block_size=16, lr=1e-2, embed_dim=16,
                        hidden_size=32, corpus=corpus, max_steps=40, sample_length=30,
                        prefix="the ", verbose=False)
    losses = r["train_losses"]
    assert np.mean(losses[-5:]) < 0.6 * losses[0]
    assert r["val_bpc"] < losses[0] / math.log(2)
    assert len(r["sample"]) == 30 and set(r["sample"]) <= set(corpus.chars)
    bpc = evaluate_bpc(r["model"], corpus.dataset("val", 16))
    assert abs(bpc - r["val_bpc"]) < 1e-6
