"""conv3d / conv_transpose3d: torch parity, gradchecks (double backward), errors."""
import numpy as np
import pytest

import narae as nr
import narae.nn.functional as F
from helpers import check, randn


def _f(m):
    return F if m is nr else m.nn.functional


CONV3D_CASES = [
    # (input shape, weight shape, kwargs)
    ((2, 2, 4, 5, 4), (3, 2, 2, 3, 2), {}),
    ((1, 2, 5, 5, 6), (3, 2, 3, 3, 3), dict(stride=2, padding=1)),
    ((1, 2, 5, 6, 5), (2, 2, 2, 3, 2), dict(stride=(2, 1, 3), padding=(1, 0, 2),
                                          dilation=(1, 2, 1))),
    ((2, 4, 3, 4, 4), (4, 2, 2, 2, 3), dict(padding=1, groups=2)),
    ((1, 3, 4, 4, 3), (3, 1, 3, 3, 3), dict(padding=1, groups=3)),        # depthwise
    ((1, 2, 4, 5, 4), (3, 2, 2, 3, 4), dict(padding="same")),              # even kernels
    ((1, 2, 5, 5, 5), (2, 2, 2, 2, 2), dict(padding="same", dilation=2)),
    ((1, 2, 4, 4, 4), (3, 2, 3, 3, 3), dict(padding="valid")),
    ((2, 3, 3, 3, 4), (4, 3, 1, 1, 1), {}),                                 # 1x1x1: plain GEMM
    ((1, 2, 5, 5, 5), (3, 2, 1, 1, 1), dict(stride=2)),
    ((1, 2, 5, 4, 6), (2, 2, 2, 2, 2), dict(stride=3, padding=2)),          # stride > kernel
]


@pytest.mark.parametrize("xs,ws,kw", CONV3D_CASES)
def test_conv3d(xs, ws, kw):
    check(lambda m, x, w, b: _f(m).conv3d(x, w, b, **kw), randn(*xs), randn(*ws), randn(ws[0]),
          double=True)


def test_conv3d_no_bias_unbatched_and_partial_gradients():
    check(lambda m, x, w: _f(m).conv3d(x, w, stride=2, padding=1), randn(1, 2, 3, 4, 3),
          randn(2, 2, 3, 3, 3), double=True)
    check(lambda m, x, w, b: _f(m).conv3d(x, w, b, padding=1), randn(2, 3, 4, 3),
          randn(2, 2, 3, 3, 3), randn(2))
    check(lambda m, x, w, b: _f(m).conv3d(x, w, b), randn(1, 2, 3, 3, 3), randn(2, 2, 2, 2, 2),
          randn(2), diff=[1, 2])
    check(lambda m, x, w: _f(m).conv3d(x, w), randn(1, 2, 3, 3, 3), randn(2, 2, 2, 2, 2),
          diff=[0])


def test_conv3d_blocked_batch(monkeypatch):
    from narae.ops import conv
    monkeypatch.setattr(conv, "_BLOCK_BYTES", 64)  # one image per block
    check(lambda m, x, w, b: _f(m).conv3d(x, w, b, padding=1, groups=2), randn(3, 4, 2, 3, 2),
          randn(4, 2, 2, 2, 2), randn(4), double=True)
    check(lambda m, x, w: _f(m).conv_transpose3d(x, w, stride=2, groups=2),
          randn(3, 4, 2, 3, 2), randn(4, 1, 2, 2, 2))


CONVT3D_CASES = [
    ((2, 3, 2, 3, 3), (3, 2, 2, 3, 2), {}),
    ((1, 2, 3, 2, 3), (2, 3, 3, 2, 3), dict(stride=2, padding=1, output_padding=1)),
    ((1, 4, 2, 3, 2), (4, 1, 2, 3, 3), dict(stride=(2, 1, 3), padding=(1, 0, 1),
                                          output_padding=(1, 0, 2), groups=2)),
    ((1, 2, 3, 3, 2), (2, 2, 2, 2, 2), dict(stride=2, dilation=2, padding=1)),
    ((1, 2, 2, 2, 2), (2, 1, 2, 2, 2), dict(dilation=3, output_padding=2)),   # op < dilation
    ((2, 3, 3, 2, 2), (3, 4, 1, 1, 1), {}),
]


