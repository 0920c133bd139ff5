"""Datasets: the indexable (or iterable) collections a ``DataLoader`` draws samples from.

A map-style dataset may also define ``_get_batch(indices)``, returning an already collated
batch for an int64 index array. ``DataLoader`` uses it when the default collate is in effect,
so a ``TensorDataset`` batch is one fancy-indexing call per tensor rather than a Python loop
over samples.
"""
import bisect
import math
import warnings

import numpy as np

from ...tensor import Tensor
from ... import random as _random
from ._arrays import wrap, index_array

__all__ = ["batch_getter", "Dataset", "IterableDataset", "TensorDataset", "StackDataset",
           "ConcatDataset", "ChainDataset", "Subset", "random_split"]


def batch_getter(dataset):
    """``dataset._get_batch`` if it is safe to use, else None.

    It is unsafe when a subclass overrides ``__getitem__`` below the class that defines
    ``_get_batch``: the batch would then skip the subclass's own sample logic.
    """
    get = getattr(dataset, "_get_batch", None)
    if get is None:
        return None
    owner = next(c for c in type(dataset).__mro__ if "_get_batch" in c.__dict__)
    return get if type(dataset).__getitem__ is owner.__getitem__ else None


class Dataset:
    """A map-style dataset: subclasses define ``__getitem__`` (and usually ``__len__``)."""

    def __getitem__(self, index):
        raise NotImplementedError(f"{type(self).__name__} must implement __getitem__")

    def __add__(self, other):
        return ConcatDataset([self, other])


class IterableDataset(Dataset):
    """A stream of samples: subclasses define ``__iter__``; no indexing, no sampler."""

    def __iter__(self):
        raise NotImplementedError(f"{type(self).__name__} must implement __iter__")

    def __add__(self, other):
        return ChainDataset([self, other])


class TensorDataset(Dataset):
    """Samples are the ``index``-th rows of tensors that share their first dimension.

    Rows are returned detached (a dataset holds data, not parameters). NumPy arrays are
    accepted too and are wrapped without copying.
    """

    def __init__(self, *tensors):
        tensors = tuple(t if isinstance(t, Tensor) else wrap(np.asarray(t)) for t in tensors)
        if not tensors:
            raise ValueError("TensorDataset needs at least one tensor")
        sizes = [t.shape[0] if t.ndim else None for t in tensors]
        if None in sizes or any(s != sizes[0] for s in sizes):
            shapes = ", ".join(str(tuple(t.shape)) for t in tensors)
            raise ValueError(f"TensorDataset: size mismatch between tensors: all need the same "
                             f"first dimension, got shapes {shapes}")
        self.tensors = tensors

    def __len__(self):
        return self.tensors[0].shape[0]

    def __getitem__(self, index):
        return tuple(wrap(t._data[index]) for t in self.tensors)

    def _get_batch(self, indices):
        out = []
        for t in self.tensors:
            arr = t._data
            idx = indices if isinstance(arr, np.ndarray) else _to_module_of(arr, indices)
            out.append(wrap(arr[idx]))
        return out


class StackDataset(Dataset):
    """Several datasets of one length zipped sample by sample: ``StackDataset(a, b)[i]`` is
    ``(a[i], b[i])``; ``StackDataset(image=a, text=b)[i]`` is ``{"image": a[i], ...}``."""

    def __init__(self, *args, **kwargs):
        if args and kwargs:
            raise ValueError("Supported either ``tuple``- (via ``args``) or``dict``- (via "
                             "``kwargs``) like input/output, but both types are given.")
        datasets = args or tuple(kwargs.values())
        if not datasets:
            raise ValueError("At least one dataset should be passed")
        self._length = len(datasets[0])
        if any(len(d) != self._length for d in datasets):
            raise ValueError("Size mismatch between datasets")
        self.datasets = args if args else dict(kwargs)

    def __getitem__(self, index):
        if isinstance(self.datasets, dict):
            return {k: d[index] for k, d in self.datasets.items()}
        return tuple(d[index] for d in self.datasets)

    def __getitems__(self, indices):
        """A list of samples in one call per dataset (each may batch its own fetch)."""
        def column(d):
            get = getattr(d, "__getitems__", None)
            items = get(indices) if get is not None else [d[i] for i in indices]
            if len(items) != len(indices):
                raise ValueError("Nested dataset's output size mismatch. Expected "
                                 f"{len(indices)}, got {len(items)}")
            return items
        if isinstance(self.datasets, dict):
            cols = {k: column(d) for k, d in self.datasets.items()}
            return [{k: c[j] for k, c in cols.items()} for j in range(len(indices))]
        cols = [column(d) for d in self.datasets]
        return [tuple(c[j] for c in cols) for j in range(len(indices))]

    def __len__(self):
        return self._length


