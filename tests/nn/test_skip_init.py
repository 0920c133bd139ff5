"""narae.nn.utils.skip_init against torch's API."""
import numpy as np
import pytest
import torch

import narae
from narae import nn
from narae.nn import init
from narae.nn.utils import skip_init


def _count_init_calls(monkeypatch):
    calls = []
    for name in ("kaiming_uniform_", "uniform_", "normal_", "zeros_", "ones_", "xavier_uniform_"):
        real = getattr(init, name)

        def spy(*args, _real=real, _name=name, **kwargs):
            calls.append(_name)
            return _real(*args, **kwargs)
        monkeypatch.setattr(init, name, spy)
    return calls


def test_linear_allocated_but_not_initialised(monkeypatch):
    calls = _count_init_calls(monkeypatch)
    nn.Linear(5, 3)
    assert calls  # the spies see ordinary construction
    calls.clear()
    m = skip_init(nn.Linear, 5, 3)
    assert calls == []
    ref = torch.nn.utils.skip_init(torch.nn.Linear, 5, 3)
    assert [(k, tuple(p.shape)) for k, p in m.named_parameters()] == \
        [(k, tuple(p.shape)) for k, p in ref.named_parameters()]
    assert m.weight.dtype == narae.float32 and m.weight.requires_grad
    # the functions are restored afterwards
    nn.Linear(2, 2)
    assert calls


def test_module_works_after_manual_init():
    m = skip_init(nn.Linear, 4, 2, bias=True, dtype=narae.float64)
    assert m.weight.dtype == narae.float64
    with narae.no_grad():
        m.weight.copy_(narae.ones(2, 4, dtype=narae.float64))
        m.bias.zero_()
    y = m(narae.ones(3, 4, dtype=narae.float64))
    np.testing.assert_array_equal(y.detach().numpy(), np.full((3, 2), 4.0))
    y.sum().backward()
    assert m.weight.grad.shape == (2, 4)


def test_reset_parameters_of_custom_module_skipped_and_restored():
    class Mine(nn.Module):
        resets = 0

        def __init__(self, n, device=None):
            super().__init__()
            self.w = nn.Parameter(narae.empty(n, device=device))
            self.reset_parameters()

        def reset_parameters(self):
            type(self).resets += 1

    m = skip_init(Mine, 3)
    assert Mine.resets == 0 and tuple(m.w.shape) == (3,)
    Mine(2)
    assert Mine.resets == 1


def test_conv_and_rnn(monkeypatch):
    calls = _count_init_calls(monkeypatch)
    c = skip_init(nn.Conv2d, 3, 4, 3)
    e = skip_init(nn.Embedding, 6, 4, padding_idx=0)
    assert calls == []
    assert tuple(c.weight.shape) == (4, 3, 3, 3) and tuple(e.weight.shape) == (6, 4)
    # like torch's, LSTM's (*args, **kwargs) signature names no device: refused
    for fn, cls in ((skip_init, nn.LSTM), (torch.nn.utils.skip_init, torch.nn.LSTM)):
        with pytest.raises(RuntimeError, match="device"):
            fn(cls, 3, 5)


def test_errors_match_torch():
    class NoDevice(nn.Module):
        def __init__(self, n):
            super().__init__()

    class TNoDevice(torch.nn.Module):
        def __init__(self, n):
            super().__init__()

    for fn, cls in ((skip_init, NoDevice), (torch.nn.utils.skip_init, TNoDevice)):
        with pytest.raises(RuntimeError, match="Module must support a 'device' arg"):
            fn(cls, 3)
    for fn in (skip_init, torch.nn.utils.skip_init):
        with pytest.raises((RuntimeError, TypeError)):
            fn(int, 3)
    with pytest.raises(RuntimeError, match="Expected a Module"):
        skip_init(dict)
