"""L1/L2 penalties (values and gradients) and the max-norm constraint."""
import numpy as np
import pytest
import torch

import narae as nr
import narae.nn as nn
from narae.nn.regularization import l1_penalty, l2_penalty, MaxNorm, apply_max_norm_


def test_penalties_values_and_grads_match_torch():
    torch.manual_seed(0)
    tm = torch.nn.Sequential(torch.nn.Linear(3, 4), torch.nn.Linear(4, 2))
    om = nn.Sequential(nn.Linear(3, 4), nn.Linear(4, 2))
    om.load_state_dict({k: v.numpy() for k, v in tm.state_dict().items()})
    lo = 0.1 * l1_penalty(om) + 0.5 * l2_penalty(om.parameters())
    lt = sum(0.1 * p.abs().sum() + 0.5 * (p ** 2).sum() for p in tm.parameters())
    np.testing.assert_allclose(lo.item(), lt.item(), rtol=1e-5)
    lo.backward()
    lt.backward()
    for p, t in zip(om.parameters(), tm.parameters()):
        np.testing.assert_allclose(p.grad.numpy(), t.grad.numpy(), rtol=1e-5, atol=1e-7)


def test_penalty_gradients_are_sign_and_2w():
    w = nn.Parameter(nr.tensor([[-2.0, 0.5], [3.0, -1.0]]))
    l1_penalty([w]).backward()
    np.testing.assert_array_equal(w.grad.numpy(), np.sign(w.detach().numpy()))
    w.grad = None
    l2_penalty(w).backward()
    np.testing.assert_allclose(w.grad.numpy(), 2 * w.detach().numpy())


def test_penalty_adds_to_loss_and_gradcheck():
    w = nr.tensor(np.random.default_rng(0).standard_normal((3, 2)), dtype=nr.float64,
                  requires_grad=True)
    nr.autograd.gradcheck(lambda w: (w * w).sum() + l2_penalty([w]) + l1_penalty([w]), [w])
    with pytest.raises(ValueError):
        l2_penalty([])


def test_max_norm_bounds_each_unit():
    lin = nn.Linear(5, 4)
    with nr.no_grad():
        lin.weight._data[...] = np.arange(20, dtype=np.float32).reshape(4, 5) / 4
    before = np.linalg.norm(lin.weight.detach().numpy(), axis=1)
    bias = lin.bias.detach().numpy().copy()
    w_obj, version = lin.weight, lin.weight._version[0]
    apply_max_norm_(lin, 2.0)
    after = np.linalg.norm(lin.weight.detach().numpy(), axis=1)
    assert np.all(after <= 2.0 + 1e-5)
    small = before <= 2.0
    np.testing.assert_allclose(after[small], before[small])  # short rows untouched
    np.testing.assert_allclose(after[~small], 2.0, rtol=1e-5)
    np.testing.assert_array_equal(lin.bias.detach().numpy(), bias)  # biases are not units
    assert lin.weight is w_obj and lin.weight._version[0] == version + 1


def test_max_norm_equals_torch_renorm():
    w = np.random.default_rng(1).standard_normal((6, 3, 2, 2)).astype(np.float32)
    p = nn.Parameter(nr.tensor(w))
    MaxNorm(1.5, dim=0)([p])
    expected = torch.renorm(torch.tensor(w), 2, 0, 1.5).numpy()
    np.testing.assert_allclose(p.detach().numpy(), expected, rtol=1e-5, atol=1e-6)
    q = nn.Parameter(nr.tensor(w))
    MaxNorm(1.0, dim=1, norm_type=1)([q])
    np.testing.assert_allclose(q.detach().numpy(), torch.renorm(torch.tensor(w), 1, 1, 1.0)
                               .numpy(), rtol=1e-5, atol=1e-6)


def test_max_norm_after_sgd_steps_keeps_bound():
    torch.manual_seed(0)
    m = nn.Sequential(nn.Linear(4, 6), nn.ReLU(), nn.Linear(6, 1))
    constraint = MaxNorm(0.5)
    x = nr.randn(16, 4)
    for _ in range(5):
        m.zero_grad()
        ((m(x) - 3.0) ** 2).mean().backward()
        with nr.no_grad():
            for p in m.parameters():
                p._data -= 0.5 * p.grad._data
        constraint(m)
        for lin in (m[0], m[2]):
            assert np.linalg.norm(lin.weight.detach().numpy(), axis=1).max() <= 0.5 + 1e-5
    assert repr(constraint) == "MaxNorm(max_value=0.5, dim=0, norm_type=2.0)"
    with pytest.raises(ValueError):
        MaxNorm(0)
