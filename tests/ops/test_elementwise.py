"""narae/ops/elementwise.py against torch: forward, gradients, in-place forms, errors."""
import sys

import numpy as np
import pytest
import torch

import narae as nr
from helpers import check, randn, rand
from narae.ops import elementwise as E


def _same(ours, theirs, atol=1e-6):
    o = ours._data if isinstance(ours, nr.Tensor) else np.asarray(ours)
    t = theirs.detach().numpy(force=True)
    assert o.shape == t.shape, (o.shape, t.shape)
    assert str(ours.dtype).replace("narae.", "") == str(theirs.dtype).replace("torch.", ""), \
        (ours.dtype, theirs.dtype)
    if t.dtype.kind in "biu":
        np.testing.assert_array_equal(o, t)
    else:
        np.testing.assert_allclose(o, t, atol=atol, rtol=1e-5, equal_nan=True)


def _both(array):
    return nr.from_numpy(np.array(array)), torch.from_numpy(np.array(array))


# --- differentiable unary ops --------------------------------------------------------------
UNARY = [
    ("acos", lambda: rand(3, 4, low=-0.9, high=0.9)),
    ("asin", lambda: rand(3, 4, low=-0.9, high=0.9)),
    ("atan", lambda: randn(3, 4)),
    ("acosh", lambda: rand(3, 4, low=1.2, high=3.0)),
    ("asinh", lambda: randn(3, 4)),
    ("atanh", lambda: rand(3, 4, low=-0.9, high=0.9)),
    ("arccos", lambda: rand(3, 4, low=-0.9, high=0.9)),
    ("arcsin", lambda: rand(3, 4, low=-0.9, high=0.9)),
    ("arctan", lambda: randn(3, 4)),
    ("arccosh", lambda: rand(3, 4, low=1.2, high=3.0)),
    ("arcsinh", lambda: randn(3, 4)),
    ("arctanh", lambda: rand(3, 4, low=-0.9, high=0.9)),
    ("sinh", lambda: randn(3, 4)),
    ("cosh", lambda: randn(3, 4)),
    ("sinc", lambda: randn(3, 4)),
    ("deg2rad", lambda: randn(3, 4) * 90),
    ("rad2deg", lambda: randn(3, 4)),
    ("exp2", lambda: randn(3, 4)),
    ("frac", lambda: randn(3, 4) * 3),
    ("erfc", lambda: randn(3, 4)),
    ("erfinv", lambda: rand(3, 4, low=-0.9, high=0.9)),
    ("lgamma", lambda: rand(3, 4, low=0.2, high=5.0)),
    ("digamma", lambda: rand(3, 4, low=0.3, high=5.0)),
    ("i0", lambda: randn(3, 4) * 2),
    ("logit", lambda: rand(3, 4, low=0.05, high=0.95)),
]


@pytest.mark.parametrize("name,make", UNARY, ids=[u[0] for u in UNARY])
def test_unary_matches_torch(name, make):
    check(lambda m, x: getattr(m, name)(x), make(), double=True, atol=1e-4)


@pytest.mark.parametrize("name,make", UNARY[:14] + UNARY[19:25], ids=[
    u[0] for u in UNARY[:14] + UNARY[19:25]])
def test_unary_method_and_integer_input(name, make):
    x = make().astype(np.float32)
    a, b = _both(x)
    _same(getattr(a, name)(), getattr(b, name)(), atol=1e-5)
    ai, bi = _both(np.array([1, 2, 3], dtype=np.int64))
    if name in ("acos", "asin", "atanh", "arccos", "arcsin", "arctanh", "erfinv", "logit"):
        ai, bi = _both(np.array([0, 1, 0], dtype=np.int32))
    _same(getattr(nr, name)(ai), getattr(torch, name)(bi), atol=1e-5)


