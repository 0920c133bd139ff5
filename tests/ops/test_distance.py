import pytest
import torch

import narae as nr
import narae.ops.distance as distance
from helpers import check, randn


def D(m):
    """torch.nn.functional, or narae's distance module (until nn.functional re-exports it)."""
    return m.nn.functional if m is torch else distance


@pytest.mark.parametrize("dim", [1, 0, -1])
def test_cosine_similarity(dim):
    check(lambda m, a, b: D(m).cosine_similarity(a, b, dim=dim), randn(3, 4), randn(3, 4),
          double=True)


def test_cosine_similarity_broadcast_and_zero_vector():
    check(lambda m, a, b: D(m).cosine_similarity(a, b, dim=-1), randn(3, 4), randn(4))
    a = randn(3, 4)
    a[1] = 0
    check(lambda m, a, b: D(m).cosine_similarity(a, b), a, randn(3, 4), gradcheck=False)


@pytest.mark.parametrize("p", [2.0, 1.0, 3.0, float("inf")])
@pytest.mark.parametrize("keepdim", [False, True])
def test_pairwise_distance(p, keepdim):
    check(lambda m, a, b: D(m).pairwise_distance(a, b, p=p, keepdim=keepdim), randn(4, 3),
          randn(4, 3), double=(p in (2.0, 3.0)))


def test_pairwise_distance_equal_points_and_1d():
    a = randn(3, 4)
    check(lambda m, a, b: D(m).pairwise_distance(a, b, eps=0.0), a, a.copy(), gradcheck=False)
    check(lambda m, a, b: D(m).pairwise_distance(a, b), randn(5), randn(5))


@pytest.mark.parametrize("p", [2.0, 1.0, 0.5, float("inf")])
def test_cdist(p):
    check(lambda m, a, b: m.cdist(a, b, p=p) if m is torch else distance.cdist(a, b, p=p),
          randn(3, 4), randn(5, 4))
    check(lambda m, a, b: m.cdist(a, b, p=p) if m is torch else distance.cdist(a, b, p=p),
          randn(2, 3, 2), randn(2, 4, 2))


@pytest.mark.parametrize("p", [2.0, 1.0])
def test_pdist(p):
    check(lambda m, x: D(m).pdist(x, p=p), randn(5, 3))
    # torch has no double backward for pdist; ours is checked by finite differences
    x = nr.tensor(randn(4, 3), requires_grad=True)
    nr.autograd.gradgradcheck(lambda x: distance.pdist(x, p=p), [x])


def test_distance_errors():
    with pytest.raises(RuntimeError, match=r"\(3, 4\).*\(2, 4\)"):
        distance.pairwise_distance(nr.randn(3, 4), nr.randn(2, 4))
    with pytest.raises(RuntimeError, match=r"\(3, 4\).*\(5, 3\)"):
        distance.cdist(nr.randn(3, 4), nr.randn(5, 3))
    with pytest.raises(RuntimeError, match=r"2D.*\(3,\)"):
        distance.pdist(nr.randn(3))
    with pytest.raises(RuntimeError, match=r"cosine_similarity.*\(3, 4\).*\(3, 5\)"):
        distance.cosine_similarity(nr.randn(3, 4), nr.randn(3, 5))
