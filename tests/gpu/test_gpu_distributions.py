"""narae.distributions on the device: densities, entropies and KLs equal the CPU's (values and
parameter gradients); sampling stays on the device with the right shapes and moments."""
import numpy as np
import pytest

import narae as nr
from test_gpu_ops import Case, randn, pos, unit, with_layouts, layout_ids, check_case, _numpy, _on

pytestmark = pytest.mark.gpu
D = nr.distributions


def _simplex(*shape):
    p = unit(*shape)
    return p / p.sum(-1, keepdims=True)


def _tril(n=3):
    a = randn(n, n)
    return np.linalg.cholesky(a @ a.T + n * np.eye(n))


CASES = [
    Case("normal_log_prob", lambda m, s, x: D.Normal(m, s).log_prob(x), randn(3, 4), pos(3, 4),
         randn(3, 4)),
    Case("normal_cdf_icdf", lambda m, s, u: D.Normal(m, s).cdf(D.Normal(m, s).icdf(u)),
         randn(3, 4), pos(3, 4), unit(3, 4)),
    Case("laplace_cauchy", lambda m, s, x: D.Laplace(m, s).log_prob(x) + D.Cauchy(m, s).cdf(x),
         randn(3, 4), pos(3, 4), randn(3, 4)),
    Case("uniform_exponential", lambda lo, r, x: D.Uniform(lo - 3.0, lo + 3.0).entropy()
         + D.Exponential(r).log_prob(x), randn(3, 4), pos(3, 4), pos(3, 4)),
    Case("gamma_log_prob", lambda a, r, x: D.Gamma(a, r).log_prob(x), pos(3, 4), pos(3, 4),
         pos(3, 4)),
    Case("gamma_cdf", lambda x: D.Gamma(nr.full((3, 4), 2.5, device=x.device), 1.5).cdf(x),
         pos(3, 4)),
    Case("beta_entropy", lambda a, b: D.Beta(a, b).entropy(), pos(3, 4), pos(3, 4)),
    Case("dirichlet_log_prob", lambda a, x: D.Dirichlet(a).log_prob(x / x.sum(-1, keepdim=True)),
         pos(3, 4), unit(3, 4)),
    Case("studentt_log_prob", lambda df, x: D.StudentT(df, 0.5, 2.0).log_prob(x), pos(3, 4),
         randn(3, 4)),
    Case("lognormal_log_prob", lambda m, s, x: D.LogNormal(m, s).log_prob(x), randn(3, 4),
         pos(3, 4), pos(3, 4)),
    Case("bernoulli_log_prob", lambda lg: D.Bernoulli(logits=lg).log_prob(
        (lg > 0).to(lg.dtype)) + D.Bernoulli(logits=lg).entropy(), randn(3, 4)),
    Case("categorical_log_prob", lambda lg: D.Categorical(logits=lg).log_prob(
        nr.tensor([0, 2, 3], device=lg.device)) + D.Categorical(logits=lg).entropy(),
         randn(3, 4)),
    Case("binomial_poisson", lambda p, r: D.Binomial(5, probs=p).log_prob(
        nr.full((3, 4), 2.0, device=p.device)) + D.Poisson(r).log_prob(
        nr.full((3, 4), 3.0, device=r.device)), unit(3, 4), pos(3, 4)),
    Case("multinomial_log_prob", lambda p: D.Multinomial(4, probs=p).log_prob(
        nr.tensor([[1.0, 1, 2, 0]] * 3, device=p.device)), _simplex(3, 4)),
    Case("mvn_log_prob", lambda m, L, x: D.MultivariateNormal(
        m, scale_tril=L, validate_args=False).log_prob(x), randn(3), _tril(), randn(2, 3),
         atol=1e-4),
    Case("kl_normal_gamma", lambda a, b: D.kl_divergence(D.Normal(a, b), D.Normal(b, a * a + b))
         + D.kl_divergence(D.Gamma(b, b), D.Gamma(b + 1.0, b)), randn(3, 4), pos(3, 4)),
    Case("kl_categorical", lambda p, q: D.kl_divergence(D.Categorical(p), D.Categorical(q)),
         _simplex(3, 4), _simplex(3, 4)),
    Case("relaxed_onehot_log_prob", lambda lg, x: D.RelaxedOneHotCategorical(
        nr.tensor(0.5, device=lg.device), logits=lg).log_prob(x / x.sum(-1, keepdim=True)),
         randn(3, 4), unit(3, 4)),
    Case("tanh_transformed", lambda m, s, x: D.TransformedDistribution(
        D.Normal(m, s), [D.AffineTransform(0.0, 2.0), D.TanhTransform()]).log_prob(x * 0.9),
         randn(3, 4) * 0.3, pos(3, 4), unit(3, 4)),
    Case("gumbel_weibull", lambda m, s, x: D.Gumbel(m, s).log_prob(x) + D.Weibull(s, s + 1.0)
         .log_prob(x.abs() + 0.1), randn(3, 4), pos(3, 4), randn(3, 4)),
    Case("kumaraswamy_pareto", lambda a, b, x: D.Kumaraswamy(a, b).log_prob(x * 0.9)
         + D.Pareto(a * 0.1, b).log_prob(x + a * 0.1), pos(3, 4), pos(3, 4), unit(3, 4)),
    Case("negative_binomial", lambda r, p: D.NegativeBinomial(r, probs=p * 0.9).log_prob(
        nr.full((3, 4), 2.0, device=r.device)), pos(3, 4), unit(3, 4)),
    Case("mixture_same_family", lambda p, m, s, x: D.MixtureSameFamily(
        D.Categorical(p), D.Normal(m, s)).log_prob(x), _simplex(2, 3), randn(2, 3), pos(2, 3),
         randn(5, 2)),
    Case("von_mises", lambda m, k, x: D.VonMises(m, k).log_prob(x) + D.VonMises(m, k).variance,
         randn(3, 4), pos(3, 4), randn(3, 4)),
    Case("continuous_bernoulli", lambda p, x: D.ContinuousBernoulli(p * 0.9).log_prob(x)
         + D.ContinuousBernoulli(p * 0.9).mean, unit(3, 4), unit(3, 4)),
    Case("lowrank_mvn", lambda m, W, d, x: D.LowRankMultivariateNormal(m, W, d).log_prob(x),
         randn(3), randn(3, 2), pos(3), randn(2, 3), atol=1e-4),
    Case("generalized_pareto", lambda m, s, x: D.GeneralizedPareto(m, s, s * 0.2).log_prob(
        m + x) + D.GeneralizedPareto(m, s, s * 0.2).cdf(m + x), randn(3, 4), pos(3, 4),
         pos(3, 4)),
    Case("wishart_log_prob", lambda L, X: D.Wishart(nr.full((), 4.5, device=L.device),
                                                    scale_tril=L).log_prob(X @ X.mT + X.mT @ X)
         + D.Wishart(nr.full((), 4.5, device=L.device), scale_tril=L).entropy(),
         _tril(), randn(3, 3) + 2 * np.eye(3), atol=1e-4),
    Case("lkj_log_prob", lambda c, x: D.LKJCholesky(3, c).log_prob(
        D.CorrCholeskyTransform()(x)), pos(2), randn(2, 3), atol=1e-4),
    Case("corr_cholesky_transform", lambda x: D.CorrCholeskyTransform()(x).sum(-1)
         + D.CorrCholeskyTransform().log_abs_det_jacobian(
             x, D.CorrCholeskyTransform()(x)).unsqueeze(-1), randn(2, 6)),
    Case("cat_transform", lambda x: D.CatTransform([D.ExpTransform(), D.TanhTransform()], dim=1,
                                                   lengths=[2, 2])(x), randn(3, 4)),
    Case("stick_breaking", lambda x: D.StickBreakingTransform()(x) * 2.0
         + D.StickBreakingTransform().log_abs_det_jacobian(
             x, D.StickBreakingTransform()(x)).unsqueeze(-1), randn(3, 4)),
]
PAIRS = with_layouts(CASES)


