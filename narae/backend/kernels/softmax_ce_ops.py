"""Python side of ``softmax_ce.cu``: row-wise softmax / log_softmax and the fused softmax
cross-entropy against class indices.

A row is the C values along one axis; the kernels read them in place from the C-order
array (no transpose to put the axis last). One thread walks a row, so these apply for
``C <= MAX_CLASSES``; wider rows keep the array code.
"""
import math

import numpy as np

from . import launch_1d
from .activation_ops import on_kernel_path
from ..arrays import get_array_module

__all__ = ["MAX_CLASSES", "rowwise_usable", "softmax", "softmax_backward",
           "CrossEntropyRows"]

_MODULE = "softmax_ce"
_FLOATS = (np.dtype(np.float32), np.dtype(np.float64))
MAX_CLASSES = 4096


def _layout(shape, axis):
    """(rows, C, D): rows = outer * D rows of C values, D the extent after ``axis``."""
    c = shape[axis]
    d = math.prod(shape[axis + 1:])
    return math.prod(shape[:axis]) * d, c, d


def _contiguous(a):
    return get_array_module(a).ascontiguousarray(a)


def rowwise_usable(x, axis, *others):
    """Kernel path for a reduction of ``x`` along ``axis`` (``others``: same shape/dtype)?"""
    if not on_kernel_path(x) or axis is None or x.dtype not in _FLOATS:
        return False
    if x.size == 0 or not 0 < x.shape[axis] <= MAX_CLASSES:
        return False
    return all(o.dtype == x.dtype and o.shape == x.shape for o in others)


def softmax(x, axis, log=False):
    """softmax(x) (or log_softmax with ``log``) along ``axis``, one pass per row."""
    xp = get_array_module(x)
    rows, c, d = _layout(x.shape, axis)
    y = xp.empty(x.shape, x.dtype)
    kernel = "log_softmax_fwd" if log else "softmax_fwd"
    launch_1d(_MODULE, kernel, x.dtype, rows, [_contiguous(x), y, rows, c, d])
    return y


def softmax_backward(y, gy, axis, log=False):
    """The input gradient from the output ``y`` and its gradient ``gy`` (no graph)."""
    xp = get_array_module(y)
    rows, c, d = _layout(y.shape, axis)
    gx = xp.empty(y.shape, y.dtype)
    kernel = "log_softmax_bwd" if log else "softmax_bwd"
    launch_1d(_MODULE, kernel, y.dtype, rows, [_contiguous(y), _contiguous(gy), gx, rows, c, d])
    return gx


class CrossEntropyRows:
    """Softmax cross-entropy of logits ``x`` (class axis ``axis``) against class indices.

    ``forward`` gives the per-row losses (the target's shape) and keeps what ``backward``
    needs: each row's log-sum-exp and the sum of its target distribution. ``row_weight``
    holds w[target] (0 where ignored), whose sum is the weighted mean's denominator.
    """

    def __init__(self, axis, target, weight, ignore_index, smoothing):
        self.axis = axis
        self.target = target
        self.weight = weight
        self.ignore_index = int(ignore_index)
        self.smoothing = float(smoothing)

    def _common(self, x):
        """The arguments shared by both kernels: x, target, weight (C-contiguous), layout."""
        xp = get_array_module(x)
        x = xp.ascontiguousarray(x)
        target = xp.ascontiguousarray(self.target, dtype=np.int64)
        if self.weight is None:
            weight, has_weight = x, 0  # not read
        else:
            weight, has_weight = xp.ascontiguousarray(self.weight, dtype=x.dtype), 1
        return (xp, x, target, weight, has_weight) + _layout(x.shape, self.axis)

    def _scales(self, c):
        return 1.0 - self.smoothing, self.smoothing / c

    def forward(self, x):
        xp, x, target, weight, has_weight, rows, c, d = self._common(x)
        loss = xp.empty(self.target.shape, x.dtype)
        self.lse, self.qsum, self.row_weight = (xp.empty(rows, x.dtype) for _ in range(3))
        hit, spread = self._scales(c)
        launch_1d(_MODULE, "cross_entropy_fwd", x.dtype, rows,
                  [x, target, weight, loss, self.lse, self.qsum, self.row_weight,
                   rows, c, d, self.ignore_index, hit, spread, has_weight])
        return loss

    def backward(self, x, gloss):
        """d loss / d x given the per-row loss gradient ``gloss`` (the target's shape)."""
        xp, x, target, weight, has_weight, rows, c, d = self._common(x)
        gx = xp.empty(x.shape, x.dtype)
        hit, spread = self._scales(c)
        gloss = xp.ascontiguousarray(gloss, dtype=x.dtype)
        launch_1d(_MODULE, "cross_entropy_bwd", x.dtype, x.size,
                  [x, target, weight, self.lse, self.qsum, gloss, gx, x.size,
                   c, d, self.ignore_index, hit, spread, has_weight])
        return gx
