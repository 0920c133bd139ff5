"""Gradient clipping (torch.nn.utils): rescale or clamp ``.grad`` in place before a step."""
import math

import numpy as np

from ...backend import get_array_module
from ...sparse._coo import SparseCOOArray
from ...tensor import Tensor

__all__ = ["clip_grad_norm_", "clip_grad_norm", "clip_grad_value_", "get_total_norm",
           "clip_grads_with_norm_"]


def _grads(parameters):
    if isinstance(parameters, Tensor):
        parameters = [parameters]
    return [p.grad for p in parameters if p.grad is not None]


def _stored(a):
    """The array holding ``a``'s values: a sparse gradient's coalesced values (its other
    entries are zeros, which no norm counts), else ``a`` itself."""
    return a.coalesce().values if type(a) is SparseCOOArray else a


def _norm(a, norm_type):
    a = _stored(a)
    xp = get_array_module(a)
    if a.dtype.kind == "c":  # a complex gradient's norm is that of its moduli (real)
        a = xp.abs(a)
    if norm_type == math.inf:
        return xp.abs(a).max() if a.size else xp.zeros((), a.dtype)
    if norm_type == -math.inf:
        return xp.abs(a).min() if a.size else xp.zeros((), a.dtype)
    if norm_type == 0:
        return (a != 0).sum().astype(a.dtype)
    if norm_type == 2:
        return xp.sqrt((a * a).sum())
    return (xp.abs(a) ** norm_type).sum() ** (1.0 / norm_type)


def get_total_norm(tensors, norm_type=2.0, error_if_nonfinite=False, foreach=None):
    """The norm of the norms of ``tensors`` (the norm of everything concatenated)."""
    if isinstance(tensors, Tensor):
        tensors = [tensors]
    tensors = [t for t in tensors if t is not None]
    norm_type = float(norm_type)
    if not tensors:
        return Tensor(0.0)
    xp = get_array_module(_stored(tensors[0]._data))
    norms = xp.stack([_norm(t._data, norm_type).astype(xp.float64) for t in tensors])
    dtype = tensors[0]._data.dtype
    if dtype.kind == "c":
        dtype = np.dtype(dtype.char.lower())  # complex64 -> float32, complex128 -> float64
    total = _norm(norms, norm_type).astype(dtype)
    if error_if_nonfinite and not bool(xp.isfinite(total)):
        raise RuntimeError(f"The total norm of order {norm_type} for gradients from "
                           "`parameters` is non-finite, so it cannot be clipped. To disable "
                           "this error and scale the gradients by the non-finite norm anyway, "
                           "set `error_if_nonfinite=False`")
    return Tensor(total)


def clip_grads_with_norm_(parameters, max_norm, total_norm, foreach=None):
    """Multiply every gradient by min(1, max_norm / (total_norm + 1e-6)), in place."""
    grads = _grads(parameters)
    total = float(total_norm._data if isinstance(total_norm, Tensor) else total_norm)
    coef = min(max_norm / (total + 1e-6), 1.0) if math.isfinite(total) else \
        max_norm / (total + 1e-6)
    with np.errstate(invalid="ignore"):  # an infinite gradient times 0 is NaN, as in torch
        for g in grads:
            if type(g._data) is SparseCOOArray:
                g._data.values = g._data.values * g._data.dtype.type(coef)
            else:
                g._data *= g._data.dtype.type(coef)
            g._version[0] += 1


def clip_grad_norm_(parameters, max_norm, norm_type=2.0, error_if_nonfinite=False,
                    foreach=None):
    """Rescale gradients so that their total norm is at most ``max_norm``; return the norm
    they had before clipping (a 0-d tensor)."""
    if isinstance(parameters, Tensor):
        parameters = [parameters]
    parameters = list(parameters)
    total = get_total_norm(_grads(parameters), norm_type, error_if_nonfinite)
    clip_grads_with_norm_(parameters, max_norm, total)
    return total


def clip_grad_norm(parameters, max_norm, norm_type=2.0, error_if_nonfinite=False,
                   foreach=None):
    """Deprecated alias of ``clip_grad_norm_`` (kept, as torch keeps it)."""
    return clip_grad_norm_(parameters, max_norm, norm_type, error_if_nonfinite)


def clip_grad_value_(parameters, clip_value, foreach=None):
    """Clamp every gradient element to [-clip_value, clip_value], in place."""
    clip_value = float(clip_value)
    for g in _grads(parameters):
        xp = get_array_module(g._data)
        if g._data.dtype.kind == "c":
            raise NotImplementedError(f"clip_grad_value_: clamp is not supported for complex "
                                      f"types (a {g.dtype} gradient of shape "
                                      f"{tuple(g.shape)})")
        xp.clip(g._data, -clip_value, clip_value, out=g._data)
        g._version[0] += 1
