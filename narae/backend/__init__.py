"""The array layer: which array module (NumPy or CuPy) holds a tensor, and devices.

Everything above this package gets its array module from here (``xp = get_array_module(a)``)
so that one op implementation serves both the CPU and the GPU.
"""
from .device import Device, as_device, cpu
from .arrays import get_array_module, to_device, device_of, cupy_available, gpu_available

__all__ = ["Device", "as_device", "cpu", "get_array_module", "to_device", "device_of",
           "cupy_available", "gpu_available"]
