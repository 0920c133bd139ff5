"""narae.special against torch.special: forward values in float64 over whole domains (edges
included), gradients and gradchecks where torch defines them, none where it does not."""
import numpy as np
import pytest
import torch

import narae as nr
import narae.special as S
from helpers import check, randn, rand

# float64 values on which every unary function is compared, edges included
WIDE = np.concatenate([np.linspace(-30, 30, 241), [0.0, -0.0, 1e-8, -1e-8, 0.5, 1.0, -1.0,
                                                    17.0, 40.0, 700.0, -700.0, np.inf,
                                                    -np.inf, np.nan]])
POS = np.concatenate([np.geomspace(1e-6, 200, 120), [0.0, np.inf, np.nan, -1.0]])
UNIT = np.concatenate([np.linspace(0, 1, 101), [1e-300, 1e-20, 1 - 1e-12, -0.5, 1.5, np.nan]])

UNARY = {
    "ndtr": WIDE, "ndtri": UNIT, "log_ndtr": WIDE, "erfcx": WIDE, "entr": WIDE, "i0e": WIDE,
    "i1": np.clip(WIDE, -600, 600), "i1e": WIDE, "bessel_j0": WIDE[np.isfinite(WIDE)],
    "bessel_j1": WIDE[np.isfinite(WIDE)], "bessel_y0": POS[np.isfinite(POS)],
    "bessel_y1": POS[np.isfinite(POS)], "modified_bessel_i0": np.clip(WIDE, -600, 600),
    "modified_bessel_i1": np.clip(WIDE, -600, 600), "modified_bessel_k0": POS,
    "modified_bessel_k1": POS, "scaled_modified_bessel_k0": POS,
    "scaled_modified_bessel_k1": POS, "spherical_bessel_j0": WIDE,
    "airy_ai": np.linspace(-30, 30, 241), "expit": WIDE, "erf": WIDE, "erfc": WIDE,
    "erfinv": UNIT * 2 - 1, "exp2": WIDE, "expm1": WIDE, "log1p": POS, "gammaln": POS,
    "digamma": POS[POS != 0], "psi": POS[POS != 0], "i0": np.clip(WIDE, -600, 600),
    "sinc": WIDE, "round": WIDE * 3.3,
}


def _pair(name, x):
    ours = getattr(S, name)(nr.tensor(x))
    theirs = getattr(torch.special, name)(torch.tensor(x))
    return ours.numpy(), theirs.numpy()


@pytest.mark.parametrize("name", sorted(UNARY))
def test_unary_forward_float64_matches_torch(name):
    ours, theirs = _pair(name, UNARY[name])
    assert ours.dtype == theirs.dtype == np.float64
    # torch's Ai is accurate to ~1e-5 only near x = -2.5 (SciPy's, which we use, to ~1e-15)
    # torch's J/Y (Cephes) carry ~1e-9 absolute error near their zeros; its float64 ndtr
    # is accurate to ~1e-17 absolute in the left tail; narae's sigmoid is accurate to ~1e-13 absolute
    rtol = 3e-5 if name == "airy_ai" else 1e-9
    atol = {"ndtr": 1e-16, "expit": 1e-15}.get(name, 1e-6 if "bessel_" in name and
                                                 name[-2] in "jy" else 1e-300)
    np.testing.assert_allclose(ours, theirs, rtol=rtol, atol=atol, equal_nan=True)


@pytest.mark.parametrize("name", ["ndtr", "bessel_j0", "airy_ai", "modified_bessel_k1", "i1e",
                                  "spherical_bessel_j0", "entr", "erfcx"])
def test_unary_integer_input_gives_float32(name):
    x = np.array([1, 2, 3])
    ours = getattr(S, name)(nr.tensor(x))
    theirs = getattr(torch.special, name)(torch.tensor(x))
    assert ours.dtype == nr.float32 and theirs.dtype == torch.float32
    np.testing.assert_allclose(ours.numpy(), theirs.numpy(), rtol=1e-6)


