"""Muon follows torch.optim.Muon's trajectory (its bfloat16 Newton–Schulz included)."""
import numpy as np
import pytest
import torch

import narae as nr
import narae.optim
from narae.optim.muon import zeropower_via_newtonschulz
from torch.optim._muon import _zeropower_via_newtonschulz as torch_ns

LIBS = {"narae": (nr, narae.optim), "torch": (torch, torch.optim)}
COEFS = (3.4445, -4.775, 2.0315)


def _data(shape, seed=3):
    rng = np.random.default_rng(seed)
    return (rng.standard_normal(shape) * 0.5, rng.standard_normal((8, shape[0])),
            rng.standard_normal((8, shape[1])), rng.standard_normal((shape[1], 2)) * 0.5)


def _trajectory(lib, kw, shape, dtype, steps=15, two_groups=False):
    """Weights after each step on a two-layer tanh regression (both weights 2-D)."""
    m, optim = LIBS[lib]
    w0, x, y, v0 = _data(shape)
    w = m.tensor(w0.astype(dtype), requires_grad=True)
    v = m.tensor(v0.astype(dtype), requires_grad=True)
    params = [{"params": [w]}, {"params": [v], "lr": 0.01, "nesterov": False}] \
        if two_groups else [w, v]
    opt = optim.Muon(params, **kw)
    x, y = m.tensor(x.astype(dtype)), m.tensor(y.astype(dtype))
    out = []
    for _ in range(steps):
        opt.zero_grad()
        loss = ((m.matmul(m.tanh(m.matmul(x, w)), v) - y[:, :2]) ** 2).mean()
        loss.backward()
        opt.step()
        out.append([t.detach().numpy().copy() if lib == "torch" else t._data.copy()
                    for t in (w, v)])
    return out, opt


KWS = [dict(lr=0.05),
       dict(lr=0.02, nesterov=False, weight_decay=0.01, adjust_lr_fn="match_rms_adamw"),
       dict(lr=0.05, momentum=0.0, adjust_lr_fn="original"),
       dict(lr=0.03, momentum=0.5, ns_steps=3, eps=1e-3, ns_coefficients=(2.0, -1.5, 0.5))]


@pytest.mark.parametrize("kw", KWS, ids=lambda kw: "-".join(f"{k}={v}" for k, v in kw.items()))
def test_trajectory_float64(kw):
    # 2x2 weights: every float32 dot product in the bfloat16 iteration has two terms, so
    # its rounding does not depend on the BLAS's summation order: torch's results exactly
    ours, _ = _trajectory("narae", kw, (2, 2), np.float64)
    theirs, _ = _trajectory("torch", kw, (2, 2), np.float64)
    for k, (a, b) in enumerate(zip(ours, theirs)):
        for x, y in zip(a, b):
            np.testing.assert_allclose(x, y, rtol=1e-9, atol=1e-12, err_msg=f"step {k + 1}")


@pytest.mark.parametrize("shape", [(3, 2), (2, 5), (6, 6)])
@pytest.mark.parametrize("kw", KWS[:2])
def test_trajectory_float64_rectangular(kw, shape):
    # longer dot products: torch's BLAS (MKL) and NumPy's may sum in another order, and a
    # float32 result lying on a bfloat16 rounding boundary then moves by one bfloat16 ulp
    ours, _ = _trajectory("narae", kw, shape, np.float64, steps=8)
    theirs, _ = _trajectory("torch", kw, shape, np.float64, steps=8)
    for k, (a, b) in enumerate(zip(ours, theirs)):
        for x, y in zip(a, b):
            np.testing.assert_allclose(x, y, rtol=0, atol=2e-3, err_msg=f"step {k + 1}")


@pytest.mark.parametrize("kw", KWS[:2])
def test_trajectory_float32(kw):
    ours, _ = _trajectory("narae", kw, (4, 3), np.float32)
    theirs, _ = _trajectory("torch", kw, (4, 3), np.float32)
    for a, b in zip(ours, theirs):
        for x, y in zip(a, b):
            assert x.dtype == np.float32
            np.testing.assert_allclose(x, y, rtol=2e-5, atol=2e-5)


