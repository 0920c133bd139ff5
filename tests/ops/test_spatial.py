"""unfold/fold, pixel_(un)shuffle, channel_shuffle, affine_grid, grid_sample: torch parity,
float64 gradchecks (and double backward where torch has it), argument variants, errors."""
import numpy as np
import pytest
import torch

import helpers
import narae as nr
import narae.nn.functional as F
from helpers import check, randn

# torch warns about its 1.3.0 change of defaults; narae has no old behaviour to warn about
pytestmark = [pytest.mark.filterwarnings("ignore:Default grid_sample and affine_grid"),
              pytest.mark.filterwarnings("ignore:Since version 1.3.0, affine_grid")]


def _f(m):
    return F if m is nr else m.nn.functional


# --- unfold / fold ----------------------------------------------------------------------
GEOMS = [
    dict(kernel_size=2),
    dict(kernel_size=(2, 3), stride=(2, 1)),
    dict(kernel_size=3, padding=1),
    dict(kernel_size=(2, 2), dilation=(2, 1), padding=(1, 0), stride=2),
    dict(kernel_size=[1, 3], dilation=2, padding=(0, 2), stride=(1, 3)),
    dict(kernel_size=(5, 6)),  # one block covering the whole image
]


@pytest.mark.parametrize("kw", GEOMS)
def test_unfold(kw):
    check(lambda m, x: _f(m).unfold(x, **kw), randn(2, 3, 5, 6), double=True)


@pytest.mark.parametrize("kw", GEOMS[1:4])
def test_unfold_unbatched_and_positional(kw):
    check(lambda m, x: _f(m).unfold(x, **kw), randn(3, 5, 6), double=True)
    args = (kw["kernel_size"], kw.get("dilation", 1), kw.get("padding", 0), kw.get("stride", 1))
    check(lambda m, x: _f(m).unfold(x, *args), randn(1, 2, 5, 6), gradcheck=False)


def _blocks(kw, H, W):
    t = torch.nn.functional.unfold(torch.zeros(1, 1, H, W), **kw)
    return t.shape[1], t.shape[2]


@pytest.mark.parametrize("kw", GEOMS)
def test_fold(kw):
    k, L = _blocks(kw, 5, 6)
    check(lambda m, c: _f(m).fold(c, (5, 6), **kw), randn(2, 2 * k, L), double=True)
    check(lambda m, c: _f(m).fold(c, [5, 6], **kw), randn(2 * k, L), double=True)


def test_fold_int_output_size_and_unfold_round_trip():
    k, L = _blocks(dict(kernel_size=2, stride=1), 4, 4)
    check(lambda m, c: _f(m).fold(c, 4, 2), randn(1, 3 * k, L), double=True)
    # fold(unfold(x)) multiplies each pixel by the number of blocks covering it
    check(lambda m, x: _f(m).fold(_f(m).unfold(x, 3, padding=1), (4, 5), 3, padding=1),
          randn(2, 2, 4, 5), double=True)


def test_unfold_empty_batch():
    out = F.unfold(nr.zeros(0, 3, 5, 5), 2)
    assert out.shape == (0, 12, 16)
    assert F.fold(nr.zeros(0, 12, 16), (5, 5), 2).shape == (0, 3, 5, 5)


