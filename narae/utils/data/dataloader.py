"""``DataLoader``: iterate a dataset in (shuffled) mini-batches.

With ``num_workers=0`` (the default) batches are made in the main process: a batch of a
``TensorDataset`` (or any dataset with ``_get_batch``) is one fancy-indexing call per tensor,
which worker processes could only slow down. ``num_workers > 0`` starts worker processes
(``_worker.py``) for datasets whose samples cost Python time (decoding, augmentation).
"""
import itertools

from .dataset import IterableDataset
from .sampler import SequentialSampler, RandomSampler, BatchSampler, _rng
from .collate import default_collate, default_convert
from ._fetch import Fetcher, IterableEnd
from ._worker import MultiProcessIterator

__all__ = ["DataLoader"]


class DataLoader:
    """Batches of ``dataset`` in the order of ``sampler`` (or shuffled, or sequential).

    Mirrors ``torch.utils.data.DataLoader``: ``batch_size=None`` turns automatic batching off;
    ``batch_sampler`` is exclusive with ``batch_size``/``shuffle``/``sampler``/``drop_last``;
    ``shuffle`` is exclusive with ``sampler``. Shuffling draws from ``generator`` (default:
    ``narae.random.default_generator``) at the start of every epoch. ``num_workers``,
    ``worker_init_fn``, ``prefetch_factor``, ``persistent_workers``, ``timeout`` and
    ``multiprocessing_context`` work as in torch; ``pin_memory`` has no effect (NumPy host
    memory; GPU uploads use pinned staging buffers of their own).
    """

    def __init__(self, dataset, batch_size=1, shuffle=None, sampler=None, batch_sampler=None,
                 num_workers=0, collate_fn=None, pin_memory=False, drop_last=False, timeout=0,
                 worker_init_fn=None, multiprocessing_context=None, generator=None, *,
                 prefetch_factor=None, persistent_workers=False, pin_memory_device=""):
        if num_workers < 0:
            raise ValueError("num_workers option should be non-negative; use num_workers=0 to "
                             "disable multiprocessing.")
        if timeout < 0:
            raise ValueError("timeout option should be non-negative")
        if num_workers == 0 and prefetch_factor is not None:
            raise ValueError("prefetch_factor option could only be specified in "
                             "multiprocessing.let num_workers > 0 to enable multiprocessing, "
                             "otherwise set prefetch_factor to None.")
        if num_workers > 0 and prefetch_factor is None:
            prefetch_factor = 2
        if persistent_workers and num_workers == 0:
            raise ValueError("persistent_workers option needs num_workers > 0")
        self.num_workers = num_workers
        self.prefetch_factor = prefetch_factor
        self.persistent_workers = persistent_workers
        self.worker_init_fn = worker_init_fn
        self.multiprocessing_context = multiprocessing_context
        self._persistent_iterator = None
        self.dataset = dataset
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

    def _make_fetcher(self):
        return Fetcher(self.dataset, self._iterable, self._auto_collation, self.batch_size,
                       self.drop_last, self.collate_fn)

    def _task_source(self):
        """What the fetcher is called with, once per batch: index lists (map-style) or
        nothing (an iterable dataset's next batch)."""
        if self._iterable:
            return itertools.repeat(None)
        if not self._auto_collation:
            return iter(self.sampler)
        if isinstance(self.batch_sampler, BatchSampler):
            return self.batch_sampler._batches()
        return iter(self.batch_sampler)

    def _draw_base_seed(self):
        """One draw per epoch from the loader's generator: the workers' seeds derive from it."""
        return int(_rng(self.generator).integers(0, 2 ** 62))

    def __iter__(self):
        if self.num_workers > 0:
            return self._worker_iterator()
        return self._main_process_iterator()

    def _main_process_iterator(self):
        # the workers' seed is drawn here too, so that the shuffling (and everything after
        # it) follows the same random stream whatever num_workers is
        self._draw_base_seed()
        fetch = self._make_fetcher()
        for indices in self._task_source():
            batch = fetch(indices)
            if isinstance(batch, IterableEnd):
                return
            yield batch

    def _worker_iterator(self):
        if not self.persistent_workers:
            return MultiProcessIterator(self)
        if self._persistent_iterator is None:
            self._persistent_iterator = MultiProcessIterator(self)
        else:
            self._persistent_iterator._start_epoch()
        return self._persistent_iterator

    def __getstate__(self):
        state = dict(self.__dict__)
        state["_persistent_iterator"] = None  # worker processes do not travel
        return state

    def __len__(self):
        if self._iterable:
            n = len(self.dataset)
            if self.batch_size is None:
                return n
            return n // self.batch_size if self.drop_last else -(-n // self.batch_size)
        if self._auto_collation:
            return len(self.batch_sampler)
        return len(self.sampler)
