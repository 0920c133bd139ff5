"""LSTM / GRU steps on the kernel path (rnn_cell.cu / rnn_cell_ops.py), run on the CPU by the
emulator: the sequence wrappers against a torch reference of the recurrence, then the fused
sequence op and nn.LSTM / nn.GRU under ``kernels.emulate()`` against torch and gradcheck."""
import shutil

import numpy as np
import pytest
import torch

import narae as nr
from narae.backend import kernels
from narae.backend.kernels import rnn_cell_ops as cells
from narae.nn import rnn as nn_rnn
from narae.nn.utils import rnn as nn_utils
from narae.ops import recurrent as R

pytestmark = pytest.mark.skipif(shutil.which("g++") is None, reason="the emulator needs g++")

T, B, I, H = 4, 3, 2, 3
RNG = np.random.default_rng(11)
LENGTHS = np.array([4, 2, 1])


def _mask(masked):
    return np.arange(T)[:, None] < LENGTHS[None, :] if masked else None


def _order(reverse):
    return list(range(T - 1, -1, -1) if reverse else range(T))


def _halving(K, dtype):
    """The row scale the caller folds into the sigmoid gates (the n / g rows keep theirs)."""
    s = np.full(K * H, 0.5, dtype)
    s[2 * H:3 * H] = 1
    return s


def _recur(step, gx, h0, c0, order, mask):
    """Run a torch cell ``step(gx_t, h, c) -> (h', c')`` over time with the mask semantics."""
    h, c = h0, c0
    ys = [None] * T
    for t in order:
        hn, cn = step(gx[t], h, c)
        if mask is None:
            ys[t], h, c = hn, hn, cn
            continue
        m = torch.tensor(mask[t])[:, None]
        ys[t] = torch.where(m, hn, torch.zeros_like(hn))
        h = torch.where(m, hn, h)
        c = torch.where(m, cn, c) if c is not None else None
    return torch.stack(ys), h, c


def _leaves(*arrays):
    return [torch.tensor(a, requires_grad=True) for a in arrays]


def _tol(dtype):
    return dict(rtol=1e-4, atol=1e-5) if dtype == np.float32 else dict(rtol=1e-10, atol=1e-12)


# --- the wrappers against a torch reference -------------------------------------------------
@pytest.mark.parametrize("dtype", [np.float32, np.float64])
@pytest.mark.parametrize("reverse", [False, True])
@pytest.mark.parametrize("masked", [False, True])
def test_lstm_wrappers_match_torch(dtype, reverse, masked):
    gx, h0, c0 = (RNG.standard_normal(s).astype(dtype) for s in ((T, B, 4 * H), (B, H), (B, H)))
    w_hh = (RNG.standard_normal((4 * H, H)) * 0.7).astype(dtype)
    mask, order = _mask(masked), _order(reverse)
    tg, th, tc, tw = _leaves(gx, h0, c0, w_hh)

    def step(a, h, c):
        i, f, g, o = (a + h @ tw.T).chunk(4, -1)
        cn = torch.sigmoid(f) * c + torch.sigmoid(i) * torch.tanh(g)
        return torch.sigmoid(o) * torch.tanh(cn), cn
    ty, thn, tcn = _recur(step, tg, th, tc, order, mask)

    scale = _halving(4, dtype)
    gates = gx * scale
    y, hprev, cprev, tanh_c, hn, cn = cells.lstm_forward(gates, h0, c0, (w_hh * scale[:, None]).T,
                                                         order, mask)
    for ours, theirs in ((y, ty), (hn, thn), (cn, tcn)):
        assert ours.dtype == dtype
        np.testing.assert_allclose(ours, theirs.detach().numpy(), **_tol(dtype))

    dy, dhn, dcn = (RNG.standard_normal(s).astype(dtype) for s in ((T, B, H), (B, H), (B, H)))
    torch.autograd.backward([ty, thn, tcn], [torch.tensor(a) for a in (dy, dhn, dcn)])
    dg, dh0, dc0 = cells.lstm_backward(dy, dhn, dcn, gates, tanh_c, cprev, w_hh, order, mask)
    np.testing.assert_allclose(dg, tg.grad.numpy(), **_tol(dtype))
    np.testing.assert_allclose(dh0, th.grad.numpy(), **_tol(dtype))
    np.testing.assert_allclose(dc0, tc.grad.numpy(), **_tol(dtype))
    dw = np.einsum("tbg,tbh->gh", dg, hprev)
    np.testing.assert_allclose(dw, tw.grad.numpy(), **_tol(dtype))


