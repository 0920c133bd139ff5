"""narae.distributions.transforms and constraints against torch's."""
import numpy as np
import pytest
import torch

import narae as nr
from helpers import check, randn, rand

ND, TD = nr.distributions, torch.distributions
NT, TT = ND.transforms, TD.transforms
NC, TC = ND.constraints, TD.constraints

TRANSFORMS = [
    ("exp", lambda T: T.ExpTransform(), randn(2, 3)),
    ("affine", lambda T: T.AffineTransform(0.5, -2.0), randn(2, 3)),
    ("affine-event", lambda T: T.AffineTransform(0.5, 3.0, event_dim=1), randn(2, 3)),
    ("sigmoid", lambda T: T.SigmoidTransform(), randn(2, 3)),
    ("tanh", lambda T: T.TanhTransform(), randn(2, 3)),
    ("softplus", lambda T: T.SoftplusTransform(), randn(2, 3)),
    ("power", lambda T: T.PowerTransform(2.5), rand(2, 3, low=0.2, high=2.0)),
    ("compose", lambda T: T.ComposeTransform([T.AffineTransform(0.1, 0.5), T.ExpTransform(),
                                              T.PowerTransform(0.5)]), randn(2, 3)),
    ("independent", lambda T: T.IndependentTransform(T.TanhTransform(), 1), randn(2, 3)),
    ("stick_breaking", lambda T: T.StickBreakingTransform(), randn(2, 3)),
    ("lower_cholesky", lambda T: T.LowerCholeskyTransform(), randn(2, 3, 3)),
    ("reshape", lambda T: T.ReshapeTransform((2, 3), (3, 2)), randn(4, 2, 3)),
    ("cdf", lambda T: T.CumulativeDistributionTransform(
        (TD if T is TT else ND).Normal(0.5, 2.0)), randn(2, 3)),
    ("corr_cholesky", lambda T: T.CorrCholeskyTransform(), randn(2, 6)),
    ("cat", lambda T: T.CatTransform([T.ExpTransform(), T.AffineTransform(1.0, 3.0)], dim=1,
                                     lengths=[1, 2]), randn(2, 3)),
    ("stack", lambda T: T.StackTransform([T.ExpTransform(), T.TanhTransform(),
                                          T.SigmoidTransform()], dim=-1), randn(2, 3)),
]
NO_LADJ = {"lower_cholesky"}  # not bijective: torch defines no log|det J|



@pytest.mark.parametrize("name, make, x", TRANSFORMS, ids=[t[0] for t in TRANSFORMS])
def test_transform_matches_torch(name, make, x):
    tn, tt = make(NT), make(TT)
    xn, xt = nr.tensor(x), torch.tensor(x)
    yn, yt = tn(xn), tt(xt)
    np.testing.assert_allclose(yn.numpy(), yt.numpy(), rtol=1e-10)
    np.testing.assert_allclose(tn.inv(yn).numpy(), tt.inv(yt).numpy(), rtol=1e-8, atol=1e-12)
    if name not in NO_LADJ:
        _compare_ladj(tn, tt, xn, xt, yn, yt)
    assert tn.bijective == tt.bijective
    assert tn.domain.event_dim == tt.domain.event_dim
    assert tn.codomain.event_dim == tt.codomain.event_dim
    if name not in ("cat", "stack"):
        assert repr(tn.domain) == repr(tt.domain) and repr(tn.codomain) == repr(tt.codomain)
    assert tn.inv.inv is tn
    if tn.bijective and name not in ("independent", "stick_breaking", "reshape",
                                     "corr_cholesky", "cat", "stack"):
        sn, st = tn.sign, tt.sign
        np.testing.assert_array_equal(np.asarray(sn.numpy() if hasattr(sn, "numpy") else sn),
                                      np.asarray(st.numpy() if hasattr(st, "numpy") else st))
    shape = tuple(x.shape)
    assert tuple(tn.forward_shape(shape)) == tuple(tt.forward_shape(shape))
    out = tuple(tt.forward_shape(shape))
    assert tuple(tn.inverse_shape(out)) == tuple(tt.inverse_shape(out))


