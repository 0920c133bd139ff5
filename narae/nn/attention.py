"""Attention layers: ``MultiheadAttention`` (torch's), and the additive (Bahdanau) and
multiplicative (Luong) attentions that encoder-decoder RNNs use to look at the source.

``MultiheadAttention`` follows ``torch.nn.MultiheadAttention`` argument for argument, parameter
name for parameter name, so a torch state_dict loads into it unchanged. Its masks follow
torch: in ``attn_mask`` and ``key_padding_mask`` a boolean True means *not allowed*, a float
is added to the attention scores.

``BahdanauAttention`` and ``LuongAttention`` take ``mask`` with True = *a real position*
(the natural reading of "the valid part of a padded batch").
"""
import math

import numpy as np

from .. import creation
from .._dtype import is_floating
from ..backend import get_array_module
from ..ops.shape import cat
from ..tensor import Tensor
from . import functional as F
from . import init
from .linear import Linear
from .module import Module
from .parameter import Parameter

__all__ = ["MultiheadAttention", "BahdanauAttention", "LuongAttention"]


class NonDynamicallyQuantizableLinear(Linear):
    """A Linear under torch's name for MultiheadAttention's ``out_proj`` (same repr as torch)."""


def _additive_mask(mask, like, what):
    """A torch-style mask as a float tensor to add to scores: bool True -> -inf, float as is."""
    if mask is None:
        return None
    if not isinstance(mask, Tensor):
        mask = creation.as_tensor(mask)
    if mask._data.dtype.kind == "b":
        xp = get_array_module(like._data)
        return Tensor(xp.where(mask._data, -np.inf, 0.0).astype(like._data.dtype))
    if not is_floating(mask._data.dtype):
        raise TypeError(f"MultiheadAttention: only bool and floating types of {what} are "
                        f"supported, got {mask.dtype}")
    return mask if mask._data.dtype == like._data.dtype else mask.to(like.dtype)


