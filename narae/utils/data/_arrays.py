"""Small helpers shared by the data modules: raw arrays in and out of narae Tensors."""
import numpy as np

from ...tensor import Tensor


def wrap(array):
    """A Tensor holding ``array`` as is (NumPy scalars become 0-d arrays so dtypes survive)."""
    if isinstance(array, np.generic):
        array = np.asarray(array)
    return Tensor(array)


def raw(x):
    """The array inside a Tensor, or ``x`` itself."""
    return x._data if isinstance(x, Tensor) else x


def index_array(indices):
    """Indices as a 1-D int64 NumPy array (accepts lists, ranges, arrays and Tensors)."""
    idx = np.asarray(raw(indices) if not isinstance(indices, range) else list(indices))
    if idx.dtype.kind not in "iu":
        if idx.size == 0:
            return idx.astype(np.int64).reshape(-1)
        raise TypeError(f"indices must be integers, got dtype {idx.dtype}")
    return idx.astype(np.int64, copy=False).reshape(-1)
