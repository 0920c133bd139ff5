"""im2col.cu and the convolutions' kernel path, run on the CPU by the kernel emulator.

The wrappers are checked against NumPy references; the ops (conv1d/2d, conv_transpose1d/2d)
are checked against torch with ``check`` while ``kernels.emulate()`` sends them down the path
a CuPy array takes (im2col / col2im kernels + GEMMs), never the channels-last or FFT code.
"""
import shutil

import numpy as np
import pytest

import narae as nr
import narae.nn.functional as F
from narae.backend.kernels import im2col_ops
from narae.ops import conv
from helpers import check, randn
from ops import test_conv as op_tests

pytestmark = pytest.mark.skipif(shutil.which("g++") is None, reason="the emulator needs g++")


def _f(m):
    return F if m is nr else m.nn.functional


# --- wrappers vs NumPy references -----------------------------------------------------------
def _out_size(n, k, s, p0, p1, d):
    return (n + p0 + p1 - d * (k - 1) - 1) // s + 1


def _padded(x, pt, pl, Hp, Wp):
    """x zero-padded to (Hp, Wp) with (pt, pl) before it; rows/columns past Hp, Wp dropped."""
    N, C, H, W = x.shape
    out = np.zeros((N, C, max(Hp, pt + H), max(Wp, pl + W)), x.dtype)
    out[:, :, pt:pt + H, pl:pl + W] = x
    return out


def _ref_im2col(x, kernel, stride, pad, dilation, out_hw):
    (kh, kw), (sh, sw), (pt, pl), (dh, dw), (Ho, Wo) = kernel, stride, pad, dilation, out_hw
    N, C = x.shape[:2]
    xp_ = _padded(x, pt, pl, (Ho - 1) * sh + (kh - 1) * dh + 1, (Wo - 1) * sw + (kw - 1) * dw + 1)
    col = np.empty((C, kh, kw, N, Ho, Wo), x.dtype)
    for i in range(kh):
        for j in range(kw):
            win = xp_[:, :, i * dh:i * dh + (Ho - 1) * sh + 1:sh,
                      j * dw:j * dw + (Wo - 1) * sw + 1:sw]
            col[:, i, j] = win.transpose(1, 0, 2, 3)
    return col.reshape(C * kh * kw, N * Ho * Wo)


def _ref_col2im(col, shape, kernel, stride, pad, dilation, out_hw):
    (kh, kw), (sh, sw), (pt, pl), (dh, dw), (Ho, Wo) = kernel, stride, pad, dilation, out_hw
    N, C, H, W = shape
    Hp = max((Ho - 1) * sh + (kh - 1) * dh + 1, pt + H)
    Wp = max((Wo - 1) * sw + (kw - 1) * dw + 1, pl + W)
    out = np.zeros((N, C, Hp, Wp), col.dtype)
    c = col.reshape(C, kh, kw, N, Ho, Wo)
    for i in range(kh):
        for j in range(kw):
            out[:, :, i * dh:i * dh + (Ho - 1) * sh + 1:sh,
                j * dw:j * dw + (Wo - 1) * sw + 1:sw] += c[:, i, j].transpose(1, 0, 2, 3)
    return out[:, :, pt:pt + H, pl:pl + W]


GEOMS = [
    # (input shape, kernel, stride, (top, bottom, left, right) padding, dilation)
    ((2, 3, 5, 7), (3, 3), (1, 1), (0, 0, 0, 0), (1, 1)),
    ((1, 2, 7, 6), (3, 2), (2, 1), (1, 1, 2, 2), (1, 2)),
    ((3, 1, 9, 5), (2, 3), (3, 2), (2, 1, 0, 1), (2, 1)),     # asymmetric pads, stride > kernel
    ((2, 4, 4, 4), (1, 1), (1, 1), (0, 0, 0, 0), (1, 1)),
    ((1, 3, 6, 5), (4, 1), (1, 3), (1, 2, 0, 0), (1, 1)),     # even kernel, bottom pad only
    ((2, 2, 1, 9), (1, 3), (1, 2), (0, 0, 1, 1), (1, 3)),     # a 1-D problem as 2-D
]


def _geom_kwargs(shape, kernel, stride, pads, dilation):
    H, W = shape[2:]
    out_hw = (_out_size(H, kernel[0], stride[0], pads[0], pads[1], dilation[0]),
              _out_size(W, kernel[1], stride[1], pads[2], pads[3], dilation[1]))
    return dict(kernel=kernel, stride=stride, pad=(pads[0], pads[2]), dilation=dilation,
                out_hw=out_hw)


@pytest.mark.parametrize("dtype", [np.float32, np.float64])
@pytest.mark.parametrize("shape,kernel,stride,pads,dilation", GEOMS)
def test_im2col_matches_reference(dtype, shape, kernel, stride, pads, dilation):
    kw = _geom_kwargs(shape, kernel, stride, pads, dilation)
    x = randn(*shape).astype(dtype)
    np.testing.assert_array_equal(im2col_ops.im2col(x, **kw), _ref_im2col(x, **kw))


