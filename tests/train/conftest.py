import pytest


@pytest.fixture(scope="session")
def digits():
    """scikit-learn's digits as float32 (N, 64) / int64 arrays: (x_train, y_train, x_val, y_val)."""
    from narae.datasets import Digits
    xs = [Digits(train=t).tensors() for t in (True, False)]
    x_tr, y_tr = (a.numpy() for a in xs[0])
    x_va, y_va = (a.numpy() for a in xs[1])
    return (x_tr.reshape(len(x_tr), -1), y_tr, x_va.reshape(len(x_va), -1), y_va)


@pytest.fixture
def small(digits):
    """A 256-sample slice, for tests that only need the loop to run."""
    x, y, xv, yv = digits
    return x[:256], y[:256], xv[:64], yv[:64]
