"""KL divergence KL(p || q) with a registry of closed forms, dispatched on the most specific
registered pair of types (``register_kl``)."""
import math
import warnings
from functools import total_ordering

from .. import lgamma, digamma, where, linalg, broadcast_shapes, log1p, full, erf, xlogy
from ..tensor import Tensor
from ..nn.functional import softplus
from .continuous import Normal, Uniform, Exponential, Laplace, Cauchy, ContinuousBernoulli
from .derived import HalfNormal, Gumbel, Pareto
from .discrete import Bernoulli, Categorical, OneHotCategorical, Poisson, Geometric, Binomial
from .gamma import Gamma, Beta, Dirichlet
from .multivariate_normal import MultivariateNormal, LowRankMultivariateNormal
from .transformed import Independent, TransformedDistribution
from .utils import sum_rightmost, euler_constant

__all__ = ["register_kl", "kl_divergence"]

_KL_REGISTRY = {}   # (type_p, type_q) -> fn, in registration order
_KL_MEMOIZE = {}    # (type_p, type_q) -> fn, the dispatch result


def register_kl(type_p, type_q):
    """Decorator registering ``fn(p, q)`` as KL(p || q) for p of type_p and q of type_q."""
    if not isinstance(type_p, type):
        raise TypeError(f"Expected type_p to be a Distribution subclass but got {type_p}")
    if not isinstance(type_q, type):
        raise TypeError(f"Expected type_q to be a Distribution subclass but got {type_q}")

    def decorator(fun):
        _KL_REGISTRY[type_p, type_q] = fun
        _KL_MEMOIZE.clear()
        return fun

    return decorator


@total_ordering
class _Match:
    """Orders candidate pairs by how specific they are for a pair of types (MRO positions)."""
    __slots__ = ["types"]

    def __init__(self, *types):
        self.types = types

    def __eq__(self, other):
        return self.types == other.types

    def __le__(self, other):
        for x, y in zip(self.types, other.types):
            if not issubclass(x, y):
                return False
            if x is not y:
                break
        return True


def _dispatch_kl(type_p, type_q):
    matches = [(sp, sq) for sp, sq in _KL_REGISTRY
               if issubclass(type_p, sp) and issubclass(type_q, sq)]
    if not matches:
        return NotImplemented
    left_p, left_q = min(_Match(*m) for m in matches).types
    right_q, right_p = min(_Match(*reversed(m)) for m in matches).types
    left_fun = _KL_REGISTRY[left_p, left_q]
    right_fun = _KL_REGISTRY[right_p, right_q]
    if left_fun is not right_fun:
        warnings.warn(f"Ambiguous kl_divergence({type_p.__name__}, {type_q.__name__}). Please "
                      f"register_kl({left_p.__name__}, {right_q.__name__})", RuntimeWarning)
    return left_fun


def kl_divergence(p, q):
    """KL(p || q) = E_p[log p(x) - log q(x)], batched over the distributions' batch shape.

    Raises NotImplementedError when no closed form is registered for the pair of types.
    """
    key = (type(p), type(q))
    fun = _KL_MEMOIZE.get(key)
    if fun is None:
        fun = _dispatch_kl(*key)
        _KL_MEMOIZE[key] = fun
    if fun is NotImplemented:
        raise NotImplementedError(f"No KL(p || q) is implemented for p type "
                                  f"{p.__class__.__name__} and q type {q.__class__.__name__}")
    return fun(p, q)


@register_kl(Normal, Normal)
def _kl_normal_normal(p, q):
    var_ratio = (p.scale / q.scale).pow(2)
    t1 = ((p.loc - q.loc) / q.scale).pow(2)
    return 0.5 * (var_ratio + t1 - 1 - var_ratio.log())


@register_kl(Bernoulli, Bernoulli)
def _kl_bernoulli_bernoulli(p, q):
    """p log(p/q) + (1-p) log((1-p)/(1-q)), with log p = -softplus(-logits) for stability."""
    pp, qp = p.probs, q.probs
    pos = pp * (softplus(-q.logits) - softplus(-p.logits))
    pos = where(pp == 0, 0.0, where(qp == 0, math.inf, pos))
    neg = (1 - pp) * (softplus(q.logits) - softplus(p.logits))
    neg = where(pp == 1, 0.0, where(qp == 1, math.inf, neg))
    return pos + neg