class MultiheadAttention(Module):
    """Attention over ``num_heads`` subspaces of ``embed_dim``: softmax(Q K^T / sqrt(d)) V per
    head, heads concatenated and mixed by ``out_proj``.

    Shapes (batch_first=False): query (L, N, E), key (S, N, kdim), value (S, N, vdim); with
    batch_first the batch comes first; unbatched inputs drop N. Returns
    ``(output, weights)``; weights are (N, L, S) averaged over heads, (N, H, L, S) when
    ``average_attn_weights=False``, None when ``need_weights=False``.
    """

    def __init__(self, embed_dim, num_heads, dropout=0.0, bias=True, add_bias_kv=False,
                 add_zero_attn=False, kdim=None, vdim=None, batch_first=False, device=None,
                 dtype=None):
        super().__init__()
        if embed_dim <= 0 or num_heads <= 0:
            raise ValueError(f"embed_dim and num_heads must be greater than 0, got "
                             f"embed_dim={embed_dim} and num_heads={num_heads} instead")
        self.embed_dim = embed_dim
        self.kdim = kdim if kdim is not None else embed_dim
        self.vdim = vdim if vdim is not None else embed_dim
        self._qkv_same_embed_dim = self.kdim == embed_dim and self.vdim == embed_dim
        self.num_heads = num_heads
        self.dropout = dropout
        self.batch_first = batch_first
        self.head_dim = embed_dim // num_heads
        if self.head_dim * num_heads != embed_dim:
            raise AssertionError("embed_dim must be divisible by num_heads")
        kw = dict(device=device, dtype=dtype)
        if self._qkv_same_embed_dim:
            self.in_proj_weight = Parameter(creation.empty(3 * embed_dim, embed_dim, **kw))
            self.register_parameter("q_proj_weight", None)
            self.register_parameter("k_proj_weight", None)
            self.register_parameter("v_proj_weight", None)
        else:
            self.q_proj_weight = Parameter(creation.empty(embed_dim, embed_dim, **kw))
            self.k_proj_weight = Parameter(creation.empty(embed_dim, self.kdim, **kw))
            self.v_proj_weight = Parameter(creation.empty(embed_dim, self.vdim, **kw))
            self.register_parameter("in_proj_weight", None)
        if bias:
            self.in_proj_bias = Parameter(creation.empty(3 * embed_dim, **kw))
        else:
            self.register_parameter("in_proj_bias", None)
        self.out_proj = NonDynamicallyQuantizableLinear(embed_dim, embed_dim, bias=bias, **kw)
        if add_bias_kv:
            self.bias_k = Parameter(creation.empty(1, 1, embed_dim, **kw))
            self.bias_v = Parameter(creation.empty(1, 1, embed_dim, **kw))
        else:
            self.bias_k = self.bias_v = None
        self.add_zero_attn = add_zero_attn
        self._reset_parameters()

    def _reset_parameters(self):
        # as torch: Xavier for the projections, zero biases, Xavier-normal for bias_k/v
        if self._qkv_same_embed_dim:
            init.xavier_uniform_(self.in_proj_weight)
        else:
            init.xavier_uniform_(self.q_proj_weight)
            init.xavier_uniform_(self.k_proj_weight)
            init.xavier_uniform_(self.v_proj_weight)
        if self.in_proj_bias is not None:
            init.constant_(self.in_proj_bias, 0.0)
            init.constant_(self.out_proj.bias, 0.0)
        if self.bias_k is not None:
            init.xavier_normal_(self.bias_k)
            init.xavier_normal_(self.bias_v)

    # -- projections ----------------------------------------------------------------------
    def _project(self, query, key, value):
        E = self.embed_dim
        b = self.in_proj_bias
        bq, bk, bv = (None, None, None) if b is None else (b[:E], b[E:2 * E], b[2 * E:])
        if self._qkv_same_embed_dim:
            w = self.in_proj_weight
            if query is key and key is value:  # self-attention: one matmul for q, k and v
                return F.linear(query, w, b).chunk(3, -1)
            wq, wk, wv = w[:E], w[E:2 * E], w[2 * E:]
        else:
            wq, wk, wv = self.q_proj_weight, self.k_proj_weight, self.v_proj_weight
        return F.linear(query, wq, bq), F.linear(key, wk, bk), F.linear(value, wv, bv)

    def _check_shapes(self, query, key, value):
        if query.ndim not in (2, 3) or key.ndim != query.ndim or value.ndim != query.ndim:
            raise RuntimeError(f"MultiheadAttention: query, key and value must all be 3-D "
                               f"(batched) or 2-D (unbatched), got {tuple(query.shape)}, "
                               f"{tuple(key.shape)}, {tuple(value.shape)}")
        if (query.shape[-1] != self.embed_dim or key.shape[-1] != self.kdim
                or value.shape[-1] != self.vdim or key.shape[:-1] != value.shape[:-1]):
            raise RuntimeError(f"MultiheadAttention: expected query (..., {self.embed_dim}), "
                               f"key (..., {self.kdim}) and value (..., {self.vdim}) with the "
                               f"same leading dims, got {tuple(query.shape)}, "
                               f"{tuple(key.shape)}, {tuple(value.shape)}")

    def forward(self, query, key, value, key_padding_mask=None, need_weights=True,
                attn_mask=None, average_attn_weights=True, is_causal=False):
        self._check_shapes(query, key, value)
        batched = query.ndim == 3
        if not batched or self.batch_first:
            # to (L, N, E); keep q is k is v so self-attention projects in one matmul
            move = (lambda t: t.unsqueeze(1)) if not batched else (lambda t: t.transpose(0, 1))
            same_qk, same_kv = query is key, key is value
            query = move(query)
            key = query if same_qk else move(key)
            value = key if same_kv else move(value)
        if not batched:
            if key_padding_mask is not None:
                key_padding_mask = key_padding_mask.unsqueeze(0)
        out, weights = self._attend(query, key, value, key_padding_mask, need_weights,
                                    attn_mask, average_attn_weights, is_causal)
        if not batched:
            out = out.squeeze(1)
            weights = None if weights is None else weights.squeeze(0)
        elif self.batch_first:
            out = out.transpose(0, 1)
        return out, weights

    def _attend(self, query, key, value, key_padding_mask, need_weights, attn_mask,
                average, is_causal):
        L, N, E = query.shape
        S = key.shape[0]
        H, hd = self.num_heads, self.head_dim
        kpm = _additive_mask(key_padding_mask, query, "key_padding_mask")
        if kpm is not None and tuple(kpm.shape) != (N, S):
            raise RuntimeError(f"MultiheadAttention: key_padding_mask of shape "
                               f"{tuple(kpm.shape)}, expected {(N, S)}")
        if is_causal and attn_mask is None:
            raise RuntimeError("Need attn_mask if specifying the is_causal hint. You may use "
                               "generate_square_subsequent_mask to create this mask.")
        # torch: with no padding mask and no weights asked for, is_causal replaces attn_mask
        causal = is_causal and kpm is None and not need_weights
        mask = None if causal else _additive_mask(attn_mask, query, "attn_mask")
        if mask is not None:
            if mask.ndim == 2 and tuple(mask.shape) == (L, S):
                mask = mask.unsqueeze(0)
            elif mask.ndim != 3 or tuple(mask.shape) != (N * H, L, S):
                raise RuntimeError(f"MultiheadAttention: attn_mask of shape "
                                   f"{tuple(mask.shape)}, expected {(L, S)} or "
                                   f"{(N * H, L, S)}")
        q, k, v = self._project(query, key, value)
        if self.bias_k is not None:
            k = cat([k, self.bias_k.expand(1, N, E)], 0)
            v = cat([v, self.bias_v.expand(1, N, E)], 0)
            mask = None if mask is None else F.pad(mask, (0, 1))
            kpm = None if kpm is None else F.pad(kpm, (0, 1))
        q = q.reshape(L, N * H, hd).transpose(0, 1)
        k = k.reshape(k.shape[0], N * H, hd).transpose(0, 1)
        v = v.reshape(v.shape[0], N * H, hd).transpose(0, 1)
        if self.add_zero_attn:
            zeros = creation.zeros(N * H, 1, hd, dtype=q.dtype, device=q.device)
            k, v = cat([k, zeros], 1), cat([v, zeros], 1)
            mask = None if mask is None else F.pad(mask, (0, 1))
            kpm = None if kpm is None else F.pad(kpm, (0, 1))
        S = k.shape[1]
        if kpm is not None:
            kpm = kpm.reshape(N, 1, 1, S).expand(N, H, 1, S).reshape(N * H, 1, S)
            mask = kpm if mask is None else mask + kpm
        p = self.dropout if self.training else 0.0
        if need_weights:
            scores = (q * math.sqrt(1.0 / hd)).matmul(k.transpose(-2, -1))
            if mask is not None:
                scores = scores + mask
            w = F.softmax(scores, dim=-1)
            if p > 0.0:
                w = F.dropout(w, p=p)
            out = w.matmul(v).transpose(0, 1).reshape(L * N, E)
            out = self.out_proj(out).reshape(L, N, E)
            w = w.reshape(N, H, L, S)
            return out, (w.mean(1) if average else w)
        if mask is not None:
            mask = mask.unsqueeze(0) if mask.shape[0] == 1 else mask.reshape(N, H, -1, S)
        out = F.scaled_dot_product_attention(q.reshape(N, H, L, hd), k.reshape(N, H, S, hd),
                                             v.reshape(N, H, S, hd), attn_mask=mask,
                                             dropout_p=p, is_causal=causal)
        out = out.permute(2, 0, 1, 3).reshape(L * N, E)
        return self.out_proj(out).reshape(L, N, E), None


