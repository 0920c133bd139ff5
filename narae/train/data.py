"""Turning what a user passes to ``fit`` into batches: a DataLoader, a Dataset or arrays.

    batches = as_batches((x, y), batch_size=32, shuffle=True)   # NumPy arrays or Tensors
    for inputs, target in batches: ...                          # inputs is a tuple

Arrays are sliced whole-batch at a time (no per-sample Python), shuffled with narae's
default generator so ``narae.manual_seed`` makes runs repeatable. float64 arrays become the
default float dtype (scikit-learn hands out float64; layers hold float32 weights).
"""
import numpy as np

__all__ = ["as_batches", "split_batch", "ArrayBatches", "LoaderBatches"]

DEFAULT_BATCH_SIZE = 32


def _is_array(x):
    from ..tensor import Tensor
    return isinstance(x, (np.ndarray, Tensor))


class ArrayBatches:
    """Mini-batches of equally long arrays; ``len`` is the number of batches per epoch."""

    def __init__(self, arrays, batch_size, shuffle):
        from .. import _dtype
        from ..tensor import Tensor
        self.arrays = []
        self.devices = []
        for a in arrays:
            self.devices.append(a.device if isinstance(a, Tensor) else None)
            if isinstance(a, Tensor):
                a = np.asarray(a.detach())
            elif a.dtype == np.float64:  # a float64 Tensor is a deliberate choice; kept
                a = a.astype(_dtype.get_default_dtype().np)
            self.arrays.append(a)
        n = {len(a) for a in self.arrays}
        if len(n) != 1:
            raise ValueError(f"fit: arrays have different lengths "
                             f"{[len(a) for a in self.arrays]}; x and y must match")
        self.num_examples = n.pop()
        self.batch_size = batch_size
        self.shuffle = shuffle

    def __len__(self):
        return -(-self.num_examples // self.batch_size)

    def __iter__(self):
        from ..tensor import Tensor
        from ..random import default_generator
        from ..backend import to_device
        n = self.num_examples
        order = default_generator.rng.permutation(n) if self.shuffle else None
        for start in range(0, n, self.batch_size):
            idx = order[start:start + self.batch_size] if order is not None else \
                slice(start, start + self.batch_size)
            out = []
            for a, dev in zip(self.arrays, self.devices):
                b = a[idx]
                if dev is not None and dev.type != "cpu":
                    b = to_device(b, dev)
                out.append(Tensor(b))
            yield tuple(out)


class LoaderBatches:
    """Any iterable of batches (a DataLoader); ``len`` is None when it has none."""

    def __init__(self, loader):
        self.loader = loader
        try:
            self.length = len(loader)
        except TypeError:
            self.length = None
        ds = getattr(loader, "dataset", None)
        try:
            self.num_examples = len(ds) if ds is not None else None
        except TypeError:
            self.num_examples = None
        self.batch_size = getattr(loader, "batch_size", None)

    def __len__(self):
        if self.length is None:
            raise TypeError("this data has no length")
        return self.length

    def __iter__(self):
        return iter(self.loader)


def as_batches(data, batch_size=None, shuffle=False, what="data"):
    """An object iterating batches; accepts a DataLoader, a Dataset, (x, y) or x alone."""
    if isinstance(data, (ArrayBatches, LoaderBatches)):
        return data
    if _is_array(data):
        data = (data,)
    if isinstance(data, (tuple, list)) and data and all(_is_array(a) for a in data):
        return ArrayBatches(data, batch_size or DEFAULT_BATCH_SIZE, shuffle)
    if hasattr(data, "__getitem__") and hasattr(data, "__len__") and \
            not isinstance(data, (tuple, list, str, bytes, dict)) and \
            not hasattr(data, "batch_sampler"):
        from ..utils.data import DataLoader
        return LoaderBatches(DataLoader(data, batch_size=batch_size or DEFAULT_BATCH_SIZE,
                                        shuffle=shuffle))
    if hasattr(data, "__iter__") and not isinstance(data, (str, bytes, dict)):
        if batch_size is not None and getattr(data, "batch_size", batch_size) != batch_size:
            raise ValueError(f"{what}: batch_size={batch_size} was given but the DataLoader "
                             f"already batches by {data.batch_size}; set it on the DataLoader")
        return LoaderBatches(data)
    raise TypeError(f"{what}: expected a DataLoader, a Dataset or a tuple (x, y) of arrays/"
                    f"Tensors, got {type(data).__name__}")


def split_batch(batch):
    """(inputs tuple, target or None): the last element of a tuple batch is the target."""
    from ..tensor import Tensor
    if isinstance(batch, Tensor):
        return (batch,), None
    if isinstance(batch, (tuple, list)):
        if len(batch) == 1:
            return (batch[0],), None
        return tuple(batch[:-1]), batch[-1]
    raise TypeError(f"a batch must be a Tensor or a tuple (inputs..., target), got "
                    f"{type(batch).__name__}")
