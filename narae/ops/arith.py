"""Elementwise arithmetic and math: + - * / **, exp, log, sqrt, abs, sin, clamp, where...

Every backward is written with these same ops, so it can itself be differentiated.
"""
from .._dtype import is_floating, is_differentiable
from ..autograd import grad_mode
from ..autograd.function import Function
from ..backend import get_array_module
from ..backend.constants import scalar
from ..backend.arrays import raise_if_mixed_devices
from ..tensor import Tensor, register_methods
from ._operands import binary_operands, as_tensor_like, float_operand, _scalar_dtype

__all__ = ["add", "sub", "subtract", "mul", "multiply", "div", "divide", "true_divide", "pow",
           "neg", "negative", "exp", "log", "log1p", "log2", "log10", "expm1", "sqrt", "rsqrt",
           "square", "reciprocal", "abs", "absolute", "sign", "sin", "cos", "tan", "clamp",
           "clip", "maximum", "minimum", "where", "erf", "floor", "ceil", "round", "trunc",
           "floor_divide", "remainder", "fmod", "lerp", "addcmul", "addcdiv"]


# --- binary ------------------------------------------------------------------------------
class Add(Function):
    uses_inputs = False

    def forward(self, a, b):
        return a + b

    def backward(self, gy):
        return gy, gy


class Sub(Function):
    uses_inputs = False

    def forward(self, a, b):
        return a - b

    def backward(self, gy):
        return gy, (-gy if self.inputs[1].requires_grad else None)


class Conj(Function):
    """Complex conjugate (re - i im); its own adjoint: the gradient is conj(gy)."""
    uses_inputs = False

    def forward(self, x):
        return get_array_module(x).conj(x)

    def backward(self, gy):
        return Conj()(gy)


def _cj(t):
    """conj(t) for a complex tensor, t itself for a real one. A holomorphic op's backward
    multiplies by conj(f'(z)) (torch's convention); for real dtypes that is f'(x)."""
    return t if t._data.dtype.kind != "c" else Conj()(t)


class Mul(Function):
    def forward(self, a, b):
        return a * b

    def backward(self, gy):
        a, b = self.inputs
        return (gy * _cj(b) if a.requires_grad else None), \
            (gy * _cj(a) if b.requires_grad else None)


class Div(Function):
    def forward(self, a, b):
        return a / b

    def backward(self, gy):
        a, b = self.inputs
        ga = gy / _cj(b) if a.requires_grad else None
        gb = -gy * _cj(a / (b * b)) if b.requires_grad else None
        return ga, gb


class Pow(Function):
    """a ** b with both operands tensors; d/db = a**b * log(a)."""
    uses_outputs = True

    def forward(self, a, b):
        return a ** b

    def backward(self, gy):
        a, b = self.inputs
        ga = gy * _cj(b * a ** (b - 1)) if a.requires_grad else None
        gb = None
        if b.requires_grad:
            xp = get_array_module(a._data)
            # 0 ** b has zero derivative in b (log(0) would give nan): mask it like torch
            safe_log = where(a == 0, Tensor(xp.zeros((), a._data.dtype)), log(a))
            gb = gy * _cj(self.output() * safe_log)
        return ga, gb


class PowScalar(Function):
    def __init__(self, exponent):
        self.exponent = exponent

    def forward(self, x):
        c = self.exponent
        if c == 2:
            return x * x
        return x ** c

    def backward(self, gy):
        c = self.exponent
        x = self.inputs[0]
        if c == 2:
            return gy * _cj(x * 2.0)
        if c == 1:
            return gy
        return gy * _cj(x ** (c - 1) * c)


