"""PixelShuffle, PixelUnshuffle, ChannelShuffle, Fold, Unfold: parity with torch.nn and reprs."""
import numpy as np
import pytest

import narae as nr
from helpers import randn
from nn_parity import check_layer


@pytest.mark.parametrize("make,shape", [
    (lambda m: m.nn.PixelShuffle(2), (2, 8, 3, 4)),
    (lambda m: m.nn.PixelShuffle(3), (9, 2, 2)),
    (lambda m: m.nn.PixelUnshuffle(2), (2, 2, 4, 6)),
    (lambda m: m.nn.PixelUnshuffle(downscale_factor=3), (1, 3, 2, 6, 3)),
    (lambda m: m.nn.ChannelShuffle(3), (2, 6, 3, 4)),
    (lambda m: m.nn.ChannelShuffle(groups=2), (2, 4, 5)),
    (lambda m: m.nn.Unfold(2), (2, 3, 5, 6)),
    (lambda m: m.nn.Unfold((2, 3), dilation=(1, 2), padding=1, stride=2), (3, 5, 6)),
    (lambda m: m.nn.Fold((4, 5), 2), (2, 12, 12)),
    (lambda m: m.nn.Fold(output_size=4, kernel_size=(3, 2), padding=1, stride=(2, 1)),
     (18, 10)),
])
def test_layer_matches_torch(make, shape):
    check_layer(make, randn(*shape))


@pytest.mark.parametrize("make,text", [
    (lambda m: m.nn.PixelShuffle(2), "PixelShuffle(upscale_factor=2)"),
    (lambda m: m.nn.PixelUnshuffle(3), "PixelUnshuffle(downscale_factor=3)"),
    (lambda m: m.nn.ChannelShuffle(4), "ChannelShuffle(groups=4)"),
    (lambda m: m.nn.Unfold((2, 3), padding=1),
     "Unfold(kernel_size=(2, 3), dilation=1, padding=1, stride=1)"),
    (lambda m: m.nn.Fold(5, 2, stride=(1, 2)),
     "Fold(output_size=5, kernel_size=2, dilation=1, padding=0, stride=(1, 2))"),
])
def test_repr_matches_torch(make, text):
    import torch
    assert repr(make(nr)) == repr(make(torch)) == text


def test_modules_have_no_parameters_and_round_trip():
    x = nr.from_numpy(randn(2, 3, 4, 6))
    for m in (nr.nn.PixelShuffle(2), nr.nn.Unfold(2), nr.nn.ChannelShuffle(3)):
        assert list(m.parameters()) == [] and m.state_dict() == {}
    y = nr.nn.PixelShuffle(2)(nr.nn.PixelUnshuffle(2)(x))
    np.testing.assert_array_equal(y.numpy(), x.numpy())
    z = nr.nn.ChannelShuffle(3)(x)
    assert z.shape == x.shape


def test_layer_errors_name_the_shape():
    with pytest.raises(RuntimeError, match=r"\(2, 6\)"):
        nr.nn.ChannelShuffle(3)(nr.zeros(2, 6))
    with pytest.raises(RuntimeError, match=r"\(2, 12, 15\)"):
        nr.nn.Fold((5, 5), 2)(nr.zeros(2, 12, 15))