@pytest.mark.parametrize("xs,ws,kw", CONVT3D_CASES)
def test_conv_transpose3d(xs, ws, kw):
    g = kw.get("groups", 1)
    check(lambda m, x, w, b: _f(m).conv_transpose3d(x, w, b, **kw), randn(*xs), randn(*ws),
          randn(ws[1] * g), double=True)


def test_conv_transpose3d_unbatched_no_bias():
    check(lambda m, x, w: _f(m).conv_transpose3d(x, w, stride=2), randn(2, 2, 3, 2),
          randn(2, 3, 2, 2, 2))


def test_conv3d_output_is_a_view_of_channels_last_memory():
    y = F.conv3d(nr.tensor(randn(2, 3, 4, 4, 4)).float(), nr.tensor(randn(5, 3, 3, 3, 3)).float())
    assert tuple(y.shape) == (2, 5, 2, 2, 2)
    assert np.argmin(y._data.strides) == 1  # channels vary fastest


@pytest.mark.parametrize("fn,xs,ws,kw,words", [
    ("conv3d", (2, 4, 4), (3, 2, 2, 2, 2), {}, ["(2, 4, 4)", "4-D (unbatched)"]),
    ("conv3d", (1, 2, 4, 4, 4), (3, 2, 2, 2), {}, ["weight of shape (3, 2, 2, 2)"]),
    ("conv3d", (1, 3, 4, 4, 4), (3, 2, 2, 2, 2), {}, ["(1, 3, 4, 4, 4)", "(3, 2, 2, 2, 2)",
                                                      "2 channels"]),
    ("conv3d", (1, 2, 2, 4, 4), (3, 2, 3, 2, 2), {}, ["(1, 2, 2, 4, 4)", "kernel size 3"]),
    ("conv3d", (1, 2, 4, 4, 4), (3, 2, 2, 2, 2), dict(stride=(1, 2)), ["stride"]),
    ("conv3d", (1, 2, 4, 4, 4), (3, 2, 2, 2, 2), dict(padding="same", stride=2), ["same"]),
    ("conv_transpose3d", (1, 3, 2, 2, 2), (2, 2, 2, 2, 2), {}, ["(1, 3, 2, 2, 2)",
                                                                "2 channels"]),
    ("conv_transpose3d", (1, 2, 2, 2, 2), (2, 2, 2, 2, 2), dict(stride=2, output_padding=2),
     ["output padding", "(2, 2, 2)"]),
])
def test_errors_name_shapes(fn, xs, ws, kw, words):
    with pytest.raises((ValueError, RuntimeError)) as e:
        getattr(F, fn)(nr.tensor(randn(*xs)), nr.tensor(randn(*ws)), **kw)
    for word in words:
        assert word in str(e.value), str(e.value)


@pytest.mark.parametrize("split", [True, False])
def test_conv3d_depth_split_and_full_im2col_paths(monkeypatch, split):
    # the CPU's depth-split columns (and conv^T as a flipped conv) against the full 3-D
    # im2col + col2im path, both against torch; small blocks walk the batch in pieces
    from narae.ops import conv
    monkeypatch.setattr(conv, "DEPTH_SPLIT", split)
    monkeypatch.setattr(conv, "_SPLIT_MIN_DEPTH", 1)  # (small test channels split too)
    monkeypatch.setattr(conv, "_BLOCK_BYTES", 2048)
    for xs, ws, kw in [((3, 2, 4, 5, 4), (3, 2, 3, 2, 3), dict(padding=(1, 0, 2))),
                       ((2, 2, 5, 4, 5), (2, 2, 2, 3, 2), dict(stride=(2, 1, 1), padding=1,
                                                               dilation=(2, 1, 1))),
                       ((1, 2, 4, 4, 4), (2, 2, 2, 2, 2), dict(padding="same"))]:
        check(lambda m, x, w, b: _f(m).conv3d(x, w, b, **kw), randn(*xs), randn(*ws),
              randn(ws[0]), double=True)
    check(lambda m, x, w: _f(m).conv_transpose3d(x, w, padding=1), randn(2, 3, 3, 2, 3),
          randn(3, 2, 3, 3, 2))
