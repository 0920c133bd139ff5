"""Random number state: ``manual_seed`` and ``Generator``, so that runs are reproducible.

All of narae's randomness (``rand``, ``randn``, dropout, initializers, shuffling) draws
from ``default_generator`` unless a ``generator=`` is passed.
"""
import numpy as np

__all__ = ["Generator", "manual_seed", "seed", "initial_seed", "default_generator",
           "get_rng_state", "set_rng_state"]


class Generator:
    """A seeded random stream, mirroring ``torch.Generator`` (wraps ``numpy.random.Generator``)."""

    def __init__(self, device="cpu"):
        self.device = device
        self._seed = int(np.random.SeedSequence().entropy % (2 ** 63))
        self.rng = np.random.default_rng(self._seed)
        self._gpu_rng = None

    def manual_seed(self, seed):
        seed = int(seed)
        if seed < 0:
            seed += 2 ** 64
        self._seed = seed
        self.rng = np.random.default_rng(seed)
        self._gpu_rng = None
        return self

    def seed(self):
        self.manual_seed(int(np.random.SeedSequence().entropy % (2 ** 63)))
        return self._seed

    def initial_seed(self):
        return self._seed

    def get_state(self):
        return self.rng.bit_generator.state

    def set_state(self, state):
        self.rng.bit_generator.state = state

    def gpu(self, cupy):
        """A CuPy generator derived from this one's seed (created on first GPU use)."""
        if self._gpu_rng is None:
            self._gpu_rng = cupy.random.default_rng(self._seed)
        return self._gpu_rng

    def for_module(self, xp):
        return self.rng if xp is np else self.gpu(xp)


default_generator = Generator()


def manual_seed(seed):
    """Seed all of narae's random streams; returns the default generator (as torch does)."""
    return default_generator.manual_seed(seed)


def seed():
    return default_generator.seed()


def initial_seed():
    return default_generator.initial_seed()


def get_rng_state():
    return default_generator.get_state()


def set_rng_state(state):
    default_generator.set_state(state)
