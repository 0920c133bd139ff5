"""Reductions: sum, mean, prod, max/min, var/std, norm, cumsum... over one axis, several, or all.

Gradients that pick elements (max with a dim, median) scatter into the chosen positions with
``PutAlong``, whose own backward gathers again, so every reduction is differentiable twice.
"""
import builtins
import collections
import math

import numpy as np

from .._dtype import is_floating
from ..autograd.function import Function
from ..backend import get_array_module
from ..tensor import Tensor, register_methods
from ._operands import float_operand, normalize_dim, normalize_dims
from .shape import broadcast_to, reshape
from .arith import _cj

__all__ = ["sum", "mean", "logsumexp", "prod", "max", "min", "amax", "amin", "argmax",
           "argmin", "aminmax", "var", "std", "var_mean", "std_mean", "norm", "cumsum",
           "cumprod", "median", "count_nonzero", "nansum", "nanmean"]

_bmax = builtins.max


def _expand_back(gy, in_shape, axes, keepdim):
    """Broadcast a reduced gradient back over the reduced axes."""
    if not keepdim:
        kept = list(in_shape)
        for a in axes:
            kept[a] = 1
        gy = reshape(gy, tuple(kept))
    return broadcast_to(gy, in_shape)


def _const(like, array):
    """A constant tensor (no gradient) holding ``array``."""
    return Tensor(array.astype(like._data.dtype, copy=False))


def _quiet():
    """Silence NumPy's divide warnings where torch quietly returns inf/nan (var with N <= c)."""
    return np.errstate(divide="ignore", invalid="ignore")


def _count(shape, axes):
    n = 1
    for a in axes:
        n *= shape[a]
    return n


def _nonempty(input, axes, name, error=RuntimeError):
    """max/argmax/... have no identity: refuse empty reductions as torch does."""
    if input._data.size == 0:
        if len(axes) == input.ndim or input.ndim == 0:
            raise error(f"{name}(): Expected reduction dim to be specified for "
                               f"input.numel() == 0. Specify the reduction dim with the 'dim' "
                               f"argument (input shape {tuple(input.shape)}).")
        for a in axes:
            if input.shape[a] == 0:
                raise IndexError(f"{name}(): Expected reduction dim {a} to have non-zero size "
                                 f"(input shape {tuple(input.shape)}).")


class Sum(Function):
    uses_inputs = False

    def __init__(self, axes, keepdim):
        self.axes, self.keepdim = axes, keepdim

    def forward(self, x):
        self.in_shape = x.shape
        return x.sum(axis=self.axes, keepdims=self.keepdim)

    def backward(self, gy):
        return _expand_back(gy, self.in_shape, self.axes, self.keepdim)


class Mean(Function):
    uses_inputs = False

    def __init__(self, axes, keepdim):
        self.axes, self.keepdim = axes, keepdim

    def forward(self, x):
        self.in_shape = x.shape
        return x.mean(axis=self.axes, keepdims=self.keepdim)

    def backward(self, gy):
        # an empty reduction has an empty input: nothing to divide, so guard the 0
        count = _count(self.in_shape, self.axes)
        return _expand_back(gy, self.in_shape, self.axes, self.keepdim) / _bmax(count, 1)


class LogSumExp(Function):
    uses_outputs = True

    def __init__(self, axes, keepdim):
        self.axes, self.keepdim = axes, keepdim

    def forward(self, x):
        xp = get_array_module(x)
        if x.size == 0:
            return xp.log(xp.exp(x).sum(axis=self.axes, keepdims=self.keepdim))
        # (complex: shift by the largest real part, so log keeps its principal branch)
        m = (x if x.dtype.kind != "c" else x.real).max(axis=self.axes, keepdims=True)
        m = xp.where(xp.isfinite(m), m, 0)  # all -inf rows: keep -inf instead of nan
        y = xp.log(xp.exp(x - m).sum(axis=self.axes, keepdims=True)) + m
        return y if self.keepdim else y.squeeze(self.axes)

    def backward(self, gy):
        x = self.inputs[0]
        y = _expand_back(self.output(), x.shape, self.axes, self.keepdim)
        return _expand_back(gy, x.shape, self.axes, self.keepdim) * _cj((x - y).exp())


