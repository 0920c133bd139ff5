"""Every layer against torch.nn: structure, state_dict keys, repr, forward and gradients."""
import numpy as np
import pytest

import narae as nr
import narae.nn as nn
from nn_parity import check_layer, needs

R = np.random.default_rng(7)


def randn(*shape):
    return R.standard_normal(shape).astype(np.float32)


CASES = [
    # id, factory, inputs, functional ops needed, options
    ("Linear", lambda m: m.nn.Linear(4, 3), [randn(5, 4)], (), {}),
    ("Linear-nobias-3d", lambda m: m.nn.Linear(4, 2, bias=False), [randn(2, 3, 4)], (), {}),
    ("Linear-1d-input", lambda m: m.nn.Linear(4, 2), [randn(4)], (), {}),
    ("Bilinear", lambda m: m.nn.Bilinear(3, 4, 2), [randn(5, 3), randn(5, 4)], (), {}),
    ("Identity", lambda m: m.nn.Identity(3, k=1), [randn(2, 3)], (), {}),
    ("Flatten", lambda m: m.nn.Flatten(), [randn(2, 3, 2, 2)], (), {}),
    ("Flatten-range", lambda m: m.nn.Flatten(0, 1), [randn(2, 3, 2)], (), {}),
    ("Unflatten", lambda m: m.nn.Unflatten(1, (2, 3)), [randn(2, 6)], (), {}),
    ("Sequential-mlp", lambda m: m.nn.Sequential(m.nn.Linear(4, 8), m.nn.ReLU(),
                                                 m.nn.Linear(8, 3), m.nn.Tanh(),
                                                 m.nn.Linear(3, 1), m.nn.Sigmoid()),
     [randn(6, 4)], (), {}),
    ("Conv1d", lambda m: m.nn.Conv1d(2, 3, 3, stride=2, padding=1), [randn(2, 2, 7)],
     ("conv1d",), {}),
    ("Conv2d", lambda m: m.nn.Conv2d(3, 4, 3, padding=1), [randn(2, 3, 5, 5)], ("conv2d",), {}),
    ("Conv2d-groups-dil", lambda m: m.nn.Conv2d(4, 6, (3, 2), stride=(2, 1), dilation=(1, 2),
                                                groups=2, bias=False),
     [randn(2, 4, 7, 6)], ("conv2d",), {}),
    ("Conv2d-same", lambda m: m.nn.Conv2d(2, 3, 4, padding="same"), [randn(1, 2, 6, 6)],
     ("conv2d",), {}),
    ("Conv2d-unbatched", lambda m: m.nn.Conv2d(2, 3, 3), [randn(2, 5, 5)], ("conv2d",), {}),
    ("Conv2d-reflect", lambda m: m.nn.Conv2d(2, 3, 3, padding=1, padding_mode="reflect"),
     [randn(1, 2, 5, 5)], ("conv2d", "pad"), {}),
    ("ConvTranspose2d", lambda m: m.nn.ConvTranspose2d(3, 2, 3, stride=2, padding=1,
                                                       output_padding=1),
     [randn(2, 3, 4, 4)], ("conv_transpose2d",), {}),
    ("ConvTranspose2d-groups", lambda m: m.nn.ConvTranspose2d(4, 6, 2, stride=2, groups=2),
     [randn(1, 4, 3, 3)], ("conv_transpose2d",), {}),
    ("MaxPool1d", lambda m: m.nn.MaxPool1d(2), [randn(2, 3, 8)], ("max_pool1d",), {}),
    ("MaxPool2d", lambda m: m.nn.MaxPool2d(3, stride=2, padding=1), [randn(2, 3, 7, 7)],
     ("max_pool2d",), {}),
    ("MaxPool2d-ceil", lambda m: m.nn.MaxPool2d(2, ceil_mode=True), [randn(1, 2, 5, 5)],
     ("max_pool2d",), {}),
    ("AvgPool1d", lambda m: m.nn.AvgPool1d(3, stride=2, padding=1), [randn(2, 3, 8)],
     ("avg_pool1d",), {}),
    ("AvgPool2d", lambda m: m.nn.AvgPool2d(2), [randn(2, 3, 6, 6)], ("avg_pool2d",), {}),
    ("AvgPool2d-pad", lambda m: m.nn.AvgPool2d(3, 2, 1, count_include_pad=False),
     [randn(1, 2, 5, 5)], ("avg_pool2d",), {}),
    ("AdaptiveAvgPool2d", lambda m: m.nn.AdaptiveAvgPool2d((2, 3)), [randn(2, 3, 5, 7)],
     ("adaptive_avg_pool2d",), {}),
    ("AdaptiveAvgPool2d-1", lambda m: m.nn.AdaptiveAvgPool2d(1), [randn(2, 3, 4, 4)],
     ("adaptive_avg_pool2d",), {}),
    ("AdaptiveMaxPool2d", lambda m: m.nn.AdaptiveMaxPool2d(2), [randn(2, 3, 5, 5)],
     ("adaptive_max_pool2d",), {}),
    ("BatchNorm1d", lambda m: m.nn.BatchNorm1d(3), [randn(8, 3)], ("batch_norm",),
     {"steps": 2}),
    ("BatchNorm1d-3d", lambda m: m.nn.BatchNorm1d(3, momentum=None), [randn(4, 3, 5)],
     ("batch_norm",), {"steps": 3}),
    ("BatchNorm1d-eval", lambda m: m.nn.BatchNorm1d(3), [randn(8, 3)], ("batch_norm",),
     {"train": False}),
    ("BatchNorm2d", lambda m: m.nn.BatchNorm2d(3), [randn(4, 3, 3, 3)], ("batch_norm",),
     {"steps": 2}),
    ("BatchNorm2d-noaffine", lambda m: m.nn.BatchNorm2d(3, affine=False), [randn(4, 3, 2, 2)],
     ("batch_norm",), {}),
    ("BatchNorm2d-notrack", lambda m: m.nn.BatchNorm2d(3, track_running_stats=False),
     [randn(4, 3, 2, 2)], ("batch_norm",), {}),
    ("BatchNorm2d-notrack-eval", lambda m: m.nn.BatchNorm2d(3, track_running_stats=False),
     [randn(4, 3, 2, 2)], ("batch_norm",), {"train": False}),
    ("LayerNorm", lambda m: m.nn.LayerNorm(4), [randn(3, 4)], ("layer_norm",), {}),
    ("LayerNorm-2d", lambda m: m.nn.LayerNorm([3, 4], eps=1e-3), [randn(2, 3, 4)],
     ("layer_norm",), {}),
    ("LayerNorm-nobias", lambda m: m.nn.LayerNorm(4, bias=False), [randn(3, 4)],
     ("layer_norm",), {}),
    ("GroupNorm", lambda m: m.nn.GroupNorm(2, 4), [randn(2, 4, 3, 3)], ("group_norm",), {}),
    ("Dropout-eval", lambda m: m.nn.Dropout(0.3), [randn(4, 5)], ("dropout",),
     {"train": False}),
    ("Dropout2d-eval", lambda m: m.nn.Dropout2d(0.3), [randn(2, 3, 4, 4)], ("dropout2d",),
     {"train": False}),
    ("Embedding-pad", lambda m: m.nn.Embedding(10, 3, padding_idx=1),
     [np.array([[1, 2, 4], [4, 3, 1]])], ("embedding",), {}),
    ("Upsample-nearest", lambda m: m.nn.Upsample(scale_factor=2), [randn(1, 2, 3, 3)],
     ("interpolate",), {}),
    ("Upsample-bilinear", lambda m: m.nn.Upsample(size=(5, 4), mode="bilinear",
                                                  align_corners=False),
     [randn(1, 2, 3, 3)], ("interpolate",), {}),
    ("PReLU", lambda m: m.nn.PReLU(), [randn(3, 4)], ("prelu",), {}),
    ("PReLU-channels", lambda m: m.nn.PReLU(3, init=0.1), [randn(2, 3, 4)], ("prelu",), {}),
    ("Conv2d-circular", lambda m: m.nn.Conv2d(2, 2, 3, padding=(1, 2),
                                              padding_mode="circular"),
     [randn(1, 2, 5, 5)], ("conv2d", "pad"), {}),
    ("Conv2d-replicate-same", lambda m: m.nn.Conv2d(2, 2, (3, 4), padding="same",
                                                    padding_mode="replicate"),
     [randn(1, 2, 5, 6)], ("conv2d", "pad"), {}),
    ("ConvTranspose1d", lambda m: m.nn.ConvTranspose1d(3, 2, 4, stride=2, padding=1),
     [randn(2, 3, 5)], ("conv_transpose1d",), {}),
    ("MaxPool2d-indices", lambda m: m.nn.MaxPool2d(2, return_indices=True),
     [randn(1, 2, 4, 4)], ("max_pool2d",), {}),
    ("MaxPool1d-dilation", lambda m: m.nn.MaxPool1d(2, stride=1, dilation=2),
     [randn(2, 3, 7)], ("max_pool1d",), {}),
    ("AdaptiveAvgPool1d", lambda m: m.nn.AdaptiveAvgPool1d(3), [randn(2, 3, 7)],
     ("adaptive_avg_pool1d",), {}),
    ("AdaptiveMaxPool1d", lambda m: m.nn.AdaptiveMaxPool1d(2), [randn(2, 3, 5)],
     ("adaptive_max_pool1d",), {}),
    ("LPPool2d", lambda m: m.nn.LPPool2d(2, 2), [randn(1, 2, 4, 4)], ("lp_pool2d",), {}),
    ("LPPool1d", lambda m: m.nn.LPPool1d(3, 2, stride=1), [np.abs(randn(1, 2, 5))],
     ("lp_pool1d",), {}),
    ("InstanceNorm1d", lambda m: m.nn.InstanceNorm1d(3), [randn(2, 3, 5)], ("instance_norm",),
     {}),
    ("InstanceNorm2d-affine-track", lambda m: m.nn.InstanceNorm2d(3, affine=True,
                                                                  track_running_stats=True),
     [randn(2, 3, 3, 3)], ("instance_norm",), {"steps": 2}),
    ("RMSNorm", lambda m: m.nn.RMSNorm(4, eps=1e-6), [randn(3, 4)], (), {}),
    ("RMSNorm-noeps", lambda m: m.nn.RMSNorm([2, 3]), [randn(2, 2, 3)], (), {}),
    ("Dropout1d-eval", lambda m: m.nn.Dropout1d(0.3), [randn(2, 3, 4)], ("dropout1d",),
     {"train": False}),
    ("AlphaDropout-eval", lambda m: m.nn.AlphaDropout(0.3), [randn(2, 3)], ("alpha_dropout",),
     {"train": False}),
    ("Upsample-size", lambda m: m.nn.Upsample(size=5), [randn(1, 2, 3)], ("interpolate",), {}),
    ("UpsamplingBilinear2d", lambda m: m.nn.UpsamplingBilinear2d(scale_factor=2),
     [randn(1, 2, 3, 3)], ("interpolate",), {}),
    ("BatchNorm3d", lambda m: m.nn.BatchNorm3d(2), [randn(2, 2, 2, 2, 2)], ("batch_norm",),
     {"steps": 2}),
    ("cnn", lambda m: m.nn.Sequential(m.nn.Conv2d(2, 4, 3, padding=1), m.nn.BatchNorm2d(4),
                                      m.nn.ReLU(), m.nn.MaxPool2d(2), m.nn.Flatten(),
                                      m.nn.Linear(16, 3), m.nn.LogSoftmax(dim=1)),
     [randn(3, 2, 4, 4)], ("conv2d", "batch_norm", "max_pool2d", "log_softmax"), {"steps": 2}),
]


