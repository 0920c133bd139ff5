"""narae.nn.utils: clip_grad_norm_/clip_grad_value_ equal torch's; vector conversions."""
import math

import numpy as np
import pytest
import torch

import narae as nr
import narae.nn as nn
from narae.nn.utils import (clip_grad_norm_, clip_grad_value_, parameters_to_vector,
                            vector_to_parameters)

R = np.random.default_rng(5)


def _pair(scale=1.0):
    shapes = [(3, 4), (4,), (2, 2, 2)]
    grads = [(R.standard_normal(s) * scale).astype(np.float32) for s in shapes]
    ours, theirs = [], []
    for g in grads:
        p = nn.Parameter(nr.zeros(*g.shape))
        p.grad = nr.tensor(g)
        t = torch.nn.Parameter(torch.zeros(*g.shape))
        t.grad = torch.tensor(g)
        ours.append(p)
        theirs.append(t)
    return ours, theirs


@pytest.mark.parametrize("max_norm,norm_type", [(1.0, 2.0), (100.0, 2), (0.5, 1.0),
                                                (0.3, math.inf), (2.0, 3.0)])
def test_clip_grad_norm_equals_torch(max_norm, norm_type):
    ours, theirs = _pair()
    total = clip_grad_norm_(ours, max_norm, norm_type)
    ttotal = torch.nn.utils.clip_grad_norm_(theirs, max_norm, norm_type)
    assert isinstance(total, nr.Tensor) and total.ndim == 0
    np.testing.assert_allclose(total.item(), ttotal.item(), rtol=1e-5)
    for p, t in zip(ours, theirs):
        np.testing.assert_allclose(p.grad.numpy(), t.grad.numpy(), rtol=1e-5, atol=1e-7)


def test_clip_grad_norm_single_tensor_skips_missing_grads_and_keeps_objects():
    p = nn.Parameter(nr.zeros(3))
    g = nr.tensor([3.0, 4.0, 0.0])
    p.grad = g
    q = nn.Parameter(nr.zeros(2))  # no grad: ignored
    total = clip_grad_norm_([p, q], 1.0)
    assert total.item() == pytest.approx(5.0)
    assert p.grad is g  # scaled in place
    np.testing.assert_allclose(g.numpy(), [0.6, 0.8, 0.0], rtol=1e-5)
    assert clip_grad_norm_(p, 10.0).item() == pytest.approx(1.0, rel=1e-5)


def test_clip_grad_norm_nonfinite():
    p = nn.Parameter(nr.zeros(2))
    p.grad = nr.tensor([float("inf"), 1.0])
    with pytest.raises(RuntimeError, match="non-finite"):
        clip_grad_norm_([p], 1.0, error_if_nonfinite=True)
    assert math.isinf(clip_grad_norm_([p], 1.0).item())


def test_clip_grad_value_equals_torch():
    ours, theirs = _pair(scale=3.0)
    clip_grad_value_(ours, 1.5)
    torch.nn.utils.clip_grad_value_(theirs, 1.5)
    for p, t in zip(ours, theirs):
        np.testing.assert_array_equal(p.grad.numpy(), t.grad.numpy())


def test_model_grads_clip_like_torch():
    torch.manual_seed(0)
    tm = torch.nn.Sequential(torch.nn.Linear(4, 8), torch.nn.Tanh(), torch.nn.Linear(8, 2))
    om = nn.Sequential(nn.Linear(4, 8), nn.Tanh(), nn.Linear(8, 2))
    om.load_state_dict({k: v.numpy() for k, v in tm.state_dict().items()})
    x = R.standard_normal((5, 4)).astype(np.float32) * 10
    (om(nr.tensor(x)) ** 2).sum().backward()
    (tm(torch.tensor(x)) ** 2).sum().backward()
    a = clip_grad_norm_(om.parameters(), 0.1)
    b = torch.nn.utils.clip_grad_norm_(tm.parameters(), 0.1)
    np.testing.assert_allclose(a.item(), b.item(), rtol=1e-4)
    for p, t in zip(om.parameters(), tm.parameters()):
        np.testing.assert_allclose(p.grad.numpy(), t.grad.numpy(), rtol=1e-4, atol=1e-7)


def test_parameters_vector_round_trip():
    m = nn.Sequential(nn.Linear(3, 2), nn.Linear(2, 1))
    params = list(m.parameters())
    v = parameters_to_vector(m.parameters())
    assert v.shape == (11,)
    tv = torch.nn.utils.parameters_to_vector(
        [torch.tensor(p.detach().numpy()) for p in params])
    np.testing.assert_array_equal(v.detach().numpy(), tv.numpy())
    arrays = [p._data for p in params]
    vector_to_parameters(nr.arange(11, dtype=nr.float32), m.parameters())
    assert all(p._data is a for p, a in zip(m.parameters(), arrays))  # in place
    np.testing.assert_array_equal(m[0].weight.detach().numpy(), [[0, 1, 2], [3, 4, 5]])
    np.testing.assert_array_equal(m[1].bias.detach().numpy(), [10])
    with pytest.raises(ValueError):
        vector_to_parameters(nr.zeros(5), m.parameters())
