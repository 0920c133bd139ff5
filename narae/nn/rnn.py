"""Recurrent layers: ``RNN`` (Elman, tanh/relu), ``LSTM``, ``GRU`` and their single-step cells.

Arguments, parameter names/shapes/order, initialisation and return values are torch's, so a
torch state_dict loads as is. Each layer and direction runs as one fused sequence node
(``narae.ops.recurrent``); a ``PackedSequence`` input runs padded with a step mask.
"""
import math
import numbers
import warnings

from .. import creation
from ..autograd.function import ShapeError
from ..backend import get_array_module
from ..ops.index import index_select
from ..ops.recurrent import (GATES, recurrent_sequence, rnn_tanh_cell, rnn_relu_cell,
                             lstm_cell, gru_cell)
from ..ops.shape import cat, stack, transpose, unsqueeze, squeeze
from ..ops.dropout import dropout as _dropout
from ..tensor import Tensor
from . import init
from .module import Module
from .parameter import Parameter
from .utils.rnn import (PackedSequence, padded_from_packed, packed_from_padded, lengths_of,
                        step_mask)

__all__ = ["RNNBase", "RNN", "LSTM", "GRU", "RNNCellBase", "RNNCell", "LSTMCell", "GRUCell"]


def _check_sizes(input_size, hidden_size, num_layers=1):
    for name, v in (("input_size", input_size), ("hidden_size", hidden_size),
                    ("num_layers", num_layers)):
        if not isinstance(v, int) or isinstance(v, bool):
            raise TypeError(f"{name} should be of type int, got: {type(v).__name__}")
    if hidden_size <= 0:
        raise ValueError("hidden_size must be greater than zero")
    if num_layers <= 0:
        raise ValueError("num_layers must be greater than zero")


