"""``DistributedSampler``: each of ``num_replicas`` processes sees its own 1/num_replicas of
the dataset every epoch (data-parallel training, one process per device).

narae has no process-group package: the replica count and rank come from the arguments or,
as torchrun sets them, from the ``WORLD_SIZE`` and ``RANK`` environment variables.
"""
import math
import os

import numpy as np

from .sampler import Sampler

__all__ = ["DistributedSampler"]


def _from_env(name, value):
    if value is not None:
        return value
    if name not in os.environ:
        raise RuntimeError(f"DistributedSampler: pass num_replicas and rank, or set the "
                           f"WORLD_SIZE and RANK environment variables ({name} is not set)")
    return int(os.environ[name])


class DistributedSampler(Sampler):
    """Indices ``rank, rank + num_replicas, ...`` of the epoch's order, padded by repeating
    the start (or, with ``drop_last``, cut) so every replica gets the same count. With
    ``shuffle`` the order is a permutation seeded by ``seed + epoch``: all replicas agree on
    it without communicating. Call ``set_epoch(epoch)`` before each epoch."""

    def __init__(self, dataset, num_replicas=None, rank=None, shuffle=True, seed=0,
                 drop_last=False):
        num_replicas = _from_env("WORLD_SIZE", num_replicas)
        rank = _from_env("RANK", rank)
        if rank >= num_replicas or rank < 0:
            raise ValueError(f"Invalid rank {rank}, rank should be in the interval "
                             f"[0, {num_replicas - 1}]")
        self.dataset, self.num_replicas, self.rank = dataset, num_replicas, rank
        self.epoch, self.drop_last, self.shuffle, self.seed = 0, drop_last, shuffle, seed
        n = len(dataset)
        if drop_last and n % num_replicas != 0:
            self.num_samples = math.ceil((n - num_replicas) / num_replicas)
        else:
            self.num_samples = math.ceil(n / num_replicas)
        self.total_size = self.num_samples * num_replicas

    def _index_array(self):
        n = len(self.dataset)
        if self.shuffle:
            order = np.random.default_rng(self.seed + self.epoch).permutation(n)
        else:
            order = np.arange(n, dtype=np.int64)
        if not self.drop_last:
            padding = self.total_size - n
            if padding:
                order = np.concatenate([order, np.resize(order, padding)])
        else:
            order = order[:self.total_size]
        return order[self.rank:self.total_size:self.num_replicas].astype(np.int64)

    def __len__(self):
        return self.num_samples

    def set_epoch(self, epoch):
        """A new shuffle each epoch (the same on every replica)."""
        self.epoch = epoch
