"""``DataLoader``: iterate a dataset in (shuffled) mini-batches, in the main process.

Only ``num_workers=0`` exists: narae's arrays are NumPy, whose heavy work already releases the
GIL, and a batch of a ``TensorDataset`` (or any dataset with ``_get_batch``) is a single
fancy-indexing call per tensor, so worker processes would mostly add copying.
"""
import numpy as np

from .dataset import IterableDataset, batch_getter
from .sampler import SequentialSampler, RandomSampler, BatchSampler
from .collate import default_collate, default_convert

__all__ = ["DataLoader"]


class DataLoader:
    """Batches of ``dataset`` in the order of ``sampler`` (or shuffled, or sequential).

    Mirrors ``torch.utils.data.DataLoader``: ``batch_size=None`` turns automatic batching off;
    ``batch_sampler`` is exclusive with ``batch_size``/``shuffle``/``sampler``/``drop_last``;
    ``shuffle`` is exclusive with ``sampler``. Shuffling draws from ``generator`` (default:
    ``narae.random.default_generator``) at the start of every epoch. ``pin_memory``,
    ``timeout``, ``worker_init_fn``, ``prefetch_factor`` and ``persistent_workers`` are
    accepted for compatibility and have no effect.
    """

    def __init__(self, dataset, batch_size=1, shuffle=None, sampler=None, batch_sampler=None,
                 num_workers=0, collate_fn=None, pin_memory=False, drop_last=False, timeout=0,
                 worker_init_fn=None, multiprocessing_context=None, generator=None, *,
                 prefetch_factor=None, persistent_workers=False, pin_memory_device=""):
        if num_workers != 0:
            raise ValueError(f"DataLoader: num_workers={num_workers} is not supported; narae "
                             "loads batches in the main process (num_workers=0). Batches of a "
                             "TensorDataset are already one vectorised indexing call.")
        self.dataset = dataset
        self.num_workers = 0
        self.pin_memory = pin_memory
        self.timeout = timeout
        self.generator = generator
        self._iterable = isinstance(dataset, IterableDataset)

        if self._iterable:
            if shuffle not in (None, False):
                raise ValueError(f"DataLoader with IterableDataset: expected unspecified shuffle "
                                 f"option, but got shuffle={shuffle}")
            if sampler is not None or batch_sampler is not None:
                raise ValueError("DataLoader with IterableDataset: expected unspecified sampler "
                                 "and batch_sampler options")
        if sampler is not None and shuffle:
            raise ValueError("DataLoader: sampler option is mutually exclusive with shuffle")
        if batch_sampler is not None:
            if batch_size != 1 or shuffle or sampler is not None or drop_last:
                raise ValueError("DataLoader: batch_sampler option is mutually exclusive with "
                                 "batch_size, shuffle, sampler, and drop_last")
            batch_size, drop_last = None, False
        elif batch_size is None and drop_last:
            raise ValueError("DataLoader: batch_size=None option disables auto-batching and is "
                             "mutually exclusive with drop_last")

        if sampler is None and not self._iterable:
            sampler = RandomSampler(dataset, generator=generator) if shuffle else \
                SequentialSampler(dataset)
        if batch_size is not None and batch_sampler is None and not self._iterable:
            batch_sampler = BatchSampler(sampler, batch_size, drop_last)

        self.batch_size = batch_size
        self.drop_last = drop_last
        self.sampler = sampler
        self.batch_sampler = batch_sampler
        self._auto_collation = batch_sampler is not None or (self._iterable and
                                                             batch_size is not None)
        if collate_fn is None:
            collate_fn = default_collate if self._auto_collation else default_convert
        self.collate_fn = collate_fn

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

    def _fetch(self, indices):
        batch = self._fast_batch(indices)
        if batch is not None:
            return batch
        if isinstance(indices, np.ndarray):
            indices = indices.tolist()
        getitems = getattr(self.dataset, "__getitems__", None)
        data = getitems(indices) if getitems is not None else \
            [self.dataset[i] for i in indices]
        return self.collate_fn(data)

    def _iter_iterable(self):
        if not self._auto_collation:
            for sample in self.dataset:
                yield self.collate_fn(sample)
            return
        batch = []
        for sample in self.dataset:
            batch.append(sample)
            if len(batch) == self.batch_size:
                yield self.collate_fn(batch)
                batch = []
        if batch and not self.drop_last:
            yield self.collate_fn(batch)

    def __iter__(self):
        if self._iterable:
            yield from self._iter_iterable()
            return
        if not self._auto_collation:
            for i in self.sampler:
                yield self.collate_fn(self.dataset[i])
            return
        batches = self.batch_sampler._batches() if isinstance(self.batch_sampler, BatchSampler) \
            else iter(self.batch_sampler)
        for indices in batches:
            yield self._fetch(indices)

    def __len__(self):
        if self._iterable:
            n = len(self.dataset)
            if self.batch_size is None:
                return n
            return n // self.batch_size if self.drop_last else -(-n // self.batch_size)
        if self._auto_collation:
            return len(self.batch_sampler)
        return len(self.sampler)
