"""Random fills and samplers added for torch parity: distributions checked by moments on
large draws, reproducibility under manual_seed, and shapes/dtypes like torch's."""
import numpy as np
import pytest
import torch

import narae as nr


def _draw(fill):
    nr.manual_seed(0)
    a = fill(nr.empty(200_000, dtype=nr.float64))
    nr.manual_seed(0)
    b = fill(nr.empty(200_000, dtype=nr.float64))
    np.testing.assert_array_equal(a.numpy(), b.numpy())  # manual_seed reproduces it
    return a.numpy()


def test_cauchy_median_and_quartiles():
    x = _draw(lambda t: t.cauchy_(median=1.5, sigma=2.0))
    np.testing.assert_allclose(np.percentile(x, [25, 50, 75]), [-0.5, 1.5, 3.5], atol=0.05)


def test_log_normal_moments():
    x = _draw(lambda t: t.log_normal_(mean=0.5, std=0.25))
    np.testing.assert_allclose(np.log(x).mean(), 0.5, atol=0.005)
    np.testing.assert_allclose(np.log(x).std(), 0.25, atol=0.005)


def test_geometric_support_and_mean_match_torch():
    x = _draw(lambda t: t.geometric_(0.25))
    t = torch.empty(200_000, dtype=torch.float64).geometric_(0.25).numpy()
    assert x.min() == t.min() == 1.0  # trials up to and including the first success
    np.testing.assert_allclose(x.mean(), t.mean(), rtol=0.02)


def test_tensor_bernoulli_and_multinomial_methods():
    p = nr.full((400, 500), 0.3, dtype=nr.float64)
    b = p.bernoulli()
    assert b.dtype == nr.float64 and set(np.unique(b.numpy())) <= {0.0, 1.0}
    assert abs(b.numpy().mean() - 0.3) < 0.01
    w = nr.tensor([[0.0, 1.0, 3.0], [1.0, 0.0, 0.0]])
    idx = w.multinomial(2000, replacement=True)
    assert idx.dtype == nr.int64 and tuple(idx.shape) == (2, 2000)
    counts = np.bincount(idx.numpy()[0], minlength=3)
    assert counts[0] == 0 and abs(counts[2] / 2000 - 0.75) < 0.04
    assert set(idx.numpy()[1].tolist()) == {0}


def test_poisson_and_binomial():
    nr.manual_seed(1)
    rates = nr.full((100_000,), 3.5, dtype=nr.float64)
    x = nr.poisson(rates)
    assert x.dtype == nr.float64 and x.shape == rates.shape
    np.testing.assert_allclose([x.numpy().mean(), x.numpy().var()], [3.5, 3.5], rtol=0.02)
    counts = nr.full((100_000,), 10.0)
    y = nr.binomial(counts, nr.full((100_000,), 0.2))
    assert y.dtype == nr.float32
    np.testing.assert_allclose(y.numpy().mean(), 2.0, rtol=0.02)
    assert y.numpy().max() <= 10
    with pytest.raises(RuntimeError, match="non-negative"):
        nr.poisson(nr.tensor([-1.0]))
