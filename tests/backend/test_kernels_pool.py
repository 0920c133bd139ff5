"""pool.cu and the pools' kernel path, run on the CPU by the kernel emulator.

The wrappers are checked against NumPy references (loops over windows); max_pool2d and
avg_pool2d (and the 1-D pools, max_unpool and lp_pool built on them) are checked against
torch with ``check`` inside ``kernels.emulate()``, the path a CuPy array takes.
"""
import shutil

import numpy as np
import pytest
import torch

import narae as nr
import narae.nn.functional as F
from narae.backend import kernels
from narae.backend.kernels import pool_ops
from helpers import check, randn
from ops import test_pool as op_tests

pytestmark = pytest.mark.skipif(shutil.which("g++") is None, reason="the emulator needs g++")


def _f(m):
    return F if m is nr else m.nn.functional


# --- wrappers vs NumPy references -----------------------------------------------------------
def _windows(in_hw, out_hw, kernel, stride, pad, dilation):
    """For each output (ho, wo): the in-plane flat positions its window reads, in scan order."""
    (H, W), (Ho, Wo) = in_hw, out_hw
    out = {}
    for ho in range(Ho):
        for wo in range(Wo):
            pos = []
            for i in range(kernel[0]):
                for j in range(kernel[1]):
                    h = ho * stride[0] - pad[0] + i * dilation[0]
                    w = wo * stride[1] - pad[1] + j * dilation[1]
                    if 0 <= h < H and 0 <= w < W:
                        pos.append(h * W + w)
            out[ho, wo] = pos
    return out


def _ref_max_pool(x, wins, out_hw):
    N, C = x.shape[:2]
    flat = x.reshape(N, C, -1)
    y = np.empty((N, C) + out_hw, x.dtype)
    idx = np.empty((N, C) + out_hw, np.int64)
    for (ho, wo), pos in wins.items():
        for n in range(N):
            for c in range(C):
                best = pos[0]
                for p in pos[1:]:  # torch: replace on v > best or v is NaN
                    if flat[n, c, p] > flat[n, c, best] or np.isnan(flat[n, c, p]):
                        best = p
                y[n, c, ho, wo], idx[n, c, ho, wo] = flat[n, c, best], best
    return y, idx


def _ref_avg_pool(x, inv, wins, out_hw):
    N, C = x.shape[:2]
    flat = x.reshape(N, C, -1)
    y = np.empty((N, C) + out_hw, x.dtype)
    for (ho, wo), pos in wins.items():
        y[:, :, ho, wo] = flat[:, :, pos].sum(-1) * inv[ho, wo]
    return y


def _out(n, k, s, p, d, ceil):
    eff = d * (k - 1) + 1
    o = (n + 2 * p - eff + (s - 1 if ceil else 0)) // s + 1
    return o - 1 if ceil and (o - 1) * s >= n + p else o


GEOMS = [
    # (input shape, kernel, stride, (top, left) padding, dilation, ceil_mode)
    ((2, 3, 7, 8), (2, 2), (2, 2), (0, 0), (1, 1), False),
    ((1, 2, 7, 8), (3, 2), (2, 1), (1, 1), (1, 1), False),
    ((2, 2, 9, 7), (3, 3), (2, 2), (1, 1), (2, 2), False),
    ((1, 3, 7, 8), (3, 3), (2, 2), (0, 0), (1, 1), True),
    ((2, 1, 8, 9), (4, 4), (3, 3), (2, 2), (1, 1), True),
    ((3, 2, 1, 11), (1, 3), (1, 2), (0, 1), (1, 2), True),   # a 1-D pool as 2-D
]


def _geom_kwargs(shape, kernel, stride, pad, dilation, ceil):
    out_hw = tuple(_out(n, k, s, p, d, ceil) for n, k, s, p, d in
                   zip(shape[2:], kernel, stride, pad, dilation))
    return dict(kernel=kernel, stride=stride, pad=pad, dilation=dilation), out_hw


def _input(shape, dtype):
    """Random values with ties, infinities and a NaN, to pin the argmax rules down."""
    x = randn(*shape).round(0).astype(dtype)  # rounding makes ties common
    x.reshape(-1)[::7] = -np.inf
    x.reshape(-1)[3] = np.nan
    return x


