"""Closed-form continuous distributions: Normal, Uniform, Exponential, Laplace, Cauchy,
ContinuousBernoulli, GeneralizedPareto, VonMises."""
import math
import numbers

import numpy as np

from .. import (erf, erfinv, log, log1p, expm1, exp, atan, tan, full_like, zeros_like, no_grad,
                where)
from ..autograd.function import Function
from ..backend import get_array_module
from ..nn.functional import softplus
from ..tensor import Tensor
from . import constraints
from .distribution import Distribution, ExponentialFamily
from .utils import (broadcast_all, standard_normal, standard_uniform, _finfo, lazy_property,
                    logits_to_probs, probs_to_logits, special_array)

__all__ = ["Normal", "Uniform", "Exponential", "Laplace", "Cauchy", "ContinuousBernoulli",
           "GeneralizedPareto", "VonMises"]

_LOG_SQRT_2PI = 0.5 * math.log(2 * math.pi)


def _batch_shape(args, tensors):
    """torch's rule: all-number parameters give an empty batch shape, else the broadcast one."""
    if all(isinstance(a, numbers.Number) for a in args):
        return ()
    return tuple(tensors[0].shape)


def _expand_params(self, cls, names, batch_shape, _instance):
    """A copy of ``self`` with the parameters ``names`` expanded to ``batch_shape``."""
    new = self._get_checked_instance(cls, _instance)
    batch_shape = tuple(batch_shape)
    for n in names:
        setattr(new, n, getattr(self, n).expand(batch_shape))
    Distribution.__init__(new, batch_shape, validate_args=False)
    new._validate_args = self._validate_args
    return new


class Normal(ExponentialFamily):
    """The Gaussian N(loc, scale^2): p(x) = exp(-(x - loc)^2 / (2 scale^2)) / (scale sqrt(2 pi))."""
    arg_constraints = {"loc": constraints.real, "scale": constraints.positive}
    support = constraints.real
    has_rsample = True
    _mean_carrier_measure = 0

    def __init__(self, loc, scale, validate_args=None):
        self.loc, self.scale = broadcast_all(loc, scale)
        super().__init__(_batch_shape((loc, scale), (self.loc,)), validate_args=validate_args)

    def expand(self, batch_shape, _instance=None):
        return _expand_params(self, Normal, ("loc", "scale"), batch_shape, _instance)

    @property
    def mean(self):
        return self.loc

    @property
    def mode(self):
        return self.loc

    @property
    def stddev(self):
        return self.scale

    @property
    def variance(self):
        return self.stddev.pow(2)

    def sample(self, sample_shape=()):
        with no_grad():
            return self.rsample(sample_shape)

    def rsample(self, sample_shape=()):
        """loc + scale * eps with eps ~ N(0, 1): the gradient flows to loc and scale."""
        eps = standard_normal(self._extended_shape(sample_shape), self.loc)
        return self.loc + eps * self.scale

    def log_prob(self, value):
        if self._validate_args:
            self._validate_sample(value)
        var = self.scale ** 2
        return -((value - self.loc) ** 2) / (2 * var) - self.scale.log() - _LOG_SQRT_2PI

    def cdf(self, value):
        if self._validate_args:
            self._validate_sample(value)
        return 0.5 * (1 + erf((value - self.loc) * self.scale.reciprocal() / math.sqrt(2)))

    def icdf(self, value):
        return self.loc + self.scale * erfinv(2 * value - 1) * math.sqrt(2)

    def entropy(self):
        return 0.5 + _LOG_SQRT_2PI + log(self.scale)


class Uniform(Distribution):
    """Uniform on the half-open interval [low, high)."""
    arg_constraints = {"low": constraints.dependent(is_discrete=False, event_dim=0),
                       "high": constraints.dependent(is_discrete=False, event_dim=0)}
    has_rsample = True

    def __init__(self, low, high, validate_args=None):
        self.low, self.high = broadcast_all(low, high)
        super().__init__(_batch_shape((low, high), (self.low,)), validate_args=validate_args)
        if self._validate_args and not bool((self.low < self.high).all()):
            raise ValueError(f"Uniform is not defined when low>= high (low of shape "
                             f"{tuple(self.low.shape)}, high of shape {tuple(self.high.shape)})")

    def expand(self, batch_shape, _instance=None):
        return _expand_params(self, Uniform, ("low", "high"), batch_shape, _instance)

    @constraints.dependent_property(is_discrete=False, event_dim=0)
    def support(self):
        return constraints.interval(self.low, self.high)

    @property
    def mean(self):
        return (self.high + self.low) / 2

    @property
    def mode(self):
        return self.high * math.nan

    @property
    def stddev(self):
        return (self.high - self.low) / 12 ** 0.5

    @property
    def variance(self):
        return (self.high - self.low).pow(2) / 12

    def rsample(self, sample_shape=()):
        u = standard_uniform(self._extended_shape(sample_shape), self.low)
        return self.low + u * (self.high - self.low)

    def log_prob(self, value):
        if self._validate_args:
            self._validate_sample(value)
        inside = ((self.low <= value) & (self.high > value)).to(self.low.dtype)
        return log(inside) - log(self.high - self.low)

    def cdf(self, value):
        if self._validate_args:
            self._validate_sample(value)
        return ((value - self.low) / (self.high - self.low)).clamp(min=0, max=1)

    def icdf(self, value):
        return value * (self.high - self.low) + self.low

    def entropy(self):
        return log(self.high - self.low)


