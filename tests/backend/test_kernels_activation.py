"""Fused activation kernels (activation.cu), run by the CPU emulator.

Two layers: the wrappers against NumPy formulas written out here, and the ops themselves
inside ``kernels.emulate()`` through ``check`` (torch parity, non-contiguous inputs, float64
gradcheck, double backward) -- which runs the ops' GPU code path on the CPU.
"""
import math
import shutil

import numpy as np
import pytest
import torch
import torch.nn.functional as TF

import narae as nr
from narae.backend import kernels
from narae.backend.kernels import activation_ops as K
from narae.ops import activation as A
from helpers import check, randn

pytestmark = pytest.mark.skipif(shutil.which("g++") is None, reason="the emulator needs g++")

DTYPES = [np.float32, np.float64]
SIZES = [1, 257, 1000]  # not multiples of the 256-thread block
_erf = np.vectorize(math.erf)


def _sigmoid(v):
    e = np.exp(-np.abs(v))
    return np.where(v >= 0, 1 / (1 + e), e / (1 + e))


def _gelu_tanh_parts(v):
    k = math.sqrt(2 / math.pi)
    t = np.tanh(k * (v + 0.044715 * v ** 3))
    return t, k * (1 + 3 * 0.044715 * v * v)


# name -> (kernel params, forward(x), derivative(x or y)); the derivative reads y for the
# activations whose backward keeps the output
REFERENCE = {
    "relu": ((), lambda v: np.maximum(v, 0), lambda y: (y > 0) * 1.0),
    "sigmoid": ((), _sigmoid, lambda y: y * (1 - y)),
    "tanh": ((), np.tanh, lambda y: 1 - y * y),
    "elu": ((0.7, 1.3, 0.5), lambda v: 1.3 * np.where(v > 0, v, 0.7 * np.expm1(0.5 * v)),
            None),
    "gelu": ((), lambda v: v * 0.5 * (1 + _erf(v / math.sqrt(2))),
             lambda v: 0.5 * (1 + _erf(v / math.sqrt(2))) + v * np.exp(-v * v / 2)
             / math.sqrt(2 * math.pi)),
    "gelu_tanh": ((), lambda v: 0.5 * v * (1 + _gelu_tanh_parts(v)[0]),
                  lambda v: 0.5 * (1 + _gelu_tanh_parts(v)[0]) + 0.5 * v * (
                      1 - _gelu_tanh_parts(v)[0] ** 2) * _gelu_tanh_parts(v)[1]),
    "silu": ((), lambda v: v * _sigmoid(v),
             lambda v: _sigmoid(v) * (1 + v * (1 - _sigmoid(v)))),
    "softplus": ((2.0, 3.0), lambda v: np.where(2 * v > 3, v, np.logaddexp(0, 2 * v) / 2),
                 lambda v: np.where(2 * v > 3, 1.0, _sigmoid(2 * v))),
    "hardswish": ((), lambda v: v * np.clip(v + 3, 0, 6) / 6,
                  lambda v: np.where(v <= -3, 0, np.where(v < 3, v / 3 + 0.5, 1))),
}
BACKWARD_PARAMS = {"elu": (1.3, 0.5, 1.3 * 0.7 * 0.5), "softplus": (2.0, 3.0)}
READS_OUTPUT = {"relu", "sigmoid", "tanh"}


def _elu_slope(v):
    return np.where(v > 0, 1.3, 1.3 * 0.7 * 0.5 * np.exp(0.5 * np.minimum(v, 0)))


def _tol(dtype):
    return dict(rtol=2e-5, atol=2e-6) if dtype == np.float32 else dict(rtol=1e-12, atol=1e-13)