def _compare_ladj(tn, tt, xn, xt, yn, yt):
    np.testing.assert_allclose(tn.log_abs_det_jacobian(xn, yn).numpy(),
                               tt.log_abs_det_jacobian(xt, yt).numpy(), rtol=1e-8, atol=1e-12)
    np.testing.assert_allclose(tn.inv.log_abs_det_jacobian(yn, xn).numpy(),
                               tt.inv.log_abs_det_jacobian(yt, xt).numpy(), rtol=1e-8,
                               atol=1e-12)


@pytest.mark.parametrize("name, make, x", TRANSFORMS[:7], ids=[t[0] for t in TRANSFORMS[:7]])
def test_log_abs_det_jacobian_is_the_derivative(name, make, x):
    """For elementwise maps, log|dy/dx| from autograd equals the closed form."""
    t = make(NT)
    xn = nr.tensor(x, requires_grad=True)
    y = t(xn)
    (g,) = nr.autograd.grad(y.sum(), [xn])
    ladj = t.log_abs_det_jacobian(xn, y)
    if name == "affine-event":
        np.testing.assert_allclose(ladj.numpy(), np.log(3.0) * 3 * np.ones(2))
    else:
        np.testing.assert_allclose(ladj.detach().numpy(), np.log(np.abs(g.numpy())), rtol=1e-7,
                                   atol=1e-10)


def test_transform_gradients_and_double_backward():
    check(lambda m, x: m.distributions.TanhTransform().log_abs_det_jacobian(
        x, m.distributions.TanhTransform()(x)), randn(3, 4), double=True)
    check(lambda m, x: m.distributions.SigmoidTransform().log_abs_det_jacobian(
        x, m.distributions.SigmoidTransform()(x)), randn(3, 4), double=True)


def test_stick_breaking_log_det_matches_autograd_jacobian():
    """StickBreaking maps R^(K-1) to K-vectors; its density factor is det of the Jacobian of
    x -> y[:-1] (the last entry is determined)."""
    x = randn(3)
    t = NT.StickBreakingTransform()
    jac = torch.autograd.functional.jacobian(
        lambda v: TT.StickBreakingTransform()(v)[:-1], torch.tensor(x)).numpy()
    expected = np.log(abs(np.linalg.det(jac)))
    xn = nr.tensor(x)
    np.testing.assert_allclose(t.log_abs_det_jacobian(xn, t(xn)).item(), expected, rtol=1e-10)
    np.testing.assert_allclose(t(xn).sum().item(), 1.0)
    np.testing.assert_allclose(t(nr.zeros(3)).numpy(), np.full(4, 0.25), rtol=1e-6)


def test_positive_definite_transform():
    x = randn(2, 3, 3)
    tn, tt = NT.PositiveDefiniteTransform(), TT.PositiveDefiniteTransform()
    yn, yt = tn(nr.tensor(x)), tt(torch.tensor(x))
    np.testing.assert_allclose(yn.numpy(), yt.numpy(), rtol=1e-10)
    np.testing.assert_allclose(tn.inv(yn).numpy(), tt.inv(yt).numpy(), rtol=1e-8, atol=1e-12)
    assert bool(NC.positive_definite.check(yn).all())


REGISTRY_CASES = [
    lambda C: C.real, lambda C: C.positive, lambda C: C.nonnegative,
    lambda C: C.greater_than(2.0), lambda C: C.greater_than_eq(-1.0), lambda C: C.less_than(1.0),
    lambda C: C.unit_interval, lambda C: C.interval(-1.0, 3.0), lambda C: C.half_open_interval(0.0, 1.0),
    lambda C: C.simplex, lambda C: C.real_vector, lambda C: C.lower_cholesky,
    lambda C: C.positive_definite, lambda C: C.independent(C.positive, 1),
    lambda C: C.corr_cholesky,
]