@register_kl(Categorical, Categorical)
def _kl_categorical_categorical(p, q):
    t = p.probs * (p.logits - q.logits)
    t = where((q.probs == 0).expand_as(t), math.inf, t)
    t = where((p.probs == 0).expand_as(t), 0.0, t)
    return t.sum(-1)


@register_kl(OneHotCategorical, OneHotCategorical)
def _kl_onehotcategorical_onehotcategorical(p, q):
    return _kl_categorical_categorical(p._categorical, q._categorical)


@register_kl(Uniform, Uniform)
def _kl_uniform_uniform(p, q):
    result = ((q.high - q.low) / (p.high - p.low)).log()
    outside = (q.low > p.low) | (q.high < p.high)
    return where(outside, math.inf, result)


@register_kl(Exponential, Exponential)
def _kl_exponential_exponential(p, q):
    rate_ratio = q.rate / p.rate
    return rate_ratio - 1 - rate_ratio.log()


@register_kl(Gamma, Gamma)
def _kl_gamma_gamma(p, q):
    t1 = q.concentration * (p.rate / q.rate).log()
    t2 = lgamma(q.concentration) - lgamma(p.concentration)
    t3 = (p.concentration - q.concentration) * digamma(p.concentration)
    t4 = (q.rate - p.rate) * (p.concentration / p.rate)
    return t1 + t2 + t3 + t4


@register_kl(Beta, Beta)
def _kl_beta_beta(p, q):
    a1, b1 = p.concentration1, p.concentration0
    a2, b2 = q.concentration1, q.concentration0
    s1, s2 = a1 + b1, a2 + b2
    t1 = lgamma(a2) + lgamma(b2) + lgamma(s1)
    t2 = lgamma(a1) + lgamma(b1) + lgamma(s2)
    t3 = (a1 - a2) * digamma(a1)
    t4 = (b1 - b2) * digamma(b1)
    t5 = (s2 - s1) * digamma(s1)
    return t1 - t2 + t3 + t4 + t5


@register_kl(Dirichlet, Dirichlet)
def _kl_dirichlet_dirichlet(p, q):
    a, b = p.concentration, q.concentration
    a0 = a.sum(-1)
    b0 = b.sum(-1)
    t1 = lgamma(a0) - lgamma(b0)
    t2 = (lgamma(b) - lgamma(a)).sum(-1)
    t3 = ((a - b) * (digamma(a) - digamma(a0).unsqueeze(-1))).sum(-1)
    return t1 + t2 + t3


@register_kl(Laplace, Laplace)
def _kl_laplace_laplace(p, q):
    scale_ratio = p.scale / q.scale
    loc_abs_diff = (p.loc - q.loc).abs()
    t1 = -scale_ratio.log()
    t2 = loc_abs_diff / q.scale
    t3 = scale_ratio * (-loc_abs_diff / p.scale).exp()
    return t1 + t2 + t3 - 1


@register_kl(Poisson, Poisson)
def _kl_poisson_poisson(p, q):
    return p.rate * (p.rate.log() - q.rate.log()) - (p.rate - q.rate)


@register_kl(MultivariateNormal, MultivariateNormal)
def _kl_multivariatenormal_multivariatenormal(p, q):
    """(tr(Sq^-1 Sp) + m^T Sq^-1 m - n + log det Sq - log det Sp) / 2 via Cholesky factors."""
    if p.event_shape != q.event_shape:
        raise ValueError("KL-divergence between two Multivariate Normals with different event "
                         f"shapes cannot be computed: {p.event_shape} vs {q.event_shape}")
    return _kl_gaussians(p._unbroadcasted_scale_tril, p.loc, q._unbroadcasted_scale_tril, q.loc,
                         p.event_shape[0])


def _kl_gaussians(Lp, mp, Lq, mq, n):
    """KL(N(mp, Lp Lp^T) || N(mq, Lq Lq^T)) = log det Lq - log det Lp
    + (|Lq^-1 Lp|_F^2 + |Lq^-1 (mq - mp)|^2 - n) / 2."""
    half_term1 = (Lq.diagonal(0, -2, -1).log().sum(-1)
                  - Lp.diagonal(0, -2, -1).log().sum(-1))
    batch = tuple(broadcast_shapes(tuple(Lq.shape[:-2]), tuple(Lp.shape[:-2])))
    Lqb = Lq.expand(batch + (n, n))
    Lpb = Lp.expand(batch + (n, n))
    term2 = (linalg.solve_triangular(Lqb, Lpb, upper=False) ** 2).sum((-2, -1))
    diff = mq - mp
    shape = tuple(broadcast_shapes(batch, tuple(diff.shape[:-1])))
    y = linalg.solve_triangular(Lq.expand(shape + (n, n)), diff.expand(shape + (n,)).unsqueeze(-1),
                                upper=False).squeeze(-1)
    term3 = (y * y).sum(-1)
    return half_term1 + 0.5 * (term2 + term3 - n)