class RPowScalar(Function):
    """base ** x for a number ``base``."""
    uses_outputs = True

    def __init__(self, base):
        self.base = base

    def forward(self, x):
        xp = get_array_module(x)
        if x.dtype.kind in "iu":  # integer powers: base ** -k is 0 (1 for base 1), as torch
            out = xp.power(scalar(xp, self.base, x.dtype), xp.maximum(x, 0))
            if self.base != 1:
                out = xp.where(x < 0, 0, out).astype(x.dtype, copy=False)
            return out
        return xp.power(scalar(xp, self.base, x.dtype), x)

    def backward(self, gy):
        import math
        return gy * _cj(self.output()) * math.log(self.base)


class Maximum(Function):
    def forward(self, a, b):
        return get_array_module(a).maximum(a, b)

    def backward(self, gy):
        a, b = self.inputs
        return _split_ties(gy, a, b, a > b, a == b)


class Minimum(Function):
    def forward(self, a, b):
        return get_array_module(a).minimum(a, b)

    def backward(self, gy):
        a, b = self.inputs
        return _split_ties(gy, a, b, a < b, a == b)


def _split_ties(gy, a, b, a_wins, tie):
    """Gradient of max/min: to the winner; ties share it equally (torch's convention)."""
    share = a_wins.to(gy.dtype) + tie.to(gy.dtype) * 0.5
    ga = gy * share if a.requires_grad else None
    gb = gy * (1.0 - share) if b.requires_grad else None
    return ga, gb


class Where(Function):
    def forward(self, cond, a, b):
        self.cond = cond
        return get_array_module(a).where(cond, a, b)

    def backward(self, gy):
        _, a, b = self.inputs
        mask = Tensor(self.cond)
        zero = Tensor(get_array_module(gy._data).zeros((), gy._data.dtype))
        ga = where(mask, gy, zero) if a.requires_grad else None
        gb = where(mask, zero, gy) if b.requires_grad else None
        return None, ga, gb


class AddScalar(Function):
    """x + c for a Python number c (no constant tensor needed)."""
    uses_inputs = False

    def __init__(self, c):
        self.c = c

    def forward(self, x):
        return x + self.c

    def backward(self, gy):
        return gy


class MulScalar(Function):
    uses_inputs = False

    def __init__(self, c):
        self.c = c

    def forward(self, x):
        return x * self.c

    def backward(self, gy):
        return MulScalar(self.c)(gy)


class RSubScalar(Function):
    """c - x."""
    uses_inputs = False

    def __init__(self, c):
        self.c = c

    def forward(self, x):
        return self.c - x

    def backward(self, gy):
        return -gy


class DivScalar(Function):
    uses_inputs = False

    def __init__(self, c):
        self.c = c

    def forward(self, x):
        return x / self.c

    def backward(self, gy):
        return DivScalar(self.c)(gy)


def _is_number(v):
    return type(v) is float or type(v) is int


def _float_tensor(t):
    return isinstance(t, Tensor) and is_differentiable(t._data.dtype)  # (complex too)


# --- unary -------------------------------------------------------------------------------
class Neg(Function):
    uses_inputs = False

    def forward(self, x):
        return -x

    def backward(self, gy):
        return -gy


class Exp(Function):
    uses_inputs = False
    uses_outputs = True

    def forward(self, x):
        return get_array_module(x).exp(x)

    def backward(self, gy):
        return gy * _cj(self.output())


class Expm1(Function):
    uses_inputs = False
    uses_outputs = True

    def forward(self, x):
        return get_array_module(x).expm1(x)

    def backward(self, gy):
        return gy * _cj(self.output() + 1.0)


class Log(Function):
    def forward(self, x):
        return get_array_module(x).log(x)

    def backward(self, gy):
        return gy / _cj(self.inputs[0])


class Log1p(Function):
    def forward(self, x):
        return get_array_module(x).log1p(x)

    def backward(self, gy):
        return gy / _cj(self.inputs[0] + 1.0)


class Sqrt(Function):
    uses_inputs = False
    uses_outputs = True

    def forward(self, x):
        return get_array_module(x).sqrt(x)

    def backward(self, gy):
        return gy / _cj(self.output() * 2.0)


