"""Positional encodings: attention is blind to order, so each position gets a vector added
to its embedding.

``SinusoidalPositionalEncoding`` is the fixed table of Vaswani et al. (2017) (nothing to learn,
extends to any length up to ``max_len``); ``LearnedPositionalEncoding`` is a trained table.
Inputs are (S, N, E), or (N, S, E) with ``batch_first``, or unbatched (S, E).
"""
import math

import numpy as np

from .. import creation
from . import init
from .dropout import Dropout
from .module import Module
from .parameter import Parameter

__all__ = ["SinusoidalPositionalEncoding", "LearnedPositionalEncoding",
           "sinusoidal_table"]


def sinusoidal_table(max_len, d_model, dtype=np.float32):
    """pe[pos, 2i] = sin(pos / 10000^(2i/d)), pe[pos, 2i+1] = cos(same angle); odd d works."""
    pos = np.arange(max_len, dtype=np.float64)[:, None]
    freq = np.exp(np.arange(0, d_model, 2, dtype=np.float64) * (-math.log(10000.0) / d_model))
    pe = np.zeros((max_len, d_model))
    pe[:, 0::2] = np.sin(pos * freq)
    pe[:, 1::2] = np.cos(pos * freq[: d_model // 2])
    return pe.astype(dtype)


def _positions(module, x):
    """The slice of the (max_len, E) table for x's sequence length, shaped to broadcast."""
    if x.ndim not in (2, 3) or x.shape[-1] != module.d_model:
        raise RuntimeError(f"{type(module).__name__}: expected input (S, N, {module.d_model}), "
                           f"(N, S, {module.d_model}) with batch_first or (S, "
                           f"{module.d_model}), got {tuple(x.shape)}")
    seq = x.shape[1] if (x.ndim == 3 and module.batch_first) else x.shape[0]
    if seq > module.max_len:
        raise RuntimeError(f"{type(module).__name__}: sequence length {seq} exceeds max_len="
                           f"{module.max_len} (input {tuple(x.shape)})")
    return seq, (x.ndim == 3 and not module.batch_first)


class SinusoidalPositionalEncoding(Module):
    """x + pe[:S] (then dropout); pe is a non-persistent buffer (derived, so not saved)."""

    def __init__(self, d_model, max_len=5000, dropout=0.0, batch_first=False):
        super().__init__()
        self.d_model, self.max_len, self.batch_first = d_model, max_len, batch_first
        self.dropout = Dropout(dropout)
        self.register_buffer("pe", creation.from_numpy(sinusoidal_table(max_len, d_model)),
                             persistent=False)

    def forward(self, x):
        seq, seq_first = _positions(self, x)
        pe = self.pe[:seq]
        if pe.dtype != x.dtype:
            pe = pe.to(x.dtype)
        return self.dropout(x + (pe.unsqueeze(1) if seq_first else pe))

    def extra_repr(self):
        return f"d_model={self.d_model}, max_len={self.max_len}, batch_first={self.batch_first}"


class LearnedPositionalEncoding(Module):
    """x + weight[:S] with a trained (max_len, d_model) table, initialised N(0, 0.02)."""

    def __init__(self, max_len, d_model, dropout=0.0, batch_first=False):
        super().__init__()
        self.d_model, self.max_len, self.batch_first = d_model, max_len, batch_first
        self.weight = Parameter(creation.empty(max_len, d_model))
        self.dropout = Dropout(dropout)
        self.reset_parameters()

    def reset_parameters(self):
        init.normal_(self.weight, 0.0, 0.02)

    def forward(self, x):
        seq, seq_first = _positions(self, x)
        pe = self.weight[:seq]
        return self.dropout(x + (pe.unsqueeze(1) if seq_first else pe))

    def extra_repr(self):
        return f"max_len={self.max_len}, d_model={self.d_model}, batch_first={self.batch_first}"


