"""Sparse embedding gradients (``Embedding(sparse=True)``) and the optimizers that take
them (SGD, Adagrad, SparseAdam) against torch, through the public API; plus save/load of
sparse tensors."""
import warnings

import numpy as np
import pytest
import torch

import narae as nr
from narae.sparse import _optim as so
from helpers import randn

warnings.filterwarnings("ignore", message="Sparse invariant checks")
pytestmark = pytest.mark.filterwarnings("ignore::UserWarning")

IDX = np.array([[0, 1, 3], [3, 0, 4]])
IDX2 = np.array([[2, 2, 0], [1, 4, 4]])


def _np(t):
    return t.detach().numpy() if isinstance(t, torch.Tensor) else np.asarray(t.detach()._data)


def lookup(w, idx, padding_idx=None):
    return nr.nn.functional.embedding(nr.tensor(idx), w, padding_idx, sparse=True)


def loss_of(m, rows, target):
    return ((rows - target) ** 2).sum() + rows.sum()


@pytest.mark.parametrize("padding_idx", [None, 0])
def test_embedding_sparse_grad(padding_idx):
    w = randn(5, 3).astype(np.float32)
    tgt = randn(2, 3, 3).astype(np.float32)
    ours = nr.tensor(w, requires_grad=True)
    emb = torch.nn.Embedding(5, 3, padding_idx=padding_idx, sparse=True)
    with torch.no_grad():
        emb.weight.copy_(torch.tensor(w))
    loss_of(nr, lookup(ours, IDX, padding_idx), nr.tensor(tgt)).backward()
    loss_of(torch, emb(torch.tensor(IDX)), torch.tensor(tgt)).backward()
    g, gt = ours.grad, emb.weight.grad
    assert g.is_sparse and gt.is_sparse and not g.is_coalesced()
    np.testing.assert_array_equal(_np(g._indices()), _np(gt._indices()))   # looked-up rows
    np.testing.assert_allclose(_np(g._values()), _np(gt._values()), atol=1e-5)
    np.testing.assert_allclose(_np(g.to_dense()), _np(gt.to_dense()), atol=1e-5)


def test_embedding_bag_sparse_grad():
    w = randn(5, 3).astype(np.float32)
    ours = nr.tensor(w, requires_grad=True)
    bag = torch.nn.EmbeddingBag(5, 3, mode="sum", sparse=True)
    with torch.no_grad():
        bag.weight.copy_(torch.tensor(w))
    tgt = randn(2, 3).astype(np.float32)
    ((nr.nn.functional.embedding_bag(nr.tensor(IDX), ours, mode="sum", sparse=True)
      - nr.tensor(tgt)) ** 2).sum().backward()
    ((bag(torch.tensor(IDX)) - torch.tensor(tgt)) ** 2).sum().backward()
    assert ours.grad.is_sparse
    np.testing.assert_array_equal(_np(ours.grad._indices()), _np(bag.weight.grad._indices()))
    np.testing.assert_allclose(_np(ours.grad.to_dense()), _np(bag.weight.grad.to_dense()),
                               atol=1e-5)


def test_two_lookups_accumulate_sparse():
    w = randn(5, 3).astype(np.float32)
    ours = nr.tensor(w, requires_grad=True)
    tw = torch.tensor(w, requires_grad=True)
    (lookup(ours, IDX).sum() + (lookup(ours, IDX2) ** 2).sum()).backward()
    (torch.nn.functional.embedding(torch.tensor(IDX), tw, sparse=True).sum() +
     (torch.nn.functional.embedding(torch.tensor(IDX2), tw, sparse=True) ** 2).sum()).backward()
    assert ours.grad.is_sparse and ours.grad._nnz() == tw.grad._nnz() == 12
    np.testing.assert_allclose(_np(ours.grad.to_dense()), _np(tw.grad.to_dense()), atol=1e-5)
    # and a dense gradient meeting it makes the sum dense
    ours.grad = None
    (lookup(ours, IDX).sum() + (ours * 2).sum()).backward()
    assert not ours.grad.is_sparse


def _steps(name, n=4, **kw):
    """n steps of torch's and narae's optimizer ``name`` on Embedding(sparse=True)."""
    w = randn(5, 3).astype(np.float32)
    tgt = randn(2, 3, 3).astype(np.float32)
    emb = torch.nn.Embedding(5, 3, sparse=True)
    ours = nr.nn.Embedding(5, 3, sparse=True)
    with torch.no_grad():
        emb.weight.copy_(torch.tensor(w))
    ours.weight.data = nr.tensor(w)
    opt = getattr(torch.optim, name)([emb.weight], **kw)
    our_opt = getattr(nr.optim, name)(ours.parameters(), **kw)
    for i in range(n):
        idx = IDX if i % 2 == 0 else IDX2
        opt.zero_grad()
        loss_of(torch, emb(torch.tensor(idx)), torch.tensor(tgt)).backward()
        opt.step()
        our_opt.zero_grad()
        loss_of(nr, ours(nr.tensor(idx)), nr.tensor(tgt)).backward()
        assert ours.weight.grad.is_sparse
        our_opt.step()
        np.testing.assert_allclose(_np(ours.weight), _np(emb.weight), atol=1e-5, rtol=1e-4,
                                   err_msg=f"step {i + 1}")


