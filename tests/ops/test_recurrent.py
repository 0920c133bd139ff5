"""The fused recurrent sequence op and the cell functions (narae.ops.recurrent)."""
import numpy as np
import pytest
import torch

import narae as nr
from narae.ops import recurrent as R
from helpers import check, randn

MODES = ["RNN_TANH", "RNN_RELU", "LSTM", "GRU"]
T, B, I, H = 4, 3, 2, 3


def _arrays(mode, bias=True, rng=None):
    rng = rng or np.random.default_rng(0)
    G = R.GATES[mode] * H
    shapes = [(T, B, I), (B, H), (B, H), (G, I), (G, H)] + ([(G,), (G,)] if bias else [])
    return [rng.standard_normal(s) * 0.7 for s in shapes]


def _run(mode, reverse=False, mask=None, fused=True):
    def f(m, x, h0, c0, w_ih, w_hh, *b):
        hx = (h0, c0) if mode == "LSTM" else h0
        y, hn = R.recurrent_sequence(mode, x, hx, w_ih, w_hh, *b, reverse=reverse, mask=mask,
                                     fused=fused)
        return (y,) + (tuple(hn) if mode == "LSTM" else (hn,))
    return f


def _bind(f):
    return lambda *xs: f(nr, *xs)


def _outputs_and_grads(mode, arrays, **kw):
    ts = [nr.tensor(a, requires_grad=True) for a in arrays]
    outs = _run(mode, **kw)(nr, *ts)
    rng = np.random.default_rng(1)
    loss = sum((o * nr.tensor(rng.standard_normal(o.shape))).sum() for o in outs)
    loss.backward()
    return [o.detach().numpy() for o in outs], [None if t.grad is None else t.grad.numpy()
                                                for t in ts]


@pytest.mark.parametrize("mode", MODES)
@pytest.mark.parametrize("reverse", [False, True])
@pytest.mark.parametrize("bias", [True, False])
def test_gradcheck_fused(mode, reverse, bias):
    """float64 central differences against the fused node's hand-written backward."""
    ts = [nr.tensor(a, requires_grad=True) for a in _arrays(mode, bias)]
    if mode != "LSTM":
        ts[2].requires_grad_(False)  # c0 is not an input of RNN/GRU
    assert nr.autograd.gradcheck(_bind(_run(mode, reverse)), ts, max_elements=200)


@pytest.mark.parametrize("mode", MODES)
@pytest.mark.parametrize("reverse", [False, True])
def test_gradcheck_fused_masked(mode, reverse):
    mask = np.arange(T)[:, None] < np.array([4, 2, 1])[None, :]
    ts = [nr.tensor(a, requires_grad=True) for a in _arrays(mode)]
    if mode != "LSTM":
        ts[2].requires_grad_(False)
    assert nr.autograd.gradcheck(_bind(_run(mode, reverse, mask)), ts, max_elements=200)


@pytest.mark.parametrize("mode", MODES)
@pytest.mark.parametrize("masked", [False, True])
def test_fused_equals_unrolled(mode, masked):
    mask = (np.arange(T)[:, None] < np.array([4, 1, 3])[None, :]) if masked else None
    for reverse in (False, True):
        a = _outputs_and_grads(mode, _arrays(mode), reverse=reverse, mask=mask)
        b = _outputs_and_grads(mode, _arrays(mode), reverse=reverse, mask=mask, fused=False)
        for x, y in zip(a[0] + a[1], b[0] + b[1]):
            if x is None or y is None:
                assert x is None and y is None or not np.any(x if x is not None else y)
                continue
            np.testing.assert_allclose(x, y, atol=1e-12)


@pytest.mark.parametrize("mode", ["LSTM", "GRU", "RNN_TANH"])
def test_double_backward_falls_back_to_unrolled(mode):
    """create_graph=True through the fused node gives a differentiable gradient."""
    ts = [nr.tensor(a, requires_grad=True) for a in _arrays(mode)]
    if mode != "LSTM":
        ts[2].requires_grad_(False)
    assert nr.autograd.gradgradcheck(_bind(_run(mode)), ts, max_elements=40)


def test_masked_steps_are_inert():
    """Padded steps: output zero, state carried, inputs there get zero gradient."""
    mask = np.arange(T)[:, None] < np.array([4, 2, 1])[None, :]
    arrays = _arrays("LSTM")
    outs, grads = _outputs_and_grads("LSTM", arrays, mask=mask)
    assert np.all(outs[0][~mask] == 0)
    assert np.all(grads[0][~mask] == 0)
    # changing padded inputs changes nothing
    arrays2 = [a.copy() for a in arrays]
    arrays2[0][~mask] = 100.0
    outs2, grads2 = _outputs_and_grads("LSTM", arrays2, mask=mask)
    for a, b in zip(outs + grads[1:], outs2 + grads2[1:]):
        np.testing.assert_allclose(a, b, atol=1e-12)


def _torch_cell(name):
    return getattr(torch, name)


@pytest.mark.parametrize("name", ["rnn_tanh_cell", "rnn_relu_cell", "gru_cell"])
def test_cells_match_torch(name):
    G = 3 if name == "gru_cell" else 1
    ours = getattr(R, name)

    def f(m, x, h, wi, wh, bi, bh):
        return (ours if m is nr else _torch_cell(name))(x, h, wi, wh, bi, bh)
    check(f, randn(2, 3), randn(2, 4), randn(G * 4, 3), randn(G * 4, 4), randn(G * 4),
          randn(G * 4), double=name != "rnn_relu_cell")  # relu'' = 0: torch gives zeros


def test_lstm_cell_matches_torch():
    def f(m, x, h, c, wi, wh, bi, bh):
        fn = R.lstm_cell if m is nr else torch.lstm_cell
        return tuple(fn(x, (h, c), wi, wh, bi, bh))
    check(f, randn(2, 3), randn(2, 4), randn(2, 4), randn(16, 3), randn(16, 4), randn(16),
          randn(16), double=True)


def test_float32_stays_float32():
    ts = [nr.tensor(a.astype(np.float32), requires_grad=True) for a in _arrays("GRU")]
    y, h = R.recurrent_sequence("GRU", ts[0], ts[1], *ts[3:])
    assert y.dtype == nr.float32 and h.dtype == nr.float32
    (y.sum() + h.sum()).backward()
    assert ts[3].grad.dtype == nr.float32


def test_bad_shapes_are_named():
    ts = [nr.tensor(a) for a in _arrays("LSTM")]
    with pytest.raises(RuntimeError, match=r"\(4, 3, 2\)"):
        R.recurrent_sequence("LSTM", ts[0], (ts[1], ts[2]), ts[3][:, :1], ts[4])
    with pytest.raises(RuntimeError, match="h0 of shape"):
        R.recurrent_sequence("LSTM", ts[0], (ts[1][:2], ts[2]), ts[3], ts[4])
    with pytest.raises(RuntimeError, match="seq_len, batch"):
        R.recurrent_sequence("LSTM", ts[0][0], (ts[1], ts[2]), ts[3], ts[4])
    with pytest.raises(ValueError, match="unknown mode"):
        R.recurrent_sequence("LSTMX", ts[0], ts[1], ts[3], ts[4])
    with pytest.raises(RuntimeError, match="mask of shape"):
        R.recurrent_sequence("LSTM", ts[0], (ts[1], ts[2]), ts[3], ts[4],
                             mask=np.ones((2, 2), bool))
