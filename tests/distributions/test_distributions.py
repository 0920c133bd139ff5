"""narae.distributions against torch.distributions: values and parameter gradients (float64),
shapes, sample moments, rsample gradients, validation, expand and broadcasting."""
import math

import numpy as np
import pytest
import torch

import narae as nr
from helpers import check, randn, rand

ND = nr.distributions
TD = torch.distributions


def _pos(*shape, low=0.5):
    return np.abs(randn(*shape)) + low


def _simplex(*shape):
    p = rand(*shape, low=0.1, high=1.0)
    return p / p.sum(-1, keepdims=True)


def _spd(*batch, n=3):
    a = randn(*batch, n, n)
    return a @ np.swapaxes(a, -1, -2) + n * np.eye(n)


def _tril(*batch, n=3):
    return np.linalg.cholesky(_spd(*batch, n=n))


# id, constructor(D, *params), parameter arrays, a value array (None: use a sample), quantities
QUANT = ("log_prob", "cdf", "icdf", "entropy", "mean", "variance", "mode", "stddev")
SPECS = [
    ("Normal", lambda D, m, s: D.Normal(m, s), [randn(2, 3), _pos(2, 3)], randn(4, 2, 3)),
    ("Normal-bcast", lambda D, m, s: D.Normal(m, s), [randn(3), _pos(2, 1)], randn(2, 3)),
    ("Uniform", lambda D, lo, w: D.Uniform(lo, lo + w), [randn(2, 3), _pos(2, 3)], None),
    ("Exponential", lambda D, r: D.Exponential(r), [_pos(5)], _pos(3, 5)),
    ("Laplace", lambda D, m, s: D.Laplace(m, s), [randn(4), _pos(4)], randn(2, 4)),
    ("Cauchy", lambda D, m, s: D.Cauchy(m, s), [randn(4), _pos(4)], randn(2, 4)),
    ("LogNormal", lambda D, m, s: D.LogNormal(m, s), [randn(4) * 0.3, _pos(4) * 0.5],
     _pos(2, 4)),
    ("Gamma", lambda D, a, r: D.Gamma(a, r), [_pos(2, 3), _pos(2, 3)], _pos(5, 2, 3)),
    ("Chi2", lambda D, k: D.Chi2(k), [_pos(4, low=1.0)], _pos(3, 4)),
    ("Beta", lambda D, a, b: D.Beta(a, b), [_pos(2, 3), _pos(2, 3)], rand(4, 2, 3, low=0.05,
                                                                        high=0.95)),
    ("Dirichlet", lambda D, a: D.Dirichlet(a), [_pos(2, 4)], _simplex(3, 2, 4)),
    ("StudentT", lambda D, df, m, s: D.StudentT(df, m, s), [_pos(4, low=6.0), randn(4),
                                                            _pos(4)], randn(3, 4)),
    ("Bernoulli", lambda D, p: D.Bernoulli(probs=p), [rand(2, 3, low=0.1, high=0.9)],
     (rand(4, 2, 3) > 0.5).astype(np.float64)),
    ("Bernoulli-logits", lambda D, lg: D.Bernoulli(logits=lg), [randn(2, 3)],
     (rand(2, 3) > 0.5).astype(np.float64)),
    ("Categorical", lambda D, p: D.Categorical(probs=p), [_simplex(2, 4)],
     np.array([[0, 3], [2, 1], [1, 1]])),
    ("Categorical-logits", lambda D, lg: D.Categorical(logits=lg), [randn(3, 5)],
     np.array([0, 4, 2])),
    ("OneHotCategorical", lambda D, p: D.OneHotCategorical(probs=p), [_simplex(2, 4)],
     np.eye(4)[[[0, 3], [2, 1]]]),
    ("Poisson", lambda D, r: D.Poisson(r), [_pos(2, 3) * 3], np.array([[0., 1, 4], [2, 7, 3]])),
    ("Binomial", lambda D, p: D.Binomial(6, probs=p), [rand(2, 3, low=0.1, high=0.9)],
     np.array([[0., 1, 6], [2, 5, 3]])),
    ("Binomial-logits", lambda D, lg: D.Binomial(4, logits=lg), [randn(3)], np.array([0., 2, 4])),
    ("Multinomial", lambda D, p: D.Multinomial(5, probs=p), [_simplex(2, 3)],
     np.array([[1., 1, 3], [0, 5, 0]])),
    ("Geometric", lambda D, p: D.Geometric(probs=p), [rand(2, 3, low=0.2, high=0.9)],
     np.array([[0., 1, 4], [2, 0, 3]])),
    ("MVN-cov", lambda D, m, c: D.MultivariateNormal(m, covariance_matrix=c),
     [randn(3), _spd(2)], randn(4, 2, 3)),
    ("MVN-prec", lambda D, m, c: D.MultivariateNormal(m, precision_matrix=c),
     [randn(2, 3), _spd(2)], randn(2, 3)),
    ("MVN-tril", lambda D, m, c: D.MultivariateNormal(m, scale_tril=c),
     [randn(3), _tril(2)], randn(5, 1, 3)),
    ("Independent", lambda D, m, s: D.Independent(D.Normal(m, s), 1), [randn(2, 3), _pos(2, 3)],
     randn(4, 2, 3)),
    ("RelaxedBernoulli", lambda D, p: D.RelaxedBernoulli(torch.tensor(0.7, dtype=torch.float64)
                                                         if D is TD else
                                                         nr.tensor(0.7, dtype=nr.float64),
                                                         probs=p),
     [rand(2, 3, low=0.1, high=0.9)], rand(2, 3, low=0.05, high=0.95)),
    ("RelaxedOneHotCategorical", lambda D, p: D.RelaxedOneHotCategorical(
        torch.tensor(0.5, dtype=torch.float64) if D is TD else nr.tensor(0.5, dtype=nr.float64),
        probs=p), [_simplex(2, 4)], _simplex(3, 2, 4)),
    ("Transformed-affine-tanh", lambda D, m, s: D.TransformedDistribution(
        D.Normal(m, s), [D.transforms.AffineTransform(0.5, 2.0), D.transforms.TanhTransform()]),
     [randn(3) * 0.3, _pos(3) * 0.3], rand(2, 3, low=-0.9, high=0.9)),
    ("Transformed-sigmoid-power", lambda D, m, s: D.TransformedDistribution(
        D.Normal(m, s), [D.transforms.SigmoidTransform(), D.transforms.PowerTransform(2.0)]),
     [randn(3) * 0.3, _pos(3) * 0.3], rand(2, 3, low=0.1, high=0.9)),
    ("Transformed-exp-affine-neg", lambda D, m, s: D.TransformedDistribution(
        D.Normal(m, s), D.transforms.ComposeTransform(
            [D.transforms.ExpTransform(), D.transforms.AffineTransform(1.0, -3.0)])),
     [randn(3) * 0.3, _pos(3) * 0.3], -_pos(2, 3) * 2),
    ("HalfNormal", lambda D, s: D.HalfNormal(s), [_pos(2, 3)], _pos(4, 2, 3)),
    ("HalfCauchy", lambda D, s: D.HalfCauchy(s), [_pos(2, 3)], _pos(4, 2, 3)),
    ("Gumbel", lambda D, m, s: D.Gumbel(m, s), [randn(2, 3), _pos(2, 3)], randn(4, 2, 3)),
    ("Pareto", lambda D, s, a: D.Pareto(s, a), [_pos(3), _pos(3, low=4.5)], None),
    ("Weibull", lambda D, s, k: D.Weibull(s, k), [_pos(3), _pos(3, low=1.0)], _pos(2, 3)),
    ("InverseGamma", lambda D, a, r: D.InverseGamma(a, r), [_pos(3, low=4.5), _pos(3)],
     _pos(2, 3)),
    ("Kumaraswamy", lambda D, a, b: D.Kumaraswamy(a, b), [_pos(3), _pos(3)],
     rand(2, 3, low=0.05, high=0.95)),
    ("FisherSnedecor", lambda D, a, b: D.FisherSnedecor(a, b), [_pos(3) * 3, _pos(3, low=12.0)],
     _pos(2, 3)),
    ("NegativeBinomial", lambda D, r, p: D.NegativeBinomial(r, probs=p),
     [_pos(2, 3) * 3, rand(2, 3, low=0.1, high=0.8)], np.array([[0., 1, 4], [2, 7, 3]])),
    ("NegativeBinomial-logits", lambda D, r, lg: D.NegativeBinomial(r, logits=lg),
     [_pos(3) * 3, randn(3) * 0.5], np.array([0., 1, 4])),
    ("MixtureSameFamily", lambda D, p, m, s: D.MixtureSameFamily(D.Categorical(p),
                                                                  D.Normal(m, s)),
     [_simplex(2, 3), randn(2, 3), _pos(2, 3)], randn(4, 2)),
    ("MixtureSameFamily-vector", lambda D, p, m, s: D.MixtureSameFamily(
        D.Categorical(p), D.Independent(D.Normal(m, s), 1)),
     [_simplex(3), randn(3, 2), _pos(3, 2)], randn(4, 2)),
    ("OneHotCategoricalStraightThrough", lambda D, p: D.OneHotCategoricalStraightThrough(p),
     [_simplex(2, 4)], np.eye(4)[[[0, 3], [2, 1]]]),
    ("ContinuousBernoulli", lambda D, p: D.ContinuousBernoulli(p),
     [np.array([0.1, 0.3, 0.4995, 0.5, 0.5008, 0.7, 0.95])], rand(2, 7)),
    ("ContinuousBernoulli-logits", lambda D, lg: D.ContinuousBernoulli(logits=lg),
     [randn(2, 3)], rand(2, 3)),
    ("VonMises", lambda D, m, k: D.VonMises(m, k), [randn(2, 3), _pos(2, 3) * 3],
     rand(4, 2, 3, low=-3.0, high=3.0)),
    ("LowRankMVN", lambda D, m, W, d: D.LowRankMultivariateNormal(m, W, d),
     [randn(2, 4), randn(4, 2), _pos(2, 4)], randn(3, 2, 4)),
    ("LogisticNormal", lambda D, m, s: D.LogisticNormal(m, s), [randn(2, 3) * 0.5, _pos(2, 3)],
     _simplex(2, 4)),
    ("Wishart-cov", lambda D, df, S: D.Wishart(df, covariance_matrix=S),
     [np.array([4.5, 7.0]), _spd(2)], None),
    ("Wishart-tril", lambda D, df, L: D.Wishart(df, scale_tril=L), [np.array([3.5]), _tril()],
     None),
    ("Wishart-prec", lambda D, df, P: D.Wishart(df, precision_matrix=P), [np.array(5.0), _spd()],
     None),
    ("LKJCholesky", lambda D, c: D.LKJCholesky(4, c), [np.array([0.5, 1.0, 2.5])], None),
]
# torch's Kumaraswamy.mode is NaN everywhere (its log-space formula takes log1p of -b);
# narae returns ((a - 1) / (ab - 1))^(1/a) where a, b >= 1
NOT_COMPARED = {("Kumaraswamy", "mode")}
# torch approximates the Bessel functions by polynomials (relative error ~1e-7, ~1e-5 in
# their derivatives); narae uses scipy's i0e, i1e and the exact derivative
RTOL = {"VonMises": 2e-5}
IDS = [s[0] for s in SPECS]


