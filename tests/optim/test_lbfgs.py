"""LBFGS follows torch's trajectory, with and without the strong-Wolfe line search."""
import numpy as np
import pytest
import torch

import narae as nr
import narae.optim as optim
from optim_common import make_params, loss_fn, to_np

X0 = np.array([-1.2, 1.0, -0.5, 0.8])


def rosenbrock(x):
    """n-dimensional Rosenbrock; x[:-1] and x[1:] as products with shifted identities."""
    m = torch if isinstance(x, torch.Tensor) else nr
    n, dt = x.shape[0], x.dtype
    head = m.matmul(m.tensor(np.eye(n)[:-1], dtype=dt), x)
    tail = m.matmul(m.tensor(np.eye(n)[1:], dtype=dt), x)
    return (100 * (tail - head ** 2) ** 2 + (1 - head) ** 2).sum()


def _run_rosenbrock(lib, steps, dtype=np.float64, **kw):
    if lib == "torch":
        x = torch.tensor(X0.astype(dtype), requires_grad=True)
        opt = torch.optim.LBFGS([x], **kw)
    else:
        x = nr.tensor(X0.astype(dtype), requires_grad=True)
        opt = optim.LBFGS([x], **kw)

    def closure():
        opt.zero_grad()
        loss = rosenbrock(x)
        loss.backward()
        return loss

    path, losses = [], []
    for _ in range(steps):
        losses.append(float(opt.step(closure).detach()))
        path.append(to_np(x))
    st = opt.state[x]
    return np.array(path), losses, (st["func_evals"], st["n_iter"])


# Rosenbrock amplifies round-off (1e-16 after one iteration, ~1e-11 after 40), so the runs
# stay short enough for a tight tolerance; equal evaluation counts show the same branches ran.
KWS = [dict(max_iter=6), dict(line_search_fn="strong_wolfe", max_iter=8),
       dict(history_size=3, max_iter=7), dict(max_iter=10, tolerance_change=1e-3),
       dict(history_size=2, line_search_fn="strong_wolfe", lr=0.5, max_iter=6),
       dict(max_iter=4, max_eval=6), dict(line_search_fn="strong_wolfe", max_eval=5)]


@pytest.mark.parametrize("kw", KWS, ids=[str(k) for k in KWS])
def test_rosenbrock_trajectory_matches_torch(kw):
    ours, ours_loss, ours_counts = _run_rosenbrock("narae", 3, **kw)
    theirs, theirs_loss, theirs_counts = _run_rosenbrock("torch", 3, **kw)
    np.testing.assert_allclose(ours, theirs, rtol=1e-8, atol=1e-10)
    np.testing.assert_allclose(ours_loss, theirs_loss, rtol=1e-8, atol=1e-12)
    assert ours_counts == theirs_counts


def test_strong_wolfe_reaches_rosenbrock_minimum():
    path, _, _ = _run_rosenbrock("narae", 10, line_search_fn="strong_wolfe")
    np.testing.assert_allclose(path[-1], np.ones(4), atol=1e-6)


@pytest.mark.parametrize("line_search_fn", [None, "strong_wolfe"])
def test_two_parameter_regression_matches_torch(line_search_fn):
    out = {}
    for lib in ("narae", "torch"):
        params = make_params(lib)
        mod = optim if lib == "narae" else torch.optim
        opt = mod.LBFGS(params, lr=0.8, max_iter=5, history_size=4,
                        line_search_fn=line_search_fn)

        def closure():
            opt.zero_grad()
            loss = loss_fn(lib, params)
            loss.backward()
            return loss

        out[lib] = []
        for _ in range(3):
            opt.step(closure)
            out[lib].append([to_np(p) for p in params])
    for a, b in zip(out["narae"], out["torch"]):
        for x, y in zip(a, b):
            np.testing.assert_allclose(x, y, rtol=1e-8, atol=1e-10)


@pytest.mark.parametrize("line_search_fn", [None, "strong_wolfe"])
def test_float32_close_to_torch(line_search_fn):
    """float32 scalars round as torch's: only ulp-level (BLAS) differences, slowly amplified."""
    kw = dict(dtype=np.float32, max_iter=5, line_search_fn=line_search_fn)
    ours, _, ours_counts = _run_rosenbrock("narae", 3, **kw)
    theirs, _, theirs_counts = _run_rosenbrock("torch", 3, **kw)
    assert ours.dtype == np.float32
    np.testing.assert_allclose(ours, theirs, rtol=1e-4, atol=1e-5)
    assert ours_counts == theirs_counts


def test_state_dict_round_trip_continues_the_same_path():
    ref, _, _ = _run_rosenbrock("narae", 3, max_iter=5, history_size=4)
    x = nr.tensor(X0, requires_grad=True)
    opt = optim.LBFGS([x], max_iter=5, history_size=4)

    def closure_for(t, o):
        def closure():
            o.zero_grad()
            loss = rosenbrock(t)
            loss.backward()
            return loss
        return closure

    opt.step(closure_for(x, opt))
    x2 = nr.tensor(x._data, requires_grad=True)
    opt2 = optim.LBFGS([x2], max_iter=5, history_size=4)
    opt2.load_state_dict(opt.state_dict())
    for k in (1, 2):
        opt2.step(closure_for(x2, opt2))
        np.testing.assert_allclose(x2._data, ref[k], rtol=1e-12)


def test_stops_at_once_when_gradient_is_zero():
    x = nr.tensor([1.0, 1.0], requires_grad=True)
    opt = optim.LBFGS([x])

    def closure():
        opt.zero_grad()
        loss = rosenbrock(x)
        loss.backward()
        return loss

    assert float(opt.step(closure)) == 0.0
    assert opt.state[x]["n_iter"] == 0
