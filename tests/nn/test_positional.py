"""Positional encodings: the sinusoidal table's values, shapes/layouts, learned table grads."""
import math

import numpy as np
import pytest

import narae as nr
from narae.nn.positional import (SinusoidalPositionalEncoding, LearnedPositionalEncoding,
                                 sinusoidal_table)


def test_sinusoidal_values():
    pe = sinusoidal_table(50, 6)
    for pos in (0, 1, 7, 49):
        for i in range(3):
            angle = pos / 10000 ** (2 * i / 6)
            assert pe[pos, 2 * i] == pytest.approx(math.sin(angle), abs=1e-6)
            assert pe[pos, 2 * i + 1] == pytest.approx(math.cos(angle), abs=1e-6)
    odd = sinusoidal_table(4, 5)  # odd d_model: last column is a sine
    assert odd.shape == (4, 5)
    assert odd[3, 4] == pytest.approx(math.sin(3 / 10000 ** (4 / 5)), abs=1e-6)


@pytest.mark.parametrize("batch_first", [False, True])
def test_sinusoidal_module_adds_table(batch_first):
    m = SinusoidalPositionalEncoding(8, max_len=20, batch_first=batch_first)
    x = nr.zeros(2, 5, 8) if batch_first else nr.zeros(5, 2, 8)
    y = m(x).numpy()
    table = sinusoidal_table(20, 8)[:5]
    got = y[1] if batch_first else y[:, 1]
    np.testing.assert_allclose(got, table, rtol=1e-6)
    np.testing.assert_allclose(m(nr.zeros(3, 8)).numpy(), table[:3], rtol=1e-6)  # unbatched
    assert "pe" not in m.state_dict()  # derived, not saved


def test_sinusoidal_dropout_and_errors():
    m = SinusoidalPositionalEncoding(4, max_len=6, dropout=0.5)
    x = nr.ones(6, 3, 4)
    m.eval()
    want = np.broadcast_to(1 + sinusoidal_table(6, 4)[:, None], (6, 3, 4))
    np.testing.assert_allclose(m(x).numpy(), want, rtol=1e-6)
    m.train()
    assert (m(x).numpy() == 0).any()
    with pytest.raises(RuntimeError, match="max_len=6"):
        m(nr.ones(7, 3, 4))
    with pytest.raises(RuntimeError, match=r"\(6, 3, 5\)"):
        m(nr.ones(6, 3, 5))


def test_learned_positional_gradients():
    m = LearnedPositionalEncoding(10, 4, batch_first=True)
    assert list(m.state_dict()) == ["weight"]
    x = nr.randn(3, 6, 4, requires_grad=True)
    y = m(x)
    np.testing.assert_allclose(y.detach().numpy(), x.detach().numpy() + m.weight.detach()
                               .numpy()[:6], rtol=1e-6)
    y.sum().backward()
    g = m.weight.grad.numpy()
    np.testing.assert_allclose(g[:6], 3.0)  # each position is used once per batch element
    np.testing.assert_allclose(g[6:], 0.0)
    with pytest.raises(RuntimeError, match="max_len=10"):
        m(nr.randn(1, 11, 4))