# --- gradients --------------------------------------------------------------------------------
@pytest.mark.parametrize("name,make", [
    ("ndtr", lambda: randn(3, 4) * 2),
    ("ndtri", lambda: rand(3, 4, low=0.05, high=0.95)),
    ("log_ndtr", lambda: randn(3, 4) * 3),
    ("erfcx", lambda: rand(3, 4, low=-1.5, high=4.0)),
    ("entr", lambda: rand(3, 4, low=0.1, high=3.0)),
    ("i0e", lambda: randn(3, 4) * 3),
    ("i1", lambda: randn(3, 4) * 3),
    ("i1e", lambda: randn(3, 4) * 3),
    ("expit", lambda: randn(3, 4)),
    ("erf", lambda: randn(3, 4)),
    ("erfc", lambda: randn(3, 4)),
    ("erfinv", lambda: rand(3, 4, low=-0.9, high=0.9)),
    ("exp2", lambda: randn(3, 4)),
    ("expm1", lambda: randn(3, 4)),
    ("log1p", lambda: rand(3, 4, low=0.1, high=3.0)),
    ("gammaln", lambda: rand(3, 4, low=0.5, high=4.0)),
    ("digamma", lambda: rand(3, 4, low=0.5, high=4.0)),
    ("psi", lambda: rand(3, 4, low=0.5, high=4.0)),
    ("i0", lambda: randn(3, 4)),
    ("sinc", lambda: randn(3, 4)),
])
def test_unary_gradients(name, make):
    check(lambda m, x: getattr(m.special, name)(x), make(), double=True)


def test_log_ndtr_far_left_tail_value_and_gradient():
    x = np.array([-50.0, -20.0, -8.0, -1.0, 0.0, 5.0])
    xt = torch.tensor(x, requires_grad=True)
    xn = nr.tensor(x, requires_grad=True)
    torch.special.log_ndtr(xt).sum().backward()
    S.log_ndtr(xn).sum().backward()
    np.testing.assert_allclose(S.log_ndtr(nr.tensor(x)).numpy(),
                               torch.special.log_ndtr(torch.tensor(x)).numpy(), rtol=1e-12)
    np.testing.assert_allclose(xn.grad.numpy(), xt.grad.numpy(), rtol=1e-10)
    assert np.isfinite(xn.grad.numpy()).all()


def test_i1_and_i1e_gradient_at_zero():
    for name in ("i1", "i1e"):
        x = nr.tensor([0.0, 1.0], requires_grad=True)
        getattr(S, name)(x).sum().backward()
        xt = torch.tensor([0.0, 1.0], dtype=torch.float64, requires_grad=True)
        getattr(torch.special, name)(xt.float().double()).sum().backward()
        np.testing.assert_allclose(x.grad.numpy(), xt.grad.numpy(), rtol=1e-5)


def test_xlog1py_gradients_and_broadcasting():
    check(lambda m, x, y: m.special.xlog1py(x, y), randn(3, 4), rand(4, low=-0.5, high=2.0),
          double=True)
    check(lambda m, x: m.special.xlog1py(x, 2.0), randn(2, 3))
    check(lambda m, y: m.special.xlog1py(3.0, y), rand(2, 3, low=0.1, high=2.0))


def test_xlog1py_zero_input_edges():
    x = np.array([0.0, 0.0, 0.0, 1.0, 2.0])
    y = np.array([-1.0, np.nan, 3.0, -1.0, -2.0])
    ours = S.xlog1py(nr.tensor(x), nr.tensor(y)).numpy()
    theirs = torch.special.xlog1py(torch.tensor(x), torch.tensor(y)).numpy()
    np.testing.assert_array_equal(ours, theirs)


def test_zeta_forward_and_gradient_in_q_only():
    s = np.array([2.0, 3.0, 1.5, 1.0, 0.5, 4.0, 2.0, 3.5, 10.0])
    q = np.array([1.0, 0.3, 2.5, 1.0, 1.0, -1.5, -2.0, 5.0, 0.1])
    ours = S.zeta(nr.tensor(s), nr.tensor(q)).numpy()
    theirs = torch.special.zeta(torch.tensor(s), torch.tensor(q)).numpy()
    np.testing.assert_allclose(ours, theirs, rtol=1e-10, equal_nan=True)
    check(lambda m, x, q: m.special.zeta(x, q), rand(3, 4, low=1.5, high=4.0),
          rand(4, low=0.5, high=3.0), diff=[1], double=True)
    check(lambda m, q: m.special.zeta(2.5, q), rand(3, low=0.5, high=3.0))
    check(lambda m, x: m.special.zeta(x, 2.0), rand(3, low=1.5, high=3.0), grad=False)


def test_zeta_gradient_in_x_raises_like_torch():
    x = nr.tensor([2.0, 3.0], requires_grad=True)
    with pytest.raises(RuntimeError, match="zeta"):
        S.zeta(x, nr.tensor([1.0, 2.0])).sum().backward()


