"""Optimizers on complex parameters follow torch, which updates a complex parameter as its
``view_as_real`` pairs (Adam's second moment per real/imaginary part, not |g|^2)."""
import copy

import numpy as np
import pytest
import torch

import narae as nr
import narae.optim
import narae.nn as nnn

LIBS = {"narae": (nr, narae.optim), "torch": (torch, torch.optim)}
_rng = np.random.default_rng(11)
X = _rng.standard_normal((6, 3)) + 1j * _rng.standard_normal((6, 3))
Y = _rng.standard_normal((6, 2)) + 1j * _rng.standard_normal((6, 2))
W0 = (_rng.standard_normal((3, 2)) + 1j * _rng.standard_normal((3, 2))) * 0.5
B0 = (_rng.standard_normal((2,)) + 1j * _rng.standard_normal((2,))) * 0.1
S0 = _rng.standard_normal((2,))  # a real parameter in the same group


def make_params(lib, cdtype):
    m = LIBS[lib][0]
    rdtype = np.float32 if cdtype == np.complex64 else np.float64
    return [m.tensor(W0.astype(cdtype), requires_grad=True),
            m.tensor(B0.astype(cdtype), requires_grad=True),
            m.tensor(S0.astype(rdtype), requires_grad=True)]


def loss_fn(lib, params):
    m = LIBS[lib][0]
    w, b, s = params
    x, y = m.tensor(X, dtype=w.dtype), m.tensor(Y, dtype=w.dtype)
    pred = m.matmul(x, w) * s + b
    return ((pred - y).abs() ** 2).mean() + 0.1 * (w.abs() ** 3).sum()


def trajectory(lib, name, kwargs, cdtype, steps=12, closure=False):
    params = make_params(lib, cdtype)
    opt = getattr(LIBS[lib][1], name)(params, **kwargs)
    out = []
    for _ in range(steps):
        if closure:
            def f():
                opt.zero_grad()
                loss = loss_fn(lib, params)
                loss.backward()
                return loss
            opt.step(f)
        else:
            opt.zero_grad()
            loss_fn(lib, params).backward()
            opt.step()
        out.append([p.detach().numpy().copy() if lib == "torch" else p._data.copy()
                    for p in params])
    return out, params, opt


CASES = [
    ("SGD", dict(lr=0.05)),
    ("SGD", dict(lr=0.05, momentum=0.9, dampening=0.2, weight_decay=0.1)),
    ("SGD", dict(lr=0.05, momentum=0.9, nesterov=True, weight_decay=0.01, maximize=False)),
    ("Adam", dict(lr=0.05)),
    ("Adam", dict(lr=0.05, amsgrad=True, weight_decay=0.1)),
    ("AdamW", dict(lr=0.05, weight_decay=0.3)),
    ("NAdam", dict(lr=0.05, weight_decay=0.1)),
    ("RAdam", dict(lr=0.05, betas=(0.5, 0.6))),
    ("Adamax", dict(lr=0.05, weight_decay=0.1)),
    ("Adagrad", dict(lr=0.1, lr_decay=0.05, initial_accumulator_value=0.2)),
    ("Adadelta", dict(lr=0.5, weight_decay=0.1)),
    ("RMSprop", dict(lr=0.01, momentum=0.5)),
    ("RMSprop", dict(lr=0.01, centered=True, weight_decay=0.1)),
    ("ASGD", dict(lr=0.05, t0=3)),
    ("Rprop", dict(lr=0.01)),
    ("Rprop", dict(lr=0.05, etas=(0.3, 1.5), step_sizes=(1e-3, 0.08), maximize=True)),
]


def _id(case):
    return case[0] + "-" + "-".join(f"{k}={v}" for k, v in case[1].items())


@pytest.mark.parametrize("case", CASES, ids=[_id(c) for c in CASES])
def test_complex_trajectory_float64(case):
    name, kw = case
    a, _, _ = trajectory("narae", name, kw, np.complex128)
    b, _, _ = trajectory("torch", name, kw, np.complex128)
    for k, (pa, pb) in enumerate(zip(a, b)):
        for i, (x, y) in enumerate(zip(pa, pb)):
            np.testing.assert_allclose(x, y, rtol=1e-9, atol=1e-9,
                                       err_msg=f"step {k + 1}, parameter {i}")


@pytest.mark.parametrize("name,kw", [("Adam", dict(lr=0.05)), ("RMSprop", dict(lr=0.01)),
                                     ("SGD", dict(lr=0.05, momentum=0.9)),
                                     ("Adagrad", dict(lr=0.1))])
def test_complex_trajectory_complex64(name, kw):
    a, pn, _ = trajectory("narae", name, kw, np.complex64, steps=6)
    b, _, _ = trajectory("torch", name, kw, np.complex64, steps=6)
    assert pn[0].dtype == nr.complex64 and pn[2].dtype == nr.float32
    for pa, pb in zip(a, b):
        for x, y in zip(pa, pb):
            assert x.dtype == y.dtype
            np.testing.assert_allclose(x, y, rtol=2e-4, atol=2e-5)


