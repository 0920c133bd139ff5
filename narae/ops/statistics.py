"""Scans, order statistics, counting and sorting helpers (cummax, quantile, unique...).

Ops that pick elements (cummax, mode, quantile, nanmedian) compute int64 indices on the raw
arrays and gather the values with a differentiable take, so their gradient is a scatter-add
into the chosen positions and their double backward comes for free. Scans that NumPy runs
with ``ufunc.accumulate`` (CuPy has no ``maximum.accumulate``) fall back to a log-step
(Hillis-Steele) scan on other array modules: log2(n) vectorised passes.
"""
import collections
import math

import numpy as np

from .._dtype import is_floating, get_default_dtype, from_numpy_dtype
from ..autograd.forward_ad import _has_tangent
from ..autograd.function import Function
from ..backend import get_array_module
from ..backend.capture import can_read_back
from ..tensor import Tensor, register_methods
from ._operands import normalize_dim, result_dtype
from .arith import where, clamp, exp, sqrt
from .index import _take
from .reduce import (cumsum, cumprod, Mean, vector_norm as _vector_norm, _values_indices,
                     _nonempty)
from .shape import reshape, movedim, cat, narrow

__all__ = ["cummax", "cummin", "logcumsumexp", "quantile", "nanquantile", "nanmedian", "mode",
           "msort", "diff", "histc", "histogram", "histogramdd", "bincount", "unique",
           "unique_consecutive", "searchsorted", "bucketize", "isin", "cov", "corrcoef",
           "trapezoid", "trapz", "cumulative_trapezoid", "gradient", "renorm"]


# --- array helpers -------------------------------------------------------------------------
def _scan(xp, x, axis, name):
    """Inclusive scan of ``x`` along ``axis`` with the binary ufunc ``name`` (max/min/logaddexp).

    NumPy runs ``ufunc.accumulate``; elsewhere a log-step scan: after the pass with shift s
    every position holds the combination of the 2s elements ending there.
    """
    f = getattr(xp, name)
    if xp is np:
        return f.accumulate(x, axis=axis)
    y = xp.moveaxis(x, axis, -1)
    n, s = y.shape[-1], 1
    while s < n:
        y = xp.concatenate([y[..., :s], f(y[..., s:], y[..., :-s])], axis=-1)
        s *= 2
    return xp.moveaxis(y, -1, axis)


def _arange_along(xp, shape, axis):
    """0..n-1 along ``axis``, shaped to broadcast against an array of ``shape``."""
    view = [1] * len(shape)
    view[axis] = shape[axis]
    return xp.arange(shape[axis], dtype=np.int64).reshape(view)


def _refuse_complex(input, name, exc=NotImplementedError):
    """torch has no complex kernel for ``name`` (it orders or bins values)."""
    if isinstance(input, Tensor) and input._data.dtype.kind == "c":
        raise exc(f"{name} is not implemented for complex tensors (got {input.dtype} of shape "
                  f"{tuple(input.shape)})")


def _float_dtype_for(input):
    """torch turns integer inputs of trapezoid/cov into the default float dtype (complex
    inputs stay complex)."""
    if is_floating(input._data.dtype) or input._data.dtype.kind == "c":
        return input
    return input.to(get_default_dtype())


# --- cummax / cummin -----------------------------------------------------------------------
def _cum_extreme(input, dim, is_max):
    name = "cummax" if is_max else "cummin"
    _refuse_complex(input, name)
    if input.ndim == 0:
        xp = get_array_module(input._data)
        return _values_indices(name)(input * 1 if input.requires_grad or _has_tangent(input)
                                     else Tensor(
            input._data.copy()), Tensor(xp.zeros((), np.int64)))
    axis = normalize_dim(dim, input.ndim)
    x = input._data
    xp = get_array_module(x)
    if x.size == 0:
        return _values_indices(name)(input * 1 if is_floating(x.dtype) else
                                     Tensor(x.copy()), Tensor(xp.zeros(x.shape, np.int64)))
    best = _scan(xp, x, axis, "maximum" if is_max else "minimum")
    # a position is "hit" when it equals the running extreme so far (ties take the later
    # index, as torch does); a NaN is the extreme from there on and each later NaN takes over
    hit = x == best
    if x.dtype.kind == "f":
        hit |= xp.isnan(x)
    pos = _arange_along(xp, x.shape, axis)
    idx = _scan(xp, xp.where(hit, pos, 0), axis, "maximum")
    # (the op is needed for a gradient, or for a forward-mode tangent)
    values = _take(input, axis, idx) if input.requires_grad or _has_tangent(input) \
        else Tensor(best)
    return _values_indices(name)(values, Tensor(idx))


def cummax(input, dim):
    """Running maximum along ``dim`` and the index where it was (last) reached."""
    return _cum_extreme(input, dim, True)


def cummin(input, dim):
    """Running minimum along ``dim`` and the index where it was (last) reached."""
    return _cum_extreme(input, dim, False)


# --- logcumsumexp --------------------------------------------------------------------------
class LogCumSumExp(Function):
    """y_i = log sum_{j<=i} exp(x_j), computed as a running logaddexp (never overflows).

    The gradient dx_j = sum_{i>=j} g_i exp(x_j - y_i) = exp(x_j - y_j) S_j with the reverse
    recurrence S_j = g_j + exp(y_j - y_{j+1}) S_{j+1}: every factor is <= 1, so it is stable;
    it runs as a log-step scan built of narae ops, hence differentiable again.
    """
    uses_outputs = True

    def __init__(self, axis):
        self.axis = axis

    def forward(self, x):
        xp = get_array_module(x)
        return _scan(xp, x, self.axis, "logaddexp")

    def backward(self, gy):
        x, y = self.inputs[0], self.output()
        xm = movedim(x, self.axis, -1)
        ym = movedim(y, self.axis, -1)
        g = movedim(gy, self.axis, -1)
        xp = get_array_module(x._data)
        n = xm.shape[-1]
        zero = Tensor(xp.zeros((), x._data.dtype))
        with np.errstate(invalid="ignore"):  # -inf - -inf along a prefix of -inf inputs
            if n > 1:
                d = ym[..., :-1] - ym[..., 1:]
                d = where(Tensor(xp.isnan(d._data)), zero, d)
                a = cat([exp(d), Tensor(xp.zeros(d.shape[:-1] + (1,), x._data.dtype))], -1)
                s = _reverse_linear_scan(a, g, n)
            else:
                s = g
            # a -inf input gets a zero gradient (torch gives NaN along a -inf prefix)
            w = xm - ym
            w = exp(where(Tensor(xp.isnan(w._data)),
                          Tensor(xp.asarray(-np.inf, x._data.dtype)), w))
        return movedim(w * s, -1, self.axis)


