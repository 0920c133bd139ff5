"""RNN / LSTM / GRU layers and cells: structure, init, forward and backward parity with torch."""
import math
import warnings

import numpy as np
import pytest
import torch

import narae as nr
from narae.nn import rnn as R

RNG = np.random.default_rng(7)
KINDS = [("RNN", {}), ("RNN", {"nonlinearity": "relu"}), ("LSTM", {}), ("GRU", {})]
IDS = ["rnn_tanh", "rnn_relu", "lstm", "gru"]


def _np(t):
    return t.detach().numpy() if isinstance(t, torch.Tensor) else t.detach().numpy()


def _pair(kind, *args, **kwargs):
    torch.manual_seed(0)
    theirs = getattr(torch.nn, kind)(*args, **kwargs)
    ours = getattr(R, kind)(*args, **kwargs)
    res = ours.load_state_dict({k: v.detach().numpy() for k, v in theirs.state_dict().items()})
    assert not res.missing_keys and not res.unexpected_keys
    return ours, theirs


def _flat(out):
    """(output, h) or (output, (h, c)) -> [output, h(, c)]."""
    y, h = out
    return [y] + (list(h) if isinstance(h, tuple) else [h])


def _compare(ours, theirs, arrays, atol=1e-5, rtol=1e-4, call=None):
    """Run both on the same inputs (float arrays require grad); compare outputs and all grads."""
    oi = [nr.tensor(a, requires_grad=True) for a in arrays]
    ti = [torch.tensor(a, requires_grad=True) for a in arrays]
    call = call or (lambda m, xs: m(*xs))
    oo, to = _flat(call(ours, oi)), _flat(call(theirs, ti))
    assert len(oo) == len(to)
    for k, (o, t) in enumerate(zip(oo, to)):
        assert tuple(o.shape) == tuple(t.shape), f"output {k}: {o.shape} != {tuple(t.shape)}"
        np.testing.assert_allclose(_np(o), _np(t), atol=atol, rtol=rtol, err_msg=f"output {k}")
    ups = [RNG.standard_normal(tuple(t.shape)).astype(np.float32) for t in to]
    sum((o * nr.tensor(u)).sum() for o, u in zip(oo, ups)).backward()
    sum((t * torch.tensor(u)).sum() for t, u in zip(to, ups)).backward()
    for k, (o, t) in enumerate(zip(oi, ti)):
        np.testing.assert_allclose(_np(o.grad), _np(t.grad), atol=atol, rtol=rtol,
                                   err_msg=f"gradient of input {k}")
    tp = dict(theirs.named_parameters())
    for n, p in ours.named_parameters():
        np.testing.assert_allclose(_np(p.grad), _np(tp[n].grad), atol=atol, rtol=rtol,
                                   err_msg=f"gradient of {n}")


def _f32(*shape):
    return RNG.standard_normal(shape).astype(np.float32)


# (num_layers, bidirectional, batch_first, given initial state)
CONFIGS = [(1, False, False, False), (1, True, True, True), (2, False, True, True),
           (2, True, False, False), (3, True, False, True)]


@pytest.mark.parametrize("kind,kw", KINDS, ids=IDS)
@pytest.mark.parametrize("layers,bidir,batch_first,given", CONFIGS)
def test_layer_parity(kind, kw, layers, bidir, batch_first, given):
    ours, theirs = _pair(kind, 3, 4, num_layers=layers, bidirectional=bidir,
                         batch_first=batch_first, **kw)
    x = _f32(2, 5, 3) if batch_first else _f32(5, 2, 3)
    arrays = [x]
    D = 2 if bidir else 1
    if given:
        arrays += [_f32(layers * D, 2, 4)] + ([_f32(layers * D, 2, 4)] if kind == "LSTM" else [])

    def call(m, xs):
        if len(xs) == 1:
            return m(xs[0])
        return m(xs[0], (xs[1], xs[2]) if kind == "LSTM" else xs[1])
    _compare(ours, theirs, arrays, call=call)


