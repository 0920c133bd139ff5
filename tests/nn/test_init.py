"""narae.nn.init: gains and fans equal torch's; fills are in place, seeded, with torch's
distributions (checked on large tensors)."""
import math

import numpy as np
import pytest
import torch

import narae as nr
import narae.nn as nn
from narae.nn import init


@pytest.mark.parametrize("nl,param", [
    ("linear", None), ("conv2d", None), ("conv_transpose3d", None), ("sigmoid", None),
    ("tanh", None), ("relu", None), ("leaky_relu", None), ("leaky_relu", 0.2),
    ("leaky_relu", math.sqrt(5)), ("selu", None)])
def test_calculate_gain_equals_torch(nl, param):
    assert init.calculate_gain(nl, param) == pytest.approx(torch.nn.init.calculate_gain(nl, param))


def test_calculate_gain_errors():
    with pytest.raises(ValueError, match="Unsupported nonlinearity"):
        init.calculate_gain("swish")
    with pytest.raises(ValueError, match="not a valid number"):
        init.calculate_gain("leaky_relu", True)


@pytest.mark.parametrize("shape", [(3, 4), (5, 2, 3, 3), (6, 4, 7), (2, 3, 1, 2, 2)])
def test_fans_equal_torch(shape):
    assert init._calculate_fan_in_and_fan_out(nr.zeros(*shape)) == \
        torch.nn.init._calculate_fan_in_and_fan_out(torch.zeros(*shape))
    with pytest.raises(ValueError, match="fewer than 2 dimensions"):
        init._calculate_fan_in_and_fan_out(nr.zeros(3))


SHAPE = (100, 60, 5)  # fan_in 300, fan_out 500; 30000 draws


@pytest.mark.parametrize("name,kwargs", [
    ("uniform_", dict(a=-0.5, b=2.0)), ("normal_", dict(mean=1.0, std=0.3)),
    ("trunc_normal_", dict(mean=0.0, std=1.0, a=-1.0, b=1.5)),
    ("xavier_uniform_", dict(gain=2.0)), ("xavier_normal_", dict()),
    ("kaiming_uniform_", dict(a=math.sqrt(5))), ("kaiming_uniform_", dict(nonlinearity="relu")),
    ("kaiming_normal_", dict(mode="fan_out", nonlinearity="relu")),
    ("kaiming_normal_", dict(a=0.1)),
    ("orthogonal_", dict(gain=1.5)),
])
def test_distribution_matches_torch(name, kwargs):
    torch.manual_seed(0)
    ours = getattr(init, name)(nr.empty(*SHAPE), **kwargs).numpy()
    theirs = getattr(torch.nn.init, name)(torch.empty(*SHAPE), **kwargs).numpy()
    s = theirs.std()
    # two independent samples of 30000: their means differ by ~s/122 (1 sigma); allow 5 sigma
    assert abs(ours.mean() - theirs.mean()) < 0.041 * s + 1e-3
    assert abs(ours.std() - s) < 0.02 * s
    if "uniform" in name or "trunc" in name:
        assert abs(ours.min() - theirs.min()) < 0.01 * s
        assert abs(ours.max() - theirs.max()) < 0.01 * s


def test_orthogonal_rows_and_columns():
    for shape in [(4, 6), (6, 4), (3, 2, 2)]:
        w = init.orthogonal_(nr.empty(*shape), gain=2.0).numpy().reshape(shape[0], -1)
        gram = w @ w.T if w.shape[0] <= w.shape[1] else w.T @ w
        np.testing.assert_allclose(gram, 4 * np.eye(gram.shape[0]), atol=1e-5)


def test_constant_fills_and_eye_dirac_equal_torch():
    assert np.all(init.constant_(nr.empty(2, 3), 0.7).numpy() == np.float32(0.7))
    assert np.all(init.ones_(nr.empty(2)).numpy() == 1)
    assert np.all(init.zeros_(nr.ones(2)).numpy() == 0)
    np.testing.assert_array_equal(init.eye_(nr.empty(3, 5)).numpy(),
                                  torch.nn.init.eye_(torch.empty(3, 5)).numpy())
    for shape, groups in [((4, 2, 3), 1), ((6, 2, 3, 3), 2), ((2, 3, 1, 3, 3), 1)]:
        np.testing.assert_array_equal(
            init.dirac_(nr.empty(*shape), groups).numpy(),
            torch.nn.init.dirac_(torch.empty(*shape), groups).numpy())


def test_in_place_on_parameter_and_version_bump():
    p = nn.Parameter(nr.zeros(4, 3))
    arr, v = p._data, p._version[0]
    out = init.kaiming_uniform_(p)
    assert out is p and p._data is arr and p._version[0] == v + 1
    assert p.requires_grad and p.is_leaf
    assert np.any(arr != 0)


def test_seeded_and_generator():
    nr.manual_seed(5)
    a = init.normal_(nr.empty(10)).numpy().copy()
    nr.manual_seed(5)
    b = init.normal_(nr.empty(10)).numpy().copy()
    np.testing.assert_array_equal(a, b)
    g = nr.Generator().manual_seed(1)
    c = init.uniform_(nr.empty(5), generator=g).numpy().copy()
    d = init.uniform_(nr.empty(5), generator=nr.Generator().manual_seed(1)).numpy()
    np.testing.assert_array_equal(c, d)


def test_float64_tensor_stays_float64():
    t = init.xavier_normal_(nr.empty(3, 4, dtype=nr.float64))
    assert t.dtype == nr.float64


def test_zero_sized_kaiming_is_noop():
    assert init.kaiming_uniform_(nr.empty(0, 3)).shape == (0, 3)


def test_sparse_has_zero_fraction():
    w = init.sparse_(nr.empty(10, 6), sparsity=0.3).numpy()
    assert np.all((w == 0).sum(0) >= 3)


@pytest.mark.parametrize("name,args", [("uniform", (-1.0, 1.0)), ("normal", ()),
                                       ("constant", (0.3,)), ("eye", ()), ("xavier_uniform", ()),
                                       ("xavier_normal", ()), ("kaiming_uniform", ()),
                                       ("kaiming_normal", ()), ("orthogonal", ()),
                                       ("sparse", (0.5,))])
def test_deprecated_aliases_warn_and_fill_like_the_new_names(name, args):
    a, b = nr.empty(4, 6), nr.empty(4, 6)
    nr.manual_seed(1)
    with pytest.warns(FutureWarning, match=f"nn.init.{name}_"):
        assert getattr(nn.init, name)(a, *args) is a
    nr.manual_seed(1)
    getattr(nn.init, name + "_")(b, *args)
    np.testing.assert_array_equal(a.numpy(), b.numpy())
