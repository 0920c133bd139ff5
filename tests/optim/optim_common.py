"""Run one loss on narae and on torch from the same start, for optimizer parity tests."""
import numpy as np
import torch

import narae as nr
import narae.optim

LIBS = {"narae": (nr, narae.optim), "torch": (torch, torch.optim)}
_rng = np.random.default_rng(7)
X = _rng.standard_normal((8, 3))
Y = _rng.standard_normal((8, 2))
W0 = _rng.standard_normal((3, 2)) * 0.5
B0 = _rng.standard_normal((2,)) * 0.1


def make_params(lib, dtype=np.float64):
    m = LIBS[lib][0]
    return [m.tensor(W0.astype(dtype), requires_grad=True),
            m.tensor(B0.astype(dtype), requires_grad=True)]


def loss_fn(lib, params):
    """A small regression through tanh: curved enough to exercise every optimizer."""
    m = LIBS[lib][0]
    w, b = params
    x, y = m.tensor(X, dtype=w.dtype), m.tensor(Y, dtype=w.dtype)
    pred = m.tanh(m.matmul(x, w) + b)
    return ((pred - y) ** 2).mean() + 0.05 * (w ** 2).sum()


def to_np(t):
    return t.detach().numpy().copy() if isinstance(t, torch.Tensor) else t._data.copy()


def trajectory(lib, name, kwargs, steps=30, dtype=np.float64, groups=None, sign=1.0,
               params=None, opt=None):
    """Parameters after each step of ``name`` (e.g. "Adam") on ``loss_fn``."""
    optim = LIBS[lib][1]
    params = params or make_params(lib, dtype)
    if opt is None:
        spec = params if groups is None else [dict(g, params=[params[i] for i in g["params"]])
                                              for g in groups]
        opt = getattr(optim, name)(spec, **kwargs)
    out = []
    for _ in range(steps):
        opt.zero_grad()
        loss = sign * loss_fn(lib, params)
        loss.backward()
        opt.step()
        out.append([to_np(p) for p in params])
    return out, params, opt


def assert_same_trajectory(a, b, rtol, atol):
    for k, (pa, pb) in enumerate(zip(a, b)):
        for i, (x, y) in enumerate(zip(pa, pb)):
            np.testing.assert_allclose(x, y, rtol=rtol, atol=atol,
                                       err_msg=f"step {k + 1}, parameter {i}")
