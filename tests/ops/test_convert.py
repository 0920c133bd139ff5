"""Conversions: clone, contiguous, dtype casts (differentiable like torch's)."""
import numpy as np

import narae as nr
from helpers import check, randn


def test_clone_and_contiguous():
    check(lambda m, x: x.clone() * x, randn(3, 4), double=True)
    check(lambda m, x: x.t().contiguous() * 2.0, randn(3, 4))
    check(lambda m, x: m.clone(x).sum(0), randn(2, 5))


def test_cast_round_trip_gradients():
    # float32 -> float64 -> float32: parity only (a float64 gradcheck would see float32 rounding)
    check(lambda m, x: (x.double() * 3.0).float() + x.to(m.float64).sum().float(), randn(3, 4),
          gradcheck=False)
    check(lambda m, x: x.type_as(m.ones(1, dtype=m.float64)) ** 2, randn(4), gradcheck=False)


def test_cast_to_int_stops_the_gradient():
    x = nr.tensor([1.7, -2.2], requires_grad=True)
    i = x.long()
    assert i.dtype == nr.int64 and not i.requires_grad
    np.testing.assert_array_equal(i.numpy(), [1, -2])