def test_digamma_polygamma_at_special_points():
    a, b = _both(np.array([0.0, -0.0, -1.0, -1.5, 2.5, 1e-3], dtype=np.float32))
    _same(nr.digamma(a), torch.digamma(b), atol=1e-3)
    a, b = _both(np.array([0.0, -1.0, -1.5, np.inf, -np.inf, np.nan, 1e-3], dtype=np.float64))
    _same(nr.lgamma(a), torch.lgamma(b))


@pytest.mark.parametrize("n", [0, 1, 2, 3])
def test_polygamma(n):
    check(lambda m, x: m.polygamma(n, x), rand(3, 4, low=0.5, high=4.0), double=n < 2,
          atol=1e-4, rtol=1e-3)
    a, b = _both(rand(5, low=0.5, high=3.0).astype(np.float32))
    _same(a.polygamma(n), b.polygamma(n), atol=1e-4)


def test_polygamma_errors():
    x = nr.ones(3)
    with pytest.raises(RuntimeError, match="negative n"):
        nr.polygamma(-1, x)
    with pytest.raises(TypeError, match="'n' must be int"):
        nr.polygamma(1.5, x)


@pytest.mark.parametrize("p", [1, 2, 4])
def test_mvlgamma(p):
    check(lambda m, x: m.mvlgamma(x, p), rand(2, 3, low=2.0, high=5.0), double=True, atol=1e-4)
    a, b = _both(rand(4, low=2.0, high=4.0))
    _same(a.mvlgamma(p), b.mvlgamma(p))
    with pytest.raises(RuntimeError, match="p has to be greater than or equal to 1"):
        nr.mvlgamma(nr.ones(2), 0)


def test_logit_eps_and_edges():
    x = np.array([-0.5, 0.0, 0.05, 0.5, 0.95, 1.0, 1.5, 0.3])
    check(lambda m, x: m.logit(x, eps=0.1), rand(3, 4, low=0.01, high=0.99), double=True)
    for eps in (None, 0.1):
        a = nr.tensor(x, requires_grad=True)
        b = torch.tensor(x, requires_grad=True)
        ya, yb = nr.logit(a, eps), torch.logit(b, eps)
        _same(ya, yb)
        ya.sum().backward()
        yb.sum().backward()
        _same(a.grad, b.grad)


def test_sinc_at_zero():
    a = nr.tensor([0.0, 1.0, -2.5], requires_grad=True)
    b = torch.tensor([0.0, 1.0, -2.5], requires_grad=True)
    nr.sinc(a).sum().backward()
    torch.sinc(b).sum().backward()
    _same(nr.sinc(a.detach()), torch.sinc(b.detach()))
    _same(a.grad, b.grad, atol=1e-5)


def test_erfinv_edges():
    a, b = _both(np.array([-1.0, 1.0, 1.5, 0.0, -0.999], dtype=np.float32))
    _same(nr.erfinv(a), torch.erfinv(b), atol=1e-4)


# --- differentiable binary ops -------------------------------------------------------------
BINARY = [
    ("atan2", randn, randn),
    ("arctan2", randn, randn),
    ("hypot", randn, randn),
    ("logaddexp", randn, randn),
    ("logaddexp2", randn, randn),
    ("xlogy", randn, lambda *s: rand(*s, low=0.2, high=3.0)),
    ("copysign", randn, randn),
    ("fmax", randn, randn),
    ("fmin", randn, randn),
    ("ldexp", randn, randn),
    ("float_power", lambda *s: rand(*s, low=0.3, high=2.0), randn),
]


@pytest.mark.parametrize("name,ma,mb", BINARY, ids=[b[0] for b in BINARY])
def test_binary_matches_torch(name, ma, mb):
    double = name not in ("copysign", "fmax", "fmin")
    check(lambda m, a, b: getattr(m, name)(a, b), ma(3, 4), mb(3, 4), double=double, atol=1e-4)
    # broadcasting, both ways round
    check(lambda m, a, b: getattr(m, name)(a, b), ma(2, 3, 4), mb(4), atol=1e-4)
    check(lambda m, a, b: getattr(m, name)(a, b), ma(3, 1), mb(2, 1, 4), atol=1e-4)