@pytest.mark.filterwarnings("ignore:Using padding='same'")
@pytest.mark.parametrize("name,make,inputs,ops,opts", CASES, ids=[c[0] for c in CASES])
def test_layer_matches_torch(name, make, inputs, ops, opts):
    missing = [o for o in ops if not hasattr(nn.functional, o)]
    if missing:
        pytest.skip(f"narae.nn.functional lacks {missing}")
    check_layer(make, *inputs, **opts)


@pytest.mark.parametrize("make", [
    lambda m: m.nn.Linear(50, 40),
    lambda m: m.nn.Conv2d(6, 30, 3),
    lambda m: m.nn.Conv1d(4, 20, 5, groups=2),
    lambda m: m.nn.ConvTranspose2d(20, 6, 3),
    lambda m: m.nn.Bilinear(30, 4, 20),
    lambda m: m.nn.Embedding(300, 8),
    lambda m: m.nn.PReLU(3),
    lambda m: m.nn.BatchNorm2d(3),
    lambda m: m.nn.LayerNorm(3),
])
def test_default_init_matches_torch(make):
    """Same distribution per parameter: range and std over 20 fresh layers of each library."""
    import torch
    torch.manual_seed(0)
    ours = [make(nr) for _ in range(20)]
    theirs = [make(torch) for _ in range(20)]
    for name, _ in theirs[0].named_parameters():
        a = np.stack([m.get_parameter(name).detach().numpy() for m in ours])
        b = np.stack([m.get_parameter(name).detach().numpy() for m in theirs])
        assert a.dtype == np.float32
        if b.std() == 0:  # constant init (BatchNorm/LayerNorm/PReLU)
            np.testing.assert_array_equal(a, b)
            continue
        # two independent samples of n values: 5 standard errors of the mean / of the std
        n = a.size
        assert abs(a.mean() - b.mean()) < 5 * (2 / n) ** 0.5 * b.std(), name
        assert abs(a.std() - b.std()) < max(0.05, 5 * (1 / n) ** 0.5) * b.std(), name
        # uniform inits: the extremes sit at the bounds; normal ones (Embedding) have tails
        normal = isinstance(ours[0], nn.Embedding)
        tol = (1.0 if normal else 0.05) * b.std()
        assert abs(a.min() - b.min()) < tol and abs(a.max() - b.max()) < tol, name