@pytest.mark.parametrize("make", REGISTRY_CASES)
@pytest.mark.parametrize("which", ["biject_to", "transform_to"])
def test_biject_to_and_transform_to_match_torch(make, which):
    cn, ct = make(NC), make(TC)
    try:
        tt = getattr(TD, which)(ct)
    except NotImplementedError:
        with pytest.raises(NotImplementedError, match="Cannot transform"):
            getattr(ND, which)(cn)
        return
    tn = getattr(ND, which)(cn)
    assert repr(tn) == repr(tt)
    x = randn(2, 3) if cn.event_dim < 2 or repr(cn) == "CorrCholesky()" else randn(2, 3, 3)
    yn, yt = tn(nr.tensor(x)), tt(torch.tensor(x))
    np.testing.assert_allclose(yn.numpy(), yt.numpy(), rtol=1e-10)
    assert bool(cn.check(yn).all())
    if tn.bijective:
        np.testing.assert_allclose(tn.inv(yn).numpy(), x, rtol=1e-6, atol=1e-8)


def test_softmax_transform_and_cache():
    x = randn(2, 4)
    tn, tt = NT.SoftmaxTransform(), TT.SoftmaxTransform()
    np.testing.assert_allclose(tn(nr.tensor(x)).numpy(), tt(torch.tensor(x)).numpy(), rtol=1e-12)
    np.testing.assert_allclose(tn.inv(tn(nr.tensor(x))).numpy(),
                               tt.inv(tt(torch.tensor(x))).numpy(), rtol=1e-10)
    cached = NT.ExpTransform(cache_size=1)
    xn = nr.tensor(x)
    y = cached(xn)
    assert cached.inv(y) is xn
    assert cached(xn) is y
    with pytest.raises(ValueError):
        NT.ExpTransform(cache_size=2)
    assert NT.ExpTransform() == NT.ExpTransform() and NT.ExpTransform() != NT.TanhTransform()
    assert NT.identity_transform(xn) is xn


CONSTRAINTS = [
    ("real", lambda C: C.real, randn(3, 4)),
    ("positive", lambda C: C.positive, randn(3, 4)),
    ("nonnegative", lambda C: C.nonnegative, np.array([0.0, -1.0, 2.0])),
    ("unit_interval", lambda C: C.unit_interval, rand(3, 4, low=-0.5, high=1.5)),
    ("interval", lambda C: C.interval(-1.0, 2.0), randn(3, 4)),
    ("half_open_interval", lambda C: C.half_open_interval(0.0, 1.0), np.array([0.0, 1.0, 0.5])),
    ("greater_than", lambda C: C.greater_than(0.5), randn(3, 4)),
    ("greater_than_eq", lambda C: C.greater_than_eq(0.5), np.array([0.5, 0.4, 0.6])),
    ("less_than", lambda C: C.less_than(0.5), randn(3, 4)),
    ("boolean", lambda C: C.boolean, np.array([0.0, 1.0, 0.5])),
    ("integer_interval", lambda C: C.integer_interval(0, 3), np.array([0.0, 3.0, 4.0, 1.5])),
    ("nonnegative_integer", lambda C: C.nonnegative_integer, np.array([0.0, -1.0, 2.0, 1.5])),
    ("positive_integer", lambda C: C.positive_integer, np.array([0.0, 1.0, 2.0])),
    ("simplex", lambda C: C.simplex, np.array([[0.2, 0.8], [0.5, 0.6], [-0.1, 1.1]])),
    ("one_hot", lambda C: C.one_hot, np.array([[0.0, 1.0], [1.0, 1.0], [0.0, 0.0]])),
    ("real_vector", lambda C: C.real_vector, np.array([[0.0, np.nan], [1.0, 2.0]])),
    ("independent", lambda C: C.independent(C.positive, 1), np.array([[1.0, 2.0], [1.0, -1.0]])),
    ("lower_cholesky", lambda C: C.lower_cholesky,
     np.array([[[1.0, 0.0], [0.5, 2.0]], [[1.0, 0.1], [0.5, 2.0]], [[-1.0, 0.0], [0.5, 2.0]]])),
    ("lower_triangular", lambda C: C.lower_triangular,
     np.array([[[1.0, 0.0], [0.5, 2.0]], [[1.0, 0.1], [0.5, 2.0]]])),
    ("positive_definite", lambda C: C.positive_definite,
     np.array([[[2.0, 0.5], [0.5, 1.0]], [[1.0, 2.0], [2.0, 1.0]]])),
    ("positive_semidefinite", lambda C: C.positive_semidefinite,
     np.array([[[1.0, 1.0], [1.0, 1.0]], [[1.0, 2.0], [2.0, 1.0]]])),
    ("symmetric", lambda C: C.symmetric, np.array([[[1.0, 2.0], [2.0, 1.0]],
                                                    [[1.0, 2.0], [3.0, 1.0]]])),
    ("multinomial", lambda C: C.multinomial(3), np.array([[1.0, 2.0], [2.0, 2.0]])),
]


