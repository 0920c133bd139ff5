"""Perceptron (Rosenblatt's rule), LogisticRegression and the ``mlp`` builder."""
import numpy as np
import pytest
import torch

import narae as nr
from narae import nn, optim
from narae.models import LogisticRegression, Perceptron, mlp

X4 = np.array([[0, 0], [0, 1], [1, 0], [1, 1]], dtype=np.float32)


def _np(t):
    return np.asarray(t.detach()._data) if isinstance(t, nr.Tensor) else t.detach().numpy()


# -- Perceptron -------------------------------------------------------------------------------
@pytest.mark.parametrize("labels", [[0, 0, 0, 1], [0, 1, 1, 1], [-1, -1, -1, 1]])
def test_perceptron_learns_separable_gates(labels):
    p = Perceptron(2).fit(X4, labels, epochs=50)
    assert p.errors_[-1] == 0 and len(p.errors_) < 50      # stopped once separated
    np.testing.assert_array_equal(_np(p(X4)), (np.array(labels) > 0).astype(np.float32))


def test_perceptron_rule_is_error_correction_only():
    # one mistake on x = (1, 1), target 1 from zero weights: w += x, b += 1 (lr = 1)
    p = Perceptron(2).fit(np.array([[1.0, 1.0]]), [1], epochs=1, shuffle=False)
    np.testing.assert_array_equal(_np(p.weight), [[1.0, 1.0]])
    np.testing.assert_array_equal(_np(p.bias), [1.0])
    assert p.errors_ == [1]
    assert not p.weight.requires_grad and not p.bias.requires_grad


def test_perceptron_converges_on_separable_random_data():
    rng = np.random.default_rng(0)
    x = rng.standard_normal((200, 5)).astype(np.float32)
    w = rng.standard_normal(5)
    keep = np.abs(x @ w) > 0.3                              # a margin: finite mistakes
    x, y = x[keep], (x[keep] @ w > 0).astype(np.int64)
    p = Perceptron(5).fit(x, y, epochs=200)
    assert p.errors_[-1] == 0
    assert (_np(p(x)) == y).all()


def test_perceptron_never_converges_on_xor():
    p = Perceptron(2).fit(X4, [0, 1, 1, 0], epochs=60)
    assert len(p.errors_) == 60 and min(p.errors_) > 0
    assert (_np(p(X4)) == [0, 1, 1, 0]).sum() <= 3


def test_perceptron_errors():
    with pytest.raises(ValueError, match=r"\(N, 3\)"):
        Perceptron(3).fit(X4, [0, 1, 1, 0])
    with pytest.raises(ValueError, match="labels"):
        Perceptron(2).fit(X4, [0, 2, 1, 0])
    with pytest.raises(ValueError, match="4 samples but 3 labels"):
        Perceptron(2).fit(X4, [0, 1, 1])


# -- LogisticRegression -----------------------------------------------------------------------
def test_logistic_regression_on_breast_cancer():
    from sklearn.datasets import load_breast_cancer
    data = load_breast_cancer()
    x = data.data.astype(np.float32)
    y = data.target.astype(np.float32)
    rng = np.random.default_rng(0)
    order = rng.permutation(len(x))
    tr, te = order[:400], order[400:]
    mean, std = x[tr].mean(0), x[tr].std(0)
    x = (x - mean) / std
    model = LogisticRegression(30)
    opt = optim.Adam(model.parameters(), lr=0.05)
    loss_fn = nn.BCEWithLogitsLoss()
    xt, yt = nr.tensor(x[tr]), nr.tensor(y[tr])
    for _ in range(200):
        loss = loss_fn(model(xt), yt)
        opt.zero_grad()
        loss.backward()
        opt.step()
    pred = _np(model.predict(nr.tensor(x[te])))
    assert (pred == y[te]).mean() > 0.93
    proba = _np(model.predict_proba(nr.tensor(x[te])))
    assert proba.shape == (len(te),) and ((proba >= 0) & (proba <= 1)).all()


def test_logistic_regression_multiclass_shapes():
    model = LogisticRegression(4, 3)
    x = nr.randn(5, 4)
    assert tuple(model(x).shape) == (5, 3)
    np.testing.assert_allclose(_np(model.predict_proba(x)).sum(-1), 1, atol=1e-6)
    assert tuple(model.predict(x).shape) == (5,)
    assert list(model.state_dict()) == ["linear.weight", "linear.bias"]


# -- mlp ----------------------------------------------------------------------------------------
def test_mlp_structure_and_keys():
    m = mlp([8, 16, 12, 3], activation="tanh", dropout=0.2, batch_norm=True)
    kinds = [type(layer).__name__ for layer in m]
    assert kinds == ["Linear", "BatchNorm1d", "Tanh", "Dropout",
                     "Linear", "BatchNorm1d", "Tanh", "Dropout", "Linear"]
    assert {"0.weight", "1.running_mean", "4.weight", "8.bias"} <= set(m.state_dict())
    assert sum(p.numel() for p in m.parameters()) == \
        (8 * 16 + 16) + 2 * 16 + (16 * 12 + 12) + 2 * 12 + (12 * 3 + 3)
    plain = mlp([8, 4, 2])
    assert [type(layer).__name__ for layer in plain] == ["Linear", "ReLU", "Linear"]
    flat = mlp([4, 3], flatten=True)
    assert tuple(flat(nr.randn(2, 1, 2, 2)).shape) == (2, 3)
    assert isinstance(mlp([2, 3, 1], activation=nn.GELU)[1], nn.GELU)


def test_mlp_matches_torch_sequential():
    ours = mlp([6, 5, 4, 2], activation="sigmoid")
    theirs = torch.nn.Sequential(torch.nn.Linear(6, 5), torch.nn.Sigmoid(),
                                 torch.nn.Linear(5, 4), torch.nn.Sigmoid(),
                                 torch.nn.Linear(4, 2))
    theirs.load_state_dict({k: torch.tensor(_np(v)) for k, v in ours.state_dict().items()})
    x = np.random.default_rng(0).standard_normal((3, 6)).astype(np.float32)
    np.testing.assert_allclose(_np(ours(nr.tensor(x))), theirs(torch.tensor(x)).detach().numpy(),
                               atol=1e-6)


@pytest.mark.parametrize("init,expected_std", [
    ("he", np.sqrt(2 / 400)), ("xavier", np.sqrt(2 / 800)), ("lecun", np.sqrt(1 / 400)),
    (("normal", 0.05), 0.05), ("default", np.sqrt(1 / 3 / 400)),
])
def test_mlp_init_schemes(init, expected_std):
    m = mlp([400, 400, 10], init=init)
    w = _np(m[0].weight)
    assert abs(w.std() / expected_std - 1) < 0.05
    if init != "default":
        assert not _np(m[0].bias).any()


def test_mlp_callable_init_and_errors():
    m = mlp([3, 2], init=nn.init.ones_)
    assert (_np(m[0].weight) == 1).all()
    with pytest.raises(ValueError, match="activation"):
        mlp([3, 2, 1], activation="swishy")
    with pytest.raises(ValueError, match="init"):
        mlp([3, 2], init="magic")
    with pytest.raises(ValueError, match="sizes"):
        mlp([3])
    with pytest.raises(ValueError, match="dropout"):
        mlp([3, 2, 1], dropout=1.0)


def test_mlp_deterministic_under_manual_seed():
    nr.manual_seed(5)
    a = mlp([10, 20, 3], init="he").state_dict()
    nr.manual_seed(5)
    b = mlp([10, 20, 3], init="he").state_dict()
    for k in a:
        np.testing.assert_array_equal(_np(a[k]), _np(b[k]))