def test_embedding_padding_row_zero_and_no_grad():
    if not hasattr(nn.functional, "embedding"):
        pytest.skip("narae.nn.functional lacks embedding")
    e = nn.Embedding(5, 3, padding_idx=-1)
    assert e.padding_idx == 4
    assert np.all(e.weight.detach().numpy()[4] == 0)
    e(nr.tensor([[4, 0], [4, 4]])).sum().backward()
    g = e.weight.grad.numpy()
    assert np.all(g[4] == 0) and np.all(g[0] == 1)


def test_embedding_from_pretrained():
    if not hasattr(nn.functional, "embedding"):
        pytest.skip("narae.nn.functional lacks embedding")
    w = nr.tensor([[1.0, 2.0], [3.0, 4.0]])
    e = nn.Embedding.from_pretrained(w)
    assert not e.weight.requires_grad
    np.testing.assert_array_equal(e(nr.tensor([1, 0])).numpy(), [[3, 4], [1, 2]])
    assert nn.Embedding.from_pretrained(w, freeze=False).weight.requires_grad
    assert repr(e) == "Embedding(2, 2)"


@needs("embedding")
def test_embedding_max_norm_matches_torch():
    import torch
    torch.manual_seed(0)
    t = torch.nn.Embedding(6, 4, max_norm=1.0)
    o = nn.Embedding(6, 4, max_norm=1.0)
    o.load_state_dict({k: v.numpy() for k, v in t.state_dict().items()})
    idx = np.array([0, 2, 2, 5])
    np.testing.assert_allclose(o(nr.tensor(idx)).detach().numpy(),
                               t(torch.tensor(idx)).detach().numpy(), rtol=1e-5, atol=1e-6)
    np.testing.assert_allclose(o.weight.detach().numpy(), t.weight.detach().numpy(),
                               rtol=1e-5, atol=1e-6)