def test_lbfgs_complex():
    kw = dict(lr=0.5, max_iter=5, history_size=4)
    a, _, _ = trajectory("narae", "LBFGS", kw, np.complex128, steps=3, closure=True)
    b, _, _ = trajectory("torch", "LBFGS", kw, np.complex128, steps=3, closure=True)
    for pa, pb in zip(a, b):
        for x, y in zip(pa, pb):
            np.testing.assert_allclose(x, y, rtol=1e-7, atol=1e-9)
    kw = dict(lr=1, max_iter=4, line_search_fn="strong_wolfe")
    a, _, _ = trajectory("narae", "LBFGS", kw, np.complex128, steps=2, closure=True)
    b, _, _ = trajectory("torch", "LBFGS", kw, np.complex128, steps=2, closure=True)
    for pa, pb in zip(a, b):
        for x, y in zip(pa, pb):
            np.testing.assert_allclose(x, y, rtol=1e-7, atol=1e-9)


def test_state_is_complex_and_round_trips():
    _, params, opt = trajectory("narae", "Adam", dict(lr=0.05, amsgrad=True), np.complex128,
                                steps=3)
    _, tparams, topt = trajectory("torch", "Adam", dict(lr=0.05, amsgrad=True), np.complex128,
                                  steps=3)
    sd, tsd = opt.state_dict(), topt.state_dict()
    for k in ("exp_avg", "exp_avg_sq", "max_exp_avg_sq"):
        assert sd["state"][0][k].dtype == nr.complex128
        np.testing.assert_allclose(sd["state"][0][k]._data, tsd["state"][0][k].numpy(),
                                   rtol=1e-9, atol=1e-12)
    # a fresh optimizer loaded from the dict continues exactly like the original
    fresh = [nr.tensor(p._data.copy(), requires_grad=True) for p in params]
    opt2 = narae.optim.Adam(fresh, lr=0.05, amsgrad=True)
    opt2.load_state_dict(copy.deepcopy(sd))
    assert opt2.state[fresh[0]]["exp_avg"].dtype == nr.complex128
    for o, ps in ((opt, params), (opt2, fresh)):
        o.zero_grad()
        loss_fn("narae", ps).backward()
        o.step()
    for p, q in zip(params, fresh):
        np.testing.assert_array_equal(p._data, q._data)


def test_rprop_complex_step_size_state():
    _, params, opt = trajectory("narae", "Rprop", dict(lr=0.01), np.complex128, steps=1)
    _, tparams, topt = trajectory("torch", "Rprop", dict(lr=0.01), np.complex128, steps=1)
    np.testing.assert_allclose(opt.state[params[0]]["step_size"]._data,
                               topt.state[tparams[0]]["step_size"].numpy())


@pytest.mark.parametrize("name", ["Adafactor", "Muon"])
def test_refuses_complex(name):
    p = nr.tensor((W0 * 1).astype(np.complex64), requires_grad=True)
    opt = getattr(narae.optim, name)([p])
    p.grad = nr.ones_like(p)
    with pytest.raises(RuntimeError, match=f"{name} does not support complex parameters"):
        opt.step()


def test_non_contiguous_complex_param():
    # a Fortran-ordered complex parameter is updated in place through a strided view
    w = np.asfortranarray(W0)
    p = nr.tensor(w, requires_grad=True)
    p._data = np.asfortranarray(p._data)
    t = torch.tensor(W0, requires_grad=True)
    for lib, q, o in (("narae", p, narae.optim.Adam([p], lr=0.1)),
                      ("torch", t, torch.optim.Adam([t], lr=0.1))):
        for _ in range(3):
            o.zero_grad()
            (q.abs() ** 3).sum().backward()
            o.step()
    np.testing.assert_allclose(p._data, t.detach().numpy(), rtol=1e-9)


# --- clip_grad on complex gradients ------------------------------------------------------
def _grads(lib):
    m = LIBS[lib][0]
    ps = [m.tensor(W0, requires_grad=True), m.tensor(S0, requires_grad=True)]
    (m.matmul(m.tensor(X), ps[0]).abs() ** 2).sum().backward()
    (ps[1] ** 3).sum().backward()
    return ps


@pytest.mark.parametrize("norm_type", [2.0, 1.0, 3.0, float("inf")])
def test_clip_grad_norm_complex(norm_type):
    a, b = _grads("narae"), _grads("torch")
    na = nnn.utils.clip_grad_norm_(a, 1.5, norm_type=norm_type)
    nb = torch.nn.utils.clip_grad_norm_(b, 1.5, norm_type=norm_type)
    assert na.dtype == nr.float64 or na.dtype == nr.float32
    np.testing.assert_allclose(float(na), float(nb), rtol=1e-9)
    for p, q in zip(a, b):
        assert p.grad.dtype == nr.complex128 or p.grad.dtype == nr.float64
        np.testing.assert_allclose(p.grad._data, q.grad.numpy(), rtol=1e-9)


def test_clip_grad_value_complex():
    a, b = _grads("narae"), _grads("torch")
    with pytest.raises(NotImplementedError) as ea:
        nnn.utils.clip_grad_value_(a, 0.5)
    with pytest.raises(NotImplementedError):
        torch.nn.utils.clip_grad_value_(b, 0.5)
    assert "complex" in str(ea.value)