class Exponential(ExponentialFamily):
    """p(x) = rate exp(-rate x) on x >= 0."""
    arg_constraints = {"rate": constraints.positive}
    support = constraints.nonnegative
    has_rsample = True
    _mean_carrier_measure = 0

    def __init__(self, rate, validate_args=None):
        (self.rate,) = broadcast_all(rate)
        batch_shape = () if isinstance(rate, numbers.Number) else tuple(self.rate.shape)
        super().__init__(batch_shape, validate_args=validate_args)

    def expand(self, batch_shape, _instance=None):
        return _expand_params(self, Exponential, ("rate",), batch_shape, _instance)

    @property
    def mean(self):
        return self.rate.reciprocal()

    @property
    def mode(self):
        return zeros_like(self.rate)

    @property
    def stddev(self):
        return self.rate.reciprocal()

    @property
    def variance(self):
        return self.rate.pow(-2)

    def rsample(self, sample_shape=()):
        """-log(1 - u) / rate (inverse cdf of a uniform draw)."""
        u = standard_uniform(self._extended_shape(sample_shape), self.rate)
        return -log1p(-u) / self.rate

    def log_prob(self, value):
        if self._validate_args:
            self._validate_sample(value)
        return self.rate.log() - self.rate * value

    def cdf(self, value):
        if self._validate_args:
            self._validate_sample(value)
        return 1 - exp(-self.rate * value)

    def icdf(self, value):
        return -log1p(-value) / self.rate

    def entropy(self):
        return 1.0 - log(self.rate)


class Laplace(Distribution):
    """p(x) = exp(-|x - loc| / scale) / (2 scale)."""
    arg_constraints = {"loc": constraints.real, "scale": constraints.positive}
    support = constraints.real
    has_rsample = True

    def __init__(self, loc, scale, validate_args=None):
        self.loc, self.scale = broadcast_all(loc, scale)
        super().__init__(_batch_shape((loc, scale), (self.loc,)), validate_args=validate_args)

    def expand(self, batch_shape, _instance=None):
        return _expand_params(self, Laplace, ("loc", "scale"), batch_shape, _instance)

    @property
    def mean(self):
        return self.loc

    @property
    def mode(self):
        return self.loc

    @property
    def variance(self):
        return 2 * self.scale.pow(2)

    @property
    def stddev(self):
        return (2 ** 0.5) * self.scale

    def rsample(self, sample_shape=()):
        """Inverse cdf of u uniform on (-1, 1): loc - scale sign(u) log(1 - |u|)."""
        eps = float(_finfo(self.loc).eps)
        u = standard_uniform(self._extended_shape(sample_shape), self.loc) * (2 - eps) + (eps - 1)
        return self.loc - self.scale * u.sign() * log1p(-u.abs())

    def log_prob(self, value):
        if self._validate_args:
            self._validate_sample(value)
        return -log(2 * self.scale) - (value - self.loc).abs() / self.scale

    def cdf(self, value):
        if self._validate_args:
            self._validate_sample(value)
        z = value - self.loc
        return 0.5 - 0.5 * z.sign() * expm1(-z.abs() / self.scale)

    def icdf(self, value):
        term = value - 0.5
        return self.loc - self.scale * term.sign() * log1p(-2 * term.abs())

    def entropy(self):
        return 1 + log(2 * self.scale)