@pytest.mark.parametrize("case,fortran", PAIRS, ids=layout_ids(PAIRS))
def test_op_matches_cpu(case, fortran, device):
    check_case(case, fortran, device)


@pytest.mark.parametrize("make", [
    lambda d: D.Normal(nr.zeros(3, device=d), nr.ones(3, device=d)),
    lambda d: D.Gamma(nr.full((3,), 2.0, device=d), nr.ones(3, device=d)),
    lambda d: D.Beta(nr.full((3,), 2.0, device=d), nr.full((3,), 3.0, device=d)),
    lambda d: D.Dirichlet(nr.full((2, 3), 2.0, device=d)),
    lambda d: D.StudentT(nr.full((3,), 6.0, device=d)),
    lambda d: D.Categorical(nr.full((2, 3), 1 / 3, device=d)),
    lambda d: D.OneHotCategorical(nr.full((2, 3), 1 / 3, device=d)),
    lambda d: D.Multinomial(4, nr.full((2, 3), 1 / 3, device=d)),
    lambda d: D.Bernoulli(nr.full((3,), 0.3, device=d)),
    lambda d: D.Poisson(nr.full((3,), 2.0, device=d)),
    lambda d: D.Binomial(5, nr.full((3,), 0.3, device=d)),
    lambda d: D.Geometric(nr.full((3,), 0.3, device=d)),
    lambda d: D.MultivariateNormal(nr.zeros(3, device=d), nr.eye(3, device=d)),
    lambda d: D.RelaxedOneHotCategorical(nr.tensor(0.5, device=d), nr.full((3,), 1 / 3, device=d)),
    lambda d: D.LogNormal(nr.zeros(3, device=d), nr.ones(3, device=d)),
    lambda d: D.NegativeBinomial(nr.full((3,), 4.0, device=d), nr.full((3,), 0.3, device=d)),
    lambda d: D.MixtureSameFamily(D.Categorical(nr.full((2, 3), 1 / 3, device=d)),
                                  D.Normal(nr.zeros(2, 3, device=d), nr.ones(2, 3, device=d))),
    lambda d: D.Kumaraswamy(nr.full((3,), 2.0, device=d), nr.full((3,), 3.0, device=d)),
    lambda d: D.VonMises(nr.zeros(3, device=d), nr.full((3,), 2.0, device=d)),
    lambda d: D.LowRankMultivariateNormal(nr.zeros(3, device=d), nr.ones(3, 1, device=d),
                                          nr.ones(3, device=d)),
    lambda d: D.LogisticNormal(nr.zeros(3, device=d), nr.ones(3, device=d)),
    lambda d: D.ContinuousBernoulli(nr.full((3,), 0.3, device=d)),
    lambda d: D.Wishart(nr.full((2,), 5.0, device=d), covariance_matrix=nr.eye(3, device=d)),
    lambda d: D.LKJCholesky(3, nr.full((2,), 1.5, device=d)),
])
def test_sampling_stays_on_device(make, device):
    d = make(device)
    s = d.sample((2000,))
    assert _on(s, device)
    assert tuple(s.shape) == (2000,) + d.batch_shape + d.event_shape
    assert bool(d.support.check(s).all())
    if d.has_rsample and not isinstance(d, (D.RelaxedOneHotCategorical, D.LogisticNormal,
                                            D.Wishart)):
        mean = _numpy(d.mean)
        np.testing.assert_allclose(_numpy(s).astype(np.float64).mean(0), mean, atol=0.25)


def test_gamma_rsample_gradient_on_device(device):
    a = nr.tensor([0.7, 3.0], device=device).requires_grad_(True)
    D.Gamma(a, 2.0).rsample((20000,)).mean(0).sum().backward()
    assert _on(a.grad, device)
    np.testing.assert_allclose(_numpy(a.grad), [0.5, 0.5], rtol=0.1)
