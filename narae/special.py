"""``narae.special``: torch.special's special functions.

Aliases of ops narae already has (erf, lgamma, digamma, i0, softmax...) plus the functions
only torch.special has: the normal distribution (ndtr, ndtri, log_ndtr), erfcx, entr,
xlog1py, the exponentially scaled Bessel functions, Hurwitz zeta, Bessel/Airy functions and
the classical orthogonal polynomials. Array code uses SciPy on the CPU and
``cupyx.scipy.special`` on CuPy when they have the function, else a vectorized fallback
written here on ``xp`` alone (so every function also runs without SciPy, and on a CuPy that
lacks a name). Gradients exist exactly where torch defines them; the Bessel, Airy and
polynomial functions have none (torch's results do not require grad either).
"""
import math

import numpy as np

from .autograd import grad_mode
from .autograd.function import Function
from .backend import get_array_module
from .ops.activation import sigmoid
from .ops.arith import exp, log, sign, where, erf as _erf, expm1 as _expm1, log1p as _log1p
from .ops.elementwise import (I1, _erfc_array, _erfinv_array, _float_binary, _float_unary,
                              _need_tensor, _zero, digamma as _digamma, erfc as _erfc,
                              erfinv as _erfinv, exp2 as _exp2, i0 as _i0, lgamma,
                              logit as _logit, mvlgamma, polygamma as _polygamma,
                              sinc as _sinc, xlogy as _xlogy)
from .tensor import Tensor

__all__ = [
    "airy_ai", "bessel_j0", "bessel_j1", "bessel_y0", "bessel_y1",
    "chebyshev_polynomial_t", "chebyshev_polynomial_u", "chebyshev_polynomial_v",
    "chebyshev_polynomial_w", "digamma", "entr", "erf", "erfc", "erfcx", "erfinv", "exp2",
    "expit", "expm1", "gammainc", "gammaincc", "gammaln", "hermite_polynomial_h",
    "hermite_polynomial_he", "i0", "i0e", "i1", "i1e", "laguerre_polynomial_l",
    "legendre_polynomial_p", "log1p", "log_ndtr", "log_softmax", "logit", "logsumexp",
    "modified_bessel_i0", "modified_bessel_i1", "modified_bessel_k0", "modified_bessel_k1",
    "multigammaln", "ndtr", "ndtri", "polygamma", "psi", "round", "scaled_modified_bessel_k0",
    "scaled_modified_bessel_k1", "shifted_chebyshev_polynomial_t",
    "shifted_chebyshev_polynomial_u", "shifted_chebyshev_polynomial_v",
    "shifted_chebyshev_polynomial_w", "sinc", "softmax", "spherical_bessel_j0", "xlog1py",
    "xlogy", "zeta",
]

_SQRT2 = math.sqrt(2.0)
_SQRT_2PI = math.sqrt(2.0 * math.pi)
_INV_SQRT_PI = 1.0 / math.sqrt(math.pi)
_EULER = 0.5772156649015329


# --- out= ---------------------------------------------------------------------------------------
def _out(result, out, op):
    """torch's ``out=``: the result written into ``out`` (resized when its shape differs)."""
    if out is None:
        return result
    if not isinstance(out, Tensor):
        raise TypeError(f"{op}(): argument 'out' must be Tensor, not {type(out).__name__}")
    if out.requires_grad and grad_mode.state.enabled:
        raise RuntimeError(f"{op}(): functions with out=... arguments don't support automatic "
                           "differentiation, but one of the arguments requires grad.")
    with grad_mode.no_grad():
        if tuple(out.shape) != tuple(result.shape):
            out.resize_(tuple(result.shape))
        out.copy_(result)
    return out


# --- SciPy / cupyx dispatch ---------------------------------------------------------------------
def _sp(name, *arrays, fallback):
    """scipy.special.<name>(*arrays) on the CPU, cupyx's on CuPy; ``fallback(xp, *arrays)`` when
    the library is missing or lacks the name. The result has the dtype of the last array."""
    x = arrays[-1]
    xp = get_array_module(x)
    fn = None
    if xp.__name__ != "numpy":
        try:
            import cupyx.scipy.special as lib
            fn = getattr(lib, name, None)
        except ImportError:
            fn = None
    else:
        try:
            import scipy.special as lib
            fn = getattr(lib, name, None)
        except ImportError:
            fn = None
    with np.errstate(all="ignore"):
        out = fn(*arrays) if fn is not None else fallback(xp, *arrays)
    return out.astype(x.dtype, copy=False)


def _f64(x):
    return x.astype(np.float64)


# --- fallbacks: the normal distribution, erfcx ---------------------------------------------------
def _fb_ndtr(xp, x):
    return 0.5 * _erfc_array(_f64(-x) / _SQRT2)