@register_kl(Independent, Independent)
def _kl_independent_independent(p, q):
    if p.reinterpreted_batch_ndims != q.reinterpreted_batch_ndims:
        raise NotImplementedError
    result = kl_divergence(p.base_dist, q.base_dist)
    return sum_rightmost(result, p.reinterpreted_batch_ndims)


@register_kl(Geometric, Geometric)
def _kl_geometric_geometric(p, q):
    """-H(p) - E_p[k log(1 - q) + log q] = -H(p) - log(1 - q) / p - logit(q)."""
    return -p.entropy() - log1p(-q.probs) / p.probs - q.logits


@register_kl(Binomial, Binomial)
def _kl_binomial_binomial(p, q):
    """n (p log(p/q) + (1-p) log((1-p)/(1-q))) for equal counts; inf if p.n > q.n."""
    if bool((p.total_count < q.total_count).any()):
        raise NotImplementedError("KL between Binomials where q.total_count > "
                                  "p.total_count is not implemented")
    kl = p.total_count * (p.probs * (p.logits - q.logits) + log1p(-p.probs) - log1p(-q.probs))
    return where(p.total_count > q.total_count, math.inf, kl)


@register_kl(HalfNormal, HalfNormal)
def _kl_halfnormal_halfnormal(p, q):
    return _kl_normal_normal(p.base_dist, q.base_dist)


@register_kl(Cauchy, Cauchy)
def _kl_cauchy_cauchy(p, q):
    """log(((s_p + s_q)^2 + (m_p - m_q)^2) / (4 s_p s_q))."""
    num = (p.scale + q.scale).pow(2) + (p.loc - q.loc).pow(2)
    return (num / (4 * p.scale * q.scale)).log()


@register_kl(Gumbel, Gumbel)
def _kl_gumbel_gumbel(p, q):
    r = p.scale / q.scale
    shift = (p.loc - q.loc) / q.scale
    return (-r.log() + shift + r * euler_constant
            + (lgamma(1 + r) - shift).exp() - (1 + euler_constant))


@register_kl(Pareto, Pareto)
def _kl_pareto_pareto(p, q):
    """a_q log(s_p / s_q) - log(a_q / a_p) + a_q / a_p - 1; inf where s_p < s_q."""
    alpha_ratio = q.alpha / p.alpha
    result = q.alpha * (p.scale / q.scale).log() - alpha_ratio.log() + alpha_ratio - 1
    return where(p.scale < q.scale, math.inf, result)


@register_kl(Exponential, Gamma)
def _kl_exponential_gamma(p, q):
    ratio = q.rate / p.rate
    a = q.concentration
    return (-a * ratio.log() + ratio + lgamma(a) + a * euler_constant
            - (1 + euler_constant))


@register_kl(Gamma, Exponential)
def _kl_gamma_exponential(p, q):
    return -p.entropy() - q.rate.log() + q.rate * p.concentration / p.rate


@register_kl(TransformedDistribution, TransformedDistribution)
def _kl_transformed_transformed(p, q):
    """Equal bijections leave the KL unchanged: the KL of the bases."""
    if p.transforms != q.transforms:
        raise NotImplementedError
    if p.event_shape != q.event_shape:
        raise NotImplementedError
    extra = len(p.event_shape) - len(p.base_dist.event_shape)
    return sum_rightmost(kl_divergence(p.base_dist, q.base_dist), extra)


# --- cross-family pairs: KL(p || q) = -H(p) - E_p[log q(x)] with p's moments -----------------
def _inf_kl(p, q):
    """The support of p reaches outside q's: KL is +inf."""
    shape = tuple(broadcast_shapes(tuple(p.batch_shape), tuple(q.batch_shape)))
    ref = _any_param(p)
    return full(shape, math.inf, dtype=ref.dtype, device=ref.device)