@needs("dropout")
def test_dropout_train_zeroes_and_scales():
    d = nn.Dropout(0.5)
    x = nr.ones(1000)
    y = d(x).numpy()
    assert set(np.unique(y)) <= {0.0, 2.0}
    assert 350 < (y == 0).sum() < 650
    d.eval()
    np.testing.assert_array_equal(d(x).numpy(), x.numpy())


@needs("dropout2d")
def test_dropout2d_drops_whole_channels():
    y = nn.Dropout2d(0.5)(nr.ones(4, 8, 3, 3)).numpy()
    per_channel = y.reshape(4, 8, -1)
    assert np.all((per_channel == 0).all(-1) | (per_channel == 2).all(-1))


def test_dropout_rejects_bad_p():
    with pytest.raises(ValueError, match="between 0 and 1"):
        nn.Dropout(1.5)


def test_maxout_is_max_of_linear_pieces():
    m = nn.Maxout(4, 3, pool_size=2)
    assert [n for n, _ in m.named_parameters()] == ["weight", "bias"]
    assert m.weight.shape == (6, 4) and m.bias.shape == (6,)
    x = nr.randn(5, 4, requires_grad=True)
    y = m(x)
    assert y.shape == (5, 3)
    z = x.detach().numpy() @ m.weight.detach().numpy().T + m.bias.detach().numpy()
    np.testing.assert_allclose(y.detach().numpy(), z.reshape(5, 3, 2).max(-1), rtol=1e-6)
    assert repr(m) == "Maxout(in_features=4, out_features=3, pool_size=2, bias=True)"