class Prod(Function):
    uses_outputs = True

    def __init__(self, axes, keepdim):
        self.axes, self.keepdim = axes, keepdim

    def forward(self, x):
        return x.prod(axis=self.axes, keepdims=self.keepdim)

    def backward(self, gy):
        x = self.inputs[0]
        gy = _expand_back(gy, x.shape, self.axes, self.keepdim)
        if not (x._data == 0).any():
            y = _expand_back(self.output(), x.shape, self.axes, self.keepdim)
            return gy * _cj(y / x)
        return gy * _cj(_prod_others(x, self.axes))


def _prod_others(x, axes):
    """prod over the reduced axes of all elements but this one, exact when x has zeros.

    Split each slice into its non-zero part A (product of the others by division) and its
    zero part Z. Z is 0 or 1 in value, but written so that its first derivative is right
    too (a zero's partner in a two-zero slice, the single zero elsewhere): the gradient of
    prod is therefore exact and its double backward as well.
    """
    xp = get_array_module(x._data)
    is0 = x._data == 0
    nz = is0.sum(axis=axes, keepdims=True)
    one, zero = _const(x, xp.ones(())), _const(x, xp.zeros(()))
    mask0 = Tensor(is0)
    x1 = where(mask0, one, x)
    a = Prod(axes, True)(x1) / x1
    s = Sum(axes, True)(where(mask0, x, zero))  # = the single zero, differentiably
    m1 = _const(x, ~is0 & (nz == 1))
    m2 = _const(x, is0 & (nz == 2))
    c = _const(x, (nz == 0) | (is0 & (nz == 1)))
    return a * (s * m1 + (s - x) * m2 + c)


class PutAlong(Function):
    """Scatter values into zeros of ``shape`` at ``index`` along ``axis`` (a gradient's shape)."""
    uses_inputs = False

    def __init__(self, index, axis, shape):
        self.index, self.axis, self.shape = index, axis, shape

    def forward(self, g):
        xp = get_array_module(g)
        out = xp.zeros(self.shape, g.dtype)
        xp.put_along_axis(out, self.index, g, self.axis)
        return out

    def backward(self, gg):
        return TakeAlong(self.index, self.axis)(gg)


class TakeAlong(Function):
    """Gather along ``axis`` at ``index`` (the inverse move of ``PutAlong``)."""
    uses_inputs = False

    def __init__(self, index, axis):
        self.index, self.axis = index, axis

    def forward(self, x):
        self.shape = x.shape
        return get_array_module(x).take_along_axis(x, self.index, self.axis)

    def backward(self, gy):
        return PutAlong(self.index, self.axis, self.shape)(gy)


class Select(Function):
    """values and indices along one axis from a function computing the indices (argmax...).

    ``kind`` ("max", "min", "median") names what ``pick`` selects, for readers of the graph
    such as the ONNX exporter.
    """
    uses_inputs = False

    def __init__(self, pick, axis, keepdim, kind=None):
        self.pick, self.axis, self.keepdim, self.kind = pick, axis, keepdim, kind

    def forward(self, x):
        xp = get_array_module(x)
        self.shape = x.shape
        idx = xp.expand_dims(self.pick(xp, x, self.axis), self.axis)
        self.index = idx
        vals = xp.take_along_axis(x, idx, self.axis)
        if not self.keepdim:
            vals, idx = vals.squeeze(self.axis), idx.squeeze(self.axis)
        return vals, idx.astype(xp.int64)

    def backward(self, gv, gi):
        if not self.keepdim:
            gv = reshape(gv, self.index.shape)
        return PutAlong(self.index, self.axis, self.shape)(gv)


class Extreme(Function):
    """amax/amin: the gradient is shared evenly among the tied extremes (torch's rule)."""
    uses_outputs = True

    def __init__(self, is_max, axes, keepdim):
        self.is_max, self.axes, self.keepdim = is_max, axes, keepdim

    def forward(self, x):
        f = x.max if self.is_max else x.min
        return f(axis=self.axes, keepdims=self.keepdim)

    def backward(self, gy):
        x = self.inputs[0]
        y = self.output()._data
        if not self.keepdim:
            y = get_array_module(y).expand_dims(y, self.axes)
        hit = x._data == y
        share = hit / hit.sum(axis=self.axes, keepdims=True)
        return _expand_back(gy, x.shape, self.axes, self.keepdim) * _const(x, share)


