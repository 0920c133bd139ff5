"""Elementwise math beyond arith: inverse trig/hyperbolic, special functions, float helpers.

Also the in-place forms (``x.acos_()``, ``narae.exp_(x)``, ``x.eq_(y)``...) torch has for its
elementwise ops. Special functions (erfc, erfinv, lgamma, digamma, polygamma, i0) use SciPy on
the CPU and ``cupyx.scipy.special`` on CuPy; without SciPy they fall back to slower series
written here (``_fallback_*``), so narae still works with NumPy alone.
"""
import collections
import math

import numpy as np

from .. import _dtype
from .._dtype import is_floating
from ..autograd.function import Function, ShapeError
from ..backend import get_array_module
from ..tensor import Tensor, register_methods
from ._operands import binary_operands, float_operand
from .arith import (_NoGrad, _cj, RPowScalar, clamp, cos, exp, sign, sin, sqrt, trunc, where,
                    neg, sub)

__all__ = [
    "acos", "asin", "atan", "atan2", "acosh", "asinh", "atanh", "arccos", "arcsin", "arctan",
    "arctan2", "arccosh", "arcsinh", "arctanh", "sinh", "cosh", "hypot", "logaddexp",
    "logaddexp2", "xlogy", "logit", "sinc", "deg2rad", "rad2deg", "exp2", "frac", "fix",
    "copysign", "nan_to_num", "float_power", "heaviside", "erfc", "erfinv", "lgamma",
    "digamma", "polygamma", "mvlgamma", "i0", "sgn", "signbit", "fmax", "fmin", "isneginf",
    "isposinf", "isreal", "nextafter", "ldexp", "frexp", "gcd", "lcm", "bitwise_and",
    "bitwise_or", "bitwise_xor", "bitwise_not", "bitwise_left_shift", "bitwise_right_shift",
    "positive", "clamp_min", "clamp_max", "rsub", "angle",
    # torch's top-level in-place functions
    "abs_", "acos_", "acosh_", "arccos_", "arccosh_", "arcsin_", "arcsinh_", "arctan_",
    "arctanh_", "asin_", "asinh_", "atan_", "atanh_", "ceil_", "clamp_", "clamp_max_",
    "clamp_min_", "clip_", "cos_", "cosh_", "deg2rad_", "erf_", "erfc_", "exp2_", "exp_",
    "expm1_", "fix_", "floor_", "frac_", "gcd_", "i0_", "lcm_", "ldexp_", "log10_", "log1p_",
    "log2_", "log_", "logit_", "nan_to_num_", "neg_", "negative_", "rad2deg_", "reciprocal_",
    "round_", "rsqrt_", "sigmoid_", "sin_", "sinc_", "sinh_", "sqrt_", "square_", "tan_",
    "tanh_", "trunc_", "xlogy_",
]


class UnsupportedDtypeError(NotImplementedError, TypeError):
    """An op given a dtype it has no kernel for (torch raises NotImplementedError there)."""


_PI = math.pi
_LN2 = math.log(2.0)


# --- input handling ------------------------------------------------------------------------
def _need_tensor(value, op, arg="input"):
    if not isinstance(value, Tensor):
        raise TypeError(f"{op}(): argument '{arg}' must be Tensor, not {type(value).__name__}")


_to_float = float_operand


def _float_unary(x, op):
    _need_tensor(x, op)
    return _to_float(x)


def _float_binary(a, b, op, numbers=True):
    """Two operands promoted as torch does, then to floating point if they are integers."""
    if not numbers:
        _need_tensor(a, op)
        _need_tensor(b, op, "other")
    elif not isinstance(a, Tensor) and not isinstance(b, Tensor):
        raise TypeError(f"{op}(): expected a Tensor operand, got {type(a).__name__} and "
                        f"{type(b).__name__}")
    a, b = _broadcastable(*binary_operands(a, b), op)
    return _to_float(a), _to_float(b)


def _broadcastable(a, b, op):
    try:
        np.broadcast_shapes(a.shape, b.shape)
    except ValueError:
        raise ShapeError(f"{op}: input of shape {tuple(a.shape)} and other of shape "
                         f"{tuple(b.shape)} cannot be broadcast together") from None
    return a, b


def _require_dtype(x, kinds, op, what):
    if x._data.dtype.kind not in kinds:
        raise UnsupportedDtypeError(f"{op}: only supported for {what} tensors, got {x.dtype}")


def _zero(like):
    return Tensor(get_array_module(like._data).zeros((), like._data.dtype))


# --- special functions on arrays -------------------------------------------------------------
def _special(name, x, *first, fallback):
    """scipy.special.<name>(*first, x) on the CPU, cupyx's on CuPy, else ``fallback``."""
    xp = get_array_module(x)
    if xp.__name__ != "numpy":
        import cupyx.scipy.special as cupy_special
        return getattr(cupy_special, name)(*first, x).astype(x.dtype, copy=False)
    try:
        import scipy.special as scipy_special
    except ImportError:
        return fallback(xp, *first, x).astype(x.dtype, copy=False)
    return getattr(scipy_special, name)(*first, x).astype(x.dtype, copy=False)


def _fallback_erfc(xp, x):
    return xp.frompyfunc(math.erfc, 1, 1)(x).astype(np.float64)


def _lgamma_scalar(v):
    try:
        return math.lgamma(v)
    except ValueError:  # the poles 0, -1, -2...
        return math.inf


def _fallback_lgamma(xp, x):
    return xp.frompyfunc(_lgamma_scalar, 1, 1)(x).astype(np.float64)


def _fallback_erfinv(xp, x):
    """A closed-form first guess (error ~2e-3), then Newton steps on erf(y) = x."""
    x = x.astype(np.float64)
    erf_fn = xp.frompyfunc(math.erf, 1, 1)
    with np.errstate(all="ignore"):
        ln = xp.log1p(-x * x)
        a = 0.147
        t = 2.0 / (_PI * a) + ln / 2.0
        y = xp.copysign(xp.sqrt(xp.sqrt(t * t - ln / a) - t), x)
        for _ in range(4):
            step = (erf_fn(y).astype(np.float64) - x) / (1.1283791670955126 * xp.exp(-y * y))
            y = xp.where(xp.isfinite(y), y - step, y)
        y = xp.where(xp.abs(x) == 1.0, xp.copysign(xp.inf, x), y)
        return xp.where(xp.abs(x) > 1.0, xp.nan, y)