class Cauchy(Distribution):
    """p(x) = 1 / (pi scale (1 + ((x - loc) / scale)^2)); no mean, infinite variance."""
    arg_constraints = {"loc": constraints.real, "scale": constraints.positive}
    support = constraints.real
    has_rsample = True

    def __init__(self, loc, scale, validate_args=None):
        self.loc, self.scale = broadcast_all(loc, scale)
        super().__init__(_batch_shape((loc, scale), (self.loc,)), validate_args=validate_args)

    def expand(self, batch_shape, _instance=None):
        return _expand_params(self, Cauchy, ("loc", "scale"), batch_shape, _instance)

    @property
    def mean(self):
        return full_like(self.loc, math.nan)

    @property
    def mode(self):
        return self.loc

    @property
    def variance(self):
        return full_like(self.loc, math.inf)

    def rsample(self, sample_shape=()):
        u = standard_uniform(self._extended_shape(sample_shape), self.loc)
        return self.loc + self.scale * tan(math.pi * (u - 0.5))

    def log_prob(self, value):
        if self._validate_args:
            self._validate_sample(value)
        return (-math.log(math.pi) - self.scale.log()
                - log1p(((value - self.loc) / self.scale) ** 2))

    def cdf(self, value):
        if self._validate_args:
            self._validate_sample(value)
        return atan((value - self.loc) / self.scale) / math.pi + 0.5

    def icdf(self, value):
        return tan(math.pi * (value - 0.5)) * self.scale + self.loc

    def entropy(self):
        return math.log(4 * math.pi) + self.scale.log()


class ContinuousBernoulli(ExponentialFamily):
    """p(x) = C(l) l^x (1 - l)^(1 - x) on [0, 1], l = ``probs``, with the normaliser
    C(l) = logit(l) / (2l - 1) (C = 2 at l = 1/2). Inside ``lims`` around 1/2 the closed forms
    lose precision and Taylor expansions in d = l - 1/2 are used instead."""
    arg_constraints = {"probs": constraints.unit_interval, "logits": constraints.real}
    support = constraints.unit_interval
    _mean_carrier_measure = 0
    has_rsample = True

    def __init__(self, probs=None, logits=None, lims=(0.499, 0.501), validate_args=None):
        if (probs is None) == (logits is None):
            raise ValueError("Either `probs` or `logits` must be specified, but not both.")
        if probs is not None:
            is_scalar = isinstance(probs, numbers.Number)
            (probs,) = broadcast_all(probs)
            # check before clamping: a clamped value would always pass
            if validate_args is not None and not bool(
                    self.arg_constraints["probs"].check(probs).all()):
                raise ValueError("The parameter probs has invalid values")
            self.probs = _clamp01(probs)
            self._param = self.probs
        else:
            is_scalar = isinstance(logits, numbers.Number)
            (self.logits,) = broadcast_all(logits)
            self._param = self.logits
        self._lims = lims
        batch_shape = () if is_scalar else tuple(self._param.shape)
        super().__init__(batch_shape, validate_args=validate_args)

    def expand(self, batch_shape, _instance=None):
        new = self._get_checked_instance(ContinuousBernoulli, _instance)
        new._lims = self._lims
        batch_shape = tuple(batch_shape)
        for n in ("probs", "logits"):
            if n in self.__dict__:
                setattr(new, n, self.__dict__[n].expand(batch_shape))
                new._param = getattr(new, n)
        Distribution.__init__(new, batch_shape, validate_args=False)
        new._validate_args = self._validate_args
        return new

    @lazy_property
    def logits(self):
        return probs_to_logits(self.probs, is_binary=True)

    @lazy_property
    def probs(self):
        return _clamp01(logits_to_probs(self.logits, is_binary=True))

    @property
    def param_shape(self):
        return tuple(self._param.shape)

    def _stable(self):
        """Where the closed forms are used (probs outside the window around 1/2)."""
        return (self.probs <= self._lims[0]) | (self.probs > self._lims[1])

    def _safe_probs(self):
        """probs, moved off 1/2 inside the window (those entries take the Taylor branch)."""
        return where(self._stable(), self.probs, self._lims[0])

    def _log_normalizer(self):
        """log C = log|logit l| - log|2l - 1|; near 1/2: log 2 + 4/3 d^2 + 104/45 d^4."""
        p = self._safe_probs()
        closed = log((log1p(-p) - log(p)).abs()) - log((2 * p - 1).abs())
        d2 = (self.probs - 0.5) ** 2
        taylor = math.log(2.0) + (4.0 / 3.0 + 104.0 / 45.0 * d2) * d2
        return where(self._stable(), closed, taylor)

    @property
    def mean(self):
        """l / (2l - 1) - 1 / logit(l); near 1/2: 1/2 + d/3 + 16/45 d^3."""
        p = self._safe_probs()
        closed = p / (2 * p - 1) + 1 / (log1p(-p) - log(p))
        d = self.probs - 0.5
        taylor = 0.5 + (1.0 / 3.0 + 16.0 / 45.0 * d * d) * d
        return where(self._stable(), closed, taylor)

    @property
    def variance(self):
        """1 / logit(l)^2 - l (1 - l) / (2l - 1)^2 (the second derivative of the log
        normaliser in the natural parameter); near 1/2: 1/12 - d^2/15 + O(d^4)."""
        p = self._safe_probs()
        closed = p * (p - 1) / (1 - 2 * p) ** 2 + 1 / (log1p(-p) - log(p)) ** 2
        d2 = (self.probs - 0.5) ** 2
        taylor = 1.0 / 12.0 - (1.0 / 15.0 - 128.0 / 945.0 * d2) * d2
        return where(self._stable(), closed, taylor)

    @property
    def stddev(self):
        return self.variance.sqrt()

    def sample(self, sample_shape=()):
        with no_grad():
            return self.rsample(sample_shape)

    def rsample(self, sample_shape=()):
        u = standard_uniform(self._extended_shape(sample_shape), self.probs)
        return self.icdf(u)

    def log_prob(self, value):
        if self._validate_args:
            self._validate_sample(value)
        logits, value = broadcast_all(self.logits, value)
        # x log l + (1 - x) log(1 - l) = x logits - softplus(logits)
        bern = value * logits - softplus(logits)
        return bern + self._log_normalizer()

    def cdf(self, value):
        """(l^x (1 - l)^(1 - x) + l - 1) / (2l - 1), clamped to [0, 1] outside the support."""
        if self._validate_args:
            self._validate_sample(value)
        p = self._safe_probs()
        closed = (p ** value * (1 - p) ** (1 - value) + p - 1) / (2 * p - 1)
        inner = where(self._stable(), closed, value)
        return where(value <= 0, 0.0, where(value >= 1, 1.0, inner))

    def icdf(self, value):
        """x = log((1 - l) + u (2l - 1)) - log(1 - l), divided by logit(l)."""
        p = self._safe_probs()
        closed = (log1p(-p + value * (2 * p - 1)) - log1p(-p)) / (log(p) - log1p(-p))
        return where(self._stable(), closed, value)

    def entropy(self):
        log_q = log1p(-self.probs)
        return self.mean * (log_q - log(self.probs)) - self._log_normalizer() - log_q