class Var(Function):
    """Variance with ``correction`` (Bessel's when 1), fused; backward 2 (x - mean) / (N - c)."""

    def __init__(self, axes, correction, keepdim):
        self.axes, self.correction, self.keepdim = axes, correction, keepdim

    def forward(self, x):
        n = _count(x.shape, self.axes)
        dof = _bmax(n - self.correction, 0)
        with _quiet():
            centered = x - x.mean(axis=self.axes, keepdims=True)
            return (centered * centered).sum(axis=self.axes, keepdims=self.keepdim) / \
                x.dtype.type(dof)

    def backward(self, gy):
        x = self.inputs[0]
        n = _count(x.shape, self.axes)
        dof = _bmax(n - self.correction, 0)
        centered = x - Mean(self.axes, True)(x)
        scale = 2.0 / dof if dof else math.inf
        return _expand_back(gy, x.shape, self.axes, self.keepdim) * centered * scale


class PNorm(Function):
    """(sum |x|^p)^(1/p) for a finite p != 0; the gradient is 0 where the norm is 0 (torch)."""
    uses_outputs = True

    def __init__(self, p, axes, keepdim):
        self.p, self.axes, self.keepdim = p, axes, keepdim

    def forward(self, x):
        xp = get_array_module(x)
        p, ax, kd = self.p, self.axes, self.keepdim
        if p == 2:
            return xp.sqrt((x * x).sum(axis=ax, keepdims=kd))
        if p == 1:
            return xp.abs(x).sum(axis=ax, keepdims=kd)
        with _quiet():
            return (xp.abs(x) ** p).sum(axis=ax, keepdims=kd) ** (1.0 / p)

    def backward(self, gy):
        x, p = self.inputs[0], self.p
        xp = get_array_module(x._data)
        gy = _expand_back(gy, x.shape, self.axes, self.keepdim)
        if p == 1:
            return gy * x.sign()
        y = _expand_back(self.output(), x.shape, self.axes, self.keepdim)
        y_is0 = y._data == 0
        safe_y = where(Tensor(y_is0), _const(x, xp.ones(())), y)
        if p == 2:
            return gy / safe_y * x
        x_is0 = x._data == 0
        safe_ax = where(Tensor(x_is0), _const(x, xp.ones(())), x.abs())
        g = x.sign() * safe_ax ** (p - 1) / safe_y ** (p - 1)
        return gy * g * _const(x, ~(x_is0 | y_is0))


class CumSum(Function):
    """Running sum along ``axis`` (from the end when ``reverse``: the gradient of the other)."""
    uses_inputs = False

    def __init__(self, axis, reverse=False):
        self.axis, self.reverse = axis, reverse

    def forward(self, x):
        xp = get_array_module(x)
        if not self.reverse:
            return xp.cumsum(x, axis=self.axis)
        flipped = xp.flip(x, self.axis)
        return xp.flip(xp.cumsum(flipped, axis=self.axis), self.axis)

    def backward(self, gy):
        return CumSum(self.axis, not self.reverse)(gy)


class CumProd(Function):
    uses_outputs = True

    def __init__(self, axis):
        self.axis = axis

    def forward(self, x):
        return get_array_module(x).cumprod(x, axis=self.axis)

    def backward(self, gy):
        """sum_{i >= k} g_i prod_{j <= i, j != k} x_j, exact with zeros (first order).

        Before a slice's first zero it is revcumsum(g y) / x; at the first zero it is
        revcumsum(g cumprod(x with that zero set to 1)); after it, 0. The double backward
        is exact where x has no zeros.
        """
        x, ax = self.inputs[0], self.axis
        xp = get_array_module(x._data)
        y = self.output()
        is0 = x._data == 0
        # (complex: the same formulas with conj of the partial products, torch's convention)
        if not is0.any():
            return CumSum(ax, True)(gy * _cj(y)) / _cj(x)
        seen = xp.cumsum(is0, axis=ax)
        before = seen == 0
        first = is0 & (seen == 1)
        one = _const(x, xp.ones(()))
        safe_x = where(Tensor(~before), one, x)
        g_before = CumSum(ax, True)(gy * _cj(y)) / _cj(safe_x)
        x_first1 = where(Tensor(first), one, x)
        g_first = CumSum(ax, True)(gy * _cj(CumProd(ax)(x_first1)))
        return g_before * _const(x, before) + g_first * _const(x, first)


# --- the user-facing functions -----------------------------------------------------------
def _int_to_long(input):
    if input._data.dtype.kind in "biu":
        from .. import _dtype
        return input.to(_dtype.int64)  # torch sums and multiplies integers and bools as int64
    return input


def logsumexp(input, dim, keepdim=False):
    """log(sum(exp(x))) along ``dim``, computed stably (max subtracted first)."""
    return LogSumExp(normalize_dims(dim, input.ndim), keepdim)(float_operand(input))