def _fallback_digamma(xp, x):
    """Reflection below 1/2, the recurrence psi(x) = psi(x+1) - 1/x up to x >= 10, then the
    asymptotic series ln x - 1/(2x) - sum B_2k / (2k x^2k)."""
    x = x.astype(np.float64)
    with np.errstate(all="ignore"):
        refl = x < 0.5
        z = xp.where(refl, 1.0 - x, x)
        acc = xp.zeros_like(z)
        for _ in range(10):
            small = z < 10.0
            acc = acc - xp.where(small, 1.0 / z, 0.0)
            z = xp.where(small, z + 1.0, z)
        w = 1.0 / (z * z)
        series = w * (1 / 12 - w * (1 / 120 - w * (1 / 252 - w * (1 / 240 - w * (1 / 132)))))
        out = xp.log(z) - 0.5 / z - series + acc
        out = xp.where(refl, out - _PI / xp.tan(_PI * x), out)
        # the pole at 0 is approached from one side: psi(+0) = -inf, psi(-0) = +inf
        out = xp.where(x == 0, xp.where(xp.signbit(x), xp.inf, -xp.inf), out)
        return xp.where((x < 0) & (x == xp.floor(x)), xp.nan, out)


def _fallback_polygamma(xp, n, x):
    """(-1)^(n+1) n! zeta(n+1, x) with the Hurwitz zeta by Euler-Maclaurin summation."""
    if n == 0:
        return _fallback_digamma(xp, x)
    x = x.astype(np.float64)
    s = n + 1.0
    terms = 12
    with np.errstate(all="ignore"):
        total = xp.zeros_like(x)
        for k in range(terms):
            total = total + (x + k) ** -s
        q = x + terms
        total = total + q ** (1.0 - s) / (s - 1.0) + 0.5 * q ** -s
        # Bernoulli numbers B2..B12 for the tail corrections
        bern = (1 / 6, -1 / 30, 1 / 42, -1 / 30, 5 / 66, -691 / 2730)
        rising, power = s, q ** (-s - 1.0)
        fact = 2.0
        for j, b in enumerate(bern, start=1):
            total = total + b / fact * rising * power
            rising *= (s + 2 * j - 1) * (s + 2 * j)
            fact *= (2 * j + 1) * (2 * j + 2)
            power = power / (q * q)
        out = (-1.0) ** (n + 1) * math.factorial(n) * total
        return xp.where(x <= 0, xp.where(x == xp.floor(x), xp.inf, xp.nan), out)


def _fallback_i0(xp, x):
    return xp.i0(x.astype(np.float64))


def _fallback_i1(xp, x):
    """The power series sum (x/2)^(2k+1) / (k! (k+1)!): all terms share x's sign, so summing
    until the terms no longer change the total is accurate for every |x|."""
    x = x.astype(np.float64)
    half = x / 2.0
    term = half.copy()
    total = term.copy()
    q = half * half
    with np.errstate(all="ignore"):
        for k in range(1, 2000):
            term = term * q / (k * (k + 1))
            total = total + term
            if not bool(xp.any(xp.abs(term) > 1e-17 * xp.abs(total))):
                break
    return total


def _erfc_array(x):
    return _special("erfc", x, fallback=_fallback_erfc)


def _erfinv_array(x):
    return _special("erfinv", x, fallback=_fallback_erfinv)


def _lgamma_array(x):
    out = _special("gammaln", x, fallback=_fallback_lgamma)
    xp = get_array_module(x)
    return xp.where(x == -xp.inf, xp.inf, out)  # |Gamma(-inf)| is taken as inf, as torch


def _polygamma_array(n, x):
    if n == 0:
        return _special("digamma", x, fallback=_fallback_digamma)
    return _special("polygamma", x, n, fallback=_fallback_polygamma)


def _i0_array(x):
    return _special("i0", x, fallback=_fallback_i0)


def _i1_array(x):
    return _special("i1", x, fallback=_fallback_i1)


# --- inverse trigonometric and hyperbolic ------------------------------------------------------
class Acos(Function):
    def forward(self, x):
        with np.errstate(invalid="ignore", divide="ignore"):  # NaN/inf outside the domain
            return get_array_module(x).arccos(x)

    def backward(self, gy):
        x = self.inputs[0]
        return -gy / _cj(sqrt(1.0 - x * x))


class Asin(Function):
    def forward(self, x):
        with np.errstate(invalid="ignore", divide="ignore"):  # NaN/inf outside the domain
            return get_array_module(x).arcsin(x)

    def backward(self, gy):
        x = self.inputs[0]
        return gy / _cj(sqrt(1.0 - x * x))


class Atan(Function):
    def forward(self, x):
        return get_array_module(x).arctan(x)

    def backward(self, gy):
        x = self.inputs[0]
        return gy / _cj(x * x + 1.0)


class Acosh(Function):
    def forward(self, x):
        with np.errstate(invalid="ignore", divide="ignore"):  # NaN/inf outside the domain
            return get_array_module(x).arccosh(x)

    def backward(self, gy):
        x = self.inputs[0]
        if x._data.dtype.kind == "c":  # (sqrt(x - 1) sqrt(x + 1): acosh's branch, as torch)
            return gy / _cj(sqrt(x - 1.0) * sqrt(x + 1.0))
        return gy / sqrt((x - 1.0) * (x + 1.0))


class Asinh(Function):
    def forward(self, x):
        return get_array_module(x).arcsinh(x)

    def backward(self, gy):
        x = self.inputs[0]
        return gy / _cj(sqrt(x * x + 1.0))


class Atanh(Function):
    def forward(self, x):
        with np.errstate(invalid="ignore", divide="ignore"):  # NaN/inf outside the domain
            return get_array_module(x).arctanh(x)

    def backward(self, gy):
        x = self.inputs[0]
        return gy / _cj(1.0 - x * x)