class RNNBase(Module):
    """The shared machinery of RNN/LSTM/GRU: parameters per layer and direction, hidden-state
    checks, the layer loop, packed sequences. ``mode``: RNN_TANH, RNN_RELU, LSTM or GRU."""

    def __init__(self, mode, input_size, hidden_size, num_layers=1, bias=True,
                 batch_first=False, dropout=0.0, bidirectional=False, proj_size=0,
                 device=None, dtype=None):
        super().__init__()
        _check_sizes(input_size, hidden_size, num_layers)
        if not isinstance(dropout, numbers.Number) or isinstance(dropout, bool) or \
                not 0 <= dropout <= 1:
            raise ValueError("dropout should be a number in range [0, 1] representing the "
                             "probability of an element being zeroed")
        if dropout > 0 and num_layers == 1:
            warnings.warn("dropout option adds dropout after all but last recurrent layer, so "
                          f"non-zero dropout expects num_layers greater than 1, but got "
                          f"dropout={dropout} and num_layers={num_layers}", UserWarning,
                          stacklevel=3)
        if proj_size:
            raise NotImplementedError("LSTM proj_size is not supported by narae yet")
        if mode not in GATES:
            raise ValueError(f"Unrecognized RNN mode: {mode}")
        self.mode = mode
        self.input_size = input_size
        self.hidden_size = hidden_size
        self.num_layers = num_layers
        self.bias = bias
        self.batch_first = batch_first
        self.dropout = float(dropout)
        self.bidirectional = bidirectional
        self.proj_size = 0
        num_directions = 2 if bidirectional else 1
        gate_size = GATES[mode] * hidden_size
        self._flat_weights_names = []
        self._all_weights = []
        for layer in range(num_layers):
            for direction in range(num_directions):
                n_in = input_size if layer == 0 else hidden_size * num_directions
                suffix = "_reverse" if direction == 1 else ""
                shapes = [("weight_ih", (gate_size, n_in)), ("weight_hh", (gate_size, hidden_size))]
                if bias:
                    shapes += [("bias_ih", (gate_size,)), ("bias_hh", (gate_size,))]
                names = []
                for kind, shape in shapes:
                    name = f"{kind}_l{layer}{suffix}"
                    setattr(self, name, Parameter(creation.empty(*shape, device=device,
                                                                 dtype=dtype)))
                    names.append(name)
                self._flat_weights_names.extend(names)
                self._all_weights.append(names)
        self.reset_parameters()

    def reset_parameters(self):
        """Every weight and bias ~ U(-1/sqrt(hidden_size), 1/sqrt(hidden_size)), as torch."""
        stdv = 1.0 / math.sqrt(self.hidden_size) if self.hidden_size > 0 else 0
        for w in self.parameters():
            init.uniform_(w, -stdv, stdv)

    def flatten_parameters(self):
        """No-op (torch packs cuDNN weights here); kept so torch code runs unchanged."""

    @property
    def _flat_weights(self):
        return [getattr(self, n) for n in self._flat_weights_names]

    @property
    def all_weights(self):
        return [[getattr(self, n) for n in names] for names in self._all_weights]

    def extra_repr(self):
        s = f"{self.input_size}, {self.hidden_size}"
        if self.num_layers != 1:
            s += f", num_layers={self.num_layers}"
        if self.bias is not True:
            s += f", bias={self.bias}"
        if self.batch_first is not False:
            s += f", batch_first={self.batch_first}"
        if self.dropout != 0:
            s += f", dropout={self.dropout}"
        if self.bidirectional is not False:
            s += f", bidirectional={self.bidirectional}"
        return s

    # -- forward --------------------------------------------------------------------------------
    def _states(self, hx, x, unbatched, sorted_indices):
        """h0 (and c0) as (layers * directions, B, H) tensors in the batch's (sorted) order."""
        lstm = self.mode == "LSTM"
        shape = (self.num_layers * (2 if self.bidirectional else 1), x.shape[1],
                 self.hidden_size)
        if hx is None:
            xp = get_array_module(x._data)
            zero = Tensor(xp.zeros(shape, x._data.dtype))
            return (zero, zero) if lstm else (zero,)
        states = tuple(hx) if lstm else (hx,)
        if lstm and (len(states) != 2 or not all(isinstance(s, Tensor) for s in states)):
            raise TypeError("LSTM: hx should be a tuple (h_0, c_0) of tensors")
        out = []
        for s in states:
            if unbatched:
                if s.ndim != 2:
                    raise RuntimeError(f"For unbatched 2-D input, hx should also be 2-D but got "
                                       f"{s.ndim}-D tensor")
                s = unsqueeze(s, 1)
            elif s.ndim != 3:
                raise RuntimeError(f"For batched 3-D input, hx should also be 3-D but got "
                                   f"{s.ndim}-D tensor")
            if sorted_indices is not None:
                s = index_select(s, 1, sorted_indices)
            if tuple(s.shape) != shape:
                raise RuntimeError(f"Expected hidden size {shape}, got {list(s.shape)}")
            out.append(s)
        return tuple(out)

    def _layers(self, x, states, mask):
        """Run every layer and direction; returns the top output and stacked final states."""
        lstm = self.mode == "LSTM"
        D = 2 if self.bidirectional else 1
        finals = [[] for _ in states]
        for layer in range(self.num_layers):
            outs = []
            for d in range(D):
                k = layer * D + d
                weights = [getattr(self, n) for n in self._all_weights[k]]
                hx = tuple(s[k] for s in states)
                y, hn = recurrent_sequence(self.mode, x, hx if lstm else hx[0], *weights,
                                           reverse=d == 1, mask=mask)
                for lst, s in zip(finals, hn if lstm else (hn,)):
                    lst.append(s)
                outs.append(y)
            x = outs[0] if D == 1 else cat(outs, 2)
            if self.dropout and self.training and layer < self.num_layers - 1:
                x = _dropout(x, self.dropout, True)
        return x, tuple(stack(f, 0) for f in finals)

    def forward(self, input, hx=None):
        name = type(self).__name__
        packed = isinstance(input, PackedSequence)
        mask = None
        sorted_indices = unsorted_indices = None
        unbatched = False
        if packed:
            data, batch_sizes, sorted_indices, unsorted_indices = input
            x = padded_from_packed(data, batch_sizes)
            mask = step_mask(lengths_of(batch_sizes), x.shape[0], x)
        else:
            if input.ndim not in (2, 3):
                raise ShapeError(f"{name}: Expected input to be 2D or 3D, got {input.ndim}D "
                                 f"tensor instead (shape {tuple(input.shape)})")
            unbatched = input.ndim == 2
            x = unsqueeze(input, 1) if unbatched else (
                transpose(input, 0, 1) if self.batch_first else input)
        if x.shape[-1] != self.input_size:
            raise RuntimeError(f"{name}: input.size(-1) must be equal to input_size. Expected "
                               f"{self.input_size}, got {x.shape[-1]} (input of shape "
                               f"{tuple((input.data if packed else input).shape)})")
        states = self._states(hx, x, unbatched, sorted_indices)
        y, finals = self._layers(x, states, mask)
        if packed:
            y = PackedSequence(packed_from_padded(y, batch_sizes), batch_sizes, sorted_indices,
                               unsorted_indices)
            if unsorted_indices is not None:
                finals = tuple(index_select(f, 1, unsorted_indices) for f in finals)
        elif unbatched:
            y = squeeze(y, 1)
            finals = tuple(squeeze(f, 1) for f in finals)
        elif self.batch_first:
            y = transpose(y, 0, 1)
        return (y, finals) if self.mode == "LSTM" else (y, finals[0])


