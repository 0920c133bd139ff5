"""nn.utils weight/spectral normalization (hook and parametrization forms), register_parametrization
and conv/linear + batch-norm fusion, each against torch."""
import numpy as np
import pytest
import torch

import narae as nr
import narae.nn as nn
from narae.nn.utils import parametrize

RNG = np.random.default_rng(0)
pytestmark = pytest.mark.filterwarnings("ignore:.*torch.nn.utils.weight_norm.*:FutureWarning")


def _t(a):
    return torch.tensor(np.asarray(a, dtype=np.float64))


def _n(a):
    return nr.tensor(np.asarray(a, dtype=np.float64))


def _np(t):
    return t.detach().numpy() if isinstance(t, torch.Tensor) else t.detach().numpy()


def _pair_linear(in_f=5, out_f=4):
    ours = nn.Linear(in_f, out_f).double()
    theirs = torch.nn.Linear(in_f, out_f).double()
    with torch.no_grad():
        theirs.weight.copy_(_t(_np(ours.weight)))
        theirs.bias.copy_(_t(_np(ours.bias)))
    return ours, theirs


def _pair_conv(transpose=False):
    cls, tcls = (nn.ConvTranspose2d, torch.nn.ConvTranspose2d) if transpose else \
        (nn.Conv2d, torch.nn.Conv2d)
    ours, theirs = cls(3, 4, 3).double(), tcls(3, 4, 3).double()
    with torch.no_grad():
        theirs.weight.copy_(_t(_np(ours.weight)))
        theirs.bias.copy_(_t(_np(ours.bias)))
    return ours, theirs


def _compare_grads(ours, theirs, x, names, rtol=1e-9):
    """Forward equal; gradients of every named parameter equal after one backward."""
    yo, yt = ours(_n(x)), theirs(_t(x))
    np.testing.assert_allclose(_np(yo), _np(yt), rtol=rtol, atol=1e-12)
    up = RNG.standard_normal(yt.shape)
    (yo * _n(up)).sum().backward()
    (yt * _t(up)).sum().backward()
    ours_params, theirs_params = dict(ours.named_parameters()), dict(theirs.named_parameters())
    for name in names:
        np.testing.assert_allclose(_np(ours_params[name].grad), _np(theirs_params[name].grad),
                                   rtol=rtol, atol=1e-12, err_msg=name)


@pytest.mark.parametrize("dim", [0, 1, None])
def test_weight_norm_hook_matches_torch(dim):
    ours, theirs = _pair_linear()
    nn.utils.weight_norm(ours, dim=dim)
    torch.nn.utils.weight_norm(theirs, dim=dim)
    assert list(ours.state_dict()) == list(theirs.state_dict())
    for k, v in theirs.state_dict().items():
        np.testing.assert_allclose(ours.state_dict()[k].numpy(), _np(v), rtol=1e-12)
    _compare_grads(ours, theirs, RNG.standard_normal((3, 5)), ["weight_g", "weight_v", "bias"])
    nn.utils.remove_weight_norm(ours)
    torch.nn.utils.remove_weight_norm(theirs)
    assert list(ours.state_dict()) == ["bias", "weight"] or \
        set(ours.state_dict()) == set(theirs.state_dict())
    np.testing.assert_allclose(_np(ours.weight), _np(theirs.weight), rtol=1e-12)
    with pytest.raises(ValueError, match="not found"):
        nn.utils.remove_weight_norm(ours)


def test_weight_norm_conv_and_errors():
    ours, theirs = _pair_conv()
    nn.utils.weight_norm(ours)
    torch.nn.utils.weight_norm(theirs)
    assert tuple(ours.weight_g.shape) == tuple(theirs.weight_g.shape) == (4, 1, 1, 1)
    _compare_grads(ours, theirs, RNG.standard_normal((2, 3, 6, 6)), ["weight_g", "weight_v"])
    with pytest.raises(RuntimeError, match="two weight_norm hooks"):
        nn.utils.weight_norm(ours)


@pytest.mark.parametrize("dim", [0, 1])
def test_weight_norm_parametrization_matches_torch(dim):
    ours, theirs = _pair_linear()
    nn.utils.parametrizations.weight_norm(ours, dim=dim)
    torch.nn.utils.parametrizations.weight_norm(theirs, dim=dim)
    assert type(ours).__name__ == type(theirs).__name__ == "ParametrizedLinear"
    assert set(ours.state_dict()) == set(theirs.state_dict())
    _compare_grads(ours, theirs, RNG.standard_normal((3, 5)),
                   ["parametrizations.weight.original0", "parametrizations.weight.original1"])
    assert isinstance(nn.Linear(2, 2), nn.Linear) and type(nn.Linear(2, 2)) is nn.Linear