def test_maxout_gradcheck():
    m = nn.Maxout(3, 2, pool_size=3).double()
    x = nr.tensor(R.standard_normal((4, 3)), dtype=nr.float64, requires_grad=True)
    # gradcheck perturbs the arrays in place, so the layer's own parameters can be inputs
    nr.autograd.gradcheck(lambda x, w, b: m(x), [x, m.weight, m.bias])


def test_maxout_matches_torch_composition():
    import torch
    m = nn.Maxout(4, 3, pool_size=3)
    w, b = m.weight.detach().numpy(), m.bias.detach().numpy()
    x = randn(6, 4)
    xo, xt = nr.tensor(x, requires_grad=True), torch.tensor(x, requires_grad=True)
    wt, bt = torch.tensor(w, requires_grad=True), torch.tensor(b, requires_grad=True)
    yo = m(xo)
    yt = torch.nn.functional.linear(xt, wt, bt).reshape(6, 3, 3).max(-1).values
    np.testing.assert_allclose(yo.detach().numpy(), yt.detach().numpy(), rtol=1e-5)
    up = randn(6, 3)
    (yo * nr.tensor(up)).sum().backward()
    (yt * torch.tensor(up)).sum().backward()
    np.testing.assert_allclose(xo.grad.numpy(), xt.grad.numpy(), rtol=1e-5, atol=1e-6)
    np.testing.assert_allclose(m.weight.grad.numpy(), wt.grad.numpy(), rtol=1e-5, atol=1e-6)
    np.testing.assert_allclose(m.bias.grad.numpy(), bt.grad.numpy(), rtol=1e-5, atol=1e-6)