class Rsqrt(Function):
    uses_inputs = False
    uses_outputs = True

    def forward(self, x):
        xp = get_array_module(x)
        return xp.reciprocal(xp.sqrt(x))

    def backward(self, gy):
        y = self.output()
        return gy * _cj(y * y * y) * -0.5


class Abs(Function):
    def forward(self, x):
        return get_array_module(x).abs(x)

    def backward(self, gy):
        x = self.inputs[0]
        if x._data.dtype.kind == "c":  # d|z| = Re(conj(z)/|z| dz): the gradient is gy * z/|z|
            from .elementwise import sgn
            return gy * sgn(x)
        return gy * sign(x)


class Sin(Function):
    def forward(self, x):
        return get_array_module(x).sin(x)

    def backward(self, gy):
        return gy * _cj(cos(self.inputs[0]))


class Cos(Function):
    def forward(self, x):
        return get_array_module(x).cos(x)

    def backward(self, gy):
        return -gy * _cj(sin(self.inputs[0]))


class Tan(Function):
    uses_inputs = False
    uses_outputs = True

    def forward(self, x):
        return get_array_module(x).tan(x)

    def backward(self, gy):
        y = self.output()
        return gy * _cj(y * y + 1.0)


class Erf(Function):
    def forward(self, x):
        return _erf_array(x)

    def backward(self, gy):
        x = self.inputs[0]
        return gy * exp(-(x * x)) * 1.1283791670955126  # 2/sqrt(pi)


class Clamp(Function):
    def __init__(self, lo, hi):
        self.lo, self.hi = lo, hi

    def forward(self, x):
        return get_array_module(x).clip(x, self.lo, self.hi)

    def backward(self, gy):
        x = self.inputs[0]
        # torch passes the gradient where lo <= x <= hi (boundaries included)
        keep = None
        if self.lo is not None:
            keep = x >= self.lo
        if self.hi is not None:
            keep = (x <= self.hi) if keep is None else (keep & (x <= self.hi))
        return gy if keep is None else gy * keep.to(gy.dtype)


class _NoGrad(Function):
    """Piecewise-constant functions (sign, floor, round...): zero gradient everywhere.

    ``kind`` says which function ``fn`` computes ("floor", ...) and ``params`` its constants
    (round's decimals), for readers of the graph such as the ONNX exporter. (Not ``name``:
    that is every Function's node name, which the profiler reads.)
    """
    uses_inputs = False

    def __init__(self, fn, kind=None, params=()):
        self.fn, self.kind, self.params = fn, kind, params

    def forward(self, x):
        return self.fn(get_array_module(x), x)

    def backward(self, gy):
        # exact zeros, not gy * 0: an inf/nan arriving from above must not turn into nan
        xp = get_array_module(gy._data)
        return Tensor(xp.zeros(gy._data.shape, gy._data.dtype))


def _erf_array(x):
    """erf on an array: SciPy's (or CuPy's) vectorised erf when present, else math.erf."""
    xp = get_array_module(x)
    if xp.__name__ != "numpy":
        from cupyx.scipy.special import erf as cupy_erf
        return cupy_erf(x)
    try:
        from scipy.special import erf as scipy_erf
        return scipy_erf(x).astype(x.dtype, copy=False)
    except ImportError:
        import math
        return xp.frompyfunc(math.erf, 1, 1)(x).astype(x.dtype)


# --- the user-facing functions -----------------------------------------------------------
def add(input, other, *, alpha=1):
    if _is_number(other) and _float_tensor(input):
        return AddScalar(other * alpha)(input)
    if _is_number(input) and _float_tensor(other) and alpha == 1:
        return AddScalar(input)(other)
    a, b = binary_operands(input, other)
    if alpha != 1:
        b = b * alpha
    return Add()(a, b)


