"""The Optimizer base: param groups, zero_grad, state_dict round trips, validation."""
import copy
import pickle

import numpy as np
import pytest
import torch

import narae as nr
import narae.optim as optim
from optim_common import make_params, loss_fn, trajectory, assert_same_trajectory


@pytest.mark.parametrize("name,kw", [
    ("SGD", dict(lr=0.1, momentum=0.9)), ("Adagrad", dict(lr=0.1, lr_decay=0.1)),
    ("Adadelta", dict()), ("RMSprop", dict(lr=0.01, centered=True, momentum=0.5)),
    ("Adam", dict(lr=0.05, amsgrad=True)), ("AdamW", dict(lr=0.05)),
    ("NAdam", dict(lr=0.05))])
def test_state_dict_round_trip(name, kw):
    """Save after 5 steps, load into a fresh optimizer over fresh params, continue: same path."""
    ref, _, _ = trajectory("narae", name, kw, steps=10)
    _, params, opt = trajectory("narae", name, kw, steps=5)
    sd = pickle.loads(pickle.dumps(opt.state_dict()))
    assert sorted(sd["state"]) == [0, 1]
    assert sd["param_groups"][0]["params"] == [0, 1]
    fresh = [nr.tensor(p._data, requires_grad=True) for p in params]
    opt2 = getattr(optim, name)(fresh, **kw)
    opt2.load_state_dict(sd)
    rest, _, _ = trajectory("narae", name, kw, steps=5, params=fresh, opt=opt2)
    assert_same_trajectory(ref[5:], rest, rtol=0, atol=0)
    # the loaded state is a copy: stepping the original does not touch it
    trajectory("narae", name, kw, steps=1, params=params, opt=opt)
    assert_same_trajectory(ref[5:], rest, rtol=0, atol=0)


def test_state_dict_layout_matches_torch():
    _, _, ours = trajectory("narae", "Adam", dict(lr=0.05), steps=2)
    _, _, theirs = trajectory("torch", "Adam", dict(lr=0.05), steps=2)
    o, t = ours.state_dict(), theirs.state_dict()
    assert o["param_groups"] == [dict(g) for g in t["param_groups"]]
    assert set(o["state"]) == set(t["state"])
    for i in o["state"]:
        assert set(o["state"][i]) == set(t["state"][i])
        assert o["state"][i]["step"] == float(t["state"][i]["step"])


def test_load_state_dict_restores_hyper_parameters_and_checks_sizes():
    opt = optim.SGD(make_params("narae"), lr=0.1, momentum=0.9)
    sd = opt.state_dict()
    sd["param_groups"][0]["lr"] = 0.5
    opt2 = optim.SGD(make_params("narae"), lr=0.1)
    opt2.load_state_dict(sd)
    assert opt2.param_groups[0]["lr"] == 0.5 and opt2.param_groups[0]["momentum"] == 0.9
    with pytest.raises(ValueError, match="different number of parameter groups"):
        optim.SGD([{"params": [make_params("narae")[0]]}, {"params": [nr.zeros(2)]}],
                  lr=0.1).load_state_dict(sd)
    with pytest.raises(ValueError, match="doesn't match the size"):
        optim.SGD(make_params("narae")[:1], lr=0.1).load_state_dict(sd)


def test_load_state_dict_casts_state_to_param_dtype():
    _, _, opt = trajectory("narae", "Adam", dict(lr=0.05), steps=2)
    opt2 = optim.Adam(make_params("narae", np.float32), lr=0.05)
    opt2.load_state_dict(opt.state_dict())
    for st in opt2.state.values():
        assert st["exp_avg"]._data.dtype == np.float32 and st["step"] == 2


def test_zero_grad():
    w = nr.tensor([1.0, 2.0], requires_grad=True)
    opt = optim.SGD([w], lr=0.1)
    (w * w).sum().backward()
    opt.zero_grad(set_to_none=False)
    assert w.grad is not None and np.all(w.grad._data == 0)
    opt.zero_grad()
    assert w.grad is None
    opt.step()  # no gradient: nothing happens
    np.testing.assert_array_equal(w._data, [1.0, 2.0])


def test_params_without_grad_are_skipped_and_state_is_lazy():
    a = nr.tensor([1.0, 2.0], requires_grad=True)
    b = nr.tensor([3.0], requires_grad=True)
    opt = optim.Adam([a, b], lr=0.1)
    assert len(opt.state) == 0
    (a * a).sum().backward()
    opt.step()
    assert a in opt.state and b not in opt.state
    np.testing.assert_array_equal(b._data, [3.0])
    assert a._version_number > 0


def test_step_bumps_version_so_stale_backward_raises():
    w = nr.tensor([1.0, 2.0], requires_grad=True)
    opt = optim.SGD([w], lr=0.1)
    loss = (w * w).sum()
    loss.backward(retain_graph=True)
    opt.step()
    with pytest.raises(RuntimeError):
        loss.backward()


