"""``AdaptiveLogSoftmaxWithLoss``: the efficient softmax of Grave et al. (2017) for large
vocabularies.

The classes are split by ``cutoffs`` into a shortlist (the frequent ones) and tail clusters.
The head scores the shortlist plus one entry per cluster; cluster i has its own small
classifier through a projection of size in_features // div_value ** (i + 1). So

    log p(c) = log p_head(c)                                 for c in the shortlist
    log p(c) = log p_head(cluster i) + log p_i(c | cluster)  for c in cluster i,

and a batch only runs each cluster's classifier on the rows whose target lies in it.
"""
from collections import namedtuple

from ..backend import get_array_module
from ..ops.activation import log_softmax
from ..ops.index import gather, index_add, index_select
from ..ops.reduce import argmax
from ..tensor import Tensor
from .containers import ModuleList, Sequential
from .linear import Linear
from .module import Module

__all__ = ["AdaptiveLogSoftmaxWithLoss"]

_ASMoutput = namedtuple("_ASMoutput", ["output", "loss"])


class AdaptiveLogSoftmaxWithLoss(Module):
    """Adaptive softmax: ``forward(input, target)`` returns (output, loss) where output holds
    each row's log-probability of its target and loss is the mean of -output."""

    def __init__(self, in_features, n_classes, cutoffs, div_value=4.0, head_bias=False,
                 device=None, dtype=None):
        super().__init__()
        cutoffs = list(cutoffs)
        if len(cutoffs) == 0:
            raise ValueError("cutoffs should be a sequence of length larger than 0")
        if (cutoffs != sorted(cutoffs) or min(cutoffs) <= 0 or max(cutoffs) > n_classes - 1
                or len(set(cutoffs)) != len(cutoffs) or any(int(c) != c for c in cutoffs)):
            raise ValueError("cutoffs should be a sequence of unique, positive integers sorted "
                             "in an increasing order, where each value is between 1 and "
                             f"n_classes-1 (got cutoffs={cutoffs}, n_classes={n_classes})")
        self.in_features = in_features
        self.n_classes = n_classes
        self.cutoffs = cutoffs + [n_classes]
        self.div_value = div_value
        self.head_bias = head_bias
        self.shortlist_size = self.cutoffs[0]
        self.n_clusters = len(self.cutoffs) - 1
        self.head_size = self.shortlist_size + self.n_clusters
        kw = dict(device=device, dtype=dtype)
        self.head = Linear(in_features, self.head_size, bias=head_bias, **kw)
        self.tail = ModuleList()
        for i in range(self.n_clusters):
            hidden = int(in_features // (div_value ** (i + 1)))
            size = self.cutoffs[i + 1] - self.cutoffs[i]
            self.tail.append(Sequential(Linear(in_features, hidden, bias=False, **kw),
                                        Linear(hidden, size, bias=False, **kw)))

    def reset_parameters(self):
        self.head.reset_parameters()
        for i2h, h2o in self.tail:
            i2h.reset_parameters()
            h2o.reset_parameters()

    def forward(self, input_, target_):
        if target_.ndim == 1:
            if input_.shape[0] != target_.shape[0]:
                raise RuntimeError(f"Input and target should have the same size in the batch "
                                   f"dimension (input {tuple(input_.shape)}, target "
                                   f"{tuple(target_.shape)})")
            if input_.ndim != 2:
                raise RuntimeError(f"1D target tensor expects 2D input tensors, but found "
                                   f"inputs with size {tuple(input_.shape)}")
        elif target_.ndim == 0:
            if input_.ndim != 1:
                raise RuntimeError(f"0D target tensor expects 1D input tensors, but found "
                                   f"inputs with size {tuple(input_.shape)}")
        else:
            raise RuntimeError(f"0D or 1D target tensor expected, multi-target not supported "
                               f"(target of shape {tuple(target_.shape)})")
        batched = target_.ndim > 0
        input = input_ if batched else input_.reshape(1, -1)
        target = target_ if batched else target_.reshape(1)
        xp = get_array_module(target._data)
        tg = target._data
        n = tg.shape[0]
        # each row's head entry: its class (shortlist) or its cluster's slot
        head_index = tg.copy()
        output = Tensor(xp.zeros(n, input._data.dtype))
        used = 0
        bounds = [0] + self.cutoffs
        for i in range(len(bounds) - 1):
            low, high = bounds[i], bounds[i + 1]
            rows = xp.nonzero((tg >= low) & (tg < high))[0]
            if rows.size == 0:
                continue
            used += int(rows.size)
            if i == 0:
                continue
            rows_t = Tensor(rows)
            head_index[rows] = self.shortlist_size + i - 1
            cluster = log_softmax(self.tail[i - 1](index_select(input, 0, rows_t)), 1)
            local = gather(cluster, 1, Tensor((tg[rows] - low)[:, None]))
            output = index_add(output, 0, rows_t, local.reshape(-1))
        if used != n:
            raise RuntimeError(f"Target values should be in [0, {self.n_classes - 1}], but "
                               f"values in range [{int(tg.min())}, {int(tg.max())}] were "
                               f"found. ")
        head = log_softmax(self.head(input), 1)
        output = output + gather(head, 1, Tensor(head_index[:, None])).reshape(-1)
        loss = (-output).mean()
        if not batched:
            output = output.reshape(())
        return _ASMoutput(output, loss)

    def _get_full_log_prob(self, input, head_output):
        """log p(c) for every class c: (N, n_classes)."""
        from ..ops.shape import cat
        head = log_softmax(head_output, 1)
        parts = [head[:, :self.shortlist_size]]
        for i in range(self.n_clusters):
            cluster = log_softmax(self.tail[i](input), 1)
            parts.append(cluster + head[:, self.shortlist_size + i:self.shortlist_size + i + 1])
        return cat(parts, 1)

    def log_prob(self, input):
        """log-probabilities of all classes: (N, n_classes), or (n_classes,) for a 1-D input."""
        batched = input.ndim > 1
        x = input if batched else input.reshape(1, -1)
        out = self._get_full_log_prob(x, self.head(x))
        return out if batched else out.reshape(-1)

    def predict(self, input):
        """The most likely class of each row: (N,) integer indices.

        Only rows whose head prediction is a cluster need the full distribution.
        """
        head_output = self.head(input)
        output = argmax(head_output, 1)
        far = output._data >= self.shortlist_size
        if not bool(far.any()):
            return output
        if bool(far.all()):
            return argmax(self._get_full_log_prob(input, head_output), 1)
        xp = get_array_module(far)
        rows = Tensor(xp.nonzero(far)[0])
        full = self._get_full_log_prob(index_select(input, 0, rows),
                                       index_select(head_output, 0, rows))
        out = output._data.copy()
        out[rows._data] = argmax(full, 1)._data
        return Tensor(out)