def sum(input, dim=None, keepdim=False, *, dtype=None):
    input = input.to(dtype) if dtype is not None else _int_to_long(input)
    return Sum(normalize_dims(dim, input.ndim), keepdim)(input)


def mean(input, dim=None, keepdim=False, *, dtype=None):
    if dtype is not None:
        input = input.to(dtype)
    if not is_floating(input._data.dtype) and input._data.dtype.kind != "c":
        raise RuntimeError(f"mean(): could not infer output dtype. Input dtype must be either a "
                           f"floating point or complex dtype. Got: {input.dtype}")
    return Mean(normalize_dims(dim, input.ndim), keepdim)(input)


def nansum(input, dim=None, keepdim=False, *, dtype=None):
    """sum treating NaN as 0 (their gradient is 0)."""
    if is_floating(input._data.dtype):
        xp = get_array_module(input._data)
        input = where(Tensor(xp.isnan(input._data)), _const(input, xp.zeros(())), input)
    return sum(input, dim, keepdim, dtype=dtype)


def nanmean(input, dim=None, keepdim=False, *, dtype=None):
    """mean over the non-NaN elements."""
    if dtype is not None:
        input = input.to(dtype)
    xp = get_array_module(input._data)
    kept = _const(input, ~xp.isnan(input._data))
    return nansum(input, dim, keepdim) / sum(kept, dim, keepdim).to(input.dtype)


def prod(input, dim=None, keepdim=False, *, dtype=None):
    """Product of the elements (of an int ``dim``); its gradient is exact with zeros."""
    input = input.to(dtype) if dtype is not None else _int_to_long(input)
    if dim is not None and not isinstance(dim, int):
        raise TypeError(f"prod(): argument 'dim' must be int, not {type(dim).__name__}")
    return Prod(normalize_dims(dim, input.ndim), keepdim)(input)


_ValuesIndices = {}


def _values_indices(name):
    """torch.return_types.<name>: a tuple with ``.values`` and ``.indices``."""
    cls = _ValuesIndices.get(name)
    if cls is None:
        cls = _ValuesIndices[name] = collections.namedtuple(name, ["values", "indices"])
    return cls


def _zero_index(input):
    return Tensor(get_array_module(input._data).zeros((), "int64"))


def _pick_arg(is_max):
    def pick(xp, x, axis):
        # NaN wins like in torch: argmax/argmin already return the first NaN in NumPy
        return xp.argmax(x, axis=axis) if is_max else xp.argmin(x, axis=axis)
    return pick


def _extreme(input, dim, keepdim, other, is_max):
    name = "max" if is_max else "min"
    if isinstance(dim, Tensor) and other is None:
        dim, other = None, dim
    if other is not None:
        from .arith import maximum, minimum
        return maximum(input, other) if is_max else minimum(input, other)
    if dim is None:
        _nonempty(input, tuple(range(input.ndim)), name)
        return Extreme(is_max, tuple(range(input.ndim)), False)(input)
    axis = normalize_dim(dim, input.ndim)
    _nonempty(input, (axis,), name)
    if input.ndim == 0:  # (clone, not Sum: a 0-d bool keeps its dtype)
        return _values_indices(name)(input.clone(), _zero_index(input))
    vals, idx = Select(_pick_arg(is_max), axis, keepdim, name)(input)
    return _values_indices(name)(vals, idx.detach())


def max(input, dim=None, keepdim=False, *, other=None):
    """max(x) -> value; max(x, dim) -> (values, indices); max(x, y) -> maximum(x, y)."""
    return _extreme(input, dim, keepdim, other, True)


def min(input, dim=None, keepdim=False, *, other=None):
    """min(x) -> value; min(x, dim) -> (values, indices); min(x, y) -> minimum(x, y)."""
    return _extreme(input, dim, keepdim, other, False)


def _amax_dims(input, dim, name):
    axes = normalize_dims(None if dim == () or dim == [] else dim, input.ndim)
    _nonempty(input, axes, name)
    return axes


def amax(input, dim=(), keepdim=False):
    """Largest value over ``dim`` (all dims by default); ties share the gradient evenly."""
    return Extreme(True, _amax_dims(input, dim, "amax"), keepdim)(input)


def amin(input, dim=(), keepdim=False):
    """Smallest value over ``dim`` (all dims by default); ties share the gradient evenly."""
    return Extreme(False, _amax_dims(input, dim, "amin"), keepdim)(input)


_MinMax = collections.namedtuple("aminmax", ["min", "max"])