def sub(input, other, *, alpha=1):
    if _is_number(other) and _float_tensor(input):
        return AddScalar(-other * alpha)(input)
    if _is_number(input) and _float_tensor(other) and alpha == 1:
        return RSubScalar(input)(other)
    a, b = binary_operands(input, other)
    if alpha != 1:
        b = b * alpha
    return Sub()(a, b)


def mul(input, other):
    if _is_number(other) and _float_tensor(input):
        return MulScalar(other)(input)
    if _is_number(input) and _float_tensor(other):
        return MulScalar(input)(other)
    return Mul()(*binary_operands(input, other))


def div(input, other, *, rounding_mode=None):
    if rounding_mode is None and _is_number(other) and _float_tensor(input):
        return DivScalar(other)(input)
    a, b = binary_operands(input, other)
    if rounding_mode is None:
        if not is_floating(a._data.dtype) and a._data.dtype.kind != "c":
            from .. import _dtype
            a = a.to(_dtype.get_default_dtype())
            b = b.to(_dtype.get_default_dtype())
        return Div()(a, b)
    if rounding_mode == "floor":
        return floor_divide(a, b)
    if rounding_mode == "trunc":
        # piecewise constant: zero gradient for both operands (no 0/0 from a chained Div)
        _check_int_divisor(a, b)
        bd = b._data
        return _NoGrad(lambda xp, x: _trunc_divide(xp, x, bd), "trunc_divide")(a)
    raise ValueError(f"div expected rounding_mode to be one of None, 'trunc', or 'floor' but "
                     f"found '{rounding_mode}'")


def _promote_for_scalar(t, number):
    """``t`` in the dtype torch gives ``t ** number`` / ``number ** t``: a float number makes
    an integer tensor the default float, an int number makes a bool tensor int64."""
    kind = t._data.dtype.kind
    if isinstance(number, float) and kind in "biu":
        return float_operand(t)
    if kind == "b":
        from .. import _dtype
        return t.to(_dtype.int64)
    return t


def pow(input, exponent):
    if not isinstance(input, Tensor):
        if isinstance(exponent, Tensor) and isinstance(input, (int, float)) and \
                not isinstance(input, bool) and input > 0:
            return RPowScalar(input)(_promote_for_scalar(exponent, input))
        input = as_tensor_like(input, exponent)
    if isinstance(exponent, (int, float)) and not isinstance(exponent, bool):
        return PowScalar(exponent)(_promote_for_scalar(input, exponent))
    return Pow()(*binary_operands(input, exponent))


def neg(input):
    return Neg()(input)


def exp(input):
    return Exp()(float_operand(input))


def expm1(input):
    return Expm1()(float_operand(input))


def log(input):
    return Log()(float_operand(input))


def log2(input):
    return Log()(float_operand(input)) * 1.4426950408889634


def log10(input):
    return Log()(float_operand(input)) * 0.4342944819032518


def log1p(input):
    return Log1p()(float_operand(input))


def sqrt(input):
    return Sqrt()(float_operand(input))


def rsqrt(input):
    return Rsqrt()(float_operand(input))


def square(input):
    return PowScalar(2)(_promote_for_scalar(input, 2))


def reciprocal(input):
    return 1.0 / float_operand(input)


def abs(input):
    return Abs()(input)


def sin(input):
    return Sin()(float_operand(input))


def cos(input):
    return Cos()(float_operand(input))


def tan(input):
    return Tan()(float_operand(input))


def clamp(input, min=None, max=None):
    if min is None and max is None:
        raise RuntimeError("torch.clamp: At least one of 'min' or 'max' must not be None")
    if isinstance(min, Tensor) or isinstance(max, Tensor):
        out = input
        if min is not None:
            out = maximum(out, as_tensor_like(min, input))
        if max is not None:
            out = minimum(out, as_tensor_like(max, input))
        return out
    for bound in (min, max):  # torch promotes: int tensor with a float bound -> float result
        if bound is not None and not isinstance(bound, bool):
            input = _promote_for_scalar(input, bound)
    return Clamp(min, max)(input)