@pytest.mark.parametrize("name", ["atan2", "hypot", "copysign", "fmax", "fmin", "xlogy"])
def test_binary_subgradients_at_zero_ties_and_nan(name):
    xs = np.array([0.0, 0.0, 1.0, -2.0, 2.0, 1.0, np.nan])
    ys = np.array([0.0, 1.0, 0.0, -0.0, 2.0, np.nan, 1.0])
    a, b = nr.tensor(xs, requires_grad=True), nr.tensor(ys, requires_grad=True)
    ta, tb = torch.tensor(xs, requires_grad=True), torch.tensor(ys, requires_grad=True)
    oa, ob = getattr(nr, name)(a, b), getattr(torch, name)(ta, tb)
    _same(oa, ob)
    ga = nr.autograd.grad(oa.sum(), [a, b], allow_unused=True)
    gb = torch.autograd.grad(ob.sum(), [ta, tb], allow_unused=True)
    for g, t in zip(ga, gb):
        if t is None:
            assert g is None or not np.any(g._data)
        else:
            _same(g, t)


def test_xlogy_with_numbers():
    check(lambda m, y: m.xlogy(2.0, y), rand(3, 4, low=0.2, high=2.0))
    check(lambda m, x: m.xlogy(x, 3.0), randn(3, 4))
    a, b = _both(np.array([0, 1, 2]))
    _same(nr.xlogy(a, a), torch.xlogy(b, b))


def test_copysign_number_and_float_power_numbers():
    check(lambda m, x: m.copysign(x, -1.0), randn(3, 4))
    check(lambda m, x: m.float_power(x, 2), randn(3, 4), double=True)
    check(lambda m, x: m.float_power(2, x), randn(3, 4), double=True)
    check(lambda m, x: x.float_power(0.5), rand(3, 4, low=0.5, high=2.0))
    a, b = _both(np.array([1, 2, 3]))
    _same(nr.float_power(a, 2), torch.float_power(b, 2))


def test_integer_promotion_of_binary_ops():
    a, b = _both(np.array([[1, -2, 3]], dtype=np.int64))
    c, d = _both(np.array([[2], [0]], dtype=np.int32))
    for name in ("atan2", "xlogy", "copysign", "ldexp", "fmax", "fmin"):
        _same(getattr(nr, name)(a, c), getattr(torch, name)(b, d))
    for name in ("hypot", "logaddexp", "logaddexp2", "nextafter"):
        with pytest.raises(RuntimeError, match="floating"):
            getattr(nr, name)(a, c)


def test_binary_shape_and_type_errors():
    a, b = nr.ones(3, 4), nr.ones(5)
    for name in ("atan2", "hypot", "logaddexp", "xlogy", "copysign", "fmax", "ldexp"):
        with pytest.raises(RuntimeError, match=r"\(3, 4\).*\(5,\)"):
            getattr(nr, name)(a, b)
    with pytest.raises(TypeError, match="must be Tensor"):
        nr.atan2(a, 2.0)
    with pytest.raises(TypeError, match="must be Tensor"):
        nr.acos(0.5)
    with pytest.raises(TypeError, match="must be Tensor"):
        nr.fmax(1.0, a)


# --- piecewise-constant and non-differentiable ops -------------------------------------------
def test_nan_to_num():
    x = np.array([np.nan, np.inf, -np.inf, 1.5, -2.0], dtype=np.float32)
    for kw in ({}, dict(nan=1.0), dict(nan=2.0, posinf=10.0, neginf=-10.0)):
        a = nr.tensor(x, requires_grad=True)
        t = torch.tensor(x, requires_grad=True)
        oa, ot = nr.nan_to_num(a, **kw), torch.nan_to_num(t, **kw)
        _same(oa, ot)
        oa.sum().backward()
        ot.sum().backward()
        _same(a.grad, t.grad)
        _same(a.detach().nan_to_num(**kw), t.detach().nan_to_num(**kw))
    a, b = _both(np.array([1, 2]))
    _same(nr.nan_to_num(a), torch.nan_to_num(b))
    check(lambda m, x: m.nan_to_num(x), randn(3, 4))


