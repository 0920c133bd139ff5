"""Dropout: elementwise (``dropout``), per channel (``dropout1d/2d/3d``) and the SELU-preserving
``alpha_dropout`` / ``feature_alpha_dropout``.

Masks come from ``narae.random.default_generator``: drawn by NumPy on the CPU, and on the GPU
drawn on the device from a seed the generator gives (no host draw, no copy), so
``narae.manual_seed`` makes them reproducible on each device.
"""
import warnings

import numpy as np

from ..autograd.function import Function, ShapeError
from ..backend import capture, get_array_module, kernels, to_device, device_of
from ..backend.constants import cached_constant
from ..random import default_generator

__all__ = ["dropout", "dropout1d", "dropout2d", "dropout3d", "alpha_dropout",
           "feature_alpha_dropout"]

_KERNEL_DTYPES = (np.dtype(np.float32), np.dtype(np.float64))

# SELU's negative saturation value -scale * alpha: alpha dropout sets dropped units to it
_SELU_NEG = -1.7580993408473766


class AffineMask(Function):
    """y = x * scale + shift with fixed arrays; the gradient is gy * scale (linear, so the
    backward is the same op with no shift)."""
    uses_inputs = False

    def __init__(self, scale, shift=None):
        self.scale, self.shift = scale, shift

    def forward(self, x):
        y = x * self.scale
        if self.shift is not None:
            y += self.shift
        return y

    def backward(self, gy):
        return AffineMask(self.scale)(gy)


def _check_p(p):
    if not 0.0 <= p <= 1.0:
        raise ValueError(f"dropout probability has to be between 0 and 1, but got {p}")


def keep_mask(shape, p, like):
    """A float mask of ``shape`` (1 with probability 1 - p, else 0) in ``like``'s dtype.

    On the CPU it is drawn from the default generator. On the GPU it is drawn on the device
    by a counter-based hash of (seed, element), the seed taken from the default generator:
    no host draw and no copy, and ``narae.manual_seed`` still makes it reproducible (the
    masks differ from the CPU's for the same seed). Inside a CUDA-graph capture
    (``narae.compile``) a device-side counter is added, so every replay gets a fresh mask."""
    cap = capture.active()
    if cap is not None and cap.device == "cuda":
        return _device_keep_mask(cap, shape, p, like, cap.rng_offset)
    xp = get_array_module(like)
    if xp is not np and kernels.use_kernels(xp) and like.dtype in _KERNEL_DTYPES:
        zero = cached_constant(xp, "dropout_offset", lambda: np.zeros(1, np.int64))
        return _device_keep_mask(None, shape, p, like, zero)
    draws = default_generator.rng.random(shape, dtype="float32" if like.dtype.itemsize <= 4
                                         else "float64")
    mask = (draws >= p).astype(like.dtype)
    return to_device(mask, device_of(like))


def _device_keep_mask(cap, shape, p, like, offset):
    xp = get_array_module(like)
    if offset is None:
        raise RuntimeError("narae.compile: no device random counter in this capture")
    out = xp.empty(shape, like.dtype)
    n = out.size
    seed = int(default_generator.rng.integers(0, 2 ** 63))
    kernels.launch_1d("random", "keep_mask", like.dtype, n, [out, n, seed, offset, p])
    if cap is not None:   # a graph replays with the same seed: advance the counter instead
        kernels.launch("random", "advance_offset", like.dtype, 1, 1, [offset, n])
    return out


def _apply(input, scale, shift, inplace):
    if inplace:
        return input._apply_inplace(lambda x: AffineMask(scale, shift)(x))
    return AffineMask(scale, shift)(input)


def _refuse_complex(input, p, what):
    """torch draws no Bernoulli mask for complex tensors (only p == 0 or 1 pass)."""
    if p != 1.0 and input._data.dtype.kind == "c":
        raise NotImplementedError(f"{what}: not implemented for complex tensors in training "
                                  f"with 0 < p < 1 (got {input.dtype} of shape "
                                  f"{tuple(input.shape)}, p={p})")