@pytest.mark.parametrize("kind,kw", KINDS, ids=IDS)
@pytest.mark.parametrize("bidir", [False, True])
def test_unbatched_input(kind, kw, bidir):
    ours, theirs = _pair(kind, 3, 4, num_layers=2, bidirectional=bidir, **kw)
    D = 2 if bidir else 1
    arrays = [_f32(5, 3), _f32(2 * D, 4)] + ([_f32(2 * D, 4)] if kind == "LSTM" else [])

    def call(m, xs):
        return m(xs[0], (xs[1], xs[2]) if kind == "LSTM" else xs[1])
    _compare(ours, theirs, arrays, call=call)


@pytest.mark.parametrize("kind,kw", KINDS, ids=IDS)
def test_no_bias(kind, kw):
    ours, theirs = _pair(kind, 3, 4, bias=False, bidirectional=True, **kw)
    assert [n for n, _ in ours.named_parameters()] == [n for n, _ in theirs.named_parameters()]
    _compare(ours, theirs, [_f32(4, 2, 3)])


@pytest.mark.parametrize("kind,kw", KINDS, ids=IDS)
def test_structure_matches_torch(kind, kw):
    ours, theirs = _pair(kind, 5, 6, num_layers=2, bidirectional=True, batch_first=True, **kw)
    assert [(n, tuple(p.shape)) for n, p in ours.named_parameters()] == \
        [(n, tuple(p.shape)) for n, p in theirs.named_parameters()]
    assert list(ours.state_dict()) == list(theirs.state_dict())
    assert repr(ours).replace("narae.", "") == repr(theirs)
    assert [[tuple(w.shape) for w in ws] for ws in ours.all_weights] == \
        [[tuple(w.shape) for w in ws] for ws in theirs.all_weights]


@pytest.mark.parametrize("kind", ["RNN", "LSTM", "GRU"])
def test_default_init_is_uniform_in_bound(kind):
    m = getattr(R, kind)(3, 16, num_layers=2)
    bound = 1 / math.sqrt(16)
    values = np.concatenate([p.detach().numpy().ravel() for p in m.parameters()])
    assert np.all(np.abs(values) <= bound)
    assert values.std() > bound / 3  # spread over the interval, not constant
    nr.manual_seed(3)
    a = getattr(R, kind)(3, 4)
    nr.manual_seed(3)
    b = getattr(R, kind)(3, 4)
    np.testing.assert_array_equal(a.weight_hh_l0.detach().numpy(), b.weight_hh_l0.detach().numpy())


def test_dropout_between_layers():
    ours, theirs = _pair("LSTM", 3, 4, num_layers=2, dropout=0.5)
    x = nr.tensor(_f32(6, 2, 3))
    ours.eval()
    theirs.eval()
    np.testing.assert_allclose(_np(ours(x)[0]), _np(theirs(torch.tensor(x.numpy()))[0]),
                               atol=1e-5)
    ours.train()
    nr.manual_seed(0)
    a = _np(ours(x)[0])
    nr.manual_seed(1)
    b = _np(ours(x)[0])
    assert not np.allclose(a, b)  # dropout is active in training
    with pytest.warns(UserWarning, match="non-zero dropout expects num_layers greater than 1"):
        R.GRU(3, 4, dropout=0.2)


def test_double_backward_matches_torch():
    """create_graph through the fused LSTM node (via the unrolled fallback) equals torch's."""
    ours, theirs = _pair("LSTM", 2, 3)
    x = _f32(3, 2, 2)
    ox, tx = nr.tensor(x, requires_grad=True), torch.tensor(x, requires_grad=True)
    (og,) = nr.autograd.grad((ours(ox)[0] ** 2).sum(), [ox], create_graph=True)
    (tg,) = torch.autograd.grad((theirs(tx)[0] ** 2).sum(), [tx], create_graph=True)
    np.testing.assert_allclose(_np(og), _np(tg), atol=1e-5)
    (og ** 2).sum().backward()
    (tg ** 2).sum().backward()
    np.testing.assert_allclose(_np(ox.grad), _np(tx.grad), atol=1e-4, rtol=1e-3)
    np.testing.assert_allclose(_np(ours.weight_hh_l0.grad), _np(theirs.weight_hh_l0.grad),
                               atol=1e-4, rtol=1e-3)


def test_float64_module():
    m = R.GRU(3, 4, dtype=nr.float64)
    y, h = m(nr.randn(5, 2, 3, dtype=nr.float64))
    assert y.dtype == nr.float64 and h.dtype == nr.float64


