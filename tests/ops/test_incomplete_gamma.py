"""narae.igamma / igammac (regularized incomplete gamma) against torch."""
import numpy as np
import pytest
import torch

import narae
from narae.ops import incomplete_gamma as ig
from tests.helpers import check, rand

EDGE_A = np.array([0.0, 0.5, 1.0, 2.0, -1.0, np.inf, 3.0, 0.0, np.inf, 0.0, np.nan, 1.0, 5.0])
EDGE_X = np.array([1.0, 0.0, 2.0, -1.0, 1.0, 1.0, np.inf, 0.0, np.inf, np.inf, 1.0, np.nan, 0.0])


@pytest.mark.parametrize("name", ["igamma", "igammac"])
def test_forward_and_grad_wrt_x(name):
    a = rand(3, 4, low=0.2, high=6.0)
    x = rand(3, 4, low=0.1, high=8.0)
    check(lambda m, x: getattr(m, name)(m.tensor(a, dtype=x.dtype), x), x, double=True)
    # broadcasting and the method form (a constant, x differentiable)
    check(lambda m, x: getattr(m.tensor(a[0], dtype=x.dtype), name)(x.unsqueeze(1)),
          rand(3, low=0.5, high=3))


@pytest.mark.parametrize("name", ["igamma", "igammac"])
def test_edges_match_torch(name):
    for dt in (np.float32, np.float64):
        ours = getattr(narae, name)(narae.tensor(EDGE_A.astype(dt)), narae.tensor(EDGE_X.astype(dt)))
        ref = getattr(torch, name)(torch.tensor(EDGE_A.astype(dt)), torch.tensor(EDGE_X.astype(dt)))
        assert ours.dtype == getattr(narae, np.dtype(dt).name)
        np.testing.assert_allclose(ours.numpy(), ref.numpy(), rtol=1e-6, equal_nan=True)


def test_edge_gradients_match_torch():
    for name in ("igamma", "igammac"):
        xs = narae.tensor(EDGE_X, requires_grad=True)
        with np.errstate(all="ignore"):
            getattr(narae, name)(narae.tensor(EDGE_A), xs).sum().backward()
        xt = torch.tensor(EDGE_X, requires_grad=True)
        getattr(torch, name)(torch.tensor(EDGE_A), xt).sum().backward()
        np.testing.assert_allclose(xs.grad.numpy(), xt.grad.numpy(), equal_nan=True)


def test_grad_wrt_input_raises_like_torch():
    for m in (narae, torch):
        a = m.tensor([1.0, 2.0], requires_grad=True)
        y = m.igamma(a, m.ones(2))  # forward is fine
        with pytest.raises(NotImplementedError, match="derivative for 'igamma: input'"):
            y.sum().backward()
        with pytest.raises(NotImplementedError, match="igammac: input"):
            m.igammac(a, m.ones(2)).sum().backward()


def test_in_place_variants():
    a, x = rand(5, low=0.3, high=4), rand(5, low=0.1, high=5)
    for name in ("igamma_", "igammac_"):
        n, t = narae.tensor(a), torch.tensor(a)
        assert getattr(n, name)(narae.tensor(x)) is n
        getattr(t, name)(torch.tensor(x))
        np.testing.assert_allclose(n.numpy(), t.numpy(), rtol=1e-10)
    with pytest.raises(RuntimeError, match="broadcast shape"):
        narae.ones(2).igamma_(narae.ones(3, 1))


def test_dtype_and_operand_errors():
    # float with int promotes; integer-only raises as torch does
    out = narae.igamma(narae.tensor([1.0, 2.0]), narae.tensor(2))
    ref = torch.igamma(torch.tensor([1.0, 2.0]), torch.tensor(2))
    np.testing.assert_allclose(out.numpy(), ref.numpy(), rtol=1e-6)
    for m in (narae, torch):
        with pytest.raises(NotImplementedError):
            m.igamma(m.tensor([1, 2]), m.tensor([1, 2]))
        with pytest.raises(TypeError):
            m.igamma(m.tensor([1.0, 2.0]), 2.0)
        with pytest.raises(RuntimeError, match=r"\(2,\).*\(3,\)|2.*3"):
            m.igamma(m.ones(2), m.ones(3))


def test_scipy_free_fallback_matches_scipy():
    scipy_special = pytest.importorskip("scipy.special")
    a = np.concatenate([rand(300, low=0.01, high=40), EDGE_A, [1e3, 1e3]])
    x = np.concatenate([rand(300, low=0.0, high=60), EDGE_X, [990.0, 1020.0]])
    np.testing.assert_allclose(ig._fallback(np, a, x, False), scipy_special.gammainc(a, x),
                               rtol=1e-10, atol=1e-12, equal_nan=True)
    np.testing.assert_allclose(ig._fallback(np, a, x, True), scipy_special.gammaincc(a, x),
                               rtol=1e-10, atol=1e-12, equal_nan=True)


def test_without_scipy_uses_fallback(monkeypatch):
    import builtins
    real_import = builtins.__import__

    def no_scipy(name, *args, **kwargs):
        if name.startswith("scipy"):
            raise ImportError(name)
        return real_import(name, *args, **kwargs)
    a, x = rand(4, low=0.5, high=3), rand(4, low=0.1, high=4)
    ref = torch.igamma(torch.tensor(a), torch.tensor(x)).numpy()
    monkeypatch.setattr(builtins, "__import__", no_scipy)
    out = narae.igamma(narae.tensor(a), narae.tensor(x)).numpy()
    np.testing.assert_allclose(out, ref, rtol=1e-10)
