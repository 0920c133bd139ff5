import numpy as np
import pytest
import torch

import narae as nr
from helpers import check, randn, RNG


def F(m):
    return m.nn.functional


def test_embedding_repeated_indices():
    idx = np.array([[0, 2, 2], [3, 0, 2]])
    check(lambda m, i, w: F(m).embedding(i, w), idx, randn(5, 3), double=True)
    check(lambda m, i, w: F(m).embedding(i, w), np.array(4), randn(5, 3))
    check(lambda m, i, w: F(m).embedding(i, w), idx.astype(np.int32), randn(5, 3))


@pytest.mark.parametrize("padding_idx", [1, -1, 0])
def test_embedding_padding_idx(padding_idx):
    idx = np.array([[1, 4, 1], [0, 4, 2]])
    # the padding row's gradient is zeroed on purpose: not the true derivative, no gradcheck
    check(lambda m, i, w: F(m).embedding(i, w, padding_idx=padding_idx), idx, randn(5, 2),
          gradcheck=False)
    w = nr.randn(5, 2, requires_grad=True)
    F(nr).embedding(nr.tensor(idx), w, padding_idx=padding_idx).sum().backward()
    assert (w.grad.numpy()[padding_idx] == 0).all()


def test_embedding_scale_grad_by_freq():
    idx = np.array([0, 1, 1, 1, 3, 0])
    # a rescaled gradient on purpose: torch parity only
    check(lambda m, i, w: F(m).embedding(i, w, scale_grad_by_freq=True), idx, randn(4, 3),
          gradcheck=False)
    check(lambda m, i, w: F(m).embedding(i, w, padding_idx=3, scale_grad_by_freq=True), idx,
          randn(4, 3), gradcheck=False)


@pytest.mark.parametrize("norm_type", [2.0, 1.0])
def test_embedding_max_norm_renormalises_weight_in_place(norm_type):
    w0 = (randn(6, 4) * 3).astype(np.float32)
    idx = np.array([[0, 2], [5, 2]])
    ours, theirs = nr.tensor(w0, requires_grad=True), torch.tensor(w0, requires_grad=True)
    yo = F(nr).embedding(nr.tensor(idx), ours, max_norm=1.5, norm_type=norm_type)
    yt = F(torch).embedding(torch.tensor(idx), theirs, max_norm=1.5, norm_type=norm_type)
    np.testing.assert_allclose(yo.detach().numpy(), yt.detach().numpy(), rtol=1e-5)
    np.testing.assert_allclose(ours.detach().numpy(), theirs.detach().numpy(), rtol=1e-5)
    assert np.array_equal(ours.detach().numpy()[1], w0[1])  # rows not looked up: unchanged
    yo.sum().backward()
    yt.sum().backward()
    np.testing.assert_allclose(ours.grad.numpy(), theirs.grad.numpy())


def test_embedding_sparse_flag_gives_sparse_grad():
    w = nr.randn(4, 2, requires_grad=True)
    F(nr).embedding(nr.tensor([1, 1]), w, sparse=True).sum().backward()
    assert w.grad.is_sparse and w.grad._nnz() == 2   # one entry per lookup, as torch
    np.testing.assert_array_equal(w.grad.to_dense().numpy()[1], [2.0, 2.0])


def test_embedding_errors():
    w = nr.randn(5, 3)
    with pytest.raises(TypeError, match=r"integer.*float32"):
        F(nr).embedding(nr.tensor([0.0, 1.0]), w)
    with pytest.raises(RuntimeError, match="integer"):  # torch raises a RuntimeError
        F(nr).embedding(nr.tensor([0.0, 1.0]), w)
    with pytest.raises(IndexError, match=r"index 5 is out of range for 5 rows"):
        F(nr).embedding(nr.tensor([0, 5]), w)
    with pytest.raises(IndexError, match=r"index -1"):
        F(nr).embedding(nr.tensor([-1]), w)
    with pytest.raises(ValueError, match="padding_idx"):
        F(nr).embedding(nr.tensor([0]), w, padding_idx=7)
    with pytest.raises(RuntimeError, match=r"2-D.*\(5,\)"):
        F(nr).embedding(nr.tensor([0]), nr.randn(5))