@pytest.mark.parametrize("kw", [{}, {"momentum": 0.9}, {"momentum": 0.9, "nesterov": True},
                                {"momentum": 0.5, "dampening": 0.3}, {"maximize": True}])
def test_sgd_sparse(kw):
    _steps("SGD", lr=0.1, **kw)


@pytest.mark.parametrize("kw", [{}, {"lr_decay": 0.1}, {"maximize": True},
                                {"initial_accumulator_value": 0.5}])
def test_adagrad_sparse(kw):
    _steps("Adagrad", lr=0.1, **kw)


@pytest.mark.parametrize("kw", [{}, {"maximize": True}, {"betas": (0.8, 0.9), "eps": 1e-6}])
def test_sparse_adam(kw):
    _steps("SparseAdam", lr=0.05, **kw)


def test_optimizer_errors_like_torch():
    w = nr.nn.Parameter(nr.tensor(randn(5, 3).astype(np.float32)))
    lookup(w, IDX).sum().backward()
    with pytest.raises(RuntimeError, match="add\\(sparse, dense\\) is not supported"):
        nr.optim.SGD([w], lr=0.1, weight_decay=0.1).step()
    with pytest.raises(RuntimeError, match="weight_decay option is not compatible"):
        nr.optim.Adagrad([w], lr=0.1, weight_decay=0.1).step()
    with pytest.raises(RuntimeError, match="Adam does not support sparse gradients, please "
                                           "consider SparseAdam instead"):
        nr.optim.Adam([w]).step()
    with pytest.raises(RuntimeError, match="RMSprop does not support sparse gradients"):
        nr.optim.RMSprop([w]).step()
    assert so.is_sparse_grad(w)
    dense = nr.nn.Parameter(nr.ones(3))
    (dense * 2).sum().backward()
    with pytest.raises(RuntimeError, match="SparseAdam does not support dense gradients"):
        nr.optim.SparseAdam([dense]).step()


def test_clip_grad_norm_sparse():
    w = randn(5, 3).astype(np.float32)
    for p in (2.0, 1.0, float("inf")):
        ours = nr.nn.Parameter(nr.tensor(w))
        tw = torch.tensor(w, requires_grad=True)
        (lookup(ours, IDX) ** 2).sum().backward()
        (torch.nn.functional.embedding(torch.tensor(IDX), tw, sparse=True) ** 2).sum().backward()
        dense = tw.grad.to_dense()   # (torch's clip_grad_norm_ refuses sparse gradients)
        want = torch.linalg.vector_norm(dense, p)
        got = nr.nn.utils.clip_grad_norm_([ours], 0.5, norm_type=p)
        np.testing.assert_allclose(float(got), float(want), rtol=1e-5)
        assert ours.grad.is_sparse
        np.testing.assert_allclose(_np(ours.grad.to_dense()),
                                   _np(dense) * min(1.0, 0.5 / (float(want) + 1e-6)), rtol=1e-5)


def test_save_load_sparse(tmp_path):
    ix = nr.tensor([[0, 1, 1], [2, 0, 2]])
    s = nr.sparse_coo_tensor(ix, nr.tensor([1.0, 2.0, 3.0]), (2, 3))
    h = nr.sparse_coo_tensor(ix[:1], nr.randn(3, 2, dtype=nr.float64), (4, 2)).coalesce()
    state = {"weight": nr.ones(2), "adj": s, "nested": {"h": h, "n": 3}}
    path = tmp_path / "s.safetensors"
    nr.save(state, str(path))
    back = nr.load(str(path))
    assert back["adj"].is_sparse and back["nested"]["h"].is_sparse and back["nested"]["n"] == 3
    for a, b in ((back["adj"], s), (back["nested"]["h"], h)):
        assert tuple(a.shape) == tuple(b.shape) and a.dtype == b.dtype
        assert a.is_coalesced() == b.is_coalesced()
        np.testing.assert_array_equal(_np(a._indices()), _np(b._indices()))
        np.testing.assert_array_equal(_np(a._values()), _np(b._values()))
    np.testing.assert_array_equal(_np(back["weight"]), np.ones(2))
    raw = path.read_bytes()
    assert b"pickle" not in raw