def _clamp01(p):
    eps = float(_finfo(p).eps)
    return p.clamp(min=eps, max=1 - eps)


class GeneralizedPareto(Distribution):
    """The generalized Pareto distribution: with z = (x - loc) / scale and xi = concentration,
    F(x) = 1 - (1 + xi z)^(-1/xi) (1 - exp(-z) at xi = 0); support [loc, inf) for xi >= 0,
    [loc, loc - scale / xi] for xi < 0."""
    arg_constraints = {"loc": constraints.real, "scale": constraints.positive,
                       "concentration": constraints.real}
    has_rsample = True

    def __init__(self, loc, scale, concentration, validate_args=None):
        self.loc, self.scale, self.concentration = broadcast_all(loc, scale, concentration)
        batch_shape = () if all(isinstance(v, numbers.Number) for v in (loc, scale,
                                                                          concentration)) \
            else tuple(self.loc.shape)
        super().__init__(batch_shape, validate_args=validate_args)

    def expand(self, batch_shape, _instance=None):
        return _expand_params(self, GeneralizedPareto, ("loc", "scale", "concentration"),
                              batch_shape, _instance)

    def _xi(self):
        """concentration, with 0 replaced by 1 (the xi = 0 entries take their own branch)."""
        c = self.concentration
        return where(c == 0, 1.0, c), c == 0

    @constraints.dependent_property(is_discrete=False, event_dim=0)
    def support(self):
        xi, zero = self._xi()
        upper = where((self.concentration < 0) & ~zero, self.loc - self.scale / xi, math.inf)
        return constraints.interval(self.loc, upper)

    def rsample(self, sample_shape=()):
        u = standard_uniform(self._extended_shape(sample_shape), self.loc)
        return self.icdf(u)

    def log_prob(self, value):
        if self._validate_args:
            self._validate_sample(value)
        z = (value - self.loc) / self.scale
        xi, zero = self._xi()
        general = -(1 / xi + 1) * log1p(xi * z)
        return where(zero, -z, general) - self.scale.log()

    def cdf(self, value):
        z = ((value - self.loc) / self.scale).clamp(min=0)
        xi, zero = self._xi()
        general = -log1p(xi * z) / xi
        return -expm1(where(zero, -z, general))

    def icdf(self, value):
        xi, zero = self._xi()
        log1m = log1p(-value)
        general = expm1(-xi * log1m) / xi
        return self.loc + self.scale * where(zero, -log1m, general)

    def log_cdf(self, value):
        return log(self.cdf(value))

    def log_survival_function(self, value):
        z = ((value - self.loc) / self.scale).clamp(min=0)
        xi, zero = self._xi()
        return where(zero, -z, -log1p(xi * z) / xi)

    @property
    def mean(self):
        c = self.concentration
        return where(c < 1, self.loc + self.scale / (1 - c), math.inf)

    @property
    def mode(self):
        return self.loc

    @property
    def variance(self):
        c = self.concentration
        v = self.scale ** 2 / ((1 - c) ** 2 * (1 - 2 * c))
        return where(c < 0.5, v, math.inf)

    def entropy(self):
        return self.scale.log() + self.concentration + 1