class Sinh(Function):
    def forward(self, x):
        return get_array_module(x).sinh(x)

    def backward(self, gy):
        return gy * _cj(cosh(self.inputs[0]))


class Cosh(Function):
    def forward(self, x):
        return get_array_module(x).cosh(x)

    def backward(self, gy):
        return gy * _cj(sinh(self.inputs[0]))


class Atan2(Function):
    """atan2(a, b); d/da = b / (a^2 + b^2), d/db = -a / (a^2 + b^2), 0 at the origin."""

    def forward(self, a, b):
        return get_array_module(a).arctan2(a, b)

    def backward(self, gy):
        a, b = self.inputs
        r2 = a * a + b * b
        scale = where(r2 == 0, _zero(gy), gy / where(r2 == 0, 1.0, r2))
        return (scale * b if a.requires_grad else None), (-scale * a if b.requires_grad else None)


def acos(input):
    """Inverse cosine, in [0, pi]; d/dx = -1 / sqrt(1 - x^2)."""
    return Acos()(_float_unary(input, "acos"))


def asin(input):
    """Inverse sine, in [-pi/2, pi/2]; d/dx = 1 / sqrt(1 - x^2)."""
    return Asin()(_float_unary(input, "asin"))


def atan(input):
    """Inverse tangent; d/dx = 1 / (1 + x^2)."""
    return Atan()(_float_unary(input, "atan"))


def acosh(input):
    """Inverse hyperbolic cosine (x >= 1); d/dx = 1 / sqrt(x^2 - 1)."""
    return Acosh()(_float_unary(input, "acosh"))


def asinh(input):
    """Inverse hyperbolic sine; d/dx = 1 / sqrt(x^2 + 1)."""
    return Asinh()(_float_unary(input, "asinh"))


def atanh(input):
    """Inverse hyperbolic tangent (|x| < 1); d/dx = 1 / (1 - x^2)."""
    return Atanh()(_float_unary(input, "atanh"))


def sinh(input):
    """Hyperbolic sine; d/dx = cosh x."""
    return Sinh()(_float_unary(input, "sinh"))


def cosh(input):
    """Hyperbolic cosine; d/dx = sinh x."""
    return Cosh()(_float_unary(input, "cosh"))


def atan2(input, other):
    """The angle of the point (other, input), quadrant-aware, in [-pi, pi]."""
    return Atan2()(*_float_binary(input, other, "atan2", numbers=False))


arccos, arcsin, arctan, arctan2 = acos, asin, atan, atan2
arccosh, arcsinh, arctanh = acosh, asinh, atanh


# --- sums in log space, hypot, xlogy, logit, sinc -----------------------------------------------
class Hypot(Function):
    """sqrt(a^2 + b^2) without overflow; d/da = a / hypot (NaN at the origin, as torch)."""
    uses_outputs = True

    def forward(self, a, b):
        return get_array_module(a).hypot(a, b)

    def backward(self, gy):
        a, b = self.inputs
        g = gy / self.output()
        return (g * a if a.requires_grad else None), (g * b if b.requires_grad else None)


def _logaddexp_complex(xp, a, b):
    """max + log1p(exp(min - max)), max/min by real part (the branch torch takes); where both
    real parts are the same infinity, -inf keeps the smaller operand and +inf is summed."""
    swap = a.real < b.real
    hi, lo = xp.where(swap, b, a), xp.where(swap, a, b)
    with np.errstate(invalid="ignore", over="ignore", divide="ignore"):
        out = hi + xp.log1p(xp.exp(lo - hi))
        both_inf = xp.isinf(lo.real) & (lo.real == hi.real)
        if bool(both_inf.any()) if xp is np else True:
            out = xp.where(both_inf & (lo.real < 0), lo, out)
            out = xp.where(both_inf & (lo.real > 0), xp.log(xp.exp(lo) + xp.exp(hi)), out)
    return out


class LogAddExp(Function):
    """log(e^a + e^b); d/da = e^(a - out), the softmax weight of a (conjugated for complex)."""
    uses_outputs = True

    def __init__(self, base2=False):
        self.base2 = base2

    def forward(self, a, b):
        xp = get_array_module(a)
        if a.dtype.kind == "c":
            return _logaddexp_complex(xp, a, b)
        return xp.logaddexp2(a, b) if self.base2 else xp.logaddexp(a, b)

    def backward(self, gy):
        a, b = self.inputs
        y = self.output()
        if self.base2:
            w = (lambda t: RPowScalar(2.0)(t - y))
        else:
            w = (lambda t: _cj(exp(t - y)))
        return (gy * w(a) if a.requires_grad else None), (gy * w(b) if b.requires_grad else None)


class XLogY(Function):
    """x * log(y), and 0 where x == 0 (unless y is NaN)."""

    def forward(self, x, y):
        xp = get_array_module(x)
        with np.errstate(divide="ignore", invalid="ignore"):
            out = x * xp.log(y)
        return xp.where((x == 0) & ~xp.isnan(y), xp.zeros((), out.dtype), out)

    def backward(self, gy):
        x, y = self.inputs
        gx = gy_ = None
        if x.requires_grad:
            # torch: d/dx = log(y), except 0 where x == 0 and y <= 0 (log would be -inf/NaN)
            # and gy * log(y) taken as xlogy(gy, y): 0 where gy is 0, even if log(y) is NaN
            skip = (x == 0) & (y <= 0)
            gx = where(skip, _zero(gy), XLogY()(gy, y))
        if y.requires_grad:
            gy_ = gy * x / y
        return gx, gy_


class Logit(Function):
    """log(z / (1 - z)) with z = clamp(x, eps, 1 - eps) when eps is given."""

    def __init__(self, eps):
        self.eps = eps

    def forward(self, x):
        xp = get_array_module(x)
        if self.eps is not None:
            x = xp.clip(x, self.eps, 1.0 - self.eps)
        with np.errstate(divide="ignore", invalid="ignore"):
            return xp.log(x / (1 - x))

    def backward(self, gy):
        x = self.inputs[0]
        g = gy / (x * (1.0 - x))
        if self.eps is None:
            # outside [0, 1] the function is undefined: NaN gradient, as torch
            out = (x < 0) | (x > 1)
            nan = Tensor(get_array_module(gy._data).full((), np.nan, gy._data.dtype))
            return where(out, nan, g)
        out = (x < self.eps) | (x > 1.0 - self.eps)
        return where(out, _zero(gy), g)


