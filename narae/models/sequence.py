"""Sequence models built on the recurrent layers: the three standard shapes of RNN use.

- ``SequenceTagger``: N-to-N, a label per step (bidirectional LSTM -> per-step linear).
- ``SequenceClassifier``: N-to-1, one label per sequence (last state or mean-pool -> linear).
- ``SequenceAutoencoder``: N-to-N through a bottleneck (LSTM encoder -> LSTM decoder).

Inputs are batch-first: (B, T, input_size) features, or (B, T) token ids when ``vocab_size``
is given (an embedding of ``input_size`` dims is added). ``lengths`` (optional, one per
sequence) packs the batch so padded steps never influence the result.
"""
from ..backend import get_array_module
from ..nn.dropout import Dropout
from ..nn.linear import Linear
from ..nn.module import Module
from ..nn.rnn import GRU, LSTM, RNN
from ..nn.sparse import Embedding
from ..nn.utils.rnn import pack_padded_sequence, pad_packed_sequence, _host
from ..ops.shape import cat, pad
from ..tensor import Tensor

__all__ = ["SequenceTagger", "SequenceClassifier", "SequenceAutoencoder"]

_CELLS = {"lstm": LSTM, "gru": GRU, "rnn": RNN}


def _recurrent(cell, *args, **kwargs):
    if cell not in _CELLS:
        raise ValueError(f"unknown cell {cell!r}: one of {sorted(_CELLS)}")
    return _CELLS[cell](*args, **kwargs)


class _Encoder(Module):
    """Optional embedding + recurrent layer over a batch-first (possibly padded) batch."""

    def __init__(self, input_size, hidden_size, num_layers, vocab_size, bidirectional, dropout,
                 cell):
        super().__init__()
        self.embed = Embedding(vocab_size, input_size) if vocab_size else None
        self.rnn = _recurrent(cell, input_size, hidden_size, num_layers, batch_first=True,
                              bidirectional=bidirectional,
                              dropout=dropout if num_layers > 1 else 0.0)

    def forward(self, x, lengths=None, state=None):
        """(outputs (B, T, D*H) zero past each length, final state)."""
        if self.embed is not None:
            x = self.embed(x)
        if lengths is None:
            return self.rnn(x, state)
        T = x.shape[1]
        packed = pack_padded_sequence(x, lengths, batch_first=True, enforce_sorted=False)
        y, state = self.rnn(packed, state)
        y, _ = pad_packed_sequence(y, batch_first=True, total_length=T)
        return y, state


class SequenceTagger(Module):
    """A tag per step: bidirectional LSTM (each step sees its past and future) -> linear.

    ``forward(x, lengths=None) -> (B, T, num_tags)`` logits.
    """

    def __init__(self, input_size, hidden_size, num_tags, num_layers=1, vocab_size=None,
                 bidirectional=True, dropout=0.0, cell="lstm"):
        super().__init__()
        self.encoder = _Encoder(input_size, hidden_size, num_layers, vocab_size, bidirectional,
                                dropout, cell)
        self.drop = Dropout(dropout)
        self.head = Linear(hidden_size * (2 if bidirectional else 1), num_tags)

    def forward(self, x, lengths=None):
        y, _ = self.encoder(x, lengths)
        return self.head(self.drop(y))


class SequenceClassifier(Module):
    """N-to-1: ``pooling='last'`` classifies from the final hidden state (both directions'
    when bidirectional), ``'mean'`` from the mean of the outputs over the valid steps.

    ``forward(x, lengths=None) -> (B, num_classes)`` logits.
    """

    def __init__(self, input_size, hidden_size, num_classes, num_layers=1, vocab_size=None,
                 pooling="last", bidirectional=False, dropout=0.0, cell="lstm"):
        super().__init__()
        if pooling not in ("last", "mean"):
            raise ValueError(f"SequenceClassifier: pooling must be 'last' or 'mean', got "
                             f"{pooling!r}")
        self.pooling = pooling
        self.bidirectional = bidirectional
        self.encoder = _Encoder(input_size, hidden_size, num_layers, vocab_size, bidirectional,
                                dropout, cell)
        self.drop = Dropout(dropout)
        self.head = Linear(hidden_size * (2 if bidirectional else 1), num_classes)

    def forward(self, x, lengths=None):
        y, state = self.encoder(x, lengths)
        if self.pooling == "last":
            h = state[0] if isinstance(state, tuple) else state   # (L*D, B, H)
            feats = cat([h[-2], h[-1]], 1) if self.bidirectional else h[-1]
        elif lengths is None:
            feats = y.mean(1)
        else:
            n = _host(lengths, "lengths").astype(y._data.dtype)
            xp = get_array_module(y._data)
            feats = y.sum(1) / Tensor(xp.asarray(n[:, None]))  # padded outputs are zero
        return self.head(self.drop(feats))


class SequenceAutoencoder(Module):
    """Compress a sequence into the encoder's final (h, c), then rebuild it step by step.

    The decoder starts from the encoder's state and is fed the previous true frame (teacher
    forcing: zeros, x_1, ..., x_{T-1}); a linear layer maps its outputs back to frames.
    ``forward(x) -> reconstruction`` of x's shape (B, T, input_size); ``encode(x)`` gives the
    code (B, num_layers * hidden_size); ``decode(state, steps)`` generates from a state,
    feeding back its own outputs.
    """

    def __init__(self, input_size, hidden_size, num_layers=1, dropout=0.0):
        super().__init__()
        self.input_size = input_size
        self.encoder = LSTM(input_size, hidden_size, num_layers, batch_first=True,
                            dropout=dropout if num_layers > 1 else 0.0)
        self.decoder = LSTM(input_size, hidden_size, num_layers, batch_first=True,
                            dropout=dropout if num_layers > 1 else 0.0)
        self.head = Linear(hidden_size, input_size)

    def encode_state(self, x, lengths=None):
        if lengths is None:
            return self.encoder(x)[1]
        packed = pack_padded_sequence(x, lengths, batch_first=True, enforce_sorted=False)
        return self.encoder(packed)[1]

    def encode(self, x, lengths=None):
        h, _ = self.encode_state(x, lengths)
        return h.permute(1, 0, 2).reshape(x.shape[0], -1)

    def forward(self, x, lengths=None):
        if x.ndim != 3 or x.shape[-1] != self.input_size:
            raise RuntimeError(f"SequenceAutoencoder: input of shape {tuple(x.shape)}, expected "
                               f"(B, T, {self.input_size})")
        state = self.encode_state(x, lengths)
        shifted = pad(x[:, :-1], [0, 0, 1, 0])  # decoder input at t is x_{t-1}, zeros at t=0
        y, _ = self.decoder(shifted, state)
        return self.head(y)

    def decode(self, state, steps):
        """Free-running reconstruction of ``steps`` frames from an encoder state."""
        h = state[0]
        B = h.shape[1]
        xp = get_array_module(h._data)
        frame = Tensor(xp.zeros((B, 1, self.input_size), h._data.dtype))
        frames = []
        for _ in range(steps):
            y, state = self.decoder(frame, state)
            frame = self.head(y)
            frames.append(frame)
        return cat(frames, 1)
