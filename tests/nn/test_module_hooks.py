"""Module state-dict hooks, extra state, backward pre-hooks, set_submodule, to_empty — the
torch.nn.Module API beyond forward hooks, checked against torch's behaviour."""
import numpy as np
import pytest
import torch

import narae as nr
import narae.nn as nn


class Counter(nn.Module):
    """A layer with non-tensor state saved through get_extra_state."""

    def __init__(self):
        super().__init__()
        self.linear = nn.Linear(2, 2)
        self.calls = 0

    def forward(self, x):
        self.calls += 1
        return self.linear(x)

    def get_extra_state(self):
        return {"calls": self.calls}

    def set_extra_state(self, state):
        self.calls = state["calls"]


def test_extra_state_round_trip_and_strictness():
    a = nn.Sequential(Counter())
    a(nr.randn(1, 2))
    a(nr.randn(1, 2))
    sd = a.state_dict()
    assert list(sd) == ["0._extra_state", "0.linear.weight", "0.linear.bias"]  # as torch
    assert sd["0._extra_state"] == {"calls": 2}
    b = nn.Sequential(Counter())
    b.load_state_dict(sd)
    assert b[0].calls == 2
    del sd["0._extra_state"]
    with pytest.raises(RuntimeError, match=r'Missing key\(s\).*"0._extra_state"'):
        b.load_state_dict(sd)


def test_state_dict_pre_and_post_hooks():
    layer = nn.Linear(2, 3)
    seen = []
    layer.register_state_dict_pre_hook(lambda m, prefix, keep_vars: seen.append(prefix))

    def drop_bias(module, state_dict, prefix, local_metadata):
        del state_dict[prefix + "bias"]

    handle = layer.register_state_dict_post_hook(drop_bias)
    outer = nn.Sequential(layer)
    assert list(outer.state_dict()) == ["0.weight"] and seen == ["0."]
    handle.remove()
    assert list(outer.state_dict()) == ["0.weight", "0.bias"]


def test_load_state_dict_post_hook_can_forgive_keys():
    layer = nn.Linear(2, 3)
    reports = []

    def forgive(module, incompatible):
        reports.append((list(incompatible.missing_keys), list(incompatible.unexpected_keys)))
        incompatible.missing_keys.clear()

    layer.register_load_state_dict_post_hook(forgive)
    result = layer.load_state_dict({"weight": nr.zeros(3, 2)})  # bias missing, forgiven
    assert reports == [(["bias"], [])] and result.missing_keys == []
    np.testing.assert_array_equal(layer.weight.detach().numpy(), 0)


def _pair():
    ours, theirs = nn.Linear(3, 2).double(), torch.nn.Linear(3, 2).double()
    with torch.no_grad():
        theirs.weight.copy_(torch.from_numpy(ours.weight.detach().numpy()))
        theirs.bias.copy_(torch.from_numpy(ours.bias.detach().numpy()))
    return ours, theirs


def test_full_backward_pre_hook_sees_and_replaces_grad_output_like_torch():
    x = np.random.default_rng(0).standard_normal((4, 3))
    results = []
    for lib, layer in zip((nr, torch), _pair()):
        seen = []

        def pre(module, grad_output, seen=seen):
            seen.append(grad_output[0].detach().numpy().copy())
            return (grad_output[0] * 2,)

        layer.register_full_backward_pre_hook(pre)
        xt = lib.tensor(x, requires_grad=True)
        (layer(xt) ** 2).sum().backward()
        results.append((seen[0], xt.grad.numpy(), layer.weight.grad.numpy()))
    for ours, theirs in zip(*results):
        np.testing.assert_allclose(ours, theirs, rtol=1e-12)


def test_set_submodule_and_to_empty():
    model = nn.Sequential(nn.Linear(2, 2), nn.Sequential(nn.ReLU(), nn.Linear(2, 1)))
    model.set_submodule("1.0", nn.Tanh())
    assert isinstance(model[1][0], nn.Tanh)
    with pytest.raises(AttributeError, match="has no attribute `missing`"):
        model.set_submodule("1.missing", nn.ReLU(), strict=True)
    with pytest.raises(ValueError, match="not an nn.Module"):
        model.set_submodule("0", 3)
    w = model[0].weight
    assert model.to_empty(device="cpu") is model
    assert model[0].weight is w and tuple(w.shape) == (2, 2)
    assert model.share_memory() is model


def test_deprecated_backward_hook_runs_as_full_hook():
    layer = nn.Linear(2, 2)
    calls = []
    with pytest.warns(FutureWarning):
        layer.register_backward_hook(lambda m, gi, go: calls.append(len(go)))
    layer(nr.randn(3, 2, requires_grad=True)).sum().backward()
    assert calls == [1]