class _LogI0(Function):
    """log I0(k) (the modified Bessel function), overflow-free through i0e; d/dk = I1/I0."""

    def forward(self, k):
        xp = get_array_module(k)
        return (xp.log(special_array("i0e", k)) + xp.abs(k)).astype(k.dtype, copy=False)

    def backward(self, gy):
        return gy * _BesselRatio()(self.inputs[0])


class _BesselRatio(Function):
    """A(k) = I1(k) / I0(k) (= i1e / i0e); A'(k) = 1 - A/k - A^2 (from I0' = I1 and
    I1' = I0 - I1/k), written with narae ops so that it is differentiable again."""
    uses_outputs = True

    def forward(self, k):
        return (special_array("i1e", k) / special_array("i0e", k)).astype(k.dtype, copy=False)

    def backward(self, gy):
        a, k = self.output(), self.inputs[0]
        return gy * (1 - a / k - a * a)


class VonMises(Distribution):
    """The circular normal: p(x) = exp(k cos(x - loc)) / (2 pi I0(k)) on an interval of
    length 2 pi; samples lie in [-pi, pi)."""
    arg_constraints = {"loc": constraints.real, "concentration": constraints.positive}
    support = constraints.real
    has_rsample = False

    def __init__(self, loc, concentration, validate_args=None):
        self.loc, self.concentration = broadcast_all(loc, concentration)
        super().__init__(tuple(self.loc.shape), validate_args=validate_args)

    def expand(self, batch_shape, _instance=None):
        return _expand_params(self, VonMises, ("loc", "concentration"), batch_shape, _instance)

    def log_prob(self, value):
        if self._validate_args:
            self._validate_sample(value)
        k = self.concentration
        return k * (value - self.loc).cos() - math.log(2 * math.pi) - _LogI0()(k)

    @property
    def mean(self):
        return self.loc

    @property
    def mode(self):
        return self.loc

    @property
    def variance(self):
        """The circular variance 1 - I1(k) / I0(k)."""
        return 1 - _BesselRatio()(self.concentration)

    def sample(self, sample_shape=()):
        """Best & Fisher's rejection sampler (wrapped-Cauchy envelope), in float64; every
        round redraws only the entries not yet accepted."""
        shape = self._extended_shape(sample_shape)
        k_t = self.concentration.detach()
        xp = get_array_module(k_t._data)
        k = xp.broadcast_to(k_t._data.astype(np.float64), shape)
        with np.errstate(all="ignore"):
            tau = 1 + xp.sqrt(1 + 4 * k * k)
            rho = xp.where(k < 1e-4, k / 2, (tau - xp.sqrt(2 * tau)) / (2 * k))
            r = (1 + rho * rho) / (2 * rho)
        like = Tensor(xp.zeros((), dtype=np.float64))
        theta = xp.zeros(shape, dtype=np.float64)
        todo = xp.ones(shape, dtype=bool)
        for _ in range(1000):
            if not bool(todo.any()):
                break
            u1, u2, u3 = (standard_uniform(shape, like)._data for _ in range(3))
            with np.errstate(all="ignore"):
                z = xp.cos(math.pi * u1)
                f = (1 + r * z) / (r + z)
                c = k * (r - f)
                accept = ((c * (2 - c) - u2) > 0) | (xp.log(c / u2) + 1 - c >= 0)
                draw = xp.sign(u3 - 0.5) * xp.arccos(xp.clip(f, -1.0, 1.0))
            new = todo & accept
            theta = xp.where(new, draw, theta)
            todo = todo & ~accept
        loc = xp.broadcast_to(self.loc.detach()._data.astype(np.float64), shape)
        out = xp.mod(theta + loc + math.pi, 2 * math.pi) - math.pi
        return Tensor(out.astype(self.loc._data.dtype))