@pytest.mark.parametrize("dtype", [np.float32, np.float64])
@pytest.mark.parametrize("reverse", [False, True])
@pytest.mark.parametrize("masked", [False, True])
@pytest.mark.parametrize("bias", [True, False])
def test_gru_wrappers_match_torch(dtype, reverse, masked, bias):
    gx, h0 = (RNG.standard_normal(s).astype(dtype) for s in ((T, B, 3 * H), (B, H)))
    w_hh = (RNG.standard_normal((3 * H, H)) * 0.7).astype(dtype)
    b_hh = RNG.standard_normal(3 * H).astype(dtype) if bias else np.zeros(3 * H, dtype)
    mask, order = _mask(masked), _order(reverse)
    tg, th, tw, tb = _leaves(gx, h0, w_hh, b_hh)

    def step(a, h, c):
        xr, xz, xn = a.chunk(3, -1)
        hr, hz, hn = (h @ tw.T + tb).chunk(3, -1)
        r, z = torch.sigmoid(xr + hr), torch.sigmoid(xz + hz)
        n = torch.tanh(xn + r * hn)
        return (1 - z) * n + z * h, None
    ty, thn, _ = _recur(step, tg, th, None, order, mask)

    scale = _halving(3, dtype)
    folded = gx.copy()
    folded[..., :2 * H] += b_hh[:2 * H]  # b_hr, b_hz join the input side; b_hn stays inside
    gates = folded * scale
    y, hprev, hwn, hn = cells.gru_forward(gates, h0, (w_hh * scale[:, None]).T,
                                          b_hh[2 * H:] if bias else None, order, mask)
    np.testing.assert_allclose(y, ty.detach().numpy(), **_tol(dtype))
    np.testing.assert_allclose(hn, thn.detach().numpy(), **_tol(dtype))

    dy, dhn = (RNG.standard_normal(s).astype(dtype) for s in ((T, B, H), (B, H)))
    torch.autograd.backward([ty, thn], [torch.tensor(dy), torch.tensor(dhn)])
    dgx, dgh, dh0 = cells.gru_backward(dy, dhn, gates, hprev, hwn, w_hh, order, mask)
    np.testing.assert_allclose(dgx, tg.grad.numpy(), **_tol(dtype))
    np.testing.assert_allclose(dh0, th.grad.numpy(), **_tol(dtype))
    np.testing.assert_allclose(np.einsum("tbg,tbh->gh", dgh, hprev), tw.grad.numpy(),
                               **_tol(dtype))
    np.testing.assert_allclose(dgh.sum((0, 1)), tb.grad.numpy(), **_tol(dtype))


# --- the fused sequence op on the kernel path ---------------------------------------------------
def _arrays(mode, bias=True):
    rng = np.random.default_rng(0)
    G = R.GATES[mode] * H
    shapes = [(T, B, I), (B, H), (B, H), (G, I), (G, H)] + ([(G,), (G,)] if bias else [])
    return [rng.standard_normal(s) * 0.7 for s in shapes]


def _seq(mode, reverse=False, mask=None, fused=True):
    def f(x, h0, c0, w_ih, w_hh, *b):
        hx = (h0, c0) if mode == "LSTM" else h0
        y, hn = R.recurrent_sequence(mode, x, hx, w_ih, w_hh, *b, reverse=reverse, mask=mask,
                                     fused=fused)
        return (y,) + (tuple(hn) if mode == "LSTM" else (hn,))
    return f


def _tensors(mode, bias=True):
    ts = [nr.tensor(a, requires_grad=True) for a in _arrays(mode, bias)]
    if mode != "LSTM":
        ts[2].requires_grad_(False)  # c0 is not an input of a GRU
    return ts


def _outputs_and_grads(mode, **kw):
    ts = _tensors(mode)
    outs = _seq(mode, **kw)(*ts)
    rng = np.random.default_rng(1)
    sum((o * nr.tensor(rng.standard_normal(o.shape))).sum() for o in outs).backward()
    return [o.detach().numpy() for o in outs] + [t.grad.numpy() for t in ts if t.requires_grad]


@pytest.mark.parametrize("mode", ["LSTM", "GRU"])
@pytest.mark.parametrize("reverse", [False, True])
@pytest.mark.parametrize("masked", [False, True])
def test_kernels_equal_array_path_and_unrolled(mode, reverse, masked, launches):
    mask = _mask(masked)
    with kernels.emulate():
        ours = _outputs_and_grads(mode, reverse=reverse, mask=mask)
    assert launches[mode.lower() + "_forward_step"] == T
    assert launches[mode.lower() + "_backward_step"] == T
    array_path = _outputs_and_grads(mode, reverse=reverse, mask=mask)
    unrolled = _outputs_and_grads(mode, reverse=reverse, mask=mask, fused=False)
    for a, b, c in zip(ours, array_path, unrolled):
        np.testing.assert_allclose(a, b, rtol=1e-12, atol=1e-12)
        np.testing.assert_allclose(a, c, rtol=1e-12, atol=1e-12)


@pytest.mark.parametrize("mode", ["LSTM", "GRU"])
@pytest.mark.parametrize("reverse", [False, True])
@pytest.mark.parametrize("masked", [False, True])
@pytest.mark.parametrize("bias", [True, False])
def test_gradcheck_on_kernels(mode, reverse, masked, bias, launches):
    with kernels.emulate():
        assert nr.autograd.gradcheck(_seq(mode, reverse, _mask(masked)), _tensors(mode, bias),
                                     max_elements=200)
    assert launches[mode.lower() + "_backward_step"]