class RNN(RNNBase):
    """Elman RNN: h_t = tanh(W_ih x_t + b_ih + W_hh h_{t-1} + b_hh) (or relu).

    ``RNN(input_size, hidden_size, num_layers=1, nonlinearity='tanh', bias=True,
    batch_first=False, dropout=0.0, bidirectional=False)``; returns (output, h_n).
    """

    def __init__(self, *args, **kwargs):
        if "proj_size" in kwargs:
            raise ValueError("proj_size argument is only supported for LSTM, not RNN or GRU")
        if len(args) > 3:
            nonlinearity = args[3]
            args = args[:3] + args[4:]
            kwargs.pop("nonlinearity", None)
        else:
            nonlinearity = kwargs.pop("nonlinearity", "tanh")
        modes = {"tanh": "RNN_TANH", "relu": "RNN_RELU"}
        if nonlinearity not in modes:
            raise ValueError(f"Unknown nonlinearity '{nonlinearity}'. Select from 'tanh' or "
                             "'relu'.")
        self.nonlinearity = nonlinearity
        super().__init__(modes[nonlinearity], *args, **kwargs)


class LSTM(RNNBase):
    """Long short-term memory: gates (i, f, g, o) as torch; returns (output, (h_n, c_n)).

    ``hx`` is an optional (h_0, c_0), each (num_layers * num_directions, B, H).
    """

    def __init__(self, *args, **kwargs):
        super().__init__("LSTM", *args, **kwargs)


class GRU(RNNBase):
    """Gated recurrent unit, torch's variant: n = tanh(W_in x + b_in + r * (W_hn h + b_hn))."""

    def __init__(self, *args, **kwargs):
        if "proj_size" in kwargs:
            raise ValueError("proj_size argument is only supported for LSTM, not RNN or GRU")
        super().__init__("GRU", *args, **kwargs)


