"""Distances and similarities: cosine_similarity, pairwise_distance, cdist, pdist.

``VectorNorm`` is the p-norm along one axis with torch's subgradient at zero (a zero vector
gets a zero gradient instead of NaN), which distances between equal points need.
"""
import math

import numpy as np

from ..autograd.function import Function, ShapeError
from ..backend import get_array_module
from ..tensor import Tensor
from ._operands import normalize_dim
from .arith import where, sign, abs as _abs, clamp
from .linalg import matmul
from .shape import reshape, broadcast_to, transpose, unsqueeze

__all__ = ["cosine_similarity", "pairwise_distance", "cdist", "pdist"]


class VectorNorm(Function):
    """``(sum |x|^p) ** (1/p)`` along ``axis`` (kept as size 1); p may be inf, -inf or 0.
    A complex x has a real norm (that of |x|); its gradient is the real one times sgn(x)."""
    uses_outputs = True

    def __init__(self, axis, p):
        self.axis, self.p = axis, float(p)

    def forward(self, x):
        xp = get_array_module(x)
        p, ax = self.p, self.axis
        if x.dtype.kind == "c":
            x = xp.abs(x)
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
        x = self.inputs[0]
        if x._data.dtype.kind != "c":
            return self._real_backward(gy, x)
        a = _abs(x)
        ga = self._real_backward(gy, a)  # (the gradient with respect to |x|, 0 where x is 0)
        return None if ga is None else ga * x / where(a == 0, 1.0, a)

    def _real_backward(self, gy, x):
        n, p = self.output(), self.p
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
    """p-norm of ``x1 - x2 + eps`` over the last dim (torch adds eps to the difference); real
    for complex inputs."""
    x1, x2 = _broadcast_pair(x1, x2, "pairwise_distance")
    diff = x1 - x2 + eps
    if diff.ndim == 0:
        return _abs(diff)
    return vector_norm(diff, diff.ndim - 1, p, keepdim)


_CDIST_MODES = ("use_mm_for_euclid_dist_if_necessary", "use_mm_for_euclid_dist",
                "donot_use_mm_for_euclid_dist")


class _EuclidDist(Function):
    """Euclidean distances by one matmul: |a - b|^2 = |a|^2 + |b|^2 - 2 a.b, clamped at 0.

    No (P, R, M) difference tensor is made. grad: with w = g / d (0 where d = 0),
    gx1 = x1 * sum_j w - w @ x2 and gx2 = x2 * sum_i w - w^T @ x1 (written with narae ops,
    so it has a double backward).
    """
    uses_outputs = True

    def forward(self, x1, x2):
        xp = get_array_module(x1)
        n1 = (x1 * x1).sum(-1, keepdims=True)
        n2 = (x2 * x2).sum(-1, keepdims=True)
        one1, one2 = xp.ones_like(n1), xp.ones_like(n2)
        # the norms ride along in the GEMM as two extra columns (as torch computes it)
        a = xp.concatenate([x1 * x1.dtype.type(-2), n1, one1], -1)
        b = xp.concatenate([x2, one2, n2], -1)
        d2 = xp.matmul(a, xp.swapaxes(b, -1, -2))
        return xp.sqrt(xp.maximum(d2, 0, out=d2), out=d2)

    def backward(self, g):
        x1, x2 = self.inputs
        d = self.output()
        zero = d == 0
        w = where(zero, 0.0, g / where(zero, 1.0, d))
        gx1 = x1 * w.sum(-1, keepdim=True) - matmul(w, x2) if x1.requires_grad else None
        gx2 = (x2 * unsqueeze(w.sum(-2), -1) - matmul(transpose(w, -1, -2), x1)
               if x2.requires_grad else None)
        return gx1, gx2


# Pairwise |x1_im - x2_jm| over a (P, R, M) array with M innermost runs NumPy's inner loops
# over M (often 3-64 long) and allocates P*R*M values: slow. With enough pairs the work loops
# over the coordinates m instead, on reused (P, R) buffers whose inner loops are R long.
_PAIRS_PER_STEP = 4096


def _l1_loop(xp, x1, x2):
    return x1.shape[-1] and math.prod(np.broadcast_shapes(x1.shape[:-1], x2.shape[:-2]
                                                          + (1,))) * x2.shape[-2] \
        >= _PAIRS_PER_STEP


def _pair_shape(x1, x2):
    """(*batch, P, R) of the distances between the rows of x1 and x2."""
    return tuple(np.broadcast_shapes(x1.shape[:-2], x2.shape[:-2])) + (x1.shape[-2],
                                                                       x2.shape[-2])


def _nan_free(xp, *arrays):
    """True when no array has a NaN (known without a device read-back only on the CPU)."""
    return xp is np and not any(bool(np.isnan(a).any()) for a in arrays)


