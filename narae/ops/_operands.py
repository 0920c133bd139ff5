"""Turning Python numbers and arrays into Tensors, and torch's dtype promotion for binary ops.

torch's rules: a Python float meets an integer tensor as the default float dtype; a
0-d tensor or a Python number does not widen a dimensioned tensor of the same category
(float32 tensor * 2.0 stays float32).
"""
import numpy as np

from .. import _dtype
from ..tensor import Tensor
from ..backend import get_array_module
from ..backend.constants import scalar

__all__ = ["as_tensor_like", "binary_operands", "normalize_dim", "normalize_dims", "float_operand"]

_CATEGORY = {"b": 0, "u": 1, "i": 1, "f": 2, "c": 3}  # other kinds (bfloat16's "V") are float


def _scalar_dtype(value):
    if isinstance(value, (bool, np.bool_)):
        return np.bool_
    if isinstance(value, (int, np.integer)):
        return np.int64
    if isinstance(value, (complex, np.complexfloating)):
        return _dtype.to_dtype(_dtype.default_complex()).np
    return _dtype.get_default_dtype().np


def _complex_of(d):
    """The complex dtype with the precision of NumPy dtype ``d`` (complex64 below float64)."""
    return np.dtype(np.complex128) if d == np.float64 or d == np.complex128 else \
        np.dtype(np.complex64)


def float_operand(x):
    """Integer/bool tensors as the default float dtype, for ops whose results are real
    numbers (torch: ``exp(int tensor)`` and ``acos(int tensor)`` are float32)."""
    if x._data.dtype.kind in "biu":
        return x.to(_dtype.get_default_dtype())
    return x


def as_tensor_like(value, like):
    """``value`` as a constant Tensor on ``like``'s device (Tensors pass through)."""
    if isinstance(value, Tensor):
        return value
    xp = get_array_module(like._data)
    if isinstance(value, (int, float, bool, complex, np.number, np.bool_)):
        return Tensor(scalar(xp, value, _scalar_dtype(value)))
    arr = xp.asarray(value)
    if arr.dtype == np.float64 and not isinstance(value, np.ndarray):
        arr = arr.astype(_dtype.get_default_dtype().np)
    return Tensor(arr)


def result_dtype(a, b):
    """torch's promotion for two arrays, 0-d arrays counting as 'scalars'."""
    da, db = a.dtype, b.dtype
    if da == db:
        return da
    ca, cb = _CATEGORY.get(da.kind, 2), _CATEGORY.get(db.kind, 2)
    if ca == cb:
        if a.ndim and not b.ndim:
            return da
        if b.ndim and not a.ndim:
            return db
        return _dtype.promote_types(da, db)  # (bfloat16 + float16 -> float32, as torch)
    if ca == 3 and cb == 2 or cb == 3 and ca == 2:
        return _complex_float(a, b) if ca == 3 else _complex_float(b, a)
    return da if ca > cb else db


def _complex_float(c, f):
    """torch's result for a complex array ``c`` meeting a float array ``f``: a 0-d complex
    takes the precision of a dimensioned float (float64 * 0-d complex64 -> complex128),
    a dimensioned complex ignores a 0-d float, and alike ones meet in the wider type."""
    if c.ndim and not f.ndim:
        return c.dtype
    if f.ndim and not c.ndim:
        return _complex_of(f.dtype)
    return np.promote_types(c.dtype, _complex_of(f.dtype))


def binary_operands(a, b):
    """Two Tensors of one dtype from any mix of Tensors and numbers (numbers never need grad)."""
    if not isinstance(a, Tensor):
        if isinstance(b, Tensor) and isinstance(a, (float, int)) and type(a) is not bool \
                and _dtype.is_floating(b._data.dtype):
            xp = get_array_module(b._data)
            return Tensor(scalar(xp, a, b._data.dtype)), b
        if isinstance(b, Tensor) and isinstance(a, (float, int, complex)) and \
                type(a) is not bool and b._data.dtype.kind == "c":
            return Tensor(scalar(get_array_module(b._data), a, b._data.dtype)), b
        a = as_tensor_like(a, b)
    if not isinstance(b, Tensor):
        if isinstance(b, (float, int)) and type(b) is not bool and \
                _dtype.is_floating(a._data.dtype):
            xp = get_array_module(a._data)
            return a, Tensor(scalar(xp, b, a._data.dtype))
        if isinstance(b, (float, int, complex)) and type(b) is not bool and \
                a._data.dtype.kind == "c":  # complex tensor and a number: the tensor's dtype
            return a, Tensor(scalar(get_array_module(a._data), b, a._data.dtype))
        b = as_tensor_like(b, a)
    if a._data.dtype != b._data.dtype:
        dt = result_dtype(a._data, b._data)
        if a._data.dtype != dt:
            a = a.to(_dtype.from_numpy_dtype(dt))
        if b._data.dtype != dt:
            b = b.to(_dtype.from_numpy_dtype(dt))
    return a, b


def normalize_dim(dim, ndim, name="dim"):
    """A dim in [-ndim, ndim) as a non-negative int, with torch's error message otherwise."""
    n = max(ndim, 1)
    if not -n <= dim < n:
        raise IndexError(f"Dimension out of range (expected to be in range of [{-n}, {n - 1}], "
                         f"but got {dim})")
    return dim % n


def normalize_dims(dim, ndim):
    """None or an empty tuple/list -> all axes (torch's reductions: ``sum(x, dim=())`` sums
    everything); int or tuple -> a sorted tuple of non-negative axes. Ops where an empty dim
    list means no axis (flip, squeeze, all/any) check for it before calling this.

    A 0-d tensor accepts dim 0 / -1 (as torch) but has no array axis: that gives ()."""
    if dim is None or (isinstance(dim, (list, tuple)) and len(dim) == 0):
        return tuple(range(ndim))
    if isinstance(dim, (list, tuple)):
        dims = tuple(sorted({normalize_dim(d, ndim) for d in dim}))
        return dims if ndim else ()
    d = normalize_dim(dim, ndim)
    return (d,) if ndim else ()
