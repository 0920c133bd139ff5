"""Variable-length batches: pad/pack utilities and packed RNN/LSTM/GRU (torch parity)."""
import numpy as np
import pytest
import torch
import torch.nn.utils.rnn as TU

import narae as nr
from narae.nn import rnn as R
from narae.nn.utils import rnn as U

RNG = np.random.default_rng(11)


def _f32(*shape):
    return RNG.standard_normal(shape).astype(np.float32)


def _np(t):
    return t.detach().numpy()


def _seqs(lengths, feat=3):
    return [_f32(n, feat) for n in lengths]


@pytest.mark.parametrize("batch_first", [False, True])
@pytest.mark.parametrize("side", ["right", "left"])
def test_pad_sequence_matches_torch(batch_first, side):
    arrays = _seqs([4, 2, 5])
    ours = [nr.tensor(a, requires_grad=True) for a in arrays]
    theirs = [torch.tensor(a, requires_grad=True) for a in arrays]
    o = U.pad_sequence(ours, batch_first, -1.0, side)
    t = TU.pad_sequence(theirs, batch_first, -1.0, side)
    np.testing.assert_array_equal(_np(o), _np(t))
    up = _f32(*t.shape)
    (o * nr.tensor(up)).sum().backward()
    (t * torch.tensor(up)).sum().backward()
    for a, b in zip(ours, theirs):
        np.testing.assert_array_equal(_np(a.grad), _np(b.grad))


@pytest.mark.parametrize("enforce_sorted,lengths", [(True, [5, 3, 3, 1]), (False, [2, 5, 1, 4])])
@pytest.mark.parametrize("batch_first", [False, True])
def test_pack_pad_round_trip_matches_torch(enforce_sorted, lengths, batch_first):
    x = _f32(4, 5, 3) if batch_first else _f32(5, 4, 3)
    ox, tx = nr.tensor(x, requires_grad=True), torch.tensor(x, requires_grad=True)
    op = U.pack_padded_sequence(ox, lengths, batch_first, enforce_sorted)
    tp = TU.pack_padded_sequence(tx, lengths, batch_first, enforce_sorted)
    np.testing.assert_array_equal(_np(op.data), _np(tp.data))
    assert op.batch_sizes.tolist() == tp.batch_sizes.tolist()
    if enforce_sorted:
        assert op.sorted_indices is None and op.unsorted_indices is None
    else:
        assert op.sorted_indices.tolist() == tp.sorted_indices.tolist()
        assert op.unsorted_indices.tolist() == tp.unsorted_indices.tolist()
    opad, olen = U.pad_packed_sequence(op, batch_first, padding_value=9.0, total_length=6)
    tpad, tlen = TU.pad_packed_sequence(tp, batch_first, padding_value=9.0, total_length=6)
    np.testing.assert_array_equal(_np(opad), _np(tpad))
    assert olen.tolist() == tlen.tolist() and olen.dtype == nr.int64
    up = _f32(*tpad.shape)
    (opad * nr.tensor(up)).sum().backward()
    (tpad * torch.tensor(up)).sum().backward()
    np.testing.assert_array_equal(_np(ox.grad), _np(tx.grad))


def test_pack_sequence_and_unpack():
    arrays = _seqs([3, 5, 1])
    op = U.pack_sequence([nr.tensor(a) for a in arrays], enforce_sorted=False)
    tp = TU.pack_sequence([torch.tensor(a) for a in arrays], enforce_sorted=False)
    np.testing.assert_array_equal(_np(op.data), _np(tp.data))
    for a, b in zip(U.unpack_sequence(op), arrays):
        np.testing.assert_array_equal(_np(a), b)
    padded = U.pad_sequence([nr.tensor(a) for a in arrays], batch_first=True)
    for a, b in zip(U.unpad_sequence(padded, [3, 5, 1], batch_first=True), arrays):
        np.testing.assert_array_equal(_np(a), b)


def test_pack_errors():
    x = nr.randn(5, 3, 2)
    with pytest.raises(RuntimeError, match="sorted in decreasing order"):
        U.pack_padded_sequence(x, [2, 5, 1])
    with pytest.raises(RuntimeError, match="greater than 0"):
        U.pack_padded_sequence(x, [5, 2, 0])
    with pytest.raises(RuntimeError, match="batch_size=3"):
        U.pack_padded_sequence(x, [5, 2])
    with pytest.raises(RuntimeError, match="exceeds"):
        U.pack_padded_sequence(x, [7, 2, 1])
    p = U.pack_padded_sequence(x, [5, 2, 1])
    with pytest.raises(ValueError, match="total_length=3"):
        U.pad_packed_sequence(p, total_length=3)
    with pytest.raises(ValueError, match="padding_side"):
        U.pad_sequence([x[0]], padding_side="middle")


