"""Truncated BPTT: windows, state carried but detached, gradients cut at window boundaries."""
import numpy as np
import pytest

import narae as nr
from narae import nn, optim
from narae.nn.rnn import LSTM, GRU
from narae.nn.utils.tbptt import TruncatedBPTT, detach_state, tbptt_windows, train_tbptt


def test_windows_cover_the_sequence():
    x = nr.randn(2, 10, 3)
    y = nr.randn(2, 10)
    wins = list(tbptt_windows(x, y, 4, batch_first=True))
    assert [tuple(w[0].shape) for w in wins] == [(2, 4, 3), (2, 4, 3), (2, 2, 3)]
    assert [tuple(w[1].shape) for w in wins] == [(2, 4), (2, 4), (2, 2)]
    np.testing.assert_array_equal(np.concatenate([w[0].numpy() for w in wins], 1), x.numpy())
    assert [tuple(w[0].shape) for w in tbptt_windows(nr.randn(7, 2, 3), None, 3)] == \
        [(3, 2, 3), (3, 2, 3), (1, 2, 3)]
    with pytest.raises(ValueError, match="time dimension"):
        list(tbptt_windows(x, nr.randn(2, 9), 4, batch_first=True))
    with pytest.raises(ValueError, match="positive"):
        list(tbptt_windows(x, None, 0))


def test_detach_state_nested():
    h = nr.randn(2, 3, requires_grad=True) * 2
    c = nr.randn(2, 3, requires_grad=True) * 2
    out = detach_state((h, [c, None]))
    assert not out[0].requires_grad and not out[1][0].requires_grad and out[1][1] is None
    assert detach_state(None) is None
    with pytest.raises(TypeError):
        detach_state("state")


@pytest.mark.parametrize("layer", [LSTM, GRU])
def test_gradient_stops_at_window_boundary(layer):
    m = layer(3, 4, batch_first=True)
    x = nr.randn(2, 9, 3, requires_grad=True)
    state, k = None, 3
    losses = []
    for xw, _ in tbptt_windows(x, None, k, batch_first=True):
        out, state = m(xw, state)
        losses.append(out.sum())
        state = detach_state(state)
    (g,) = nr.autograd.grad(losses[1], [x])  # loss of the middle window
    g = g.numpy()
    assert np.all(g[:, :3] == 0), "gradient leaked into the previous window"
    assert np.any(g[:, 3:6] != 0)
    assert np.all(g[:, 6:] == 0)
    # without detaching, the gradient would reach the earlier window
    out1, s = m(x[:, :3])
    out2, _ = m(x[:, 3:6], s)
    (g2,) = nr.autograd.grad(out2.sum(), [x])
    assert np.any(g2.numpy()[:, :3] != 0)


def test_stateful_windows_equal_one_long_pass():
    m = LSTM(3, 5, num_layers=2, batch_first=True)
    x = nr.randn(2, 11, 3)
    full, (hn, cn) = m(x)
    state, outs = None, []
    for xw, _ in tbptt_windows(x, None, 4, batch_first=True):
        out, state = m(xw, state)
        outs.append(out.detach().numpy())
        state = detach_state(state)
    np.testing.assert_allclose(np.concatenate(outs, 1), full.detach().numpy(), atol=1e-6)
    np.testing.assert_allclose(state[0].numpy(), hn.detach().numpy(), atol=1e-6)
    np.testing.assert_allclose(state[1].numpy(), cn.detach().numpy(), atol=1e-6)


class _Echo(nn.Module):
    """Predict the input delayed by one step (needs the state carried across windows)."""

    def __init__(self):
        super().__init__()
        self.rnn = LSTM(1, 16, batch_first=True)
        self.head = nn.Linear(16, 1)

    def forward(self, x, state=None):
        y, state = self.rnn(x, state)
        return self.head(y), state


def test_train_tbptt_learns_and_returns_detached_state():
    nr.manual_seed(0)
    rng = np.random.default_rng(0)
    model = _Echo()
    opt = optim.Adam(model.parameters(), lr=2e-2)
    loss_fn = nn.MSELoss()
    trainer = TruncatedBPTT(model, loss_fn, opt, k=8, batch_first=True)
    first = last = None
    for it in range(40):
        s = rng.standard_normal((8, 33, 1)).astype(np.float32)
        x, y = nr.tensor(s[:, 1:]), nr.tensor(s[:, :-1])
        trainer.reset()
        loss = trainer.step(x, y)
        first = loss if first is None else first
        last = loss
    assert last < 0.5 * first
    assert all(not t.requires_grad for t in trainer.state)
    loss, state = train_tbptt(model, x, y, 8, loss_fn, opt, batch_first=True, clip_grad_norm=1.0)
    assert np.isfinite(loss) and not state[0].requires_grad