class Sinc(Function):
    """sin(pi x) / (pi x), 1 at 0; d/dx = (cos(pi x) - sinc x) / x, 0 at 0."""

    def forward(self, x):
        xp = get_array_module(x)
        px = x * _PI
        with np.errstate(divide="ignore", invalid="ignore"):
            out = xp.sin(px) / px
        return xp.where(x == 0, xp.ones((), out.dtype), out)

    def backward(self, gy):
        x = self.inputs[0]
        zero = x == 0
        safe = where(zero, 1.0, x)
        d = (cos(safe * _PI) - sinc(safe)) / safe
        return gy * _cj(where(zero, _zero(d), d))


def _floats_only(input, other, op):
    """Tensor operands of a floating-point-only op (torch has no integer kernel for them)."""
    _need_tensor(input, op)
    _need_tensor(other, op, "other")
    a, b = _broadcastable(*binary_operands(input, other), op)
    _require_dtype(a, "fV", op, "floating-point")
    return a, b


def hypot(input, other):
    """sqrt(input^2 + other^2), elementwise, without overflow."""
    return Hypot()(*_floats_only(input, other, "hypot"))


def logaddexp(input, other):
    """log(exp(input) + exp(other)), computed without overflow (complex too, on the branch
    max + log1p(exp(min - max)) with max/min by real part)."""
    _need_tensor(input, "logaddexp")
    _need_tensor(other, "logaddexp", "other")
    a, b = _broadcastable(*binary_operands(input, other), "logaddexp")
    _require_dtype(a, "fVc", "logaddexp", "floating-point or complex")
    return LogAddExp()(a, b)


def logaddexp2(input, other):
    """log2(2^input + 2^other), computed without overflow."""
    return LogAddExp(True)(*_floats_only(input, other, "logaddexp2"))


def xlogy(input, other):
    """input * log(other), defined as 0 where input == 0 (the entropy convention 0 log 0 = 0)."""
    return XLogY()(*_float_binary(input, other, "xlogy"))


def logit(input, eps=None):
    """log(p / (1 - p)), the inverse of sigmoid; ``eps`` clamps p to [eps, 1 - eps] first."""
    return Logit(None if eps is None else float(eps))(_float_unary(input, "logit"))


def sinc(input):
    """The normalized sinc: sin(pi x) / (pi x), and 1 at x = 0."""
    return Sinc()(_float_unary(input, "sinc"))


# --- scaling, powers and pieces of floats ------------------------------------------------------
class Frac(Function):
    """x - trunc(x): the fractional part, with the sign of x; gradient 1."""
    uses_inputs = False

    def forward(self, x):
        return x - get_array_module(x).trunc(x)

    def backward(self, gy):
        return gy


class Copysign(Function):
    """|a| with the sign of b; d/da = sign(a) * sign(result) (0 at a == 0), d/db = 0."""
    uses_inputs = False

    def forward(self, a, b):
        xp = get_array_module(a)
        out = xp.copysign(a, b)
        with np.errstate(invalid="ignore", divide="ignore"):
            self.ratio = xp.where(a == 0, xp.zeros((), out.dtype), out / a)  # +-1 (NaN at NaN)
        return out

    def backward(self, gy):
        a, b = self.inputs
        ga = gy * Tensor(self.ratio) if a.requires_grad else None
        return ga, (gy * 0.0 if b.requires_grad else None)


class NanToNum(Function):
    """NaN, +inf and -inf replaced by numbers; the gradient is 0 at the replaced entries."""

    def __init__(self, nan, posinf, neginf):
        self.nan, self.posinf, self.neginf = nan, posinf, neginf

    def forward(self, x):
        xp = get_array_module(x)
        if not is_floating(x.dtype) or x.dtype.kind != "f":
            return x.copy() if x.dtype.kind != "V" else self._bf16(xp, x)
        return xp.nan_to_num(x, nan=self.nan, posinf=self.posinf, neginf=self.neginf)

    def _bf16(self, xp, x):
        return xp.nan_to_num(x.astype(np.float32), nan=self.nan, posinf=self.posinf,
                             neginf=self.neginf).astype(x.dtype)

    def backward(self, gy):
        keep = Tensor(get_array_module(gy._data).isfinite(self.inputs[0]._data))
        return where(keep, gy, _zero(gy))


def deg2rad(input):
    """Degrees to radians: x * pi / 180."""
    return _float_unary(input, "deg2rad") * (_PI / 180.0)


def rad2deg(input):
    """Radians to degrees: x * 180 / pi."""
    return _float_unary(input, "rad2deg") * (180.0 / _PI)


def exp2(input):
    """2 ** x; d/dx = 2 ** x * ln 2."""
    return RPowScalar(2.0)(_float_unary(input, "exp2"))


def frac(input):
    """The fractional part x - trunc(x) (floating point only, as torch)."""
    _need_tensor(input, "frac")
    _require_dtype(input, "fV", "frac", "floating-point")
    return Frac()(input)


def fix(input):
    """Round toward zero (an alias of trunc)."""
    return trunc(input)


def copysign(input, other):
    """The magnitude of ``input`` with the sign of ``other`` (-0.0 counts as negative)."""
    _need_tensor(input, "copysign")
    return Copysign()(*_float_binary(input, other, "copysign"))


def nan_to_num(input, nan=0.0, posinf=None, neginf=None):
    """Replace NaN by ``nan`` and +-inf by ``posinf``/``neginf`` (default: the dtype's extremes)."""
    _need_tensor(input, "nan_to_num")
    return NanToNum(nan, posinf, neginf)(input)