def test_heaviside():
    x = np.array([-1.5, 0.0, 2.0, 0.0], dtype=np.float32)
    v = np.array([0.5, 0.25, 0.5, 7.0], dtype=np.float32)
    a, b = _both(x)
    _same(nr.heaviside(a, nr.tensor(v)), torch.heaviside(b, torch.tensor(v)))
    _same(a.heaviside(nr.tensor([3.0])), b.heaviside(torch.tensor([3.0])))
    ai, bi = _both(np.array([-2, 0, 3]))
    _same(nr.heaviside(ai, nr.tensor([5])), torch.heaviside(bi, torch.tensor([5])))
    with pytest.raises(RuntimeError, match="different dtypes"):
        nr.heaviside(a, nr.tensor([1.0], dtype=nr.float64))
    with pytest.raises(TypeError, match="'values' must be Tensor"):
        nr.heaviside(a, 1.0)


def test_frac_fix_sgn_signbit_and_classifiers():
    x = np.array([-2.5, -0.0, 0.0, 1.75, np.inf, -np.inf, np.nan], dtype=np.float32)
    a, b = _both(x)
    for name in ("fix", "sgn", "signbit", "isneginf", "isposinf", "isreal", "angle"):
        _same(getattr(nr, name)(a), getattr(torch, name)(b))
        _same(getattr(a, name)(), getattr(b, name)())
    ai, bi = _both(np.array([-3, 0, 4]))
    for name in ("fix", "sgn", "signbit", "isneginf", "isposinf", "isreal", "angle"):
        _same(getattr(nr, name)(ai), getattr(torch, name)(bi))
    ab, bb = _both(np.array([True, False]))
    _same(nr.sgn(ab), torch.sgn(bb))
    _same(nr.signbit(ab), torch.signbit(bb))
    with pytest.raises(RuntimeError, match="frac"):
        nr.frac(ai)
    check(lambda m, x: m.fix(x), randn(3, 4) * 3)
    check(lambda m, x: m.sgn(x), randn(3, 4), grad=False)
    check(lambda m, x: m.angle(x), randn(3, 4), gradcheck=False)


def test_nextafter():
    a, b = _both(np.array([1.0, 0.0, -1.0, 2.0], dtype=np.float32))
    c, d = _both(np.array([2.0, -1.0, -1.0, 0.0], dtype=np.float32))
    _same(nr.nextafter(a, c), torch.nextafter(b, d), atol=0)
    _same(a.nextafter(c), b.nextafter(d), atol=0)


def test_frexp():
    x = np.array([[0.0, 3.0, -5.0], [np.inf, 1e-3, 1024.0]], dtype=np.float32)
    a, b = _both(x)
    ra, rb = nr.frexp(a), torch.frexp(b)
    assert type(ra).__name__ == "frexp" and ra._fields == ("mantissa", "exponent")
    _same(ra.mantissa, rb.mantissa)
    _same(ra.exponent, rb.exponent)
    _same(a.frexp()[1], b.frexp()[1])
    check(lambda m, x: m.frexp(x).mantissa, randn(3, 4) * 10)
    with pytest.raises(RuntimeError, match="floating-point"):
        nr.frexp(nr.tensor([1, 2]))


def test_gcd_lcm():
    a, b = _both(np.array([[-4, 0, 6, 15]]))
    c, d = _both(np.array([[6], [0], [-9]]))
    for name in ("gcd", "lcm"):
        _same(getattr(nr, name)(a, c), getattr(torch, name)(b, d))
        _same(getattr(a, name)(c), getattr(b, name)(d))
        with pytest.raises(RuntimeError, match=name):
            getattr(nr, name)(nr.ones(2), nr.ones(2))