@pytest.mark.parametrize("mode", ["LSTM", "GRU"])
def test_double_backward_falls_back_to_unrolled(mode, launches):
    with kernels.emulate():
        assert nr.autograd.gradgradcheck(_seq(mode), _tensors(mode), max_elements=20)
    assert launches[mode.lower() + "_forward_step"]


def test_masked_steps_are_inert():
    mask = _mask(True)
    with kernels.emulate():
        outs = _outputs_and_grads("LSTM", mask=mask)
    assert np.all(outs[0][~mask] == 0)       # padded outputs are zero
    assert np.all(outs[3][~mask] == 0)       # padded inputs get no gradient


def test_float32_stays_float32(launches):
    ts = [nr.tensor(a.astype(np.float32), requires_grad=True) for a in _arrays("LSTM")]
    with kernels.emulate():
        y, (h, c) = R.recurrent_sequence("LSTM", ts[0], (ts[1], ts[2]), *ts[3:])
        (y.sum() + h.sum() + c.sum()).backward()
    assert y.dtype == h.dtype == c.dtype == ts[3].grad.dtype == nr.float32
    assert launches["lstm_forward_step"] == T


# --- nn.LSTM / nn.GRU against torch --------------------------------------------------------------
def _pair(kind, *args, **kwargs):
    torch.manual_seed(0)
    theirs = getattr(torch.nn, kind)(*args, **kwargs)
    ours = getattr(nn_rnn, kind)(*args, **kwargs)
    ours.load_state_dict({k: v.detach().numpy() for k, v in theirs.state_dict().items()})
    return ours, theirs


def _flat(out):
    y, h = out
    y = y.data if hasattr(y, "batch_sizes") else y  # a packed sequence's data
    return [y] + (list(h) if isinstance(h, tuple) else [h])


def _compare(ours, theirs, make_input, arrays):
    """Outputs and gradients of inputs and parameters, ours (emulated kernels) vs torch."""
    oi = [nr.tensor(a, requires_grad=True) for a in arrays]
    ti = [torch.tensor(a, requires_grad=True) for a in arrays]
    with kernels.emulate():
        oo = _flat(make_input(ours, oi, nn_utils))
        to = _flat(make_input(theirs, ti, torch.nn.utils.rnn))
        for o, t in zip(oo, to):
            np.testing.assert_allclose(o.detach().numpy(), t.detach().numpy(), atol=1e-5)
        ups = [RNG.standard_normal(tuple(t.shape)).astype(np.float32) for t in to]
        sum((o * nr.tensor(u)).sum() for o, u in zip(oo, ups)).backward()
        sum((t * torch.tensor(u)).sum() for t, u in zip(to, ups)).backward()
    for o, t in zip(oi, ti):
        np.testing.assert_allclose(o.grad.numpy(), t.grad.numpy(), atol=1e-5, rtol=1e-4)
    tp = dict(theirs.named_parameters())
    for n, p in ours.named_parameters():
        np.testing.assert_allclose(p.grad.numpy(), tp[n].grad.numpy(), atol=1e-5, rtol=1e-4,
                                   err_msg=n)


def _f32(*shape):
    return RNG.standard_normal(shape).astype(np.float32)


@pytest.mark.parametrize("kind", ["LSTM", "GRU"])
@pytest.mark.parametrize("bidir", [False, True])
@pytest.mark.parametrize("bias", [True, False])
def test_layers_match_torch(kind, bidir, bias, launches):
    ours, theirs = _pair(kind, 3, 4, num_layers=2, bidirectional=bidir, batch_first=True,
                         bias=bias)
    D = 2 if bidir else 1
    arrays = [_f32(2, 5, 3), _f32(2 * D, 2, 4)] + ([_f32(2 * D, 2, 4)] if kind == "LSTM" else [])

    def run(m, xs, utils):
        return m(xs[0], (xs[1], xs[2]) if kind == "LSTM" else xs[1])
    _compare(ours, theirs, run, arrays)
    assert launches[kind.lower() + "_backward_step"] == 5 * 2 * D


@pytest.mark.parametrize("kind", ["LSTM", "GRU"])
def test_packed_layers_match_torch(kind, launches):
    ours, theirs = _pair(kind, 3, 4, num_layers=2, bidirectional=True)
    lengths = [3, 5, 1, 4]
    arrays = [_f32(5, 4, 3), _f32(4, 4, 4)] + ([_f32(4, 4, 4)] if kind == "LSTM" else [])

    def run(m, xs, utils):
        packed = utils.pack_padded_sequence(xs[0], lengths, enforce_sorted=False)
        return m(packed, (xs[1], xs[2]) if kind == "LSTM" else xs[1])
    _compare(ours, theirs, run, arrays)
    assert launches[kind.lower() + "_forward_step"]