@pytest.mark.parametrize("mode", ["sum", "mean", "max"])
def test_embedding_bag_2d(mode):
    idx = RNG.integers(0, 6, (3, 4))
    check(lambda m, i, w: F(m).embedding_bag(i, w, mode=mode), idx, randn(6, 3))


@pytest.mark.parametrize("mode", ["sum", "mean", "max"])
@pytest.mark.parametrize("include_last", [False, True])
def test_embedding_bag_offsets(mode, include_last):
    idx = np.array([1, 2, 4, 5, 4, 3, 2, 0])
    offsets = np.array([0, 2, 2, 5] + ([8] if include_last else []))
    check(lambda m, i, w, o: F(m).embedding_bag(i, w, o, mode=mode,
                                                include_last_offset=include_last),
          idx, randn(6, 3), offsets)


def test_embedding_bag_per_sample_weights_and_padding():
    idx = np.array([1, 2, 4, 5, 4, 3])
    offsets = np.array([0, 3])
    check(lambda m, i, w, o, s: F(m).embedding_bag(i, w, o, mode="sum", per_sample_weights=s),
          idx, randn(6, 3), offsets, randn(6))
    check(lambda m, i, w, o: F(m).embedding_bag(i, w, o, mode="mean", padding_idx=4),
          idx, randn(6, 3), offsets)


@pytest.mark.parametrize("mode", ["sum", "mean", "max"])
def test_embedding_bag_2d_padding_weights_and_empty(mode):
    # 2-D input: bags of one length reduce by a reshape, the padding rows masked out
    idx = np.array([[1, 4, 4, 2], [4, 4, 4, 4], [0, 5, 3, 4]])
    check(lambda m, i, w: F(m).embedding_bag(i, w, mode=mode, padding_idx=4), idx, randn(6, 3))
    if mode == "sum":
        check(lambda m, i, w, s: F(m).embedding_bag(i, w, mode="sum", per_sample_weights=s),
              idx, randn(6, 3), randn(3, 4))
    w = nr.randn(6, 3, requires_grad=True)
    out = F(nr).embedding_bag(nr.zeros(3, 0, dtype=nr.int64), w, mode=mode)
    assert out.shape == (3, 3) and not out.detach().numpy().any()
    out.sum().backward()
    assert w.grad.shape == (6, 3) and not w.grad.numpy().any()


@pytest.mark.parametrize("scipy", [True, False])
def test_embedding_gradient_scatter_paths(monkeypatch, scipy):
    # the weight's gradient is a scatter-add of rows: SciPy's sparse product or a flat add.at
    import narae.ops.embedding as embedding
    if not scipy:
        monkeypatch.setattr(embedding, "_SPARSE", [None])
    idx = RNG.integers(0, 7, (5, 9))  # many repeats
    check(lambda m, i, w: F(m).embedding(i, w), idx, randn(7, 4), double=True)
    check(lambda m, i, w: F(m).embedding(i, w, padding_idx=2, scale_grad_by_freq=True), idx,
          randn(7, 4), gradcheck=False)  # (the scaled gradient is not the true one)
    check(lambda m, i, w, o: F(m).embedding_bag(i, w, o, mode="mean"), idx.reshape(-1),
          randn(7, 4), np.array([0, 3, 3, 20]))


def test_embedding_bag_2d_max_norm():
    idx = RNG.integers(0, 6, (3, 4))
    w = randn(6, 3) * 3
    check(lambda m, i, w: F(m).embedding_bag(i, w.detach().clone().requires_grad_(True),
                                             mode="mean", max_norm=1.0), idx, w, grad=False,
          gradcheck=False)