def _any_param(d):
    for name in ("loc", "rate", "probs", "low", "concentration", "concentration1", "scale"):
        v = getattr(d, name, None)
        if isinstance(v, Tensor):
            return v
    raise TypeError(f"kl_divergence: no parameter tensor found on {type(d).__name__}")


_INFINITE_PAIRS = [
    (Beta, Pareto), (ContinuousBernoulli, Pareto), (Exponential, Uniform), (Exponential, Pareto),
    (Exponential, ContinuousBernoulli), (Exponential, Beta), (Gamma, Uniform), (Gamma, Pareto),
    (Gamma, ContinuousBernoulli), (Gamma, Beta), (Gumbel, Uniform), (Gumbel, Pareto),
    (Gumbel, Gamma), (Gumbel, Exponential), (Gumbel, ContinuousBernoulli), (Gumbel, Beta),
    (Laplace, Uniform), (Laplace, Pareto), (Laplace, Gamma), (Laplace, Exponential),
    (Laplace, ContinuousBernoulli), (Laplace, Beta), (Normal, Uniform), (Normal, Pareto),
    (Normal, Gamma), (Normal, Exponential), (Normal, ContinuousBernoulli), (Normal, Beta),
    (Pareto, Uniform), (Pareto, ContinuousBernoulli), (Pareto, Beta), (Poisson, Binomial),
    (Poisson, Bernoulli),
]
for _p, _q in _INFINITE_PAIRS:
    register_kl(_p, _q)(_inf_kl)


def _second_moment_about(mean, var, c):
    """E[(x - c)^2] = Var x + (E x - c)^2."""
    return var + (mean - c).pow(2)


def _neg_e_log_normal(mean, var, q):
    """-E[log N(x; q.loc, q.scale)] for x with the given mean and variance."""
    return (q.scale.log() + 0.5 * math.log(2 * math.pi)
            + _second_moment_about(mean, var, q.loc) / (2 * q.scale.pow(2)))


def _neg_e_log_gamma(e_x, e_log_x, q):
    """-E[log Gamma(x; c, r)] = -(c log r + (c - 1) E log x - r E x - lgamma(c))."""
    c, r = q.concentration, q.rate
    return -(c * r.log() + (c - 1) * e_log_x - r * e_x - lgamma(c))


def _neg_e_log_cb(e_x, q):
    """-E[log CB(x; l)] = -(E x log l + (1 - E x) log(1 - l) + log C(l))."""
    return -(e_x * q.probs.log() + (1 - e_x) * log1p(-q.probs) + q._log_normalizer())


def _neg_e_log_gumbel(e_x, e_exp_neg, q):
    """-E[log Gumbel(x; m, b)] = log b + (E x - m)/b + E[exp(-(x - m)/b)], given
    ``e_exp_neg`` = E[exp(-x/b)]."""
    return q.scale.log() + (e_x - q.loc) / q.scale + (q.loc / q.scale).exp() * e_exp_neg


@register_kl(Bernoulli, Poisson)
def _kl_bernoulli_poisson(p, q):
    return -p.entropy() - (p.probs * q.rate.log() - q.rate)


@register_kl(Beta, ContinuousBernoulli)
def _kl_beta_continuous_bernoulli(p, q):
    return -p.entropy() + _neg_e_log_cb(p.mean, q)


@register_kl(Beta, Exponential)
def _kl_beta_exponential(p, q):
    return -p.entropy() - q.rate.log() + q.rate * p.mean


@register_kl(Beta, Gamma)
def _kl_beta_gamma(p, q):
    a, b = p.concentration1, p.concentration0
    e_log_x = digamma(a) - digamma(a + b)
    return -p.entropy() + _neg_e_log_gamma(p.mean, e_log_x, q)


@register_kl(Beta, Normal)
def _kl_beta_normal(p, q):
    return -p.entropy() + _neg_e_log_normal(p.mean, p.variance, q)


@register_kl(Beta, Uniform)
def _kl_beta_uniform(p, q):
    result = -p.entropy() + (q.high - q.low).log()
    return where((q.low > 0) | (q.high < 1), math.inf, result)


@register_kl(ContinuousBernoulli, ContinuousBernoulli)
def _kl_continuous_bernoulli_continuous_bernoulli(p, q):
    return -p.entropy() + _neg_e_log_cb(p.mean, q)


