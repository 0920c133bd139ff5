"""Array-module dispatch and moving arrays between devices.

CuPy is optional: it is imported lazily the first time a CUDA device is asked for, so
``import narae`` never needs it.
"""
import numpy as np

from .device import Device, cpu

__all__ = ["get_array_module", "to_device", "device_of", "cupy_available", "gpu_available",
           "DeviceMismatchError", "raise_if_mixed_devices", "check_same_device"]

_cupy = None
_cupy_checked = False


def _load_cupy():
    global _cupy, _cupy_checked
    if not _cupy_checked:
        _cupy_checked = True
        try:
            import cupy
            _cupy = cupy
        except Exception:  # ImportError, or a CUDA driver error raised at import
            _cupy = None
    return _cupy


def cupy_available():
    return _load_cupy() is not None


def gpu_available():
    cp = _load_cupy()
    if cp is None:
        return False
    try:
        return cp.cuda.runtime.getDeviceCount() > 0
    except Exception:
        return False


def get_array_module(*arrays):
    """NumPy, or CuPy when any argument is a CuPy array (cheap: checks the type's module)."""
    for a in arrays:
        if type(a).__module__.startswith("cupy"):
            return _cupy
    return np


def device_of(array):
    if type(array).__module__.startswith("cupy"):
        return Device("cuda", array.device.id)
    return cpu


class DeviceMismatchError(RuntimeError):
    """Arrays of one op on different devices (torch raises RuntimeError too)."""


def raise_if_mixed_devices(arrays, what, cause=None):
    """Raise DeviceMismatchError naming the devices when ``arrays`` live on more than one.

    Called where an op has failed (CuPy refuses a NumPy operand with a TypeError deep inside
    the op), so the check costs nothing when the op succeeds."""
    devices = []
    for a in arrays:
        if a is not None and (isinstance(a, np.ndarray) or hasattr(a, "__cuda_array_interface__")):
            d = device_of(a)
            if d not in devices:
                devices.append(d)
    if len(devices) > 1:
        raise DeviceMismatchError(
            f"Expected all tensors to be on the same device, but found at least two devices, "
            f"{devices[0]} and {devices[1]}! (in {what}; move them with .to(device))") from cause


def check_same_device(a, b, what):
    """``raise_if_mixed_devices`` for two arrays, free when they are of one array type."""
    if type(a) is not type(b):
        raise_if_mixed_devices((a, b), what)


def to_device(array, device):
    """Copy ``array`` to ``device`` (a Device); no copy when it already lives there."""
    if device.type == "cpu":
        if isinstance(array, np.ndarray):
            return array
        return _cupy.asnumpy(array)
    cp = _load_cupy()
    if cp is None:
        raise RuntimeError(
            f"cannot use device '{device}': CuPy is not installed "
            "(install narae with the 'cuda' extra: pip install narae[cuda])")
    if not gpu_available():
        raise RuntimeError(f"cannot use device '{device}': no CUDA GPU is visible to CuPy")
    with cp.cuda.Device(device.index):
        return cp.asarray(array)
