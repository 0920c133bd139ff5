"""``scaled_dot_product_attention``: softmax(q k^T * scale + mask) v as one fused node.

The forward keeps the attention weights P; the backward is the usual
dP = dO v^T, dS = P * (dP - rowsum(dP * P)), dq = dS k * scale, dk = dS^T q * scale, dv = P^T dO
as array code, or as narae ops under create_graph (double backward). Rows whose every key is
masked out give zero weights (torch's safe softmax), not NaN.
"""
import math

import numpy as np

from .._dtype import is_floating
from ..autograd import grad_mode
from ..autograd.function import Function, ShapeError
from ..backend import get_array_module
from ..tensor import Tensor
from . import _bf16
from .activation import softmax
from .arith import where
from .linalg import matmul
from .shape import reshape, transpose
from .dropout import keep_mask

__all__ = ["scaled_dot_product_attention"]


def _safe_softmax_array(s):
    """Softmax along the last axis; a row of only -inf gives zeros (not NaN)."""
    xp = get_array_module(s)
    m = s.max(axis=-1, keepdims=True)
    m = xp.where(xp.isfinite(m), m, 0)
    p = xp.exp(s - m)
    total = p.sum(axis=-1, keepdims=True)
    p /= xp.where(total == 0, 1, total)
    return p


class Attention(Function):
    """O = dropout(softmax(q k^T * scale + bias)) v; inputs q, k, v and optionally the additive
    bias (a float mask, differentiable like torch's). Batch dims broadcast."""

    def __init__(self, scale, drop=None, has_bias=False):
        self.scale, self.drop, self.has_bias = scale, drop, has_bias

    def forward(self, q, k, v, bias=None):
        xp = get_array_module(q)
        # bfloat16: scores, softmax and both products in float32, the output rounded once
        # (as fused attention kernels do); P is kept in float32 for the backward pass
        (q, k, v, bias), low = _bf16.widen(q, k, v, bias)
        s = xp.matmul(q, xp.swapaxes(k, -1, -2))
        s *= self.scale
        if bias is not None:
            s = s + bias
        p = _safe_softmax_array(s)
        self.p = p
        if self.drop is not None:
            p = p * self.drop
        return _bf16.narrow(xp.matmul(p, v), low)

    def backward(self, go):
        if grad_mode.state.enabled:
            return self._backward_graph(go)
        q, k, v = (t._data for t in self.inputs[:3])
        xp = get_array_module(q)
        (q, k, v, g), _ = _bf16.widen(q, k, v, go._data)  # (the engine rounds the grads)
        p = self.p
        pd = p if self.drop is None else p * self.drop
        need = [t.requires_grad for t in self.inputs]
        gv = xp.matmul(xp.swapaxes(pd, -1, -2), g) if need[2] else None
        gq = gk = gb = None
        if need[0] or need[1] or (self.has_bias and need[3]):
            dp = xp.matmul(g, xp.swapaxes(v, -1, -2))
            if self.drop is not None:
                dp *= self.drop
            ds = dp - (dp * p).sum(axis=-1, keepdims=True)
            ds *= p
            if self.has_bias and need[3]:
                gb = Tensor(ds.copy())
            ds *= self.scale
            if need[0]:
                gq = Tensor(xp.matmul(ds, k))
            if need[1]:
                gk = Tensor(xp.matmul(xp.swapaxes(ds, -1, -2), q))
        grads = (gq, gk, None if gv is None else Tensor(gv))
        return grads + (gb,) if self.has_bias else grads

    def _backward_graph(self, go):
        """The same gradients as narae ops, recomputing P from the inputs."""
        q, k, v = self.inputs[:3]
        s = matmul(q, transpose(k, -1, -2)) * self.scale
        if self.has_bias:
            s = s + self.inputs[3]
        dead = self.p.sum(axis=-1, keepdims=True) == 0  # rows with every key masked out
        if dead.any():
            # softmax of an all -inf row is NaN: use a dummy row there and zero it after
            s = where(Tensor(dead), 0.0, s)
            p = softmax(s, -1) * Tensor((~dead).astype(self.p.dtype))
        else:
            p = softmax(s, -1)
        pd = p if self.drop is None else p * Tensor(self.drop)
        gv = matmul(transpose(pd, -1, -2), go)
        dp = matmul(go, transpose(v, -1, -2))
        if self.drop is not None:
            dp = dp * Tensor(self.drop)
        ds = p * (dp - (dp * p).sum(-1, keepdim=True))
        gq = matmul(ds, k) * self.scale
        gk = matmul(transpose(ds, -1, -2), q) * self.scale
        grads = (gq, gk, gv)
        return grads + (ds,) if self.has_bias else grads