def _reverse_linear_scan(a, b, n):
    """S_j = b_j + a_j S_{j+1} along the last axis (a_{n-1} = 0) by log-step doubling.

    After the pass with shift s, b_j sums the 2s terms from j and a_j is the product of the
    2s factors from j (0 once the window reaches the end).
    """
    s = 1
    while s < n:
        b = cat([b[..., :n - s] + a[..., :n - s] * b[..., s:], b[..., n - s:]], -1)
        if 2 * s < n:
            a = cat([a[..., :n - s] * a[..., s:], a[..., n - s:]], -1)
        s *= 2
    return b


class ComplexLogCumSumExp(Function):
    """y_i = log sum_{j<=i} exp(z_j) for complex z, as torch: a log-step scan of
    logaddexp(a, b) = max + log1p(exp(min - max)) (max: the larger real part, so nothing
    overflows), then the imaginary parts moved by multiples of 2 pi onto the branch torch's
    sequential scan lands on (``_torch_log_branch``).

    Holomorphic: dy_i/dz_j = exp(z_j - y_i) (j <= i), so the gradient is
    dz_j = conj(exp(z_j - y_j)) S_j with S_j = g_j + conj(exp(y_j - y_{j+1})) S_{j+1}, the
    real op's reverse scan with conjugated factors.
    """
    uses_outputs = True

    def __init__(self, axis):
        self.axis = axis

    def forward(self, x):
        xp = get_array_module(x)
        xm = xp.moveaxis(x, self.axis, -1)
        y, n, s = xm, xm.shape[-1], 1
        while s < n:
            y = xp.concatenate([y[..., :s], _complex_logaddexp(xp, y[..., s:], y[..., :-s])],
                               axis=-1)
            s *= 2
        y = xp.moveaxis(y, -1, self.axis)
        principal = y.real + 1j * xp.angle(xp.exp(1j * y.imag))
        k = _torch_log_branch(xp, x, principal, self.axis)
        return (principal + 1j * k).astype(x.dtype, copy=False)

    def backward(self, gy):
        from .complex import conj
        x, y = self.inputs[0], self.output()
        xm, ym = movedim(x, self.axis, -1), movedim(y, self.axis, -1)
        g = movedim(gy, self.axis, -1)
        xp = get_array_module(x._data)
        n = xm.shape[-1]
        if n > 1:
            a = cat([conj(exp(ym[..., :-1] - ym[..., 1:])),
                     Tensor(xp.zeros(ym.shape[:-1] + (1,), x._data.dtype))], -1)
            s = _reverse_linear_scan(a, g, n)
        else:
            s = g
        return movedim(conj(exp(xm - ym)) * s, -1, self.axis)


def _complex_logaddexp(xp, a, b):
    """log(exp(a) + exp(b)) for complex arrays, shifted by the operand with the larger real
    part (a when the real parts tie)."""
    swap = a.real < b.real
    hi, lo = xp.where(swap, b, a), xp.where(swap, a, b)
    with np.errstate(invalid="ignore"):
        out = hi + xp.log1p(xp.exp(lo - hi))
    # both -inf: exp(-inf) + exp(-inf) = 0, log 0 = -inf (not inf - inf = nan)
    return xp.where(xp.isneginf(hi.real), hi, out)


def _torch_log_branch(xp, x, y, axis):
    """2 pi k per element: what torch's sequential y_i = logaddexp(y_{i-1}, x_i) adds to the
    principal Im(log S_i). Each step adds Log(1 + exp(min - max)) to the operand with the
    larger real part (Re y_i does not depend on the branch, so that choice does not either):
    continuing from y_{i-1} adds wrap(arg S_i - arg S_{i-1}); restarting from x_i gives
    Im x_i + wrap(arg S_i - Im x_i). A segmented cumulative sum of those, vectorized."""
    two_pi = 2 * np.pi
    xm, ym = xp.moveaxis(x, axis, -1), xp.moveaxis(y, axis, -1)
    arg = ym.imag

    def wrap(a):
        return a - two_pi * xp.round(a / two_pi)
    first = xp.ones(xm.shape[:-1] + (1,), bool)
    restart = xp.concatenate([first, xm.real[..., 1:] > ym.real[..., :-1]], axis=-1)
    step = xp.concatenate([xp.zeros_like(arg[..., :1]), wrap(arg[..., 1:] - arg[..., :-1])],
                          axis=-1)
    step = xp.where(restart, 0, step)
    run = xp.cumsum(step, axis=-1)
    start = xm.imag + wrap(arg - xm.imag) - run
    pos = _arange_along(xp, xm.shape, xm.ndim - 1)
    seg = _scan(xp, xp.where(restart, pos, 0), -1, "maximum")
    target = xp.take_along_axis(start, seg, axis=-1) + run
    k = target - arg
    k = xp.where(xp.isfinite(k), k, 0)
    return xp.moveaxis(k, -1, axis)


def logcumsumexp(input, dim):
    """log(cumsum(exp(x))) along ``dim``, computed stably."""
    if input._data.dtype.kind == "c":
        if input.ndim == 0:
            return input * 1
        return ComplexLogCumSumExp(normalize_dim(dim, input.ndim))(input)
    if not is_floating(input._data.dtype):
        raise NotImplementedError(f"logcumsumexp(): not implemented for {input.dtype} (input "
                                  f"of shape {tuple(input.shape)}); expected a floating point "
                                  f"input")
    if input.ndim == 0:
        return input * 1
    axis = normalize_dim(dim, input.ndim)
    return LogCumSumExp(axis)(input)


def _cumsum_(self, dim, dtype=None):
    return self._apply_inplace(cumsum, dim, dtype=dtype)


def _cumprod_(self, dim, dtype=None):
    return self._apply_inplace(cumprod, dim, dtype=dtype)


# --- quantiles and medians -----------------------------------------------------------------
_INTERPOLATIONS = ("linear", "lower", "higher", "midpoint", "nearest")