def test_weight_norm_parametrization_loads_old_checkpoints():
    old = nn.utils.weight_norm(nn.Linear(5, 4))
    new = nn.utils.parametrizations.weight_norm(nn.Linear(5, 4))
    sd = old.state_dict()
    new.load_state_dict(sd)
    assert "weight_g" in sd  # the caller's dict is left as it was
    x = nr.randn(2, 5)
    np.testing.assert_allclose(_np(new(x).detach()), _np(old(x).detach()), rtol=1e-6)


def _copy_spectral_state(ours, theirs, keys):
    for ko, kt in keys:
        target = ours.state_dict(keep_vars=True)[ko]
        target._data[...] = theirs.state_dict()[kt].numpy()


@pytest.mark.parametrize("transpose", [False, True])
def test_spectral_norm_hook_matches_torch(transpose):
    ours, theirs = _pair_conv(transpose)
    nn.utils.spectral_norm(ours)
    torch.nn.utils.spectral_norm(theirs)
    assert set(ours.state_dict()) == set(theirs.state_dict())
    assert tuple(ours.weight_u.shape) == tuple(theirs.weight_u.shape)
    _copy_spectral_state(ours, theirs, [("weight_u", "weight_u"), ("weight_v", "weight_v")])
    x = RNG.standard_normal((2, 3, 6, 6) if not transpose else (2, 3, 4, 4))
    for _ in range(3):  # power iteration advances u, v at each training forward
        for p in list(ours.parameters()) + list(theirs.parameters()):
            p.grad = None
        _compare_grads(ours, theirs, x, ["weight_orig", "bias"], rtol=1e-8)
        np.testing.assert_allclose(_np(ours.weight_u), _np(theirs.weight_u), rtol=1e-9)
    ours.eval()
    theirs.eval()
    u = _np(ours.weight_u).copy()
    np.testing.assert_allclose(_np(ours(_n(x))), _np(theirs(_t(x))), rtol=1e-8, atol=1e-12)
    np.testing.assert_array_equal(_np(ours.weight_u), u)  # no iteration in eval mode
    nn.utils.remove_spectral_norm(ours)
    torch.nn.utils.remove_spectral_norm(theirs)
    np.testing.assert_allclose(_np(ours.weight), _np(theirs.weight), rtol=1e-8)


def test_spectral_norm_bounds_the_largest_singular_value():
    layer = nn.utils.spectral_norm(nn.Linear(20, 30), n_power_iterations=3)
    for _ in range(10):
        layer(nr.randn(1, 20))
    sigma = np.linalg.svd(_np(layer.weight.detach()), compute_uv=False)[0]
    assert abs(sigma - 1.0) < 1e-3


def test_spectral_norm_parametrization_matches_torch():
    ours, theirs = _pair_linear(6, 5)
    nn.utils.parametrizations.spectral_norm(ours)
    torch.nn.utils.parametrizations.spectral_norm(theirs)
    assert set(ours.state_dict()) == set(theirs.state_dict())
    keys = [("parametrizations.weight.0._u",) * 2, ("parametrizations.weight.0._v",) * 2]
    _copy_spectral_state(ours, theirs, keys)
    x = RNG.standard_normal((3, 6))
    for _ in range(3):
        for p in list(ours.parameters()) + list(theirs.parameters()):
            p.grad = None
        _compare_grads(ours, theirs, x, ["parametrizations.weight.original"], rtol=1e-8)
    w = np.linalg.svd(_np(ours.weight.detach()), compute_uv=False)
    assert abs(w[0] - 1.0) < 1e-6


class _Symmetric(nn.Module):
    def forward(self, x):
        return x.triu() + x.triu(1).transpose(-1, -2)


class _TorchSymmetric(torch.nn.Module):
    def forward(self, x):
        return x.triu() + x.triu(1).transpose(-1, -2)


class _Scale(nn.Module):
    def forward(self, x):
        return 2.0 * x

    def right_inverse(self, x):
        return x / 2.0


def test_register_parametrization_custom_matches_torch():
    ours, theirs = _pair_linear(4, 4)
    parametrize.register_parametrization(ours, "weight", _Symmetric())
    torch.nn.utils.parametrize.register_parametrization(theirs, "weight", _TorchSymmetric())
    w = _np(ours.weight)
    np.testing.assert_array_equal(w, w.T)
    _compare_grads(ours, theirs, RNG.standard_normal((3, 4)),
                   ["parametrizations.weight.original", "bias"])
    assert parametrize.is_parametrized(ours) and parametrize.is_parametrized(ours, "weight")
    assert not parametrize.is_parametrized(ours, "bias")
    assert parametrize.type_before_parametrizations(ours) is nn.Linear