@pytest.mark.parametrize("kind", ["RNN", "LSTM", "GRU"])
@pytest.mark.parametrize("bidir", [False, True])
def test_packed_equals_each_sequence_alone(kind, bidir):
    """Valid-step outputs equal running each sequence alone; padded steps get no gradient."""
    m = getattr(R, kind)(3, 4, num_layers=2, bidirectional=bidir, batch_first=True)
    lengths = [2, 5, 3]
    x = nr.tensor(_f32(3, 5, 3), requires_grad=True)
    packed = U.pack_padded_sequence(x, lengths, batch_first=True, enforce_sorted=False)
    out, hn = m(packed)
    y, lens = U.pad_packed_sequence(out, batch_first=True)
    assert lens.tolist() == lengths
    h = hn[0] if kind == "LSTM" else hn
    for b, n in enumerate(lengths):
        alone_y, alone_h = m(x[b:b + 1, :n].detach())
        alone_h = alone_h[0] if kind == "LSTM" else alone_h
        np.testing.assert_allclose(_np(y[b, :n]), _np(alone_y[0]), atol=1e-5)
        assert np.all(_np(y[b, n:]) == 0)
        np.testing.assert_allclose(_np(h[:, b]), _np(alone_h[:, 0]), atol=1e-5)
    (y.sum() + (h * h).sum()).backward()
    g = x.grad.numpy()
    for b, n in enumerate(lengths):
        assert np.all(g[b, n:] == 0) and np.any(g[b, :n] != 0)


@pytest.mark.parametrize("kind", ["LSTM", "GRU", "RNN"])
def test_packed_parity_with_torch(kind):
    torch.manual_seed(0)
    theirs = getattr(torch.nn, kind)(3, 4, num_layers=2, bidirectional=True)
    ours = getattr(R, kind)(3, 4, num_layers=2, bidirectional=True)
    ours.load_state_dict({k: v.detach().numpy() for k, v in theirs.state_dict().items()})
    lengths = [3, 5, 1, 4]
    x, h0, c0 = _f32(5, 4, 3), _f32(4, 4, 4), _f32(4, 4, 4)
    ox, oh, oc = (nr.tensor(a, requires_grad=True) for a in (x, h0, c0))
    tx, th, tc = (torch.tensor(a, requires_grad=True) for a in (x, h0, c0))
    ohx = (oh, oc) if kind == "LSTM" else oh
    thx = (th, tc) if kind == "LSTM" else th
    oo, ohn = ours(U.pack_padded_sequence(ox, lengths, enforce_sorted=False), ohx)
    to, thn = theirs(TU.pack_padded_sequence(tx, lengths, enforce_sorted=False), thx)
    np.testing.assert_allclose(_np(oo.data), _np(to.data), atol=1e-5)
    ohn = list(ohn) if kind == "LSTM" else [ohn]
    thn = list(thn) if kind == "LSTM" else [thn]
    for a, b in zip(ohn, thn):
        np.testing.assert_allclose(_np(a), _np(b), atol=1e-5)
    up = _f32(*to.data.shape)
    ((oo.data * nr.tensor(up)).sum() + sum((a * a).sum() for a in ohn)).backward()
    ((to.data * torch.tensor(up)).sum() + sum((b * b).sum() for b in thn)).backward()
    np.testing.assert_allclose(_np(ox.grad), _np(tx.grad), atol=1e-5)
    np.testing.assert_allclose(_np(oh.grad), _np(th.grad), atol=1e-5)
    if kind == "LSTM":
        np.testing.assert_allclose(_np(oc.grad), _np(tc.grad), atol=1e-5)
    tp = dict(theirs.named_parameters())
    for n, p in ours.named_parameters():
        np.testing.assert_allclose(_np(p.grad), _np(tp[n].grad), atol=1e-5, rtol=1e-4,
                                   err_msg=n)


def test_packed_sequence_fields():
    p = U.pack_sequence([nr.randn(3, 2), nr.randn(1, 2)])
    data, batch_sizes, sorted_indices, unsorted_indices = p
    assert batch_sizes.tolist() == [2, 1, 1]
    assert sorted_indices is None and unsorted_indices is None
    assert p.to(nr.float64).data.dtype == nr.float64
    assert not p.is_cuda