def _quantile(input, q, dim, keepdim, interpolation, name, ignore_nan):
    from .index import sort
    if not is_floating(input._data.dtype):
        raise RuntimeError(f"{name}() input tensor must be either float or double dtype, got "
                           f"{input.dtype}")
    if interpolation not in _INTERPOLATIONS:
        raise ValueError(f"{name}() interpolation must be one of linear, lower, higher, "
                         f"midpoint or nearest. Got {interpolation}")
    xp = get_array_module(input._data)
    dt = input._data.dtype
    if isinstance(q, Tensor):
        if q.ndim > 1:
            raise RuntimeError(f"{name}() q must be a scalar or 1D tensor, got shape "
                               f"{tuple(q.shape)}")
        if q._data.dtype != dt:
            raise RuntimeError(f"{name}() q tensor must be same dtype as the input tensor "
                               f"({q.dtype} vs {input.dtype})")
        scalar_q = q.ndim == 0
        qa = q._data.reshape(-1)
    elif isinstance(q, (float, int)) and not isinstance(q, bool):
        scalar_q = True
        qa = xp.full((1,), q, dtype=dt)
    else:
        raise TypeError(f"{name}(): argument 'q' must be a float or a Tensor, not "
                        f"{type(q).__name__}")
    if can_read_back() and qa.size and bool(((qa < 0) | (qa > 1)).any()):
        raise RuntimeError(f"{name}() q values must be in the range [0, 1]")
    if input._data.size == 0:
        raise RuntimeError(f"{name}() input tensor must be non-empty (shape "
                           f"{tuple(input.shape)})")
    if dim is None:
        x = reshape(input, (-1,))
    else:
        axis = normalize_dim(dim, input.ndim)
        x = movedim(input, axis, -1) if input.ndim else reshape(input, (1,))
    srt = sort(x, -1).values  # NaN sorts last
    sd = srt._data
    n = sd.shape[-1]
    last = sd[..., -1:]
    if ignore_nan:
        k = (~xp.isnan(sd)).sum(axis=-1, keepdims=True).astype(dt)
        rank = qa * (k - 1)
        rank = xp.where(k == 0, dt.type(n - 1), rank)  # all NaN: pick a NaN
    else:
        rank = qa * dt.type(n - 1)
        rank = xp.where(xp.isnan(last), dt.type(n - 1), rank)  # any NaN: the answer is NaN
    rank = xp.broadcast_to(rank, sd.shape[:-1] + (qa.size,))
    if interpolation in ("lower", "higher", "nearest"):
        r = {"lower": xp.floor, "higher": xp.ceil, "nearest": xp.round}[interpolation](rank)
        out = _take(srt, srt.ndim - 1, r.astype(np.int64))
    else:
        lo = xp.floor(rank)
        hi = xp.ceil(rank)
        a = _take(srt, srt.ndim - 1, lo.astype(np.int64))
        b = _take(srt, srt.ndim - 1, hi.astype(np.int64))
        w = rank - lo if interpolation == "linear" else xp.full(rank.shape, 0.5, dt)
        out = a + (b - a) * Tensor(w.astype(dt, copy=False))
    out = movedim(out, -1, 0)  # (nq, *batch)
    if keepdim:
        if dim is None:
            out = reshape(out, (out.shape[0],) + (1,) * input.ndim)
        elif input.ndim:
            out = reshape(out, out.shape[:1 + axis] + (1,) + out.shape[1 + axis:])
    if scalar_q:
        out = reshape(out, out.shape[1:])
    return out


def quantile(input, q, dim=None, keepdim=False, *, interpolation="linear"):
    """The q-th quantiles along ``dim`` (flattened when None): sorted values, interpolated.

    With N values sorted, quantile q sits at rank q (N - 1); ``interpolation`` says what to do
    between two ranks. A slice holding NaN gives NaN. A 1-D ``q`` adds a leading dim.
    """
    return _quantile(input, q, dim, keepdim, interpolation, "quantile", False)


def nanquantile(input, q, dim=None, keepdim=False, *, interpolation="linear"):
    """``quantile`` ignoring NaNs: each slice uses its own count of non-NaN values."""
    return _quantile(input, q, dim, keepdim, interpolation, "nanquantile", True)


