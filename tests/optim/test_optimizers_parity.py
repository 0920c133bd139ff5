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
                                     ("Adadelta", dict(lr=1.0))])
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


NAMES = ["SGD", "Adagrad", "Adadelta", "RMSprop", "Adam", "AdamW", "NAdam", "LBFGS"]


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
