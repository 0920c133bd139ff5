"""Worker processes for ``DataLoader(num_workers > 0)``.

Worth it when samples cost Python time (decoding files, per-sample augmentation); a
``TensorDataset`` batch is one indexing call and needs no workers. The main process hands
each worker the index lists of whole batches (``prefetch_factor`` per worker in flight); a
worker fetches and collates them and sends the batch back; the main process yields batches
in the sampler's order whichever worker finishes first, so results equal ``num_workers=0``.
Each worker seeds Python's, NumPy's and narae's generators with ``base_seed + worker_id``
(``base_seed`` drawn from the loader's generator each epoch), so random transforms are
reproducible under ``narae.manual_seed`` and differ between workers. An
``IterableDataset`` is copied into every worker: shard it with ``get_worker_info()``.
"""
import multiprocessing
import queue
import random
import sys
import traceback
from dataclasses import dataclass

import numpy as np

from ._fetch import IterableEnd

__all__ = ["WorkerInfo", "get_worker_info"]

_worker_info = None
_POLL_SECONDS = 5.0


@dataclass(frozen=True)
class WorkerInfo:
    """What a worker process knows about itself (``get_worker_info()`` inside a worker)."""
    id: int
    num_workers: int
    seed: int
    dataset: object


def get_worker_info():
    """The current worker's ``WorkerInfo``, or None in the main process."""
    return _worker_info


class _ExceptionWrapper:
    """An exception raised in a worker, carried back with its traceback as text."""

    def __init__(self, where):
        self.exc_type = sys.exc_info()[0]
        self.message = f"Caught {self.exc_type.__name__} {where}.\nOriginal " + \
            traceback.format_exc()

    def reraise(self):
        try:
            error = self.exc_type(self.message)
        except Exception:  # an exception class whose constructor needs other arguments
            error = RuntimeError(self.message)
        raise error


def _begin_epoch(worker_id, num_workers, base_seed, dataset):
    """Seed Python's, NumPy's and narae's generators with ``base_seed + worker_id`` and
    publish the worker's ``WorkerInfo``: at start-up and at each persistent-worker epoch."""
    global _worker_info
    from ... import random as narae_random
    seed = base_seed + worker_id
    random.seed(seed)
    np.random.seed(seed % 2 ** 32)
    narae_random.manual_seed(seed)
    _worker_info = WorkerInfo(worker_id, num_workers, seed, dataset)


def _worker_loop(fetcher, index_queue, result_queue, worker_id, num_workers, base_seed,
                 worker_init_fn):
    """A worker's life: seed, run ``worker_init_fn``, then answer tasks until told to stop."""
    _begin_epoch(worker_id, num_workers, base_seed, fetcher.dataset)
    init_error = None
    if worker_init_fn is not None:
        try:
            worker_init_fn(worker_id)
        except Exception:
            init_error = _ExceptionWrapper(f"in DataLoader worker process {worker_id}")
    while True:
        try:
            task = index_queue.get(timeout=_POLL_SECONDS)
        except queue.Empty:
            continue
        if task is None:
            break
        task_id, indices = task
        if task_id == "reset":  # a new epoch for persistent workers: indices is its seed
            _begin_epoch(worker_id, num_workers, indices, fetcher.dataset)
            fetcher.reset()
            continue
        if init_error is not None:
            result_queue.put((task_id, init_error))
            continue
        try:
            data = fetcher(indices)
        except Exception:
            data = _ExceptionWrapper(f"in DataLoader worker process {worker_id}")
        result_queue.put((task_id, data))


class _SKIPPED:
    """Placeholder for a task that produced no batch (an exhausted iterable worker)."""