def _fb_ndtri(xp, p):
    return _SQRT2 * _erfinv_array(2.0 * _f64(p) - 1.0)


def _fb_erfcx(xp, x):
    """exp(x^2) erfc(x); past x = 25 (where erfc underflows) the asymptotic series
    1/(x sqrt(pi)) * sum (-1)^k (2k-1)!! / (2x^2)^k."""
    x = _f64(x)
    big = x > 25.0
    xs = xp.where(big, 0.0, x)
    direct = xp.exp(xs * xs) * _erfc_array(xs)
    xb = xp.where(big, x, 30.0)
    w = 1.0 / (2.0 * xb * xb)
    total, term = xp.ones_like(xb), xp.ones_like(xb)
    for k in range(1, 8):
        term = -term * (2 * k - 1) * w
        total = total + term
    asym = total * _INV_SQRT_PI / xb
    return xp.where(big, asym, direct)


def _erfcx_array(x):
    return _sp("erfcx", x, fallback=_fb_erfcx)


def _fb_log_ndtr(xp, x):
    """log(Phi(x)): log1p(-Phi(-x)) for x > -1, else log(erfcx(-x/sqrt2) / 2) - x^2/2, which
    stays finite where Phi underflows."""
    x = _f64(x)
    upper = x > -1.0
    xu = xp.where(upper, x, 0.0)
    xl = xp.where(upper, -1.0, x)
    hi = xp.log1p(-_fb_ndtr(xp, -xu))
    lo = xp.log(_erfcx_array(-xl / _SQRT2) / 2.0) - xl * xl / 2.0
    return xp.where(upper, hi, lo)


# --- fallbacks: Bessel functions ----------------------------------------------------------------
def _hankel_coeffs(nu, terms):
    """a_k(nu) = prod_{j<=k} (4 nu^2 - (2j-1)^2) / (k! 8^k) of the large-x expansions."""
    out, a = [1.0], 1.0
    for k in range(1, terms):
        a = a * (4.0 * nu * nu - (2 * k - 1) ** 2) / (k * 8.0)
        out.append(a)
    return out


def _jy_series(xp, x, nu, want_y):
    """J_nu (or Y_nu) for 0 < x <= 17 by the power series (nu = 0 or 1)."""
    h = x / 2.0
    q = -(h * h)
    # J: sum (-1)^k h^(2k+nu) / (k! (k+nu)!); Y needs harmonic-number weighted sums as well
    term = h if nu else xp.ones_like(x)
    j = term.copy()
    s = xp.zeros_like(x)
    harm = 0.0  # H_k
    harm_nu = 1.0 if nu else 0.0  # H_(k+nu)
    for k in range(1, 60):
        term = term * q / (k * (k + nu))
        harm += 1.0 / k
        harm_nu += 1.0 / (k + nu)
        j = j + term
        if want_y:
            s = s + term * (harm + harm_nu)
    if not want_y:
        return j
    lg = xp.log(h)
    if nu == 0:
        # Y0 = 2/pi ((ln(x/2) + gamma) J0 - sum (-1)^k H_k h^2k / (k!)^2)
        return (2.0 / math.pi) * ((lg + _EULER) * j - s / 2.0)
    # Y1 = -2/(pi x) + 2/pi ln(x/2) J1 - 1/pi sum (-1)^k (psi(k+1) + psi(k+2)) h^(2k+1)/(k!(k+1)!)
    s = s + h  # the k = 0 term: H_0 + H_1 = 1
    psi_sum = s - 2.0 * _EULER * j
    return -2.0 / (math.pi * x) + (2.0 / math.pi) * lg * j - psi_sum / math.pi


