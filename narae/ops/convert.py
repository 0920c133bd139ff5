"""Conversions: dtype casts, device moves, clone. ``Tensor.to`` and its shorthands."""
import numpy as np

from .. import _dtype
from ..autograd.function import Function
from ..backend import as_device, to_device, device_of, get_array_module, Device
from ..tensor import Tensor, register_methods

__all__ = ["clone"]


class Cast(Function):
    uses_inputs = False
    _widens = True  # bfloat16 -> float32 is what it is asked for

    def __init__(self, np_dtype):
        self.np_dtype = np_dtype

    def forward(self, x):
        self.in_dtype = x.dtype
        if x.dtype.kind == "c" and np.dtype(self.np_dtype).kind != "c":
            # complex to bool: non-zero; to a real type: the real part (torch warns)
            x = x != 0 if np.dtype(self.np_dtype).kind == "b" else x.real
        if np.dtype(self.np_dtype).itemsize < x.dtype.itemsize and isinstance(x, np.ndarray):
            with np.errstate(over="ignore"):   # overflow to inf is the cast's meaning (torch
                return x.astype(self.np_dtype)  # is silent; GradScaler detects the inf)
        return x.astype(self.np_dtype)

    def backward(self, gy):
        return gy.to(_dtype.from_numpy_dtype(self.in_dtype))


class ToDevice(Function):
    uses_inputs = False

    def __init__(self, device):
        self.device = device

    def forward(self, x):
        self.in_device = device_of(x)
        return to_device(x, self.device)

    def backward(self, gy):
        return ToDevice(self.in_device)(gy)


class Clone(Function):
    uses_inputs = False

    def forward(self, x):
        return x.copy()

    def backward(self, gy):
        return gy


def clone(input, *, memory_format=None):
    return Clone()(input)


def _parse_to_args(args, kwargs):
    device = kwargs.pop("device", None)
    dtype = kwargs.pop("dtype", None)
    kwargs.pop("non_blocking", None)
    kwargs.pop("copy", None)
    for a in args:
        if isinstance(a, Tensor):
            device, dtype = a.device, a.dtype
        elif isinstance(a, (str, Device)) and not (isinstance(a, str) and a in _dtype._BY_NAME):
            device = a
        elif isinstance(a, int) and not isinstance(a, bool):
            device = a
        elif a is not None:
            dtype = a
    if kwargs:
        raise TypeError(f"to() got unexpected keyword arguments {sorted(kwargs)}")
    return device, dtype


def to(self, *args, **kwargs):
    """``to(dtype)``, ``to(device)``, ``to(device, dtype)`` or ``to(other)``; no-op if nothing changes."""
    device, dtype = _parse_to_args(args, dict(kwargs))
    out = self
    if dtype is not None:
        np_dtype = _dtype.to_dtype(dtype).np
        if np_dtype != out._data.dtype:
            out = Cast(np_dtype)(out)
    if device is not None:
        device = as_device(device)
        if device != device_of(out._data):
            out = ToDevice(device)(out)
    return out


def _contiguous(self, memory_format=None):
    xp = get_array_module(self._data)
    if self._data.flags.c_contiguous:
        return self
    return Clone()(self) if self.requires_grad else Tensor(xp.ascontiguousarray(self._data))


register_methods(
    to=to, clone=clone, contiguous=_contiguous,
    float=lambda self: to(self, _dtype.float32), double=lambda self: to(self, _dtype.float64),
    half=lambda self: to(self, _dtype.float16), bfloat16=lambda self: to(self, _dtype.bfloat16),
    long=lambda self: to(self, _dtype.int64),
    cfloat=lambda self: to(self, _dtype.complex64),
    cdouble=lambda self: to(self, _dtype.complex128),
    int=lambda self: to(self, _dtype.int32), bool=lambda self: to(self, _dtype.bool),
    short=lambda self: to(self, _dtype.int16), byte=lambda self: to(self, _dtype.uint8),
    cpu=lambda self: to(self, "cpu"),
    cuda=lambda self, device=None: to(self, as_device(device if device is not None else "cuda")),
    type_as=lambda self, other: to(self, other.dtype),
    is_contiguous=lambda self, memory_format=None: bool(self._data.flags.c_contiguous),
)
