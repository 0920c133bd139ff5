import numpy as np
import pytest
import torch

import narae as nr
from helpers import check, randn, RNG


def sdpa(m):
    return m.nn.functional.scaled_dot_product_attention


def test_sdpa_basic():
    check(lambda m, q, k, v: sdpa(m)(q, k, v), randn(2, 3, 4), randn(2, 5, 4), randn(2, 5, 6),
          double=True)
    check(lambda m, q, k, v: sdpa(m)(q, k, v, scale=0.3), randn(2, 2, 3, 4), randn(2, 2, 5, 4),
          randn(2, 2, 5, 3))
    check(lambda m, q, k, v: sdpa(m)(q, k, v), randn(3, 4), randn(5, 4), randn(5, 2))


def test_sdpa_bool_mask_broadcast():
    mask = RNG.random((3, 5)) > 0.4
    mask[:, 0] = True
    check(lambda m, q, k, v, a: sdpa(m)(q, k, v, attn_mask=a), randn(2, 2, 3, 4),
          randn(2, 2, 5, 4), randn(2, 2, 5, 3), mask, double=True)
    mask_h = RNG.random((2, 1, 3, 5)) > 0.3
    mask_h[..., 1] = True
    check(lambda m, q, k, v, a: sdpa(m)(q, k, v, attn_mask=a), randn(2, 2, 3, 4),
          randn(2, 2, 5, 4), randn(2, 2, 5, 3), mask_h)


def test_sdpa_float_mask_is_added_and_differentiable():
    check(lambda m, q, k, v, a: sdpa(m)(q, k, v, attn_mask=a), randn(2, 3, 4), randn(2, 5, 4),
          randn(2, 5, 3), randn(3, 5), double=True)
    check(lambda m, q, k, v, a: sdpa(m)(q, k, v, attn_mask=a), randn(2, 2, 3, 4),
          randn(2, 2, 5, 4), randn(2, 2, 5, 3), randn(2, 1, 3, 5), diff=(0, 1, 2))


def test_sdpa_fully_masked_row_gives_zeros_like_torch():
    mask = np.ones((3, 4), dtype=bool)
    mask[1] = False
    check(lambda m, q, k, v, a: sdpa(m)(q, k, v, attn_mask=a), randn(2, 3, 4), randn(2, 4, 4),
          randn(2, 4, 2), mask, double=True)


@pytest.mark.parametrize("L,S", [(4, 4), (3, 5), (5, 3)])
def test_sdpa_causal(L, S):
    check(lambda m, q, k, v: sdpa(m)(q, k, v, is_causal=True), randn(2, L, 4), randn(2, S, 4),
          randn(2, S, 3), double=(L == S))


def test_sdpa_gqa():
    check(lambda m, q, k, v: sdpa(m)(q, k, v, enable_gqa=True), randn(2, 4, 3, 4),
          randn(2, 2, 5, 4), randn(2, 2, 5, 3))
    mask = RNG.random((2, 4, 3, 5)) > 0.3
    mask[..., 0] = True
    check(lambda m, q, k, v, a: sdpa(m)(q, k, v, attn_mask=a, enable_gqa=True),
          randn(2, 4, 3, 4), randn(2, 2, 5, 4), randn(2, 2, 5, 3), mask)
    check(lambda m, q, k, v: sdpa(m)(q, k, v, is_causal=True, enable_gqa=True),
          randn(1, 6, 3, 2), randn(1, 2, 3, 2), randn(1, 2, 3, 2))


def test_sdpa_dropout_zero_matches_torch():
    check(lambda m, q, k, v: sdpa(m)(q, k, v, dropout_p=0.0), randn(2, 3, 4), randn(2, 5, 4),
          randn(2, 5, 3))


def test_sdpa_dropout_statistics():
    # equal scores: every weight is 1/S; with v = I the output rows are the dropped weights
    S, p = 40, 0.3
    q = nr.zeros(50, 20, 8)
    k = nr.zeros(50, S, 8)
    v = nr.tensor(np.broadcast_to(np.eye(S, dtype=np.float32), (50, S, S)).copy())
    out = sdpa(nr)(q, k, v, dropout_p=p).numpy()
    assert abs((out == 0).mean() - p) < 0.01
    np.testing.assert_allclose(out[out != 0], 1.0 / (S * (1 - p)), rtol=1e-5)
    nr.manual_seed(5)
    a = sdpa(nr)(q, k, v, dropout_p=p).numpy()
    nr.manual_seed(5)
    np.testing.assert_array_equal(a, sdpa(nr)(q, k, v, dropout_p=p).numpy())


def test_sdpa_dropout_gradcheck_with_fixed_seed():
    qkv = [nr.randn(2, 3, 4, dtype=nr.float64, requires_grad=True) for _ in range(3)]

    def f(q, k, v):
        nr.manual_seed(11)
        return sdpa(nr)(q, k, v, dropout_p=0.4)
    nr.autograd.gradcheck(f, qkv)
    nr.autograd.gradgradcheck(f, qkv)


def test_sdpa_errors():
    q = nr.randn(2, 3, 4)
    with pytest.raises(RuntimeError, match=r"\(2, 3, 4\).*\(2, 5, 3\)"):
        sdpa(nr)(q, nr.randn(2, 5, 3), nr.randn(2, 5, 3))
    with pytest.raises(RuntimeError, match="is_causal"):
        sdpa(nr)(q, q, q, attn_mask=nr.ones(3, 3), is_causal=True)
    with pytest.raises(ValueError, match="dropout"):
        sdpa(nr)(q, q, q, dropout_p=1.5)
    with pytest.raises(RuntimeError, match="enable_gqa"):
        sdpa(nr)(nr.randn(1, 3, 2, 4), nr.randn(1, 2, 2, 4), nr.randn(1, 2, 2, 4),
                 enable_gqa=True)


def test_sdpa_matches_torch_reference_values():
    q, k, v = (RNG.standard_normal((1, 2, 3, 4)).astype(np.float32) for _ in range(3))
    ours = sdpa(nr)(nr.tensor(q), nr.tensor(k), nr.tensor(v), is_causal=True).numpy()
    theirs = sdpa(torch)(torch.tensor(q), torch.tensor(k), torch.tensor(v), is_causal=True)
    np.testing.assert_allclose(ours, theirs.numpy(), rtol=1e-5, atol=1e-6)
