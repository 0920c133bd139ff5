"""Padding layers and F.pad's reflect/replicate/circular modes against torch."""
import numpy as np
import pytest
import torch

import narae as nr
from helpers import check, randn
from nn_parity import check_layer

R = np.random.default_rng(7)


def data(*shape):
    return R.standard_normal(shape).astype(np.float32)


MODULES = [
    ("ZeroPad1d", lambda m: m.nn.ZeroPad1d(2), data(2, 3, 4)),
    ("ZeroPad1d-tuple", lambda m: m.nn.ZeroPad1d((1, 3)), data(3, 4)),
    ("ZeroPad2d", lambda m: m.nn.ZeroPad2d((1, 2, 0, 3)), data(1, 2, 3, 4)),
    ("ZeroPad3d", lambda m: m.nn.ZeroPad3d(1), data(1, 2, 2, 3, 2)),
    ("ConstantPad1d", lambda m: m.nn.ConstantPad1d((2, -1), 3.5), data(2, 3, 4)),
    ("ConstantPad2d", lambda m: m.nn.ConstantPad2d(1, -2.0), data(2, 3, 4)),
    ("ConstantPad3d", lambda m: m.nn.ConstantPad3d((1, 0, 0, 1, 2, 0), 0.5), data(2, 2, 2, 3)),
    ("ReflectionPad1d", lambda m: m.nn.ReflectionPad1d((3, 1)), data(2, 3, 4)),
    ("ReflectionPad2d", lambda m: m.nn.ReflectionPad2d((1, 2, 2, 1)), data(1, 2, 3, 4)),
    ("ReflectionPad2d-unbatched", lambda m: m.nn.ReflectionPad2d(1), data(2, 3, 4)),
    ("ReflectionPad3d", lambda m: m.nn.ReflectionPad3d((1, 0, 2, 1, 1, 1)), data(1, 2, 3, 3, 4)),
    ("ReplicationPad1d", lambda m: m.nn.ReplicationPad1d((5, 2)), data(2, 3)),
    ("ReplicationPad2d", lambda m: m.nn.ReplicationPad2d((3, 0, 1, 4)), data(1, 2, 3, 2)),
    ("ReplicationPad3d", lambda m: m.nn.ReplicationPad3d(2), data(2, 2, 2, 3)),
    ("CircularPad1d", lambda m: m.nn.CircularPad1d((4, 2)), data(2, 3, 4)),
    ("CircularPad2d", lambda m: m.nn.CircularPad2d((1, 2, 3, 0)), data(1, 2, 3, 4)),
    ("CircularPad3d", lambda m: m.nn.CircularPad3d((1, 1, 0, 2, 1, 0)), data(1, 1, 2, 3, 3)),
]


@pytest.mark.parametrize("name,make,x", MODULES, ids=[c[0] for c in MODULES])
def test_padding_module_matches_torch(name, make, x):
    ours, theirs = check_layer(make, x)
    assert ours.padding == theirs.padding


@pytest.mark.parametrize("mode", ["reflect", "replicate", "circular"])
@pytest.mark.parametrize("pad,shape", [((1, 2), (2, 5)), ((2, 1), (2, 3, 4)),
                                       ((1, 2, 2, 0), (2, 3, 4)), ((0, 1, 2, 1), (1, 2, 3, 4)),
                                       ((1, 1, 0, 2, 2, 1), (2, 3, 3, 4)),
                                       ((1, 2, 1, 0, 1, 1), (1, 2, 3, 3, 3))])
def test_pad_modes_gradcheck(mode, pad, shape):
    check(lambda m, x: m.nn.functional.pad(x, pad, mode=mode), randn(*shape))


@pytest.mark.parametrize("mode,pad", [("reflect", (-1, 2)), ("reflect", (-3, 3)),
                                      ("replicate", (-4, 1)), ("replicate", (1, -2)),
                                      ("circular", (-1, 2)), ("circular", (1, -2)), ("circular", (3, -1)),
                                      ("circular", (4, 0))])
def test_pad_negative_and_edge_amounts(mode, pad):
    check(lambda m, x: m.nn.functional.pad(x, pad, mode=mode), randn(2, 3, 4))


def test_pad_double_backward():
    check(lambda m, x: m.nn.functional.pad(x, (1, 2, 2, 1), mode="reflect") ** 2,
          randn(1, 2, 3, 4), double=True)


@pytest.mark.parametrize("mode,pad,shape", [
    ("reflect", (1, 1), (4,)),                 # 1-D input: torch wants (C, W) at least
    ("replicate", (1, 1, 1, 1), (2, 3)),       # 4 pads need a 3-D or 4-D input
    ("circular", (1,) * 6, (2, 3, 4)),         # 6 pads need a 4-D or 5-D input
    ("reflect", (1,) * 6, (1, 1, 2, 2, 2, 2)),
])
def test_pad_unsupported_dimensionality(mode, pad, shape):
    x = nr.zeros(*shape)
    with pytest.raises(NotImplementedError, match=str(tuple(shape)).replace("(", r"\(")
                       .replace(")", r"\)")):
        nr.nn.functional.pad(x, pad, mode=mode)
    with pytest.raises(NotImplementedError):
        torch.nn.functional.pad(torch.zeros(*shape), pad, mode=mode)


@pytest.mark.parametrize("mode,pad", [("reflect", (4, 0)), ("circular", (5, 0)),
                                      ("reflect", (-2, -2))])
def test_pad_too_large_raises(mode, pad):
    with pytest.raises(RuntimeError, match=r"\(2, 3, 4\)"):
        nr.nn.functional.pad(nr.zeros(2, 3, 4), pad, mode=mode)
    with pytest.raises(RuntimeError):
        torch.nn.functional.pad(torch.zeros(2, 3, 4), pad, mode=mode)


def test_pad_value_with_non_constant_mode():
    with pytest.raises(RuntimeError, match="value"):
        nr.nn.functional.pad(nr.zeros(2, 3), (1, 1), mode="reflect", value=1.0)
    assert nr.nn.functional.pad(nr.zeros(2, 3), (1, 1), mode="reflect", value=0.0).shape == (2, 5)


def test_circular_pad_module_checks_dims():
    with pytest.raises(ValueError, match="CircularPad2d"):
        nr.nn.CircularPad2d(1)(nr.zeros(2, 3))


def test_zero_pad_repr_and_value():
    m = nr.nn.ZeroPad2d((1, 2, 3, 4))
    assert repr(m) == "ZeroPad2d((1, 2, 3, 4))"
    assert m.value == 0.0
    assert repr(nr.nn.ConstantPad1d(2, 3.5)) == "ConstantPad1d(padding=(2, 2), value=3.5)"