@pytest.mark.parametrize("dtype", DTYPES)
@pytest.mark.parametrize("name", sorted(REFERENCE))
def test_wrappers_match_numpy(name, dtype):
    params, fwd, deriv = REFERENCE[name]
    if name == "elu":
        deriv = _elu_slope
    for n in SIZES:
        x = (randn(n) * 3).astype(dtype)
        gy = randn(n).astype(dtype)
        y = K.forward(name, x, *params)
        assert y.dtype == dtype and y.shape == x.shape
        np.testing.assert_allclose(y, fwd(x.astype(np.float64)), **_tol(dtype))
        a = y if name in READS_OUTPUT else x
        gx = K.backward(name, a, gy, *BACKWARD_PARAMS.get(name, ()))
        np.testing.assert_allclose(gx, gy * deriv(a.astype(np.float64)), **_tol(dtype))


@pytest.mark.parametrize("dtype", DTYPES)
def test_wrappers_take_any_layout_and_0d(dtype):
    x = randn(6, 5).astype(dtype)
    np.testing.assert_allclose(K.forward("tanh", x.T), np.tanh(x.T), **_tol(dtype))
    y = K.forward("relu", np.array(-2.0, dtype))
    assert y.shape == () and y == 0
    gx = K.backward("sigmoid", x.T, np.broadcast_to(np.ones((), dtype), (5, 6)))
    np.testing.assert_allclose(gx, x.T * (1 - x.T), **_tol(dtype))


@pytest.mark.parametrize("dtype", DTYPES)
def test_piecewise_masks(dtype):
    x = np.linspace(-5, 5, 301).astype(dtype)  # 0, +-1 and +-3 lie on the grid
    gy = randn(301).astype(dtype)
    cases = [("leaky_relu", (0.2,), 1.0, 0.2, np.where(x > 0, x, 0.2 * x), x > 0),
             ("hardtanh", (-1.0, 1.0), 1.0, 0.0, np.clip(x, -1, 1), (x > -1) & (x < 1)),
             ("hardsigmoid", (), 1 / 6, 0.0, np.clip(x / 6 + 0.5, 0, 1), (x > -3) & (x < 3))]
    for name, params, a, b, y_ref, inside in cases:
        y, slope = K.piecewise(name, x, params, a, b)
        np.testing.assert_allclose(y, y_ref, **_tol(dtype), err_msg=name)
        np.testing.assert_array_equal(slope.mask, inside, err_msg=name)
        factor = np.where(inside, a, b).astype(dtype)
        np.testing.assert_allclose(slope.scale(gy), gy * factor, **_tol(dtype), err_msg=name)


def test_nan_passes_like_the_array_code():
    x = np.array([np.nan, -1.0, 2.0], np.float32)
    for name, params in [("relu", ()), ("elu", (1.0, 1.0, 1.0)), ("hardswish", ())]:
        assert np.isnan(K.forward(name, x, *params)[0]), name
    assert np.isnan(K.piecewise("hardtanh", x, (-1.0, 1.0), 1.0, 0.0)[0][0])


def test_usable_only_when_asked_for_and_float():
    x = np.zeros(3, np.float32)
    assert not K.usable(x)
    with kernels.emulate():
        assert K.usable(x) and K.usable(x, x)
        assert not K.usable(x.astype(np.float16))
        assert not K.usable(x, np.zeros(3))            # dtypes differ
        assert not K.usable(x, np.zeros(4, np.float32))  # shapes differ


# --- the ops, on their kernel path -------------------------------------------------------
@pytest.fixture
def launches(launches, emulate):
    """Here every test that records launches also runs with the emulator on."""
    return launches


def away_from(points, *shape, gap=0.05, scale=1):
    x = randn(*shape) * 2 * scale
    for p in points:
        near = np.abs(x - p) < gap
        x[near] = p + np.where(x[near] >= p, gap, -gap)
    return x


def fn_of(m):
    return A if m is nr else TF


SMOOTH = [("elu", {}, "elu"), ("selu", {}, "elu"), ("celu", {"alpha": 2.0}, "elu"),
          ("gelu", {}, "gelu"), ("gelu", {"approximate": "tanh"}, "gelu_tanh"),
          ("silu", {}, "silu"), ("mish", {}, "softplus"), ("logsigmoid", {}, "softplus"),
          ("softplus", {"beta": 2.0, "threshold": 3.0}, "softplus"),
          ("sigmoid", {}, "sigmoid"), ("tanh", {}, "tanh")]