@pytest.mark.parametrize("dtype", [np.float32, np.float64])
@pytest.mark.parametrize("shape,kernel,stride,pads,dilation", GEOMS)
def test_col2im_matches_reference_and_is_the_adjoint(dtype, shape, kernel, stride, pads,
                                                     dilation):
    kw = _geom_kwargs(shape, kernel, stride, pads, dilation)
    C, (Ho, Wo) = shape[1], kw["out_hw"]
    col = randn(C * kernel[0] * kernel[1], shape[0] * Ho * Wo).astype(dtype)
    got = im2col_ops.col2im(col, shape, **kw)
    tol = 1e-5 if dtype == np.float32 else 1e-12
    np.testing.assert_allclose(got, _ref_col2im(col, shape, **kw), rtol=tol, atol=tol)
    x = randn(*shape).astype(np.float64)  # <im2col(x), col> == <x, col2im(col)>
    lhs = np.vdot(im2col_ops.im2col(x, **kw), col.astype(np.float64))
    rhs = np.vdot(x, im2col_ops.col2im(col.astype(np.float64), shape, **kw))
    np.testing.assert_allclose(lhs, rhs, rtol=1e-10)


def test_col2im_writes_into_out_and_accepts_grouped_columns():
    kw = _geom_kwargs((2, 4, 5, 5), (3, 3), (2, 2), (1, 1, 1, 1), (1, 1))
    col = randn(4 * 9, 2 * 9)
    out = np.full((3, 4, 5, 5), np.nan)
    im2col_ops.col2im(col.reshape(2, 18, 18), (2, 4, 5, 5), out=out[1:], **kw)
    np.testing.assert_allclose(out[1:], _ref_col2im(col, (2, 4, 5, 5), **kw), rtol=1e-12)
    assert np.isnan(out[0]).all()
    with pytest.raises(ValueError, match="do not fit"):
        im2col_ops.col2im(col[:-1], (2, 4, 5, 5), **kw)


# --- the ops on the kernel path ----------------------------------------------------------
# The op tests of tests/ops/test_conv.py, run on the kernel path.
@pytest.mark.parametrize("xs,ws,kw", op_tests.CONV2D_CASES)
def test_conv2d(emulate, launches, xs, ws, kw):
    op_tests.test_conv2d(xs, ws, kw)
    assert launches["im2col"] and launches["col2im"]


def test_conv2d_never_takes_the_fft_path(emulate, launches, monkeypatch):
    monkeypatch.setattr(conv, "FFT_MODE", "always")
    for name in ("_fft_fwd", "_fft_bwd_input", "_fft_bwd_weight"):
        monkeypatch.setattr(conv, name, None)  # calling one would fail
    check(lambda m, x, w: _f(m).conv2d(x, w, padding=2), randn(2, 6, 5, 5), randn(8, 6, 5, 5),
          double=True)
    assert launches["im2col"]


def test_conv1d(emulate):
    check(lambda m, x, w, b: _f(m).conv1d(x, w, b, stride=2, padding=1, dilation=2, groups=2),
          randn(2, 4, 9), randn(4, 2, 2), randn(4), double=True)
    check(lambda m, x, w: _f(m).conv1d(x, w, padding="same"), randn(3, 8), randn(2, 3, 4))


@pytest.mark.parametrize("xs,ws,kw", op_tests.CONVT2D_CASES)
def test_conv_transpose2d(emulate, launches, xs, ws, kw):
    op_tests.test_conv_transpose2d(xs, ws, kw)
    assert launches["col2im"]


def test_conv_transpose1d(emulate):
    op_tests.test_conv_transpose1d()


@pytest.mark.parametrize("groups", [1, 2])
def test_batch_chunks(emulate, monkeypatch, groups):
    """Column matrices over the memory cap are built chunk by chunk: the results agree."""
    monkeypatch.setattr(conv, "_KERNEL_COL_BYTES", 1)  # one image per chunk
    sizes = []
    im2col = im2col_ops.im2col

    def recording(x, **kw):
        sizes.append(x.shape[0])
        return im2col(x, **kw)
    monkeypatch.setattr(im2col_ops, "im2col", recording)
    check(lambda m, x, w, b: _f(m).conv2d(x, w, b, stride=2, padding=1, groups=groups),
          randn(3, 4, 5, 5), randn(4, 4 // groups, 3, 3), randn(4), double=True)
    check(lambda m, x, w: _f(m).conv_transpose2d(x, w, stride=2, groups=groups),
          randn(3, 4, 3, 3), randn(4, 2, 3, 3))
    assert sizes and set(sizes) == {1}


def test_triple_backward(emulate):
    op_tests.test_triple_backward()


def test_output_is_contiguous_nchw(emulate):
    x = nr.tensor(randn(2, 3, 5, 5).astype(np.float32))
    w = nr.tensor(randn(4, 3, 3, 3).astype(np.float32))
    y = F.conv2d(x, w, nr.tensor(randn(4).astype(np.float32)))
    assert y.shape == (2, 4, 3, 3) and y._data.flags.c_contiguous
    z = F.conv_transpose2d(y, w, stride=2)
    assert z.shape == (2, 3, 7, 7) and z._data.flags.c_contiguous