# -- cells ----------------------------------------------------------------------------------------
class RNNCellBase(Module):
    """One time step: parameters weight_ih (G*H, I), weight_hh (G*H, H), bias_ih, bias_hh."""

    def __init__(self, input_size, hidden_size, bias, num_chunks, device=None, dtype=None):
        super().__init__()
        _check_sizes(input_size, hidden_size)
        self.input_size = input_size
        self.hidden_size = hidden_size
        self.bias = bias
        g = num_chunks * hidden_size
        self.weight_ih = Parameter(creation.empty(g, input_size, device=device, dtype=dtype))
        self.weight_hh = Parameter(creation.empty(g, hidden_size, device=device, dtype=dtype))
        if bias:
            self.bias_ih = Parameter(creation.empty(g, device=device, dtype=dtype))
            self.bias_hh = Parameter(creation.empty(g, device=device, dtype=dtype))
        else:
            self.register_parameter("bias_ih", None)
            self.register_parameter("bias_hh", None)
        self.reset_parameters()

    def reset_parameters(self):
        stdv = 1.0 / math.sqrt(self.hidden_size) if self.hidden_size > 0 else 0
        for w in self.parameters():
            init.uniform_(w, -stdv, stdv)

    def extra_repr(self):
        s = f"{self.input_size}, {self.hidden_size}"
        if self.bias is not True:
            s += f", bias={self.bias}"
        if getattr(self, "nonlinearity", "tanh") != "tanh":
            s += f", nonlinearity={self.nonlinearity}"
        return s

    def _prepare(self, input, states):
        """Batch an unbatched (I,) input and its states; check shapes; default zero states."""
        name = type(self).__name__
        if input.ndim not in (1, 2):
            raise ShapeError(f"{name}: Expected input to be 1D or 2D, got {input.ndim}D instead "
                             f"(shape {tuple(input.shape)})")
        if input.shape[-1] != self.input_size:
            raise RuntimeError(f"{name}: input has inconsistent input_size: got "
                               f"{input.shape[-1]} expected {self.input_size} (input of shape "
                               f"{tuple(input.shape)})")
        unbatched = input.ndim == 1
        if unbatched:
            input = unsqueeze(input, 0)
        out = []
        for s in states:
            if s is None:
                xp = get_array_module(input._data)
                s = Tensor(xp.zeros((input.shape[0], self.hidden_size), input._data.dtype))
            else:
                if s.ndim != (1 if unbatched else 2):
                    raise RuntimeError(f"{name}: Expected hidden to be "
                                       f"{1 if unbatched else 2}D, got {s.ndim}D instead")
                if unbatched:
                    s = unsqueeze(s, 0)
                if tuple(s.shape) != (input.shape[0], self.hidden_size):
                    raise RuntimeError(f"{name}: hidden of shape {tuple(s.shape)} does not fit "
                                       f"input of shape {tuple(input.shape)} (expected "
                                       f"({input.shape[0]}, {self.hidden_size}))")
            out.append(s)
        return input, out, unbatched

    def _weights(self):
        return self.weight_ih, self.weight_hh, self.bias_ih, self.bias_hh


class RNNCell(RNNCellBase):
    """h' = tanh(W_ih x + b_ih + W_hh h + b_hh) (or relu)."""

    def __init__(self, input_size, hidden_size, bias=True, nonlinearity="tanh", device=None,
                 dtype=None):
        if nonlinearity not in ("tanh", "relu"):
            raise ValueError(f"Unknown nonlinearity: {nonlinearity}")
        super().__init__(input_size, hidden_size, bias, 1, device, dtype)
        self.nonlinearity = nonlinearity

    def forward(self, input, hx=None):
        x, (h,), unbatched = self._prepare(input, [hx])
        cell = rnn_tanh_cell if self.nonlinearity == "tanh" else rnn_relu_cell
        h = cell(x, h, *self._weights())
        return squeeze(h, 0) if unbatched else h


class LSTMCell(RNNCellBase):
    """One LSTM step: returns (h', c'); ``hx`` is an optional (h, c)."""

    def __init__(self, input_size, hidden_size, bias=True, device=None, dtype=None):
        super().__init__(input_size, hidden_size, bias, 4, device, dtype)

    def forward(self, input, hx=None):
        h, c = (None, None) if hx is None else hx
        x, (h, c), unbatched = self._prepare(input, [h, c])
        h, c = lstm_cell(x, (h, c), *self._weights())
        return (squeeze(h, 0), squeeze(c, 0)) if unbatched else (h, c)


class GRUCell(RNNCellBase):
    """One GRU step: h' = (1 - z) * n + z * h."""

    def __init__(self, input_size, hidden_size, bias=True, device=None, dtype=None):
        super().__init__(input_size, hidden_size, bias, 3, device, dtype)

    def forward(self, input, hx=None):
        x, (h,), unbatched = self._prepare(input, [hx])
        h = gru_cell(x, h, *self._weights())
        return squeeze(h, 0) if unbatched else h
