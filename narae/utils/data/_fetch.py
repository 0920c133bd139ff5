"""Turning one sampler step into one batch: shared by the main-process loader and its
worker processes, so both produce the same batches."""
import numpy as np

from .dataset import batch_getter
from .collate import default_collate

__all__ = ["IterableEnd", "Fetcher"]


class IterableEnd:
    """The answer once an IterableDataset is exhausted."""


class Fetcher:
    """``fetcher(indices)`` is the batch for a list of indices (map-style), or the next
    batch of the stream (iterable: ``indices`` is ignored, ``IterableEnd()`` at the end).
    Picklable when the dataset and collate_fn are, so spawned workers receive it whole."""

    def __init__(self, dataset, iterable, auto_collation, batch_size, drop_last, collate_fn):
        self.dataset, self.iterable = dataset, iterable
        self.auto_collation, self.batch_size, self.drop_last = \
            auto_collation, batch_size, drop_last
        self.collate_fn = collate_fn
        self._it = None

    def reset(self):
        """Start the stream again (a new epoch)."""
        self._it = None

    def __call__(self, indices):
        return self._next_of_stream() if self.iterable else self._batch(indices)

    def _fast_batch(self, indices):
        """The whole batch from ``dataset._get_batch`` when the default collate is in use."""
        if self.collate_fn is not default_collate:
            return None
        get = batch_getter(self.dataset)
        if get is None:
            return None
        idx = indices if isinstance(indices, np.ndarray) else np.asarray(indices)
        if idx.dtype.kind not in "iu":
            return None
        return get(idx.astype(np.int64, copy=False))

    def _batch(self, indices):
        if not self.auto_collation:  # one sample, converted
            return self.collate_fn(self.dataset[indices])
        batch = self._fast_batch(indices)
        if batch is not None:
            return batch
        if isinstance(indices, np.ndarray):
            indices = indices.tolist()
        getitems = getattr(self.dataset, "__getitems__", None)
        data = getitems(indices) if getitems is not None else \
            [self.dataset[i] for i in indices]
        return self.collate_fn(data)

    def _next_of_stream(self):
        if self._it is None:
            self._it = iter(self.dataset)
        if not self.auto_collation:
            try:
                return self.collate_fn(next(self._it))
            except StopIteration:
                return IterableEnd()
        batch = []
        for sample in self._it:
            batch.append(sample)
            if len(batch) == self.batch_size:
                return self.collate_fn(batch)
        if not batch or self.drop_last:
            return IterableEnd()
        return self.collate_fn(batch)
