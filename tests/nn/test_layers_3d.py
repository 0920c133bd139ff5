"""3-D conv/pool layers, MaxUnpool and FractionalMaxPool against torch.nn: structure,
state_dict keys, repr, forward and gradients (torch's weights copied in)."""
import numpy as np
import pytest
import torch

import narae as nr
import narae.nn as nn
from nn_parity import check_layer

R = np.random.default_rng(11)


def randn(*shape):
    return R.standard_normal(shape).astype(np.float32)


def _pool_indices(nd, x, k, **kw):
    """torch's max pool output and indices, as arrays to feed MaxUnpool."""
    y, i = getattr(torch.nn.functional, f"max_pool{nd}d")(torch.tensor(x), k,
                                                          return_indices=True, **kw)
    return y.numpy(), i.numpy()


Y1, I1 = _pool_indices(1, randn(2, 3, 8), 2)
Y2, I2 = _pool_indices(2, randn(2, 3, 6, 7), 3, stride=2, padding=1)
Y3, I3 = _pool_indices(3, randn(1, 2, 4, 6, 4), 2)
U2, U3 = R.uniform(size=(2, 3, 2)).astype(np.float32), R.uniform(size=(1, 2, 3)).astype(np.float32)

CASES = [
    ("Conv3d", lambda m: m.nn.Conv3d(2, 3, 3, padding=1), [randn(2, 2, 4, 5, 4)]),
    ("Conv3d-groups-dil", lambda m: m.nn.Conv3d(4, 6, (3, 2, 2), stride=(2, 1, 1),
                                                dilation=(1, 2, 1), groups=2, bias=False),
     [randn(1, 4, 5, 5, 4)]),
    ("Conv3d-same", lambda m: m.nn.Conv3d(2, 3, (2, 3, 4), padding="same"),
     [randn(1, 2, 4, 5, 6)]),
    ("Conv3d-unbatched", lambda m: m.nn.Conv3d(2, 3, 2), [randn(2, 3, 4, 3)]),
    ("Conv3d-reflect", lambda m: m.nn.Conv3d(2, 2, 3, padding=1, padding_mode="reflect"),
     [randn(1, 2, 4, 4, 4)]),
    ("Conv3d-replicate", lambda m: m.nn.Conv3d(2, 2, 3, padding=(1, 0, 2),
                                               padding_mode="replicate"),
     [randn(1, 2, 4, 4, 4)]),
    ("Conv3d-circular", lambda m: m.nn.Conv3d(2, 2, 3, padding=1, padding_mode="circular"),
     [randn(1, 2, 4, 4, 4)]),
    ("ConvTranspose3d", lambda m: m.nn.ConvTranspose3d(2, 3, 3, stride=2, padding=1,
                                                       output_padding=1),
     [randn(2, 2, 3, 2, 3)]),
    ("ConvTranspose3d-groups", lambda m: m.nn.ConvTranspose3d(4, 2, (2, 3, 2), groups=2,
                                                              dilation=(1, 1, 2)),
     [randn(1, 4, 3, 3, 3)]),
    ("MaxPool3d", lambda m: m.nn.MaxPool3d(3, stride=2, padding=1), [randn(2, 2, 5, 5, 5)]),
    ("MaxPool3d-ceil-dil", lambda m: m.nn.MaxPool3d((2, 3, 2), stride=1, dilation=(2, 1, 1),
                                                    ceil_mode=True), [randn(1, 2, 5, 5, 4)]),
    ("MaxPool3d-indices", lambda m: m.nn.MaxPool3d(2, return_indices=True),
     [randn(1, 2, 4, 4, 4)]),
    ("AvgPool3d", lambda m: m.nn.AvgPool3d(2), [randn(2, 2, 4, 4, 4)]),
    ("AvgPool3d-options", lambda m: m.nn.AvgPool3d(3, 2, 1, True, False, None),
     [randn(1, 2, 5, 6, 5)]),
    ("AvgPool3d-divisor", lambda m: m.nn.AvgPool3d(2, divisor_override=3),
     [randn(3, 4, 4, 4)]),
    ("AdaptiveAvgPool3d", lambda m: m.nn.AdaptiveAvgPool3d((2, None, 3)),
     [randn(2, 2, 5, 4, 7)]),
    ("AdaptiveMaxPool3d", lambda m: m.nn.AdaptiveMaxPool3d(2, return_indices=True),
     [randn(2, 2, 5, 4, 7)]),
    ("LPPool3d", lambda m: m.nn.LPPool3d(2, 2, stride=1), [randn(1, 2, 4, 3, 4)]),
    ("MaxUnpool1d", lambda m: m.nn.MaxUnpool1d(2), [Y1, I1]),
    ("MaxUnpool2d", lambda m: m.nn.MaxUnpool2d(3, stride=2, padding=1), [Y2, I2, (6, 7)]),
    ("MaxUnpool3d", lambda m: m.nn.MaxUnpool3d(2), [Y3, I3]),
    ("FractionalMaxPool2d", lambda m: m.nn.FractionalMaxPool2d(
        2, output_size=(4, 5), _random_samples=m.tensor(U2)), [randn(2, 3, 8, 9)]),
    ("FractionalMaxPool2d-ratio", lambda m: m.nn.FractionalMaxPool2d(
        (3, 2), output_ratio=0.5, return_indices=True, _random_samples=m.tensor(U2)),
     [randn(2, 3, 10, 9)]),
    ("FractionalMaxPool3d", lambda m: m.nn.FractionalMaxPool3d(
        2, output_size=(3, 2, 3), _random_samples=m.tensor(U3)), [randn(1, 2, 5, 6, 6)]),
]