@pytest.mark.parametrize("name,kw,kernel", SMOOTH)
def test_smooth_ops_on_kernels(name, kw, kernel, launches):
    x = away_from([0.0, 1.5], 4, 6)
    check(lambda m, x: getattr(fn_of(m), name)(x, **kw), x, double=True)
    assert kernel + "_fwd" in launches and kernel + "_bwd" in launches


PIECEWISE = [("relu", {}, [0], "relu_bwd"), ("leaky_relu", {"negative_slope": 0.2}, [0],
                                              "masked_scale"),
             ("relu6", {}, [0, 6], "masked_scale"), ("hardtanh", {}, [-1, 1], "masked_scale"),
             ("hardsigmoid", {}, [-3, 3], "masked_scale"),
             ("hardswish", {}, [-3, 3], "hardswish_bwd")]


@pytest.mark.parametrize("name,kw,kinks,grad_kernel", PIECEWISE)
def test_piecewise_ops_on_kernels(name, kw, kinks, grad_kernel, launches):
    x = away_from(kinks, 4, 6, scale=3)
    # the gradient is constant in x but for hardswish's: its linearity in gy is checked below
    check(lambda m, x: getattr(fn_of(m), name)(x, **kw), x, double=name == "hardswish")
    assert grad_kernel in launches and any(k.endswith("_fwd") for k in launches)


@pytest.mark.parametrize("name,kw,kinks,grad_kernel", PIECEWISE)
def test_piecewise_gradient_of_gradient(name, kw, kinks, grad_kernel):
    """The gradient node is differentiable in gy (create_graph) on both paths, alike."""
    x0, gy0, v = away_from(kinks, 3, 5, scale=3), randn(3, 5), randn(3, 5)

    def second(emulated):
        with kernels.emulate(emulated):
            x = nr.tensor(x0, requires_grad=True)
            gy = nr.tensor(gy0, requires_grad=True)
            y = getattr(A, name)(x, **kw)
            gx, = nr.autograd.grad(y, x, grad_outputs=gy, create_graph=True)
            return gx.detach().numpy(), nr.autograd.grad((gx * nr.tensor(v)).sum(), gy)[0]
    (gx_k, ggy_k), (gx_a, ggy_a) = second(True), second(False)
    np.testing.assert_allclose(gx_k, gx_a, rtol=1e-12)
    np.testing.assert_allclose(ggy_k.numpy(), ggy_a.numpy(), rtol=1e-12)


def test_large_inputs_stable_on_kernels(launches):
    big = np.array([-1000.0, -100.0, -30.0, -5.0, 0.0, 5.0, 30.0, 100.0, 1000.0])
    for name in ["softplus", "logsigmoid", "sigmoid", "silu", "elu", "selu", "gelu", "tanh"]:
        with np.errstate(over="raise", invalid="raise"):
            check(lambda m, x: getattr(fn_of(m), name)(x), big, gradcheck=False)
            check(lambda m, x: getattr(fn_of(m), name)(x), big, gradcheck=False, double=True)


def test_inplace_forms_on_kernels(launches):
    for name in ["relu", "leaky_relu", "elu", "silu", "hardtanh"]:
        a = nr.from_numpy(randn(3, 4).astype(np.float32))
        expect = getattr(TF, name)(torch.from_numpy(a.numpy().copy())).numpy()
        assert getattr(A, name)(a, inplace=True) is a
        np.testing.assert_allclose(a.numpy(), expect, rtol=1e-5, atol=1e-6, err_msg=name)
    x = nr.randn(3, requires_grad=True)
    y = x * 1.0
    A.leaky_relu(y, 0.1, inplace=True)
    y.sum().backward()
    np.testing.assert_allclose(x.grad.numpy(), np.where(x.detach().numpy() > 0, 1, 0.1),
                               rtol=1e-6)


def test_float16_keeps_the_array_path(launches):
    x = nr.from_numpy(randn(5).astype(np.float16))
    np.testing.assert_allclose(A.relu(x).numpy(), np.maximum(x.numpy(), 0))
    assert not launches
