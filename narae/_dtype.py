"""narae's dtype objects: thin, hashable names over NumPy dtypes (``nr.float32``...).

PyTorch users compare ``t.dtype == nr.float32``; keeping our own objects (rather than
exposing ``numpy.dtype``) lets the same names work for CuPy arrays and keeps reprs torch-like.

``bfloat16`` comes from the ``ml_dtypes`` package (NumPy has none; CuPy 14 uses the same
type). Its NumPy dtype has ``kind == "V"``, so code that asks "is this array floating point?"
must use ``is_floating`` rather than ``dtype.kind == "f"``. Without ml_dtypes narae still
imports; ``narae.bfloat16`` then exists but any use raises an error saying what to install.
"""
import builtins as _builtins

import numpy as np

try:
    import ml_dtypes as _ml_dtypes
except ImportError:  # optional: only bfloat16 needs it
    _ml_dtypes = None

__all__ = ["dtype", "float16", "float32", "float64", "bfloat16", "half", "float", "double",
           "int8", "int16", "int32", "int64", "uint8", "short", "int", "long", "bool",
           "complex64", "cfloat", "complex128", "cdouble",
           "get_default_dtype", "set_default_dtype", "is_floating", "promote_types", "finfo",
           "is_complex", "default_complex",
           "qint8", "quint8", "qint32", "qscheme", "per_tensor_affine", "per_channel_affine",
           "per_tensor_symmetric", "per_channel_symmetric", "per_channel_affine_float_qparams"]

# NumPy dtype of bfloat16, or None without ml_dtypes.
BF16 = np.dtype(_ml_dtypes.bfloat16) if _ml_dtypes is not None else None

_NO_BF16 = ("narae.bfloat16 needs the ml_dtypes package (NumPy has no bfloat16 type of its "
            "own): pip install ml_dtypes")


# Code that only matters once bfloat16 is in use (autograd's rounding of float32 results back
# to bfloat16) registers here, so float32-only programs never pay for it. Called the first
# time a bfloat16 dtype is named, inferred or recognised (to_dtype, from_numpy_dtype,
# is_floating).
_bf16_seen = False
_bf16_listeners = []


def on_bfloat16_use(callback):
    """Call ``callback()`` once bfloat16 is first used (now, if it already was)."""
    if _bf16_seen:
        callback()
    else:
        _bf16_listeners.append(callback)


def _note_bf16():
    global _bf16_seen
    if not _bf16_seen:
        _bf16_seen = True
        for callback in _bf16_listeners:
            callback()
        _bf16_listeners.clear()


if BF16 is None:
    def is_floating(np_dtype):
        """Whether a NumPy/CuPy dtype is floating point (float16/32/64, and bfloat16)."""
        return np_dtype.kind == "f"
else:
    def is_floating(np_dtype):
        """Whether a NumPy/CuPy dtype is floating point (float16/32/64, and bfloat16)."""
        if np_dtype.kind == "f":
            return True
        if np_dtype == BF16:
            if not _bf16_seen:
                _note_bf16()
            return True
        return False


# Complex dtypes: code that only matters once a complex tensor exists (the refusal of ops
# torch does not define on complex numbers, see narae.ops.complex) registers here, so real
# programs never pay for it. Called the first time a complex dtype is named or recognised.
_complex_seen = False
_complex_listeners = []


def on_complex_use(callback):
    """Call ``callback()`` once a complex dtype is first used (now, if it already was)."""
    if _complex_seen:
        callback()
    else:
        _complex_listeners.append(callback)


def _note_complex():
    global _complex_seen
    if not _complex_seen:
        _complex_seen = True
        _BY_NUMPY.update(_COMPLEX_BY_NUMPY)  # (from_numpy_dtype's fast path from now on)
        for callback in _complex_listeners:
            callback()
        _complex_listeners.clear()


if BF16 is None:
    def is_differentiable(np_dtype):
        """Whether tensors of a NumPy/CuPy dtype can require gradients (float or complex)."""
        return np_dtype.kind in "fc"
else:
    def is_differentiable(np_dtype):
        """Whether tensors of a NumPy/CuPy dtype can require gradients (float or complex)."""
        kind = np_dtype.kind
        return kind == "f" or kind == "c" or is_floating(np_dtype)


def is_complex(np_dtype):
    """Whether a NumPy/CuPy dtype is complex (complex64/complex128)."""
    return np_dtype.kind == "c"


class dtype:
    __slots__ = ("name", "np", "is_floating_point", "is_signed", "itemsize", "is_complex")

    def __init__(self, name, np_dtype):
        self.name = name
        self.np = np.dtype(np_dtype)
        self.is_floating_point = self.np.kind == "f" or (BF16 is not None and self.np == BF16)
        self.is_complex = self.np.kind == "c"
        self.is_signed = self.is_floating_point or self.is_complex or self.np.kind == "i"
        self.itemsize = self.np.itemsize

    def __repr__(self):
        return f"narae.{self.name}"

    def to_real(self):
        """The real counterpart of a complex dtype (complex64 -> float32); others unchanged."""
        if self.is_complex:
            return float64 if self.np == np.complex128 else float32
        return self

    def to_complex(self):
        """The complex dtype with this float dtype's precision (float32 -> complex64)."""
        if self.is_complex:
            return self
        if self.np.kind == "f" and self.np.itemsize >= 4:
            return complex128 if self.np.itemsize == 8 else complex64
        raise RuntimeError(f"Unknown Complex ScalarType for {self.name} (narae has "
                           "complex64 and complex128 only)")

    def __reduce__(self):  # dtypes are singletons: copy/deepcopy return the same object
        return (to_dtype, (self.name,))  # (by name: bfloat16's NumPy dtype string is "<V2")


