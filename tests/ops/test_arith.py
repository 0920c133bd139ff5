import numpy as np
import pytest

import narae as nr
from helpers import check, randn, rand


@pytest.mark.parametrize("shapes", [((3, 4), (3, 4)), ((3, 4), (4,)), ((2, 1, 4), (3, 1)),
                                    ((), (3,)), ((1,), (2, 3))])
@pytest.mark.parametrize("op", ["add", "sub", "mul", "div"])
def test_binary_broadcast(op, shapes):
    a, b = randn(*shapes[0]), randn(*shapes[1])
    if op == "div":
        b = np.abs(b) + 0.5
    check(lambda m, x, y: getattr(m, op)(x, y), a, b, double=True)


def test_operators_and_reflected():
    check(lambda m, x, y: (2.0 - x) * y / 3 + 1.5 / y - x ** 2 + (-x) + 2 ** x, randn(3, 4),
          randn(4, low=0.5))


def test_pow_tensor_exponent():
    check(lambda m, x, y: m.pow(x, y), rand(3, 4, low=0.5, high=2.0), randn(3, 4), double=True)


@pytest.mark.parametrize("name,make", [
    ("exp", randn), ("log", lambda *s: rand(*s, low=0.5, high=3)), ("log1p", lambda *s: rand(*s)),
    ("expm1", randn), ("sqrt", lambda *s: rand(*s, low=0.5, high=3)),
    ("rsqrt", lambda *s: rand(*s, low=0.5, high=3)), ("abs", lambda *s: randn(*s, low=0.1)),
    ("sin", randn), ("cos", randn), ("tan", lambda *s: rand(*s, low=-1, high=1)),
    ("tanh", randn), ("sigmoid", randn), ("relu", lambda *s: randn(*s) + 0.05),
    ("neg", randn), ("square", randn), ("reciprocal", lambda *s: rand(*s, low=0.5, high=2)),
    ("erf", randn), ("log2", lambda *s: rand(*s, low=0.5, high=3)),
])
def test_unary(name, make):
    check(lambda m, x: getattr(m, name)(x), make(3, 5), double=name not in ("abs", "relu"))
    check(lambda m, x: getattr(x, name)(), make(4))


def test_clamp_and_boundaries():
    x = np.array([-2.0, -1.0, -0.3, 0.0, 0.7, 1.0, 3.0])
    check(lambda m, x: m.clamp(x, -1.0, 1.0), x, gradcheck=False)
    check(lambda m, x: x.clamp(min=0.1), randn(3, 4) + 0.05)
    check(lambda m, x: m.clip(x, max=0.3), randn(3, 4) + 0.01)


def test_maximum_minimum_ties():
    a = np.array([1.0, 2.0, 3.0, -1.0])
    b = np.array([1.0, 0.0, 4.0, -1.0])
    check(lambda m, x, y: m.maximum(x, y), a, b, gradcheck=False)
    check(lambda m, x, y: m.minimum(x, y), a, b, gradcheck=False)
    check(lambda m, x, y: m.maximum(x, y), randn(3, 4), randn(4))


def test_where():
    cond = RNG_cond = np.random.default_rng(0).random((3, 4)) > 0.5
    check(lambda m, c, x, y: m.where(c, x, y), cond, randn(3, 4), randn(4))
    check(lambda m, c, x: m.where(c, x, 0.0), RNG_cond, randn(3, 4))


def test_dtype_promotion_matches_torch():
    import torch
    cases = [(np.arange(3), 2.5), (np.arange(3.0, dtype=np.float32), 2),
             (np.arange(3.0, dtype=np.float64), np.float32(2.0)), (np.arange(3) > 1, 1)]
    for arr, s in cases:
        ours = nr.from_numpy(arr) + s
        theirs = torch.from_numpy(arr) + s
        assert ours.dtype.name == str(theirs.dtype).replace("torch.", "")
    ours = nr.ones(3, dtype=nr.int64) + nr.ones(3)
    assert ours.dtype == nr.float32
    assert (nr.ones(2) * nr.tensor(2.0, dtype=nr.float64)).dtype == nr.float32
    assert nr.div(nr.tensor([3, 4]), 2).dtype == nr.float32


def test_div_rounding_modes():
    import torch
    a, b = np.array([7.0, -7.0, 7.5, -7.5]), np.array([2.0, 2.0, -2.0, 2.0])
    for mode in ("floor", "trunc"):
        np.testing.assert_allclose(nr.div(nr.tensor(a), nr.tensor(b), rounding_mode=mode).numpy(),
                                   torch.div(torch.tensor(a), torch.tensor(b),
                                             rounding_mode=mode).numpy())
    check(lambda m, x: m.remainder(x, 1.5), randn(5), gradcheck=False)


def test_broadcast_error_names_shapes():
    with pytest.raises(ValueError, match=r"\(3,4\)|\(3, 4\)"):
        nr.ones(3, 4) + nr.ones(5)


@pytest.mark.parametrize("a,b", [(1.0, -1.0), (1, -1), (1, -1.0), (True, False)])
def test_where_with_two_numbers(a, b):
    cond = np.array([True, False, True])
    check(lambda m, c: m.where(c, a, b), cond, grad=False)
