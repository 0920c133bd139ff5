import numpy as np
import pytest
import torch

import narae as nr
from helpers import check, randn, rand


def F(m):
    return m.nn.functional


# --- batch_norm ------------------------------------------------------------------------------
@pytest.mark.parametrize("shape", [(4, 3), (3, 2, 5), (2, 3, 2, 3)])
@pytest.mark.parametrize("affine", [True, False])
def test_batch_norm_training(shape, affine):
    c = shape[1]
    args = [randn(*shape), np.zeros(c), np.ones(c)]
    if affine:
        args += [randn(c), randn(c)]

    def fn(m, x, rm, rv, *wb):
        return F(m).batch_norm(x, rm, rv, *wb, training=True)
    check(fn, *args, diff=(0, 3, 4) if affine else (0,), double=True)


def test_batch_norm_training_without_running_stats():
    check(lambda m, x, w: F(m).batch_norm(x, None, None, w, None, True, 0.1, 1e-3),
          randn(5, 3, 2), randn(3), double=True)


@pytest.mark.parametrize("shape", [(4, 3), (2, 3, 2, 2)])
def test_batch_norm_eval(shape):
    c = shape[1]
    check(lambda m, x, rm, rv, w, b: F(m).batch_norm(x, rm, rv, w, b, training=False, eps=1e-3),
          randn(*shape), randn(c), rand(c, low=0.5, high=2.0), randn(c), randn(c),
          diff=(0, 3, 4), double=True)
    check(lambda m, x, rm, rv: F(m).batch_norm(x, rm, rv), randn(*shape), randn(c),
          rand(c, low=0.5, high=2.0), diff=(0,))


@pytest.mark.parametrize("momentum", [0.1, 0.5, 1.0])
def test_batch_norm_running_stats_match_torch(momentum):
    shape = (6, 3, 4)
    ours = [nr.zeros(3), nr.ones(3)]
    theirs = [torch.zeros(3), torch.ones(3)]
    for step in range(4):
        x = randn(*shape).astype(np.float32) * (step + 1) + step
        F(nr).batch_norm(nr.tensor(x), *ours, training=True, momentum=momentum)
        F(torch).batch_norm(torch.tensor(x), *theirs, training=True, momentum=momentum)
    for o, t in zip(ours, theirs):
        np.testing.assert_allclose(o.numpy(), t.numpy(), rtol=1e-5, atol=1e-6)


def test_batch_norm_cumulative_average_via_module_factor():
    # nn.BatchNorm's momentum=None passes 1 / num_batches_tracked: a plain average
    rm = nr.zeros(2)
    xs = [randn(5, 2).astype(np.float32) for _ in range(3)]
    for n, x in enumerate(xs, 1):
        F(nr).batch_norm(nr.tensor(x), rm, None, training=True, momentum=1.0 / n)
    np.testing.assert_allclose(rm.numpy(), np.mean([x.mean(0) for x in xs], 0), rtol=1e-5)


def test_batch_norm_errors():
    x = nr.randn(4, 3)
    with pytest.raises(ValueError, match=r"more than 1 value per channel"):
        F(nr).batch_norm(nr.randn(1, 3), None, None, training=True)
    with pytest.raises(RuntimeError, match=r"\(4,\).*3 channels"):
        F(nr).batch_norm(x, None, None, nr.ones(4), training=True)
    with pytest.raises(RuntimeError, match=r"running_mean"):
        F(nr).batch_norm(x, nr.zeros(5), nr.ones(3), training=True)
    with pytest.raises(RuntimeError, match="evaluation"):
        F(nr).batch_norm(x, None, None, training=False)


def test_batch_norm_grad_is_mean_free():
    # the fused backward: the gradient of sum(y * r) sums to 0 over each channel
    x = nr.randn(8, 2, requires_grad=True)
    y = F(nr).batch_norm(x, None, None, training=True)
    (y * nr.randn(8, 2)).sum().backward()
    np.testing.assert_allclose(x.grad.numpy().sum(0), 0, atol=1e-5)


# --- layer_norm / group_norm / instance_norm ------------------------------------------------
@pytest.mark.parametrize("shape,norm_shape", [((4, 5), (5,)), ((2, 3, 4), (3, 4)),
                                               ((2, 3, 4), [4])])