class _CdistL1(Function):
    """Manhattan distances sum_m |x1_im - x2_jm| without autograd over the (P, R, M)
    differences: forward and backward are fused array passes.

    grad: gx1_i = sum_j g_ij sign(x1_i - x2_j), gx2_j = -sum_i g_ij sign(x1_i - x2_j)
    (``_CdistL1Grad``, whose own derivative exists too: it is linear in g).
    """

    def forward(self, x1, x2):
        xp = get_array_module(x1)
        if not _l1_loop(xp, x1, x2):
            d = x1[..., :, None, :] - x2[..., None, :, :]
            return xp.abs(d, out=d).sum(-1)
        shape = _pair_shape(x1, x2)
        out = xp.zeros(shape, xp.result_type(x1, x2))
        t = xp.empty_like(out)
        for m in range(x1.shape[-1]):
            xp.subtract(x1[..., :, m, None], x2[..., None, :, m], out=t)
            out += xp.abs(t, out=t)
        return out

    def backward(self, g):
        x1, x2 = self.inputs
        return _CdistL1Grad(x1.requires_grad, x2.requires_grad)(x1, x2, g)


class _CdistL1Grad(Function):
    """(gx1, gx2) of _CdistL1 for the output gradient g, with sign(NaN) = 0 (torch's sign).
    sign() is locally constant, so the derivative reaches g only:
    gg_ij = sum_m sign_ijm (ggx1_im - ggx2_jm)."""

    def __init__(self, need1=True, need2=True):
        self.need1, self.need2 = need1, need2

    def forward(self, x1, x2, g):
        xp = get_array_module(x1)
        g = g.astype(xp.result_type(x1, x2), copy=False)
        batch = g.shape[:-2]
        g1 = xp.zeros(batch + x1.shape[-2:], g.dtype)
        g2 = xp.zeros(batch + x2.shape[-2:], g.dtype)
        clean = _nan_free(xp, x1, x2)
        if not _l1_loop(xp, x1, x2):
            s = xp.sign(x1[..., :, None, :] - x2[..., None, :, :])
            if not clean:
                s = xp.where(s == s, s, 0)
            if self.need1:
                g1 = xp.einsum("...ijm,...ij->...im", s, g)
            if self.need2:
                g2 = -xp.einsum("...ijm,...ij->...jm", s, g)
            return g1, g2
        s = xp.empty(_pair_shape(x1, x2), g.dtype)
        for m in range(x1.shape[-1]):
            xp.subtract(x1[..., :, m, None], x2[..., None, :, m], out=s)
            xp.sign(s, out=s)
            if not clean:
                s = xp.where(s == s, s, 0)
            s *= g
            if self.need1:
                g1[..., m] = s.sum(-1)
            if self.need2:
                g2[..., m] = -s.sum(-2)
        return g1, g2

    def backward(self, gg1, gg2):
        x1, x2, g = self.inputs
        if not g.requires_grad:
            return None, None, None
        xp = get_array_module(x1._data)
        s = xp.sign(x1._data[..., :, None, :] - x2._data[..., None, :, :])
        s = Tensor(xp.where(s == s, s, 0))
        gg = (s * (unsqueeze(gg1, -2) - unsqueeze(gg2, -3))).sum(-1)
        return None, None, gg


class _PairEuclid(Function):
    """Euclidean distances d_ij = |x1_i - x2_j| from the differences themselves (exact for
    close points, unlike the matmul form), summed coordinate by coordinate on (P, R)
    buffers when there are many pairs. Backward: ``_PairEuclidGrad``."""
    uses_outputs = True

    def forward(self, x1, x2):
        xp = get_array_module(x1)
        if not _l1_loop(xp, x1, x2):
            d = x1[..., :, None, :] - x2[..., None, :, :]
            return xp.sqrt((d * d).sum(-1))
        out = xp.zeros(_pair_shape(x1, x2), xp.result_type(x1, x2))
        t = xp.empty_like(out)
        for m in range(x1.shape[-1]):
            xp.subtract(x1[..., :, m, None], x2[..., None, :, m], out=t)
            out += xp.square(t, out=t)
        return xp.sqrt(out, out=out)

    def backward(self, g):
        x1, x2 = self.inputs
        return _PairEuclidGrad(self._out_arrays[0], x1.requires_grad,
                               x2.requires_grad)(x1, x2, g)


