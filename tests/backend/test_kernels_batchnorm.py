"""Batch norm's kernel path (batchnorm.cu / batchnorm_ops.py), run on the CPU by the emulator:
the wrappers against NumPy, then batch_norm itself under ``kernels.emulate()`` against torch."""
import shutil

import numpy as np
import pytest
import torch

import narae as nr
from narae.backend import kernels
from narae.backend.kernels import batchnorm_ops as bn
from helpers import check, randn, rand

pytestmark = pytest.mark.skipif(shutil.which("g++") is None, reason="the emulator needs g++")

SHAPES = [(5, 3), (3, 2, 5), (2, 3, 2, 3)]
RNG = np.random.default_rng(5)


def F(m):
    return m.nn.functional


def _ref_stats(x):
    ax = (0,) + tuple(range(2, x.ndim))
    shape = (1, x.shape[1]) + (1,) * (x.ndim - 2)
    return ax, shape, x.mean(ax), x.var(ax)


# --- the wrappers ------------------------------------------------------------------------------
@pytest.mark.parametrize("dtype", [np.float32, np.float64])
@pytest.mark.parametrize("shape", SHAPES)
@pytest.mark.parametrize("affine", [True, False])
def test_forward_matches_numpy(dtype, shape, affine):
    x = RNG.standard_normal(shape).astype(dtype)
    c = shape[1]
    w, b = (RNG.standard_normal(c).astype(dtype) for _ in range(2)) if affine else (None, None)
    ax, s, m, v = _ref_stats(x)
    mean, var, invstd = bn.batch_stats(x, 1e-5)
    tol = 1e-5 if dtype == np.float32 else 1e-12
    np.testing.assert_allclose(mean, m, rtol=tol, atol=tol)
    np.testing.assert_allclose(var, v, rtol=tol, atol=tol)
    y = bn.forward(x, mean, invstd, w, b)
    ref = (x - m.reshape(s)) / np.sqrt(v.reshape(s) + 1e-5)
    if affine:
        ref = ref * w.reshape(s) + b.reshape(s)
    assert y.dtype == dtype and y.shape == x.shape
    np.testing.assert_allclose(y, ref, rtol=tol, atol=tol)


@pytest.mark.parametrize("dtype", [np.float32, np.float64])
@pytest.mark.parametrize("shape", SHAPES)
@pytest.mark.parametrize("affine", [True, False])
def test_backward_matches_numpy(dtype, shape, affine):
    x = RNG.standard_normal(shape).astype(dtype)
    gy = RNG.standard_normal(shape).astype(dtype)
    w = RNG.standard_normal(shape[1]).astype(dtype) if affine else None
    ax, s, m, v = _ref_stats(x)
    mean, _, invstd = bn.batch_stats(x, 1e-5)
    rs = 1 / np.sqrt(v.reshape(s) + 1e-5)
    xhat = (x - m.reshape(s)) * rs
    sum_gy, sum_gy_xhat = bn.backward_sums(x, gy, mean, invstd)
    tol = 1e-4 if dtype == np.float32 else 1e-11
    np.testing.assert_allclose(sum_gy, gy.sum(ax), rtol=tol, atol=tol)
    np.testing.assert_allclose(sum_gy_xhat, (gy * xhat).sum(ax), rtol=tol, atol=tol)
    k = rs * (w.reshape(s) if affine else 1)
    ref = k * (gy - gy.mean(ax, keepdims=True) - xhat * (gy * xhat).mean(ax, keepdims=True))
    gx = bn.backward_train(x, gy, mean, invstd, w, sum_gy, sum_gy_xhat)
    np.testing.assert_allclose(gx, ref, rtol=tol, atol=tol)
    np.testing.assert_allclose(bn.backward_eval(gy, invstd, w), gy * k, rtol=tol, atol=tol)


def test_wrappers_accept_strided_arrays():
    x = np.asfortranarray(RNG.standard_normal((4, 3, 5)))
    mean, _, invstd = bn.batch_stats(x, 1e-5)
    np.testing.assert_allclose(bn.forward(x, mean, invstd),
                               bn.forward(np.ascontiguousarray(x), mean, invstd))


