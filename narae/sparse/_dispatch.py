"""What a dense op does when a sparse tensor reaches it (called only on its error path).

``Function.__call__`` runs ``forward`` on raw arrays; a ``SparseCOOArray`` has no array
methods and refuses NumPy ufuncs, so a dense op given a sparse tensor fails there. Only
then does ``on_forward_error`` look at the inputs: a few ops torch defines on the COO layout
are rerouted to ``narae.sparse`` (``narae.mm(sparse, dense)``, ``narae.add``...); every other
op gets a clear error. The dense path pays nothing.
"""
from ._coo import SparseCOOArray

__all__ = ["on_forward_error"]


# Elementwise ops with f(0) = 0, by Function class name: a sparse input keeps its pattern and
# the same Function runs on its values (the linear ones need no coalescing first).
ZERO_PRESERVING = {"Abs", "Sqrt", "Sin", "Sinh", "Tan", "Tanh", "Asin", "Asinh", "Atan",
                   "Atanh", "Expm1", "Log1p", "Erf", "Erfinv", "ReLU", "Frac", "NanToNum",
                   "_NoGrad", "PowScalar"}
LINEAR = {"Neg", "MulScalar", "DivScalar", "Conj", "Cast"}


def _table():
    from . import _api
    return {
        "MatMul": lambda op, a, b: _api.matmul(a, b),
        "Add": lambda op, a, b: _api.add(a, b), "Sub": lambda op, a, b: _api.sub(a, b),
        "Mul": lambda op, a, b: _api.mul(a, b), "Div": lambda op, a, b: _api.div(a, b),
        "Sum": _sum, "Permute": _permute,
    }


def _sum(op, a):
    """``narae.sum(sparse[, dim])``: torch sums a sparse tensor like torch.sparse.sum."""
    from . import _api
    if op.keepdim:
        raise RuntimeError("sum: keepdim=True is not supported for sparse tensors")
    return _api.sum(a, None if op.axes is None else op.axes)


def _permute(op, a):
    """``narae.transpose``/``t`` of a sparse tensor: a permutation swapping two dims."""
    from . import _api
    axes = tuple(op.axes) if op.axes is not None else tuple(range(a.ndim))[::-1]
    moved = [d for d, x in enumerate(axes) if d != x]
    if not moved:
        return a
    if len(moved) != 2:
        raise RuntimeError(f"permute: sparse tensors support swapping two dims only, got "
                           f"{axes} for shape {tuple(a.shape)}")
    return _api._transpose(a, moved[0], moved[1])


def _elementwise(fn, inputs):
    from . import _api
    name = type(fn).__name__
    if len(inputs) != 1:
        return None
    if name == "PowScalar" and not fn.exponent > 0:
        raise RuntimeError(f"pow: a sparse tensor can only be raised to a positive scalar "
                           f"power (zero must stay zero), got {fn.exponent!r}")
    return _api.apply_to_values(fn, inputs[0], linear=name in LINEAR)


_TABLE = []


def on_forward_error(fn, inputs):
    """None when no input is sparse (the caller re-raises its own error); else the sparse
    result of the op, or a RuntimeError naming the op."""
    if not any(type(x._data) is SparseCOOArray for x in inputs):
        return None
    if not _TABLE:
        _TABLE.append(_table())
    name = type(fn).__name__
    if name in ZERO_PRESERVING or name in LINEAR:
        r = _elementwise(fn, inputs)
        if r is not None:
            return r
    impl = _TABLE[0].get(name)
    if impl is not None:
        try:
            return impl(fn, *inputs)
        except TypeError:
            pass  # (an unexpected arity: report as unsupported below)
    shapes = ", ".join(f"{tuple(x.shape)}" + (" (sparse)" if type(x._data) is SparseCOOArray
                                              else "") for x in inputs)
    raise RuntimeError(f"{name}: sparse tensors (layout narae.sparse_coo) are not supported by "
                       f"this operation (input shapes: {shapes}); convert with to_dense() or "
                       f"use narae.sparse") from None
