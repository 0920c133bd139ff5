"""conv1d/conv2d/conv_transpose1d/conv_transpose2d: torch parity, gradchecks, errors."""
import numpy as np
import pytest

import narae as nr
import narae.nn.functional as F
from helpers import check, randn


def _f(m):
    return F if m is nr else m.nn.functional


CONV2D_CASES = [
    # (input shape, weight shape, kwargs)
    ((2, 3, 6, 5), (4, 3, 3, 3), {}),
    ((2, 3, 6, 5), (4, 3, 3, 2), dict(stride=2, padding=1)),
    ((1, 2, 7, 7), (3, 2, 3, 3), dict(stride=(2, 1), padding=(1, 2), dilation=(2, 1))),
    ((2, 4, 5, 5), (6, 2, 3, 3), dict(padding=1, groups=2)),
    ((2, 4, 5, 6), (4, 1, 3, 3), dict(padding=1, groups=4)),           # depthwise
    ((2, 3, 5, 6), (4, 3, 2, 4), dict(padding="same")),                # even kernel, same
    ((2, 3, 6, 6), (2, 3, 2, 2), dict(padding="same", dilation=2)),
    ((2, 3, 5, 6), (4, 3, 3, 3), dict(padding="valid")),
    ((2, 3, 4, 4), (5, 3, 1, 1), {}),                                   # 1x1: plain GEMM
    ((2, 3, 5, 5), (5, 3, 1, 1), dict(stride=2)),
    ((2, 2, 5, 6), (3, 2, 3, 3), dict(stride=3, padding=2)),            # stride > kernel
]


@pytest.mark.parametrize("xs,ws,kw", CONV2D_CASES)
def test_conv2d(xs, ws, kw):
    check(lambda m, x, w, b: _f(m).conv2d(x, w, b, **kw), randn(*xs), randn(*ws), randn(ws[0]),
          double=True)


def test_conv2d_no_bias_and_unbatched():
    check(lambda m, x, w: _f(m).conv2d(x, w, stride=2, padding=1), randn(2, 3, 5, 5),
          randn(2, 3, 3, 3), double=True)
    check(lambda m, x, w, b: _f(m).conv2d(x, w, b, padding=1), randn(3, 5, 4),
          randn(2, 3, 3, 3), randn(2))


def test_conv2d_bias_only_and_weight_only_gradients():
    check(lambda m, x, w, b: _f(m).conv2d(x, w, b), randn(1, 2, 4, 4), randn(3, 2, 2, 2),
          randn(3), diff=[1, 2])
    check(lambda m, x, w: _f(m).conv2d(x, w), randn(1, 2, 4, 4), randn(3, 2, 2, 2), diff=[0])


CONV1D_CASES = [
    ((2, 3, 9), (4, 3, 3), {}),
    ((2, 4, 9), (4, 2, 2), dict(stride=2, padding=1, dilation=2, groups=2)),
    ((2, 3, 8), (2, 3, 4), dict(padding="same")),
]


@pytest.mark.parametrize("xs,ws,kw", CONV1D_CASES)
def test_conv1d(xs, ws, kw):
    check(lambda m, x, w, b: _f(m).conv1d(x, w, b, **kw), randn(*xs), randn(*ws), randn(ws[0]),
          double=True)


def test_conv1d_unbatched():
    check(lambda m, x, w: _f(m).conv1d(x, w, padding=1), randn(3, 7), randn(2, 3, 3))


CONVT2D_CASES = [
    ((2, 3, 4, 5), (3, 2, 3, 3), {}),
    ((2, 3, 4, 4), (3, 2, 3, 2), dict(stride=2, padding=1, output_padding=1)),
    ((1, 4, 3, 4), (4, 3, 3, 3), dict(stride=(2, 3), padding=(1, 0), output_padding=(1, 2),
                                      groups=2)),
    ((2, 2, 4, 4), (2, 2, 3, 3), dict(stride=2, dilation=2, padding=2)),
    ((1, 2, 3, 3), (2, 1, 2, 2), dict(stride=1, dilation=3, output_padding=2)),  # op < dilation
    ((2, 4, 3, 3), (4, 1, 3, 3), dict(stride=2, groups=4)),                       # depthwise
    ((2, 3, 3, 4), (3, 5, 1, 1), {}),
]


@pytest.mark.parametrize("xs,ws,kw", CONVT2D_CASES)
def test_conv_transpose2d(xs, ws, kw):
    g = kw.get("groups", 1)
    check(lambda m, x, w, b: _f(m).conv_transpose2d(x, w, b, **kw), randn(*xs), randn(*ws),
          randn(ws[1] * g), double=True)


def test_conv_transpose2d_unbatched_no_bias():
    check(lambda m, x, w: _f(m).conv_transpose2d(x, w, stride=2), randn(2, 3, 3),
          randn(2, 3, 2, 2), double=True)


def test_conv_transpose1d():
    check(lambda m, x, w, b: _f(m).conv_transpose1d(x, w, b, stride=2, padding=1,
                                                    output_padding=1),
          randn(2, 3, 5), randn(3, 2, 3), randn(2), double=True)