@register_kl(ContinuousBernoulli, Exponential)
def _kl_continuous_bernoulli_exponential(p, q):
    return -p.entropy() - q.rate.log() + q.rate * p.mean


@register_kl(ContinuousBernoulli, Normal)
def _kl_continuous_bernoulli_normal(p, q):
    return -p.entropy() + _neg_e_log_normal(p.mean, p.variance, q)


@register_kl(ContinuousBernoulli, Uniform)
def _kl_continuous_bernoulli_uniform(p, q):
    result = -p.entropy() + (q.high - q.low).log()
    # torch's rule: finite only when [0, 1] lies strictly inside (low, high)
    return where((q.low >= 0) | (q.high <= 1), math.inf, result)


@register_kl(Exponential, Gumbel)
def _kl_exponential_gumbel(p, q):
    # E[exp(-x/b)] for x ~ Exponential(l) is l / (l + 1/b)
    e_exp_neg = p.rate / (p.rate + q.scale.reciprocal())
    return -p.entropy() + _neg_e_log_gumbel(p.mean, e_exp_neg, q)


@register_kl(Exponential, Normal)
def _kl_exponential_normal(p, q):
    return -p.entropy() + _neg_e_log_normal(p.mean, p.variance, q)


@register_kl(Gamma, Gumbel)
def _kl_gamma_gumbel(p, q):
    # E[exp(-x/b)] for x ~ Gamma(a, r) is (r / (r + 1/b))^a
    r, a = p.rate, p.concentration
    e_exp_neg = (r / (r + q.scale.reciprocal())).pow(a)
    return -p.entropy() + _neg_e_log_gumbel(p.mean, e_exp_neg, q)


@register_kl(Gamma, Normal)
def _kl_gamma_normal(p, q):
    return -p.entropy() + _neg_e_log_normal(p.mean, p.variance, q)


@register_kl(Gumbel, Normal)
def _kl_gumbel_normal(p, q):
    return -p.entropy() + _neg_e_log_normal(p.mean, p.variance, q)


@register_kl(Laplace, Normal)
def _kl_laplace_normal(p, q):
    return -p.entropy() + _neg_e_log_normal(p.mean, p.variance, q)


@register_kl(Normal, Gumbel)
def _kl_normal_gumbel(p, q):
    # E[exp(-x/b)] for x ~ N(m, s^2) is exp(-m/b + s^2 / (2 b^2))
    b = q.scale
    e_exp_neg = (-p.loc / b + p.scale.pow(2) / (2 * b.pow(2))).exp()
    return -p.entropy() + _neg_e_log_gumbel(p.loc, e_exp_neg, q)


@register_kl(Normal, Laplace)
def _kl_normal_laplace(p, q):
    # E|x - c| for x ~ N(m, s^2), d = m - c: s sqrt(2/pi) exp(-d^2 / (2 s^2)) + d erf(d / (s sqrt 2))
    d, s = p.loc - q.loc, p.scale
    e_abs = (s * math.sqrt(2 / math.pi) * (-(d / s).pow(2) / 2).exp()
             + d * erf(d / (s * math.sqrt(2))))
    return -p.entropy() + (2 * q.scale).log() + e_abs / q.scale


def _finite_pareto(p, min_alpha):
    """p with alpha replaced by 2 * min_alpha where alpha <= min_alpha (those entries are
    inf anyway), so that the unused branch has no inf/NaN to spoil the gradients."""
    a = where(p.alpha > min_alpha, p.alpha, 2.0 * min_alpha)
    return Pareto(p.scale, a, validate_args=False)


@register_kl(Pareto, Exponential)
def _kl_pareto_exponential(p, q):
    f = _finite_pareto(p, 1.0)
    result = -f.entropy() - q.rate.log() + q.rate * f.mean
    return where(p.alpha > 1, result, math.inf)


@register_kl(Pareto, Gamma)
def _kl_pareto_gamma(p, q):
    f = _finite_pareto(p, 1.0)
    e_log_x = f.scale.log() + f.alpha.reciprocal()
    result = -f.entropy() + _neg_e_log_gamma(f.mean, e_log_x, q)
    return where(p.alpha > 1, result, math.inf)


@register_kl(Pareto, Normal)
def _kl_pareto_normal(p, q):
    f = _finite_pareto(p, 2.0)
    result = -f.entropy() + _neg_e_log_normal(f.mean, f.variance, q)
    return where(p.alpha > 2, result, math.inf)


