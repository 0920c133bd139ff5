"""narae's dtype objects: thin, hashable names over NumPy dtypes (``nr.float32``...).

PyTorch users compare ``t.dtype == nr.float32``; keeping our own objects (rather than
exposing ``numpy.dtype``) lets the same names work for CuPy arrays and keeps reprs torch-like.
"""
import builtins as _builtins

import numpy as np

__all__ = ["dtype", "float16", "float32", "float64", "half", "float", "double",
           "int8", "int16", "int32", "int64", "uint8", "short", "int", "long", "bool",
           "get_default_dtype", "set_default_dtype"]


class dtype:
    __slots__ = ("name", "np", "is_floating_point", "is_signed", "itemsize")

    def __init__(self, name, np_dtype):
        self.name = name
        self.np = np.dtype(np_dtype)
        self.is_floating_point = self.np.kind == "f"
        self.is_signed = self.np.kind in "fi"
        self.itemsize = self.np.itemsize

    def __repr__(self):
        return f"narae.{self.name}"

    def __reduce__(self):  # dtypes are singletons: copy/deepcopy return the same object
        return (from_numpy_dtype, (self.np.str,))


float16 = half = dtype("float16", np.float16)
float32 = float = dtype("float32", np.float32)
float64 = double = dtype("float64", np.float64)
int8 = dtype("int8", np.int8)
int16 = short = dtype("int16", np.int16)
int32 = int = dtype("int32", np.int32)
int64 = long = dtype("int64", np.int64)
uint8 = dtype("uint8", np.uint8)
bool = dtype("bool", np.bool_)

_BY_NUMPY = {d.np: d for d in (float16, float32, float64, int8, int16, int32, int64, uint8, bool)}
_BY_NAME = {d.name: d for d in _BY_NUMPY.values()}
_default_float = float32


def get_default_dtype():
    return _default_float


def set_default_dtype(d):
    global _default_float
    d = to_dtype(d)
    if not d.is_floating_point:
        raise TypeError(f"default dtype must be a floating point type, got {d}")
    _default_float = d


def from_numpy_dtype(np_dtype):
    """The narae dtype for a NumPy (or CuPy) dtype."""
    try:
        return _BY_NUMPY[np.dtype(np_dtype)]
    except KeyError:
        raise TypeError(f"unsupported dtype {np_dtype!r}") from None


def to_dtype(d):
    """Accept a narae dtype, a NumPy dtype/type, a Python type or a name; return a narae dtype."""
    if isinstance(d, dtype):
        return d
    if d is _builtins.float:
        return _default_float
    if d is _builtins.int:
        return int64
    if d is _builtins.bool:
        return bool
    if isinstance(d, str) and d in _BY_NAME:
        return _BY_NAME[d]
    return from_numpy_dtype(d)