def test_parametrization_chain_assignment_cache_and_removal():
    layer = nn.Linear(3, 3)
    original = layer.weight
    parametrize.register_parametrization(layer, "weight", _Scale())
    assert layer.parametrizations.weight.original is original  # optimizers keep their tensor
    target = nr.tensor(np.arange(9.0).reshape(3, 3), dtype=nr.float32)
    layer.weight = target  # right_inverse stores target / 2
    np.testing.assert_allclose(_np(layer.weight), _np(target))
    np.testing.assert_allclose(_np(original), _np(target) / 2)
    parametrize.register_parametrization(layer, "weight", _Scale())  # chained: 4 * original
    np.testing.assert_allclose(_np(layer.weight), 2 * _np(target))
    with parametrize.cached():
        assert layer.weight is layer.weight
    assert layer.weight is not layer.weight
    parametrize.remove_parametrizations(layer, "weight", leave_parametrized=True)
    assert type(layer) is nn.Linear and "parametrizations" not in layer._modules
    np.testing.assert_allclose(_np(layer.weight), 2 * _np(target))
    assert layer.weight is original and isinstance(layer.weight, nn.Parameter)


def test_parametrization_errors():
    layer = nn.Linear(3, 4)

    class Shrink(nn.Module):
        def forward(self, x):
            return x[:2]

    with pytest.raises(ValueError, match="may not change the shape"):
        parametrize.register_parametrization(layer, "weight", Shrink())
    with pytest.raises(ValueError, match="does not have a parameter"):
        parametrize.register_parametrization(layer, "nothing", _Scale())
    with pytest.raises(ValueError, match="does not have a parametrization"):
        parametrize.remove_parametrizations(layer, "weight")


def _bn_pair(n, dims):
    ours = (nn.BatchNorm2d if dims == 2 else nn.BatchNorm1d)(n).double()
    theirs = (torch.nn.BatchNorm2d if dims == 2 else torch.nn.BatchNorm1d)(n).double()
    stats = [RNG.standard_normal(n), RNG.uniform(0.5, 2, n), RNG.standard_normal(n),
             RNG.standard_normal(n)]
    with torch.no_grad():
        for name, value in zip(("running_mean", "running_var", "weight", "bias"), stats):
            getattr(theirs, name).copy_(_t(value))
            getattr(ours, name)._data[...] = value
    return ours.eval(), theirs.eval()


@pytest.mark.parametrize("transpose", [False, True])
def test_fuse_conv_bn_eval(transpose):
    conv, tconv = _pair_conv(transpose)
    conv.eval(), tconv.eval()
    bn, tbn = _bn_pair(4, 2)
    fused = nn.utils.fuse_conv_bn_eval(conv, bn, transpose=transpose)
    tfused = torch.nn.utils.fuse_conv_bn_eval(tconv, tbn, transpose=transpose)
    np.testing.assert_allclose(_np(fused.weight), _np(tfused.weight), rtol=1e-12)
    np.testing.assert_allclose(_np(fused.bias), _np(tfused.bias), rtol=1e-12, atol=1e-14)
    x = _n(RNG.standard_normal((2, 3, 5, 5)))
    np.testing.assert_allclose(_np(fused(x)), _np(bn(conv(x))), rtol=1e-10, atol=1e-12)
    with pytest.raises(AssertionError, match="only for eval"):
        nn.utils.fuse_conv_bn_eval(conv.train(), bn)


def test_fuse_linear_bn_eval():
    lin, tlin = _pair_linear(5, 4)
    lin.eval(), tlin.eval()
    bn, tbn = _bn_pair(4, 1)
    fused = nn.utils.fuse_linear_bn_eval(lin, bn)
    tfused = torch.nn.utils.fuse_linear_bn_eval(tlin, tbn)
    np.testing.assert_allclose(_np(fused.weight), _np(tfused.weight), rtol=1e-12)
    np.testing.assert_allclose(_np(fused.bias), _np(tfused.bias), rtol=1e-12, atol=1e-14)
    x = _n(RNG.standard_normal((3, 5)))
    np.testing.assert_allclose(_np(fused(x)), _np(bn(lin(x))), rtol=1e-10, atol=1e-12)
