"""Row-wise softmax / log_softmax and fused softmax cross-entropy kernels (softmax_ce.cu),
run by the CPU emulator: the wrappers against NumPy, then the ops on their kernel path
through ``check`` (torch parity, non-contiguous inputs, gradcheck, double backward)."""
import shutil
import warnings

import numpy as np
import pytest
import torch

import narae as nr
from narae.backend import kernels
from narae.backend.kernels import softmax_ce_ops as K
from helpers import check, randn, rand, RNG

pytestmark = pytest.mark.skipif(shutil.which("g++") is None, reason="the emulator needs g++")

DTYPES = [np.float32, np.float64]
# (shape, axis): the last axis, a middle one (inner extent D > 1), the first; row counts
# and row lengths that are not multiples of the 256-thread block
LAYOUTS = [((5, 300), 1), ((3, 7, 4), 1), ((2, 3, 5), 0), ((257,), 0), ((1000, 3), 1)]


def _tol(dtype):
    return dict(rtol=1e-5, atol=1e-6) if dtype == np.float32 else dict(rtol=1e-12, atol=1e-13)


def _log_softmax(x, axis):
    s = x - x.max(axis, keepdims=True)
    return s - np.log(np.exp(s).sum(axis, keepdims=True))


@pytest.mark.parametrize("dtype", DTYPES)
@pytest.mark.parametrize("shape,axis", LAYOUTS)
def test_softmax_wrappers_match_numpy(shape, axis, dtype):
    x = (randn(*shape) * 3).astype(dtype)
    gy = randn(*shape).astype(dtype)
    logp = _log_softmax(x.astype(np.float64), axis)
    p = np.exp(logp)
    y = K.softmax(x, axis)
    np.testing.assert_allclose(y, p, **_tol(dtype))
    np.testing.assert_allclose(K.softmax(x, axis, log=True), logp, **_tol(dtype))
    expect = p * (gy - (gy * p).sum(axis, keepdims=True))
    np.testing.assert_allclose(K.softmax_backward(y, gy, axis), expect, **_tol(dtype))
    ly = logp.astype(dtype)
    expect = gy - p * gy.sum(axis, keepdims=True)
    np.testing.assert_allclose(K.softmax_backward(ly, gy, axis, log=True), expect,
                               **_tol(dtype))


def test_softmax_wrapper_reads_any_layout():
    x = randn(6, 9)
    np.testing.assert_allclose(K.softmax(x.T, 0), np.exp(_log_softmax(x.T, 0)), rtol=1e-12)


def _cross_entropy_reference(x, axis, t, w, ignore_index, smoothing):
    """Per-row losses and the gradient of their sum, through the dense distribution q."""
    c = x.shape[axis]
    xr = np.moveaxis(x, axis, -1).reshape(-1, c)
    tr = t.reshape(-1)
    w = np.ones(c) if w is None else w
    keep = tr != ignore_index
    tc = np.where(keep, tr, 0)
    q = np.eye(c)[tc] * (w[tc] * (1 - smoothing))[:, None] + smoothing / c * w
    q *= keep[:, None]
    logp = _log_softmax(xr, 1)
    loss = -(q * logp).sum(1)
    grad = np.exp(logp) * q.sum(1, keepdims=True) - q
    grad = np.moveaxis(grad.reshape(np.moveaxis(x, axis, -1).shape), -1, axis)
    return loss.reshape(t.shape), grad, (w[tc] * keep).sum()


CE_CASES = [  # (shape, axis, weighted, ignore_index, smoothing)
    ((7, 5), 1, False, -100, 0.0), ((300, 4), 1, True, 2, 0.0), ((6, 3), 1, True, -100, 0.2),
    ((2, 5, 3, 2), 1, True, -100, 0.1), ((9,), 0, False, -100, 0.3), ((3, 600), 1, False, 1, 0.5),
]


@pytest.mark.parametrize("dtype", DTYPES)
@pytest.mark.parametrize("shape,axis,weighted,ignore_index,smoothing", CE_CASES)
def test_cross_entropy_rows_match_numpy(shape, axis, weighted, ignore_index, smoothing, dtype):
    c = shape[axis]
    tshape = shape[:axis] + shape[axis + 1:]
    x = (randn(*shape) * 3).astype(dtype)
    t = RNG.integers(0, c, tshape).astype(np.int64)
    if t.ndim:
        t.flat[::3] = ignore_index
    w = rand(c, low=0.2, high=2.0) if weighted else None
    loss_ref, grad_ref, denom_ref = _cross_entropy_reference(x.astype(np.float64), axis, t, w,
                                                             ignore_index, smoothing)
    rows = K.CrossEntropyRows(axis, t, None if w is None else w.astype(dtype), ignore_index,
                              smoothing)
    loss = rows.forward(x)
    assert loss.shape == tshape and loss.dtype == dtype
    np.testing.assert_allclose(loss, loss_ref, **_tol(dtype))
    np.testing.assert_allclose(rows.row_weight.sum(), denom_ref, **_tol(dtype))
    gx = rows.backward(x, np.ones(tshape, dtype))
    np.testing.assert_allclose(gx, grad_ref, **_tol(dtype))


def test_rowwise_usable():
    x = np.zeros((2, 4096), np.float32)
    assert not K.rowwise_usable(x, 1)
    with kernels.emulate():
        assert K.rowwise_usable(x, 1) and K.rowwise_usable(x, 0)
        assert not K.rowwise_usable(np.zeros((2, 4097), np.float32), 1)  # rows too long
        assert not K.rowwise_usable(np.zeros((0, 3)), 1)
        assert not K.rowwise_usable(x, None)
        assert not K.rowwise_usable(x.astype(np.float16), 1)