def test_param_groups_and_state_dict_match_torch():
    ours, opt = _trajectory("narae", dict(lr=0.05), (3, 2), np.float64, steps=3,
                            two_groups=True)
    theirs, topt = _trajectory("torch", dict(lr=0.05), (3, 2), np.float64, steps=3,
                               two_groups=True)
    for a, b in zip(ours, theirs):
        for x, y in zip(a, b):
            np.testing.assert_allclose(x, y, rtol=1e-9, atol=1e-12)
    sd, tsd = opt.state_dict(), topt.state_dict()
    assert sd["param_groups"] == tsd["param_groups"]
    assert list(sd["state"]) == list(tsd["state"])
    for k in tsd["state"]:
        assert list(sd["state"][k]) == list(tsd["state"][k]) == ["momentum_buffer"]
        np.testing.assert_allclose(sd["state"][k]["momentum_buffer"].numpy(),
                                   tsd["state"][k]["momentum_buffer"].numpy(), rtol=1e-12)
    # a fresh optimizer loaded from the dict continues identically
    w = nr.tensor(ours[-1][0], requires_grad=True)
    v = nr.tensor(ours[-1][1], requires_grad=True)
    opt2 = narae.optim.Muon([{"params": [w]}, {"params": [v]}])
    opt2.load_state_dict(sd)
    assert opt2.param_groups[1]["lr"] == 0.01 and opt2.param_groups[1]["nesterov"] is False


@pytest.mark.parametrize("shape", [(2, 2), (1, 4), (4, 1), (3, 2), (2, 3), (5, 5), (16, 32)])
@pytest.mark.parametrize("dtype", [np.float32, np.float64])
def test_newton_schulz_matches_torch_bfloat16(shape, dtype):
    g = np.random.default_rng(sum(shape)).standard_normal(shape).astype(dtype)
    ours = zeropower_via_newtonschulz(g, COEFS, 5, 1e-7)
    theirs = torch_ns(torch.from_numpy(g), COEFS, 5, 1e-7)
    assert theirs.dtype == torch.bfloat16 and ours.dtype == np.float32
    assert set(np.unique(ours.view(np.uint32) & 0xFFFF)) == {0}  # bfloat16 values
    if max(shape) <= 2:   # order-independent float32 sums: bit for bit
        np.testing.assert_array_equal(ours, theirs.float().numpy())
    else:                 # up to a bfloat16 ulp where a sum's order matters
        np.testing.assert_allclose(ours, theirs.float().numpy(), rtol=0, atol=8e-3)


def test_newton_schulz_orthogonalizes():
    g = np.random.default_rng(0).standard_normal((8, 4))
    s = np.linalg.svd(zeropower_via_newtonschulz(g, COEFS, 5, 1e-7), compute_uv=False)
    assert np.all((s > 0.6) & (s < 1.3))
    zero = zeropower_via_newtonschulz(np.zeros((3, 2)), COEFS, 5, 1e-7)  # eps: no 0/0
    assert np.all(zero == 0)


def test_skips_params_without_grad_and_closure():
    w = nr.tensor(np.ones((2, 3)), requires_grad=True)
    v = nr.tensor(np.ones((3, 2)), requires_grad=True)
    opt = narae.optim.Muon([w, v], lr=0.1)
    def closure():
        opt.zero_grad()
        loss = (w * w).sum()
        loss.backward()
        return loss
    assert float(opt.step(closure)) == 6.0
    opt.step()
    assert v.grad is None and np.all(v._data == 1) and v not in opt.state
    assert not np.allclose(w._data, 1)


def test_errors():
    w = nr.zeros(3, 2, requires_grad=True)
    with pytest.raises(ValueError, match=r"Muon only supports 2D parameters .* size: \(3,\)"):
        narae.optim.Muon([w, nr.zeros(3, requires_grad=True)])
    with pytest.raises(ValueError, match="Learning rate should be >= 0 but is: -1"):
        narae.optim.Muon([w], lr=-1)
    with pytest.raises(ValueError, match="momentum should be >= 0 but is: -0.5"):
        narae.optim.Muon([w], momentum=-0.5)
    with pytest.raises(ValueError, match="weight decay should be >= 0 but is: -0.1"):
        narae.optim.Muon([w], weight_decay=-0.1)
    with pytest.raises(ValueError, match="Adjust learning rate function foo is not supported"):
        narae.optim.Muon([w], adjust_lr_fn="foo")
    w.grad = nr.ones(3, 2)
    with pytest.raises(ValueError, match="Number of steps must be less than 100"):
        narae.optim.Muon([w], ns_steps=100).step()
    with pytest.raises(ValueError, match="Coefficients must be a tuple of exactly 3 values"):
        narae.optim.Muon([w], ns_coefficients=(1.0, 2.0)).step()
    assert "Muon" in narae.optim.__all__