@pytest.mark.parametrize("name,make,inputs", CASES, ids=[c[0] for c in CASES])
def test_layer_matches_torch(name, make, inputs):
    check_layer(make, *inputs)


def test_max_unpool_output_size():
    y, i = _pool_indices(3, randn(1, 2, 5, 5, 4), 2)
    ours = nn.MaxUnpool3d(2)(nr.tensor(y), nr.tensor(i), output_size=(1, 2, 5, 5, 4))
    theirs = torch.nn.MaxUnpool3d(2)(torch.tensor(y), torch.tensor(i),
                                     output_size=(1, 2, 5, 5, 4))
    np.testing.assert_array_equal(ours.numpy(), theirs.numpy())


def test_conv_transpose3d_output_size():
    torch.manual_seed(0)
    t = torch.nn.ConvTranspose3d(2, 3, 3, stride=2, padding=1)
    o = nn.ConvTranspose3d(2, 3, 3, stride=2, padding=1)
    o.load_state_dict({k: v.numpy() for k, v in t.state_dict().items()})
    x = randn(1, 2, 3, 4, 3)
    yo = o(nr.tensor(x), output_size=[6, 8, 5])
    yt = t(torch.tensor(x), output_size=[6, 8, 5])
    assert yo.shape == (1, 3, 6, 8, 5)
    np.testing.assert_allclose(yo.detach().numpy(), yt.detach().numpy(), rtol=1e-4, atol=1e-5)


def test_conv3d_default_init_matches_torch():
    torch.manual_seed(0)
    ours = np.stack([nn.Conv3d(4, 8, 3).weight.detach().numpy() for _ in range(10)])
    theirs = np.stack([torch.nn.Conv3d(4, 8, 3).weight.detach().numpy() for _ in range(10)])
    assert abs(ours.std() - theirs.std()) < 0.05 * theirs.std()
    assert abs(ours.max() - theirs.max()) < 0.05 * theirs.std()
    bias = nn.ConvTranspose3d(4, 8, 3).bias.detach().numpy()
    bound = 1 / np.sqrt(8 * 27)  # fan_in of a transposed weight (4, 8, 3, 3, 3): 8 * 27
    assert bias.shape == (8,) and np.all(np.abs(bias) <= bound)


def test_fractional_max_pool_layer_draws_fresh_windows():
    layer = nn.FractionalMaxPool2d(2, output_ratio=(0.5, 0.5))
    assert "_random_samples" not in layer.state_dict()
    y = layer(nr.tensor(randn(2, 3, 8, 8)))
    assert tuple(y.shape) == (2, 3, 4, 4)


@pytest.mark.parametrize("make,words", [
    (lambda: nn.FractionalMaxPool3d(2), ["output size, or a pooling ratio"]),
    (lambda: nn.FractionalMaxPool2d(2, output_size=3, output_ratio=0.5), ["only one"]),
    (lambda: nn.FractionalMaxPool2d(2, output_ratio=1.5), ["between 0 and 1"]),
    (lambda: nn.Conv3d(3, 4, 3, groups=2), ["divisible by groups"]),
    (lambda: nn.Conv3d(2, 4, 3, stride=2, padding="same"), ["strided"]),
    (lambda: nn.ConvTranspose3d(2, 4, 3, padding_mode="reflect"), ["zeros"]),
])
def test_constructor_errors(make, words):
    with pytest.raises(ValueError) as e:
        make()
    for word in words:
        assert word in str(e.value)


@pytest.mark.parametrize("layer,x,text", [
    (lambda: nn.Conv3d(3, 4, 3), (1, 2, 5, 5, 5), "Conv3d(3, 4, kernel_size=(3, 3, 3)"),
    (lambda: nn.ConvTranspose3d(3, 4, 3), (1, 3, 5, 5), "ConvTranspose3d(3, 4"),
    (lambda: nn.MaxPool3d(2), (2, 5, 5), "MaxPool3d(kernel_size=2"),
    (lambda: nn.AdaptiveAvgPool3d(2), (5, 5), "AdaptiveAvgPool3d(output_size=2)"),
])
def test_wrong_input_shape_names_layer_and_shapes(layer, x, text):
    with pytest.raises((RuntimeError, ValueError)) as e:
        layer()(nr.randn(*x))
    assert text in str(e.value) and str(tuple(x)) in str(e.value), str(e.value)