@pytest.mark.parametrize("name", ["bessel_j0", "bessel_j1", "bessel_y0", "bessel_y1",
                                  "modified_bessel_i0", "modified_bessel_i1",
                                  "modified_bessel_k0", "modified_bessel_k1",
                                  "scaled_modified_bessel_k0", "scaled_modified_bessel_k1",
                                  "spherical_bessel_j0", "airy_ai"])
def test_bessel_and_airy_have_no_gradient_like_torch(name):
    x = nr.tensor([0.5, 1.5], requires_grad=True)
    assert not getattr(S, name)(x).requires_grad
    assert not getattr(torch.special, name)(torch.tensor([0.5, 1.5],
                                                         requires_grad=True)).requires_grad


# --- aliases with extra arguments -------------------------------------------------------------
def test_aliases_with_arguments():
    check(lambda m, x: m.special.logit(x), rand(3, 4, low=0.05, high=0.95), double=True)
    check(lambda m, x: m.special.logit(x, eps=0.2), rand(3, 4))
    check(lambda m, x: m.special.polygamma(1, x), rand(3, 4, low=0.5, high=3.0))
    check(lambda m, x: m.special.multigammaln(x, 3), rand(3, 4, low=1.5, high=4.0))
    check(lambda m, x, y: m.special.xlogy(x, y), randn(3, 4), rand(3, 4, low=0.1))
    check(lambda m, x: m.special.softmax(x, -1), randn(3, 4), double=True)
    check(lambda m, x: m.special.log_softmax(x, 0), randn(3, 4), double=True)
    check(lambda m, x: m.special.softmax(x, 1, dtype=m.float64), randn(3, 4), gradcheck=False)
    check(lambda m, x: m.special.logsumexp(x, -1), randn(3, 4), double=True)
    check(lambda m, x: m.special.logsumexp(x, (0, 1), keepdim=True), randn(3, 4))
    x = np.array([1.2345, -2.5, 3.5, 0.125])
    np.testing.assert_array_equal(S.round(nr.tensor(x), decimals=2).numpy(),
                                  torch.special.round(torch.tensor(x), decimals=2).numpy())
    assert S.psi is S.digamma


def test_gammainc_and_gammaincc():
    pytest.importorskip("narae.ops.incomplete_gamma")
    if not hasattr(nr, "igamma"):
        pytest.skip("narae.igamma is not there yet")
    a, x = rand(3, 4, low=0.5, high=4.0), rand(3, 4, low=0.1, high=5.0)
    for name in ("gammainc", "gammaincc"):
        ours = getattr(S, name)(nr.tensor(a), nr.tensor(x)).numpy()
        theirs = getattr(torch.special, name)(torch.tensor(a), torch.tensor(x)).numpy()
        np.testing.assert_allclose(ours, theirs, rtol=1e-10)
        check(lambda m, a, x: getattr(m.special, name)(a, x), a, x, diff=[1])


# --- orthogonal polynomials ---------------------------------------------------------------------
POLYS = ["chebyshev_polynomial_t", "chebyshev_polynomial_u", "chebyshev_polynomial_v",
         "chebyshev_polynomial_w", "shifted_chebyshev_polynomial_t",
         "shifted_chebyshev_polynomial_u", "shifted_chebyshev_polynomial_v",
         "shifted_chebyshev_polynomial_w", "hermite_polynomial_h", "hermite_polynomial_he",
         "laguerre_polynomial_l", "legendre_polynomial_p"]


@pytest.mark.parametrize("name", POLYS)
def test_polynomials_match_torch(name):
    x = np.concatenate([np.linspace(-1.0, 1.0, 21), [0.0, 1.0, -1.0, 0.5, 1.5, -2.0]])
    n = np.arange(-2, 13)
    xx, nn = np.meshgrid(x, n)
    ours = getattr(S, name)(nr.tensor(xx), nr.tensor(nn)).numpy()
    theirs = getattr(torch.special, name)(torch.tensor(xx), torch.tensor(nn)).numpy()
    assert ours.dtype == theirs.dtype
    np.testing.assert_allclose(ours, theirs, rtol=1e-9, atol=1e-9)
    # a number for n, a number for x, broadcasting, float degrees (truncated) and float32
    for args in ((xx, 4), (0.3, nn), (x[:, None], np.array([0.0, 2.7, 5.0]))):
        o = getattr(S, name)(*[nr.tensor(a) if isinstance(a, np.ndarray) else a for a in args])
        t = getattr(torch.special, name)(*[torch.tensor(a) if isinstance(a, np.ndarray) else a
                                           for a in args])
        tol = 1e-9 if o.dtype == nr.float64 else 2e-6
        np.testing.assert_allclose(o.numpy(), t.numpy(), rtol=tol, atol=tol)
        assert o.dtype.name == str(t.dtype).replace("torch.", "")
    x32 = x.astype(np.float32)
    o = getattr(S, name)(nr.tensor(x32), 3)
    t = getattr(torch.special, name)(torch.tensor(x32), 3)
    assert o.dtype == nr.float32
    np.testing.assert_allclose(o.numpy(), t.numpy(), rtol=1e-5, atol=1e-5)
    assert not getattr(S, name)(nr.tensor(x, requires_grad=True), 3).requires_grad