# -- encoder-decoder attentions -----------------------------------------------------------
def _masked_softmax(scores, mask):
    """softmax over the last dim with positions where ``mask`` is False excluded."""
    if mask is not None:
        if not isinstance(mask, Tensor):
            mask = creation.as_tensor(mask)
        if mask._data.dtype.kind != "b":
            mask = mask != 0
        if mask.ndim == scores.ndim - 1:  # (B, S) mask for (B, T, S) scores
            mask = mask.unsqueeze(-2)
        scores = scores.masked_fill(mask.logical_not(), float("-inf"))
    return F.softmax(scores, dim=-1)


def _as_steps(query, keys, what):
    """Accept a query (B, Dq) or (B, T, Dq) against keys (B, S, Dk); return it as (B, T, Dq)."""
    if keys.ndim != 3 or query.ndim not in (2, 3) or query.shape[0] != keys.shape[0]:
        raise RuntimeError(f"{what}: expected query (B, Dq) or (B, T, Dq) and keys (B, S, Dk), "
                           f"got {tuple(query.shape)} and {tuple(keys.shape)}")
    return query.unsqueeze(1) if query.ndim == 2 else query


def _finish(weights, keys, single):
    context = weights.matmul(keys)  # (B, T, Dk)
    if single:
        return context.squeeze(1), weights.squeeze(1)
    return context, weights