def _nan_lower_median_index(xp, x, axis):
    """Index of the lower median of the non-NaN values along ``axis`` (0 if all are NaN)."""
    order = xp.argsort(x, axis=axis, kind="stable")  # NaN last
    k = (~xp.isnan(x)).sum(axis=axis, keepdims=True) if x.dtype.kind == "f" else \
        xp.full((1,) * x.ndim, x.shape[axis], np.int64)
    pos = xp.where(k == 0, 0, (k - 1) // 2).astype(np.int64)
    shape = list(x.shape)
    shape[axis] = 1
    return xp.take_along_axis(order, xp.broadcast_to(pos, tuple(shape)), axis)


def nanmedian(input, dim=None, keepdim=False):
    """Lower median of the non-NaN values; ``dim`` given -> (values, indices)."""
    if dim is None:
        _nonempty(input, tuple(range(input.ndim)), "nanmedian")
        flat = reshape(input, (-1,))
        xp = get_array_module(flat._data)
        idx = _nan_lower_median_index(xp, flat._data, 0)
        return reshape(_take(flat, 0, idx), ())
    axis = normalize_dim(dim, input.ndim)
    _nonempty(input, (axis,), "nanmedian")
    xp = get_array_module(input._data)
    if input.ndim == 0:
        return _values_indices("nanmedian")(input * 1, Tensor(xp.zeros((), np.int64)))
    idx = _nan_lower_median_index(xp, input._data, axis)
    vals = _take(input, axis, idx)
    if not keepdim:
        shape = input.shape[:axis] + input.shape[axis + 1:]
        vals, idx = reshape(vals, shape), idx.reshape(shape)
    return _values_indices("nanmedian")(vals, Tensor(idx))


def mode(input, dim=-1, keepdim=False):
    """Most frequent value along ``dim`` (the smallest one on ties) and its last index."""
    xp = get_array_module(input._data)
    if input.ndim == 0:
        return _values_indices("mode")(input.clone(), Tensor(xp.zeros((), np.int64)))
    axis = normalize_dim(dim, input.ndim)
    _nonempty(input, (axis,), "mode")
    x = input._data
    order = xp.argsort(x, axis=axis, kind="stable")
    s = xp.take_along_axis(x, order, axis)
    pos = _arange_along(xp, x.shape, axis)
    first = [slice(None)] * x.ndim
    first[axis] = slice(0, 1)
    head = xp.ones(s[tuple(first)].shape, bool)
    lo = [slice(None)] * x.ndim
    hi = [slice(None)] * x.ndim
    lo[axis], hi[axis] = slice(None, -1), slice(1, None)
    new_run = xp.concatenate([head, s[tuple(hi)] != s[tuple(lo)]], axis=axis)
    start = _scan(xp, xp.where(new_run, pos, 0), axis, "maximum")
    # the run length so far peaks first at the end of the first (smallest) longest run;
    # with a stable sort, that end is the value's last occurrence
    best = xp.expand_dims(xp.argmax(pos - start, axis=axis), axis)
    idx = xp.take_along_axis(order, best, axis).astype(np.int64)
    vals = _take(input, axis, idx)
    if not keepdim:
        shape = input.shape[:axis] + input.shape[axis + 1:]
        vals, idx = reshape(vals, shape), idx.reshape(shape)
    return _values_indices("mode")(vals, Tensor(idx))


def msort(input):
    """Sorted along the first dim (``sort(input, dim=0).values``)."""
    from .index import sort
    _refuse_complex(input, "msort (sort)", RuntimeError)
    return sort(input, 0).values


# --- differences and integrals -------------------------------------------------------------
def diff(input, n=1, dim=-1, prepend=None, append=None):
    """n-th forward difference out[i] = x[i+1] - x[i] along ``dim`` (XOR for bool)."""
    if input.ndim == 0:
        raise RuntimeError("diff expects input to be at least one-dimensional")
    if n < 0:
        raise RuntimeError(f"order must be non-negative but got {n}")
    axis = normalize_dim(dim, input.ndim)
    parts = []
    for name, t in (("prepend", prepend), ("append", append)):
        if t is None:
            continue
        if not isinstance(t, Tensor):
            raise TypeError(f"diff(): argument '{name}' must be a Tensor, not {type(t).__name__}")
        if t.ndim != input.ndim or any(a != b for d, (a, b) in enumerate(
                zip(t.shape, input.shape)) if d != axis):
            raise RuntimeError(f"diff expects {name} and input to have the same shape except in "
                               f"dim {axis}: {name} {tuple(t.shape)}, input "
                               f"{tuple(input.shape)}")
    x = input
    if prepend is not None or append is not None:
        parts = ([prepend] if prepend is not None else []) + [input] + \
                ([append] if append is not None else [])
        x = cat(parts, axis)
    is_bool = x._data.dtype == np.bool_
    for _ in range(n):
        size = x.shape[axis]
        if size == 0:
            break
        hi, lo = narrow(x, axis, 1, size - 1), narrow(x, axis, 0, size - 1)
        x = (hi != lo) if is_bool else hi - lo
    return x


def _spacing(y, x, dx, axis, name):
    """The widths between samples along ``axis``: x's differences, or dx (default 1)."""
    if x is not None and dx is not None:
        raise RuntimeError(f"{name}: received both x and dx, expected only one")
    if x is None:
        return 1.0 if dx is None else dx
    if not isinstance(x, Tensor):
        raise TypeError(f"{name}(): argument 'x' must be a Tensor, not {type(x).__name__}")
    if x.ndim == 1:
        if x.shape[0] != y.shape[axis]:
            raise RuntimeError(f"{name}: There must be one `x` value for each sample point "
                               f"(x of shape {tuple(x.shape)}, y of shape {tuple(y.shape)}, "
                               f"dim {axis})")
        view = [1] * y.ndim
        view[axis] = x.shape[0]
        x = reshape(x, tuple(view))
        return diff(x, dim=axis)
    return diff(x, dim=axis - y.ndim)


def _no_bool(y, name):
    if y._data.dtype == np.bool_:
        raise RuntimeError(f"{name}: received a bool input for `y`, but bool is not supported")


def _trapezoid_inputs(y, x, dx, dim, op):
    """``(y as a float tensor, axis, spacing weights, n)`` after torch's checks: what the
    trapezoid rule and its running form both start from."""
    if y.ndim == 0:
        raise IndexError(f"{op}: Dimension out of range (y is 0-d)")
    _no_bool(y, op)
    y = _float_dtype_for(y)
    axis = normalize_dim(dim, y.ndim)
    return y, axis, _spacing(y, x, dx, axis, op), y.shape[axis]


def _pair_sums(y, axis, n):
    """y[i] + y[i+1] along ``axis``."""
    return narrow(y, axis, 1, n - 1) + narrow(y, axis, 0, n - 1)


def trapezoid(y, x=None, *, dx=None, dim=-1):
    """Trapezoid rule along ``dim``: sum of (y[i] + y[i+1]) / 2 * (x[i+1] - x[i])."""
    y, axis, w, n = _trapezoid_inputs(y, x, dx, dim, "trapezoid")
    if n == 0:
        return (y * 0).sum(axis)
    return (_pair_sums(y, axis, n) * w).sum(axis) / 2


def trapz(y, x=None, *, dx=None, dim=-1):
    """Older name of ``trapezoid``."""
    return trapezoid(y, x, dx=dx, dim=dim)


def cumulative_trapezoid(y, x=None, *, dx=None, dim=-1):
    """Running trapezoid rule along ``dim`` (one element shorter than y along it)."""
    y, axis, w, n = _trapezoid_inputs(y, x, dx, dim, "cumulative_trapezoid")
    if n <= 1:
        return narrow(y, axis, 0, 0) * 1
    return cumsum(_pair_sums(y, axis, n) * w / 2, axis)


def _gradient_along(f, axis, h, edge_order):
    """Central differences of ``f`` along ``axis``; h is a number or the coordinates (1-D).

    Interior, spacings a = x_i - x_{i-1}, b = x_{i+1} - x_i (second-order exact):
        (a^2 f_{i+1} + (b^2 - a^2) f_i - b^2 f_{i-1}) / (a b (a + b));
    edges: one-sided differences of order ``edge_order``.
    """
    n = f.shape[axis]

    def part(start, length):
        return narrow(f, axis, start, length)

    def col(t):  # a 1-D tensor of coordinate differences, broadcast along ``axis``
        view = [1] * f.ndim
        view[axis] = t.shape[0]
        return reshape(t, tuple(view))

    if not isinstance(h, Tensor):
        h = float(h)
        inner = (part(2, n - 2) - part(0, n - 2)) / (2 * h)
        if edge_order == 1:
            first = (part(1, 1) - part(0, 1)) / h
            last = (part(n - 1, 1) - part(n - 2, 1)) / h
        else:
            first = (part(0, 1) * -3 + part(1, 1) * 4 - part(2, 1)) / (2 * h)
            last = (part(n - 1, 1) * 3 - part(n - 2, 1) * 4 + part(n - 3, 1)) / (2 * h)
        return cat([first, inner, last], axis)
    dx = h[1:] - h[:-1]
    a, b = col(dx[:-1]), col(dx[1:])
    inner = (a * a * part(2, n - 2) + (b * b - a * a) * part(1, n - 2) - b * b * part(0, n - 2)) \
        / (a * b * (a + b))
    if edge_order == 1:
        first = (part(1, 1) - part(0, 1)) / col(dx[:1])
        last = (part(n - 1, 1) - part(n - 2, 1)) / col(dx[-1:])
    else:
        d1, d2 = col(dx[:1]), col(dx[1:2])
        first = part(0, 1) * (-(2 * d1 + d2) / (d1 * (d1 + d2))) + \
            part(1, 1) * ((d1 + d2) / (d1 * d2)) - part(2, 1) * (d1 / (d2 * (d1 + d2)))
        d1, d2 = col(dx[-2:-1]), col(dx[-1:])
        last = part(n - 3, 1) * (d2 / (d1 * (d1 + d2))) - \
            part(n - 2, 1) * ((d1 + d2) / (d1 * d2)) + \
            part(n - 1, 1) * ((2 * d2 + d1) / (d2 * (d1 + d2)))
    return cat([first, inner, last], axis)


def gradient(input, *, spacing=1, dim=None, edge_order=1):
    """Estimated derivative of sampled values along each of ``dim`` (all dims by default).

    ``spacing``: one number for every dim, one number per dim, or 1-D coordinate tensors per
    dim. Central differences inside, one-sided ones of order ``edge_order`` at the ends.
    Returns a tuple with one tensor per dim.
    """
    if edge_order not in (1, 2):
        raise RuntimeError("torch.gradient only supports edge_order=1 and edge_order=2.")
    if input.ndim == 0:
        raise RuntimeError("torch.gradient expected input to have at least one dimension "
                           "(got a 0-d tensor)")
    if dim is None:
        dims = list(range(input.ndim))
    elif isinstance(dim, int):
        dims = [dim]
    else:
        dims = list(dim)
    axes = [normalize_dim(d, input.ndim) for d in dims]
    if len(set(axes)) != len(axes):
        raise RuntimeError(f"torch.gradient: dim {dims} has repeated dims")
    if isinstance(spacing, (list, tuple)):
        if len(spacing) != len(axes):
            raise RuntimeError(f"torch.gradient expected spacing to be unspecified, a scalar or "
                               f"it's spacing and dim arguments to have the same length, but "
                               f"got a spacing argument of length {len(spacing)} and a dim "
                               f"argument of length {len(axes)}.")
        hs = list(spacing)
    else:
        hs = [spacing] * len(axes)
    f = _float_dtype_for(input)
    for ax, h in zip(axes, hs):
        if f.shape[ax] < edge_order + 1:
            raise RuntimeError(f"torch.gradient expected each dimension size to be at least "
                               f"edge_order+1 (input shape {tuple(input.shape)}, dim {ax}, "
                               f"edge_order {edge_order})")
        if isinstance(h, Tensor):
            if h.ndim == 0:
                continue
            if h.ndim != 1 or h.shape[0] != f.shape[ax]:
                raise RuntimeError(f"torch.gradient expected each tensor to be on the same "
                                   f"device and to have one coordinate per sample: got "
                                   f"coordinates of shape {tuple(h.shape)} for dim {ax} of "
                                   f"size {f.shape[ax]}")
    out = []
    for ax, h in zip(axes, hs):
        if isinstance(h, Tensor):
            h = float(h.item()) if h.ndim == 0 else _float_dtype_for(h).to(f.dtype)
        out.append(_gradient_along(f, ax, h, edge_order))
    return tuple(out)


# --- counting ------------------------------------------------------------------------------
def _bin_index(xp, x, edges, lo=None, hi=None):
    """Bin of each x among increasing ``edges``: i with e_i <= x < e_{i+1}, the last bin closed,
    and whether x falls in any bin (NaN never does).

    Equal-width bins (``lo``/``hi`` given) take the bin from (x - lo) * n / (hi - lo) and move
    it by one where rounding put it across an edge: O(1) per element. Other edges: a search.
    """
    nb = edges.shape[0] - 1
    ok = (x >= edges[0]) & (x <= edges[-1])
    if lo is None:
        idx = xp.searchsorted(edges, x, side="right") - 1
    else:
        pos = (xp.where(ok, x, lo) - lo) * (nb / (hi - lo))
        idx = xp.clip(xp.floor(pos), 0, nb - 1).astype(np.int64)
        idx -= x < edges[idx]
        idx += (x >= edges[xp.minimum(idx + 1, nb)]) & (idx < nb - 1)
    idx = xp.where(x == edges[-1], nb - 1, idx)
    return xp.where(ok, idx, 0), ok


def _data_range(xp, data, name):
    """min and max of the data, as Python floats (a read back from the device)."""
    if data.size == 0:
        return 0.0, 1.0
    lo, hi = float(data.min()), float(data.max())
    if not (math.isfinite(lo) and math.isfinite(hi)):
        raise RuntimeError(f"{name}(): range of [{lo}, {hi}] is not finite")
    return lo, hi


def histc(input, bins=100, min=0, max=0):
    """Counts of the elements in ``bins`` equal-width bins over [min, max] (outsiders dropped).

    min == max == 0 takes the range of the data (read back from the device).
    """
    if not is_floating(input._data.dtype):
        raise NotImplementedError(f"histc(): not implemented for {input.dtype}; expected a "
                                  f"floating point input")
    if bins <= 0:
        raise RuntimeError(f"histc(): bins must be > 0, but got {bins}")
    if min > max:
        raise RuntimeError(f"histc(): max must be larger than min (got min={min}, max={max})")
    xp = get_array_module(input._data)
    data = input._data.reshape(-1)
    lo, hi = float(min), float(max)
    if lo == hi == 0:
        lo, hi = _data_range(xp, data, "histc")
    if lo == hi:
        lo, hi = lo - 1, hi + 1
    # torch's histc takes the bin from the formula alone, in the input's dtype (no edges)
    t = data.dtype.type
    lo, hi = t(lo), t(hi)
    ok = (data >= lo) & (data <= hi)
    pos = xp.floor((xp.where(ok, data, lo) - lo) * t(bins) / (hi - lo))
    idx = xp.where(ok, xp.clip(pos, 0, bins - 1).astype(np.int64), bins)
    return Tensor(xp.bincount(idx, minlength=bins + 1)[:bins].astype(data.dtype))


_Histogram = collections.namedtuple("histogram", ["hist", "bin_edges"])
_HistogramDD = collections.namedtuple("histogramdd", ["hist", "bin_edges"])


def _check_weight(weight, shape, name):
    if weight is not None and tuple(weight.shape) != tuple(shape):
        raise RuntimeError(f"{name}(): weight should have the same shape as input (weight "
                           f"{tuple(weight.shape)}, input {tuple(shape)})")


def histogram(input, bins, *, range=None, weight=None, density=False):
    """(hist, bin_edges): counts (or weights) of the elements per bin.

    ``bins`` is a count of equal bins over ``range`` (the data's range by default, which reads
    it back from the device) or a 1-D tensor of increasing edges. ``density`` divides by the
    total and the bin widths, so the histogram integrates to 1. (torch's equal-width edges
    can differ from ours by an ulp, so a value exactly on an edge may change bins.)
    """
    _refuse_complex(input, "histogram")
    if not is_floating(input._data.dtype):
        raise NotImplementedError(f"histogram(): not implemented for {input.dtype}; expected a "
                                  f"floating point input")
    _check_weight(weight, input.shape, "histogram")
    hist, edges = _histogramdd(input._data.reshape(-1, 1), [bins], range,
                               None if weight is None else weight._data.reshape(-1),
                               density, "histogram")
    return _Histogram(Tensor(hist), Tensor(edges[0]))


def histogramdd(input, bins, *, range=None, weight=None, density=False):
    """D-dimensional histogram of the points in the last dim of ``input``: (hist, bin_edges).

    ``bins``: one count for all dims, a count per dim, or a list of 1-D edge tensors.
    """
    _refuse_complex(input, "histogramdd")
    if not is_floating(input._data.dtype):
        raise NotImplementedError(f"histogramdd(): not implemented for {input.dtype}; expected "
                                  f"a floating point input")
    if input.ndim < 1:
        raise RuntimeError("histogramdd(): input should have at least 1 dimension")
    d = input.shape[-1]
    pts = input._data.reshape(-1, d)
    _check_weight(weight, input.shape[:-1], "histogramdd")
    if isinstance(bins, (int, np.integer)):
        bins = [int(bins)] * d
    if len(bins) != d:
        raise RuntimeError(f"histogramdd(): got {len(bins)} bin specifications for input with "
                           f"{d} dimensions (shape {tuple(input.shape)})")
    hist, edges = _histogramdd(pts, list(bins), range,
                               None if weight is None else weight._data.reshape(-1),
                               density, "histogramdd")
    return _HistogramDD(Tensor(hist), [Tensor(e) for e in edges])


def _histogramdd(pts, bins, range, weight, density, name):
    xp = get_array_module(pts)
    dt = pts.dtype
    d = pts.shape[1]
    if range is not None and len(range) != 2 * d:
        raise RuntimeError(f"{name}(): expected {2 * d} range values, got {len(range)}")
    edges, spans = [], []
    for k, b in enumerate(bins):
        if isinstance(b, Tensor):
            if b.ndim != 1 or b.shape[0] < 1:
                raise RuntimeError(f"{name}(): bins tensor should have one dimension and at "
                                   f"least 1 element, got shape {tuple(b.shape)}")
            edges.append(b._data.astype(dt, copy=False))
            spans.append((None, None))
            continue
        b = int(b)
        if b <= 0:
            raise RuntimeError(f"{name}(): bins must be > 0, but got {b} for dimension {k}")
        if range is not None:
            lo, hi = float(range[2 * k]), float(range[2 * k + 1])
            if lo > hi:
                raise RuntimeError(f"{name}(): min should not exceed max, but got min {lo} max "
                                   f"{hi} for dimension {k}")
        else:
            lo, hi = _data_range(xp, pts[:, k], name)
        if lo == hi:
            lo, hi = lo - 0.5, hi + 0.5
        edges.append(xp.linspace(lo, hi, b + 1).astype(dt))
        spans.append((lo, hi))
    # one flat bin number per point; points outside any dim's edges weigh nothing
    flat = xp.zeros(pts.shape[0], np.int64)
    ok = xp.ones(pts.shape[0], bool)
    sizes = [e.shape[0] - 1 for e in edges]
    for k, e in enumerate(edges):
        idx, inside = _bin_index(xp, pts[:, k], e, *spans[k])
        ok &= inside
        flat = flat * sizes[k] + idx
    total = 1
    for s in sizes:
        total *= s
    if weight is None:
        hist = xp.bincount(xp.where(ok, flat, total), minlength=total + 1)[:total]
    else:
        w = xp.where(ok, weight, 0).astype(np.float64)
        hist = xp.bincount(xp.where(ok, flat, 0), weights=w, minlength=total)[:total]
    hist = hist.reshape(tuple(sizes)).astype(dt)
    if density:
        widths = 1.0
        for k, e in enumerate(edges):
            view = [1] * d
            view[k] = sizes[k]
            widths = widths * (e[1:] - e[:-1]).reshape(view)
        hist = hist / (hist.sum() * widths)
        hist = hist.astype(dt)
    return hist, edges


def bincount(input, weights=None, minlength=0):
    """Occurrences of each value of a 1-D non-negative integer tensor (or summed weights).

    The output's length (max + 1) depends on the data: it is read back from the device.
    """
    _refuse_complex(input, "bincount")
    _refuse_complex(weights, "bincount")
    data = input._data
    if input.ndim != 1 or data.dtype.kind not in "iu":
        raise RuntimeError(f"bincount only supports 1-d non-negative integral inputs (got "
                           f"shape {tuple(input.shape)}, dtype {input.dtype})")
    if minlength < 0:
        raise RuntimeError(f"bincount(): minlength should be >= 0, got {minlength}")
    xp = get_array_module(data)
    if data.size and can_read_back() and int(data.min()) < 0:
        raise RuntimeError("bincount only supports 1-d non-negative integral inputs (got a "
                           "negative value)")
    if weights is not None:
        if tuple(weights.shape) != tuple(input.shape):
            raise RuntimeError(f"bincount(): weights should be 1-d and have the same length as "
                               f"input (weights {tuple(weights.shape)}, input "
                               f"{tuple(input.shape)})")
        out_dt = np.float32 if weights._data.dtype == np.float32 else np.float64
        w = weights._data.astype(np.float64)
        if data.size == 0:
            return Tensor(xp.zeros(minlength, out_dt))
        return Tensor(xp.bincount(data.astype(np.int64), weights=w,
                                  minlength=minlength).astype(out_dt))
    if data.size == 0:
        return Tensor(xp.zeros(minlength, np.int64))
    return Tensor(xp.bincount(data.astype(np.int64), minlength=minlength).astype(np.int64))


# --- unique --------------------------------------------------------------------------------
def _rows_of(input, dim, name):
    """The slices along ``dim`` as the rows of a 2-D array (and the axis, normalised)."""
    xp = get_array_module(input._data)
    axis = normalize_dim(dim, input.ndim)
    moved = xp.moveaxis(input._data, axis, 0)
    if moved.size == 0 and moved.shape[0]:
        raise RuntimeError(f"{name}(): there are 0 sized dimensions, and they aren't selected, "
                           f"so unique cannot be applied (input shape {tuple(input.shape)}, "
                           f"dim {axis})")
    return moved.reshape(moved.shape[0], -1 if moved.shape[0] else 0), axis, moved.shape[1:]


def _groups(xp, s, rows):
    """Flags of the first element of each run of equal values (or rows) of sorted ``s``."""
    n = s.shape[0]
    new = xp.ones(n, bool)
    if n > 1:
        ne = s[1:] != s[:-1]
        new[1:] = ne.any(axis=1) if rows else ne
    return new


def _unique_outputs(input, xp, s, new, order, axis, rest_shape, return_inverse, return_counts,
                    inverse_shape):
    group = xp.cumsum(new) - 1
    keep = xp.flatnonzero(new)  # (a read back: the output's size depends on the data)
    out = s[keep]
    if axis is not None:
        out = xp.moveaxis(out.reshape((out.shape[0],) + tuple(rest_shape)), 0, axis)
    res = [Tensor(xp.ascontiguousarray(out))]
    if return_inverse:
        if order is None:
            inv = group
        else:
            inv = xp.empty_like(group)
            inv[order] = group
        res.append(Tensor(inv.astype(np.int64).reshape(inverse_shape)))
    if return_counts:
        n = s.shape[0]
        bounds = xp.concatenate([keep, xp.asarray([n], dtype=keep.dtype)])
        res.append(Tensor((bounds[1:] - bounds[:-1]).astype(np.int64)))
    return res[0] if len(res) == 1 else tuple(res)


def unique(input, sorted=True, return_inverse=False, return_counts=False, dim=None):
    """The distinct elements (or slices along ``dim``), sorted; with inverse indices / counts.

    Always sorted (as torch on the CPU). The output's size depends on the data: read back.
    """
    _refuse_complex(input, "unique")
    xp = get_array_module(input._data)
    if dim is None:
        flat = input._data.reshape(-1)
        if return_inverse:
            order = xp.argsort(flat, kind="stable")
            s = flat[order]
        else:
            order, s = None, xp.sort(flat)
        new = _groups(xp, s, False)
        return _unique_outputs(input, xp, s, new, order, None, (), return_inverse,
                               return_counts, input.shape)
    rows, axis, rest = _rows_of(input, dim, "unique")
    if rows.shape[0] == 0:
        order = xp.arange(rows.shape[0])
    else:
        keys = rows.T[::-1]
        if keys.dtype == np.bool_:
            keys = keys.astype(np.int8)
        order = xp.lexsort(keys)
    s = rows[order]
    new = _groups(xp, s, True)
    return _unique_outputs(input, xp, s, new, order, axis, rest, return_inverse, return_counts,
                           (rows.shape[0],))


def unique_consecutive(input, return_inverse=False, return_counts=False, dim=None):
    """Collapse each run of equal consecutive elements (or slices along ``dim``) into one."""
    _refuse_complex(input, "unique_consecutive")
    xp = get_array_module(input._data)
    if dim is None:
        s = input._data.reshape(-1)
        new = _groups(xp, s, False)
        return _unique_outputs(input, xp, s, new, None, None, (), return_inverse,
                               return_counts, input.shape)
    rows, axis, rest = _rows_of(input, dim, "unique_consecutive")
    new = _groups(xp, rows, True)
    return _unique_outputs(input, xp, rows, new, None, axis, rest, return_inverse,
                           return_counts, (rows.shape[0],))


# --- searching -----------------------------------------------------------------------------
def _search(xp, seq, v, right):
    """searchsorted along the last axis of ``seq`` (N,) or (..., N) for ``v``: a vectorised
    binary search of ceil(log2(N + 1)) steps.

    torch's comparisons: move right while not seq[mid] >= v (left) / not seq[mid] > v (right),
    so a NaN value lands at the end and a NaN in the sequence counts as small.
    """
    n = seq.shape[-1]
    lo = xp.zeros(v.shape, np.int64)
    if n == 0:
        return lo
    hi = xp.full(v.shape, n, np.int64)
    for _ in range(int(math.ceil(math.log2(n + 1)))):
        active = lo < hi
        mid = (lo + hi) // 2
        safe = xp.minimum(mid, n - 1)
        m = seq[safe] if seq.ndim == 1 else xp.take_along_axis(seq, safe, -1)
        go = ~(m > v) if right else ~(m >= v)
        go &= active
        lo = xp.where(go, mid + 1, lo)
        hi = xp.where(active & ~go, mid, hi)
    return lo


def _common(xp, a, b):
    dt = result_dtype(a, b)
    return a.astype(dt, copy=False), b.astype(dt, copy=False)


def searchsorted(sorted_sequence, values, *, out_int32=False, right=False, side=None,
                 sorter=None):
    """Indices where ``values`` would be inserted to keep the innermost dim sorted.

    left: the first i with seq[i] >= v; right (or side='right'): the first i with seq[i] > v.
    An N-D sequence searches row by row (its leading dims match those of ``values``).
    """
    _refuse_complex(sorted_sequence, "searchsorted")
    _refuse_complex(values, "searchsorted")
    if side is not None:
        if side not in ("left", "right"):
            raise RuntimeError(f"torch.searchsorted(): side can only be 'left' or 'right' but "
                               f"got {side}")
        if side == "left" and right:
            raise RuntimeError("torch.searchsorted(): side and right can't be set to opposites, "
                               "got side of left while right was True")
        right = side == "right"
    seq = sorted_sequence._data
    xp = get_array_module(seq)
    scalar_v = not isinstance(values, Tensor)
    if scalar_v:  # a Python number takes the sequence's dtype unless it is a float meeting ints
        v = xp.asarray(values)
        if seq.dtype.kind == "f" or v.dtype.kind != "f":
            v = v.astype(seq.dtype)
    else:
        v = values._data
    if sorted_sequence.ndim == 0:
        raise RuntimeError("torch.searchsorted(): boundaries tensor should have positive "
                           "dimension, but got 0 dimension")
    if sorter is not None:
        if tuple(sorter.shape) != tuple(sorted_sequence.shape):
            raise RuntimeError(f"torch.searchsorted(): boundary and sorter must have the same "
                               f"size, but got boundary tensor {tuple(sorted_sequence.shape)} "
                               f"and got sorter tensor {tuple(sorter.shape)}")
        if sorter._data.dtype.kind not in "iu":
            raise RuntimeError(f"torch.searchsorted(): sorter must be a tensor of long dtype but "
                               f"got dtype {sorter.dtype}")
        seq = xp.take_along_axis(seq, sorter._data.astype(np.int64), -1)
    out_dt = np.int32 if out_int32 else np.int64
    seq, v = _common(xp, seq, v)
    if seq.ndim == 1:
        return Tensor(_search(xp, seq, v, right).astype(out_dt))
    if scalar_v:
        raise RuntimeError(f"torch.searchsorted(): input value can be a scalar only when "
                           f"boundaries tensor dimension is 1, but we got boundaries tensor "
                           f"dim({seq.ndim})")
    if v.ndim != seq.ndim or v.shape[:-1] != seq.shape[:-1]:
        raise RuntimeError(f"torch.searchsorted(): boundaries tensor should be 1 dimension or "
                           f"the first N-1 dimensions of boundaries tensor and input value "
                           f"tensor must match, but we got boundaries tensor "
                           f"{list(sorted_sequence.shape)} and input value tensor "
                           f"{list(values.shape)}")
    return Tensor(_search(xp, seq, v, right).astype(out_dt))


def bucketize(input, boundaries, *, out_int32=False, right=False):
    """Bucket index of each element: i with boundaries[i-1] < x <= boundaries[i]
    (``right``: boundaries[i-1] <= x < boundaries[i])."""
    if boundaries.ndim != 1:
        raise RuntimeError(f"boundaries tensor must be 1 dimension, but got dim("
                           f"{boundaries.ndim}) (shape {tuple(boundaries.shape)})")
    return searchsorted(boundaries, input, out_int32=out_int32, right=right)


def isin(elements, test_elements, *, assume_unique=False, invert=False):
    """Whether each element of ``elements`` is in ``test_elements`` (a sort and a search)."""
    for t in (elements, test_elements):
        if isinstance(t, Tensor) and t._data.dtype.kind == "c":
            raise RuntimeError(f"Unsupported input type encountered for isin(): {t.dtype} "
                               f"(shape {tuple(t.shape)})")
    if not isinstance(elements, Tensor) and not isinstance(test_elements, Tensor):
        raise TypeError("isin(): expected elements or test_elements to be a Tensor")
    like = elements if isinstance(elements, Tensor) else test_elements
    xp = get_array_module(like._data)
    e = elements._data if isinstance(elements, Tensor) else xp.asarray(elements)
    t = test_elements._data if isinstance(test_elements, Tensor) else xp.asarray(test_elements)
    e, t = _common(xp, e, t)
    t = xp.sort(t.reshape(-1))
    if t.size == 0:
        found = xp.zeros(e.shape, bool)
    else:
        i = xp.minimum(xp.searchsorted(t, e, side="left"), t.size - 1)
        found = t[i] == e
    return Tensor(~found if invert else found)


# --- covariance ----------------------------------------------------------------------------
def cov(input, *, correction=1, fweights=None, aweights=None):
    """Covariance matrix of the variables in the rows of ``input`` (observations in columns).

    With weights w = fweights * aweights: mean = sum(w x) / sum(w), and the divisor is
    sum(w) - correction (minus correction * sum(w aweights) / sum(w) with aweights).
    """
    if input.ndim > 2:
        raise RuntimeError(f"cov(): expected input to have two or fewer dimensions but got an "
                           f"input with {input.ndim} dimensions (shape {tuple(input.shape)})")
    x = _float_dtype_for(input)
    if x.ndim < 2:
        x = reshape(x, (1, -1))
    n_obs = x.shape[1]
    real_dt = from_numpy_dtype(x._data.real.dtype)  # weights stay real for complex input
    w = None
    for name, t in (("fweights", fweights), ("aweights", aweights)):
        if t is None:
            continue
        if t.ndim > 1:
            raise RuntimeError(f"cov(): expected {name} to have one or fewer dimensions but got "
                               f"{name} with {t.ndim} dimensions")
        if t.numel() != n_obs:
            raise RuntimeError(f"cov(): expected {name} to have the same numel as there are "
                               f"observations in the input but got {t.numel()} != {n_obs}")
        kind = t._data.dtype.kind
        if name == "fweights" and kind not in "iu":
            raise RuntimeError(f"cov(): expected fweights to have integral dtype but got "
                               f"{t.dtype}")
        if name == "aweights" and not is_floating(t._data.dtype):
            raise RuntimeError(f"cov(): expected aweights to have floating point dtype but got "
                               f"{t.dtype}")
        if can_read_back() and t._data.size and bool((t._data < 0).any()):
            raise RuntimeError(f"cov(): {name} cannot be negative")
        t = reshape(t, (-1,)).to(real_dt)
        w = t if w is None else w * t
    if w is None:
        avg = Mean((1,), True)(x)
        norm = float(n_obs - correction)
        norm = norm if norm > 0 else 0.0
    else:
        w_sum = w.sum()
        avg = (x * w).sum(1, keepdim=True) / w_sum
        if aweights is None:
            norm = w_sum - correction
        else:
            norm = w_sum - correction * (w * reshape(aweights, (-1,)).to(real_dt)).sum() / w_sum
        norm = clamp(norm, min=0)
    xm = x - avg
    xw = xm if w is None else xm * w
    from .linalg import matmul
    from .complex import conj
    with np.errstate(divide="ignore", invalid="ignore"):
        c = matmul(xw, conj(xm).t()) / norm  # (x - mean)(x - mean)^H for complex x
    if c.shape == (1, 1):
        c = reshape(c, ())
    return c


def corrcoef(input):
    """Pearson correlation coefficients: cov(x) scaled by the standard deviations, in [-1, 1]."""
    c = cov(input)
    if c.ndim == 0:
        return c / c
    xp = get_array_module(c._data)
    n = c.shape[0]
    eye = Tensor(xp.eye(n, dtype=c._data.dtype))
    d = (c * eye).sum(1)
    cplx = c._data.dtype.kind == "c"
    if cplx:  # the variances on the diagonal are real
        from .complex import real
        d = real(d)
    sd = sqrt(d)
    with np.errstate(divide="ignore", invalid="ignore"):
        c = c / reshape(sd, (-1, 1)) / reshape(sd, (1, -1))
    if cplx:  # torch clips the real and imaginary parts each to [-1, 1]
        from .complex import complex as _complex, imag, real
        return _complex(clamp(real(c), -1, 1), clamp(imag(c), -1, 1))
    return clamp(c, -1, 1)


# --- renorm --------------------------------------------------------------------------------
def renorm(input, p, dim, maxnorm):
    """Rescale each slice along ``dim`` whose p-norm exceeds ``maxnorm`` to norm ``maxnorm``.

    The factor is maxnorm / (norm + 1e-7), as in torch, and 1 where the norm is small enough.
    """
    if input.ndim <= 1:
        raise RuntimeError(f"renorm: input needs at least 2 dimensions, got {input.ndim} "
                           f"dimensions (shape {tuple(input.shape)})")
    if p <= 0:
        raise RuntimeError(f"renorm: non-positive-norm not supported (p={p})")
    if maxnorm < 0:
        raise RuntimeError(f"renorm: expected maxnorm to be >= 0 but got {maxnorm}")
    if not (is_floating(input._data.dtype) or input._data.dtype.kind == "c"):
        raise RuntimeError(f"renorm: expected a floating point input, got {input.dtype}")
    axis = normalize_dim(dim, input.ndim)
    others = tuple(d for d in range(input.ndim) if d != axis)
    norm = _vector_norm(input, p, others, True)
    over = Tensor(norm._data > maxnorm)
    factor = where(over, maxnorm / (norm + 1e-7), 1.0)
    return input * factor


def _renorm_(self, p, dim, maxnorm):
    return self._apply_inplace(renorm, p, dim, maxnorm)


def _nanmedian_method(self, dim=None, keepdim=False):
    return nanmedian(self, dim, keepdim)


def _mode_method(self, dim=-1, keepdim=False):
    return mode(self, dim, keepdim)


register_methods(cummax=cummax, cummin=cummin, logcumsumexp=logcumsumexp, cumsum_=_cumsum_,
                 cumprod_=_cumprod_, quantile=quantile, nanquantile=nanquantile,
                 nanmedian=_nanmedian_method, mode=_mode_method, msort=msort, diff=diff,
                 histc=histc, histogram=histogram, bincount=bincount, unique=unique,
                 unique_consecutive=unique_consecutive, cov=cov, corrcoef=corrcoef,
                 renorm=renorm, renorm_=_renorm_)