def _lib_params(params, lib):
    out = []
    for a in params:
        if lib is torch:
            out.append(torch.tensor(a, dtype=torch.float64, requires_grad=True))
        else:
            out.append(nr.tensor(a, dtype=nr.float64, requires_grad=True))
    return out


def _value(arr, lib, dist_t):
    if arr is None:  # a sample from torch, the same whichever tests ran before
        with torch.no_grad(), torch.random.fork_rng():
            torch.manual_seed(1234)
            arr = dist_t.sample((2,)).numpy()
    if lib is torch:
        return torch.tensor(arr)
    return nr.tensor(arr)


def _quantity(dist, name, value):
    attr = getattr(dist, name)
    if name in ("log_prob", "cdf"):
        return attr(value)
    if name == "icdf":
        u = value.clamp(0.05, 0.95) * 0 + 0.3  # a probability of the value's shape
        return attr(u)
    if name == "entropy":
        return attr()
    return attr


@pytest.mark.parametrize("spec", SPECS, ids=IDS)
def test_values_and_gradients_match_torch(spec):
    _, ctor, params, value = spec
    tp, npar = _lib_params(params, torch), _lib_params(params, nr)
    dt, dn = ctor(TD, *tp), ctor(ND, *npar)
    assert tuple(dn.batch_shape) == tuple(dt.batch_shape)
    assert tuple(dn.event_shape) == tuple(dt.event_shape)
    assert dn.has_rsample == dt.has_rsample
    vt = _value(value, torch, dt)
    vn = _value(vt.numpy(), nr, None)
    compared = 0
    for name in QUANT:
        if (spec[0], name) in NOT_COMPARED:
            continue
        try:
            qt = _quantity(dt, name, vt)
        except (NotImplementedError, AttributeError):
            continue
        qn = _quantity(dn, name, vn)
        compared += 1
        a, b = qn.detach().numpy(), qt.detach().numpy()
        assert a.shape == b.shape, f"{name}: shape {a.shape} vs torch {b.shape}"
        np.testing.assert_allclose(a, b, rtol=RTOL.get(spec[0], 1e-7), atol=1e-9, err_msg=name,
                                   equal_nan=True)
        if not qt.requires_grad or not np.isfinite(b).all():
            continue
        up = np.random.default_rng(0).standard_normal(b.shape)
        try:
            gt = torch.autograd.grad((qt * torch.tensor(up)).sum(), tp, allow_unused=True,
                                     retain_graph=True)
        except (NotImplementedError, RuntimeError):  # e.g. igamma's grad in the concentration
            with pytest.raises(NotImplementedError):
                nr.autograd.grad((qn * nr.tensor(up)).sum(), npar, allow_unused=True,
                                 retain_graph=True)
            continue
        gn = nr.autograd.grad((qn * nr.tensor(up)).sum(), npar, allow_unused=True,
                              retain_graph=True)
        for k, (x, y) in enumerate(zip(gn, gt)):
            if y is None:
                assert x is None or np.all(x.numpy() == 0), f"{name}: grad {k}"
                continue
            assert x is not None, f"{name}: grad of param {k} missing"
            x, y = x.numpy(), y.numpy()
            if spec[0] == "Wishart-tril":  # torch also sends gradient to L's zero upper part
                x, y = np.tril(x), np.tril(y)
            np.testing.assert_allclose(x, y, rtol=RTOL.get(spec[0], 1e-6),
                                       atol=1e-9, err_msg=f"d {name} / d param {k}")
    assert compared >= 1


