"""Distances and similarities: cosine_similarity, pairwise_distance, cdist, pdist.

``VectorNorm`` is the p-norm along one axis with torch's subgradient at zero (a zero vector
gets a zero gradient instead of NaN), which distances between equal points need.
"""
import math

import numpy as np

from ..autograd.function import Function, ShapeError
from ..backend import get_array_module
from ._operands import normalize_dim
from .arith import where, sign, abs as _abs, clamp
from .shape import reshape, broadcast_to

__all__ = ["cosine_similarity", "pairwise_distance", "cdist", "pdist"]


class VectorNorm(Function):
    """``(sum |x|^p) ** (1/p)`` along ``axis`` (kept as size 1); p may be inf, -inf or 0."""
    uses_outputs = True

    def __init__(self, axis, p):
        self.axis, self.p = axis, float(p)

    def forward(self, x):
        xp = get_array_module(x)
        p, ax = self.p, self.axis
        if p == 2:
            return xp.sqrt((x * x).sum(axis=ax, keepdims=True))
        a = xp.abs(x)
        if p == 1:
            return a.sum(axis=ax, keepdims=True)
        if p == math.inf:
            return a.max(axis=ax, keepdims=True)
        if p == -math.inf:
            return a.min(axis=ax, keepdims=True)
        if p == 0:
            return (a != 0).sum(axis=ax, keepdims=True).astype(x.dtype)
        return (a ** p).sum(axis=ax, keepdims=True) ** (1.0 / p)

    def backward(self, gy):
        x, n, p = self.inputs[0], self.output(), self.p
        if p == 0:
            return None
        if p == 2:
            # x / n is 0/0 for a zero vector: divide by 1 there (x is 0, so the gradient is 0)
            return gy * x / where(n == 0, 1.0, n)
        if p == 1:
            return gy * sign(x)
        if math.isinf(p):
            hit = (_abs(x) == n).to(x.dtype)
            return gy * sign(x) * hit / hit.sum(self.axis, keepdim=True)
        safe = where(n == 0, 1.0, n)
        return gy * sign(x) * _abs(x) ** (p - 1) / safe ** (p - 1)


def vector_norm(x, axis, p, keepdim=False):
    """The p-norm along ``axis`` (an int); differentiable, zero gradient at zero vectors."""
    n = VectorNorm(axis, p)(x)
    if keepdim:
        return n
    return reshape(n, x.shape[:axis] + x.shape[axis + 1:])


def _broadcast_pair(x1, x2, what):
    try:
        shape = np.broadcast_shapes(x1.shape, x2.shape)  # shapes only, no data
    except ValueError:
        raise ShapeError(f"{what}: x1 of shape {tuple(x1.shape)} and x2 of shape "
                         f"{tuple(x2.shape)} cannot be broadcast together") from None
    return broadcast_to(x1, shape), broadcast_to(x2, shape)


def cosine_similarity(x1, x2, dim=1, eps=1e-8):
    """<x1, x2> / (max(|x1|, eps) * max(|x2|, eps)) along ``dim`` (inputs broadcast)."""
    x1, x2 = _broadcast_pair(x1, x2, "cosine_similarity")
    dim = normalize_dim(dim, x1.ndim)
    n1 = clamp(VectorNorm(dim, 2)(x1), min=eps)
    n2 = clamp(VectorNorm(dim, 2)(x2), min=eps)
    return ((x1 / n1) * (x2 / n2)).sum(dim)


def pairwise_distance(x1, x2, p=2.0, eps=1e-6, keepdim=False):
    """p-norm of ``x1 - x2 + eps`` over the last dim (torch adds eps to the difference)."""
    x1, x2 = _broadcast_pair(x1, x2, "pairwise_distance")
    diff = x1 - x2 + eps
    if diff.ndim == 0:
        return _abs(diff)
    return vector_norm(diff, diff.ndim - 1, p, keepdim)


def cdist(x1, x2, p=2.0, compute_mode="use_mm_for_euclid_dist_if_necessary"):
    """Distances between each row of x1 (..., P, M) and each row of x2 (..., R, M)."""
    if x1.ndim < 2 or x2.ndim < 2 or x1.shape[-1] != x2.shape[-1]:
        raise ShapeError(f"cdist: x1 of shape {tuple(x1.shape)} and x2 of shape "
                         f"{tuple(x2.shape)} must be (..., P, M) and (..., R, M)")
    if p < 0:
        raise RuntimeError(f"cdist only supports non-negative p values, got {p}")
    a = reshape(x1, x1.shape[:-1] + (1, x1.shape[-1]))
    b = reshape(x2, x2.shape[:-2] + (1,) + x2.shape[-2:])
    diff = a - b
    return vector_norm(diff, diff.ndim - 1, p)


def pdist(input, p=2):
    """Distances between all pairs of rows i < j of an (N, M) input, in row-major order."""
    from .embedding import Gather
    if input.ndim != 2:
        raise ShapeError(f"pdist only supports 2D tensors, got shape {tuple(input.shape)}")
    if p < 0:
        raise RuntimeError(f"pdist only supports non-negative p values, got {p}")
    xp = get_array_module(input._data)
    n = input.shape[0]
    i, j = xp.triu_indices(n, 1)
    diff = Gather(i, n)(input) - Gather(j, n)(input)
    if diff.shape[0] == 0:
        return reshape(diff.sum(1), (0,))
    return vector_norm(diff, 1, p)