@pytest.mark.parametrize("call,match", [
    (lambda: F.unfold(nr.zeros(5, 5), 2), r"unfold: .*shape \(5, 5\)"),
    (lambda: F.unfold(nr.zeros(1, 2, 3, 5, 5), 2), r"unfold: .*shape \(1, 2, 3, 5, 5\)"),
    (lambda: F.unfold(nr.zeros(2, 0, 5, 5), 2), r"shape \(2, 0, 5, 5\)"),
    (lambda: F.unfold(nr.zeros(2, 3, 5, 5), 6), r"unfold: input of shape \(2, 3, 5, 5\).*0 x 0"),
    (lambda: F.unfold(nr.zeros(2, 3, 5, 5), 0), "kernel size should be greater than zero"),
    (lambda: F.unfold(nr.zeros(2, 3, 5, 5), 2, stride=0), "stride should be greater"),
    (lambda: F.unfold(nr.zeros(2, 3, 5, 5), 2, dilation=(1, 0)), "dilation should be greater"),
    (lambda: F.unfold(nr.zeros(2, 3, 5, 5), 2, padding=-1), "padding should be non-negative"),
    (lambda: F.unfold(nr.zeros(2, 3, 5, 5), (2, 2, 2)), "kernel_size equals to 2"),
    (lambda: F.fold(nr.zeros(2, 12, 15), (5, 5), 2), r"shape \(2, 12, 15\).*4 \* 4 = 16"),
    (lambda: F.fold(nr.zeros(2, 13, 16), (5, 5), 2), r"shape \(2, 13, 16\).*divisible"),
    (lambda: F.fold(nr.zeros(2, 3, 12, 16), (5, 5), 2), r"fold: .*shape \(2, 3, 12, 16\)"),
    (lambda: F.fold(nr.zeros(2, 12, 0), (1, 1), 2), r"shape \(2, 12, 0\)"),
    (lambda: F.fold(nr.zeros(2, 12, 4), (1, 1), 2), r"0 \* 0 = 0"),
    (lambda: F.fold(nr.zeros(2, 12, 16), (5, 5, 5), 2), "output_size equals to 2"),
])
def test_fold_unfold_errors(call, match):
    with pytest.raises(RuntimeError, match=match):
        call()


# --- pixel shuffles ---------------------------------------------------------------------
@pytest.mark.parametrize("shape,r", [((2, 8, 3, 4), 2), ((9, 2, 3), 3), ((2, 3, 4, 2, 2), 2),
                                     ((1, 2, 3), 1)])
def test_pixel_shuffle(shape, r):
    check(lambda m, x: _f(m).pixel_shuffle(x, r), randn(*shape), double=True)


@pytest.mark.parametrize("shape,r", [((2, 2, 4, 6), 2), ((1, 6, 9), 3), ((2, 3, 1, 4, 2), 2),
                                     ((2, 3, 2), 1)])
def test_pixel_unshuffle(shape, r):
    check(lambda m, x: _f(m).pixel_unshuffle(x, r), randn(*shape), double=True)


def test_pixel_shuffle_round_trip_and_layout():
    x = nr.arange(32.0).reshape(2, 4, 2, 2)
    y = F.pixel_shuffle(x, 2)
    np.testing.assert_array_equal(y.numpy(), torch.nn.functional.pixel_shuffle(
        torch.arange(32.0).reshape(2, 4, 2, 2), 2).numpy())
    np.testing.assert_array_equal(F.pixel_unshuffle(y, 2).numpy(), x.numpy())
    assert F.pixel_shuffle(nr.zeros(0, 8, 4, 4), 2).shape == (0, 2, 8, 8)


@pytest.mark.parametrize("call,exc,match", [
    (lambda: F.pixel_shuffle(nr.zeros(8, 4), 2), RuntimeError, r"at least 3.*\(8, 4\)"),
    (lambda: F.pixel_shuffle(nr.zeros(2, 6, 4, 4), 2), RuntimeError,
     r"\(2, 6, 4, 4\).*\(6\).*divisible by upscale_factor\*\*2 = 4"),
    (lambda: F.pixel_shuffle(nr.zeros(2, 8, 4, 4), 0), RuntimeError, "positive upscale_factor"),
    (lambda: F.pixel_shuffle(nr.zeros(2, 8, 4, 4), 2.0), TypeError, "must be int, not float"),
    (lambda: F.pixel_unshuffle(nr.zeros(2, 8, 5, 4), 2), RuntimeError,
     r"\(2, 8, 5, 4\).*height \(5\)"),
    (lambda: F.pixel_unshuffle(nr.zeros(2, 8, 4, 3), 2), RuntimeError, r"width \(3\)"),
    (lambda: F.pixel_unshuffle(nr.zeros(2, 8, 4, 4), -1), RuntimeError, "positive downscale"),
    (lambda: F.pixel_unshuffle(nr.zeros(4, 4), 2), RuntimeError, "at least 3"),
])
def test_pixel_shuffle_errors(call, exc, match):
    with pytest.raises(exc, match=match):
        call()


