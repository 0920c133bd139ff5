"""Variable-length batches for recurrent layers (torch.nn.utils.rnn).

A ``PackedSequence`` stores only the valid steps of a batch of sequences sorted by length:
``data`` holds, time step after time step, the rows of the sequences still running at that
step (``batch_sizes[t]`` of them). RNN/LSTM/GRU take it directly; inside they unpack to a
padded (T, B, *) batch with a step mask so the state stops updating past each length, and
pack their output again. Every conversion here is an indexing op, so gradients flow through.
"""
from collections import namedtuple

import numpy as np

from ...backend import get_array_module, to_device, device_of
from ...ops.index import GetItem, index_select
from ...ops.shape import cat, pad, reshape, stack, transpose
from ...tensor import Tensor

__all__ = ["PackedSequence", "pack_padded_sequence", "pad_packed_sequence", "pad_sequence",
           "pack_sequence", "unpad_sequence", "unpack_sequence", "invert_permutation"]


def _host(values, what):
    """An int64 NumPy array from a list, a NumPy array, a narae or a torch tensor."""
    if isinstance(values, Tensor):
        values = values._data
    elif hasattr(values, "detach"):
        values = values.detach().cpu().numpy()
    if hasattr(values, "__cuda_array_interface__"):
        values = to_device(values, device_of(np.empty(0)))
    arr = np.asarray(values)
    if arr.ndim != 1:
        raise ValueError(f"{what} must be a 1-D sequence of integers, got shape {arr.shape}")
    return arr.astype(np.int64)


def _long(arr):
    return Tensor(np.asarray(arr, dtype=np.int64))


def invert_permutation(permutation):
    """The permutation that undoes ``permutation`` (None stays None)."""
    if permutation is None:
        return None
    p = _host(permutation, "permutation")
    inv = np.empty_like(p)
    inv[p] = np.arange(len(p))
    return _long(inv)


_Fields = namedtuple("PackedSequence", ["data", "batch_sizes", "sorted_indices",
                                        "unsorted_indices"])


class PackedSequence(_Fields):
    """(data, batch_sizes, sorted_indices, unsorted_indices), as torch's.

    ``data``: (sum of lengths, *) rows in time-major order; ``batch_sizes``: int64 Tensor,
    how many sequences are running at each step; ``sorted_indices``: the batch order used
    inside (None when the input was already sorted); ``unsorted_indices``: its inverse.
    """

    def __new__(cls, data, batch_sizes=None, sorted_indices=None, unsorted_indices=None):
        if unsorted_indices is None and sorted_indices is not None:
            unsorted_indices = invert_permutation(sorted_indices)
        if batch_sizes is not None and not isinstance(batch_sizes, Tensor):
            batch_sizes = _long(_host(batch_sizes, "batch_sizes"))
        return super().__new__(cls, data, batch_sizes, sorted_indices, unsorted_indices)

    def to(self, *args, **kwargs):
        """Move/cast ``data`` (the index tensors stay on the host, as torch's batch_sizes)."""
        data = self.data.to(*args, **kwargs)
        if data is self.data:
            return self
        return type(self)(data, self.batch_sizes, self.sorted_indices, self.unsorted_indices)

    def cpu(self):
        return self.to("cpu")

    def cuda(self, device=None):
        return self.to("cuda" if device is None else device)

    def float(self):
        return type(self)(self.data.float(), *self[1:])

    def double(self):
        return type(self)(self.data.double(), *self[1:])

    def detach(self):
        return type(self)(self.data.detach(), *self[1:])

    @property
    def is_cuda(self):
        return self.data.is_cuda

    def is_pinned(self):
        return False


# -- index helpers shared with the recurrent layers ------------------------------------------
def _batch_sizes_of(lengths):
    """batch_sizes[t] = how many (descending) lengths exceed t."""
    steps = np.arange(int(lengths[0]))
    return (lengths[None, :] > steps[:, None]).sum(1).astype(np.int64)


def lengths_of(batch_sizes):
    """Sorted lengths (descending) from batch sizes: length[b] = #steps with > b sequences."""
    bs = _host(batch_sizes, "batch_sizes")
    return (bs[None, :] > np.arange(int(bs[0]))[:, None]).sum(1).astype(np.int64)


def _rows(batch_sizes):
    """Flat padded index (t * B + b) of every packed row, in packed order."""
    bs = _host(batch_sizes, "batch_sizes")
    B = int(bs[0])
    return np.concatenate([t * B + np.arange(n) for t, n in enumerate(bs)])


def _on(arr, like):
    return to_device(arr, device_of(like._data))


def padded_from_packed(data, batch_sizes, padding_value=0.0):
    """(T, B, *) padded batch from packed rows (sorted order): one differentiable gather."""
    bs = _host(batch_sizes, "batch_sizes")
    T, B = len(bs), int(bs[0])
    n = data.shape[0]
    where = np.full(T * B, n, dtype=np.int64)  # padded slots read the extra padding row
    where[_rows(bs)] = np.arange(n)
    xp = get_array_module(data._data)
    filler = Tensor(xp.full((1,) + tuple(data.shape[1:]), padding_value, data._data.dtype))
    src = cat([data, filler], 0)
    flat = GetItem((_on(where, data),), True)(src)
    return reshape(flat, (T, B) + tuple(data.shape[1:]))


def packed_from_padded(padded, batch_sizes):
    """Packed rows of a (T, B, *) padded batch (sorted order): one differentiable gather."""
    T, B = padded.shape[0], padded.shape[1]
    flat = reshape(padded, (T * B,) + tuple(padded.shape[2:]))
    return GetItem((_on(_rows(batch_sizes), padded),), True)(flat)


