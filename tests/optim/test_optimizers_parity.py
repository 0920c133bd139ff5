"""Every optimizer and option set follows torch's trajectory over 20 steps."""
import inspect

import numpy as np
import pytest
import torch

import narae.optim
from optim_common import trajectory, assert_same_trajectory

CASES = [
    ("SGD", dict(lr=0.1)),
    ("SGD", dict(lr=0.1, momentum=0.9)),
    ("SGD", dict(lr=0.1, momentum=0.9, dampening=0.3, weight_decay=0.1)),
    ("SGD", dict(lr=0.05, momentum=0.9, nesterov=True, weight_decay=0.01)),
    ("SGD", dict(lr=0.1, momentum=0.5, maximize=True)),
    ("Adagrad", dict(lr=0.1)),
    ("Adagrad", dict(lr=0.1, lr_decay=0.05, weight_decay=0.1, initial_accumulator_value=0.2)),
    ("Adagrad", dict(lr=0.1, eps=1e-5, maximize=True)),
    ("Adadelta", dict()),
    ("Adadelta", dict(lr=0.5, rho=0.8, eps=1e-4, weight_decay=0.1)),
    ("Adadelta", dict(maximize=True)),
    ("RMSprop", dict(lr=0.01)),
    ("RMSprop", dict(lr=0.01, alpha=0.9, momentum=0.8)),
    ("RMSprop", dict(lr=0.01, centered=True, weight_decay=0.1)),
    ("RMSprop", dict(lr=0.01, centered=True, momentum=0.5, maximize=True)),
    ("Adam", dict(lr=0.05)),
    ("Adam", dict(lr=0.05, betas=(0.8, 0.9), weight_decay=0.1)),
    ("Adam", dict(lr=0.05, amsgrad=True)),
    ("Adam", dict(lr=0.05, amsgrad=True, maximize=True, eps=1e-3)),
    ("Adam", dict(lr=0.05, weight_decay=0.1, decoupled_weight_decay=True)),
    ("Adam", dict(lr=0.05, betas=(0.3, 0.5))),  # 1 - beta1 >= 0.5: the other lerp branch
    ("AdamW", dict(lr=0.05)),
    ("AdamW", dict(lr=0.05, weight_decay=0.3, amsgrad=True)),
    ("NAdam", dict(lr=0.05)),
    ("NAdam", dict(lr=0.05, weight_decay=0.1, momentum_decay=0.01)),
    ("NAdam", dict(lr=0.05, weight_decay=0.1, decoupled_weight_decay=True, maximize=True)),
    ("RAdam", dict(lr=0.05)),
    ("RAdam", dict(lr=0.05, betas=(0.5, 0.6), weight_decay=0.1)),  # rectified from step 6
    ("RAdam", dict(lr=0.05, betas=(0.5, 0.6), weight_decay=0.1, decoupled_weight_decay=True,
                   maximize=True, eps=1e-3)),
    ("Adamax", dict(lr=0.05)),
    ("Adamax", dict(lr=0.05, betas=(0.8, 0.9), eps=1e-3, weight_decay=0.1)),
    ("Adamax", dict(lr=0.05, maximize=True)),
    ("ASGD", dict(lr=0.1)),
    ("ASGD", dict(lr=0.1, lambd=0.01, alpha=0.5, t0=5, weight_decay=0.1)),  # averaging from 5
    ("ASGD", dict(lr=0.1, t0=0, maximize=True)),
    ("Rprop", dict(lr=0.01)),
    ("Rprop", dict(lr=0.05, etas=(0.3, 1.5), step_sizes=(1e-3, 0.08))),
    ("Rprop", dict(lr=0.01, maximize=True)),
    ("Adafactor", dict(lr=0.05)),
    ("Adafactor", dict(lr=0.05, beta2_decay=-0.5, eps=(1e-20, 1e-2), d=1.5, weight_decay=0.1)),
    ("Adafactor", dict(lr=0.05, eps=(1e-30, 1e-3), maximize=True)),
]


def _id(case):
    name, kw = case
    return name + "-" + "-".join(f"{k}={v}" for k, v in kw.items())


@pytest.mark.parametrize("case", CASES, ids=[_id(c) for c in CASES])
def test_trajectory_float64(case):
    name, kw = case
    sign = -1.0 if kw.get("maximize") else 1.0
    ours, _, _ = trajectory("narae", name, kw, sign=sign)
    theirs, _, _ = trajectory("torch", name, kw, sign=sign)
    assert_same_trajectory(ours, theirs, rtol=1e-9, atol=1e-12)


@pytest.mark.parametrize("name,kw", [("SGD", dict(lr=0.1, momentum=0.9, nesterov=True)),
                                     ("Adam", dict(lr=0.05, amsgrad=True)),
                                     ("RMSprop", dict(lr=0.01, centered=True, momentum=0.5)),
                                     ("NAdam", dict(lr=0.05)), ("Adagrad", dict(lr=0.1)),
                                     ("Adadelta", dict(lr=1.0)), ("RAdam", dict(lr=0.05)),
                                     ("Adamax", dict(lr=0.05)), ("ASGD", dict(lr=0.1, t0=3)),
                                     ("Rprop", dict(lr=0.01)), ("Adafactor", dict(lr=0.05))])