def maximum(input, other):
    return Maximum()(*binary_operands(input, other))


def minimum(input, other):
    return Minimum()(*binary_operands(input, other))


def where(condition, input=None, other=None):
    """Elements of ``input`` where ``condition`` holds, else of ``other`` (numbers allowed)."""
    if input is None and other is None:
        from .index import nonzero
        return nonzero(condition, as_tuple=True)
    ref = input if isinstance(input, Tensor) else other
    if not isinstance(condition, Tensor):
        condition = as_tensor_like(condition, ref)
    if not isinstance(ref, Tensor):  # two numbers: a 0-d tensor of the number's dtype
        xp = get_array_module(condition._data)
        input = Tensor(xp.asarray(input, dtype=_scalar_dtype(input)))
    if condition._data.dtype.kind != "b":
        raise TypeError(f"where expected condition to be a boolean tensor, but got a tensor with "
                        f"dtype {condition.dtype}")
    a, b = binary_operands(input, other)
    return Where()(condition, a, b)


def sign(input):
    return _NoGrad(_sign_array, "sign")(input)


def _sign_array(xp, x):
    """torch's sign: 0 for NaN (NumPy's sign propagates NaN); a bool is its own sign."""
    if x.dtype.kind == "b":
        return x.copy()
    s = xp.sign(x)
    if x.dtype.kind in "fV":
        s = xp.where(s != s, 0, s).astype(x.dtype, copy=False)
    return s


def floor(input):
    return _NoGrad(lambda xp, x: xp.floor(x), "floor")(input)


def ceil(input):
    return _NoGrad(lambda xp, x: xp.ceil(x), "ceil")(input)


def round(input, *, decimals=0):
    return _NoGrad(lambda xp, x: xp.round(x, decimals), "round", (decimals,))(input)


def trunc(input):
    return _NoGrad(lambda xp, x: xp.trunc(x), "trunc")(input)


def floor_divide(input, other):
    a, b = binary_operands(input, other)
    _check_int_divisor(a, b)
    return _NoGrad(lambda xp, x: xp.floor_divide(x, b._data), "floor_divide")(a)


def _check_int_divisor(a, b):
    """Integer division by zero raises, as torch's (NumPy would return 0 with a warning)."""
    from ..backend import capture
    if a._data.dtype.kind in "biu" and a._data.size and capture.can_read_back() and \
            bool((b._data == 0).any()):
        raise RuntimeError("ZeroDivisionError")


def _trunc_divide(xp, x, y):
    """x / y rounded toward zero, exact for integers (no detour through float64)."""
    if x.dtype.kind in "biu":
        q = xp.floor_divide(x, y)
        fix = (q * y != x) & ((x < 0) != (y < 0))
        return (q + fix).astype(x.dtype, copy=False)
    return xp.trunc(x / y).astype(x.dtype, copy=False)


def remainder(input, other):
    """Python-style modulo (sign of the divisor); gradient 1 w.r.t. input, like torch."""
    a, b = binary_operands(input, other)
    return a - floor_divide(a, b).detach() * b


def fmod(input, other):
    """C-style modulo (sign of the dividend)."""
    a, b = binary_operands(input, other)
    if is_floating(a._data.dtype):
        return a - trunc(a / b).detach() * b
    _check_int_divisor(a, b)
    return _NoGrad(lambda xp, x: xp.fmod(x, b._data), "fmod")(a)


def lerp(input, end, weight):
    """input + weight (end - input), evaluated from the nearer end as torch does: exact at
    weight 1, and an infinite endpoint stays infinite instead of becoming inf - inf = nan."""
    diff = end - input
    if isinstance(weight, Tensor):
        return where(abs(weight) < 0.5, input + diff * weight, end - diff * (1 - weight))
    if -0.5 < weight < 0.5:
        return input + diff * weight
    return end - diff * (1 - weight)