# -- errors ---------------------------------------------------------------------------------------
def test_errors_name_the_shapes():
    m = R.LSTM(3, 4, num_layers=2)
    with pytest.raises(RuntimeError, match="Expected 3, got 5"):
        m(nr.randn(6, 2, 5))
    with pytest.raises(ValueError, match="Expected input to be 2D or 3D"):
        m(nr.randn(6, 2, 3, 1))
    with pytest.raises(RuntimeError, match=r"Expected hidden size \(2, 2, 4\), got \[1, 2, 4\]"):
        m(nr.randn(6, 2, 3), (nr.zeros(1, 2, 4), nr.zeros(1, 2, 4)))
    with pytest.raises(RuntimeError, match="hx should also be 2-D"):
        m(nr.randn(6, 3), (nr.zeros(2, 1, 4), nr.zeros(2, 1, 4)))
    with pytest.raises(RuntimeError, match="hx should also be 3-D"):
        R.GRU(3, 4)(nr.randn(6, 2, 3), nr.zeros(1, 4))
    with pytest.raises(ValueError, match="Unknown nonlinearity"):
        R.RNN(3, 4, nonlinearity="sigmoid")
    with pytest.raises(ValueError, match="dropout should be a number"):
        R.LSTM(3, 4, dropout=1.5)
    with pytest.raises(ValueError, match="hidden_size must be greater than zero"):
        R.LSTM(3, 0)


# -- cells ----------------------------------------------------------------------------------------
CELLS = [("RNNCell", {}), ("RNNCell", {"nonlinearity": "relu"}), ("LSTMCell", {}),
         ("GRUCell", {}), ("LSTMCell", {"bias": False})]


@pytest.mark.parametrize("kind,kw", CELLS)
@pytest.mark.parametrize("batched", [True, False])
def test_cell_parity(kind, kw, batched):
    ours, theirs = _pair(kind, 3, 4, **kw)
    assert list(ours.state_dict()) == list(theirs.state_dict())
    assert repr(ours).replace("narae.", "") == repr(theirs)
    lead = (2,) if batched else ()
    lstm = kind == "LSTMCell"
    arrays = [_f32(*lead, 3), _f32(*lead, 4)] + ([_f32(*lead, 4)] if lstm else [])

    def call(m, xs):
        out = m(xs[0], (xs[1], xs[2]) if lstm else xs[1])
        return (out[0], out[1]) if lstm else (out, out * 0)
    _compare(ours, theirs, arrays, call=call)


@pytest.mark.parametrize("kind", ["RNNCell", "LSTMCell", "GRUCell"])
def test_cell_default_state_and_errors(kind):
    ours, theirs = _pair(kind, 3, 4)
    x = _f32(2, 3)
    o, t = ours(nr.tensor(x)), theirs(torch.tensor(x))
    o, t = (o if isinstance(o, tuple) else (o,)), (t if isinstance(t, tuple) else (t,))
    for a, b in zip(o, t):
        np.testing.assert_allclose(_np(a), _np(b), atol=1e-5)
    with pytest.raises(ValueError, match="Expected input to be 1D or 2D"):
        ours(nr.randn(1, 2, 3))
    with pytest.raises(RuntimeError, match="input_size"):
        ours(nr.randn(2, 5))


def test_cells_unrolled_equal_layer():
    """An LSTMCell stepped by hand equals the LSTM layer with the same weights."""
    layer = R.LSTM(3, 4)
    cell = R.LSTMCell(3, 4)
    cell.load_state_dict({k[:-3]: v for k, v in layer.state_dict().items()})
    x = nr.randn(5, 2, 3)
    y, (hn, cn) = layer(x)
    h = c = None
    for t in range(5):
        h, c = cell(x[t], None if h is None else (h, c))
        np.testing.assert_allclose(h.detach().numpy(), y[t].detach().numpy(), atol=1e-6)
    np.testing.assert_allclose(c.detach().numpy(), cn[0].detach().numpy(), atol=1e-6)


def test_no_warnings_on_plain_use():
    with warnings.catch_warnings():
        warnings.simplefilter("error")
        R.LSTM(3, 4, num_layers=2, dropout=0.1)(nr.randn(4, 2, 3))