def _dropout(input, p, training, inplace, mask_shape, what="dropout"):
    _check_p(p)
    if not training or p == 0.0:
        return input
    _refuse_complex(input, p, what)
    x = input._data
    if p == 1.0:
        scale = get_array_module(x).zeros(mask_shape, x.dtype)
    else:
        scale = keep_mask(mask_shape, p, x)
        scale *= 1.0 / (1.0 - p)
    return _apply(input, scale, None, inplace)


def dropout(input, p=0.5, training=True, inplace=False):
    """Zero each element with probability p and scale the survivors by 1 / (1 - p)."""
    return _dropout(input, p, training, inplace, input.shape)


def _channel_mask_shape(input, batched_ndim, what):
    """(N, C, 1, ...) for a batched input, (C, 1, ...) for an unbatched one."""
    nd = input.ndim
    if nd not in (batched_ndim - 1, batched_ndim):
        raise ShapeError(f"{what}: expected a {batched_ndim - 1}D (unbatched) or "
                         f"{batched_ndim}D (batched) input, but got an input of shape "
                         f"{tuple(input.shape)}")
    lead = 2 if nd == batched_ndim else 1
    return tuple(input.shape[:lead]) + (1,) * (nd - lead)


def dropout1d(input, p=0.5, training=True, inplace=False):
    """Zero whole channels of (N, C, L) or (C, L) input."""
    shape = _channel_mask_shape(input, 3, "dropout1d")
    return _dropout(input, p, training, inplace, shape, "dropout1d")


def dropout2d(input, p=0.5, training=True, inplace=False):
    """Zero whole channels of (N, C, H, W) or (C, H, W) input (a 3-D input is taken as
    (N, C, L), as torch does, with a warning)."""
    if input.ndim == 3:
        warnings.warn("dropout2d: Received a 3D input to dropout2d and assuming that channel-wise "
                      "1D dropout behavior is desired - input is interpreted as shape (N, C, L). "
                      "Use dropout1d for (N, C, L) inputs.", UserWarning, stacklevel=2)
        shape = tuple(input.shape[:2]) + (1,)
    elif input.ndim == 4:
        shape = tuple(input.shape[:2]) + (1, 1)
    else:
        raise ShapeError(f"dropout2d: expected a 3D or 4D input, but got an input of shape "
                         f"{tuple(input.shape)}")
    return _dropout(input, p, training, inplace, shape, "dropout2d")


def dropout3d(input, p=0.5, training=True, inplace=False):
    """Zero whole channels of (N, C, D, H, W) or (C, D, H, W) input."""
    shape = _channel_mask_shape(input, 5, "dropout3d")
    return _dropout(input, p, training, inplace, shape, "dropout3d")


def _alpha_dropout(input, p, training, inplace, mask_shape, what="alpha_dropout"):
    """Dropped units become SELU's saturation value, then an affine map a * y + b restores
    zero mean and unit variance (for inputs with those statistics)."""
    _check_p(p)
    if not training or p == 0.0:
        return input
    _refuse_complex(input, p, what)
    x = input._data
    xp = get_array_module(x)
    if p == 1.0:
        return _apply(input, xp.zeros(mask_shape, x.dtype), None, inplace)
    keep = keep_mask(mask_shape, p, x)
    a = ((1.0 - p) * (1.0 + p * _SELU_NEG ** 2)) ** -0.5
    b = -a * _SELU_NEG * p
    scale = keep * a
    shift = (1.0 - keep) * (a * _SELU_NEG) + b
    return _apply(input, scale, shift.astype(x.dtype, copy=False), inplace)


def alpha_dropout(input, p=0.5, training=False, inplace=False):
    return _alpha_dropout(input, p, training, inplace, input.shape)


def feature_alpha_dropout(input, p=0.5, training=False, inplace=False):
    """Alpha dropout of whole channels of (N, C, ...) input."""
    if input.ndim < 2:
        raise ShapeError(f"feature_alpha_dropout: expected an input of shape (N, C, ...), got "
                         f"shape {tuple(input.shape)}")
    shape = tuple(input.shape[:2]) + (1,) * (input.ndim - 2)
    return _alpha_dropout(input, p, training, inplace, shape, "feature_alpha_dropout")