def test_triple_backward():
    """Gradients of gradients of gradients stay convolutions (create_graph all the way)."""
    import torch
    x0, w0 = randn(1, 2, 5, 5), randn(3, 2, 3, 3)
    res = []
    for m in (nr, torch):
        x = m.tensor(x0, requires_grad=True)
        w = m.tensor(w0, requires_grad=True)
        y = _f(m).conv2d(x, w, stride=2, padding=1)
        gx, = m.autograd.grad((y * y).sum(), [x], create_graph=True)
        gw, = m.autograd.grad((gx * gx).sum(), [w], create_graph=True)
        g3, = m.autograd.grad((gw * gw).sum(), [x])
        res.append(g3.detach().numpy())
    np.testing.assert_allclose(res[0], res[1], rtol=1e-6, atol=1e-8)


def test_output_layout_is_nchw():
    x = nr.tensor(randn(2, 3, 5, 5).astype(np.float32))
    w = nr.tensor(randn(4, 3, 3, 3).astype(np.float32))
    y = F.conv2d(x, w)
    assert y.shape == (2, 4, 3, 3)
    assert y.reshape(2, -1).shape == (2, 36)


@pytest.mark.parametrize("fn,xs,ws,kw,words", [
    ("conv2d", (1, 3, 5, 5), (4, 2, 3, 3), {}, ["(1, 3, 5, 5)", "(4, 2, 3, 3)", "groups=1"]),
    ("conv2d", (1, 4, 5, 5), (4, 3, 3, 3), dict(groups=2), ["(1, 4, 5, 5)", "groups=2"]),
    ("conv2d", (1, 3, 2, 2), (4, 3, 3, 3), {}, ["(1, 3, 2, 2)", "(4, 3, 3, 3)", "kernel"]),
    ("conv2d", (1, 3, 4, 4), (4, 3, 3), {}, ["(4, 3, 3)"]),
    ("conv1d", (1, 3, 4), (4, 3, 3), dict(padding="same", stride=2), ["same", "stride"]),
    ("conv_transpose2d", (1, 3, 4, 4), (3, 2, 3, 3), dict(stride=2, output_padding=2),
     ["output padding", "(1, 3, 4, 4)"]),
    ("conv_transpose2d", (1, 2, 4, 4), (3, 2, 3, 3), {}, ["(1, 2, 4, 4)", "(3, 2, 3, 3)"]),
])
def test_errors_name_shapes(fn, xs, ws, kw, words):
    x = nr.tensor(randn(*xs).astype(np.float32))
    w = nr.tensor(randn(*ws).astype(np.float32))
    with pytest.raises((RuntimeError, ValueError)) as e:
        getattr(F, fn)(x, w, **kw)
    for word in words:
        assert word in str(e.value), str(e.value)


@pytest.mark.parametrize("kw", [dict(padding=1), dict(stride=2, groups=2), dict(padding="same")])
def test_blocked_batch(monkeypatch, kw):
    """The CPU kernels process the batch in cache-sized blocks: several blocks agree too."""
    from narae.ops import conv
    monkeypatch.setattr(conv, "_BLOCK_BYTES", 64)
    check(lambda m, x, w, b: _f(m).conv2d(x, w, b, **kw), randn(3, 4, 5, 5), randn(4, 2, 3, 3)
          if kw.get("groups") else randn(4, 4, 3, 3), randn(4), double=True)
    check(lambda m, x, w: _f(m).conv_transpose2d(x, w, stride=2, **{k: v for k, v in kw.items()
                                                                    if k == "groups"}),
          randn(3, 4, 3, 3), randn(4, 2, 3, 3))


@pytest.mark.parametrize("xs,ws,kw", CONV2D_CASES)
def test_conv2d_row_split_path(monkeypatch, xs, ws, kw):
    """The CPU's im2col split by kernel rows (columns over (kw, C) per padded input row, kh
    GEMMs; conv^T as a conv with the flipped kernel) on every geometry, forced on small
    channel counts; grouped convs keep the full im2col."""
    from narae.ops import conv
    monkeypatch.setattr(conv, "_SPLIT_MIN_DEPTH", 1)
    monkeypatch.setattr(conv, "_BLOCK_BYTES", 512)  # and the batch in blocks
    check(lambda m, x, w, b: _f(m).conv2d(x, w, b, **kw), randn(*xs), randn(*ws), randn(ws[0]),
          double=True)


def test_conv2d_row_split_default_and_transpose(monkeypatch):
    # 16 channels x kw 3 = 48 deep columns: the split is the default
    check(lambda m, x, w, b: _f(m).conv2d(x, w, b, padding=1), randn(2, 16, 6, 5),
          randn(4, 16, 3, 3), randn(4))
    from narae.ops import conv
    monkeypatch.setattr(conv, "_SPLIT_MIN_DEPTH", 1)
    for kw in (dict(padding=1), dict(), dict(padding=(0, 1)), dict(stride=2)):
        check(lambda m, x, w: _f(m).conv_transpose2d(x, w, **kw), randn(2, 3, 4, 3),
              randn(3, 2, 3, 2))
