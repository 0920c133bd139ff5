import numpy as np
import pytest

import narae as nr
from helpers import check, randn

F = nr.nn.functional


@pytest.mark.parametrize("p", [0.2, 0.5, 0.8])
def test_dropout_statistics(p):
    x = nr.ones(200, 100)
    y = F.dropout(x, p).numpy()
    zero = (y == 0).mean()
    assert abs(zero - p) < 0.02
    np.testing.assert_allclose(y[y != 0], 1.0 / (1.0 - p), rtol=1e-6)


def test_dropout_reproducible_under_manual_seed():
    x = nr.randn(50, 20)
    nr.manual_seed(7)
    a = F.dropout(x, 0.3).numpy().copy()
    nr.manual_seed(7)
    b = F.dropout(x, 0.3).numpy()
    np.testing.assert_array_equal(a, b)
    assert not np.array_equal(a, F.dropout(x, 0.3).numpy())


def test_dropout_identity_when_not_training_or_p0():
    x = nr.randn(4, 5)
    assert F.dropout(x, 0.5, training=False) is x
    assert F.dropout(x, 0.0) is x
    check(lambda m, x: m.nn.functional.dropout(x, 0.7, training=False), randn(3, 4))
    check(lambda m, x: m.nn.functional.dropout(x, 0.0), randn(3, 4))


def test_dropout_p1_zeros():
    x = nr.randn(3, 4, requires_grad=True)
    y = F.dropout(x, 1.0)
    assert (y.detach().numpy() == 0).all()
    y.sum().backward()
    assert (x.grad.numpy() == 0).all()


def test_dropout_gradient_is_the_mask():
    x = nr.randn(40, 30, requires_grad=True)
    y = F.dropout(x, 0.4)
    y.backward(nr.ones(40, 30))
    mask = (y.detach().numpy() != 0) / 0.6
    np.testing.assert_allclose(x.grad.numpy(), mask, rtol=1e-6)
    # double backward: the gradient is linear in the upstream gradient
    g = nr.ones(40, 30, requires_grad=True)
    (gx,) = nr.autograd.grad(F.dropout(x, 0.4), [x], g, create_graph=True)
    (gg,) = nr.autograd.grad(gx.sum(), [g])
    assert set(np.unique(gg.numpy())) <= {0.0, np.float32(1 / 0.6)}


def test_dropout_gradcheck():
    x = nr.randn(4, 5, dtype=nr.float64, requires_grad=True)

    def f(x):
        nr.manual_seed(3)
        return F.dropout(x, 0.5)
    nr.autograd.gradcheck(f, [x])


def test_dropout_inplace():
    x = nr.ones(10, 10)
    y = F.dropout(x, 0.5, inplace=True)
    assert y is x
    assert set(np.unique(x.numpy())) <= {0.0, 2.0}
    a = nr.randn(5, requires_grad=True)
    b = a * 1.0
    F.dropout(b, 0.5, inplace=True).sum().backward()
    np.testing.assert_array_equal(a.grad.numpy() != 0, b.detach().numpy() != 0)


def test_dropout_p_validation():
    for p in (-0.1, 1.5):
        with pytest.raises(ValueError, match=r"between 0 and 1, but got"):
            F.dropout(nr.randn(3), p)
        with pytest.raises(ValueError):
            F.dropout2d(nr.randn(2, 3, 4, 4), p)
        with pytest.raises(ValueError):
            F.alpha_dropout(nr.randn(3), p, training=True)


@pytest.mark.parametrize("fn,shape", [("dropout1d", (8, 50, 4)), ("dropout1d", (50, 4)),
                                      ("dropout2d", (8, 50, 3, 3)), ("dropout2d", (50, 2, 2)),
                                      ("dropout3d", (4, 50, 2, 2, 2)),
                                      ("dropout3d", (50, 2, 2, 2))])
def test_channel_dropout(fn, shape):
    import warnings
    with warnings.catch_warnings():
        warnings.simplefilter("ignore")
        y = getattr(F, fn)(nr.ones(*shape), 0.5).numpy()
        same = getattr(F, fn)(nr.ones(*shape), 0.5, training=False).numpy()
    lead = 2 if len(shape) in (3, 4, 5) and not (fn == "dropout1d" and len(shape) == 2) \
        and not (fn == "dropout3d" and len(shape) == 4) else 1
    if fn == "dropout2d" and len(shape) == 3:
        lead = 2  # torch: a 3-D input to dropout2d is (N, C, L)
    per_channel = y.reshape(shape[:lead] + (-1,))
    # each channel is entirely dropped or entirely kept (and scaled)
    assert np.all(per_channel.min(-1) == per_channel.max(-1))
    assert set(np.unique(y)) <= {0.0, 2.0}
    assert 0.25 < (y == 0).mean() < 0.75
    assert same.min() == 1


def test_channel_dropout_shape_errors():
    with pytest.raises(RuntimeError, match=r"dropout1d.*\(2, 3, 4, 5\)"):
        F.dropout1d(nr.randn(2, 3, 4, 5))
    with pytest.raises(RuntimeError, match=r"dropout2d.*\(2, 3\)"):
        F.dropout2d(nr.randn(2, 3))
    with pytest.raises(RuntimeError, match=r"dropout3d.*\(2, 3, 4\)"):
        F.dropout3d(nr.randn(2, 3, 4))


def test_alpha_dropout_keeps_mean_and_variance():
    nr.manual_seed(0)
    x = nr.randn(400, 250)
    y = F.alpha_dropout(x, 0.3, training=True).numpy()
    assert abs(y.mean()) < 0.02 and abs(y.std() - 1) < 0.02
    vals, counts = np.unique(y, return_counts=True)
    dropped_value = vals[counts.argmax()]  # every dropped unit gets the same value
    a = (0.7 * (1 + 0.3 * 1.7580993408473766 ** 2)) ** -0.5
    np.testing.assert_allclose(dropped_value, -a * 1.7580993408473766 * 0.7, rtol=1e-5)
    assert abs(counts.max() / y.size - 0.3) < 0.02
    assert F.alpha_dropout(x, 0.3) is x  # training=False by default, as torch's
    z = F.feature_alpha_dropout(nr.randn(4, 30, 5), 0.5, training=True).numpy()
    constant = np.ptp(z, axis=-1) == 0  # dropped channels: one value along the channel
    assert 0.2 < constant.mean() < 0.8
    np.testing.assert_allclose(z[constant][:, 0], z[constant][0, 0])


def test_alpha_dropout_gradient():
    x = nr.randn(20, 10, requires_grad=True)
    nr.manual_seed(1)
    y = F.alpha_dropout(x, 0.2, training=True)
    y.sum().backward()
    vals = np.unique(np.round(x.grad.numpy(), 5))
    assert len(vals) == 2 and 0.0 in vals