# --- channel shuffle --------------------------------------------------------------------
@pytest.mark.parametrize("shape,g", [((2, 6, 3, 4), 3), ((2, 6, 4), 2), ((1, 4, 2, 2, 3), 4),
                                     ((2, 5, 3), 1), ((2, 6, 2, 2), 6)])
def test_channel_shuffle(shape, g):
    check(lambda m, x: _f(m).channel_shuffle(x, g), randn(*shape), double=True)


@pytest.mark.parametrize("shape,g", [((2, 6, 3, 4), 3), ((2, 8, 3), 4)])
def test_native_channel_shuffle(shape, g):
    # torch's native_channel_shuffle has no backward: compare the forward only
    check(lambda m, x: _f(m).native_channel_shuffle(x, g), randn(*shape), grad=False)
    x = nr.from_numpy(randn(*shape)).requires_grad_(True)
    F.native_channel_shuffle(x, g).sum().backward()
    np.testing.assert_array_equal(x.grad.numpy(), np.ones(shape))


def test_channel_shuffle_integers_and_empty():
    t = torch.arange(24).reshape(1, 6, 4)
    np.testing.assert_array_equal(F.channel_shuffle(nr.arange(24).reshape(1, 6, 4), 3).numpy(),
                                  torch.nn.functional.channel_shuffle(t, 3).numpy())
    assert F.channel_shuffle(nr.zeros(0, 6, 4, 4), 3).shape == (0, 6, 4, 4)


@pytest.mark.parametrize("fn", [F.channel_shuffle, F.native_channel_shuffle])
@pytest.mark.parametrize("shape,g,match", [
    ((2, 6), 3, r"> 2 dims.*\(2, 6\)"),
    ((2, 6, 4, 4), 4, r"\(2, 6, 4, 4\).*channels \(6\).*groups \(4\)"),
    ((2, 6, 4, 4), 0, "positive groups"),
])
def test_channel_shuffle_errors(fn, shape, g, match):
    with pytest.raises(RuntimeError, match=match):
        fn(nr.zeros(*shape), g)


# --- affine_grid ------------------------------------------------------------------------
@pytest.mark.parametrize("align", [False, True, None])
@pytest.mark.parametrize("size", [(2, 3, 4, 5), (2, 1, 1, 3), (2, 1, 6, 1)])
def test_affine_grid_2d(size, align):
    check(lambda m, th: _f(m).affine_grid(th, size, align_corners=align), randn(2, 2, 3))


@pytest.mark.parametrize("align", [False, True])
@pytest.mark.parametrize("size", [[1, 2, 3, 4, 5], (1, 1, 1, 2, 3)])
def test_affine_grid_3d(size, align):
    check(lambda m, th: _f(m).affine_grid(th, size, align), randn(1, 3, 4))


@pytest.mark.parametrize("call,exc,match", [
    (lambda: F.affine_grid(nr.zeros(2, 2, 3), (2, 3, 4)), NotImplementedError, "4D and 5D"),
    (lambda: F.affine_grid(nr.zeros(2, 2, 3), (2, 3, 4, 5, 6)), ValueError,
     r"\(2, 3, 4\).*shape \(2, 2, 3\)"),
    (lambda: F.affine_grid(nr.zeros(2, 3, 3), (2, 3, 4, 5)), ValueError, r"\(2, 2, 3\)"),
    (lambda: F.affine_grid(nr.zeros(2, 2, 3), (3, 3, 4, 5)), RuntimeError, r"\(3, 2, 3\)"),
    (lambda: F.affine_grid(nr.zeros(2, 2, 3), (2, 3, 0, 5)), ValueError, "positive"),
    (lambda: F.affine_grid(nr.zeros(2, 2, 3, dtype=nr.int64), (2, 3, 4, 5)), ValueError,
     "floating point"),
])
def test_affine_grid_errors(call, exc, match):
    with pytest.raises(exc, match=match):
        call()