def _uniform_e_log(lo, hi):
    """E[log x] for x ~ U[lo, hi], lo >= 0: (g(hi) - g(lo)) / (hi - lo) with g = x log x - x."""
    return (xlogy(hi, hi) - hi - xlogy(lo, lo) + lo) / (hi - lo)


@register_kl(Uniform, Beta)
def _kl_uniform_beta(p, q):
    """-log(h - l) - ((a - 1) E log x + (b - 1) E log(1 - x) - log B(a, b)) on [0, 1]."""
    a, b = q.concentration1, q.concentration0
    bad = (p.low < 0) | (p.high > 1)
    lo, hi = where(bad, 0.25, p.low), where(bad, 0.75, p.high)  # (inf there anyway)
    e_log_x = _uniform_e_log(lo, hi)
    e_log_1mx = _uniform_e_log(1 - hi, 1 - lo)
    log_beta = lgamma(a) + lgamma(b) - lgamma(a + b)
    result = -(hi - lo).log() - ((a - 1) * e_log_x + (b - 1) * e_log_1mx - log_beta)
    return where(bad, math.inf, result)


@register_kl(Uniform, ContinuousBernoulli)
def _kl_uniform_continuous_bernoulli(p, q):
    result = -p.entropy() + _neg_e_log_cb(p.mean, q)
    # torch's rule: finite only for [low, high] strictly inside (0, 1)
    return where((p.low <= 0) | (p.high >= 1), math.inf, result)


@register_kl(Uniform, Exponential)
def _kl_uniform_exponential(p, q):
    result = -p.entropy() - q.rate.log() + q.rate * p.mean
    return where(p.low < 0, math.inf, result)


@register_kl(Uniform, Gamma)
def _kl_uniform_gamma(p, q):
    bad = p.low < 0
    lo, hi = where(bad, 1.0, p.low), where(bad, 2.0, p.high)  # (inf there anyway)
    e_log_x = _uniform_e_log(lo, hi)
    result = -(hi - lo).log() + _neg_e_log_gamma((lo + hi) / 2, e_log_x, q)
    return where(bad, math.inf, result)


@register_kl(Uniform, Gumbel)
def _kl_uniform_gumbel(p, q):
    # E[exp(-x/b)] over [lo, hi] is b (exp(-lo/b) - exp(-hi/b)) / (hi - lo)
    b = q.scale
    e_exp_neg = b * ((-p.low / b).exp() - (-p.high / b).exp()) / (p.high - p.low)
    return -p.entropy() + _neg_e_log_gumbel(p.mean, e_exp_neg, q)


@register_kl(Uniform, Normal)
def _kl_uniform_normal(p, q):
    return -p.entropy() + _neg_e_log_normal(p.mean, p.variance, q)


@register_kl(Uniform, Pareto)
def _kl_uniform_pareto(p, q):
    """-H(p) - E[log a + a log s - (a + 1) log x], finite when low >= scale."""
    a, s = q.alpha, q.scale
    lo = where(p.low < s, s, p.low)
    hi = where(p.high < lo, lo + 1, p.high)
    e_log_x = _uniform_e_log(lo, hi)
    result = -p.entropy() - (a.log() + a * s.log() - (a + 1) * e_log_x)
    return where(p.low < s, math.inf, result)


def _scale_tril_and_loc(d):
    if isinstance(d, MultivariateNormal):
        return d._unbroadcasted_scale_tril, d.loc
    return d.scale_tril, d.loc


@register_kl(LowRankMultivariateNormal, LowRankMultivariateNormal)
@register_kl(MultivariateNormal, LowRankMultivariateNormal)
@register_kl(LowRankMultivariateNormal, MultivariateNormal)
def _kl_lowrank_mixed(p, q):
    """Through the Cholesky factors of the full covariances (n x n)."""
    if p.event_shape != q.event_shape:
        raise ValueError("KL-divergence between two (Low Rank) Multivariate Normals with "
                         f"different event shapes cannot be computed: {p.event_shape} vs "
                         f"{q.event_shape}")
    Lp, mp = _scale_tril_and_loc(p)
    Lq, mq = _scale_tril_and_loc(q)
    return _kl_gaussians(Lp, mp, Lq, mq, p.event_shape[0])
