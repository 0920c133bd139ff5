"""Collation: turning a list of samples into one batch (torch's ``default_collate`` rules).

Tensors and arrays are stacked along a new first dimension; Python ints become int64, floats
float64, bools bool tensors; strings stay a list; dicts, namedtuples and sequences are collated
field by field (a tuple of fields comes back as a list, as in torch).
"""
import collections.abc

import numpy as np

from ...tensor import Tensor
from ...backend import get_array_module
from ._arrays import wrap, raw

__all__ = ["default_collate", "default_convert"]


def _bad_type(elem):
    return TypeError(f"default_collate: batch must contain tensors, numpy arrays, numbers, "
                     f"dicts or lists; found {type(elem).__name__}")


def _stack_arrays(arrays, what):
    shapes = {a.shape for a in arrays}
    if len(shapes) > 1:
        raise RuntimeError(f"default_collate: cannot stack {what} of different shapes "
                           f"{sorted(shapes)}; use a collate_fn that pads them")
    return get_array_module(arrays[0]).stack(arrays)


def default_collate(batch):
    """Collate a list of samples into a batch of narae Tensors (see module docstring)."""
    if len(batch) == 0:
        raise ValueError("default_collate: the batch is empty")
    elem = batch[0]
    if isinstance(elem, Tensor):
        return wrap(_stack_arrays([raw(b) for b in batch], "tensors"))
    if isinstance(elem, np.ndarray):
        if elem.dtype.kind in "SaUO":
            raise _bad_type(elem)
        return wrap(_stack_arrays([np.asarray(b) for b in batch], "arrays"))
    if isinstance(elem, np.generic):
        if elem.dtype.kind in "SaUO":
            raise _bad_type(elem)
        return wrap(np.array(batch))
    if isinstance(elem, bool):
        return wrap(np.array(batch, dtype=np.bool_))
    if isinstance(elem, int):
        return wrap(np.array(batch, dtype=np.int64))
    if isinstance(elem, float):
        return wrap(np.array(batch, dtype=np.float64))
    if isinstance(elem, (str, bytes)):
        return list(batch)
    if isinstance(elem, collections.abc.Mapping):
        out = {key: default_collate([d[key] for d in batch]) for key in elem}
        try:
            return type(elem)(out)
        except TypeError:
            return out
    if isinstance(elem, tuple) and hasattr(elem, "_fields"):  # namedtuple
        return type(elem)(*(default_collate(list(s)) for s in zip(*batch)))
    if isinstance(elem, collections.abc.Sequence):
        if any(len(s) != len(elem) for s in batch):
            raise RuntimeError("default_collate: each element in list of batch should be of "
                               "equal size")
        return [default_collate(list(s)) for s in zip(*batch)]
    raise _bad_type(elem)


def default_convert(data):
    """Convert one sample without batching (``batch_size=None``): arrays become Tensors."""
    if isinstance(data, Tensor):
        return data
    if isinstance(data, (np.ndarray, np.generic)) and data.dtype.kind not in "SaUO":
        return wrap(np.asarray(data))
    if isinstance(data, collections.abc.Mapping):
        return {k: default_convert(v) for k, v in data.items()}
    if isinstance(data, tuple) and hasattr(data, "_fields"):
        return type(data)(*(default_convert(d) for d in data))
    if isinstance(data, tuple):
        return [default_convert(d) for d in data]
    if isinstance(data, collections.abc.Sequence) and not isinstance(data, (str, bytes)):
        return [default_convert(d) for d in data]
    return data