def test_bitwise_ops_and_operators():
    x = np.array([[5, -3, 12, 0]], dtype=np.int64)
    y = np.array([[3], [1], [70]], dtype=np.int64)
    a, b = _both(x)
    c, d = _both(y)
    for name in ("bitwise_and", "bitwise_or", "bitwise_xor", "bitwise_left_shift",
                 "bitwise_right_shift"):
        _same(getattr(nr, name)(a, c), getattr(torch, name)(b, d))
        _same(getattr(a, name)(2), getattr(b, name)(2))
    _same(nr.bitwise_not(a), torch.bitwise_not(b))
    _same(a << c, b << d)
    _same(a >> 1, b >> 1)
    _same(1 << c, 1 << d)
    _same(256 >> c, 256 >> d)
    _same(3 ^ a, 3 ^ b)
    p, q = _both(np.array([True, False, True]))
    r, s = _both(np.array([True, True, False]))
    for name in ("bitwise_and", "bitwise_or", "bitwise_xor"):
        _same(getattr(nr, name)(p, r), getattr(torch, name)(q, s))
    _same(nr.bitwise_not(p), torch.bitwise_not(q))
    _same(p << 1, q << 1)
    with pytest.raises(RuntimeError, match="bitwise_and"):
        nr.bitwise_and(nr.ones(2), nr.ones(2))
    with pytest.raises(TypeError):
        nr.bitwise_left_shift(nr.ones(2), 1)


def test_bitwise_inplace_and_augmented_operators():
    x = np.array([5, -3, 12, 7], dtype=np.int32)
    for op in ("&", "|", "^", "<<", ">>"):
        a, b = _both(x)
        ids = id(a)
        exec(f"a {op}= 3; b {op}= 3")
        assert id(a) == ids
        _same(a, b)
    a, b = _both(x)
    a.bitwise_not_()
    b.bitwise_not_()
    _same(a, b)
    a, b = _both(x)
    _same(a.bitwise_and_(nr.tensor([1, 2, 4, 8], dtype=nr.int32)),
          b.bitwise_and_(torch.tensor([1, 2, 4, 8], dtype=torch.int32)))
    with pytest.raises(RuntimeError, match="can't be cast"):
        nr.tensor([True, False]).bitwise_or_(nr.tensor([1, 2]))


def test_positive_clamp_min_max_rsub():
    a, b = _both(randn(3, 4).astype(np.float32))
    assert nr.positive(a) is a and a.positive() is a
    with pytest.raises(RuntimeError, match="bool"):
        nr.positive(nr.tensor([True]))
    check(lambda m, x: m.clamp_min(x, -0.2), randn(3, 4))
    check(lambda m, x: m.clamp_max(x, 0.3), randn(3, 4))
    check(lambda m, x, lo: m.clamp_min(x, lo), randn(3, 4), randn(4))
    check(lambda m, x: x.clamp_max(0.1), randn(3, 4))
    check(lambda m, x, y: m.rsub(x, y, alpha=2), randn(3, 4), randn(4))
    check(lambda m, x: m.rsub(x, 1.5), randn(3, 4))


# --- in-place forms ----------------------------------------------------------------------------
INPLACE_UNARY = [
    ("acos_", lambda: rand(3, 4, low=-0.9, high=0.9)), ("asin_", lambda: rand(3, 4, low=-0.9)),
    ("atan_", randn), ("acosh_", lambda: rand(3, 4, low=1.2, high=3.0)), ("asinh_", randn),
    ("atanh_", lambda: rand(3, 4, low=-0.9, high=0.9)), ("arctan_", randn),
    ("sinh_", randn), ("cosh_", randn), ("sinc_", randn), ("deg2rad_", randn),
    ("rad2deg_", randn), ("exp2_", randn), ("frac_", randn), ("fix_", randn),
    ("erfc_", randn), ("erfinv_", lambda: rand(3, 4, low=-0.9, high=0.9)),
    ("lgamma_", lambda: rand(3, 4, low=0.5)), ("digamma_", lambda: rand(3, 4, low=0.5)),
    ("i0_", randn), ("sgn_", randn), ("logit_", rand), ("nan_to_num_", randn),
    ("cos_", randn), ("sin_", randn), ("tan_", randn), ("rsqrt_", lambda: rand(3, 4, low=0.5)),
    ("square_", randn), ("reciprocal_", lambda: rand(3, 4, low=0.5)), ("trunc_", randn),
    ("ceil_", randn), ("erf_", randn), ("expm1_", randn), ("log1p_", rand),
    ("log2_", lambda: rand(3, 4, low=0.5)), ("log10_", lambda: rand(3, 4, low=0.5)),
    ("sign_", randn), ("negative_", randn), ("absolute_", randn), ("sigmoid_", randn),
    ("tanh_", randn),
]