def _to_additive(mask, like, what):
    """A boolean mask (True = take part) as 0 / -inf, or a float mask as it is."""
    xp = get_array_module(like._data)
    if mask._data.dtype.kind == "b":
        return Tensor(xp.where(mask._data, 0.0, -np.inf).astype(like._data.dtype))
    if not is_floating(mask._data.dtype):
        raise TypeError(f"{what}: attn_mask must be a bool or float tensor, got {mask.dtype}")
    return mask if mask._data.dtype == like._data.dtype else mask.to(like.dtype)


def scaled_dot_product_attention(query, key, value, attn_mask=None, dropout_p=0.0,
                                 is_causal=False, scale=None, enable_gqa=False):
    """Attention of query (..., L, E) over key (..., S, E) and value (..., S, Ev).

    attn_mask broadcasts to (..., L, S): boolean (True = take part) or float (added to the
    scores). ``is_causal`` masks key j > query i. ``enable_gqa`` lets key/value have fewer
    heads (dim -3) than query, each shared by a group of query heads.
    """
    what = "scaled_dot_product_attention"
    if query.ndim < 2 or key.ndim < 2 or value.ndim < 2:
        raise ShapeError(f"{what}: query, key and value need at least 2 dims, got shapes "
                         f"{tuple(query.shape)}, {tuple(key.shape)}, {tuple(value.shape)}")
    if query.shape[-1] != key.shape[-1] or key.shape[-2] != value.shape[-2]:
        raise ShapeError(f"{what}: query {tuple(query.shape)}, key {tuple(key.shape)} and value "
                         f"{tuple(value.shape)} do not fit (need query (..., L, E), key "
                         f"(..., S, E), value (..., S, Ev))")
    if not 0.0 <= dropout_p <= 1.0:
        raise ValueError(f"dropout probability has to be between 0 and 1, but got {dropout_p}")
    if is_causal and attn_mask is not None:
        raise RuntimeError(f"{what}: an explicit attn_mask should not be set when is_causal=True")
    xp = get_array_module(query._data)
    L, S = query.shape[-2], key.shape[-2]
    scale = 1.0 / math.sqrt(query.shape[-1]) if scale is None else float(scale)
    bias = None
    if is_causal:
        bias = Tensor(xp.where(xp.tril(xp.ones((L, S), dtype=bool)), 0.0, -np.inf)
                      .astype(query._data.dtype))
    elif attn_mask is not None:
        bias = _to_additive(attn_mask, query, what)
    out_shape = None
    if enable_gqa and query.ndim >= 3 and key.shape[-3] != query.shape[-3]:
        hq, hkv = query.shape[-3], key.shape[-3]
        if hkv == 0 or hq % hkv or value.shape[-3] != hkv:
            raise ShapeError(f"{what}: with enable_gqa the query heads ({hq}) must be a multiple "
                             f"of the key/value heads; got query {tuple(query.shape)}, key "
                             f"{tuple(key.shape)}, value {tuple(value.shape)}")
        group = hq // hkv
        lead = query.shape[:-3]
        # query heads h = g_kv * group + j share key/value head g_kv: add a group axis
        query = reshape(query, lead + (hkv, group, L, query.shape[-1]))
        key = reshape(key, key.shape[:-3] + (hkv, 1, S, key.shape[-1]))
        value = reshape(value, value.shape[:-3] + (hkv, 1, S, value.shape[-1]))
        if bias is not None and bias.ndim >= 3 and bias.shape[-3] != 1:
            bias = reshape(bias, bias.shape[:-3] + (hkv, group, L, S))
        elif bias is not None and bias.ndim >= 3:
            bias = reshape(bias, bias.shape[:-3] + (1, 1, L, S))
        out_shape = lead + (hq, L, value.shape[-1])
    drop = None
    if dropout_p > 0.0:
        batch = np.broadcast_shapes(query.shape[:-2], key.shape[:-2])
        if bias is not None:
            batch = np.broadcast_shapes(batch, bias.shape[:-2])
        if dropout_p == 1.0:
            drop = xp.zeros(batch + (L, S), query._data.dtype)
        else:
            drop = keep_mask(batch + (L, S), dropout_p, query._data)
            drop *= 1.0 / (1.0 - dropout_p)
    fn = Attention(scale, drop, bias is not None)
    out = fn(query, key, value, bias) if bias is not None else fn(query, key, value)
    return out if out_shape is None else reshape(out, out_shape)
