"""Optimizer hooks (step pre/post, state_dict and load_state_dict pre/post, global step
hooks) behave as torch.optim's."""
import pytest
import torch

import narae as nr
import narae.optim as optim
from narae.optim import optimizer as optimizer_module


def _opt(lib, name="SGD", **kw):
    p = lib.tensor([1.0, -2.0], requires_grad=True)
    p.grad = lib.tensor([0.5, 0.5])
    return getattr(lib.optim, name)([p], lr=0.1, **kw), p


@pytest.mark.parametrize("name", ["SGD", "Adam", "AdamW", "RMSprop", "LBFGS"])
def test_step_hooks_order_and_arguments_match_torch(name):
    logs = []
    for lib in (nr, torch):
        opt, p = _opt(lib, name)
        log = []
        opt.register_step_pre_hook(lambda o, args, kwargs: log.append(("pre", len(args))))
        h = opt.register_step_post_hook(lambda o, args, kwargs: log.append(("post", len(args))))
        closure = (lambda: (p * p).sum()) if name == "LBFGS" else None
        if closure is None:
            opt.step()
        else:
            def closure():
                opt.zero_grad()
                loss = (p * p).sum()
                loss.backward()
                return loss
            opt.step(closure)
        h.remove()
        if closure is None:
            opt.step()
        else:
            opt.step(closure)
        logs.append(log)
    assert logs[0] == logs[1]


def test_step_pre_hook_can_replace_arguments():
    opt, p = _opt(nr)
    calls = []

    def closure():
        calls.append(1)
        return nr.tensor(0.0)

    opt.register_step_pre_hook(lambda o, args, kwargs: ((o, closure), {}))
    opt.step()
    assert calls == [1]
    opt.register_step_pre_hook(lambda o, args, kwargs: "bad")
    with pytest.raises(RuntimeError, match="must return None or a tuple"):
        opt.step()


def test_global_step_hooks_and_subclass_calling_super_runs_hooks_once():
    seen = []
    h1 = optimizer_module.register_optimizer_step_pre_hook(
        lambda o, a, k: seen.append(type(o).__name__))
    h2 = optimizer_module.register_optimizer_step_post_hook(lambda o, a, k: seen.append("post"))

    class MySGD(optim.SGD):
        def step(self, closure=None):
            return super().step(closure)

    try:
        p = nr.tensor([1.0], requires_grad=True)
        p.grad = nr.tensor([1.0])
        MySGD([p], lr=0.1).step()
    finally:
        h1.remove()
        h2.remove()
    assert seen == ["MySGD", "post"]


def test_state_dict_hooks():
    opt, _ = _opt(nr, "Adam")
    opt.step()
    events = []
    opt.register_state_dict_pre_hook(lambda o: events.append("sd_pre"))

    def add_note(o, sd):
        events.append("sd_post")
        sd["note"] = "hello"

    opt.register_state_dict_post_hook(add_note)
    sd = opt.state_dict()
    assert sd["note"] == "hello" and events == ["sd_pre", "sd_post"]

    other, _ = _opt(nr, "Adam")

    def strip(o, state_dict):
        events.append("load_pre")
        state_dict = dict(state_dict)
        state_dict.pop("note")
        return state_dict

    other.register_load_state_dict_pre_hook(strip)
    other.register_load_state_dict_post_hook(lambda o: events.append("load_post"))
    other.load_state_dict(sd)
    assert events[-2:] == ["load_pre", "load_post"]
    assert other.state_dict()["state"][0]["step"] == 1