def test_closure_is_evaluated_with_grad_and_returned():
    params = make_params("narae")
    opt = optim.Adam(params, lr=0.01)

    def closure():
        opt.zero_grad()
        loss = loss_fn("narae", params)
        loss.backward()
        return loss

    before = float(closure())
    with nr.no_grad():
        loss = opt.step(closure)
    assert float(loss) == pytest.approx(before)
    assert float(loss_fn("narae", params)) < before


def test_add_param_group_and_errors():
    w, b = make_params("narae")
    opt = optim.SGD([w], lr=0.1, momentum=0.9)
    opt.add_param_group({"params": b, "lr": 0.01})
    assert opt.param_groups[1]["params"] == [b] and opt.param_groups[1]["momentum"] == 0.9
    with pytest.raises(ValueError, match="more than one parameter group"):
        opt.add_param_group({"params": [w]})
    with pytest.raises(TypeError, match="ordered collections"):
        opt.add_param_group({"params": {nr.zeros(1, requires_grad=True)}})
    with pytest.raises(TypeError, match="can only optimize Tensors"):
        optim.SGD([np.zeros(2)], lr=0.1)
    with pytest.raises(ValueError, match="non-leaf"):
        optim.SGD([w * 2], lr=0.1)
    with pytest.raises(ValueError, match="empty parameter list"):
        optim.SGD([], lr=0.1)
    with pytest.raises(TypeError, match="iterable of Tensors"):
        optim.SGD(w, lr=0.1)


BAD = [
    (optim.SGD, dict(lr=-0.1), "Invalid learning rate: -0.1"),
    (optim.SGD, dict(momentum=-1), "Invalid momentum value: -1"),
    (optim.SGD, dict(weight_decay=-1), "Invalid weight_decay value: -1"),
    (optim.SGD, dict(nesterov=True), "Nesterov momentum requires"),
    (optim.SGD, dict(nesterov=True, momentum=0.9, dampening=0.1), "Nesterov momentum requires"),
    (optim.Adagrad, dict(lr=-1), "Invalid learning rate"),
    (optim.Adagrad, dict(lr_decay=-1), "Invalid lr_decay value"),
    (optim.Adagrad, dict(initial_accumulator_value=-1), "Invalid initial_accumulator_value"),
    (optim.Adagrad, dict(eps=-1), "Invalid epsilon value"),
    (optim.Adadelta, dict(rho=1.5), "Invalid rho value: 1.5"),
    (optim.Adadelta, dict(eps=-1), "Invalid epsilon value"),
    (optim.RMSprop, dict(alpha=-1), "Invalid alpha value"),
    (optim.RMSprop, dict(momentum=-1), "Invalid momentum value"),
    (optim.Adam, dict(betas=(1.0, 0.9)), "Invalid beta parameter at index 0: 1.0"),
    (optim.Adam, dict(betas=(0.9, -0.1)), "Invalid beta parameter at index 1: -0.1"),
    (optim.Adam, dict(eps=-1e-8), "Invalid epsilon value"),
    (optim.AdamW, dict(weight_decay=-1), "Invalid weight_decay value"),
    (optim.NAdam, dict(momentum_decay=-1), "Invalid momentum_decay value"),
    (optim.LBFGS, dict(lr=-1), "Invalid learning rate"),
    (optim.ConjugateGradient, dict(beta="hestenes"), "Invalid beta"),
    (optim.ConjugateGradient, dict(line_search_fn="exact"), "Invalid line_search_fn"),
    (optim.ConjugateGradient, dict(c1=0.5, c2=0.1), "Invalid Wolfe constants"),
]


@pytest.mark.parametrize("cls,kw,msg", BAD, ids=[f"{c.__name__}-{m}" for c, _, m in BAD])
def test_invalid_hyper_parameters_raise(cls, kw, msg):
    with pytest.raises(ValueError, match=msg.replace("(", r"\(").replace(")", r"\)")):
        cls(make_params("narae"), **kw)
    if hasattr(torch.optim, cls.__name__):  # torch raises too (same message)
        with pytest.raises(ValueError, match=msg.replace("(", r"\(").replace(")", r"\)")):
            getattr(torch.optim, cls.__name__)(make_params("torch"), **kw)


def test_lbfgs_rejects_several_groups():
    w, b = make_params("narae")
    with pytest.raises(ValueError, match="parameter groups"):
        optim.LBFGS([{"params": [w]}, {"params": [b]}])


def test_deepcopy_and_repr():
    opt = optim.Adam(make_params("narae"), lr=0.05)
    assert "Adam (" in repr(opt) and "lr: 0.05" in repr(opt)
    copy.deepcopy(opt.state_dict())


def test_state_is_a_defaultdict_like_torch():
    w, _ = make_params("narae")
    opt = optim.SGD([w], lr=0.1)
    assert opt.state[w] == {}


def test_differentiable_updates_are_refused():
    with pytest.raises(NotImplementedError, match="differentiable"):
        optim.Adam(make_params("narae"), differentiable=True)
