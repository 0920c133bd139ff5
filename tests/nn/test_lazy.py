"""Lazy modules: shapes inferred on the first call, the module becoming its regular class,
state_dict of a lazy module, loading into one, optimizers built before the first call."""
import copy

import numpy as np
import pytest
import torch

import narae as nr
import narae.nn as nn

R = np.random.default_rng(13)


def data(*shape):
    return R.standard_normal(shape).astype(np.float32)


LAZY = [
    ("LazyLinear", lambda m: m.nn.LazyLinear(3), data(2, 5), "Linear"),
    ("LazyLinear-nobias", lambda m: m.nn.LazyLinear(2, bias=False), data(4, 3, 6), "Linear"),
    ("LazyConv1d", lambda m: m.nn.LazyConv1d(4, 3, padding=1), data(2, 3, 7), "Conv1d"),
    ("LazyConv2d", lambda m: m.nn.LazyConv2d(4, 3, stride=2, groups=2, bias=False),
     data(1, 6, 5, 5), "Conv2d"),
    ("LazyConv2d-unbatched", lambda m: m.nn.LazyConv2d(2, (1, 2)), data(3, 4, 4), "Conv2d"),
    ("LazyConvTranspose1d", lambda m: m.nn.LazyConvTranspose1d(4, 3, stride=2, groups=2),
     data(2, 6, 5), "ConvTranspose1d"),
    ("LazyConvTranspose2d", lambda m: m.nn.LazyConvTranspose2d(2, 2, output_padding=1,
                                                               stride=2),
     data(1, 3, 3, 3), "ConvTranspose2d"),
    ("LazyConv3d", lambda m: m.nn.LazyConv3d(2, 2, padding=(1, 0, 0)), data(1, 3, 2, 3, 3),
     "Conv3d"),
    ("LazyConvTranspose3d", lambda m: m.nn.LazyConvTranspose3d(2, 2, stride=2),
     data(1, 2, 2, 2, 1), "ConvTranspose3d"),
    ("LazyBatchNorm1d", lambda m: m.nn.LazyBatchNorm1d(), data(4, 3, 5), "BatchNorm1d"),
    ("LazyBatchNorm3d", lambda m: m.nn.LazyBatchNorm3d(), data(2, 3, 2, 2, 2), "BatchNorm3d"),
    ("LazyInstanceNorm3d", lambda m: m.nn.LazyInstanceNorm3d(), data(1, 3, 2, 2, 3),
     "InstanceNorm3d"),
    ("LazyBatchNorm2d", lambda m: m.nn.LazyBatchNorm2d(momentum=None, affine=False),
     data(2, 3, 2, 2), "BatchNorm2d"),
    ("LazyInstanceNorm1d", lambda m: m.nn.LazyInstanceNorm1d(), data(2, 3, 5), "InstanceNorm1d"),
    ("LazyInstanceNorm2d", lambda m: m.nn.LazyInstanceNorm2d(affine=False,
                                                             track_running_stats=False),
     data(2, 3, 4, 4), "InstanceNorm2d"),
]


@pytest.mark.filterwarnings("ignore:input's size at dim")
@pytest.mark.parametrize("name,make,x,becomes", LAZY, ids=[c[0] for c in LAZY])
def test_lazy_module_matches_torch(name, make, x, becomes):
    torch.manual_seed(0)
    ours, theirs = make(nr), make(torch)
    assert repr(ours) == repr(theirs)
    assert list(ours.state_dict()) == list(theirs.state_dict())
    assert ours.has_uninitialized_params() == theirs.has_uninitialized_params()
    yo, yt = ours(nr.from_numpy(x)), theirs(torch.from_numpy(x))
    assert type(ours).__name__ == type(theirs).__name__ == becomes
    assert not isinstance(ours, nn.LazyModuleMixin)
    assert repr(ours) == repr(theirs)
    assert [(n, tuple(p.shape)) for n, p in ours.named_parameters()] == \
        [(n, tuple(p.shape)) for n, p in theirs.named_parameters()]
    assert [(n, tuple(b.shape)) for n, b in ours.named_buffers()] == \
        [(n, tuple(b.shape)) for n, b in theirs.named_buffers()]
    assert tuple(yo.shape) == tuple(yt.shape)
    # with torch's weights copied in, the (now regular) layer computes the same
    ours.load_state_dict({k: v.detach().numpy() for k, v in theirs.state_dict().items()})
    np.testing.assert_allclose(ours(nr.from_numpy(x)).detach().numpy(),
                               theirs(torch.from_numpy(x)).detach().numpy(), rtol=1e-4,
                               atol=1e-5)