@pytest.mark.parametrize("spec", SPECS, ids=IDS)
def test_sample_shapes_and_dtypes(spec):
    _, ctor, params, _ = spec
    dt = ctor(TD, *_lib_params(params, torch))
    dn = ctor(ND, *_lib_params(params, nr))
    for shape in [(), (5,), (2, 3)]:
        assert tuple(ND.Categorical(nr.ones(3)).sample(shape).shape) == shape
        st, sn = dt.sample(shape), dn.sample(shape)
        assert tuple(sn.shape) == tuple(st.shape)
        assert sn.dtype.name == str(st.dtype).replace("torch.", "")
        assert not sn.requires_grad
        assert bool(dn.support.check(sn).all())
    if dn.has_rsample:
        r = dn.rsample((2,))
        assert r.requires_grad and tuple(r.shape) == (2,) + dn.batch_shape + dn.event_shape
    else:
        with pytest.raises(NotImplementedError):
            dn.rsample()


MOMENT_SPECS = [s for s in SPECS if s[0] not in ("Cauchy", "HalfCauchy", "RelaxedBernoulli",
                                                    "RelaxedOneHotCategorical", "VonMises",
                                                    "LogisticNormal", "GeneralizedPareto",
                                                    "LKJCholesky")
                and not s[0].startswith("Transformed")]


@pytest.mark.parametrize("spec", MOMENT_SPECS, ids=[s[0] for s in MOMENT_SPECS])
def test_sample_moments(spec):
    _, ctor, params, _ = spec
    d = ctor(ND, *_lib_params(params, nr))
    n = 20000
    s = d.sample((n,)).numpy().astype(np.float64)
    mean = d.mean.detach().numpy()
    var = d.variance.detach().numpy()
    if s.dtype.kind != "f" or spec[0].startswith("Categorical"):
        return
    se = np.sqrt(var / n)
    assert np.all(np.abs(s.mean(0) - mean) < 6 * se + 1e-3), (s.mean(0), mean)
    np.testing.assert_allclose(s.var(0), var, rtol=0.15, atol=1e-3)


def test_kumaraswamy_mode_is_the_density_peak():
    a, b = nr.tensor([2.0, 3.0, 0.5], dtype=nr.float64), nr.tensor([3.0, 1.5, 2.0],
                                                                   dtype=nr.float64)
    mode = ND.Kumaraswamy(a, b).mode.numpy()
    grid = np.linspace(0.001, 0.999, 20001)
    lp = ND.Kumaraswamy(a[:2].reshape(2, 1), b[:2].reshape(2, 1)).log_prob(
        nr.tensor(np.stack([grid, grid]))).numpy()
    np.testing.assert_allclose(mode[:2], grid[lp.argmax(-1)], atol=1e-3)
    assert np.isnan(mode[2])


def test_von_mises_sample_moments():
    loc = nr.tensor([0.5, -2.5, 3.0, 0.0], dtype=nr.float64)
    k = nr.tensor([0.0001, 0.7, 4.0, 50.0], dtype=nr.float64)
    s = ND.VonMises(loc, k).sample((20000,)).numpy()
    assert s.min() >= -np.pi and s.max() < np.pi
    # E[exp(i x)] = I1(k)/I0(k) exp(i loc); the circular variance is 1 - |E exp(ix)|
    m = np.exp(1j * s).mean(0)
    scipy_special = pytest.importorskip("scipy.special")
    ratio = scipy_special.i1e(k.numpy()) / scipy_special.i0e(k.numpy())
    np.testing.assert_allclose(np.abs(m), ratio, atol=0.02)
    np.testing.assert_allclose(1 - np.abs(m), ND.VonMises(loc, k).variance.numpy(), atol=0.02)
    ang = np.angle(m)[1:]
    np.testing.assert_allclose(np.angle(np.exp(1j * (ang - loc.numpy()[1:]))), 0, atol=0.05)


@pytest.mark.parametrize("conc", [[0.3, 0.1, 0.2, 0.05], [-0.3, -0.1, -0.2, -0.4]])
def test_generalized_pareto_matches_torch_float32(conc):
    """(torch's GeneralizedPareto fails on float64 parameters, so this runs in float32)"""
    params = [randn(4), _pos(4), np.array(conc)]
    tp = [torch.tensor(a, dtype=torch.float32, requires_grad=True) for a in params]
    npar = [nr.tensor(a, dtype=nr.float32, requires_grad=True) for a in params]
    dt, dn = TD.GeneralizedPareto(*tp), ND.GeneralizedPareto(*npar)
    x = dt.sample((3,))
    u = torch.full((3, 4), 0.3)
    for name, qt, qn in [
            ("log_prob", dt.log_prob(x), dn.log_prob(nr.tensor(x.numpy()))),
            ("cdf", dt.cdf(x), dn.cdf(nr.tensor(x.numpy()))),
            ("icdf", dt.icdf(u), dn.icdf(nr.tensor(u.numpy()))),
            ("entropy", dt.entropy(), dn.entropy()), ("mean", dt.mean, dn.mean),
            ("variance", dt.variance, dn.variance), ("mode", dt.mode, dn.mode)]:
        np.testing.assert_allclose(qn.detach().numpy(), qt.detach().numpy(), rtol=2e-5,
                                   atol=1e-6, err_msg=name)
        if qt.requires_grad and np.isfinite(qt.detach().numpy()).all():
            gt = torch.autograd.grad(qt.sum(), tp, allow_unused=True, retain_graph=True)
            gn = nr.autograd.grad(qn.sum(), npar, allow_unused=True, retain_graph=True)
            for a, b in zip(gn, gt):
                if b is not None:
                    np.testing.assert_allclose(a.numpy(), b.numpy(), rtol=1e-4, atol=1e-5,
                                               err_msg=name)
    assert tuple(dn.rsample((5,)).shape) == (5, 4) and dn.has_rsample


