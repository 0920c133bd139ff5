"""Anomaly detection: NaN in backward names the op and shows the forward traceback."""
import warnings

import numpy as np
import pytest

import narae as nr
from narae.autograd import anomaly_mode, engine
from narae.autograd.function import Function


class _NanGrad(nr.autograd.Function):
    @staticmethod
    def forward(ctx, x):
        return x * 2

    @staticmethod
    def backward(ctx, g):
        return g * float("nan")


def test_off_by_default_and_hooks_removed():
    assert not nr.autograd.is_anomaly_enabled()
    plain = Function.__dict__["__call__"]
    with pytest.warns(UserWarning, match="Anomaly Detection has been enabled"):
        ctx = nr.autograd.detect_anomaly()
    with ctx:
        assert nr.autograd.is_anomaly_enabled()
        assert engine._backward_hook is not None
    assert not nr.autograd.is_anomaly_enabled()
    assert engine._backward_hook is None
    assert Function.__dict__["__call__"] is plain


def test_nan_in_backward_raises_with_forward_traceback():
    x = nr.tensor([1.0, 2.0], requires_grad=True)
    with warnings.catch_warnings(record=True) as caught:
        warnings.simplefilter("always")
        with nr.autograd.detect_anomaly():
            y = _NanGrad.apply(x)
            loss = (y * 3).sum()
            with pytest.raises(RuntimeError, match="Function '_NanGradBackward' returned nan "
                                                   "values in its 0th output."):
                loss.backward()
    traces = [str(w.message) for w in caught if "Error detected in" in str(w.message)]
    assert traces and "Traceback of forward call that caused the error" in traces[0]
    assert "_NanGrad.apply(x)" in traces[0]  # the forward line is in the printed stack


def test_builtin_op_nan_is_caught():
    x = nr.tensor([-1.0, 4.0], requires_grad=True)
    with warnings.catch_warnings(record=True) as caught:
        warnings.simplefilter("always")
        with nr.autograd.detect_anomaly():
            y = nr.sqrt(x)   # sqrt(-1) = nan: its backward returns nan
            with pytest.raises(RuntimeError, match="returned nan values in its 0th output"):
                y.sum().backward()
    msgs = [str(w.message) for w in caught if "Error detected in" in str(w.message)]
    assert msgs and "nr.sqrt(x)" in msgs[0]


def test_check_nan_false_and_off_mode_do_not_raise():
    x = nr.tensor([1.0, 2.0], requires_grad=True)
    with pytest.warns(UserWarning):
        with nr.autograd.detect_anomaly(check_nan=False):
            assert not nr.autograd.is_anomaly_check_nan_enabled()
            _NanGrad.apply(x).sum().backward()
    assert np.isnan(x.grad.numpy()).all()
    x.grad = None
    _NanGrad.apply(x).sum().backward()  # mode off: NaN passes silently, as in torch
    assert np.isnan(x.grad.numpy()).all()


def test_set_detect_anomaly_function_and_context():
    nr.autograd.set_detect_anomaly(True)
    try:
        assert nr.autograd.is_anomaly_enabled()
    finally:
        nr.autograd.set_detect_anomaly(False)
    assert not nr.autograd.is_anomaly_enabled()
    with nr.autograd.set_detect_anomaly(True, check_nan=False):
        assert nr.autograd.is_anomaly_enabled()
        assert not nr.autograd.is_anomaly_check_nan_enabled()
    assert not nr.autograd.is_anomaly_enabled()
    assert nr.autograd.is_anomaly_check_nan_enabled()


def test_decorator_form_and_error_in_backward_warns():
    class Boom(nr.autograd.Function):
        @staticmethod
        def forward(ctx, x):
            return x + 1

        @staticmethod
        def backward(ctx, g):
            raise ValueError("boom")

    with pytest.warns(UserWarning):
        deco = nr.autograd.detect_anomaly()

    @deco
    def run():
        assert nr.autograd.is_anomaly_enabled()
        x = nr.ones(2, requires_grad=True)
        Boom.apply(x).sum().backward()

    with warnings.catch_warnings(record=True) as caught:
        warnings.simplefilter("always")
        with pytest.raises(ValueError, match="boom"):
            run()
    assert any("Error detected in BoomBackward" in str(w.message) for w in caught)
    assert not nr.autograd.is_anomaly_enabled()


def test_gradients_unchanged_in_anomaly_mode():
    a = np.random.default_rng(0).standard_normal((3, 4))
    grads = []
    for on in (False, True):
        x = nr.tensor(a, requires_grad=True)
        with nr.autograd.set_detect_anomaly(on):
            (nr.tanh(x @ x.t()).sum() * x.exp().mean()).backward()
        grads.append(x.grad.numpy())
    np.testing.assert_array_equal(grads[0], grads[1])
    assert not anomaly_mode.is_anomaly_enabled()