def aminmax(input, *, dim=None, keepdim=False):
    dims = () if dim is None else dim
    return _MinMax(amin(input, dims, keepdim), amax(input, dims, keepdim))


def _arg(input, dim, keepdim, is_max):
    name = "argmax" if is_max else "argmin"
    xp = get_array_module(input._data)
    data = input._data
    if dim is None:
        _nonempty(input, tuple(range(input.ndim)), name, IndexError)
        flat = data.reshape(-1)
        i = xp.argmax(flat) if is_max else xp.argmin(flat)
        out = xp.asarray(i, dtype=xp.int64)
        return Tensor(out.reshape((1,) * input.ndim) if keepdim else out)
    axis = normalize_dim(dim, input.ndim)
    _nonempty(input, (axis,), name)
    if input.ndim == 0:
        return Tensor(xp.zeros((), xp.int64))
    i = _pick_arg(is_max)(xp, data, axis).astype(xp.int64)
    return Tensor(xp.expand_dims(i, axis) if keepdim else i)


def argmax(input, dim=None, keepdim=False):
    """Index of the (first) largest value; over the flattened tensor when ``dim`` is None."""
    return _arg(input, dim, keepdim, True)


def argmin(input, dim=None, keepdim=False):
    """Index of the (first) smallest value; over the flattened tensor when ``dim`` is None."""
    return _arg(input, dim, keepdim, False)


def _var_args(input, dim, unbiased, keepdim, correction, name):
    """Accept torch's forms: var(x), var(x, dim), var(x, unbiased), var(x, dim, unbiased, ...)."""
    if isinstance(dim, bool):
        dim, unbiased = None, dim
    if unbiased is not None and correction is not None:
        raise RuntimeError(f"{name}(): cannot pass both 'unbiased' and 'correction'")
    if correction is None:
        correction = 1 if unbiased is None else int(unbiased)
    if not is_floating(input._data.dtype) and input._data.dtype.kind != "c":
        raise RuntimeError(f"{name}(): input dtype should be floating point, got {input.dtype}")
    return normalize_dims(dim, input.ndim), correction, keepdim


def _var(input, axes, c, keepdim):
    """Var, and for complex input the (real) mean of |z - mean|^2 = var(re) + var(im)."""
    if input._data.dtype.kind == "c":
        from .complex import real, imag
        return Var(axes, c, keepdim)(real(input)) + Var(axes, c, keepdim)(imag(input))
    return Var(axes, c, keepdim)(input)


def var(input, dim=None, unbiased=None, keepdim=False, *, correction=None):
    """Variance over ``dim`` divided by N - correction (N - 1 by default, like torch)."""
    axes, c, keepdim = _var_args(input, dim, unbiased, keepdim, correction, "var")
    return _var(input, axes, c, keepdim)


def std(input, dim=None, unbiased=None, keepdim=False, *, correction=None):
    """Standard deviation: sqrt of ``var`` with the same arguments."""
    axes, c, keepdim = _var_args(input, dim, unbiased, keepdim, correction, "std")
    return _StdFromVar()(_var(input, axes, c, keepdim))


def var_mean(input, dim=None, unbiased=None, keepdim=False, *, correction=None):
    axes, c, keepdim = _var_args(input, dim, unbiased, keepdim, correction, "var_mean")
    return _var(input, axes, c, keepdim), Mean(axes, keepdim)(input)


def std_mean(input, dim=None, unbiased=None, keepdim=False, *, correction=None):
    axes, c, keepdim = _var_args(input, dim, unbiased, keepdim, correction, "std_mean")
    return _StdFromVar()(_var(input, axes, c, keepdim)), Mean(axes, keepdim)(input)


class _StdFromVar(Function):
    """sqrt(var) whose gradient is 0 where the std is 0 (torch's std backward), not the
    inf * 0 = NaN a plain sqrt would give for a constant slice."""
    uses_inputs = False
    uses_outputs = True

    def forward(self, v):
        return get_array_module(v).sqrt(v)

    def backward(self, gy):
        from .arith import where
        y = self.output()
        flat = y == 0
        return where(flat, gy * 0.0, gy / (where(flat, 1.0, y) * 2.0))


