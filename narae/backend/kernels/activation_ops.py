"""Python side of ``activation.cu``: fused elementwise activation kernels on whole arrays.

``narae.ops.activation`` calls these when ``usable`` says the kernel path applies; each call
is one kernel launch where the array code would run several elementwise passes.
"""
import numpy as np

from . import emulating, launch_1d, use_kernels
from ..arrays import get_array_module

__all__ = ["on_kernel_path", "usable", "forward", "backward", "piecewise", "MaskedSlope"]

_MODULE = "activation"
_FLOATS = (np.dtype(np.float32), np.dtype(np.float64))


def on_kernel_path(x):
    """``use_kernels`` for x's array module; NumPy arrays are answered without a lookup (the
    CPU path pays next to nothing for the question)."""
    if type(x) is np.ndarray:
        return emulating()
    return use_kernels(get_array_module(x))


def usable(x, *others):
    """Kernel path for ``x`` (and same-shape, same-dtype ``others``)? float32/float64 only."""
    if not on_kernel_path(x) or x.dtype not in _FLOATS:
        return False
    return all(o.dtype == x.dtype and o.shape == x.shape for o in others)


def _contiguous(a):
    return get_array_module(a).ascontiguousarray(a)


def forward(name, x, *params):
    """y = ``<name>_fwd``(x, params): the activation's forward in one pass."""
    xp = get_array_module(x)
    y = xp.empty(x.shape, x.dtype)
    launch_1d(_MODULE, name + "_fwd", x.dtype, x.size, [_contiguous(x), y, x.size, *params])
    return y


def backward(name, a, gy, *params):
    """gx = ``<name>_bwd``(a, gy, params), where ``a`` is the input or output it reads."""
    xp = get_array_module(a)
    gx = xp.empty(a.shape, a.dtype)
    launch_1d(_MODULE, name + "_bwd", a.dtype, a.size,
              [_contiguous(a), _contiguous(gy), gx, a.size, *params])
    return gx


class MaskedSlope:
    """A piecewise-linear gradient factor kept as a byte mask and two slopes: ``mask ? a : b``.

    Stands in for the factor array of ``PiecewiseLinearGrad`` (a quarter of its memory for
    float32); ``scale(gy)`` is gy times the factor in one kernel.
    """
    __slots__ = ("mask", "a", "b")

    def __init__(self, mask, a, b):
        self.mask, self.a, self.b = mask, a, b

    def scale(self, gy):
        xp = get_array_module(self.mask)
        if gy.dtype not in _FLOATS or gy.shape != self.mask.shape:
            factor = xp.where(self.mask, self.a, self.b).astype(gy.dtype)
            return gy * factor
        gx = xp.empty(gy.shape, gy.dtype)
        launch_1d(_MODULE, "masked_scale", gy.dtype, gy.size,
                  [self.mask, _contiguous(gy), gx, gy.size, self.a, self.b])
        return gx


def piecewise(name, x, params, a, b):
    """(y, MaskedSlope) from ``<name>_fwd``: y and the mask in one pass."""
    xp = get_array_module(x)
    y = xp.empty(x.shape, x.dtype)
    mask = xp.empty(x.shape, np.uint8)
    launch_1d(_MODULE, name + "_fwd", x.dtype, x.size,
              [_contiguous(x), y, mask, x.size, *params])
    return y, MaskedSlope(mask, a, b)