def test_generalized_pareto_moments_and_support():
    d = ND.GeneralizedPareto(nr.tensor([0.5, 0.0], dtype=nr.float64),
                             nr.tensor([2.0, 1.0], dtype=nr.float64),
                             nr.tensor([0.1, -0.25], dtype=nr.float64))
    s = d.sample((40000,)).numpy()
    np.testing.assert_allclose(s.mean(0), d.mean.numpy(), rtol=0.03)
    np.testing.assert_allclose(s.var(0), d.variance.numpy(), rtol=0.1)
    assert s[:, 1].max() <= 4.0 and s.min(0).tolist() >= [0.5, 0.0]
    zero = ND.GeneralizedPareto(0.0, 1.0, 0.0)  # xi = 0: the exponential distribution
    x = nr.tensor([0.5, 2.0])
    np.testing.assert_allclose(zero.log_prob(x).numpy(), -x.numpy(), rtol=1e-6)
    np.testing.assert_allclose(zero.cdf(x).numpy(), 1 - np.exp(-x.numpy()), rtol=1e-6)


def test_lkj_cholesky_samples():
    """Off-diagonal correlations of LKJ(c) in dimension d are Beta(c - 1 + d/2, same) on
    (-1, 1): variance 1 / (2c + d - 1)."""
    c = np.array([0.5, 1.0, 3.0])
    d = ND.LKJCholesky(4, nr.tensor(c))
    L = d.sample((20000,)).numpy()
    assert bool(ND.constraints.corr_cholesky.check(nr.tensor(L)).all())
    C = L @ np.swapaxes(L, -1, -2)
    np.testing.assert_allclose(np.diagonal(C, 0, -2, -1), 1.0, atol=1e-12)
    rows, cols = np.tril_indices(4, -1)
    var = C[..., rows, cols].var(0)  # (3, 6): every pair has the same marginal
    np.testing.assert_allclose(var, np.broadcast_to((1 / (2 * c + 3))[:, None], var.shape),
                               rtol=0.06)
    with pytest.raises(ValueError, match="dim"):
        ND.LKJCholesky(1)


def test_wishart_validation_and_rsample_gradient():
    with pytest.raises(ValueError, match="greater than ndim - 1"):
        ND.Wishart(nr.tensor(1.0), covariance_matrix=nr.eye(3))
    with pytest.raises(ValueError, match="Exactly one"):
        ND.Wishart(nr.tensor(4.0))
    df = nr.tensor(5.0, dtype=nr.float64, requires_grad=True)
    S = nr.tensor(_spd(), dtype=nr.float64)
    X = ND.Wishart(df, covariance_matrix=S).rsample((20000,))
    X.mean(0).trace().backward()  # E[tr X] = df tr(S)
    np.testing.assert_allclose(df.grad.item(), np.trace(S.numpy()), rtol=0.05)


def test_categorical_sample_frequencies():
    p = np.array([[0.1, 0.2, 0.7], [0.5, 0.25, 0.25]])
    s = ND.Categorical(nr.tensor(p)).sample((40000,)).numpy()
    freq = np.stack([(s == k).mean(0) for k in range(3)], -1)
    np.testing.assert_allclose(freq, p, atol=0.015)


def test_manual_seed_reproducible():
    d = ND.Gamma(nr.tensor([0.5, 2.0]), nr.tensor([1.0, 3.0]))
    nr.manual_seed(3)
    a = d.sample((4,)).numpy()
    nr.manual_seed(3)
    b = d.sample((4,)).numpy()
    np.testing.assert_array_equal(a, b)


# --- rsample gradients --------------------------------------------------------------------
def test_normal_rsample_gradient_monte_carlo():
    loc = nr.tensor([0.5, -1.0], requires_grad=True)
    scale = nr.tensor([1.5, 0.3], requires_grad=True)
    x = ND.Normal(loc, scale).rsample((50000,))
    (x ** 2).mean(0).sum().backward()  # E[x^2] = loc^2 + scale^2
    np.testing.assert_allclose(loc.grad.numpy(), 2 * loc.detach().numpy(), atol=0.05)
    np.testing.assert_allclose(scale.grad.numpy(), 2 * scale.detach().numpy(), atol=0.05)


@pytest.mark.parametrize("name, make, expect", [
    ("Gamma", lambda a, b: ND.Gamma(a, b),
     lambda a, b: (1 / b, -a / b ** 2)),                           # E = a / b
    ("Beta", lambda a, b: ND.Beta(a, b),
     lambda a, b: (b / (a + b) ** 2, -a / (a + b) ** 2)),           # E = a / (a + b)
    ("Uniform", lambda a, b: ND.Uniform(a, a + b), lambda a, b: (np.ones_like(a), 0.5 + 0 * b)),
    ("Laplace", lambda a, b: ND.Laplace(a, b + 0.5), lambda a, b: (np.ones_like(a), 0 * b)),
    ("LogNormal", lambda a, b: ND.LogNormal(a * 0.2, b * 0.2),   # E = exp(m + s^2/2)
     lambda a, b: (0.2 * np.exp(0.2 * a + 0.02 * b * b), 0.2 * 0.2 * b * np.exp(0.2 * a + 0.02 * b * b))),
])
def test_rsample_gradient_of_mean(name, make, expect):
    a = nr.tensor([0.7, 2.5, 6.0], dtype=nr.float64, requires_grad=True)
    b = nr.tensor([1.3, 0.8, 3.0], dtype=nr.float64, requires_grad=True)
    x = make(a, b).rsample((40000,))
    x.mean(0).sum().backward()
    ga, gb = expect(a.detach().numpy(), b.detach().numpy())
    np.testing.assert_allclose(a.grad.numpy(), ga, rtol=0.06, atol=0.03)
    np.testing.assert_allclose(b.grad.numpy(), gb, rtol=0.06, atol=0.03)