def vector_norm(x, ord=2, dim=None, keepdim=False, *, dtype=None):
    """torch.linalg.vector_norm: ord in {inf, -inf, 0, any float}; flattened when dim is None."""
    if dtype is not None:
        x = x.to(dtype)
    if x._data.dtype.kind == "c":  # the norm of the moduli (a real result)
        x = x.abs()
    if not is_floating(x._data.dtype):
        raise RuntimeError(f"linalg.vector_norm: expected a floating point input, got {x.dtype}")
    axes = normalize_dims(dim, x.ndim)
    if ord == math.inf or ord == -math.inf:
        if x._data.size == 0 and ord == -math.inf:
            _nonempty(x, axes, "linalg.vector_norm")
        if x._data.size == 0:
            return Sum(axes, keepdim)(x)
        return Extreme(ord > 0, axes, keepdim)(x.abs())
    if ord == 0:  # the count of non-zeros, with a zero gradient
        return Sum(axes, keepdim)(x * 0.0) + Tensor(
            (x._data != 0).sum(axis=axes, keepdims=keepdim).astype(x._data.dtype))
    return PNorm(float(ord), axes, keepdim)(x)


def norm(input, p="fro", dim=None, keepdim=False, dtype=None):
    """torch.norm: 'fro' (2-norm of the elements), or a vector p-norm; 'nuc' is not supported."""
    if isinstance(dim, int):
        dim = (dim,)
    if p == "fro":
        p = 2
    elif p == "nuc":
        from ..linalg import matrix_norm
        return matrix_norm(input, "nuc", tuple(dim) if dim is not None else (-2, -1), keepdim,
                           dtype=dtype)
    elif isinstance(p, str):
        raise NotImplementedError(f"norm: p={p!r} is not supported (only 'fro', 'nuc' and "
                                  "numbers)")
    return vector_norm(input, p, dim, keepdim, dtype=dtype)


def cumsum(input, dim, *, dtype=None):
    """Running sum along ``dim``."""
    input = input.to(dtype) if dtype is not None else _int_to_long(input)
    if input.ndim == 0:
        return Sum((), False)(input)
    return CumSum(normalize_dim(dim, input.ndim))(input)


def cumprod(input, dim, *, dtype=None):
    """Running product along ``dim``; its gradient is exact with zeros."""
    input = input.to(dtype) if dtype is not None else _int_to_long(input)
    if input.ndim == 0:
        return Sum((), False)(input)
    return CumProd(normalize_dim(dim, input.ndim))(input)


def _lower_median(xp, x, axis):
    """Index of the lower median along ``axis`` (torch returns the lower of the two middles);
    a slice holding NaN gives the index of its first NaN, as torch's median does."""
    order = xp.argsort(x, axis=axis, kind="stable")
    mid = (x.shape[axis] - 1) // 2
    idx = xp.take(order, mid, axis=axis)
    if x.dtype.kind == "f":
        nan = xp.isnan(x)
        idx = xp.where(nan.any(axis=axis), xp.argmax(nan, axis=axis), idx)
    return idx


def median(input, dim=None, keepdim=False):
    """median(x) -> the lower median; median(x, dim) -> (values, indices)."""
    if dim is None:
        if input._data.size == 0 and is_floating(input._data.dtype):
            return input.sum() + float("nan")  # torch's NaN (in the graph, as torch)
        _nonempty(input, tuple(range(input.ndim)), "median")
        flat = reshape(input, (-1,)) if input.ndim != 1 else input
        return Select(_lower_median, 0, False, "median")(flat)[0]
    axis = normalize_dim(dim, input.ndim)
    _nonempty(input, (axis,), "median")
    if input.ndim == 0:
        return _values_indices("median")(Sum((), False)(input), _zero_index(input))
    vals, idx = Select(_lower_median, axis, keepdim, "median")(input)
    return _values_indices("median")(vals, idx.detach())


def count_nonzero(input, dim=None):
    xp = get_array_module(input._data)
    axes = normalize_dims(dim, input.ndim)
    return Tensor(xp.asarray((input._data != 0).sum(axis=axes), dtype=xp.int64))


def where(condition, a, b):
    from .arith import where as _where
    return _where(condition, a, b)


def _max_method(self, dim=None, keepdim=False):
    return max(self, dim, keepdim)


def _min_method(self, dim=None, keepdim=False):
    return min(self, dim, keepdim)


register_methods(sum=sum, mean=mean, logsumexp=logsumexp, prod=prod, max=_max_method,
                 min=_min_method, amax=amax, amin=amin, argmax=argmax, argmin=argmin,
                 aminmax=aminmax, var=var, std=std, norm=norm, cumsum=cumsum, cumprod=cumprod,
                 median=median, count_nonzero=count_nonzero, nansum=nansum, nanmean=nanmean)