# --- batch_norm on the kernel path, against torch ---------------------------------------------
@pytest.mark.parametrize("shape", SHAPES)
@pytest.mark.parametrize("affine", [True, False])
def test_batch_norm_training(shape, affine, launches):
    c = shape[1]
    args = [randn(*shape), np.zeros(c), np.ones(c)] + ([randn(c), randn(c)] if affine else [])

    def fn(m, x, rm, rv, *wb):
        return F(m).batch_norm(x, rm, rv, *wb, training=True)
    with kernels.emulate():
        check(fn, *args, diff=(0, 3, 4) if affine else (0,), double=True)
    assert launches["bn_forward"] and launches["bn_backward_train"]


@pytest.mark.parametrize("shape", SHAPES)
def test_batch_norm_eval(shape, launches):
    c = shape[1]
    with kernels.emulate():
        check(lambda m, x, rm, rv, w, b: F(m).batch_norm(x, rm, rv, w, b, eps=1e-3),
              randn(*shape), randn(c), rand(c, low=0.5, high=2.0), randn(c), randn(c),
              diff=(0, 3, 4), double=True)
        check(lambda m, x, rm, rv: F(m).batch_norm(x, rm, rv), randn(*shape), randn(c),
              rand(c, low=0.5, high=2.0), diff=(0,))
    assert launches["bn_forward"] and launches["bn_backward_eval"]


@pytest.mark.parametrize("shape", SHAPES)
def test_running_stats_match_torch(shape, launches):
    c = shape[1]
    ours = [nr.zeros(c), nr.ones(c)]
    theirs = [torch.zeros(c), torch.ones(c)]
    with kernels.emulate():
        for step in range(3):
            x = randn(*shape).astype(np.float32) * (step + 1) + step
            y = F(nr).batch_norm(nr.tensor(x), *ours, training=True, momentum=0.3)
            t = F(torch).batch_norm(torch.tensor(x), *theirs, training=True, momentum=0.3)
            np.testing.assert_allclose(y.numpy(), t.numpy(), rtol=1e-4, atol=1e-5)
    for o, t in zip(ours, theirs):
        np.testing.assert_allclose(o.numpy(), t.numpy(), rtol=1e-5, atol=1e-6)
    assert launches["bn_forward"] == 3


def test_module_train_then_eval_matches_torch(launches):
    torch.manual_seed(0)
    theirs = torch.nn.BatchNorm2d(3)
    ours = nr.nn.BatchNorm2d(3)
    with torch.no_grad():
        theirs.weight.uniform_(0.5, 1.5)
        theirs.bias.uniform_(-1, 1)
    ours.load_state_dict({k: v.detach().numpy() for k, v in theirs.state_dict().items()})
    x = randn(4, 3, 3, 3).astype(np.float32)
    with kernels.emulate():
        for train in (True, False):
            ours.train(train)
            theirs.train(train)
            ox, tx = nr.tensor(x, requires_grad=True), torch.tensor(x, requires_grad=True)
            oy, ty = ours(ox), theirs(tx)
            np.testing.assert_allclose(oy.detach().numpy(), ty.detach().numpy(), atol=1e-5)
            up = randn(*x.shape).astype(np.float32)
            (oy * nr.tensor(up)).sum().backward()
            (ty * torch.tensor(up)).sum().backward()
            np.testing.assert_allclose(ox.grad.numpy(), tx.grad.numpy(), atol=1e-5)
            np.testing.assert_allclose(ours.weight.grad.numpy(), theirs.weight.grad.numpy(),
                                       atol=1e-4)
            np.testing.assert_allclose(ours.bias.grad.numpy(), theirs.bias.grad.numpy(),
                                       atol=1e-4)
    np.testing.assert_allclose(ours.running_var.numpy(), theirs.running_var.numpy(), rtol=1e-5)
    assert launches["bn_backward_train"] == 1 and launches["bn_backward_eval"] == 1


def test_instance_norm_with_running_stats_shares_the_kernels(launches):
    c = 3
    with kernels.emulate():
        check(lambda m, x, rm, rv, w, b: F(m).instance_norm(x, rm, rv, w, b,
                                                            use_input_stats=False),
              randn(2, c, 4), randn(c), rand(c, low=0.5, high=2.0), randn(c), randn(c),
              diff=(0, 3, 4))
    assert launches["bn_forward"]


def test_kernel_path_off_outside_emulation(launches):
    F(nr).batch_norm(nr.randn(4, 3), None, None, training=True)
    assert not launches