def _inplace_shape(make):
    try:
        return make(3, 4)
    except TypeError:
        return make()


NO_TORCH_INPLACE_GRAD = ("acosh_", "asinh_", "atanh_")


def _returns_self(y, out):
    assert out is y
    return out


@pytest.mark.parametrize("name,make", INPLACE_UNARY, ids=[u[0] for u in INPLACE_UNARY])
def test_inplace_unary_with_backward(name, make):
    """x * 1 is a non-leaf; op_ on it must give torch's values and gradients."""
    data = _inplace_shape(make).astype(np.float32)

    def run(mod, op):
        x = mod.tensor(data, requires_grad=True)
        y = x * 1.0
        out = op(y)
        (out * out).sum().backward()
        return out, x.grad

    ya, ga = run(nr, lambda y: _returns_self(y, getattr(y, name)()))
    # torch has no gradient for some in-place forms (acosh_...): compare with out-of-place
    # (torch's sgn_ backward builds a slow-to-start ZeroTensor: sign_ has the same zero grad)
    torch_name = "sign_" if name == "sgn_" else name
    yb, gb = run(torch, getattr(torch.Tensor, name[:-1]) if name in NO_TORCH_INPLACE_GRAD
                 else getattr(torch.Tensor, torch_name))
    _same(ya, yb, atol=1e-4)
    _same(ga, gb, atol=1e-4)
    # outside the graph: the same storage is overwritten, the version moves on
    a = nr.tensor(data)
    before, arr = a._version[0], a._data
    getattr(a, name)()
    assert a._data is arr and a._version[0] == before + 1
    _same(a, getattr(torch.tensor(data), name)(), atol=1e-4)
    top = getattr(nr, name, None)
    if hasattr(torch, name):
        assert top is not None, f"narae.{name} missing"
        c, t = nr.tensor(data), torch.tensor(data)
        _same(top(c), getattr(torch, name)(t), atol=1e-4)


INPLACE_BINARY = [
    ("atan2_", randn), ("arctan2_", randn), ("hypot_", randn), ("xlogy_", rand),
    ("copysign_", randn), ("ldexp_", randn), ("fmod_", lambda *s: rand(*s, low=0.5)),
    ("remainder_", lambda *s: rand(*s, low=0.5)), ("floor_divide_", lambda *s: rand(*s, low=0.5)),
    ("multiply_", randn), ("divide_", lambda *s: rand(*s, low=0.5)), ("subtract_", randn),
    ("true_divide_", lambda *s: rand(*s, low=0.5)), ("clamp_min_", randn),
    ("clamp_max_", randn), ("heaviside_", randn), ("nextafter_", randn),
]


@pytest.mark.parametrize("name,make", INPLACE_BINARY, ids=[u[0] for u in INPLACE_BINARY])
def test_inplace_binary_with_backward(name, make):
    data, other = randn(3, 4).astype(np.float32), make(4).astype(np.float32)
    differentiable = name not in ("heaviside_", "nextafter_", "floor_divide_")

    def run(mod):
        x = mod.tensor(data, requires_grad=True)
        w = mod.tensor(other, requires_grad=differentiable)
        y = x * 1.5
        out = getattr(y, name)(w)
        assert out is y
        if not differentiable:
            return y, None, None
        (out * out).sum().backward()
        return y, x.grad, w.grad

    ours, theirs = run(nr), run(torch)
    _same(ours[0], theirs[0], atol=1e-4)
    for g, t in zip(ours[1:], theirs[1:]):
        if t is None:
            assert g is None or not np.any(g._data)
        else:
            _same(g, t, atol=1e-4)