def test_layer_norm(shape, norm_shape):
    ns = (norm_shape,) if isinstance(norm_shape, int) else norm_shape
    check(lambda m, x, w, b: F(m).layer_norm(x, norm_shape, w, b), randn(*shape), randn(*ns),
          randn(*ns), double=True)
    check(lambda m, x: F(m).layer_norm(x, norm_shape, eps=1e-3), randn(*shape), double=True)
    check(lambda m, x, w: F(m).layer_norm(x, norm_shape, w), randn(*shape), randn(*ns))


def test_layer_norm_errors():
    with pytest.raises(RuntimeError, match=r"normalized_shape=\[5\].*\(3, 4\)"):
        F(nr).layer_norm(nr.randn(3, 4), (5,))
    with pytest.raises(RuntimeError, match=r"weight of shape \(3,\)"):
        F(nr).layer_norm(nr.randn(3, 4), (4,), nr.ones(3))


@pytest.mark.parametrize("shape,groups", [((2, 4, 3), 2), ((2, 6, 2, 2), 3), ((3, 4), 2)])
def test_group_norm(shape, groups):
    c = shape[1]
    # alternate channels offset by 2: every group has a spread well above eps (a group of two
    # nearly equal values makes the gradient float32 rounding noise in both libraries)
    spread = 2.0 * (np.arange(c) % 2).reshape((1, c) + (1,) * (len(shape) - 2))
    check(lambda m, x, w, b: F(m).group_norm(x, groups, w, b), randn(*shape) + spread,
          randn(c), randn(c), double=True)
    check(lambda m, x: F(m).group_norm(x, groups, eps=1e-3), randn(*shape) + spread)


def test_group_norm_errors():
    with pytest.raises(RuntimeError, match=r"\(2, 5, 3\).*num_groups=2"):
        F(nr).group_norm(nr.randn(2, 5, 3), 2)


@pytest.mark.parametrize("shape", [(2, 3, 4), (2, 2, 3, 3)])
def test_instance_norm(shape):
    c = shape[1]
    check(lambda m, x, w, b: F(m).instance_norm(x, weight=w, bias=b), randn(*shape), randn(c),
          randn(c), double=True)
    # running statistics: updated like torch's
    ours, theirs = [nr.zeros(c), nr.ones(c)], [torch.zeros(c), torch.ones(c)]
    for _ in range(2):
        x = randn(*shape).astype(np.float32)
        F(nr).instance_norm(nr.tensor(x), *ours, momentum=0.3)
        F(torch).instance_norm(torch.tensor(x), *theirs, momentum=0.3)
    for o, t in zip(ours, theirs):
        np.testing.assert_allclose(o.numpy(), t.numpy(), rtol=1e-5, atol=1e-6)
    check(lambda m, x, rm, rv: F(m).instance_norm(x, rm, rv, use_input_stats=False),
          randn(*shape), randn(c), rand(c, low=0.5), diff=(0,))


# --- local_response_norm / normalize ---------------------------------------------------------
@pytest.mark.parametrize("shape,size", [((2, 5, 3), 3), ((1, 6, 2, 2), 4), ((2, 4, 2, 1, 2), 2),
                                        ((1, 3, 2), 7)])
def test_local_response_norm(shape, size):
    check(lambda m, x: F(m).local_response_norm(x, size, alpha=0.1, beta=0.75, k=2.0),
          randn(*shape), double=True)
    check(lambda m, x: F(m).local_response_norm(x, size), randn(*shape))


@pytest.mark.parametrize("p,dim", [(2.0, 1), (1.0, -1), (3.0, 0), (float("inf"), 1)])
def test_normalize(p, dim):
    check(lambda m, x: F(m).normalize(x, p=p, dim=dim), randn(3, 4), double=(p != float("inf")))


def test_normalize_zero_vector_has_finite_grad():
    x = np.zeros((2, 3))
    x[1] = randn(3)
    check(lambda m, x: F(m).normalize(x), x, gradcheck=False)


@pytest.mark.parametrize("eps", [None, 1e-3])
def test_rms_norm(eps):
    check(lambda m, x, w: F(m).rms_norm(x, [3, 4], w, eps), randn(2, 3, 4), randn(3, 4),
          double=True)
    check(lambda m, x: F(m).rms_norm(x, [4], eps=eps), randn(3, 4))
    with pytest.raises(RuntimeError, match=r"normalized_shape=\[5\]"):
        F(nr).rms_norm(nr.randn(3, 4), [5])