# --- grid_sample ------------------------------------------------------------------------
def _grid(n, out, sizes, align):
    """A grid whose pixel coordinates keep >= 0.15 away from integers and half-integers (the
    kinks of bilinear weights, nearest rounding, clipping and reflection), some outside."""
    pix = []
    for size in reversed(sizes):  # grid[..., 0] addresses the last spatial dim
        base = helpers.RNG.integers(-2, size + 1, (n,) + out)
        frac = helpers.RNG.uniform(0.15, 0.35, (n,) + out)
        frac = np.where(helpers.RNG.random((n,) + out) < 0.5, frac, 1 - frac)
        p = base + frac
        if align:
            pix.append(p / max(size - 1, 1) * 2 - 1 if size > 1 else p * 0.3)
        else:
            pix.append((2 * p + 1) / size - 1)
    return np.stack(pix, axis=-1)


@pytest.mark.parametrize("align", [False, True])
@pytest.mark.parametrize("padding", ["zeros", "border", "reflection"])
@pytest.mark.parametrize("mode", ["bilinear", "nearest", "bicubic"])
def test_grid_sample_2d(mode, padding, align):
    check(lambda m, x, g: _f(m).grid_sample(x, g, mode, padding, align),
          randn(2, 2, 4, 5), _grid(2, (3, 2), (4, 5), align))


@pytest.mark.parametrize("align", [False, True])
@pytest.mark.parametrize("padding", ["zeros", "border", "reflection"])
@pytest.mark.parametrize("mode", ["bilinear", "nearest"])
def test_grid_sample_3d(mode, padding, align):
    check(lambda m, x, g: _f(m).grid_sample(x, g, mode=mode, padding_mode=padding,
                                            align_corners=align),
          randn(1, 2, 3, 4, 3), _grid(1, (2, 2, 2), (3, 4, 3), align))


@pytest.mark.parametrize("mode", ["bilinear", "bicubic"])
def test_grid_sample_unit_sizes_and_default_align(mode):
    # a size-1 axis: every coordinate maps to (or reflects onto) the single pixel
    for padding in ("zeros", "border", "reflection"):
        check(lambda m, x, g: _f(m).grid_sample(x, g, mode, padding, True),
              randn(1, 2, 1, 4), _grid(1, (2, 3), (1, 4), True))
    # align_corners=None means False (torch's default), and mode/padding default as torch
    check(lambda m, x, g: _f(m).grid_sample(x, g), randn(2, 3, 4, 4),
          _grid(2, (3, 3), (4, 4), False))


def test_grid_sample_wrt_grid_only_and_double_backward():
    check(lambda m, x, g: _f(m).grid_sample(x, g, align_corners=False), randn(1, 2, 4, 4),
          _grid(1, (2, 3), (4, 4), False), diff=(1,))
    # torch has no double backward for grid_sample: check ours numerically (float64)
    helpers.check_gradcheck(lambda m, x, g: F.grid_sample(x, g, align_corners=True) ** 2,
                            randn(1, 2, 3, 4), _grid(1, (2, 2), (3, 4), True), double=True)


def test_grid_sample_identity_affine_reproduces_input():
    x = randn(2, 3, 4, 5).astype(np.float32)
    theta = nr.from_numpy(np.tile(np.eye(2, 3, dtype=np.float32), (2, 1, 1)))
    for align in (False, True):
        grid = F.affine_grid(theta, (2, 3, 4, 5), align_corners=align)
        out = F.grid_sample(nr.from_numpy(x), grid, align_corners=align)
        np.testing.assert_allclose(out.numpy(), x, atol=1e-5)


def test_grid_sample_affine_chain_against_torch():
    check(lambda m, x, th: _f(m).grid_sample(x, _f(m).affine_grid(th, (2, 2, 3, 4), False),
                                             align_corners=False),
          randn(2, 2, 5, 5), randn(2, 2, 3) * 0.3 + np.eye(2, 3) * 0.9)