@pytest.mark.parametrize("name, make, x", CONSTRAINTS, ids=[c[0] for c in CONSTRAINTS])
def test_constraint_check_matches_torch(name, make, x):
    cn, ct = make(NC), make(TC)
    a, b = cn.check(nr.tensor(x)), ct.check(torch.tensor(x))
    np.testing.assert_array_equal(a.numpy(), b.numpy())
    assert cn.is_discrete == ct.is_discrete and cn.event_dim == ct.event_dim
    assert repr(cn) == repr(ct)


def test_cat_and_stack_constraints_and_registry():
    cn = NC.cat([NC.positive, NC.interval(0.0, 1.0)], dim=-1, lengths=[2, 1])
    ct = TC.cat([TC.positive, TC.interval(0.0, 1.0)], dim=-1, lengths=[2, 1])
    x = np.array([[1.0, 2.0, 0.5], [-1.0, 2.0, 1.5]])
    np.testing.assert_array_equal(cn.check(nr.tensor(x)).numpy(), ct.check(torch.tensor(x)).numpy())
    tn, tt = ND.biject_to(cn), TD.biject_to(ct)
    z = randn(2, 3)
    np.testing.assert_allclose(tn(nr.tensor(z)).numpy(), tt(torch.tensor(z)).numpy(), rtol=1e-10)
    sn = NC.stack([NC.positive, NC.real], dim=-1)
    st = TC.stack([TC.positive, TC.real], dim=-1)
    y = np.array([[1.0, -2.0], [-1.0, 0.0]])
    np.testing.assert_array_equal(sn.check(nr.tensor(y)).numpy(), st.check(torch.tensor(y)).numpy())
    np.testing.assert_allclose(ND.transform_to(sn)(nr.tensor(y)).numpy(),
                               TD.transform_to(st)(torch.tensor(y)).numpy(), rtol=1e-10)


def test_mixture_same_family_constraint():
    mix = ND.MixtureSameFamily(ND.Categorical(nr.ones(3)), ND.Gamma(nr.ones(3), nr.ones(3)))
    assert repr(mix.support) == "MixtureSameFamilyConstraint(GreaterThanEq(lower_bound=0.0))"
    np.testing.assert_array_equal(mix.support.check(nr.tensor([1.0, -1.0])).numpy(),
                                  [True, False])


def test_dependent_constraints():
    assert NC.is_dependent(NC.dependent) and not NC.is_dependent(NC.real)
    with pytest.raises(ValueError):
        NC.dependent.check(nr.zeros(2))
    with pytest.raises(NotImplementedError):
        NC.dependent.event_dim
    assert NC.is_dependent(ND.Uniform.support)
    assert ND.Uniform.support.event_dim == 0
