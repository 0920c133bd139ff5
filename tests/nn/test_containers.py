"""Containers: indexing/slicing/mutation like torch's, and registration of their contents."""
from collections import OrderedDict

import numpy as np
import pytest
import torch

import narae as nr
import narae.nn as nn


def test_sequential_indexing_and_keys():
    s = nn.Sequential(nn.Linear(2, 3), nn.ReLU(), nn.Linear(3, 1))
    assert len(s) == 3
    assert isinstance(s[0], nn.Linear) and s[-1] is s[2]
    sub = s[1:]
    assert isinstance(sub, nn.Sequential) and len(sub) == 2 and sub[0] is s[1]
    assert list(sub._modules) == ["1", "2"]  # torch keeps the original keys in a slice
    assert [type(m).__name__ for m in s] == ["Linear", "ReLU", "Linear"]
    with pytest.raises(IndexError):
        s[3]
    s.append(nn.Sigmoid())
    assert len(s) == 4 and list(s._modules) == ["0", "1", "2", "3"]
    del s[1]
    assert list(s._modules) == ["0", "1", "2"] and isinstance(s[1], nn.Linear)
    s[0] = nn.Tanh()
    assert isinstance(s[0], nn.Tanh)
    s.insert(1, nn.ReLU())
    assert [type(m).__name__ for m in s] == ["Tanh", "ReLU", "Linear", "Sigmoid"]
    assert s(nr.randn(4, 3)).shape == (4, 1)


def test_sequential_ordered_dict_matches_torch_keys():
    ours = nn.Sequential(OrderedDict([("fc", nn.Linear(2, 3)), ("act", nn.ReLU()),
                                      ("out", nn.Linear(3, 1))]))
    theirs = torch.nn.Sequential(OrderedDict([("fc", torch.nn.Linear(2, 3)),
                                              ("act", torch.nn.ReLU()),
                                              ("out", torch.nn.Linear(3, 1))]))
    assert list(ours.state_dict()) == list(theirs.state_dict())
    assert ours.fc is ours[0]
    assert repr(ours) == repr(theirs)


def test_sequential_add_and_extend():
    a = nn.Sequential(nn.ReLU())
    b = a + nn.Sequential(nn.Tanh())
    assert len(b) == 2 and len(a) == 1
    a.extend([nn.Sigmoid(), nn.ReLU()])
    assert len(a) == 3
    assert isinstance(a.pop(0), nn.ReLU) and len(a) == 2


def test_modulelist():
    ml = nn.ModuleList([nn.Linear(2, 2) for _ in range(3)])
    assert len(ml) == 3 and len(list(ml.parameters())) == 6
    ml.append(nn.ReLU())
    ml.extend([nn.Tanh()])
    ml += [nn.Sigmoid()]
    assert len(ml) == 6
    assert isinstance(ml[1:3], nn.ModuleList) and len(ml[1:3]) == 2
    ml.insert(0, nn.Identity())
    assert isinstance(ml[0], nn.Identity) and list(ml._modules)[-1] == "6"
    del ml[0]
    assert isinstance(ml[0], nn.Linear)
    with pytest.raises(TypeError):
        ml.append(3)
    tl = torch.nn.ModuleList([torch.nn.Linear(2, 2) for _ in range(3)])
    assert list(nn.ModuleList([nn.Linear(2, 2) for _ in range(3)]).state_dict()) == \
        list(tl.state_dict())


def test_moduledict():
    md = nn.ModuleDict({"a": nn.Linear(2, 2), "b": nn.ReLU()})
    assert list(md.keys()) == ["a", "b"] and "a" in md and len(md) == 2
    md["c"] = nn.Tanh()
    assert list(md) == ["a", "b", "c"]
    assert isinstance(md.pop("b"), nn.ReLU) and list(md) == ["a", "c"]
    md.update([("d", nn.Sigmoid())])
    assert [k for k, _ in md.items()] == ["a", "c", "d"]
    assert list(md.state_dict()) == ["a.weight", "a.bias"]
    del md["a"]
    assert list(md.parameters()) == []


def test_parameterlist_and_dict():
    pl = nn.ParameterList([nn.Parameter(nr.zeros(2)), nr.ones(3)])
    assert all(isinstance(p, nn.Parameter) for p in pl)  # plain tensors are wrapped
    assert len(pl) == 2 and len(list(pl.parameters())) == 2
    pl.append(nr.zeros(1, 2))
    assert list(pl.state_dict()) == ["0", "1", "2"]
    assert pl[-1].shape == (1, 2)
    tl = torch.nn.ParameterList([torch.zeros(2), torch.ones(3), torch.zeros(1, 2)])
    assert repr(pl).replace("narae.", "torch.") == repr(tl)

    pd = nn.ParameterDict({"w": nr.zeros(2, 2), "b": nn.Parameter(nr.zeros(2))})
    assert list(pd.keys()) == ["w", "b"] and isinstance(pd["w"], nn.Parameter)
    pd["c"] = nr.ones(1)
    assert list(pd.state_dict()) == ["w", "b", "c"]
    assert "c" in pd and len(pd) == 3
    del pd["w"]
    assert list(pd) == ["b", "c"] and len(list(pd.parameters())) == 2


def test_containers_propagate_train_and_to():
    m = nn.Sequential(nn.ModuleList([nn.Dropout()]), nn.ModuleDict({"bn": nn.BatchNorm1d(2)}))
    m.eval()
    assert not m[0][0].training and not m[1]["bn"].training
    m.double()
    assert m[1]["bn"].running_mean.dtype == nr.float64
    assert np.all(m[1]["bn"].running_var.numpy() == 1)