def test_inplace_ternary_and_keyword_forms():
    def run(mod):
        x = mod.tensor(randn(3, 4).astype(np.float32) if mod is nr else data_x,
                       requires_grad=True)
        return x

    data_x = randn(3, 4).astype(np.float32)
    t1, t2 = randn(3, 4).astype(np.float32), rand(3, 4, low=0.5).astype(np.float32)
    for name, args, kwargs in (("lerp_", (t1, 0.3), {}), ("addcmul_", (t1, t2), dict(value=2)),
                               ("addcdiv_", (t1, t2), dict(value=-0.5)),
                               ("subtract_", (t1,), dict(alpha=3)),
                               ("divide_", (t2,), dict(rounding_mode="floor")),
                               ("logit_", (), dict(eps=0.2)),
                               ("nan_to_num_", (), dict(nan=3.0)),
                               ("clamp_", (), dict(min=-0.1, max=0.2)),
                               ("polygamma_", (1,), {}), ("mvlgamma_", (2,), {}),
                               ("float_power_", (2,), {})):
        base = np.abs(data_x) + 1.5 if name in ("polygamma_", "mvlgamma_") else data_x
        dt = np.float64 if name == "float_power_" else np.float32
        results = []
        for mod in (nr, torch):
            x = mod.tensor(base.astype(dt), requires_grad=True)
            y = x * 1.0
            conv = [mod.tensor(a) if isinstance(a, np.ndarray) else a for a in args]
            getattr(y, name)(*conv, **kwargs)
            y.sum().backward()
            results.append((y, x.grad))
        _same(results[0][0], results[1][0], atol=1e-4)
        _same(results[0][1], results[1][1], atol=1e-4)


def test_inplace_comparisons_and_logic():
    x = np.array([[0.0, 1.0, -2.0, 3.0]], dtype=np.float32)
    y = np.array([1.0, 1.0, -3.0, 3.0], dtype=np.float32)
    for name in ("eq_", "ne_", "lt_", "le_", "gt_", "ge_", "greater_", "greater_equal_",
                 "less_", "less_equal_", "not_equal_", "logical_and_", "logical_or_",
                 "logical_xor_"):
        a, b = _both(x)
        _same(getattr(a, name)(nr.tensor(y)), getattr(b, name)(torch.tensor(y)))
        if not name.startswith("logical"):
            a, b = _both(x)
            _same(getattr(a, name)(1.0), getattr(b, name)(1.0))
    a, b = _both(x)
    _same(a.logical_not_(), b.logical_not_())
    ai, bi = _both(np.array([1, 2, 3]))
    _same(ai.lt_(2), bi.lt_(2))
    # in a graph: the result is a constant of the graph, so the gradient upstream is zero
    w = nr.tensor(x, requires_grad=True)
    v = w * 2.0
    v.gt_(0.5)
    (v * w).sum().backward()
    tw = torch.tensor(x, requires_grad=True)
    tv = tw * 2.0
    tv.gt_(0.5)
    (tv * tw).sum().backward()
    _same(w.grad, tw.grad)


def test_inplace_errors():
    with pytest.raises(RuntimeError, match="can't be cast to the desired output type Long"):
        nr.tensor([1, 2]).acos_()
    with pytest.raises(RuntimeError, match="Double"):
        nr.ones(3).float_power_(2)
    with pytest.raises(RuntimeError, match=r"doesn't match the broadcast shape \(2, 3\)"):
        nr.ones(3).atan2_(nr.ones(2, 3))
    with pytest.raises(RuntimeError, match=r"doesn't match the broadcast shape"):
        (nr.ones(3, requires_grad=True) * 1).hypot_(nr.ones(2, 3))
    with pytest.raises(RuntimeError, match="leaf Variable"):
        nr.ones(3, requires_grad=True).sinh_()
    with pytest.raises(RuntimeError, match="can't be cast"):
        nr.tensor([True]).bitwise_or_(nr.tensor([2]))