class BahdanauAttention(Module):
    """Additive attention: score(q, k) = v^T tanh(W_q q + W_k k).

    Its small MLP can compare a decoder state with encoder outputs of another size, which is
    why Bahdanau et al. (2015) used it. forward(query (B, Dq) or (B, T, Dq), keys (B, S, Dk),
    mask (B, S), True = real position) -> (context (B, [T,] Dk), weights (B, [T,] S)).
    """

    def __init__(self, query_dim, key_dim, hidden_dim):
        super().__init__()
        self.query_proj = Linear(query_dim, hidden_dim, bias=False)
        self.key_proj = Linear(key_dim, hidden_dim)
        self.score = Linear(hidden_dim, 1, bias=False)

    def forward(self, query, keys, mask=None, projected_keys=None):
        """``projected_keys``: ``key_proj(keys)`` computed once per source (saves work when
        decoding step by step)."""
        single = query.ndim == 2
        q = _as_steps(query, keys, "BahdanauAttention")
        pk = self.key_proj(keys) if projected_keys is None else projected_keys
        e = (self.query_proj(q).unsqueeze(2) + pk.unsqueeze(1)).tanh()  # (B, T, S, H)
        scores = self.score(e).squeeze(-1)  # (B, T, S)
        return _finish(_masked_softmax(scores, mask), keys, single)


class LuongAttention(Module):
    """Multiplicative attention of Luong et al. (2015): score(q, k) is
    'dot': q . k, 'general': q^T W k, or 'concat': v^T tanh(W [q; k]).

    'dot' and 'general' are one matmul over all source positions (cheap); 'concat' is the
    additive form. ``key_dim`` defaults to ``hidden_dim`` (a bidirectional encoder doubles it).
    """

    def __init__(self, hidden_dim, method="general", key_dim=None):
        super().__init__()
        if method not in ("dot", "general", "concat"):
            raise ValueError(f"LuongAttention: method must be 'dot', 'general' or 'concat', "
                             f"got {method!r}")
        key_dim = hidden_dim if key_dim is None else key_dim
        if method == "dot" and key_dim != hidden_dim:
            raise ValueError(f"LuongAttention: 'dot' needs key_dim == hidden_dim, got "
                             f"{key_dim} and {hidden_dim}")
        self.method, self.hidden_dim, self.key_dim = method, hidden_dim, key_dim
        if method == "general":
            self.weight = Linear(key_dim, hidden_dim, bias=False)
        elif method == "concat":
            self.weight = Linear(hidden_dim + key_dim, hidden_dim)
            self.score = Linear(hidden_dim, 1, bias=False)

    def forward(self, query, keys, mask=None):
        single = query.ndim == 2
        q = _as_steps(query, keys, "LuongAttention")
        if self.method == "dot":
            scores = q.matmul(keys.transpose(1, 2))
        elif self.method == "general":
            scores = q.matmul(self.weight(keys).transpose(1, 2))
        else:
            B, T, S = q.shape[0], q.shape[1], keys.shape[1]
            pair = cat([q.unsqueeze(2).expand(B, T, S, q.shape[-1]),
                        keys.unsqueeze(1).expand(B, T, S, keys.shape[-1])], -1)
            scores = self.score(self.weight(pair).tanh()).squeeze(-1)
        return _finish(_masked_softmax(scores, mask), keys, single)

    def extra_repr(self):
        return f"hidden_dim={self.hidden_dim}, method={self.method!r}, key_dim={self.key_dim}"