@pytest.mark.parametrize("dtype", [np.float32, np.float64])
@pytest.mark.parametrize("geom", GEOMS)
def test_max_pool_matches_reference(dtype, geom):
    kw, out_hw = _geom_kwargs(*geom)
    x = _input(geom[0], dtype)
    wins = _windows(x.shape[2:], out_hw, **kw)
    y, idx = pool_ops.max_pool(x, out_hw=out_hw, **kw)
    ry, ridx = _ref_max_pool(x, wins, out_hw)
    np.testing.assert_array_equal(idx, ridx)
    np.testing.assert_array_equal(y, ry)  # NaNs compare equal here

    gy = randn(*y.shape).astype(dtype)
    gx = pool_ops.max_pool_backward(gy, idx, x.shape[2:], **kw)
    rgx = np.zeros(x.shape[:2] + (x.shape[2] * x.shape[3],), np.float64)
    N, C = x.shape[:2]
    for n in range(N):
        for c in range(C):
            np.add.at(rgx[n, c], idx[n, c].reshape(-1), gy[n, c].reshape(-1))
    # float32 sums of overlapping windows vs a float64 reference: cancellation needs an atol
    tol = dict(rtol=1e-5, atol=1e-6) if dtype == np.float32 else dict(rtol=1e-12, atol=1e-14)
    np.testing.assert_allclose(gx, rgx.reshape(x.shape), **tol)

    got = pool_ops.max_pool_gather(gx, idx)
    ref = np.take_along_axis(gx.reshape(N, C, -1), idx.reshape(N, C, -1), 2).reshape(idx.shape)
    np.testing.assert_array_equal(got, ref)


def test_max_pool_window_over_padding_alone():
    """Dilation can make a window skip the input: -inf, index -1, no gradient anywhere."""
    x = randn(2, 3, 1, 1)
    kw = dict(kernel=(1, 2), stride=(1, 1), pad=(0, 1), dilation=(1, 2))
    y, idx = pool_ops.max_pool(x, out_hw=(1, 1), **kw)
    assert np.all(y == -np.inf) and np.all(idx == -1)
    np.testing.assert_array_equal(pool_ops.max_pool_backward(np.ones_like(y), idx, (1, 1), **kw),
                                  np.zeros_like(x))
    np.testing.assert_array_equal(pool_ops.max_pool_gather(x, idx), np.zeros_like(y))
    t = torch.nn.functional.max_pool2d(torch.tensor(x), (1, 2), 1, (0, 1), (1, 2))
    np.testing.assert_array_equal(y, t.numpy())


@pytest.mark.parametrize("dtype", [np.float32, np.float64])
@pytest.mark.parametrize("geom", GEOMS)
def test_avg_pool_matches_reference_and_adjoint(dtype, geom):
    kw, out_hw = _geom_kwargs(*geom)
    x = randn(*geom[0]).astype(dtype)
    inv = 1.0 / (1 + np.arange(np.prod(out_hw))).reshape(out_hw)  # any per-position table
    wins = _windows(x.shape[2:], out_hw, **kw)
    y = pool_ops.avg_pool(x, inv, out_hw=out_hw, **kw)
    tol = 1e-6 if dtype == np.float32 else 1e-12
    np.testing.assert_allclose(y, _ref_avg_pool(x, inv, wins, out_hw), rtol=tol, atol=tol)
    np.testing.assert_allclose(pool_ops.avg_pool(x, 0.5, out_hw=out_hw, **kw),
                               _ref_avg_pool(x, np.full(out_hw, 0.5), wins, out_hw),
                               rtol=tol, atol=tol)
    x64, gy = x.astype(np.float64), randn(*y.shape)  # <avg(x), gy> == <x, avg^T(gy)>
    lhs = np.vdot(pool_ops.avg_pool(x64, inv, out_hw=out_hw, **kw), gy)
    rhs = np.vdot(x64, pool_ops.avg_pool_backward(gy, inv, x.shape[2:], **kw))
    np.testing.assert_allclose(lhs, rhs, rtol=1e-10)