def test_dirichlet_and_studentt_and_chi2_rsample_gradients():
    conc = nr.tensor([0.8, 2.0, 4.0], dtype=nr.float64, requires_grad=True)
    x = ND.Dirichlet(conc).rsample((40000,))
    x[:, 0].mean().backward()  # E[x0] = a0 / sum(a)
    a = conc.detach().numpy()
    s = a.sum()
    np.testing.assert_allclose(conc.grad.numpy(), [(s - a[0]) / s ** 2, -a[0] / s ** 2,
                                                   -a[0] / s ** 2], rtol=0.08, atol=0.005)
    df = nr.tensor([3.0, 7.0], dtype=nr.float64, requires_grad=True)
    ND.Chi2(df).rsample((40000,)).mean(0).sum().backward()  # E = df
    np.testing.assert_allclose(df.grad.numpy(), [1.0, 1.0], rtol=0.05)
    loc = nr.tensor([0.3], dtype=nr.float64, requires_grad=True)
    scale = nr.tensor([2.0], dtype=nr.float64, requires_grad=True)
    df = nr.tensor([6.0], dtype=nr.float64, requires_grad=True)
    y = ND.StudentT(df, loc, scale).rsample((40000,))
    (y ** 2).mean().backward()  # E[y^2] = loc^2 + scale^2 df / (df - 2)
    np.testing.assert_allclose(loc.grad.numpy(), [0.6], atol=0.1)
    np.testing.assert_allclose(scale.grad.numpy(), [2 * 2.0 * 6 / 4], rtol=0.1)
    np.testing.assert_allclose(df.grad.numpy(), [-4.0 * 2 / 16], rtol=0.3, atol=0.1)


def test_lowrank_mvn_matches_full_mvn():
    loc, W, d = randn(3), randn(3, 2), _pos(3)
    low = ND.LowRankMultivariateNormal(nr.tensor(loc), nr.tensor(W), nr.tensor(d))
    full = ND.MultivariateNormal(nr.tensor(loc), covariance_matrix=nr.tensor(W @ W.T + np.diag(d)))
    x = nr.tensor(randn(5, 3))
    np.testing.assert_allclose(low.log_prob(x).numpy(), full.log_prob(x).numpy(), rtol=1e-10)
    np.testing.assert_allclose(low.precision_matrix.numpy(), full.precision_matrix.numpy(),
                               rtol=1e-8, atol=1e-12)
    np.testing.assert_allclose(low.scale_tril.numpy(), full.scale_tril.numpy(), rtol=1e-10)
    np.testing.assert_allclose(low.entropy().numpy(), full.entropy().numpy(), rtol=1e-10)
    s = low.sample((40000,)).numpy()
    np.testing.assert_allclose(np.cov(s.T), W @ W.T + np.diag(d), rtol=0.03, atol=0.1)
    with pytest.raises(ValueError, match="cov_factor"):
        ND.LowRankMultivariateNormal(nr.zeros(3), nr.zeros(4, 2), nr.ones(3))


def test_mvn_rsample_gradient():
    loc = nr.tensor([0.5, -1.0], dtype=nr.float64, requires_grad=True)
    L = nr.tensor([[1.0, 0.0], [0.4, 0.7]], dtype=nr.float64, requires_grad=True)
    x = ND.MultivariateNormal(loc, scale_tril=L).rsample((40000,))
    (x ** 2).sum(-1).mean().backward()  # E|x|^2 = |loc|^2 + |L|_F^2
    np.testing.assert_allclose(loc.grad.numpy(), 2 * loc.detach().numpy(), atol=0.05)
    np.testing.assert_allclose(np.tril(L.grad.numpy()), 2 * L.detach().numpy(), atol=0.05)


def test_standard_gamma_gradient_matches_torch_and_finite_difference():
    from narae.distributions.gamma import _standard_gamma_grad_array
    rng = np.random.default_rng(0)
    alpha = np.repeat([0.05, 0.4, 1.0, 3.0, 12.0, 80.0, 150.0, 600.0], 50)
    x = rng.standard_gamma(alpha)
    ours = _standard_gamma_grad_array(alpha, x)
    theirs = torch._standard_gamma_grad(torch.tensor(alpha), torch.tensor(x)).numpy()
    np.testing.assert_allclose(ours, theirs, rtol=3e-3, atol=1e-8)
    scipy_special = pytest.importorskip("scipy.special")
    small = alpha < 100
    u = scipy_special.gammainc(alpha, x)
    h = 1e-6 * alpha
    fd = (scipy_special.gammaincinv(alpha + h, u) - scipy_special.gammaincinv(alpha - h, u)) / (2 * h)
    ok = small & (u > 1e-8) & (u < 1 - 1e-8)
    np.testing.assert_allclose(ours[ok], fd[ok], rtol=1e-5)


# --- op-level parity through helpers.check (float32 + float64 gradcheck) -------------------
@pytest.mark.parametrize("fn, args", [
    (lambda m, loc, s, x: m.distributions.Normal(loc, s).log_prob(x),
     (randn(3, 4), _pos(3, 4), randn(3, 4))),
    (lambda m, a, r, x: m.distributions.Gamma(a, r).log_prob(x), (_pos(3, 4), _pos(3, 4),
                                                                  _pos(3, 4))),
    (lambda m, a, b: m.distributions.Beta(a, b).entropy(), (_pos(3, 4), _pos(3, 4))),
    (lambda m, df, x: m.distributions.StudentT(df, 0.5, 2.0).log_prob(x), (_pos(4, low=1.0),
                                                                          randn(3, 4))),
    (lambda m, loc, L, x: m.distributions.MultivariateNormal(  # gradcheck perturbs L's zeros
        loc, scale_tril=L, validate_args=False).log_prob(x),
     (randn(3), _tril(2), randn(2, 3))),
    (lambda m, loc, k, x: m.distributions.VonMises(loc, k).log_prob(x) + m.distributions.VonMises(
        loc, k).variance, (randn(3, 4), _pos(3, 4), randn(3, 4))),
    (lambda m, p, x: m.distributions.ContinuousBernoulli(p).log_prob(x),
     (rand(3, 4, low=0.05, high=0.95), rand(3, 4))),
    (lambda m, lo, W, d, x: m.distributions.LowRankMultivariateNormal(lo, W, d).log_prob(x),
     (randn(3), randn(3, 2), _pos(3), randn(2, 3))),
    (lambda m, p, q: m.distributions.kl_divergence(m.distributions.Dirichlet(p),
                                                   m.distributions.Dirichlet(q)),
     (_pos(2, 3), _pos(2, 3))),
])
def test_check_parity_and_gradcheck(fn, args):
    check(fn, *args, atol=1e-4, rtol=1e-4, double=True)


def test_gamma_cdf_gradient_in_value():
    check(lambda m, x: m.distributions.Gamma(m.tensor(2.5), m.tensor(1.5)).cdf(x), _pos(3, 4))
    a = nr.tensor([2.0], requires_grad=True)
    with pytest.raises(NotImplementedError, match="concentration"):
        ND.Gamma(a, 1.0).cdf(nr.tensor([1.0])).sum().backward()


