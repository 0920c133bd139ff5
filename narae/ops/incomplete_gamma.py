"""Regularized incomplete gamma functions: ``igamma`` (lower, P) and ``igammac`` (upper, Q).

    P(a, x) = gamma(a, x) / Gamma(a) = 1/Gamma(a) * int_0^x t^(a-1) e^(-t) dt,   Q = 1 - P.

SciPy's ``gammainc``/``gammaincc`` on the CPU and ``cupyx.scipy.special``'s on CuPy (both agree
with torch on the edge cases: a = 0, x = 0, infinities, negative arguments give NaN). Without
SciPy a series (x < a + 1) / continued fraction (otherwise) in float64 takes over. Like torch,
only x has a gradient: dP/dx = x^(a-1) e^(-x) / Gamma(a); the gradient in ``a`` raises.
"""
import numpy as np

from ..autograd.function import Function
from ..backend import get_array_module
from ..tensor import register_methods
from .arith import exp, log
from .elementwise import _floats_only, _inplace, _lgamma_array, _special, lgamma

__all__ = ["igamma", "igammac"]

_TINY = 1e-300


def _fallback(xp, a, x, upper):
    """P(a, x) (or Q when ``upper``) in float64 without SciPy; iterations are vectorized."""
    a, x = xp.broadcast_arrays(a.astype(np.float64), x.astype(np.float64))
    with np.errstate(all="ignore"):
        regular = (a > 0) & (x > 0) & xp.isfinite(a) & xp.isfinite(x)
        aa = xp.where(regular, a, 1.0)
        xx = xp.where(regular, x, 1.0)
        log_front = aa * xp.log(xx) - xx - _lgamma_array(aa)  # log(x^a e^-x / Gamma(a))
        series = x < a + 1
        # P = x^a e^-x / Gamma(a + 1) * sum_n x^n / ((a+1)...(a+n))
        term = 1.0 / aa
        total = term.copy()
        ap = aa.copy()
        for _ in range(2000):
            ap = ap + 1.0
            term = term * (xx / ap)
            total = total + term
            if not bool((xp.abs(term) > xp.abs(total) * 1e-17)[series & regular].any()):
                break
        p_series = total * xp.exp(log_front)
        # Q = x^a e^-x / Gamma(a) * 1/(x+1-a- 1(1-a)/(x+3-a- 2(2-a)/(x+5-a- ...))) (modified Lentz)
        b = xx + 1.0 - aa
        c = xp.full(b.shape, 1.0 / _TINY)
        d = 1.0 / xp.where(xp.abs(b) < _TINY, _TINY, b)
        h = d.copy()
        for i in range(1, 2000):
            an = -i * (i - aa)
            b = b + 2.0
            d = an * d + b
            d = 1.0 / xp.where(xp.abs(d) < _TINY, _TINY, d)
            c = b + an / c
            c = xp.where(xp.abs(c) < _TINY, _TINY, c)
            delta = d * c
            h = h * delta
            if not bool((xp.abs(delta - 1.0) > 1e-16)[~series & regular].any()):
                break
        q_cf = xp.exp(log_front) * h
        p = xp.where(series, p_series, 1.0 - q_cf)
        q = xp.where(series, 1.0 - p_series, q_cf)
        out = q if upper else p
        # the edges, as SciPy and torch define them
        nan = xp.isnan(a) | xp.isnan(x) | (a < 0) | (x < 0) | ((a == 0) & (x == 0)) | \
            (xp.isinf(a) & xp.isinf(x))
        low = ((x == 0) & (a > 0)) | (xp.isinf(a) & xp.isfinite(x))  # P = 0
        high = ((a == 0) & (x > 0)) | (xp.isinf(x) & xp.isfinite(a))  # P = 1
        out = xp.where(low, 1.0 if upper else 0.0, out)
        out = xp.where(high, 0.0 if upper else 1.0, out)
        return xp.where(nan, np.nan, out)


def _fallback_lower(xp, a, x):
    return _fallback(xp, a, x, False)


def _fallback_upper(xp, a, x):
    return _fallback(xp, a, x, True)


class IGamma(Function):
    """P(a, x), or Q(a, x) = 1 - P when ``upper``; differentiable in x only."""

    def __init__(self, upper):
        self.upper = upper

    def forward(self, a, x):
        xp = get_array_module(x)
        a, x = xp.broadcast_arrays(a, x)
        if self.upper:
            return _special("gammaincc", x, a, fallback=_fallback_upper)
        return _special("gammainc", x, a, fallback=_fallback_lower)

    def backward(self, gy):
        a, x = self.inputs
        if a.requires_grad:
            name = "igammac" if self.upper else "igamma"
            raise NotImplementedError(f"the derivative for '{name}: input' is not implemented.")
        if not x.requires_grad:
            return None, None
        # x^(a-1) e^(-x) / Gamma(a), in logs (torch's formula, with its NaN/inf at the edges)
        dens = exp((a - 1) * log(x) - x - lgamma(a))
        return None, (-gy * dens if self.upper else gy * dens)


def igamma(input, other):
    """Regularized lower incomplete gamma P(input, other), elementwise (broadcast)."""
    return IGamma(False)(*_floats_only(input, other, "igamma"))


def igammac(input, other):
    """Regularized upper incomplete gamma Q(input, other) = 1 - P(input, other)."""
    return IGamma(True)(*_floats_only(input, other, "igammac"))


register_methods(igamma=igamma, igammac=igammac, igamma_=_inplace(igamma),
                 igammac_=_inplace(igammac))
