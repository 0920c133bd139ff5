"""Helpers shared by the distributions: parameter broadcasting, probs <-> logits, lazy properties."""
import numbers

import numpy as np

from .. import _dtype
from ..tensor import Tensor
from ..backend import capture as _capture
from .. import (as_tensor, broadcast_shapes, clamp, log, log1p, sigmoid, softmax, randn, rand,
                zeros)

__all__ = ["broadcast_all", "probs_to_logits", "logits_to_probs", "clamp_probs",
           "lazy_property", "euler_constant"]

euler_constant = 0.57721566490153286060  # Euler-Mascheroni constant


def _finfo(t):
    """NumPy's finfo of a float tensor's dtype (eps, tiny, max)."""
    return np.finfo(t.dtype.np if hasattr(t.dtype, "np") else np.float32)


def broadcast_all(*values):
    """Broadcast tensors and numbers to one shape; numbers become tensors of the tensors' dtype
    and device (the default dtype when all are numbers)."""
    ref = None
    for v in values:
        if isinstance(v, Tensor):
            ref = v
            break
        if not isinstance(v, numbers.Number):
            raise ValueError("Input arguments must all be instances of numbers.Number or "
                             f"Tensor, got {type(v).__name__}")
    if ref is None:
        dt = _dtype.get_default_dtype()
        values = [as_tensor(float(v), dtype=dt) for v in values]
    else:
        fdt = ref.dtype if ref.is_floating_point() else _dtype.get_default_dtype()
        values = [v if isinstance(v, Tensor) else as_tensor(float(v), dtype=fdt, device=ref.device)
                  for v in values]
    try:
        shape = broadcast_shapes(*[v.shape for v in values])
    except (ValueError, RuntimeError):
        raise ValueError("broadcast_all: shapes " + ", ".join(str(tuple(v.shape)) for v in values)
                         + " cannot be broadcast together") from None
    return tuple(v if tuple(v.shape) == tuple(shape) else v.expand(shape) for v in values)


def _size(shape):
    if isinstance(shape, Tensor):
        shape = shape.tolist()
    if isinstance(shape, numbers.Integral):
        return (int(shape),)
    return tuple(int(s) for s in shape)


def standard_normal(shape, like):
    """N(0, 1) samples of ``shape`` with ``like``'s dtype and device (narae's generator)."""
    return randn(*shape, dtype=like.dtype, device=like.device)


def standard_uniform(shape, like):
    """U[0, 1) samples of ``shape`` with ``like``'s dtype and device."""
    return rand(*shape, dtype=like.dtype, device=like.device)


def clamp_probs(probs):
    """Keep probabilities in [eps, 1 - eps] so that their logs stay finite."""
    eps = float(_finfo(probs).eps)
    return clamp(probs, min=eps, max=1 - eps)


def logits_to_probs(logits, is_binary=False):
    """sigmoid(logits) for Bernoulli-like, softmax over the last dim for categorical ones."""
    if is_binary:
        return sigmoid(logits)
    return softmax(logits, dim=-1)


def probs_to_logits(probs, is_binary=False):
    """log(p) - log(1 - p) for Bernoulli-like, log(p) for categorical ones (p clamped)."""
    ps = clamp_probs(probs)
    if is_binary:
        return log(ps) - log1p(-ps)
    return log(ps)


class lazy_property:
    """Computed on first access and then stored on the instance (probs from logits...)."""

    def __init__(self, wrapped):
        self.wrapped = wrapped
        self.__doc__ = wrapped.__doc__
        self.__name__ = wrapped.__name__

    def __get__(self, instance, obj_type=None):
        if instance is None:
            return self
        from .. import enable_grad
        with enable_grad():  # cached values keep their graph even when first read in no_grad
            value = self.wrapped(instance)
        instance.__dict__[self.wrapped.__name__] = value
        return value


def sum_rightmost(value, dim):
    """Sum the ``dim`` right-most dimensions of ``value``."""
    if dim == 0:
        return value
    return value.reshape(tuple(value.shape[:value.ndim - dim]) + (-1,)).sum(-1)


def can_read_back():
    return _capture.can_read_back()


def zeros_of(shape, like):
    return zeros(*shape, dtype=like.dtype, device=like.device)


def special_array(name, *arrays):
    """scipy.special.<name>(*arrays) on the arrays' device: cupyx's on CuPy when it has the
    function, else computed on the host and copied back."""
    from ..backend import get_array_module, to_device, as_device
    xp = get_array_module(arrays[-1])
    if xp is not np:
        try:
            import cupyx.scipy.special as cupy_special
            return getattr(cupy_special, name)(*arrays)
        except (ImportError, AttributeError):
            pass
    import scipy.special as scipy_special
    cpu = as_device("cpu")
    with np.errstate(all="ignore"):
        out = getattr(scipy_special, name)(*[np.asarray(to_device(a, cpu)) for a in arrays])
    return out if xp is np else xp.asarray(out)