def _jy_asym(xp, x, nu, want_y):
    """Hankel's expansion for x > 17: sqrt(2/(pi x)) (P cos chi -+ Q sin chi)."""
    a = _hankel_coeffs(nu, 24)
    p, q = xp.zeros_like(x), xp.zeros_like(x)
    inv = 1.0 / x
    for k in range(len(a) - 1, -1, -1):  # Horner in 1/x with the signs (-1)^(k//2)
        c = a[k] * (-1.0) ** (k // 2)
        if k % 2 == 0:
            p = p * inv * inv + c
        else:
            q = q * inv * inv + c
    q = q * inv
    chi = x - (nu / 2.0 + 0.25) * math.pi
    amp = xp.sqrt(2.0 / (math.pi * x))
    if want_y:
        return amp * (p * xp.sin(chi) + q * xp.cos(chi))
    return amp * (p * xp.cos(chi) - q * xp.sin(chi))


def _jy(xp, x, nu, want_y):
    x = _f64(x)
    ax = xp.abs(x)
    small = ax <= 17.0
    xs = xp.where(small & (ax > 0), ax, 1.0)
    xa = xp.where(small | xp.isinf(ax), 30.0, ax)
    out = xp.where(small, _jy_series(xp, xs, nu, want_y), _jy_asym(xp, xa, nu, want_y))
    out = xp.where(xp.isinf(ax), 0.0, out)
    if want_y:
        out = xp.where(x == 0, -xp.inf, out)
        return xp.where((x < 0) | xp.isnan(x), xp.nan, out)
    if nu == 0:
        out = xp.where(x == 0, 1.0, out)
    else:
        out = xp.where(x == 0, 0.0, out) * xp.where(x < 0, -1.0, 1.0)
    return xp.where(xp.isnan(x), xp.nan, out)


def _fb_j0(xp, x):
    return _jy(xp, x, 0, False)


def _fb_j1(xp, x):
    return _jy(xp, x, 1, False)


def _fb_y0(xp, x):
    return _jy(xp, x, 0, True)


def _fb_y1(xp, x):
    return _jy(xp, x, 1, True)


def _scaled_i(xp, x, nu):
    """e^-|x| I_nu(|x|): the trapezoid rule on (1/pi) int_0^pi e^(|x|(cos t - 1)) cos(nu t) dt
    (exact to rounding for a periodic integrand) up to |x| = 40, Hankel's series beyond."""
    ax = xp.abs(_f64(x))
    near = ax <= 40.0
    xn = xp.where(near, ax, 0.0)
    n = 64
    t = xp.linspace(0.0, math.pi, n + 1)
    w = xp.full(n + 1, 1.0 / n)
    w[0] = w[-1] = 0.5 / n
    f = xp.exp(xn[..., None] * (xp.cos(t) - 1.0)) * xp.cos(nu * t)
    quad = (f * w).sum(-1)
    a = _hankel_coeffs(nu, 24)
    xf = xp.where(near | xp.isinf(ax), 50.0, ax)
    total = xp.zeros_like(xf)
    for k in range(len(a) - 1, -1, -1):
        total = total / xf + a[k] * (-1.0) ** k
    far = total / xp.sqrt(2.0 * math.pi * xf)
    out = xp.where(near, quad, xp.where(xp.isinf(ax), 0.0, far))
    return xp.where(xp.isnan(ax), xp.nan, out)


def _fb_i0e(xp, x):
    return _scaled_i(xp, x, 0)


def _fb_i1e(xp, x):
    return _scaled_i(xp, x, 1) * xp.where(_f64(x) < 0, -1.0, 1.0)


def _fb_i0(xp, x):
    return _fb_i0e(xp, x) * xp.exp(xp.abs(_f64(x)))


def _fb_i1(xp, x):
    return _fb_i1e(xp, x) * xp.exp(xp.abs(_f64(x)))


def _scaled_k(xp, x, nu):
    """e^x K_nu(x) = int_0^inf e^(-x (cosh t - 1)) cosh(nu t) dt by the trapezoid rule, cut
    where the integrand falls below e^-45 (exponentially accurate for this smooth decay)."""
    x = _f64(x)
    ok = x > 0
    xs = xp.where(ok & xp.isfinite(x), xp.maximum(x, 1e-30), 1.0)
    top = xp.arccosh(1.0 + 45.0 / xs)
    n = 256
    u = xp.linspace(0.0, 1.0, n + 1)
    w = xp.full(n + 1, 1.0)
    w[0] = w[-1] = 0.5
    t = top[..., None] * u
    f = xp.exp(-xs[..., None] * (xp.cosh(t) - 1.0)) * xp.cosh(nu * t)
    out = (f * w).sum(-1) * top / n
    out = xp.where(xp.isinf(x) & (x > 0), 0.0, out)
    out = xp.where(x == 0, xp.inf, out)
    return xp.where((x < 0) | xp.isnan(x), xp.nan, out)


def _fb_k0e(xp, x):
    return _scaled_k(xp, x, 0)


def _fb_k1e(xp, x):
    return _scaled_k(xp, x, 1)


def _fb_k0(xp, x):
    return _scaled_k(xp, x, 0) * xp.exp(-_f64(x))


def _fb_k1(xp, x):
    return _scaled_k(xp, x, 1) * xp.exp(-_f64(x))


def _airy_ai_array(x):
    """Ai(x): e^-zeta sqrt(x/3)/pi * (e^zeta K_1/3(zeta)) for x > 1 (zeta = 2/3 x^1.5), the
    Maclaurin series Ai(0) f(x) + Ai'(0) g(x) on [-8, 1], the oscillating asymptotic form below."""
    xp = get_array_module(x)
    v = _f64(x)
    with np.errstate(all="ignore"):
        right = v > 1.0
        xr = xp.where(right & xp.isfinite(v), v, 2.0)
        zr = 2.0 / 3.0 * xr ** 1.5
        ai_right = xp.sqrt(xr / 3.0) / math.pi * _scaled_k(xp, zr, 1.0 / 3.0) * xp.exp(-zr)
        mid = (v >= -8.0) & ~right
        xm = xp.where(mid, v, 0.0)
        c1 = 3.0 ** (-2.0 / 3.0) / math.gamma(2.0 / 3.0)
        c2 = 3.0 ** (-1.0 / 3.0) / math.gamma(1.0 / 3.0)
        x3 = xm ** 3
        f, g = xp.ones_like(xm), xm.copy()
        tf, tg = xp.ones_like(xm), xm.copy()
        for k in range(1, 60):
            tf = tf * x3 / ((3 * k - 1) * (3 * k))
            tg = tg * x3 / ((3 * k) * (3 * k + 1))
            f, g = f + tf, g + tg
        ai_mid = c1 * f - c2 * g
        xl = xp.where(v < -8.0, -v, 9.0)
        z = 2.0 / 3.0 * xl ** 1.5
        # u_k = Gamma(3k + 1/2) / (54^k k! Gamma(k + 1/2))
        u = [math.exp(math.lgamma(3 * k + 0.5) - k * math.log(54.0) - math.lgamma(k + 1)
                      - math.lgamma(k + 0.5)) for k in range(16)]
        p, q = xp.zeros_like(z), xp.zeros_like(z)
        inv = 1.0 / z
        for k in range(len(u) - 1, -1, -1):
            c = u[k] * (-1.0) ** (k // 2)
            if k % 2 == 0:
                p = p * inv * inv + c
            else:
                q = q * inv * inv + c
        q = q * inv
        ph = z + math.pi / 4.0
        ai_left = _INV_SQRT_PI * xl ** -0.25 * (xp.sin(ph) * p - xp.cos(ph) * q)
        out = xp.where(right, ai_right, xp.where(mid, ai_mid, ai_left))
        out = xp.where(v == xp.inf, 0.0, out)
        out = xp.where(xp.isnan(v) | (v == -xp.inf), xp.nan, out)
    return out


def _fb_airy(xp, x):
    return _airy_ai_array(x)


def _airy(x):
    """scipy's ``airy`` returns (Ai, Ai', Bi, Bi'): only Ai is wanted."""
    xp = get_array_module(x)
    if xp.__name__ == "numpy":
        try:
            import scipy.special as lib
        except ImportError:
            lib = None
        if lib is not None:
            with np.errstate(all="ignore"):
                return lib.airy(x)[0].astype(x.dtype, copy=False)
    return _airy_ai_array(x).astype(x.dtype, copy=False)


def _fb_zeta(xp, s, q):
    """Hurwitz zeta sum_k (k + q)^-s by Euler-Maclaurin: 12 terms, the integral of the tail and
    six Bernoulli corrections."""
    s, q = xp.broadcast_arrays(_f64(s), _f64(q))
    terms = 12
    total = xp.zeros_like(s)
    for k in range(terms):
        total = total + xp.power(q + k, -s)
    big = q + terms
    total = total + big ** (1.0 - s) / (s - 1.0) + 0.5 * big ** -s
    bern = (1 / 6, -1 / 30, 1 / 42, -1 / 30, 5 / 66, -691 / 2730)
    rising, power, fact = s, big ** (-s - 1.0), 2.0
    for j, b in enumerate(bern, start=1):
        total = total + b / fact * rising * power
        rising = rising * (s + 2 * j - 1) * (s + 2 * j)
        fact *= (2 * j + 1) * (2 * j + 2)
        power = power / (big * big)
    pole = (q <= 0) & (q == xp.floor(q))
    out = xp.where(s == 1, xp.inf, total)
    out = xp.where(s < 1, xp.nan, out)
    out = xp.where(pole & (s > 1), xp.inf, out)
    return xp.where((q < 0) & ~pole & (s != xp.floor(s)), xp.nan, out)


# --- differentiable functions ---------------------------------------------------------------------
class Ndtr(Function):
    """Phi(x) = (1 + erf(x / sqrt2)) / 2; d/dx = e^(-x^2/2) / sqrt(2 pi)."""

    def forward(self, x):
        return _sp("ndtr", x, fallback=_fb_ndtr)

    def backward(self, gy):
        x = self.inputs[0]
        return gy * exp(x * x * -0.5) * (1.0 / _SQRT_2PI)


class Ndtri(Function):
    """Phi^-1(p); d/dp = sqrt(2 pi) e^(y^2/2) with y the output."""
    uses_outputs = True

    def forward(self, p):
        return _sp("ndtri", p, fallback=_fb_ndtri)

    def backward(self, gy):
        y = self.output()
        return gy * exp(y * y * 0.5) * _SQRT_2PI


class LogNdtr(Function):
    """log Phi(x); d/dx = sqrt(2/pi) / erfcx(-x / sqrt2), finite far into the left tail."""

    def forward(self, x):
        return _sp("log_ndtr", x, fallback=_fb_log_ndtr)

    def backward(self, gy):
        x = self.inputs[0]
        return gy * math.sqrt(2.0 / math.pi) / Erfcx()(x * (-1.0 / _SQRT2))


class Erfcx(Function):
    """exp(x^2) erfc(x); d/dx = 2 x erfcx(x) - 2/sqrt(pi)."""
    uses_outputs = True

    def forward(self, x):
        return _erfcx_array(x)

    def backward(self, gy):
        x = self.inputs[0]
        return gy * (2.0 * x * self.output() - 2.0 * _INV_SQRT_PI)


class Entr(Function):
    """-x log x for x > 0, 0 at 0, -inf below; d/dx = -(log x + 1)."""

    def forward(self, x):
        xp = get_array_module(x)
        with np.errstate(all="ignore"):
            out = -x * xp.log(xp.where(x > 0, x, 1))
            out = xp.where(x == 0, xp.zeros((), x.dtype), out)
            return xp.where(x < 0, xp.full((), -np.inf, x.dtype), out).astype(x.dtype, copy=False)

    def backward(self, gy):
        return -gy * (log(self.inputs[0]) + 1.0)


class XLog1PY(Function):
    """x * log1p(y), 0 where x == 0 (unless y is NaN)."""

    def forward(self, x, y):
        xp = get_array_module(x)
        with np.errstate(all="ignore"):
            out = x * xp.log1p(y)
        return xp.where((x == 0) & ~xp.isnan(y), xp.zeros((), out.dtype), out)

    def backward(self, gy):
        x, y = self.inputs
        gx = gy_ = None
        if x.requires_grad:
            # as torch: 0 where x == 0 and y <= -1 (log1p would be -inf/NaN there)
            skip = (x == 0) & (y <= -1)
            gx = where(skip, _zero(gy), gy * _log1p(where(skip, 0.0, y)))
        if y.requires_grad:
            gy_ = gy * x / (y + 1.0)
        return gx, gy_


class I0e(Function):
    """e^-|x| I0(x); d/dx = i1e(x) - sgn(x) i0e(x)."""
    uses_outputs = True

    def forward(self, x):
        return _sp("i0e", x, fallback=_fb_i0e)

    def backward(self, gy):
        x = self.inputs[0]
        return gy * (I1e()(x) - sign(x) * self.output())


class I1e(Function):
    """e^-|x| I1(x); d/dx = i0e(x) - i1e(x) (sgn(x) + 1/x), 1/2 at 0."""
    uses_outputs = True

    def forward(self, x):
        return _sp("i1e", x, fallback=_fb_i1e)

    def backward(self, gy):
        x = self.inputs[0]
        zero = x == 0
        y = self.output()
        ratio = where(zero, 0.5, y / where(zero, 1.0, x))
        return gy * (I0e()(x) - sign(x) * y - ratio)


class Zeta(Function):
    """Hurwitz zeta(x, q) = sum_k (k + q)^-x; d/dq = -x zeta(x + 1, q); torch has no d/dx."""

    def forward(self, x, q):
        return _sp("zeta", x, q, fallback=_fb_zeta)

    def backward(self, gy):
        x, q = self.inputs
        if x.requires_grad:
            raise RuntimeError("the derivative for 'zeta' with respect to 'input' is not "
                               "implemented.")
        return None, gy * -x * Zeta()(x + 1.0, q)


# --- user-facing: new functions -------------------------------------------------------------------
def ndtr(input, *, out=None):
    """The standard normal CDF, Phi(x) = (1 + erf(x / sqrt2)) / 2."""
    return _out(Ndtr()(_float_unary(input, "ndtr")), out, "ndtr")


def ndtri(input, *, out=None):
    """The standard normal quantile: ndtri(Phi(x)) = x (NaN outside [0, 1], +-inf at the ends)."""
    return _out(Ndtri()(_float_unary(input, "ndtri")), out, "ndtri")


def log_ndtr(input, *, out=None):
    """log Phi(x), accurate where Phi(x) underflows (x << 0)."""
    return _out(LogNdtr()(_float_unary(input, "log_ndtr")), out, "log_ndtr")


def erfcx(input, *, out=None):
    """The scaled complementary error function exp(x^2) erfc(x) (no overflow for large x)."""
    return _out(Erfcx()(_float_unary(input, "erfcx")), out, "erfcx")


def entr(input, *, out=None):
    """Elementwise entropy -x ln x (0 at 0, -inf for x < 0)."""
    return _out(Entr()(_float_unary(input, "entr")), out, "entr")


def xlog1py(input, other, *, out=None):
    """x * log1p(y), taken as 0 where x == 0 (as xlogy)."""
    return _out(XLog1PY()(*_float_binary(input, other, "xlog1py")), out, "xlog1py")


def i0e(input, *, out=None):
    """The exponentially scaled modified Bessel function e^-|x| I0(x)."""
    return _out(I0e()(_float_unary(input, "i0e")), out, "i0e")


def i1(input, *, out=None):
    """The modified Bessel function of the first kind of order 1."""
    return _out(I1()(_float_unary(input, "i1")), out, "i1")


def i1e(input, *, out=None):
    """The exponentially scaled modified Bessel function e^-|x| I1(x)."""
    return _out(I1e()(_float_unary(input, "i1e")), out, "i1e")


def zeta(input, other, *, out=None):
    """The Hurwitz zeta function sum_{k>=0} (k + other)^-input (Riemann's at other = 1)."""
    return _out(Zeta()(*_float_binary(input, other, "zeta")), out, "zeta")


def _no_grad_unary(name, fallback, doc, array_fn=None):
    def fn(input, *, out=None):
        x = _float_unary(input, name)
        data = array_fn(x._data) if array_fn is not None else \
            _sp(_SCIPY_NAMES.get(name, name), x._data, fallback=fallback)
        return _out(Tensor(data), out, name)
    fn.__name__ = fn.__qualname__ = name
    fn.__doc__ = doc
    return fn


_SCIPY_NAMES = {"bessel_j0": "j0", "bessel_j1": "j1", "bessel_y0": "y0", "bessel_y1": "y1",
                "modified_bessel_i0": "i0", "modified_bessel_i1": "i1",
                "modified_bessel_k0": "k0", "modified_bessel_k1": "k1",
                "scaled_modified_bessel_k0": "k0e", "scaled_modified_bessel_k1": "k1e"}


def _spherical_j0_array(x):
    """sin(x)/x, with its Taylor series 1 - x^2/6 + x^4/120 near 0."""
    xp = get_array_module(x)
    with np.errstate(all="ignore"):
        small = xp.abs(x) < 0.5
        xs = xp.where(small, 1.0, x)
        x2 = x * x
        series = 1.0 - x2 / 6.0 * (1.0 - x2 / 20.0 * (1.0 - x2 / 42.0 * (1.0 - x2 / 72.0)))
        out = xp.where(small, series, xp.sin(xs) / xs)
        return xp.where(xp.isinf(x), xp.zeros((), x.dtype), out).astype(x.dtype, copy=False)


bessel_j0 = _no_grad_unary("bessel_j0", _fb_j0, "The Bessel function J0 (no gradient).")
bessel_j1 = _no_grad_unary("bessel_j1", _fb_j1, "The Bessel function J1 (no gradient).")
bessel_y0 = _no_grad_unary("bessel_y0", _fb_y0, "The Bessel function Y0 (no gradient).")
bessel_y1 = _no_grad_unary("bessel_y1", _fb_y1, "The Bessel function Y1 (no gradient).")
modified_bessel_i0 = _no_grad_unary("modified_bessel_i0", _fb_i0,
                                    "The modified Bessel function I0 (no gradient).")
modified_bessel_i1 = _no_grad_unary("modified_bessel_i1", _fb_i1,
                                    "The modified Bessel function I1 (no gradient).")
modified_bessel_k0 = _no_grad_unary("modified_bessel_k0", _fb_k0,
                                    "The modified Bessel function K0 (no gradient).")
modified_bessel_k1 = _no_grad_unary("modified_bessel_k1", _fb_k1,
                                    "The modified Bessel function K1 (no gradient).")
scaled_modified_bessel_k0 = _no_grad_unary(
    "scaled_modified_bessel_k0", _fb_k0e, "e^x K0(x), finite for large x (no gradient).")
scaled_modified_bessel_k1 = _no_grad_unary(
    "scaled_modified_bessel_k1", _fb_k1e, "e^x K1(x), finite for large x (no gradient).")
spherical_bessel_j0 = _no_grad_unary("spherical_bessel_j0", None,
                                     "The spherical Bessel function j0(x) = sin(x)/x "
                                     "(no gradient).", array_fn=_spherical_j0_array)
airy_ai = _no_grad_unary("airy_ai", _fb_airy, "The Airy function Ai(x) (no gradient).",
                         array_fn=_airy)


# --- orthogonal polynomials -------------------------------------------------------------------------
def _poly_operands(input, n, op):
    """x and n as float64 arrays (numbers kept exact; n truncated to whole degrees) and the
    result dtype (torch's promotion; integers give the default float)."""
    if not isinstance(input, Tensor) and not isinstance(n, Tensor):
        raise TypeError(f"{op}(): expected a Tensor operand, got {type(input).__name__} and "
                        f"{type(n).__name__}")
    x, deg = _float_binary(input, n, op)
    xp = get_array_module(x._data)
    nv = deg._data.astype(np.float64) if isinstance(n, Tensor) else xp.asarray(float(n), np.float64)
    return xp, x._data.astype(np.float64), xp.trunc(nv), x._data.dtype


def _recurrence(input, n, op, first, step, out):
    """Evaluate p_n(x) by p_0 = 1, p_1 = first(x), p_(k+1) = step(k, x, p_k, p_(k-1)): one pass
    over the degrees, every element at once, each keeping the value at its own degree. The sums
    run in float64, rounded once to the result dtype at the end."""
    xp, x, deg, dt = _poly_operands(input, n, op)
    x, deg = xp.broadcast_arrays(x, deg)
    with np.errstate(all="ignore"):
        p_prev = xp.ones_like(x)
        p = first(x)
        res = xp.where(deg == 0, p_prev, xp.where(deg == 1, p, 0.0))
        top = int(xp.max(xp.where(xp.isfinite(deg), deg, 0))) if deg.size else 0
        for k in range(1, top):
            p_prev, p = p, step(k, x, p, p_prev)
            res = xp.where(deg == k + 1, p, res)
    return _out(Tensor(res.astype(dt)), out, op)


def _cheb_step(k, x, p, q):
    return 2.0 * x * p - q


def _shift(x):
    return 2.0 * x - 1.0


def chebyshev_polynomial_t(input, n, *, out=None):
    """Chebyshev polynomial of the first kind T_n(x) (T_n(cos t) = cos(n t)); 0 for n < 0."""
    return _recurrence(input, n, "chebyshev_polynomial_t", lambda x: x, _cheb_step, out)


def chebyshev_polynomial_u(input, n, *, out=None):
    """Chebyshev polynomial of the second kind U_n(x) (U_n(cos t) = sin((n+1)t) / sin t)."""
    return _recurrence(input, n, "chebyshev_polynomial_u", lambda x: 2.0 * x, _cheb_step, out)


def chebyshev_polynomial_v(input, n, *, out=None):
    """Chebyshev polynomial of the third kind V_n(x): V_0 = 1, V_1 = 2x - 1, same recurrence."""
    return _recurrence(input, n, "chebyshev_polynomial_v", lambda x: 2.0 * x - 1.0,
                       _cheb_step, out)


def chebyshev_polynomial_w(input, n, *, out=None):
    """Chebyshev polynomial of the fourth kind W_n(x): W_0 = 1, W_1 = 2x + 1, same recurrence."""
    return _recurrence(input, n, "chebyshev_polynomial_w", lambda x: 2.0 * x + 1.0,
                       _cheb_step, out)


def _shifted(poly, name):
    def fn(input, n, *, out=None):
        if isinstance(input, Tensor):
            x = _float_unary(input, name)
            xs = x.detach() * 2.0 - 1.0
        else:
            xs = 2.0 * float(input) - 1.0
        try:
            return poly(xs, n, out=out)
        except TypeError as e:
            raise TypeError(str(e).replace(poly.__name__, name)) from None
    fn.__name__ = fn.__qualname__ = name
    fn.__doc__ = f"{poly.__name__.split('_')[-1].upper()}*_n(x) = {poly.__name__}(2x - 1, n): " \
        "the Chebyshev polynomial moved to [0, 1]."
    return fn


shifted_chebyshev_polynomial_t = _shifted(chebyshev_polynomial_t, "shifted_chebyshev_polynomial_t")
shifted_chebyshev_polynomial_u = _shifted(chebyshev_polynomial_u, "shifted_chebyshev_polynomial_u")
shifted_chebyshev_polynomial_v = _shifted(chebyshev_polynomial_v, "shifted_chebyshev_polynomial_v")
shifted_chebyshev_polynomial_w = _shifted(chebyshev_polynomial_w, "shifted_chebyshev_polynomial_w")


def hermite_polynomial_h(input, n, *, out=None):
    """Physicists' Hermite polynomial H_n: H_(k+1) = 2x H_k - 2k H_(k-1)."""
    return _recurrence(input, n, "hermite_polynomial_h", lambda x: 2.0 * x,
                       lambda k, x, p, q: 2.0 * x * p - 2.0 * k * q, out)


def hermite_polynomial_he(input, n, *, out=None):
    """Probabilists' Hermite polynomial He_n: He_(k+1) = x He_k - k He_(k-1)."""
    return _recurrence(input, n, "hermite_polynomial_he", lambda x: x,
                       lambda k, x, p, q: x * p - k * q, out)


def laguerre_polynomial_l(input, n, *, out=None):
    """Laguerre polynomial L_n: (k+1) L_(k+1) = (2k + 1 - x) L_k - k L_(k-1)."""
    return _recurrence(input, n, "laguerre_polynomial_l", lambda x: 1.0 - x,
                       lambda k, x, p, q: ((2 * k + 1 - x) * p - k * q) / (k + 1), out)


def legendre_polynomial_p(input, n, *, out=None):
    """Legendre polynomial P_n: (k+1) P_(k+1) = (2k + 1) x P_k - k P_(k-1)."""
    return _recurrence(input, n, "legendre_polynomial_p", lambda x: x,
                       lambda k, x, p, q: ((2 * k + 1) * x * p - k * q) / (k + 1), out)


# --- aliases of existing ops ------------------------------------------------------------------------
def expit(input, *, out=None):
    """The logistic sigmoid 1 / (1 + e^-x)."""
    return _out(sigmoid(_float_unary(input, "expit")), out, "expit")


def logit(input, eps=None, *, out=None):
    """log(p / (1 - p)), with p clamped to [eps, 1 - eps] when eps is given."""
    return _out(_logit(input, eps), out, "logit")


def erf(input, *, out=None):
    """The error function 2/sqrt(pi) int_0^x e^(-t^2) dt."""
    return _out(_erf(_float_unary(input, "erf")), out, "erf")


def erfc(input, *, out=None):
    """1 - erf(x)."""
    return _out(_erfc(input), out, "erfc")


def erfinv(input, *, out=None):
    """The inverse error function."""
    return _out(_erfinv(input), out, "erfinv")


def exp2(input, *, out=None):
    """2^x."""
    return _out(_exp2(input), out, "exp2")


def expm1(input, *, out=None):
    """e^x - 1, accurate near 0."""
    return _out(_expm1(_float_unary(input, "expm1")), out, "expm1")


def log1p(input, *, out=None):
    """log(1 + x), accurate near 0."""
    return _out(_log1p(_float_unary(input, "log1p")), out, "log1p")


def gammaln(input, *, out=None):
    """log |Gamma(x)|."""
    return _out(lgamma(input), out, "gammaln")


def digamma(input, *, out=None):
    """psi(x) = d/dx log Gamma(x)."""
    return _out(_digamma(input), out, "digamma")


psi = digamma


def polygamma(n, input, *, out=None):
    """The n-th derivative of the digamma function."""
    return _out(_polygamma(n, input), out, "polygamma")


def multigammaln(input, p, *, out=None):
    """The multivariate log-gamma function of dimension p."""
    return _out(mvlgamma(input, p), out, "multigammaln")


def i0(input, *, out=None):
    """The modified Bessel function of the first kind of order 0."""
    return _out(_i0(input), out, "i0")


def sinc(input, *, out=None):
    """The normalized sinc sin(pi x) / (pi x), 1 at 0."""
    return _out(_sinc(input), out, "sinc")


def round(input, *, decimals=0, out=None):
    """Round half to even (to ``decimals`` places)."""
    _need_tensor(input, "round")
    return _out(input.round(decimals=decimals), out, "round")


def softmax(input, dim, *, dtype=None):
    """exp(x) / sum(exp(x)) along ``dim``."""
    from .nn.functional import softmax as _softmax
    return _softmax(input, dim, dtype=dtype)


def log_softmax(input, dim, *, dtype=None):
    """x - logsumexp(x) along ``dim``."""
    from .nn.functional import log_softmax as _log_softmax
    return _log_softmax(input, dim, dtype=dtype)


def logsumexp(input, dim, keepdim=False, *, out=None):
    """log(sum(exp(x))) along ``dim``, without overflow."""
    _need_tensor(input, "logsumexp")
    return _out(input.logsumexp(dim, keepdim), out, "logsumexp")


def xlogy(input, other, *, out=None):
    """x * log(y), 0 where x == 0."""
    return _out(_xlogy(input, other), out, "xlogy")


def gammainc(input, other, *, out=None):
    """The regularized lower incomplete gamma function P(a, x) (a = input)."""
    from .ops.incomplete_gamma import igamma
    return _out(igamma(input, other), out, "gammainc")


def gammaincc(input, other, *, out=None):
    """The regularized upper incomplete gamma function Q(a, x) = 1 - P(a, x)."""
    from .ops.incomplete_gamma import igammac
    return _out(igammac(input, other), out, "gammaincc")