class _PairEuclidGrad(Function):
    """gx1_i = sum_j w_ij (x1_i - x2_j), gx2_j = -sum_i w_ij (x1_i - x2_j), w = g / d (0 at
    d = 0), from the differences coordinate by coordinate.

    Its own backward (for cotangents v_ij = gg1_i - gg2_j and unit vectors u_ij):
    gg_ij = u_ij . v_ij and gx1_i = sum_j (g_ij / d_ij) (v_ij - u_ij (u_ij . v_ij)), written
    with narae ops over the (P, R, M) differences, so every order exists.
    """

    def __init__(self, d, need1=True, need2=True):
        self.d, self.need1, self.need2 = d, need1, need2

    def forward(self, x1, x2, g):
        xp = get_array_module(x1)
        d, self.d = self.d, None
        with np.errstate(divide="ignore", invalid="ignore"):
            w = xp.where(d == 0, 0, g / d).astype(d.dtype, copy=False)
        batch = w.shape[:-2]
        g1 = xp.zeros(batch + x1.shape[-2:], w.dtype)
        g2 = xp.zeros(batch + x2.shape[-2:], w.dtype)
        t = xp.empty_like(w)
        for m in range(x1.shape[-1]):
            xp.subtract(x1[..., :, m, None], x2[..., None, :, m], out=t)
            t *= w
            if self.need1:
                g1[..., m] = t.sum(-1)
            if self.need2:
                g2[..., m] = -t.sum(-2)
        return g1, g2

    def backward(self, gg1, gg2):
        x1, x2, g = self.inputs
        diff = unsqueeze(x1, -2) - unsqueeze(x2, -3)
        d = VectorNorm(diff.ndim - 1, 2)(diff)                 # (..., P, R, 1)
        zero = d._data == 0
        dsafe = where(Tensor(zero), 1.0, d)
        u = diff / dsafe
        v = 0
        if gg1 is not None:
            v = unsqueeze(gg1, -2)
        if gg2 is not None:
            v = v - unsqueeze(gg2, -3)
        uv = (u * v).sum(-1, keepdim=True)
        coef = where(Tensor(zero), 0.0, unsqueeze(g, -1) / dsafe)
        t = coef * (v - u * uv)
        gx1 = t.sum(-2) if x1.requires_grad else None
        gx2 = -t.sum(-3) if x2.requires_grad else None
        gg = reshape(uv, uv.shape[:-1]) if g.requires_grad else None
        return gx1, gx2, gg


def cdist(x1, x2, p=2.0, compute_mode="use_mm_for_euclid_dist_if_necessary"):
    """Distances between each row of x1 (..., P, M) and each row of x2 (..., R, M).

    p = 2 goes through one matmul (``_EuclidDist``) when ``compute_mode`` asks for it or,
    by default, when P > 25 or R > 25 (torch's rule); otherwise the p-norm of the
    broadcast differences.
    """
    if x1.ndim < 2 or x2.ndim < 2 or x1.shape[-1] != x2.shape[-1]:
        raise ShapeError(f"cdist: x1 of shape {tuple(x1.shape)} and x2 of shape "
                         f"{tuple(x2.shape)} must be (..., P, M) and (..., R, M)")
    if p < 0:
        raise RuntimeError(f"cdist only supports non-negative p values, got {p}")
    if compute_mode not in _CDIST_MODES:
        raise ValueError(f"{compute_mode} is not a valid value for compute_mode")
    if p == 2 and compute_mode != _CDIST_MODES[2] and (
            compute_mode == _CDIST_MODES[1] or x1.shape[-2] > 25 or x2.shape[-2] > 25):
        if x1._data.dtype != x2._data.dtype:
            raise RuntimeError(f"cdist: x1 and x2 must have the same dtype, got {x1.dtype} "
                               f"and {x2.dtype}")
        try:
            np.broadcast_shapes(x1.shape[:-2], x2.shape[:-2])  # shapes only, no data
        except ValueError:
            raise ShapeError(f"cdist: the batch dimensions of x1 {tuple(x1.shape)} and x2 "
                             f"{tuple(x2.shape)} cannot be broadcast together") from None
        return _EuclidDist()(x1, x2)
    if p == 1 and x1._data.dtype == x2._data.dtype:
        try:
            np.broadcast_shapes(x1.shape[:-2], x2.shape[:-2])
        except ValueError:
            raise ShapeError(f"cdist: the batch dimensions of x1 {tuple(x1.shape)} and x2 "
                             f"{tuple(x2.shape)} cannot be broadcast together") from None
        return _CdistL1()(x1, x2)
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
    if p == 2 and i.shape[0]:  # the full distance matrix by fused passes, then i < j
        full = _PairEuclid()(input, input)
        return reshape(Gather(i * n + j, n * n)(reshape(full, (n * n, 1))), (i.shape[0],))
    diff = Gather(i, n)(input) - Gather(j, n)(input)
    if diff.shape[0] == 0:
        return reshape(diff.sum(1), (0,))
    return vector_norm(diff, 1, p)

