"""Activation modules against torch.nn: forward, input gradients, PReLU's weight gradient."""
import numpy as np
import pytest

import narae.nn as nn
from nn_parity import check_layer

R = np.random.default_rng(11)
X = R.standard_normal((3, 4)).astype(np.float32) * 3
X4 = R.standard_normal((2, 3, 2, 2)).astype(np.float32)

CASES = [
    ("ReLU", "relu", lambda m: m.nn.ReLU(), X),
    ("ReLU6", "hardtanh", lambda m: m.nn.ReLU6(), X),
    ("LeakyReLU", "leaky_relu", lambda m: m.nn.LeakyReLU(0.2), X),
    ("ELU", "elu", lambda m: m.nn.ELU(alpha=0.7), X),
    ("CELU", "celu", lambda m: m.nn.CELU(alpha=1.3), X),
    ("SELU", "selu", lambda m: m.nn.SELU(), X),
    ("GELU", "gelu", lambda m: m.nn.GELU(), X),
    ("GELU-tanh", "gelu", lambda m: m.nn.GELU(approximate="tanh"), X),
    ("SiLU", "silu", lambda m: m.nn.SiLU(), X),
    ("Mish", "mish", lambda m: m.nn.Mish(), X),
    ("Sigmoid", "sigmoid", lambda m: m.nn.Sigmoid(), X),
    ("LogSigmoid", "logsigmoid", lambda m: m.nn.LogSigmoid(), X),
    ("Tanh", "tanh", lambda m: m.nn.Tanh(), X),
    ("Softplus", "softplus", lambda m: m.nn.Softplus(beta=2.0, threshold=5.0), X),
    ("Softsign", "softsign", lambda m: m.nn.Softsign(), X),
    ("Softmax", "softmax", lambda m: m.nn.Softmax(dim=1), X),
    ("LogSoftmax", "log_softmax", lambda m: m.nn.LogSoftmax(dim=-1), X),
    ("Softmin", "softmin", lambda m: m.nn.Softmin(dim=0), X),
    ("Softmax2d", "softmax", lambda m: m.nn.Softmax2d(), X4),
    ("Hardtanh", "hardtanh", lambda m: m.nn.Hardtanh(-2.0, 1.5), X),
    ("Hardsigmoid", "hardsigmoid", lambda m: m.nn.Hardsigmoid(), X),
    ("Hardswish", "hardswish", lambda m: m.nn.Hardswish(), X),
    ("Hardshrink", "hardshrink", lambda m: m.nn.Hardshrink(0.7), X),
    ("Softshrink", "softshrink", lambda m: m.nn.Softshrink(0.7), X),
    ("Tanhshrink", "tanhshrink", lambda m: m.nn.Tanhshrink(), X),
    ("Threshold", "threshold", lambda m: m.nn.Threshold(0.5, -1.0), X),
    ("GLU", "glu", lambda m: m.nn.GLU(dim=1), X),
    ("PReLU", "prelu", lambda m: m.nn.PReLU(), X),
    ("PReLU-channels", "prelu", lambda m: m.nn.PReLU(3, init=0.1), X4),
    ("RReLU-eval", "rrelu", lambda m: m.nn.RReLU(0.1, 0.3), X),
]

@pytest.mark.parametrize("name,fname,make,x", CASES, ids=[c[0] for c in CASES])
def test_activation_matches_torch(name, fname, make, x):
    if not hasattr(nn.functional, fname):
        pytest.skip(f"narae.nn.functional lacks {fname}")
    check_layer(make, x, train=not name.endswith("-eval"))


def test_inplace_relu_module_modifies_input():
    import narae as nr
    x = nr.tensor([-1.0, 2.0])
    y = nn.ReLU(inplace=True)(x)
    assert y is x and x.tolist() == [0.0, 2.0]


def test_rrelu_training_slopes_in_range():
    import narae as nr
    if not hasattr(nn.functional, "rrelu"):
        pytest.skip("narae.nn.functional lacks rrelu")
    x = -nr.ones(1000)
    y = nn.RReLU(0.1, 0.3)(x).numpy()
    assert np.all(y <= -0.1 + 1e-6) and np.all(y >= -0.3 - 1e-6) and y.std() > 0.01


def test_hardtanh_rejects_bad_range():
    with pytest.raises(ValueError):
        nn.Hardtanh(1.0, -1.0)