# --- kl ----------------------------------------------------------------------------------
KL_PAIRS = [
    ("Normal", lambda D, a, b, c, d: (D.Normal(a, b), D.Normal(c, d)),
     [randn(3), _pos(3), randn(2, 3), _pos(2, 3)]),
    ("Bernoulli", lambda D, p, q: (D.Bernoulli(p), D.Bernoulli(q)),
     [rand(4, low=0.1, high=0.9), rand(4, low=0.1, high=0.9)]),
    ("Categorical", lambda D, p, q: (D.Categorical(p), D.Categorical(q)),
     [_simplex(2, 4), _simplex(2, 4)]),
    ("OneHotCategorical", lambda D, p, q: (D.OneHotCategorical(p), D.OneHotCategorical(q)),
     [_simplex(2, 4), _simplex(4)]),
    ("Uniform", lambda D, a, w, c, v: (D.Uniform(a, a + w), D.Uniform(a - c, a + w + v)),
     [randn(3), _pos(3), _pos(3), _pos(3)]),
    ("Exponential", lambda D, a, b: (D.Exponential(a), D.Exponential(b)), [_pos(3), _pos(3)]),
    ("Gamma", lambda D, a, b, c, d: (D.Gamma(a, b), D.Gamma(c, d)),
     [_pos(3), _pos(3), _pos(3), _pos(3)]),
    ("Beta", lambda D, a, b, c, d: (D.Beta(a, b), D.Beta(c, d)),
     [_pos(3), _pos(3), _pos(3), _pos(3)]),
    ("Dirichlet", lambda D, a, b: (D.Dirichlet(a), D.Dirichlet(b)), [_pos(2, 4), _pos(2, 4)]),
    ("Laplace", lambda D, a, b, c, d: (D.Laplace(a, b), D.Laplace(c, d)),
     [randn(3), _pos(3), randn(3), _pos(3)]),
    ("Poisson", lambda D, a, b: (D.Poisson(a), D.Poisson(b)), [_pos(3), _pos(3)]),
    ("MVN", lambda D, a, S, b, L: (D.MultivariateNormal(a, covariance_matrix=S),
                                   D.MultivariateNormal(b, scale_tril=L)),
     [randn(2, 3), _spd(2), randn(3), _tril()]),
    ("Independent", lambda D, a, b, c, d: (D.Independent(D.Normal(a, b), 1),
                                           D.Independent(D.Normal(c, d), 1)),
     [randn(2, 3), _pos(2, 3), randn(2, 3), _pos(2, 3)]),
    ("Geometric", lambda D, p, q: (D.Geometric(p), D.Geometric(q)),
     [rand(3, low=0.1, high=0.9), rand(3, low=0.1, high=0.9)]),
    ("Binomial", lambda D, p, q: (D.Binomial(5, p), D.Binomial(5, q)),
     [rand(3, low=0.1, high=0.9), rand(3, low=0.1, high=0.9)]),
    ("HalfNormal", lambda D, a, b: (D.HalfNormal(a), D.HalfNormal(b)), [_pos(3), _pos(3)]),
    ("Cauchy", lambda D, a, b, c, d: (D.Cauchy(a, b), D.Cauchy(c, d)),
     [randn(3), _pos(3), randn(3), _pos(3)]),
    ("Gumbel", lambda D, a, b, c, d: (D.Gumbel(a, b), D.Gumbel(c, d)),
     [randn(3), _pos(3), randn(3), _pos(3)]),
    ("Pareto", lambda D, a, b, c, d: (D.Pareto(a + c, b), D.Pareto(a, d)),
     [_pos(3), _pos(3), _pos(3), _pos(3)]),
    ("Exponential-Gamma", lambda D, a, b, c: (D.Exponential(a), D.Gamma(b, c)),
     [_pos(3), _pos(3), _pos(3)]),
    ("Gamma-Exponential", lambda D, a, b, c: (D.Gamma(b, c), D.Exponential(a)),
     [_pos(3), _pos(3), _pos(3)]),
    ("LogNormal", lambda D, a, b, c, d: (D.LogNormal(a, b), D.LogNormal(c, d)),
     [randn(3), _pos(3), randn(3), _pos(3)]),
]


@pytest.mark.parametrize("pair", KL_PAIRS, ids=[p[0] for p in KL_PAIRS])
def test_kl_divergence_matches_torch(pair):
    _, make, params = pair
    tp, npar = _lib_params(params, torch), _lib_params(params, nr)
    kt = TD.kl_divergence(*make(TD, *tp))
    kn = ND.kl_divergence(*make(ND, *npar))
    np.testing.assert_allclose(kn.detach().numpy(), kt.detach().numpy(), rtol=1e-7, atol=1e-10)
    up = np.random.default_rng(1).standard_normal(tuple(kt.shape))
    gt = torch.autograd.grad((kt * torch.tensor(up)).sum(), tp)
    gn = nr.autograd.grad((kn * nr.tensor(up)).sum(), npar)
    for x, y in zip(gn, gt):
        np.testing.assert_allclose(x.numpy(), y.numpy(), rtol=1e-6, atol=1e-9)


def test_kl_edge_values_and_unregistered_pair():
    p = ND.Uniform(nr.tensor([0.0]), nr.tensor([2.0]))
    q = ND.Uniform(nr.tensor([0.5]), nr.tensor([3.0]))
    assert math.isinf(ND.kl_divergence(p, q).item())
    b = ND.Bernoulli(nr.tensor([0.0, 1.0, 0.3]))
    c = ND.Bernoulli(nr.tensor([0.5, 0.5, 0.0]))
    tb, tc = TD.Bernoulli(torch.tensor([0.0, 1.0, 0.3])), TD.Bernoulli(torch.tensor([0.5, 0.5, 0.0]))
    np.testing.assert_allclose(ND.kl_divergence(b, c).numpy(), TD.kl_divergence(tb, tc).numpy(),
                               rtol=1e-5)
    with pytest.raises(NotImplementedError, match="Cauchy"):
        ND.kl_divergence(ND.Cauchy(0.0, 1.0), ND.Normal(0.0, 1.0))


def test_register_kl_dispatches_to_subclasses():
    class MyNormal(ND.Normal):
        pass

    @ND.register_kl(MyNormal, ND.Normal)
    def _kl(p, q):
        return nr.tensor(42.0)

    assert ND.kl_divergence(MyNormal(0.0, 1.0), ND.Normal(0.0, 2.0)).item() == 42.0
    # the parent pair still uses the closed form
    assert ND.kl_divergence(ND.Normal(0.0, 1.0), ND.Normal(0.0, 1.0)).item() == 0.0
    with pytest.raises(TypeError):
        ND.register_kl(1, ND.Normal)


