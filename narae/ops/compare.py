"""Comparisons and logic: eq/ne/lt/le/gt/ge, logical_*, isnan..., all/any. No gradients."""
from ..backend import get_array_module
from ..tensor import Tensor, register_methods
from ._operands import binary_operands, normalize_dims

__all__ = ["eq", "ne", "lt", "le", "gt", "ge", "greater", "less", "greater_equal", "less_equal",
           "not_equal", "logical_and", "logical_or", "logical_xor", "logical_not", "isnan",
           "isinf", "isfinite", "all", "any", "equal", "allclose", "isclose"]


def _compare(ufunc_name):
    def op(input, other):
        a, b = binary_operands(input, other)
        xp = get_array_module(a._data)
        return Tensor(getattr(xp, ufunc_name)(a._data, b._data))
    op.__name__ = ufunc_name
    return op


eq = _compare("equal")
ne = not_equal = _compare("not_equal")
lt = less = _compare("less")
le = less_equal = _compare("less_equal")
gt = greater = _compare("greater")
ge = greater_equal = _compare("greater_equal")
logical_and = _compare("logical_and")
logical_or = _compare("logical_or")
logical_xor = _compare("logical_xor")


def _bitwise(ufunc_name):
    def op(input, other):
        a, b = binary_operands(input, other)
        if a._data.dtype.kind not in "biu":
            raise TypeError(f"{ufunc_name} is only supported for integer and bool tensors, "
                            f"got {a.dtype}")
        xp = get_array_module(a._data)
        return Tensor(getattr(xp, ufunc_name)(a._data, b._data))
    return op


def _unary(fn_name):
    def op(input):
        return Tensor(getattr(get_array_module(input._data), fn_name)(input._data))
    op.__name__ = fn_name
    return op


logical_not = _unary("logical_not")
isnan = _unary("isnan")
isinf = _unary("isinf")
isfinite = _unary("isfinite")


def _invert(self):
    xp = get_array_module(self._data)
    if self._data.dtype.kind not in "biu":
        raise TypeError("~ (bitwise_not) is only supported for integer and bool tensors")
    return Tensor(xp.invert(self._data))


def _bool_axes(dim, ndim):
    """all/any: an empty dim tuple reduces nothing (unlike sum's, which reduces everything)."""
    if isinstance(dim, (list, tuple)) and len(dim) == 0:
        return ()
    return normalize_dims(dim, ndim)


def all(input, dim=None, keepdim=False):
    return Tensor(get_array_module(input._data).all(
        input._data, axis=_bool_axes(dim, input.ndim), keepdims=keepdim))


def any(input, dim=None, keepdim=False):
    return Tensor(get_array_module(input._data).any(
        input._data, axis=_bool_axes(dim, input.ndim), keepdims=keepdim))


def equal(input, other):
    """True when both tensors have the same shape and elements."""
    return input.shape == other.shape and bool((input._data == other._data).all())


def isclose(input, other, rtol=1e-05, atol=1e-08, equal_nan=False):
    a, b = binary_operands(input, other)
    xp = get_array_module(a._data)
    return Tensor(xp.isclose(a._data, b._data, rtol=rtol, atol=atol, equal_nan=equal_nan))


def allclose(input, other, rtol=1e-05, atol=1e-08, equal_nan=False):
    return bool(isclose(input, other, rtol, atol, equal_nan)._data.all())


register_methods(
    eq=eq, ne=ne, lt=lt, le=le, gt=gt, ge=ge, greater=gt, less=lt, greater_equal=ge,
    less_equal=le, not_equal=ne, logical_and=logical_and, logical_or=logical_or,
    logical_xor=logical_xor, logical_not=logical_not, isnan=isnan, isinf=isinf,
    isfinite=isfinite, all=all, any=any, equal=equal, isclose=isclose, allclose=allclose,
    __eq__=eq, __ne__=ne, __lt__=lt, __le__=le, __gt__=gt, __ge__=ge,
    __and__=_bitwise("bitwise_and"), __or__=_bitwise("bitwise_or"),
    __xor__=_bitwise("bitwise_xor"), __invert__=_invert,
    __rand__=_bitwise("bitwise_and"), __ror__=_bitwise("bitwise_or"),
)
