"""SparseAdam: an Embedding(sparse=True) trained as with torch.optim.SparseAdam."""
import numpy as np
import pytest
import torch

import narae as nr
import narae.optim

LIBS = {"narae": (nr, narae.optim.SparseAdam), "torch": (torch, torch.optim.SparseAdam)}


def _train(lib, kw, dtype, steps=10, padding_idx=None, max_norm=None):
    """Embedding weights after each step (indices repeat; some rows are never seen)."""
    m, cls = LIBS[lib]
    rng = np.random.default_rng(11)
    w0 = rng.standard_normal((12, 4))
    batches = [rng.integers(0, 8, (3, 5)) for _ in range(steps)]  # rows 8..11 never used
    target = rng.standard_normal((3, 5, 4))
    emb = m.nn.Embedding(12, 4, sparse=True, padding_idx=padding_idx, max_norm=max_norm)
    emb = emb.to(getattr(m, np.dtype(dtype).name))
    with m.no_grad():
        emb.weight.copy_(m.tensor(w0.astype(dtype)))
    opt = cls(emb.parameters(), **kw)
    sign = -1.0 if kw.get("maximize") else 1.0
    out = []
    for idx in batches:
        opt.zero_grad()
        y = m.tanh(emb(m.tensor(idx)))
        loss = sign * ((y - m.tensor(target.astype(dtype))) ** 2).sum()
        loss.backward()
        opt.step()
        out.append(emb.weight.detach().numpy().copy())
    return out, opt


KWS = [dict(), dict(lr=0.05), dict(lr=0.1, betas=(0.5, 0.8), eps=1e-3, maximize=True)]


@pytest.mark.parametrize("kw", KWS, ids=str)
def test_embedding_trajectory_float64(kw):
    ours, opt = _train("narae", kw, np.float64)
    theirs, topt = _train("torch", kw, np.float64)
    for k, (a, b) in enumerate(zip(ours, theirs)):
        np.testing.assert_allclose(a, b, rtol=1e-9, atol=1e-12, err_msg=f"step {k + 1}")
    sd, tsd = opt.state_dict(), topt.state_dict()
    assert sd["param_groups"] == tsd["param_groups"]
    s, ts = sd["state"][0], tsd["state"][0]
    assert list(s) == list(ts) == ["step", "exp_avg", "exp_avg_sq"]
    assert s["step"] == ts["step"] == 10
    for key in ("exp_avg", "exp_avg_sq"):
        np.testing.assert_allclose(s[key].numpy(), ts[key].numpy(), rtol=1e-9, atol=1e-15)
    # lazy: the rows never looked up keep their weights and zero moments
    assert np.all(ours[-1][8:] == ours[0][8:]) and np.all(s["exp_avg"].numpy()[8:] == 0)


def test_embedding_trajectory_float32_padding_and_max_norm():
    ours, _ = _train("narae", dict(lr=0.05), np.float32, padding_idx=3, max_norm=1.5)
    theirs, _ = _train("torch", dict(lr=0.05), np.float32, padding_idx=3, max_norm=1.5)
    for a, b in zip(ours, theirs):
        assert a.dtype == np.float32
        np.testing.assert_allclose(a, b, rtol=2e-5, atol=2e-5)


def test_empty_sparse_gradient_skips_update_but_counts_step():
    w = nr.tensor(np.ones((3, 2)), requires_grad=True)
    opt = narae.optim.SparseAdam([w])
    w.grad = nr.sparse_coo_tensor(nr.zeros(1, 0, dtype=nr.int64), nr.zeros(0, 2, dtype=nr.float64),
                                  (3, 2))
    opt.step()
    assert np.all(w._data == 1) and opt.state[w]["step"] == 1
    # a 1-D parameter: only the elements the sparse gradient holds move
    v = nr.tensor(np.zeros(3), requires_grad=True)
    opt = narae.optim.SparseAdam([v], lr=0.1)
    v.grad = nr.sparse_coo_tensor(nr.tensor([[1]]), nr.tensor([2.0], dtype=nr.float64), (3,))
    opt.step()
    np.testing.assert_allclose(v._data, [0.0, -0.1, 0.0], rtol=1e-6)
    v.grad = nr.ones(3, dtype=nr.float64)  # a dense gradient: refused, as torch does
    with pytest.raises(RuntimeError, match="SparseAdam does not support dense gradients"):
        opt.step()


def test_errors():
    p = nr.zeros(3, requires_grad=True)
    with pytest.raises(ValueError, match="Invalid learning rate: 0"):
        narae.optim.SparseAdam([p], lr=0)
    with pytest.raises(ValueError, match="Invalid epsilon value: 0"):
        narae.optim.SparseAdam([p], eps=0)
    with pytest.raises(ValueError, match="Invalid beta parameter at index 1: 1.0"):
        narae.optim.SparseAdam([p], betas=(0.9, 1.0))
    assert "SparseAdam" in narae.optim.__all__