def test_grid_sample_empty():
    x = nr.from_numpy(randn(2, 3, 4, 5)).requires_grad_(True)
    g = nr.zeros(2, 0, 3, 2, dtype=nr.float64).requires_grad_(True)
    out = F.grid_sample(x, g, align_corners=False)
    assert out.shape == (2, 3, 0, 3)
    out.sum().backward()
    assert x.grad.shape == x.shape and not x.grad.numpy().any()
    assert F.grid_sample(nr.zeros(2, 0, 4, 5), nr.zeros(2, 3, 3, 2), align_corners=False).shape \
        == (2, 0, 3, 3)


@pytest.mark.parametrize("call,exc,match", [
    (lambda x, g: F.grid_sample(x, g, mode="foo"), ValueError, "expected mode"),
    (lambda x, g: F.grid_sample(x, g, padding_mode="foo"), ValueError, "padding_mode"),
    (lambda x, g: F.grid_sample(x, g[:1]), RuntimeError,
     r"batch size.*\(2, 3, 4, 5\).*\(1, 3, 3, 2\)"),
    (lambda x, g: F.grid_sample(x, g[..., :1]), RuntimeError, r"size 2 .*\(2, 3, 3, 1\)"),
    (lambda x, g: F.grid_sample(x[0], g), RuntimeError, r"\(3, 4, 5\).*\(2, 3, 3, 2\)"),
    (lambda x, g: F.grid_sample(x, g.double()), RuntimeError, "same dtype"),
    (lambda x, g: F.grid_sample(x.long(), g.long()), NotImplementedError, "floating point"),
    (lambda x, g: F.grid_sample(nr.zeros(2, 3, 0, 5), g), RuntimeError, "non-empty spatial"),
    (lambda x, g: F.grid_sample(nr.zeros(2, 3, 4, 5, 6), nr.zeros(2, 2, 3, 4, 3),
                                mode="bicubic"), RuntimeError, "bicubic.*4-D"),
    (lambda x, g: F.grid_sample(nr.zeros(2, 3, 4, 5, 6), nr.zeros(2, 2, 3, 4, 2)), RuntimeError,
     r"size 3 .*\(2, 2, 3, 4, 2\)"),
])
def test_grid_sample_errors(call, exc, match):
    x = nr.zeros(2, 3, 4, 5)
    g = nr.zeros(2, 3, 3, 2)
    with pytest.raises(exc, match=match):
        call(x, g)


@pytest.mark.parametrize("mode", ["bilinear", "bicubic", "nearest"])
def test_grid_sample_without_scipy(monkeypatch, mode):
    # the scatter-add of the input's gradient has a NumPy path (flat add.at) besides SciPy's
    # sparse product: both must give torch's gradients, of every order
    import narae.ops.embedding as embedding
    monkeypatch.setattr(embedding, "_SPARSE", [None])
    check(lambda m, x, g: _f(m).grid_sample(x, g, mode, "zeros", False),
          randn(2, 3, 4, 5), _grid(2, (3, 2), (4, 5), False))
    helpers.check_gradcheck(lambda m, x, g: F.grid_sample(x, g, mode, "border", True) ** 2,
                            randn(1, 2, 3, 4), _grid(1, (2, 2), (3, 4), True), double=True)


@pytest.mark.parametrize("mode", ["bicubic", "nearest"])
def test_grid_sample_double_backward_modes(mode):
    helpers.check_gradcheck(lambda m, x, g: F.grid_sample(x, g, mode, "reflection", False) ** 2,
                            randn(1, 2, 3, 4), _grid(1, (2, 2), (3, 4), False), double=True)


def test_grid_sample_3d_double_backward_and_repeated_taps():
    # many output points reading the same few input pixels: the splat must accumulate
    helpers.check_gradcheck(lambda m, x, g: F.grid_sample(x, g, align_corners=True) ** 2,
                            randn(1, 2, 2, 2, 3), _grid(1, (3, 2, 2), (2, 2, 3), True),
                            double=True)
    check(lambda m, x, g: _f(m).grid_sample(x, g, align_corners=False),
          randn(2, 3, 2, 2), _grid(2, (6, 5), (2, 2), False))
