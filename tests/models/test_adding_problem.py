"""The adding problem: an LSTM bridges long time lags, a tanh RNN of the same size does not."""
import numpy as np
import pytest

from narae.models.adding import (BASELINE, AddingModel, adding_data, hidden_gradient_norms,
                                 train_adding)


def test_data():
    x, y = adding_data(100, 20, np.random.default_rng(0))
    assert x.shape == (100, 20, 2) and y.shape == (100, 1)
    assert np.all(x[:, :, 1].sum(1) == 2)
    assert np.all(x[:, :10, 1].sum(1) == 1)
    np.testing.assert_allclose((x[:, :, 0] * x[:, :, 1]).sum(1), y[:, 0], rtol=1e-6)


def test_lstm_learns_short_version():
    """Smoke test: T=10 in 300 steps; fails if the LSTM cannot learn at all."""
    r = train_adding("lstm", T=10, hidden_size=16, steps=300, lr=1e-2, seed=0)
    assert r["test_mse"] < 0.05, r["test_mse"]


def test_rnn_gradient_vanishes_with_distance():
    x, y = adding_data(32, 30, np.random.default_rng(1))
    g = hidden_gradient_norms(AddingModel("rnn", 16), x, y)
    assert g.shape == (30,)
    assert g[0] < 1e-3 * g[-1]


@pytest.mark.slow
def test_lstm_solves_t50_rnn_does_not():
    lstm = train_adding("lstm", T=50, hidden_size=32, steps=2500, lr=1e-2, seed=0, target=0.01)
    assert lstm["test_mse"] < 0.01, lstm["test_mse"]
    rnn = train_adding("rnn", T=50, hidden_size=32, steps=max(lstm["steps"], 700), lr=1e-2,
                       seed=0)
    assert rnn["test_mse"] > 0.6 * BASELINE, rnn["test_mse"]