def test_polynomial_high_degree():
    x = np.linspace(-1, 1, 9)
    for name in ("chebyshev_polynomial_t", "legendre_polynomial_p"):
        o = getattr(S, name)(nr.tensor(x), 60).numpy()
        t = getattr(torch.special, name)(torch.tensor(x), 60).numpy()
        np.testing.assert_allclose(o, t, rtol=1e-8, atol=1e-10)


# --- out=, errors ---------------------------------------------------------------------------------
def test_out_argument():
    x = nr.tensor([0.5, 1.0, 2.0])
    out = nr.empty(3)
    res = S.ndtr(x, out=out)
    assert res is out
    np.testing.assert_allclose(out.numpy(), torch.special.ndtr(torch.tensor([0.5, 1.0, 2.0])))
    out = nr.empty(0)
    S.chebyshev_polynomial_t(x, 2, out=out)
    assert out.shape == (3,)
    with pytest.raises(RuntimeError, match="out="):
        S.erfcx(nr.tensor([1.0], requires_grad=True), out=nr.empty(1, requires_grad=True))


def test_errors_name_op_and_shapes():
    with pytest.raises(TypeError, match="ndtr"):
        S.ndtr([1.0, 2.0])
    with pytest.raises(RuntimeError, match=r"xlog1py.*\(3,\).*\(2,\)"):
        S.xlog1py(nr.ones(3), nr.ones(2))
    with pytest.raises(RuntimeError, match=r"zeta.*\(2, 3\).*\(2,\)"):
        S.zeta(nr.ones(2, 3), nr.ones(2))
    with pytest.raises(RuntimeError, match=r"chebyshev_polynomial_t.*\(3,\).*\(4,\)"):
        S.chebyshev_polynomial_t(nr.ones(3), nr.ones(4))
    with pytest.raises(TypeError, match="hermite_polynomial_h"):
        S.hermite_polynomial_h(0.5, 3)


def test_everything_in_torch_special_exists():
    names = [n for n in S.__all__]
    assert sorted(names) == sorted(set(names))
    missing = [n for n in dir(torch.special) if not n.startswith("_") and
               callable(getattr(torch.special, n)) and n not in ("Tensor",) and
               not hasattr(S, n)]
    assert missing == []


def test_fallbacks_without_scipy_match():
    """The SciPy-free array code (used on a CuPy lacking a name, or without SciPy)."""
    import narae.special as mod
    x = np.concatenate([np.linspace(-30, 30, 121), [0.0, 1e-8, 17.0, 40.0, 700.0]])
    pos = np.geomspace(1e-4, 300, 60)
    sp = pytest.importorskip("scipy.special")  # the reference: more accurate than torch's
    refs = {"_fb_j0": (sp.j0, x), "_fb_j1": (sp.j1, x), "_fb_y0": (sp.y0, pos),
            "_fb_y1": (sp.y1, pos), "_fb_i0e": (sp.i0e, x), "_fb_i1e": (sp.i1e, x),
            "_fb_k0e": (sp.k0e, pos), "_fb_k1e": (sp.k1e, pos), "_fb_k0": (sp.k0, pos),
            "_fb_k1": (sp.k1, pos), "_fb_erfcx": (sp.erfcx, x), "_fb_log_ndtr": (sp.log_ndtr, x),
            "_fb_ndtr": (sp.ndtr, x), "_fb_airy": (lambda v: sp.airy(v)[0], x)}
    for fb, (ref, v) in refs.items():
        with np.errstate(all="ignore"):
            got = getattr(mod, fb)(np, v)
        np.testing.assert_allclose(got, ref(v), rtol=1e-8, atol=1e-9, err_msg=fb)
    p = np.linspace(0.01, 0.99, 21)
    np.testing.assert_allclose(mod._fb_ndtri(np, p), sp.ndtri(p), rtol=1e-10)
    s, q = rand(5, low=1.5, high=6.0), rand(5, low=0.2, high=4.0)
    np.testing.assert_allclose(mod._fb_zeta(np, s, q), sp.zeta(s, q), rtol=1e-10)
