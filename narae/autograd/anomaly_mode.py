"""Anomaly detection: find the forward op whose backward produced NaN (or failed).

While it is on, every recorded op keeps the Python stack of its forward call, and the
backward pass checks each node's gradients: a NaN raises ``RuntimeError("Function
'XBackward' returned nan values in its 0th output.")`` and any error in a backward warns
with the traceback of the forward call that made the node. When it is off nothing is
recorded and the engine pays one global check per node: the hooks below are installed only
while the mode is on.
"""
import functools
import os
import traceback
import warnings

from . import custom as _custom
from . import engine as _engine
from .sparse import SparseGrad

__all__ = ["detect_anomaly", "set_detect_anomaly", "is_anomaly_enabled",
           "is_anomaly_check_nan_enabled", "set_anomaly_enabled"]


class _State:
    enabled = False
    check_nan = True


_state = _State()
_PROFILER_DIR = os.sep + os.path.join("narae", "profiler") + os.sep


def is_anomaly_enabled():
    """Whether anomaly detection is on."""
    return _state.enabled


def is_anomaly_check_nan_enabled():
    """Whether anomaly detection also checks backward results for NaN."""
    return _state.check_nan


def set_anomaly_enabled(enabled, check_nan=True):
    """Switch anomaly detection on or off (torch.set_anomaly_enabled); no restore on exit."""
    _set(enabled, check_nan)


def _recording_layer(inner):
    """``Function.__call__`` while anomaly detection is on: also keep the forward's stack."""
    def _recording_call(self, *inputs):
        out = inner(self, *inputs)
        if "inputs" in self.__dict__:  # the node was recorded in a graph
            self._anomaly_trace = _forward_stack()
        return out
    return _recording_call


def _forward_stack():
    """The stack of the user's call, without the instrumentation frames on top of it."""
    stack = traceback.format_stack()[:-2]
    while stack and _PROFILER_DIR in stack[-1].partition("\n")[0]:  # (its layer)
        stack.pop()
    return stack


def _record_custom(node):
    node._anomaly_trace = traceback.format_stack()[:-2]


def _node_name(fn):
    return getattr(fn, "_node_name", None) or type(fn).__name__ + "Backward"


def _warn_trace(fn):
    trace = fn.__dict__.get("_anomaly_trace")
    if trace is None:
        msg = (f"Error detected in {_node_name(fn)}. No forward pass information available. "
               "Enable detect anomaly during forward pass for more information.")
    else:
        msg = (f"Error detected in {_node_name(fn)}. Traceback of forward call that caused "
               "the error:\n" + "".join(trace))
    warnings.warn(msg, UserWarning, stacklevel=2)


def _has_nan(g):
    data = g.dense() if type(g) is SparseGrad else g._data
    if data.dtype.kind not in "fc" and "float" not in str(data.dtype):
        return False
    from ..backend import get_array_module
    from ..backend import capture
    if not capture.can_read_back():
        return False
    return bool(get_array_module(data).isnan(data).any())


def _checked_backward(fn, gys, inner):
    """``fn.backward(*gys)`` with anomaly checks: the engine calls this while the mode is on."""
    try:
        gxs = inner(fn, gys)
    except Exception:
        _warn_trace(fn)
        raise
    if _state.check_nan:
        for i, g in enumerate(gxs if type(gxs) is tuple else (gxs,)):
            if g is not None and _has_nan(g):
                _warn_trace(fn)
                raise RuntimeError(f"Function '{_node_name(fn)}' returned nan values in its "
                                   f"{i}th output.")
    return gxs


def _set(mode, check_nan):
    _state.enabled = bool(mode)
    _state.check_nan = bool(check_nan)
    if mode:
        _engine.instrument("anomaly", call=_recording_layer, backward=_checked_backward)
        _custom._anomaly_hook = _record_custom
    else:
        _engine.instrument("anomaly")
        _custom._anomaly_hook = None


class detect_anomaly:
    """Context manager (and decorator) that turns anomaly detection on inside it.

    Slows every op down (a stack trace per node): for debugging only.
    """

    def __init__(self, check_nan=True):
        self.check_nan = check_nan
        self.prev = _state.enabled
        self.prev_check_nan = _state.check_nan
        warnings.warn("Anomaly Detection has been enabled. This mode will increase the runtime "
                      "and should only be enabled for debugging.", stacklevel=2)

    def __enter__(self):
        self.prev, self.prev_check_nan = _state.enabled, _state.check_nan
        _set(True, self.check_nan)

    def __exit__(self, *exc):
        _set(self.prev, self.prev_check_nan)
        return False

    def __call__(self, func):
        @functools.wraps(func)
        def wrapper(*args, **kwargs):
            with self.__class__(self.check_nan):
                return func(*args, **kwargs)
        return wrapper


class set_detect_anomaly:
    """Turn anomaly detection on or off now; as a context manager, restore it on exit."""

    def __init__(self, mode, check_nan=True):
        self.prev, self.prev_check_nan = _state.enabled, _state.check_nan
        _set(mode, check_nan)

    def __enter__(self):
        pass

    def __exit__(self, *exc):
        _set(self.prev, self.prev_check_nan)
        return False