def float_power(input, exponent):
    """input ** exponent computed in float64 (the result is always float64, as torch), or
    in complex128 when either operand is complex."""
    f64 = _dtype.float64
    if any(isinstance(v, complex) or isinstance(v, Tensor) and v._data.dtype.kind == "c"
           for v in (input, exponent)):
        f64 = _dtype.complex128
        if not isinstance(input, Tensor):
            return input ** exponent.to(f64)
    if not isinstance(input, Tensor):
        _need_tensor(exponent, "float_power", "exponent")
        return float(input) ** exponent.to(f64)
    base = input.to(f64)
    if isinstance(exponent, Tensor):
        return base ** exponent.to(f64)
    return base ** (complex(exponent) if f64 is _dtype.complex128 else float(exponent))


def heaviside(input, values):
    """Step function: 0 where input < 0, ``values`` where input == 0, 1 where input > 0."""
    _need_tensor(input, "heaviside")
    _need_tensor(values, "heaviside", "values")
    if input._data.dtype != values._data.dtype:
        raise RuntimeError("heaviside is not yet implemented for tensors with different dtypes "
                           f"(input {input.dtype}, values {values.dtype})")
    _broadcastable(input, values, "heaviside")
    v = values._data
    # (torch's comparisons: NaN is neither > 0 nor == 0, so it maps to 0, not NaN)
    return _NoGrad(lambda xp, x: xp.where(x == 0, v, x > 0).astype(x.dtype, copy=False),
                   "heaviside")(input)


def ldexp(input, other):
    """input * 2 ** other (exact for integer ``other``)."""
    a, b = _float_binary(input, other, "ldexp", numbers=False)
    return a * exp2(b)


FrexpResult = collections.namedtuple("frexp", ["mantissa", "exponent"])


def frexp(input):
    """Split x into mantissa m in [0.5, 1) (signed) and int32 exponent e, x = m * 2 ** e."""
    _need_tensor(input, "frexp")
    if not is_floating(input._data.dtype):
        raise RuntimeError(f"torch.frexp() only supports floating-point dtypes, got {input.dtype}")
    xp = get_array_module(input._data)
    x = input._data
    wide = x if x.dtype.kind == "f" else x.astype(np.float32)  # (bfloat16: frexp via float32)
    e = xp.frexp(wide)[1].astype(np.int32)
    # m = x * 2^-e is exact, so the mantissa stays differentiable with gradient 2^-e
    scale = Tensor(xp.ldexp(xp.ones((), wide.dtype), -e).astype(x.dtype))
    return FrexpResult(input * scale, Tensor(e))


# --- special functions ----------------------------------------------------------------------
class Erfc(Function):
    def forward(self, x):
        return _erfc_array(x)

    def backward(self, gy):
        x = self.inputs[0]
        return gy * exp(-(x * x)) * -1.1283791670955126  # -2/sqrt(pi)


class Erfinv(Function):
    """The inverse of erf on (-1, 1); d/dx = sqrt(pi)/2 * exp(erfinv(x)^2)."""
    uses_inputs = False
    uses_outputs = True

    def forward(self, x):
        return _erfinv_array(x)

    def backward(self, gy):
        y = self.output()
        return gy * exp(y * y) * 0.8862269254527580  # sqrt(pi)/2


class Lgamma(Function):
    """log |Gamma(x)|; d/dx = digamma(x)."""

    def forward(self, x):
        return _lgamma_array(x)

    def backward(self, gy):
        return gy * Polygamma(0)(self.inputs[0])


class Polygamma(Function):
    """The n-th derivative of digamma; its derivative is polygamma(n + 1)."""

    def __init__(self, n):
        self.n = n

    def forward(self, x):
        return _polygamma_array(self.n, x)

    def backward(self, gy):
        return gy * Polygamma(self.n + 1)(self.inputs[0])


class I0(Function):
    """The modified Bessel function I0; d/dx = I1(x)."""

    def forward(self, x):
        return _i0_array(x)

    def backward(self, gy):
        return gy * I1()(self.inputs[0])


class I1(Function):
    """The modified Bessel function I1; d/dx = I0(x) - I1(x) / x (1/2 at 0)."""
    uses_outputs = True

    def forward(self, x):
        return _i1_array(x)

    def backward(self, gy):
        x = self.inputs[0]
        zero = x == 0
        ratio = where(zero, 0.5, self.output() / where(zero, 1.0, x))
        return gy * (I0()(x) - ratio)


def erfc(input):
    """1 - erf(x), accurate where erf is close to 1."""
    return Erfc()(_float_unary(input, "erfc"))


def erfinv(input):
    """The inverse error function: erfinv(erf(x)) = x, +-inf at +-1, NaN beyond."""
    return Erfinv()(_float_unary(input, "erfinv"))


def lgamma(input):
    """log |Gamma(x)| (inf at the poles 0, -1, -2...)."""
    return Lgamma()(_float_unary(input, "lgamma"))


def digamma(input):
    """psi(x) = d/dx log Gamma(x)."""
    return Polygamma(0)(_float_unary(input, "digamma"))


def polygamma(n, input):
    """The n-th derivative of digamma (n = 0 is digamma itself)."""
    if not isinstance(n, (int, np.integer)) or isinstance(n, bool):
        raise TypeError(f"polygamma(): argument 'n' must be int, not {type(n).__name__}")
    if n < 0:
        raise RuntimeError(f"polygamma(n, x) does not support negative n, got n={n}")
    return Polygamma(int(n))(_float_unary(input, "polygamma"))


def mvlgamma(input, p):
    """The multivariate log-gamma: sum_{i<p} lgamma(x - i/2) + p(p-1)/4 log(pi)."""
    if p < 1:
        raise RuntimeError(f"mvlgamma: p has to be greater than or equal to 1, got {p}")
    x = _float_unary(input, "mvlgamma")
    xp = get_array_module(x._data)
    shifts = Tensor(xp.arange(p, dtype=x._data.dtype) * -0.5)
    terms = lgamma(x.unsqueeze(-1) + shifts)
    return terms.sum(-1) + p * (p - 1) / 4.0 * math.log(_PI)


def i0(input):
    """The zeroth-order modified Bessel function of the first kind."""
    return I0()(_float_unary(input, "i0"))