def step_mask(lengths, T, like):
    """bool (T, B): True where step t < length of sequence b, on ``like``'s device."""
    return _on(np.arange(T)[:, None] < np.asarray(lengths)[None, :], like)


# -- torch's API ---------------------------------------------------------------------------------
def pack_padded_sequence(input, lengths, batch_first=False, enforce_sorted=True):
    """Pack a padded (T, B, *) batch (``batch_first``: (B, T, *)) given each sequence's length.

    ``enforce_sorted=False`` sorts by decreasing length first and records the permutation, so
    the layers can restore the original order of the final states.
    """
    lengths = _host(lengths, "lengths")
    if batch_first:
        input = transpose(input, 0, 1)
    B = input.shape[1] if input.ndim >= 2 else 0
    if len(lengths) != B:
        raise RuntimeError(f"pack_padded_sequence: Expected `len(lengths)` to be equal to "
                           f"batch_size, but got {len(lengths)} (batch_size={B}) for input of "
                           f"shape {tuple(input.shape)}")
    if np.any(lengths <= 0):
        raise RuntimeError("pack_padded_sequence: Length of all samples has to be greater than "
                           "0, but found an element in 'lengths' that is <= 0")
    if enforce_sorted:
        if np.any(np.diff(lengths) > 0):
            raise RuntimeError("pack_padded_sequence: `lengths` array must be sorted in "
                               "decreasing order when `enforce_sorted` is True. You can pass "
                               "`enforce_sorted=False` to pack_padded_sequence and/or "
                               "pack_sequence to sidestep this requirement.")
        sorted_indices = None
    else:
        order = np.argsort(-lengths, kind="stable")
        lengths = lengths[order]
        sorted_indices = _long(order)
        input = index_select(input, 1, Tensor(_on(order, input)))
    T = int(lengths[0])
    if T > input.shape[0]:
        raise RuntimeError(f"pack_padded_sequence: a length of {T} exceeds the {input.shape[0]} "
                           f"steps of input of shape {tuple(input.shape)}")
    if T < input.shape[0]:
        input = input[:T]
    bs = _batch_sizes_of(lengths)
    return PackedSequence(packed_from_padded(input, bs), _long(bs), sorted_indices, None)


def pad_packed_sequence(sequence, batch_first=False, padding_value=0.0, total_length=None):
    """Inverse of ``pack_padded_sequence``: (padded, lengths) in the original batch order."""
    data, batch_sizes, _, unsorted = sequence
    bs = _host(batch_sizes, "batch_sizes")
    out = padded_from_packed(data, bs, padding_value)
    T = out.shape[0]
    if total_length is not None:
        if total_length < T:
            raise ValueError(f"Expected total_length to be at least the length of the longest "
                             f"sequence in input, but got total_length={total_length} and max "
                             f"sequence length being {T}")
        if total_length > T:
            out = pad(out, [0, 0] * (out.ndim - 1) + [0, total_length - T],
                      value=padding_value)
    lengths = lengths_of(bs)
    if unsorted is not None:
        idx = _host(unsorted, "unsorted_indices")
        out = index_select(out, 1, Tensor(_on(idx, out)))
        lengths = lengths[idx]
    if batch_first:
        out = transpose(out, 0, 1)
    return out, _long(lengths)


def pad_sequence(sequences, batch_first=False, padding_value=0.0, padding_side="right"):
    """Stack (L_i, *) tensors into (T, B, *) (or (B, T, *)) padded to the longest."""
    if padding_side not in ("left", "right"):
        raise ValueError(f"padding_side should be either 'right' or 'left', but got "
                         f"{padding_side}")
    if isinstance(sequences, Tensor):
        sequences = list(sequences)
    sequences = list(sequences)
    if not sequences:
        raise RuntimeError("pad_sequence: received an empty list of sequences")
    trail = tuple(sequences[0].shape[1:])
    for s in sequences:
        if s.ndim == 0 or tuple(s.shape[1:]) != trail:
            raise RuntimeError(f"pad_sequence: every sequence needs shape (L, *{trail}), got "
                               f"{[tuple(q.shape) for q in sequences]}")
    T = max(s.shape[0] for s in sequences)
    lead = [0, 0] * (len(trail))
    padded = []
    for s in sequences:
        extra = T - s.shape[0]
        spec = lead + ([0, extra] if padding_side == "right" else [extra, 0])
        padded.append(pad(s, spec, value=padding_value) if extra else s)
    return stack(padded, 0 if batch_first else 1)


def pack_sequence(sequences, enforce_sorted=True):
    """Pack a list of (L_i, *) tensors (pad_sequence, then pack_padded_sequence)."""
    lengths = [s.shape[0] for s in sequences]
    return pack_padded_sequence(pad_sequence(sequences), lengths, enforce_sorted=enforce_sorted)


def unpad_sequence(padded_sequences, lengths, batch_first=False):
    """The list of unpadded (L_i, *) tensors of a padded batch."""
    x = padded_sequences if batch_first else transpose(padded_sequences, 0, 1)
    return [x[i, :int(n)] for i, n in enumerate(_host(lengths, "lengths"))]


def unpack_sequence(packed_sequences):
    """The list of (L_i, *) tensors of a PackedSequence, in the original order."""
    padded, lengths = pad_packed_sequence(packed_sequences, batch_first=True)
    return unpad_sequence(padded, lengths, batch_first=True)