# -- shape errors name the layer and both shapes -------------------------------------------
@pytest.mark.parametrize("layer,x,text", [
    (lambda: nn.Linear(4, 2), (3, 5), "Linear(in_features=4, out_features=2, bias=True)"),
    (lambda: nn.Bilinear(2, 3, 1), None, "Bilinear(in1_features=2"),
    (lambda: nn.Maxout(4, 2, 2), (3, 5), "Maxout(in_features=4"),
    (lambda: nn.Conv2d(3, 4, 3), (1, 2, 5, 5), "Conv2d(3, 4, kernel_size=(3, 3)"),
    (lambda: nn.Conv1d(3, 4, 3), (1, 3, 2, 5, 5), "Conv1d(3, 4"),
    (lambda: nn.ConvTranspose2d(3, 4, 3), (1, 2, 5, 5), "ConvTranspose2d(3, 4"),
    (lambda: nn.BatchNorm2d(3), (2, 4, 5, 5), "BatchNorm2d(3"),
    (lambda: nn.BatchNorm1d(3), (2, 4), "BatchNorm1d(3"),
    (lambda: nn.LayerNorm(4), (2, 5), "LayerNorm((4,)"),
    (lambda: nn.GroupNorm(2, 4), (2, 6, 3), "GroupNorm(2, 4"),
])
def test_wrong_input_shape_names_layer_and_shapes(layer, x, text):
    layer = layer()
    if x is None:
        args = (nr.randn(3, 2), nr.randn(3, 4))
        shapes = ["(3, 2)", "(3, 4)"]
    else:
        args = (nr.randn(*x),)
        shapes = [str(tuple(x))]
    with pytest.raises((RuntimeError, ValueError)) as e:
        layer(*args)
    msg = str(e.value)
    assert text in msg, msg
    for s in shapes:
        assert s in msg, msg
    if hasattr(layer, "weight") and isinstance(layer, (nn.Linear, nn.Conv2d, nn.Maxout)):
        assert str(tuple(layer.weight.shape)) in msg, msg


def test_batchnorm_wrong_ndim():
    with pytest.raises(ValueError, match="expected 4D input"):
        nn.BatchNorm2d(3)(nr.randn(2, 3))


def test_conv_constructor_errors():
    with pytest.raises(ValueError, match="divisible by groups"):
        nn.Conv2d(3, 4, 3, groups=2)
    with pytest.raises(ValueError, match="padding_mode"):
        nn.Conv2d(3, 4, 3, padding_mode="bogus")
    with pytest.raises(ValueError, match="strided"):
        nn.Conv2d(3, 4, 3, stride=2, padding="same")


@needs("conv_transpose2d")
def test_conv_transpose_output_size():
    import torch
    torch.manual_seed(0)
    t = torch.nn.ConvTranspose2d(2, 3, 3, stride=2, padding=1)
    o = nn.ConvTranspose2d(2, 3, 3, stride=2, padding=1)
    o.load_state_dict({k: v.numpy() for k, v in t.state_dict().items()})
    x = randn(1, 2, 4, 4)
    yo = o(nr.tensor(x), output_size=[8, 8])
    yt = t(torch.tensor(x), output_size=[8, 8])
    assert yo.shape == (1, 3, 8, 8)
    np.testing.assert_allclose(yo.detach().numpy(), yt.detach().numpy(), rtol=1e-4, atol=1e-5)
    with pytest.raises(ValueError, match="output size"):
        o(nr.tensor(x), output_size=[12, 12])


@pytest.mark.parametrize("name", ["BatchNorm1d", "BatchNorm2d", "GroupNorm", "LayerNorm",
                                  "Conv2d", "ConvTranspose2d", "Embedding", "Linear",
                                  "Bilinear"])
def test_float64_layers(name):
    """dtype= builds float64 parameters; .double() converts; forward keeps float64."""
    ctor = {"BatchNorm1d": (3,), "BatchNorm2d": (3,), "GroupNorm": (1, 3), "LayerNorm": (3,),
            "Conv2d": (3, 3, 1), "ConvTranspose2d": (3, 3, 1), "Embedding": (5, 3),
            "Linear": (3, 3), "Bilinear": (3, 3, 3)}[name]
    m = getattr(nn, name)(*ctor, dtype=nr.float64)
    assert all(p.dtype == nr.float64 for p in m.parameters())
    m2 = getattr(nn, name)(*ctor).double()
    assert all(p.dtype == nr.float64 for p in m2.parameters())