# --- signs, NaN-aware extremes, classification ---------------------------------------------------
class FMax(Function):
    """Maximum that ignores NaN; ties and a NaN ``other`` send the gradient to ``input``."""

    def __init__(self, is_max):
        self.is_max = is_max

    def forward(self, a, b):
        xp = get_array_module(a)
        return xp.fmax(a, b) if self.is_max else xp.fmin(a, b)

    def backward(self, gy):
        a, b = self.inputs
        xp = get_array_module(a._data)
        wins = (a._data >= b._data) if self.is_max else (a._data <= b._data)
        to_a = Tensor(wins | xp.isnan(b._data))
        zero = _zero(gy)
        ga = where(to_a, gy, zero) if a.requires_grad else None
        gb = where(to_a, zero, gy) if b.requires_grad else None
        return ga, gb


def _fmax_operands(input, other, op):
    _need_tensor(input, op)
    _need_tensor(other, op, "other")
    return _broadcastable(*binary_operands(input, other), op)


def fmax(input, other):
    """Elementwise maximum where a NaN loses to a number (NaN only if both are NaN)."""
    a, b = _fmax_operands(input, other, "fmax")
    if not is_floating(a._data.dtype):
        return Tensor(get_array_module(a._data).fmax(a._data, b._data))
    return FMax(True)(a, b)


def fmin(input, other):
    """Elementwise minimum where a NaN loses to a number (NaN only if both are NaN)."""
    a, b = _fmax_operands(input, other, "fmin")
    if not is_floating(a._data.dtype):
        return Tensor(get_array_module(a._data).fmin(a._data, b._data))
    return FMax(False)(a, b)


def sgn(input):
    """The sign of each element (-1, 0, 1); for real tensors the same as sign."""
    _need_tensor(input, "sgn")
    if input._data.dtype.kind == "b":
        return Tensor(input._data.copy())
    if input._data.dtype.kind == "c":
        from .complex import _complex_sgn
        return _complex_sgn(input)
    if not is_floating(input._data.dtype):
        return sign(input)
    # torch's sign of NaN is 0
    return _NoGrad(lambda xp, x: xp.where(xp.isnan(x), xp.zeros((), x.dtype), xp.sign(x)),
                   "sgn")(input)


def signbit(input):
    """True where the sign bit is set (negative numbers and -0.0)."""
    _need_tensor(input, "signbit")
    x = input._data
    xp = get_array_module(x)
    if x.dtype.kind == "b":
        return Tensor(xp.zeros(x.shape, dtype=bool))
    return Tensor(xp.signbit(x if x.dtype.kind != "V" else x.astype(np.float32)))


def _isinf_with_sign(input, op, negative):
    _need_tensor(input, op)
    x = input._data
    xp = get_array_module(x)
    if not is_floating(x.dtype):
        return Tensor(xp.zeros(x.shape, dtype=bool))
    return Tensor(x == (-math.inf if negative else math.inf))


def isneginf(input):
    """True where the element is -inf."""
    return _isinf_with_sign(input, "isneginf", True)


def isposinf(input):
    """True where the element is +inf."""
    return _isinf_with_sign(input, "isposinf", False)


def angle(input):
    """The argument of each element as a complex number: pi for negatives, 0 otherwise;
    atan2(imag, real) for complex tensors (a real result)."""
    if isinstance(input, Tensor) and input._data.dtype.kind == "c":
        from .complex import _complex_angle
        return _complex_angle(input)
    x = _float_unary(input, "angle")
    pi = _PI

    def fn(xp, a):
        out = xp.where(a < 0, xp.full((), pi, a.dtype), xp.zeros((), a.dtype))
        return xp.where(xp.isnan(a), a, out)
    return _NoGrad(fn, "angle")(x)


def isreal(input):
    """True where the element is real: everywhere for real dtypes, where the imaginary part
    is 0 for complex ones."""
    _need_tensor(input, "isreal")
    if input._data.dtype.kind == "c":
        return Tensor(input._data.imag == 0)
    return Tensor(get_array_module(input._data).ones(input.shape, dtype=bool))


def nextafter(input, other):
    """The next representable float after ``input`` in the direction of ``other``."""
    a, b = _floats_only(input, other, "nextafter")
    return Tensor(get_array_module(a._data).nextafter(a._data, b._data))


# --- integer arithmetic and bits --------------------------------------------------------------
def _integer_op(name, ufunc, kinds="iu", what="integer", tensor_other=True):
    def op(input, other):
        _need_tensor(input, name)
        if tensor_other:
            _need_tensor(other, name, "other")
        a, b = _broadcastable(*binary_operands(input, other), name)
        _require_dtype(a, kinds, name, what)
        return Tensor(ufunc(get_array_module(a._data), a._data, b._data))
    op.__name__ = name
    op.__doc__ = f"torch.{name} on integer tensors (no gradient)."
    return op


def _shift_left(xp, a, b):
    bits = a.dtype.itemsize * 8
    if a.dtype.kind == "b":
        return xp.left_shift(a, b)
    # shifting by the width or more gives 0, as torch (C leaves it undefined)
    return xp.where(b >= bits, xp.zeros((), a.dtype), xp.left_shift(a, xp.minimum(b, bits - 1)))


def _shift_right(xp, a, b):
    bits = a.dtype.itemsize * 8
    # an arithmetic shift by the width or more leaves only the sign: 0 or -1
    return xp.right_shift(a, xp.minimum(b, bits - 1)) if a.dtype.kind != "b" else \
        xp.right_shift(a, b)


gcd = _integer_op("gcd", lambda xp, a, b: xp.gcd(a, b))
lcm = _integer_op("lcm", lambda xp, a, b: xp.lcm(a, b))
bitwise_and = _integer_op("bitwise_and", lambda xp, a, b: xp.bitwise_and(a, b), "biu",
                          "integer and bool", tensor_other=False)
bitwise_or = _integer_op("bitwise_or", lambda xp, a, b: xp.bitwise_or(a, b), "biu",
                         "integer and bool", tensor_other=False)
bitwise_xor = _integer_op("bitwise_xor", lambda xp, a, b: xp.bitwise_xor(a, b), "biu",
                          "integer and bool", tensor_other=False)
bitwise_left_shift = _integer_op("bitwise_left_shift", _shift_left, "biu", "integer",
                                 tensor_other=False)
bitwise_right_shift = _integer_op("bitwise_right_shift", _shift_right, "biu", "integer",
                                  tensor_other=False)


