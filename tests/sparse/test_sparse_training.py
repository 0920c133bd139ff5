"""Sparse embedding gradients and the sparse-gradient optimizer updates against torch, plus
save/load of sparse tensors.

Until narae/ops/embedding.py and narae/optim/* dispatch to narae.sparse (see the lead's
notes), the lookup uses ``SparseGather`` and the updates the functions of
``narae.sparse._optim`` directly, exactly as those files will."""
import warnings

import numpy as np
import pytest
import torch

import narae as nr
from narae.sparse import _optim as so
from narae.sparse._embedding import SparseGather, SparseBagSum
from helpers import randn

warnings.filterwarnings("ignore", message="Sparse invariant checks")
pytestmark = pytest.mark.filterwarnings("ignore::UserWarning")

IDX = np.array([[0, 1, 3], [3, 0, 4]])
IDX2 = np.array([[2, 2, 0], [1, 4, 4]])


def _np(t):
    return t.detach().numpy() if isinstance(t, torch.Tensor) else np.asarray(t.detach()._data)


def lookup(w, idx, padding_idx=None):
    """``F.embedding(idx, w, padding_idx, sparse=True)`` as embedding.py will build it."""
    scale = None
    if padding_idx is not None:
        scale = np.ones(idx.shape, w._data.dtype)
        scale[idx == padding_idx] = 0
    return SparseGather(idx, w.shape[0], None, scale)(w)


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
    ((SparseBagSum(IDX, 5)(ours) - nr.tensor(tgt)) ** 2).sum().backward()
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


def _steps(make_torch_opt, update, n=4, **kw):
    """n steps of torch's optimizer on Embedding(sparse=True) and of ``update`` on narae."""
    w = randn(5, 3).astype(np.float32)
    tgt = randn(2, 3, 3).astype(np.float32)
    emb = torch.nn.Embedding(5, 3, sparse=True)
    with torch.no_grad():
        emb.weight.copy_(torch.tensor(w))
    opt = make_torch_opt([emb.weight])
    ours = nr.tensor(w, requires_grad=True)
    state = {}
    for i in range(n):
        idx = IDX if i % 2 == 0 else IDX2
        opt.zero_grad()
        loss_of(torch, emb(torch.tensor(idx)), torch.tensor(tgt)).backward()
        opt.step()
        ours.grad = None
        loss_of(nr, lookup(ours, idx), nr.tensor(tgt)).backward()
        assert ours.grad.is_sparse
        with nr.no_grad():
            update(ours, state, i + 1)
        np.testing.assert_allclose(_np(ours), _np(emb.weight), atol=1e-5, rtol=1e-4,
                                   err_msg=f"step {i + 1}")


@pytest.mark.parametrize("kw", [{}, {"momentum": 0.9}, {"momentum": 0.9, "nesterov": True},
                                {"momentum": 0.5, "dampening": 0.3}, {"maximize": True}])
def test_sgd_sparse(kw):
    full = dict(lr=0.1, momentum=0, dampening=0, weight_decay=0, nesterov=False,
                maximize=False)
    full.update(kw)

    def update(p, state, step):
        state["buf"] = so.sgd_sparse_update(p._data, p.grad._data, state.get("buf"), **full)
    _steps(lambda ps: torch.optim.SGD(ps, **{"lr": 0.1, **kw}), update)


@pytest.mark.parametrize("kw", [{}, {"lr_decay": 0.1}, {"maximize": True},
                                {"initial_accumulator_value": 0.5}])
def test_adagrad_sparse(kw):
    init = kw.get("initial_accumulator_value", 0.0)
    args = dict(lr=0.1, lr_decay=kw.get("lr_decay", 0), weight_decay=0, eps=1e-10,
                maximize=kw.get("maximize", False))

    def update(p, state, step):
        if "sum" not in state:
            state["sum"] = np.full(p.shape, init, np.float32)
        so.adagrad_sparse_update(p._data, p.grad._data, state["sum"], step, **args)
    _steps(lambda ps: torch.optim.Adagrad(ps, **{"lr": 0.1, **kw}), update)


@pytest.mark.parametrize("kw", [{}, {"maximize": True}, {"betas": (0.8, 0.9), "eps": 1e-6}])
def test_sparse_adam(kw):
    b1, b2 = kw.get("betas", (0.9, 0.999))
    args = dict(lr=0.05, beta1=b1, beta2=b2, eps=kw.get("eps", 1e-8),
                maximize=kw.get("maximize", False))

    def update(p, state, step):
        if "m" not in state:
            state["m"], state["v"] = np.zeros(p.shape, np.float32), np.zeros(p.shape, np.float32)
        so.sparse_adam_sparse_update(p._data, p.grad._data, state["m"], state["v"], step, **args)
    _steps(lambda ps: torch.optim.SparseAdam(ps, **{"lr": 0.05, **kw}), update)


def test_optimizer_errors_like_torch():
    w = nr.tensor(randn(5, 3).astype(np.float32), requires_grad=True)
    lookup(w, IDX).sum().backward()
    with pytest.raises(RuntimeError, match="add\\(sparse, dense\\) is not supported"):
        so.sgd_sparse_update(w._data, w.grad._data, None, lr=0.1, momentum=0, dampening=0,
                             weight_decay=0.1, nesterov=False, maximize=False)
    with pytest.raises(RuntimeError, match="weight_decay option is not compatible"):
        so.adagrad_sparse_update(w._data, w.grad._data, np.zeros((5, 3), np.float32), 1,
                                 lr=0.1, lr_decay=0, weight_decay=0.1, eps=1e-10,
                                 maximize=False)
    with pytest.raises(RuntimeError, match="Adam does not support sparse gradients, please "
                                           "consider SparseAdam instead"):
        so.reject_sparse_grad("Adam", w)
    with pytest.raises(RuntimeError, match="RMSprop does not support sparse gradients"):
        so.reject_sparse_grad("RMSprop", w)
    assert so.is_sparse_grad(w)


def test_clip_grad_norm_sparse():
    w = randn(5, 3).astype(np.float32)
    ours = nr.tensor(w, requires_grad=True)
    tw = torch.tensor(w, requires_grad=True)
    (lookup(ours, IDX) ** 2).sum().backward()
    (torch.nn.functional.embedding(torch.tensor(IDX), tw, sparse=True) ** 2).sum().backward()
    for p in (2.0, 1.0, float("inf")):
        want = torch.linalg.vector_norm(tw.grad.to_dense(), p)
        got = so.sparse_grad_norm(ours.grad._data, p)
        np.testing.assert_allclose(float(got), float(want), rtol=1e-5)
    so.scale_sparse_grad_(ours, 0.5)
    np.testing.assert_allclose(_np(ours.grad.to_dense()), _np(tw.grad.to_dense()) * 0.5,
                               rtol=1e-5)


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