def test_lazy_initialisation_is_the_regular_layers():
    """Materialized parameters are initialised by reset_parameters (not left empty)."""
    m = nn.LazyLinear(50)
    m(nr.zeros(2, 16))
    w = m.weight.detach().numpy()
    assert np.abs(w).max() <= 0.25 + 1e-6 and w.std() > 0.05  # U(-1/4, 1/4)
    b = nn.LazyBatchNorm1d()
    b(nr.randn(4, 3))
    np.testing.assert_array_equal(b.weight.detach().numpy(), np.ones(3))


def test_optimizer_built_before_the_first_call():
    m = nn.LazyLinear(2)
    params = list(m.parameters())
    opt = nr.optim.SGD(m.parameters(), lr=0.5)
    x = nr.randn(3, 4)
    m(x).sum().backward()
    w0 = m.weight.detach().numpy().copy()
    opt.step()
    assert all(a is b for a, b in zip(params, m.parameters()))
    np.testing.assert_allclose(m.weight.detach().numpy(), w0 - 0.5 * m.weight.grad.numpy(),
                               rtol=1e-6)
    adam = nn.Sequential(nn.LazyLinear(3), nn.ReLU(), nn.LazyLinear(1))
    opt = nr.optim.Adam(adam.parameters(), lr=1e-2)
    adam(nr.randn(5, 4)).sum().backward()
    opt.step()
    assert [type(c).__name__ for c in adam] == ["Linear", "ReLU", "Linear"]


def test_dtype_set_before_the_first_call():
    m = nn.LazyConv1d(2, 3).double()
    m(nr.randn(1, 4, 6, dtype=nr.float64))
    assert m.weight.dtype == nr.float64 and m.bias.dtype == nr.float64
    m = nn.LazyLinear(2, dtype=nr.float64)
    assert m.weight.dtype == nr.float64


def test_state_dict_of_a_lazy_module():
    m = nn.LazyLinear(3)
    sd = m.state_dict()
    assert all(isinstance(v, nn.UninitializedParameter) for v in sd.values())
    # loading a lazy checkpoint into a lazy module leaves it lazy
    other = nn.LazyLinear(3)
    assert not other.load_state_dict(sd).missing_keys
    assert other.has_uninitialized_params()
    bn = nn.LazyBatchNorm2d()
    assert list(bn.state_dict()) == ["weight", "bias", "running_mean", "running_var",
                                     "num_batches_tracked"]


def test_load_state_dict_materializes():
    ref = nn.Linear(4, 3)
    m = nn.LazyLinear(3)
    m.load_state_dict(ref.state_dict())
    assert not m.has_uninitialized_params() and m.weight.shape == (3, 4)
    np.testing.assert_array_equal(m.weight.detach().numpy(), ref.weight.detach().numpy())
    x = nr.randn(2, 4)
    np.testing.assert_allclose(m(x).detach().numpy(), ref(x).detach().numpy())
    assert type(m) is nn.Linear and m.in_features == 4
    bn = nn.LazyBatchNorm1d()
    src = nn.BatchNorm1d(5)
    src(nr.randn(4, 5))
    bn.load_state_dict(src.state_dict())
    bn.eval()
    np.testing.assert_allclose(bn(nr.ones(2, 5)).detach().numpy(),
                               src.eval()(nr.ones(2, 5)).detach().numpy())
    assert bn.num_features == 5


def test_lazy_inside_a_model_and_deepcopy():
    model = nn.Sequential(nn.LazyConv2d(4, 3), nn.LazyBatchNorm2d(), nn.ReLU(), nn.Flatten(),
                          nn.LazyLinear(2))
    twin = copy.deepcopy(model)
    model(nr.randn(2, 3, 5, 5))
    assert [type(c).__name__ for c in model] == ["Conv2d", "BatchNorm2d", "ReLU", "Flatten",
                                                 "Linear"]
    assert model[4].in_features == 36
    assert twin[0].has_uninitialized_params()
    twin(nr.randn(1, 2, 4, 4))
    assert twin[0].in_channels == 2 and twin[4].in_features == 16


def test_lazy_instance_norm_unbatched_channels():
    """An unbatched (C, *spatial) input: the channels are dim 0 (torch reads dim 1 here)."""
    m = nn.LazyInstanceNorm2d()
    m(nr.randn(3, 4, 5))
    assert m.num_features == 3 and m.weight.shape == (3,)


def test_lazy_bad_input():
    with pytest.raises(RuntimeError, match=r"Expected 3D \(unbatched\) or 4D \(batched\)"):
        nn.LazyConv2d(2, 3)(nr.zeros(5, 5))
    with pytest.raises(ValueError, match="divisible by groups"):
        nn.LazyConv1d(4, 1, groups=2)(nr.zeros(1, 3, 4))
    m = nn.LazyLinear(2)
    assert m.has_uninitialized_params()
    with pytest.raises(RuntimeError, match="uninitialized"):
        m.weight.shape