def bitwise_not(input):
    """~x: bit complement of integers, logical not of bools."""
    _need_tensor(input, "bitwise_not")
    _require_dtype(input, "biu", "bitwise_not", "integer and bool")
    return Tensor(get_array_module(input._data).invert(input._data))


# --- aliases and small helpers ------------------------------------------------------------------
def positive(input):
    """+x: the tensor itself (refused for bool tensors, as torch)."""
    _need_tensor(input, "positive")
    if input._data.dtype.kind == "b":
        raise RuntimeError("The `+` operator, on a bool tensor is not supported.")
    return input


def clamp_min(input, min):
    """max(input, min) elementwise (``min`` a number or a tensor)."""
    return clamp(input, min=min)


def clamp_max(input, max):
    """min(input, max) elementwise (``max`` a number or a tensor)."""
    return clamp(input, max=max)


def rsub(input, other, *, alpha=1):
    """other - alpha * input (subtraction with the operands reversed)."""
    return sub(other, input, alpha=alpha)


# --- in-place methods -----------------------------------------------------------------------
def _can_cast(src, dst):
    """torch's rule for writing a result of dtype ``src`` into a tensor of dtype ``dst``."""
    if is_floating(src) and not is_floating(dst):
        return False
    return not (dst.kind == "b" and src.kind != "b")


def _inplace(fn, name=None):
    """``x.op_(...)``: the out-of-place op, cast back to x's dtype, stored in x through
    ``Tensor._apply_inplace`` (version counter, autograd re-pointing)."""
    name = name or fn.__name__ + "_"

    def op(x, *args, **kwargs):
        out = fn(x, *args, **kwargs)
        if out.shape != x.shape:
            raise RuntimeError(f"{name}: output with shape {tuple(x.shape)} doesn't match the "
                               f"broadcast shape {tuple(out.shape)}")
        if out._data.dtype != x._data.dtype:
            if not _can_cast(out._data.dtype, x._data.dtype):
                raise RuntimeError(f"{name}: result type {_type_name(out)} can't be cast to the "
                                   f"desired output type {_type_name(x)}")
            out = out.to(x.dtype)
        return out

    def method(self, *args, **kwargs):
        return self._apply_inplace(op, *args, **kwargs)
    method.__name__ = name
    return method


def _type_name(t):
    names = {"float32": "Float", "float64": "Double", "float16": "Half", "bfloat16": "BFloat16",
             "int64": "Long", "int32": "Int", "int16": "Short", "int8": "Char", "uint8": "Byte",
             "bool": "Bool"}
    return names.get(t.dtype.name, t.dtype.name)


def _float_power_(self, exponent):
    if self._data.dtype != np.float64:
        raise RuntimeError(f"the base given to float_power_ has dtype {_type_name(self)} but "
                           "the operation's result requires dtype Double")
    return self._apply_inplace(float_power, exponent)


def _no_grad_inplace(fn, name):
    """In-place form of a comparison/logic op: the boolean result written as 0/1 in x's dtype,
    a zero-gradient node when x is in a graph."""
    def op(x, *args):
        def compute(xp, a):
            out = fn(Tensor(a), *args)._data
            if out.shape != a.shape:
                raise RuntimeError(f"{name}: output with shape {tuple(a.shape)} doesn't match "
                                   f"the broadcast shape {tuple(out.shape)}")
            return out.astype(a.dtype)
        return _NoGrad(compute, name)(x)

    def method(self, *args):
        return self._apply_inplace(op, *args)
    method.__name__ = name
    return method


def _register_missing(**methods):
    """Attach only the methods Tensor lacks: existing ones are kept, whoever defined them."""
    register_methods(**{k: v for k, v in methods.items() if not hasattr(Tensor, k)})


_OUT_OF_PLACE = dict(
    acos=acos, asin=asin, atan=atan, atan2=atan2, acosh=acosh, asinh=asinh, atanh=atanh,
    arccos=acos, arcsin=asin, arctan=atan, arctan2=atan2, arccosh=acosh, arcsinh=asinh,
    arctanh=atanh, sinh=sinh, cosh=cosh, hypot=hypot, logaddexp=logaddexp,
    logaddexp2=logaddexp2, xlogy=xlogy, logit=logit, sinc=sinc, deg2rad=deg2rad,
    rad2deg=rad2deg, exp2=exp2, frac=frac, fix=fix, copysign=copysign, nan_to_num=nan_to_num,
    float_power=float_power, heaviside=heaviside, erfc=erfc, erfinv=erfinv, lgamma=lgamma,
    digamma=digamma, polygamma=lambda self, n: polygamma(n, self), mvlgamma=mvlgamma, i0=i0,
    sgn=sgn, signbit=signbit, fmax=fmax, fmin=fmin, isneginf=isneginf, isposinf=isposinf,
    isreal=isreal, angle=angle, nextafter=nextafter, ldexp=ldexp, frexp=frexp, gcd=gcd, lcm=lcm,
    bitwise_and=bitwise_and, bitwise_or=bitwise_or, bitwise_xor=bitwise_xor,
    bitwise_not=bitwise_not, bitwise_left_shift=bitwise_left_shift,
    bitwise_right_shift=bitwise_right_shift, positive=positive, clamp_min=clamp_min,
    clamp_max=clamp_max,
)
_register_missing(**_OUT_OF_PLACE)

# x.op_() for the ops above that torch has in place
_register_missing(**{name + "_": _inplace(_OUT_OF_PLACE[name], name + "_") for name in (
    "acos", "asin", "atan", "atan2", "acosh", "asinh", "atanh", "arccos", "arcsin", "arctan",
    "arctan2", "arccosh", "arcsinh", "arctanh", "sinh", "cosh", "hypot", "xlogy", "logit",
    "sinc", "deg2rad", "rad2deg", "exp2", "frac", "fix", "copysign", "nan_to_num",
    "heaviside", "erfc", "erfinv", "lgamma", "digamma", "mvlgamma", "i0", "sgn", "nextafter",
    "ldexp", "gcd", "lcm", "clamp_min", "clamp_max")})