# --- validation ---------------------------------------------------------------------------
def test_parameter_validation_messages():
    with pytest.raises(ValueError, match=r"Expected parameter scale \(Tensor of shape \(2,\)\) "
                                         r"of distribution Normal.*GreaterThan\(lower_bound=0.0\)"):
        ND.Normal(nr.tensor([0.0, 1.0]), nr.tensor([1.0, -1.0]))
    with pytest.raises(ValueError, match="probs"):
        ND.Bernoulli(nr.tensor([1.5]))
    with pytest.raises(ValueError, match="Simplex"):
        ND.Categorical(probs=nr.tensor([0.5, -0.5, 1.0]))
    with pytest.raises(ValueError, match="Either `probs` or `logits`"):
        ND.Bernoulli(probs=nr.tensor(0.5), logits=nr.tensor(0.0))
    with pytest.raises(ValueError, match="Uniform is not defined"):
        ND.Uniform(1.0, 0.0)
    with pytest.raises(ValueError, match="Exactly one of"):
        ND.MultivariateNormal(nr.zeros(2))
    with pytest.raises(ValueError, match="PositiveDefinite"):
        ND.MultivariateNormal(nr.zeros(2), covariance_matrix=nr.tensor([[1.0, 2.0], [2.0, 1.0]]))
    with pytest.raises(ValueError, match="LowerCholesky"):
        ND.MultivariateNormal(nr.zeros(2), scale_tril=nr.tensor([[1.0, 1.0], [0.0, 1.0]]))
    ND.Normal(nr.tensor([0.0]), nr.tensor([-1.0]), validate_args=False)  # no check


def test_sample_validation_messages():
    d = ND.Normal(nr.zeros(3), 1.0)
    with pytest.raises(ValueError, match=r"broadcastable with batch_shape\+event_shape: "
                                         r"torch.Size\(\[2\]\) vs torch.Size\(\[3\]\)"):
        d.log_prob(nr.zeros(2))
    with pytest.raises(ValueError, match="within the support"):
        ND.Exponential(1.0).log_prob(nr.tensor(-1.0))
    with pytest.raises(ValueError, match="right-most size of value must match event_shape"):
        ND.MultivariateNormal(nr.zeros(3), nr.eye(3)).log_prob(nr.zeros(2))
    with pytest.raises(ValueError, match="IntegerInterval"):
        ND.Categorical(nr.ones(3) / 3).log_prob(nr.tensor(3))
    assert math.isinf(ND.Exponential(1.0, validate_args=False).log_prob(nr.tensor(-1.0)).item()) \
        is False  # torch also returns the formula's value outside the support


def test_set_default_validate_args():
    try:
        ND.Distribution.set_default_validate_args(False)
        ND.Normal(nr.tensor([0.0]), nr.tensor([-1.0]))
    finally:
        ND.Distribution.set_default_validate_args(True)
    with pytest.raises(ValueError):
        ND.Normal(nr.tensor([0.0]), nr.tensor([-1.0]))
    with pytest.raises(ValueError):
        ND.Distribution.set_default_validate_args("yes")


# --- expand, broadcasting, enumerate_support, lazy probs/logits ----------------------------
@pytest.mark.parametrize("spec", SPECS, ids=IDS)
def test_expand(spec):
    _, ctor, params, _ = spec
    dn = ctor(ND, *_lib_params(params, nr))
    dt = ctor(TD, *_lib_params(params, torch))
    new_batch = (2,) + tuple(dn.batch_shape)
    en, et = dn.expand(new_batch), dt.expand(new_batch)
    assert type(en) is type(dn)
    assert tuple(en.batch_shape) == tuple(et.batch_shape) == new_batch
    assert tuple(en.event_shape) == tuple(et.event_shape)
    assert tuple(en.sample((3,)).shape) == tuple(et.sample((3,)).shape)
    x = et.sample()
    np.testing.assert_allclose(en.log_prob(nr.tensor(x.numpy())).detach().numpy(),
                               et.log_prob(x).detach().numpy(), rtol=1e-5, atol=1e-6)


def test_broadcasting_scalars_and_dtypes():
    d = ND.Normal(0.0, 1.0)
    assert d.batch_shape == () and d.loc.dtype == nr.float32
    d = ND.Normal(nr.zeros(3, 1, dtype=nr.float64), 2.0)
    assert d.batch_shape == (3, 1) and d.scale.dtype == nr.float64
    d = ND.Normal(nr.zeros(3, 1), nr.ones(4))
    assert d.batch_shape == (3, 4)
    assert d.log_prob(nr.zeros(2, 1, 1)).shape == (2, 3, 4)
    with pytest.raises(ValueError):
        ND.Normal(nr.zeros(3), nr.ones(4))


def test_enumerate_support_matches_torch():
    cases = [
        lambda D, lib: D.Bernoulli(lib.tensor([0.2, 0.7])),
        lambda D, lib: D.Categorical(lib.tensor([[0.2, 0.3, 0.5], [0.1, 0.1, 0.8]])),
        lambda D, lib: D.OneHotCategorical(lib.tensor([0.2, 0.3, 0.5])),
        lambda D, lib: D.Binomial(3, lib.tensor([0.2, 0.7])),
    ]
    for make in cases:
        dn, dt = make(ND, nr), make(TD, torch)
        assert dn.has_enumerate_support
        for expand in (True, False):
            a, b = dn.enumerate_support(expand), dt.enumerate_support(expand)
            np.testing.assert_array_equal(a.numpy(), b.numpy())
            assert a.dtype.name == str(b.dtype).replace("torch.", "")


def test_probs_logits_lazy_conversion():
    p = nr.tensor([0.2, 0.5, 0.9], dtype=nr.float64)
    d = ND.Bernoulli(probs=p)
    assert "logits" not in d.__dict__
    np.testing.assert_allclose(d.logits.numpy(), np.log(p.numpy() / (1 - p.numpy())))
    assert "logits" in d.__dict__
    c = ND.Categorical(logits=nr.tensor([[1.0, 2.0, 3.0]], dtype=nr.float64))
    np.testing.assert_allclose(c.probs.numpy(), torch.softmax(torch.tensor([[1.0, 2, 3]],
                                                                           dtype=torch.float64), -1))
    np.testing.assert_allclose(c.logits.numpy(), np.log(c.probs.numpy()))
    assert ND.Categorical(probs=nr.tensor([1.0, 3.0])).probs.numpy().tolist() == [0.25, 0.75]


