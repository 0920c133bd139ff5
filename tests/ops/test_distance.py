import numpy as np
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


@pytest.mark.parametrize("mode", ["use_mm_for_euclid_dist_if_necessary", "use_mm_for_euclid_dist",
                                  "donot_use_mm_for_euclid_dist"])
def test_cdist_euclid_compute_modes(mode):
    # more than 25 rows: by default (and when asked) p=2 goes through one matmul, as torch's
    check(lambda m, a, b: (m.cdist if m is torch else distance.cdist)(a, b, compute_mode=mode),
          randn(27, 3), randn(4, 3), double=not mode.startswith("donot"))
    # (torch's difference path has no double backward)
    check(lambda m, a, b: (m.cdist if m is torch else distance.cdist)(a, b, 2.0, mode),
          randn(2, 3, 4), randn(2, 5, 4), double=mode == "use_mm_for_euclid_dist")


def test_cdist_euclid_mm_batch_broadcast_and_zero_distance():
    check(lambda m, a, b: m.cdist(a, b) if m is torch else distance.cdist(a, b),
          randn(2, 1, 30, 3), randn(3, 6, 3))
    # equal rows: distance ~0 and a finite (zero where exactly 0) gradient
    x = nr.tensor(randn(30, 4), requires_grad=True)
    d = distance.cdist(x, x.detach(), compute_mode="use_mm_for_euclid_dist")
    d.sum().backward()
    assert np.abs(np.diag(d.detach().numpy())).max() < 1e-2
    assert np.isfinite(x.grad.numpy()).all()


def test_cdist_errors_mm():
    with pytest.raises(ValueError, match="foo is not a valid value for compute_mode"):
        distance.cdist(nr.randn(3, 4), nr.randn(5, 4), compute_mode="foo")
    with pytest.raises(RuntimeError, match=r"batch dimensions.*\(2, 30, 4\).*\(3, 5, 4\)"):
        distance.cdist(nr.randn(2, 30, 4), nr.randn(3, 5, 4))
    with pytest.raises(RuntimeError, match="same dtype"):
        distance.cdist(nr.randn(30, 4), nr.randn(5, 4, dtype=nr.float64))


@pytest.mark.parametrize("shapes", [((5, 3), (4, 3)), ((2, 70, 3), (2, 60, 3)),
                                    ((2, 1, 40, 2), (3, 120, 2))])
def test_cdist_l1_small_and_looped_paths(shapes):
    # p=1 is fused: a broadcast (P, R, M) pass for few pairs, a loop over the coordinates
    # on (P, R) buffers for many (here 8400 and 28800 pairs)
    a, b = randn(*shapes[0]), randn(*shapes[1])
    check(lambda m, a, b: m.cdist(a, b, p=1) if m is torch else distance.cdist(a, b, p=1),
          a, b, atol=1e-4)
    # torch has no double backward for cdist: ours, checked numerically
    import helpers
    helpers.check_gradcheck(lambda m, a, b: distance.cdist(a, b, p=1) ** 2, a[..., :6, :],
                            b[..., :5, :], double=True)


def test_cdist_l1_nan_gives_zero_sign_gradient():
    for n in (4, 80):  # both paths
        a = randn(n, 3)
        a[1, 2] = np.nan
        x = nr.tensor(a, requires_grad=True)
        y = nr.tensor(randn(n, 3), requires_grad=True)
        distance.cdist(x, y, p=1).sum().backward()
        grad = x.grad.numpy()
        assert grad[1, 2] == 0 and np.isfinite(grad).all()
        assert np.isfinite(y.grad.numpy()).all()


@pytest.mark.parametrize("loop", [False, True])
def test_pdist_euclid_fused_paths(monkeypatch, loop):
    # p=2: the full distance matrix from the differences (broadcast, or coordinate by
    # coordinate with many pairs), then the pairs i < j; double backward by finite differences
    import helpers
    if loop:
        monkeypatch.setattr(distance, "_PAIRS_PER_STEP", 1)
    x = randn(6, 3)
    x[4] = x[1]  # a zero distance: zero gradient, as torch
    check(lambda m, x: D(m).pdist(x), x, gradcheck=False)
    helpers.check_gradcheck(lambda m, x: distance.pdist(x) ** 2, randn(5, 3), double=True)
    check(lambda m, x: D(m).pdist(x), randn(70, 2) if loop else randn(1, 4))