_register_missing(
    polygamma_=_inplace(lambda self, n: polygamma(n, self), "polygamma_"),
    float_power_=_float_power_,
    bitwise_and_=_inplace(bitwise_and, "bitwise_and_"),
    bitwise_or_=_inplace(bitwise_or, "bitwise_or_"),
    bitwise_xor_=_inplace(bitwise_xor, "bitwise_xor_"),
    bitwise_left_shift_=_inplace(bitwise_left_shift, "bitwise_left_shift_"),
    bitwise_right_shift_=_inplace(bitwise_right_shift, "bitwise_right_shift_"),
    bitwise_not_=_inplace(bitwise_not, "bitwise_not_"),
)

# in-place forms of elementwise ops defined elsewhere (arith, compare, activation)
_register_missing(
    cos_=_inplace(cos, "cos_"), sin_=_inplace(sin, "sin_"),
    tan_=_inplace(Tensor.tan, "tan_"), rsqrt_=_inplace(Tensor.rsqrt, "rsqrt_"),
    square_=_inplace(Tensor.square, "square_"),
    reciprocal_=_inplace(Tensor.reciprocal, "reciprocal_"),
    trunc_=_inplace(trunc, "trunc_"), ceil_=_inplace(Tensor.ceil, "ceil_"),
    erf_=_inplace(Tensor.erf, "erf_"), expm1_=_inplace(Tensor.expm1, "expm1_"),
    log1p_=_inplace(Tensor.log1p, "log1p_"), log2_=_inplace(Tensor.log2, "log2_"),
    log10_=_inplace(Tensor.log10, "log10_"), sign_=_inplace(sign, "sign_"),
    neg_=_inplace(neg, "neg_"), fmod_=_inplace(Tensor.fmod, "fmod_"),
    remainder_=_inplace(Tensor.remainder, "remainder_"), lerp_=_inplace(Tensor.lerp, "lerp_"),
    addcmul_=_inplace(Tensor.addcmul, "addcmul_"), addcdiv_=_inplace(Tensor.addcdiv, "addcdiv_"),
    floor_divide_=_inplace(Tensor.floor_divide, "floor_divide_"),
)
_register_missing(
    negative_=Tensor.neg_, absolute_=Tensor.abs_, multiply_=Tensor.mul_, divide_=Tensor.div_,
    true_divide_=Tensor.div_, subtract_=Tensor.sub_,
)
_register_missing(**{name: _no_grad_inplace(getattr(Tensor, name[:-1]), name) for name in (
    "eq_", "ne_", "lt_", "le_", "gt_", "ge_", "greater_", "greater_equal_", "less_",
    "less_equal_", "not_equal_", "logical_and_", "logical_or_", "logical_xor_",
    "logical_not_")})

# the shift operators, and in-place bitwise operators, for integer/bool tensors
_register_missing(
    __lshift__=bitwise_left_shift, __rshift__=bitwise_right_shift,
    __rlshift__=lambda self, other: bitwise_left_shift(_like(other, self), self),
    __rrshift__=lambda self, other: bitwise_right_shift(_like(other, self), self),
    __rxor__=bitwise_xor,
    __iand__=Tensor.bitwise_and_, __ior__=Tensor.bitwise_or_, __ixor__=Tensor.bitwise_xor_,
    __ilshift__=Tensor.bitwise_left_shift_, __irshift__=Tensor.bitwise_right_shift_,
)


def _like(value, ref):
    from ._operands import as_tensor_like
    return as_tensor_like(value, ref)


# --- torch's top-level in-place functions ------------------------------------------------------
def _call_method(name):
    def fn(input, *args, **kwargs):
        _need_tensor(input, name)
        return getattr(input, name)(*args, **kwargs)
    fn.__name__ = name
    fn.__doc__ = f"In-place ``input.{name}(...)``: overwrites ``input`` and returns it."
    return fn


abs_ = _call_method("abs_")
acos_ = _call_method("acos_")
acosh_ = _call_method("acosh_")
arccos_ = _call_method("arccos_")
arccosh_ = _call_method("arccosh_")
arcsin_ = _call_method("arcsin_")
arcsinh_ = _call_method("arcsinh_")
arctan_ = _call_method("arctan_")
arctanh_ = _call_method("arctanh_")
asin_ = _call_method("asin_")
asinh_ = _call_method("asinh_")
atan_ = _call_method("atan_")
atanh_ = _call_method("atanh_")
ceil_ = _call_method("ceil_")
clamp_ = _call_method("clamp_")
clamp_max_ = _call_method("clamp_max_")
clamp_min_ = _call_method("clamp_min_")
clip_ = _call_method("clip_")
cos_ = _call_method("cos_")
cosh_ = _call_method("cosh_")
deg2rad_ = _call_method("deg2rad_")
erf_ = _call_method("erf_")
erfc_ = _call_method("erfc_")
exp2_ = _call_method("exp2_")
exp_ = _call_method("exp_")
expm1_ = _call_method("expm1_")
fix_ = _call_method("fix_")
floor_ = _call_method("floor_")
frac_ = _call_method("frac_")
gcd_ = _call_method("gcd_")
i0_ = _call_method("i0_")
lcm_ = _call_method("lcm_")
ldexp_ = _call_method("ldexp_")
log10_ = _call_method("log10_")
log1p_ = _call_method("log1p_")
log2_ = _call_method("log2_")
log_ = _call_method("log_")
logit_ = _call_method("logit_")
nan_to_num_ = _call_method("nan_to_num_")
neg_ = _call_method("neg_")
negative_ = _call_method("negative_")
rad2deg_ = _call_method("rad2deg_")
reciprocal_ = _call_method("reciprocal_")
round_ = _call_method("round_")
rsqrt_ = _call_method("rsqrt_")
sigmoid_ = _call_method("sigmoid_")
sin_ = _call_method("sin_")
sinc_ = _call_method("sinc_")
sinh_ = _call_method("sinh_")
sqrt_ = _call_method("sqrt_")
square_ = _call_method("square_")
tan_ = _call_method("tan_")
tanh_ = _call_method("tanh_")
trunc_ = _call_method("trunc_")
xlogy_ = _call_method("xlogy_")