# --- the ops, on their kernel path -------------------------------------------------------
@pytest.fixture
def launches(launches, emulate):
    """Here every test that records launches also runs with the emulator on."""
    return launches


def F(m):
    return m.nn.functional


@pytest.mark.parametrize("dim", [0, 1, -1])
def test_softmax_ops_on_kernels(dim, launches):
    check(lambda m, x: m.softmax(x, dim), randn(3, 4, 5), double=True)
    check(lambda m, x: m.log_softmax(x, dim=dim), randn(3, 4, 5), double=True)
    check(lambda m, x: F(m).softmax(x, dim=dim), randn(2, 5))
    check(lambda m, x: F(m).log_softmax(x, dim=dim), randn(2, 5))
    for kernel in ["softmax_fwd", "softmax_bwd", "log_softmax_fwd", "log_softmax_bwd"]:
        assert kernel in launches


def test_wide_softmax_keeps_the_array_path(launches):
    check(lambda m, x: m.softmax(x, -1), randn(2, K.MAX_CLASSES + 1), gradcheck=False)
    check(lambda m, x, t: F(m).cross_entropy(x, t), randn(2, K.MAX_CLASSES + 1),
          np.array([0, K.MAX_CLASSES]), gradcheck=False)
    assert not launches


REDUCTIONS = ["mean", "sum", "none"]


def labels(*shape, c, ignore=None, ignore_index=-100):
    t = RNG.integers(0, c, shape).astype(np.int64)
    if ignore is not None:
        t.flat[list(ignore)] = ignore_index
    return t


def _assert_fused(launches):
    assert "cross_entropy_fwd" in launches and "cross_entropy_bwd" in launches


@pytest.mark.parametrize("reduction", REDUCTIONS)
def test_cross_entropy_on_kernels(reduction, launches):
    check(lambda m, x, t: F(m).cross_entropy(x, t, reduction=reduction), randn(5, 4),
          labels(5, c=4), double=True)
    _assert_fused(launches)


@pytest.mark.parametrize("reduction", REDUCTIONS)
@pytest.mark.parametrize("smoothing", [0.0, 0.2])
def test_cross_entropy_weight_ignore_smoothing_on_kernels(reduction, smoothing, launches):
    w = rand(4, low=0.2, high=2.0)
    t = labels(6, c=4, ignore=[1, 4])
    check(lambda m, x, t, w: F(m).cross_entropy(x, t, weight=w, reduction=reduction,
                                                label_smoothing=smoothing),
          randn(6, 4), t, w, diff=(0,), double=True)
    check(lambda m, x, t: F(m).cross_entropy(x, t, ignore_index=2, reduction=reduction,
                                             label_smoothing=smoothing),
          randn(6, 4), labels(6, c=4))
    _assert_fused(launches)


@pytest.mark.parametrize("shape", [(2, 3, 4), (2, 4, 2, 3)])
@pytest.mark.parametrize("reduction", ["mean", "none"])
def test_cross_entropy_nd_on_kernels(shape, reduction, launches):
    tshape = (shape[0],) + shape[2:]
    w = rand(shape[1], low=0.5)
    check(lambda m, x, t, w: F(m).cross_entropy(x, t, w, reduction=reduction,
                                                label_smoothing=0.1),
          randn(*shape), labels(*tshape, c=shape[1], ignore=[0]), w, diff=(0,), double=True)
    _assert_fused(launches)


def test_cross_entropy_unbatched_and_many_rows_on_kernels(launches):
    check(lambda m, x, t: F(m).cross_entropy(x, t), randn(5), np.array(3, dtype=np.int64),
          double=True)
    check(lambda m, x, t: F(m).cross_entropy(x, t, reduction="none", label_smoothing=0.3),
          randn(5), np.array(0, dtype=np.int64))
    check(lambda m, x, t: F(m).cross_entropy(x, t), randn(300, 7), labels(300, c=7),
          gradcheck=False)
    _assert_fused(launches)


def test_cross_entropy_edge_cases_on_kernels(launches):
    x = nr.tensor([[1000.0, -1000.0, 0.0]], requires_grad=True)
    loss = F(nr).cross_entropy(x, nr.tensor([1]))
    loss.backward()
    assert np.isfinite(x.grad.numpy()).all()
    np.testing.assert_allclose(loss.item(), 2000.0, rtol=1e-6)
    with warnings.catch_warnings():
        warnings.simplefilter("ignore")
        ours = F(nr).cross_entropy(nr.tensor(randn(2, 3)), nr.tensor([-100, -100])).item()
    assert np.isnan(ours)
    _assert_fused(launches)


def test_cross_entropy_probability_targets_unchanged(launches):
    p = rand(4, 3)
    p /= p.sum(1, keepdims=True)
    check(lambda m, x, p: F(m).cross_entropy(x, p, label_smoothing=0.1), randn(4, 3), p,
          double=True)
    assert "cross_entropy_fwd" not in launches


def test_cross_entropy_paths_agree():
    """Kernel and array paths give the same loss and gradient (float64, all options)."""
    x0 = randn(8, 5, 3)
    t = labels(8, 3, c=5, ignore=[2, 7])
    w = rand(5, low=0.3)
    results = []
    for emulated in (True, False):
        with kernels.emulate(emulated):
            x = nr.tensor(x0, requires_grad=True)
            loss = F(nr).cross_entropy(x, nr.tensor(t), nr.tensor(w), label_smoothing=0.15)
            loss.backward()
            results.append((loss.item(), x.grad.numpy()))
    np.testing.assert_allclose(results[0][0], results[1][0], rtol=1e-12)
    np.testing.assert_allclose(results[0][1], results[1][1], rtol=1e-10, atol=1e-14)
    assert torch.isfinite(torch.tensor(results[0][1])).all()