def _to_module_of(arr, indices):
    from ...backend import get_array_module
    return get_array_module(arr).asarray(indices)


class ConcatDataset(Dataset):
    """Several map-style datasets one after the other."""

    def __init__(self, datasets):
        self.datasets = list(datasets)
        if not self.datasets:
            raise ValueError("ConcatDataset: datasets should not be an empty iterable")
        for d in self.datasets:
            if isinstance(d, IterableDataset):
                raise TypeError("ConcatDataset does not support IterableDataset (use "
                                "ChainDataset)")
        self.cumulative_sizes = list(np.cumsum([len(d) for d in self.datasets]))

    def __len__(self):
        return int(self.cumulative_sizes[-1])

    def __getitem__(self, index):
        n = len(self)
        if index < 0:
            if -index > n:
                raise IndexError(f"index {index} is out of range for a dataset of length {n}")
            index += n
        if index >= n:
            raise IndexError(f"index {index} is out of range for a dataset of length {n}")
        which = bisect.bisect_right(self.cumulative_sizes, index)
        start = 0 if which == 0 else int(self.cumulative_sizes[which - 1])
        return self.datasets[which][index - start]


class ChainDataset(IterableDataset):
    """Several iterable datasets one after the other."""

    def __init__(self, datasets):
        self.datasets = list(datasets)

    def __iter__(self):
        for d in self.datasets:
            yield from d

    def __len__(self):
        return sum(len(d) for d in self.datasets)


class Subset(Dataset):
    """The samples of ``dataset`` at ``indices`` (in that order)."""

    def __init__(self, dataset, indices):
        self.dataset = dataset
        self.indices = indices

    def __len__(self):
        return len(self.indices)

    def __getitem__(self, index):
        if isinstance(index, (list, np.ndarray)):
            return [self.dataset[self.indices[i]] for i in index]
        return self.dataset[self.indices[index]]

    def _get_batch(self, indices):
        get = batch_getter(self.dataset)
        if get is None:
            return None
        key = (id(self.indices), len(self.indices))
        if getattr(self, "_index_key", None) != key:  # convert a list of indices only once
            self._index_cache, self._index_key = index_array(self.indices), key
        return get(self._index_cache[indices])


def random_split(dataset, lengths, generator=None):
    """Split ``dataset`` into non-overlapping random ``Subset``s of the given lengths.

    ``lengths`` may be fractions summing to 1: each split gets ``floor(frac * n)`` samples and
    the remainder is handed out one at a time from the first split on (as torch does).
    """
    n = len(dataset)
    lengths = list(lengths)
    if math.isclose(sum(lengths), 1) and sum(lengths) <= 1:
        sizes = []
        for i, frac in enumerate(lengths):
            if not 0 <= frac <= 1:
                raise ValueError(f"random_split: fraction at index {i} is not between 0 and 1")
            sizes.append(math.floor(n * frac))
        for i in range(n - sum(sizes)):
            sizes[i % len(sizes)] += 1
        for i, s in enumerate(sizes):
            if s == 0:
                warnings.warn(f"random_split: length of split at index {i} is 0", stacklevel=2)
        lengths = sizes
    if any(int(s) != s or s < 0 for s in lengths):
        raise ValueError(f"random_split: lengths must be non-negative integers or fractions "
                         f"summing to 1, got {lengths}")
    if sum(lengths) != n:
        raise ValueError(f"random_split: sum of input lengths ({sum(lengths)}) does not equal "
                         f"the length of the input dataset ({n})")
    gen = generator if generator is not None else _random.default_generator
    perm = gen.rng.permutation(n)
    out, start = [], 0
    for s in lengths:
        out.append(Subset(dataset, perm[start:start + int(s)].tolist()))
        start += int(s)
    return out