# --- the ops on the kernel path ----------------------------------------------------------
# The op tests of tests/ops/test_pool.py, run on the kernel path.
@pytest.mark.parametrize("k,kw", op_tests.MAX2D)
def test_max_pool2d(emulate, launches, k, kw):
    op_tests.test_max_pool2d(k, kw)
    assert launches["max_pool_fwd"] and launches["max_pool_bwd"]
    assert launches["max_pool_gather"]


@pytest.mark.parametrize("k,kw", op_tests.MAX2D)
def test_max_pool2d_indices(emulate, k, kw):
    op_tests.test_max_pool2d_indices(k, kw)


def test_max_pool_ties_nan_and_infinity_indices_match_torch(emulate):
    a = np.zeros((1, 2, 5, 6), np.float32)
    a[0, 1, :2, :2] = 1.0
    a[0, 0, 3:, :] = -np.inf
    a[0, 0, 0, 4] = a[0, 0, 1, 5] = np.nan
    for kw in (dict(kernel_size=2), dict(kernel_size=3, stride=1, padding=1),
               dict(kernel_size=2, stride=2, ceil_mode=True)):
        y, i = F.max_pool2d(nr.tensor(a), return_indices=True, **kw)
        ty, ti = torch.nn.functional.max_pool2d(torch.tensor(a), return_indices=True, **kw)
        np.testing.assert_array_equal(y.numpy(), ty.numpy())
        np.testing.assert_array_equal(i.numpy(), ti.numpy())
    check(lambda m, x: _f(m).max_pool2d(x, 3, stride=1, padding=1), np.nan_to_num(a, neginf=0),
          gradcheck=False)


def test_max_pool_1d_unbatched_and_unpool(emulate):
    check(lambda m, x: _f(m).max_pool2d(x, 2, padding=1) ** 2, randn(3, 5, 5), double=True)
    check(lambda m, x: _f(m).max_pool1d(x, 3, stride=2, padding=1, return_indices=True),
          randn(2, 3, 9))
    check(lambda m, x: _f(m).max_pool1d(x, 2, ceil_mode=True) ** 2, randn(3, 7), double=True)

    def unpool(m, x):
        y, i = _f(m).max_pool2d(x, 2, return_indices=True)
        return _f(m).max_unpool2d(y * 3.0, i, 2)
    check(unpool, randn(2, 3, 6, 6), double=True)


def test_backward_outside_emulation_stays_on_the_kernels(launches):
    """A max pool recorded on the kernel path keeps torch's flat argmax: its backward (and
    double backward) must use the kernels even when emulation has been switched off."""
    x0 = randn(2, 3, 6, 7)
    x = nr.tensor(x0, requires_grad=True)
    with kernels.emulate():
        y = F.max_pool2d(x, 3, stride=2, padding=1) ** 2
    g, = nr.autograd.grad(y.sum(), [x], create_graph=True)
    gg, = nr.autograd.grad((g * g).sum(), [x])
    tx = torch.tensor(x0, requires_grad=True)
    ty = torch.nn.functional.max_pool2d(tx, 3, stride=2, padding=1) ** 2
    tg, = torch.autograd.grad(ty.sum(), [tx], create_graph=True)
    tgg, = torch.autograd.grad((tg * tg).sum(), [tx])
    np.testing.assert_allclose(g.detach().numpy(), tg.detach().numpy(), rtol=1e-10)
    np.testing.assert_allclose(gg.numpy(), tgg.numpy(), rtol=1e-10)
    assert launches["max_pool_bwd"] and launches["max_pool_gather"]


@pytest.mark.parametrize("k,kw", op_tests.AVG2D)
def test_avg_pool2d(emulate, launches, k, kw):
    op_tests.test_avg_pool2d(k, kw)
    assert launches["avg_pool_fwd"] and launches["avg_pool_bwd"]


def test_avg_and_lp_pool_1d_and_unbatched(emulate):
    op_tests.test_avg_pool1d_and_unbatched()
    check(lambda m, x: _f(m).lp_pool2d(x, 2, 2), randn(2, 3, 4, 6))