def addcmul(input, tensor1, tensor2, *, value=1):
    return input + tensor1 * tensor2 * value


def addcdiv(input, tensor1, tensor2, *, value=1):
    return input + tensor1 / tensor2 * value


def erf(input):
    return Erf()(float_operand(input))


subtract, multiply, divide, true_divide, negative, absolute, clip = sub, mul, div, div, neg, abs, clamp


# --- in-place forms ----------------------------------------------------------------------
def _inplace(out_of_place, ufunc_name=None):
    """Build ``x.op_(...)``: a true in-place ufunc outside the graph, a re-pointed node in it."""
    def method(self, *args, **kwargs):
        self._check_inplace()
        other = args[0] if args else None
        in_graph = grad_mode.state.enabled and (
            self.requires_grad or (isinstance(other, Tensor) and other.requires_grad))
        if not in_graph and ufunc_name is not None and not kwargs:
            xp = get_array_module(self._data)
            operand = other._data if isinstance(other, Tensor) else other
            try:
                getattr(xp, ufunc_name)(self._data, operand, out=self._data, casting="same_kind")
            except TypeError as e:
                raise_if_mixed_devices((self._data, operand), method.__name__, e)
                raise
            self._version[0] += 1
            return self
        return self._apply_inplace(out_of_place, *args, **kwargs)
    method.__name__ = out_of_place.__name__ + "_"
    return method


def _add_(self, other, *, alpha=1):
    if alpha != 1:
        other = other * alpha
    return _add_inplace(self, other)


def _sub_(self, other, *, alpha=1):
    if alpha != 1:
        other = other * alpha
    return _sub_inplace(self, other)


_add_inplace = _inplace(add, "add")
_sub_inplace = _inplace(sub, "subtract")


def _rsub(self, other):
    return sub(other, self)


def _rdiv(self, other):
    return div(other, self)


def _rpow(self, other):
    return pow(other, self)


register_methods(
    add=add, sub=sub, subtract=sub, mul=mul, multiply=mul, div=div, divide=div,
    true_divide=div, pow=pow, neg=neg, negative=neg, exp=exp, expm1=expm1, log=log, log2=log2,
    log10=log10, log1p=log1p, sqrt=sqrt, rsqrt=rsqrt, square=square, reciprocal=reciprocal,
    abs=abs, absolute=abs, sign=sign, sin=sin, cos=cos, tan=tan, clamp=clamp, clip=clamp,
    maximum=maximum, minimum=minimum, where=lambda self, condition, other: where(condition, self, other),
    erf=erf, floor=floor, ceil=ceil, round=round, trunc=trunc, floor_divide=floor_divide,
    remainder=remainder, fmod=fmod, lerp=lerp, addcmul=addcmul, addcdiv=addcdiv,
    __add__=add, __radd__=add, __sub__=sub, __rsub__=_rsub, __mul__=mul, __rmul__=mul,
    __truediv__=div, __rtruediv__=_rdiv, __pow__=pow, __rpow__=_rpow, __neg__=neg,
    __pos__=lambda self: self, __abs__=abs, __floordiv__=floor_divide,
    __rfloordiv__=lambda self, other: floor_divide(other, self), __mod__=remainder,
    add_=_add_, sub_=_sub_, mul_=_inplace(mul, "multiply"), div_=_inplace(div, "divide"),
    pow_=_inplace(pow, "power"), clamp_=_inplace(clamp), clip_=_inplace(clamp),
    exp_=_inplace(exp), log_=_inplace(log), sqrt_=_inplace(sqrt), neg_=_inplace(neg),
    abs_=_inplace(abs), floor_=_inplace(floor), round_=_inplace(round),
    __iadd__=_add_, __isub__=_sub_, __imul__=_inplace(mul, "multiply"),
    __itruediv__=_inplace(div, "divide"),
)