def test_trajectory_float32(name, kw):
    ours, params, opt = trajectory("narae", name, kw, dtype=np.float32)
    theirs, _, _ = trajectory("torch", name, kw, dtype=np.float32)
    assert ours[-1][0].dtype == np.float32
    for state in opt.state.values():
        for v in state.values():
            if hasattr(v, "_data"):
                assert v._data.dtype == np.float32
    assert_same_trajectory(ours, theirs, rtol=2e-5, atol=2e-6)


def test_param_groups_with_different_lrs():
    groups = [{"params": [0], "lr": 0.01}, {"params": [1], "momentum": 0.5}]
    ours, _, opt = trajectory("narae", "SGD", dict(lr=0.1, momentum=0.9), groups=groups)
    theirs, _, _ = trajectory("torch", "SGD", dict(lr=0.1, momentum=0.9), groups=groups)
    assert_same_trajectory(ours, theirs, rtol=1e-9, atol=1e-12)
    assert [g["lr"] for g in opt.param_groups] == [0.01, 0.1]
    assert [g["momentum"] for g in opt.param_groups] == [0.9, 0.5]
    groups = [{"params": [0], "lr": 0.01, "betas": (0.5, 0.6)}, {"params": [1]}]
    ours, _, _ = trajectory("narae", "Adam", dict(lr=0.1), groups=groups)
    theirs, _, _ = trajectory("torch", "Adam", dict(lr=0.1), groups=groups)
    assert_same_trajectory(ours, theirs, rtol=1e-9, atol=1e-12)


def test_nadam_state_matches_torch():
    _, _, ours = trajectory("narae", "NAdam", dict(lr=0.05), steps=5)
    _, _, theirs = trajectory("torch", "NAdam", dict(lr=0.05), steps=5)
    ours_sd, theirs_sd = ours.state_dict(), theirs.state_dict()
    for i in (0, 1):
        assert ours_sd["state"][i]["step"] == float(theirs_sd["state"][i]["step"])
        assert ours_sd["state"][i]["mu_product"] == float(theirs_sd["state"][i]["mu_product"])
        np.testing.assert_allclose(ours_sd["state"][i]["exp_avg"]._data,
                                   theirs_sd["state"][i]["exp_avg"].numpy(), rtol=1e-10)


@pytest.mark.parametrize("name,kw", [("ASGD", dict(lr=0.1, t0=3)), ("Rprop", dict(lr=0.01)),
                                     ("Adamax", dict(lr=0.05)), ("RAdam", dict(lr=0.05)),
                                     ("Adafactor", dict(lr=0.05))])
def test_state_matches_torch(name, kw):
    """Same state keys as torch (checkpoints read alike) and the same values after 7 steps."""
    _, _, ours = trajectory("narae", name, kw, steps=7)
    _, _, theirs = trajectory("torch", name, kw, steps=7)
    ours_sd, theirs_sd = ours.state_dict(), theirs.state_dict()
    for i in (0, 1):
        mine, ref = ours_sd["state"][i], theirs_sd["state"][i]
        assert set(mine) == set(ref)
        for key, value in ref.items():
            got = mine[key]._data if hasattr(mine[key], "_data") else np.asarray(mine[key])
            np.testing.assert_allclose(got, value.numpy(), rtol=1e-10, err_msg=key)


def test_adafactor_factors_stacks_of_matrices():
    """A 3-D parameter keeps one row and one column factor per matrix, as torch's does."""
    rng = np.random.default_rng(3)
    w0, targets = rng.standard_normal((2, 4, 3)), rng.standard_normal((2, 4, 3))
    results = []
    for lib, optim in ((narae, narae.optim), (torch, torch.optim)):
        w = lib.tensor(w0, requires_grad=True)
        opt = optim.Adafactor([w], lr=0.05)
        for _ in range(10):
            opt.zero_grad()
            loss = ((lib.tanh(w) - lib.tensor(targets)) ** 2).sum()
            loss.backward()
            opt.step()
        results.append(w.detach().numpy().copy())
        assert tuple(opt.state[w]["row_var"].shape) == (2, 4, 1)
        assert tuple(opt.state[w]["col_var"].shape) == (2, 1, 3)
    np.testing.assert_allclose(results[0], results[1], rtol=1e-9, atol=1e-12)


NAMES = ["SGD", "Adagrad", "Adadelta", "RMSprop", "Adam", "AdamW", "NAdam", "RAdam", "Adamax",
         "ASGD", "Rprop", "Adafactor", "LBFGS"]


@pytest.mark.parametrize("name", NAMES)
def test_signature_and_defaults_match_torch(name):
    ours = inspect.signature(getattr(narae.optim, name))
    theirs = inspect.signature(getattr(torch.optim, name))
    assert list(ours.parameters) == list(theirs.parameters)
    for k, p in ours.parameters.items():
        assert p.default == theirs.parameters[k].default, k
        assert p.kind == theirs.parameters[k].kind, k


@pytest.mark.parametrize("name", NAMES[:-1])
def test_group_keys_match_torch(name):
    from optim_common import make_params
    ours = getattr(narae.optim, name)(make_params("narae"))
    theirs = getattr(torch.optim, name)(make_params("torch"))
    assert set(ours.param_groups[0]) == set(theirs.param_groups[0])
    for k, v in theirs.param_groups[0].items():
        if k != "params":
            assert ours.param_groups[0][k] == v, k