def test_inplace_bumps_version_and_stale_backward_raises():
    x = nr.tensor([0.1, 0.2, 0.3], requires_grad=True)
    y = x * 2.0
    y.sinh_()
    z = x.exp()
    w = z * z
    z.cosh_()
    with pytest.raises(RuntimeError, match="modified by an in-place operation"):
        w.sum().backward()
    (y * 1).sum().backward()
    expected = np.cosh(np.array([0.2, 0.4, 0.6])) * 2.0
    np.testing.assert_allclose(x.grad._data, expected, rtol=1e-5)


def test_inplace_keeps_dtype_float64_input_float32_other():
    a = nr.ones(3, dtype=nr.float32) * 1
    a.atan2_(nr.ones(3, dtype=nr.float64))
    assert a.dtype == nr.float32
    b = nr.ones(3, dtype=nr.float32, requires_grad=True) * 1
    b.hypot_(nr.ones(3, dtype=nr.float64))
    assert b.dtype == nr.float32


def test_top_level_inplace_functions_exist():
    names = [n for n in E.__all__ if n.endswith("_")]
    for n in names:
        assert callable(getattr(nr, n)), n
    x = nr.tensor([0.25, -1.0])
    assert nr.clamp_(x, min=0.0) is x
    np.testing.assert_allclose(x._data, [0.25, 0.0])
    nr.clip_(x, max=0.1)
    np.testing.assert_allclose(x._data, [0.1, 0.0])
    with pytest.raises(TypeError, match="must be Tensor"):
        nr.exp_(1.0)


# --- the SciPy-free fallbacks -------------------------------------------------------------------
@pytest.fixture
def no_scipy(monkeypatch):
    monkeypatch.setitem(sys.modules, "scipy.special", None)
    monkeypatch.setitem(sys.modules, "scipy", None)


def test_special_functions_without_scipy(no_scipy):
    with pytest.raises(ImportError):
        __import__("scipy.special")
    x = np.concatenate([rand(20, low=-4.0, high=6.0), [0.5, 1.0, 2.0, 0.0, -1.0, 10.0, 30.0]])
    t = torch.from_numpy(x)
    a = nr.from_numpy(x)
    for name in ("erfc", "lgamma", "digamma", "i0"):
        _same(getattr(nr, name)(a), getattr(torch, name)(t), atol=1e-9)
    pos = np.concatenate([rand(20, low=0.05, high=8.0), [1.0, 25.0]])
    for n in (1, 2, 3):
        np.testing.assert_allclose(nr.polygamma(n, nr.from_numpy(pos))._data,
                                   torch.polygamma(n, torch.from_numpy(pos)).numpy(), rtol=1e-9)
    u = np.concatenate([rand(20, low=-0.999, high=0.999), [0.0, 1.0, -1.0, 1.5]])
    _same(nr.erfinv(nr.from_numpy(u)), torch.erfinv(torch.from_numpy(u)), atol=1e-9)
    big = np.array([-50.0, -3.0, 0.0, 0.5, 4.0, 40.0, 300.0])
    ours = E._fallback_i1(np, big)
    theirs = torch.special.i1(torch.from_numpy(big)).numpy()
    np.testing.assert_allclose(ours, theirs, rtol=1e-10)


def test_gradients_without_scipy(no_scipy):
    check(lambda m, x: m.lgamma(x), rand(3, 4, low=0.5, high=4.0), double=True, atol=1e-4)
    check(lambda m, x: m.i0(x), randn(3, 4), double=True, atol=1e-4)
    check(lambda m, x: m.erfinv(x), rand(3, 4, low=-0.8, high=0.8), atol=1e-4)