class MultiProcessIterator:
    """One epoch over a ``DataLoader`` with worker processes (reusable across epochs when
    ``persistent_workers``)."""

    def __init__(self, loader):
        self.loader = loader
        self.num_workers = loader.num_workers
        self.timeout = loader.timeout
        self.prefetch = (loader.prefetch_factor or 2) * self.num_workers
        ctx = loader.multiprocessing_context
        if ctx is None:
            ctx = multiprocessing
        elif isinstance(ctx, str):
            ctx = multiprocessing.get_context(ctx)
        self.result_queue = ctx.Queue()
        self.index_queues, self.workers = [], []
        base_seed = loader._draw_base_seed()
        fetcher = loader._make_fetcher()
        for worker_id in range(self.num_workers):
            index_queue = ctx.Queue()
            index_queue.cancel_join_thread()
            process = ctx.Process(target=_worker_loop, daemon=True,
                                  args=(fetcher, index_queue, self.result_queue, worker_id,
                                        self.num_workers, base_seed, loader.worker_init_fn))
            process.start()
            self.index_queues.append(index_queue)
            self.workers.append(process)
        self._shut = False
        self._start_epoch(first=True)

    def _start_epoch(self, first=False):
        loader = self.loader
        if not first:
            base_seed = loader._draw_base_seed()
            for q in self.index_queues:
                q.put(("reset", base_seed))
        self.tasks = loader._task_source()
        self.active = list(range(self.num_workers))
        self.next_worker = 0
        if first:
            self.send_idx, self.owner = 0, {}
        # task ids keep counting across epochs: answers to an abandoned epoch are dropped
        self.epoch_start = self.rcvd_idx = self.send_idx
        self.done = {}
        for _ in range(self.prefetch):
            self._send()

    def _send(self):
        if not self.active:
            return
        indices = next(self.tasks, IterableEnd)
        if indices is IterableEnd:
            return
        worker = self.active[self.next_worker % len(self.active)]
        self.next_worker += 1
        self.index_queues[worker].put((self.send_idx, indices))
        self.owner[self.send_idx] = worker
        self.send_idx += 1

    def __iter__(self):
        return self

    def __next__(self):
        while True:
            if self.rcvd_idx in self.done:
                data = self.done.pop(self.rcvd_idx)
                self.rcvd_idx += 1
                self._send()
                if data is _SKIPPED:
                    continue
                if isinstance(data, _ExceptionWrapper):
                    self._shutdown()
                    data.reraise()
                return data
            if self.rcvd_idx >= self.send_idx:
                if not self.loader.persistent_workers:
                    self._shutdown()
                raise StopIteration

            task_id, data = self._get()
            worker = self.owner.pop(task_id)
            if task_id < self.epoch_start:
                continue
            if isinstance(data, IterableEnd):
                # this worker's copy of the dataset ran dry: send it nothing more
                if worker in self.active:
                    self.active.remove(worker)
                data = _SKIPPED
            self.done[task_id] = data

    def _get(self):
        """The next finished task; a dead worker or ``timeout`` raises instead of hanging."""
        poll = min(_POLL_SECONDS, self.timeout) if self.timeout else _POLL_SECONDS
        waited = 0.0
        while True:
            try:
                return self.result_queue.get(timeout=poll)
            except queue.Empty:
                waited += poll
                dead = [p for p in self.workers if not p.is_alive()]
                if dead:
                    self._shutdown()
                    raise RuntimeError(f"DataLoader worker (pid(s) "
                                       f"{', '.join(str(p.pid) for p in dead)}) exited "
                                       "unexpectedly") from None
                if self.timeout and waited >= self.timeout:
                    self._shutdown()
                    raise RuntimeError(f"DataLoader timed out after {self.timeout} seconds")

    def _shutdown(self):
        if self._shut:
            return
        self._shut = True
        for q in self.index_queues:
            try:
                q.put(None)
            except Exception:
                pass
        for p in self.workers:
            p.join(timeout=2.0)
            if p.is_alive():
                p.terminate()
        self.result_queue.cancel_join_thread()
        self.result_queue.close()
        if getattr(self.loader, "_persistent_iterator", None) is self:
            self.loader._persistent_iterator = None

    def __del__(self):
        try:
            self._shutdown()
        except Exception:
            pass