def test_repr_and_support_and_perplexity():
    d = ND.Normal(0.0, 1.0)
    assert repr(d) == "Normal(loc: 0.0, scale: 1.0)"
    assert repr(ND.Normal(nr.zeros(2), 1.0)) == \
        "Normal(loc: torch.Size([2]), scale: torch.Size([2]))"
    assert repr(ND.Uniform(0.0, 2.0).support) == "Interval(lower_bound=0.0, upper_bound=2.0)"
    assert repr(ND.Categorical(nr.ones(4)).support) == "IntegerInterval(lower_bound=0, upper_bound=3)"
    np.testing.assert_allclose(d.perplexity().item(), math.exp(d.entropy().item()), rtol=1e-6)
    np.testing.assert_allclose(d.stddev.item(), 1.0)


# --- a VAE-style training loop --------------------------------------------------------------
def test_vae_style_training_reduces_loss():
    nr.manual_seed(0)
    nn = nr.nn
    x = nr.tensor(np.random.default_rng(0).standard_normal((64, 6)).astype(np.float32))
    enc, dec = nn.Linear(6, 2 * 2), nn.Linear(2, 6)
    opt = nr.optim.Adam(list(enc.parameters()) + list(dec.parameters()), lr=0.05)
    prior = ND.Normal(nr.zeros(2), nr.ones(2))
    losses = []
    for _ in range(30):
        h = enc(x)
        mu, log_sigma = h[:, :2], h[:, 2:]
        q = ND.Normal(mu, log_sigma.exp())
        z = q.rsample()
        recon = ND.Normal(dec(z), 1.0).log_prob(x).sum(-1)
        kl = ND.kl_divergence(q, prior).sum(-1)
        loss = (kl - recon).mean()
        opt.zero_grad()
        loss.backward()
        opt.step()
        losses.append(loss.item())
    assert enc.weight.grad is not None and dec.weight.grad is not None
    assert np.mean(losses[-5:]) < np.mean(losses[:5])


# every pair torch registers (cross-family ones included), on parameters that hit both the
# finite and the infinite branches
_MAKERS = {
    "Bernoulli": (lambda D, p: D.Bernoulli(p), [np.array([0.3, 0.6, 0.9])]),
    "Beta": (lambda D, a, b: D.Beta(a, b), [np.array([2.0, 0.5, 1.5]), np.array([3.0, 0.7, 1.2])]),
    "Binomial": (lambda D, p: D.Binomial(3, p), [np.array([0.3, 0.6, 0.2])]),
    "ContinuousBernoulli": (lambda D, p: D.ContinuousBernoulli(p),
                            [np.array([0.3, 0.8, 0.4995])]),
    "Exponential": (lambda D, r: D.Exponential(r), [np.array([1.5, 0.4, 2.5])]),
    "Gamma": (lambda D, a, r: D.Gamma(a, r), [np.array([2.0, 0.5, 3.0]), np.array([1.0, 3.0, 0.7])]),
    "Gumbel": (lambda D, m, s: D.Gumbel(m, s), [np.array([0.2, -1.0, 0.5]), np.array([1.0, 2.0, 0.6])]),
    "Laplace": (lambda D, m, s: D.Laplace(m, s), [np.array([0.1, 1.0, -0.5]), np.array([0.5, 2.0, 1.1])]),
    "Normal": (lambda D, m, s: D.Normal(m, s), [np.array([0.3, -0.2, 0.5]), np.array([1.0, 0.4, 0.8])]),
    "Pareto": (lambda D, s, a: D.Pareto(s, a), [np.array([0.1, 0.5, 0.2]), np.array([3.0, 1.5, 0.8])]),
    "Uniform": (lambda D, lo, hi: D.Uniform(lo, hi), [np.array([0.0, -1.0, 0.2]),
                                                      np.array([1.0, 2.0, 0.7])]),
    "Poisson": (lambda D, r: D.Poisson(r), [np.array([1.0, 3.0, 0.5])]),
    "LowRankMultivariateNormal": (lambda D, m, W, d: D.LowRankMultivariateNormal(m, W, d),
                                  [randn(2, 3), randn(3, 2), _pos(3)]),
    "MultivariateNormal": (lambda D, m, L: D.MultivariateNormal(m, scale_tril=L),
                           [randn(3), _tril(2)]),
}
CROSS = sorted({(a.__name__, b.__name__) for a, b in TD.kl._KL_REGISTRY
                if a.__name__ in _MAKERS and b.__name__ in _MAKERS})


@pytest.mark.parametrize("pair", CROSS, ids=[f"{a}-{b}" for a, b in CROSS])
def test_kl_registry_pairs_match_torch(pair):
    (mp, pp), (mq, pq) = _MAKERS[pair[0]], _MAKERS[pair[1]]
    tp, tq = _lib_params(pp, torch), _lib_params(pq, torch)
    np_, nq = _lib_params(pp, nr), _lib_params(pq, nr)
    kt = TD.kl_divergence(mp(TD, *tp), mq(TD, *tq))
    kn = ND.kl_divergence(mp(ND, *np_), mq(ND, *nq))
    a, b = kn.detach().numpy(), kt.detach().numpy()
    assert a.shape == b.shape
    np.testing.assert_allclose(a, b, rtol=1e-6, atol=1e-9)
    finite = np.isfinite(b)
    if not kt.requires_grad or not finite.any():
        return
    w = np.where(finite, 1.0, 0.0)
    gt = torch.autograd.grad((torch.where(torch.tensor(finite), kt, 0) * torch.tensor(w)).sum(),
                             tp + tq, allow_unused=True)
    gn = nr.autograd.grad((nr.where(nr.tensor(finite), kn, 0.0) * nr.tensor(w)).sum(),
                          np_ + nq, allow_unused=True)
    for x, y in zip(gn, gt):
        if y is None:
            continue
        assert x is not None
        x, y = x.numpy(), y.numpy()
        if x.shape == finite.shape:  # per-entry parameters: compare where the KL is finite
            x, y = x[finite], y[finite]
        np.testing.assert_allclose(x, y, rtol=1e-5, atol=1e-8)


@pytest.mark.parametrize("spec", SPECS, ids=IDS)
def test_float32_dtypes_match_torch(spec):
    """With float32 parameters every output stays float32, as in torch."""
    _, ctor, params, _ = spec
    tp = [torch.tensor(a, dtype=torch.float32) for a in params]
    npar = [nr.tensor(a, dtype=nr.float32) for a in params]
    dt, dn = ctor(TD, *tp), ctor(ND, *npar)
    st, sn = dt.sample((2,)), dn.sample((2,))
    assert sn.dtype.name == str(st.dtype).replace("torch.", "")
    lt = dt.log_prob(st)
    ln = dn.log_prob(nr.tensor(st.numpy()))
    assert ln.dtype.name == str(lt.dtype).replace("torch.", "")
    np.testing.assert_allclose(ln.numpy(), lt.numpy(), rtol=2e-4, atol=2e-4)
    if dn.has_rsample:
        assert dn.rsample().dtype == nr.float32
