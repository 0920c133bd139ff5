"""Argument helpers shared by the layers: expand ``3`` to ``(3, 3)`` as torch's ``_pair``."""
import collections.abc
import warnings
from itertools import repeat

__all__ = ["_single", "_pair", "_triple", "_ntuple", "_reduction"]


def _ntuple(n, name):
    def parse(x):
        if isinstance(x, collections.abc.Iterable) and not isinstance(x, str):
            return tuple(x)
        return tuple(repeat(x, n))
    parse.__name__ = name
    return parse


_single = _ntuple(1, "_single")
_pair = _ntuple(2, "_pair")
_triple = _ntuple(3, "_triple")


def _reduction(size_average, reduce, reduction):
    """Map torch's deprecated (size_average, reduce) flags onto ``reduction``."""
    if size_average is None and reduce is None:
        return reduction
    warnings.warn("size_average and reduce args will be deprecated, please use reduction= "
                  "instead.", UserWarning, stacklevel=3)
    size_average = True if size_average is None else size_average
    reduce = True if reduce is None else reduce
    if size_average and reduce:
        return "mean"
    return "sum" if reduce else "none"