class _MissingDtype(dtype):
    """``narae.bfloat16`` when ml_dtypes is not installed: any use of it raises."""
    __slots__ = ()

    def __init__(self, name, itemsize):  # pylint: disable=super-init-not-called
        self.name = name
        self.is_floating_point = True
        self.is_complex = False
        self.is_signed = True
        self.itemsize = itemsize

    @property
    def np(self):
        raise RuntimeError(_NO_BF16)


float16 = half = dtype("float16", np.float16)
float32 = float = dtype("float32", np.float32)
float64 = double = dtype("float64", np.float64)
bfloat16 = dtype("bfloat16", BF16) if BF16 is not None else _MissingDtype("bfloat16", 2)
int8 = dtype("int8", np.int8)
int16 = short = dtype("int16", np.int16)
int32 = int = dtype("int32", np.int32)
int64 = long = dtype("int64", np.int64)
uint8 = dtype("uint8", np.uint8)
bool = dtype("bool", np.bool_)
complex64 = cfloat = dtype("complex64", np.complex64)
complex128 = cdouble = dtype("complex128", np.complex128)

# (complex dtypes join this map when complex numbers are first used: see from_numpy_dtype)
_BY_NUMPY = {d.np: d for d in (float16, float32, float64, int8, int16, int32, int64, uint8, bool)}
_COMPLEX_BY_NUMPY = {complex64.np: complex64, complex128.np: complex128}
if BF16 is not None:
    _BY_NUMPY[BF16] = bfloat16
_BY_NAME = {d.name: d for d in (*_BY_NUMPY.values(), complex64, complex128)}
_BY_NAME["bfloat16"] = bfloat16


# Quantized dtypes: names for the integer arrays inside narae.ops.quantize.QuantizedTensor.
# They share their NumPy dtype with int8/uint8/int32, so they stay out of _BY_NUMPY (an int8
# array is an int8 tensor); to_dtype still knows them by name.
class _QuantizedDtype(dtype):
    __slots__ = ()

    def __init__(self, name, np_dtype):
        super().__init__(name, np_dtype)
        self.is_floating_point = False
        self.is_complex = False


qint8 = _QuantizedDtype("qint8", np.int8)
quint8 = _QuantizedDtype("quint8", np.uint8)
qint32 = _QuantizedDtype("qint32", np.int32)
QUANTIZED = (qint8, quint8, qint32)
_BY_NAME.update((d.name, d) for d in QUANTIZED)


class qscheme:
    """How a quantized tensor maps integers to reals (torch.qscheme): one (scale, zero_point)
    for the whole tensor or one per channel; symmetric schemes fix zero_point at the middle."""
    __slots__ = ("name",)

    def __init__(self, name):
        self.name = name

    def __repr__(self):
        return f"narae.{self.name}"

    def __reduce__(self):  # singletons, as dtypes
        return (_qscheme_by_name, (self.name,))


def _qscheme_by_name(name):
    return globals()[name]


per_tensor_affine = qscheme("per_tensor_affine")
per_channel_affine = qscheme("per_channel_affine")
per_tensor_symmetric = qscheme("per_tensor_symmetric")
per_channel_symmetric = qscheme("per_channel_symmetric")
per_channel_affine_float_qparams = qscheme("per_channel_affine_float_qparams")
_default_float = float32


def get_default_dtype():
    return _default_float


def default_complex():
    """The dtype of Python complex data: complex128 when the default is float64, else
    complex64 (torch's rule)."""
    return complex128 if _default_float is float64 else complex64


def set_default_dtype(d):
    global _default_float
    d = to_dtype(d)
    if not d.is_floating_point:
        raise TypeError(f"default dtype must be a floating point type, got {d}")
    _default_float = d


def from_numpy_dtype(np_dtype):
    """The narae dtype for a NumPy (or CuPy) dtype."""
    try:
        d = _BY_NUMPY[np.dtype(np_dtype)]
    except KeyError:
        d = _COMPLEX_BY_NUMPY.get(np.dtype(np_dtype))
        if d is None:
            raise TypeError(f"unsupported dtype {np_dtype!r}") from None
        _note_complex()
    if d is bfloat16 and not _bf16_seen:
        _note_bf16()
    return d


def to_dtype(d):
    """Accept a narae dtype, a NumPy dtype/type, a Python type or a name; return a narae dtype."""
    if isinstance(d, dtype):
        if not _complex_seen and d.is_complex:
            _note_complex()
        if d is bfloat16:
            if type(d) is _MissingDtype:
                raise RuntimeError(_NO_BF16)
            if not _bf16_seen:
                _note_bf16()
        return d
    if d is _builtins.float:
        return _default_float
    if d is _builtins.int:
        return int64
    if d is _builtins.bool:
        return bool
    if d is _builtins.complex:
        return to_dtype(default_complex())
    if isinstance(d, str) and d in _BY_NAME:
        return to_dtype(_BY_NAME[d])
    return from_numpy_dtype(d)


_F16, _F32 = np.dtype(np.float16), np.dtype(np.float32)


def promote_types(a, b):
    """``np.promote_types`` with torch's rule for the two 16-bit floats: bfloat16 and float16
    meet in float32 (NumPy knows no common type for them)."""
    if BF16 is not None and (a == BF16 and b == _F16 or a == _F16 and b == BF16):
        return _F32
    return np.promote_types(a, b)


def finfo(np_dtype):
    """``np.finfo`` that also knows bfloat16 (NumPy's does not)."""
    if BF16 is not None and np.dtype(np_dtype) == BF16:
        return _ml_dtypes.finfo(BF16)
    return np.finfo(np_dtype)  # (a complex dtype gives its real part's limits, as torch)
