"""MultiheadAttention against torch.nn.MultiheadAttention (weights copied in: forward, input
and parameter gradients), and the Bahdanau/Luong attentions' defining properties."""
import numpy as np
import pytest
import torch

import narae as nr
from narae.nn.attention import MultiheadAttention, BahdanauAttention, LuongAttention

RNG = np.random.default_rng(7)


def _np(t):
    return t.detach().numpy() if isinstance(t, torch.Tensor) else np.asarray(t.detach()._data)


def _pair(a, grad):
    """The same array as a torch and a narae tensor (float ones differentiable if grad)."""
    t, o = torch.from_numpy(a.copy()), nr.from_numpy(a.copy())
    if grad and a.dtype.kind == "f":
        t.requires_grad_(True)
        o.requires_grad_(True)
    return o, t


def mha_parity(kwargs, shapes, call=None, same_qkv=False, atol=2e-5):
    """Build both MHAs, copy torch's weights, compare outputs, weights and all gradients."""
    call = dict(call or {})
    torch.manual_seed(0)
    theirs = torch.nn.MultiheadAttention(**kwargs)
    ours = MultiheadAttention(**kwargs)
    assert [(n, tuple(p.shape)) for n, p in ours.named_parameters()] == \
        [(n, tuple(p.shape)) for n, p in theirs.named_parameters()]
    assert list(ours.state_dict()) == list(theirs.state_dict())
    res = ours.load_state_dict({k: v.detach().numpy() for k, v in theirs.state_dict().items()})
    assert not res.missing_keys and not res.unexpected_keys
    arrays = [RNG.standard_normal(s).astype(np.float32) for s in shapes]
    pairs = [_pair(a, True) for a in arrays]
    if same_qkv:
        pairs = [pairs[0]] * 3
    o_kw, t_kw = {}, {}
    for k, v in call.items():
        if isinstance(v, np.ndarray):
            o_kw[k], t_kw[k] = _pair(v, False)
        else:
            o_kw[k] = t_kw[k] = v
    oo = ours(*[p[0] for p in pairs], **o_kw)
    to = theirs(*[p[1] for p in pairs], **t_kw)
    np.testing.assert_allclose(_np(oo[0]), _np(to[0]), atol=atol, rtol=1e-4)
    if to[1] is None:
        assert oo[1] is None
    else:
        np.testing.assert_allclose(_np(oo[1]), _np(to[1]), atol=atol, rtol=1e-4)
    up = RNG.standard_normal(tuple(to[0].shape)).astype(np.float32)
    loss_o = (oo[0] * nr.from_numpy(up)).sum()
    loss_t = (to[0] * torch.from_numpy(up)).sum()
    if to[1] is not None:  # the weights are an output too: check their gradient path
        up2 = RNG.standard_normal(tuple(to[1].shape)).astype(np.float32)
        loss_o = loss_o + (oo[1] * nr.from_numpy(up2)).sum()
        loss_t = loss_t + (to[1] * torch.from_numpy(up2)).sum()
    loss_o.backward()
    loss_t.backward()
    for i, (o, t) in enumerate(pairs[:1] if same_qkv else pairs):
        np.testing.assert_allclose(_np(o.grad), _np(t.grad), atol=atol, rtol=1e-4,
                                   err_msg=f"input {i}")
    tp = dict(theirs.named_parameters())
    for n, p in ours.named_parameters():
        np.testing.assert_allclose(_np(p.grad), _np(tp[n].grad), atol=atol, rtol=1e-4,
                                   err_msg=n)
    return ours, theirs


@pytest.mark.parametrize("need_weights", [True, False])
@pytest.mark.parametrize("average", [True, False])
def test_mha_basic(need_weights, average):
    mha_parity(dict(embed_dim=8, num_heads=2), [(4, 3, 8), (5, 3, 8), (5, 3, 8)],
               dict(need_weights=need_weights, average_attn_weights=average))


def test_mha_self_attention_same_tensor():
    mha_parity(dict(embed_dim=8, num_heads=4), [(4, 2, 8)], same_qkv=True)


@pytest.mark.parametrize("need_weights", [True, False])
def test_mha_key_padding_mask_bool_and_float(need_weights):
    kpm = np.zeros((3, 5), bool)
    kpm[0, 3:] = True
    kpm[2, 1] = True
    mha_parity(dict(embed_dim=8, num_heads=2), [(4, 3, 8), (5, 3, 8), (5, 3, 8)],
               dict(key_padding_mask=kpm, need_weights=need_weights))
    fk = np.where(kpm, -1e9, 0.0).astype(np.float32)
    mha_parity(dict(embed_dim=8, num_heads=2), [(4, 3, 8), (5, 3, 8), (5, 3, 8)],
               dict(key_padding_mask=fk, need_weights=need_weights))


@pytest.mark.parametrize("need_weights", [True, False])
def test_mha_attn_mask_bool_float_and_3d(need_weights):
    causal = np.triu(np.ones((4, 4), bool), 1)
    shapes = [(4, 2, 8), (4, 2, 8), (4, 2, 8)]
    mha_parity(dict(embed_dim=8, num_heads=2), shapes,
               dict(attn_mask=causal, need_weights=need_weights))
    fm = RNG.standard_normal((4, 4)).astype(np.float32)
    mha_parity(dict(embed_dim=8, num_heads=2), shapes,
               dict(attn_mask=fm, need_weights=need_weights))
    m3 = RNG.standard_normal((2 * 2, 4, 4)).astype(np.float32)
    kpm = np.array([[0, 0, 0, -np.inf], [0, 0, 0, 0]], np.float32)
    mha_parity(dict(embed_dim=8, num_heads=2), shapes,
               dict(attn_mask=m3, key_padding_mask=kpm, need_weights=need_weights))


@pytest.mark.parametrize("need_weights", [True, False])
def test_mha_is_causal_hint(need_weights):
    causal = np.triu(np.ones((4, 4), bool), 1)
    mha_parity(dict(embed_dim=8, num_heads=2), [(4, 2, 8)], same_qkv=True,
               call=dict(attn_mask=causal, is_causal=True, need_weights=need_weights))
    with pytest.raises(RuntimeError, match="attn_mask"):
        MultiheadAttention(8, 2)(nr.randn(4, 2, 8), nr.randn(4, 2, 8), nr.randn(4, 2, 8),
                                 is_causal=True)


def test_mha_kdim_vdim_and_no_bias():
    ours, _ = mha_parity(dict(embed_dim=8, num_heads=2, kdim=6, vdim=5),
                         [(4, 3, 8), (5, 3, 6), (5, 3, 5)])
    assert ours.in_proj_weight is None and tuple(ours.k_proj_weight.shape) == (8, 6)
    mha_parity(dict(embed_dim=8, num_heads=2, bias=False), [(4, 3, 8), (5, 3, 8), (5, 3, 8)])


@pytest.mark.parametrize("need_weights", [True, False])
def test_mha_bias_kv_and_zero_attn(need_weights):
    kpm = np.zeros((3, 5), bool)
    kpm[1, 4] = True
    mha_parity(dict(embed_dim=8, num_heads=2, add_bias_kv=True, add_zero_attn=True),
               [(4, 3, 8), (5, 3, 8), (5, 3, 8)],
               dict(key_padding_mask=kpm, attn_mask=np.triu(np.ones((4, 5), bool), 2),
                    need_weights=need_weights))


def test_mha_batch_first_and_unbatched():
    kpm = np.array([[False, False, True], [False, False, False]])
    mha_parity(dict(embed_dim=6, num_heads=3, batch_first=True), [(2, 4, 6), (2, 3, 6),
                                                                   (2, 3, 6)],
               dict(key_padding_mask=kpm, average_attn_weights=False))
    mha_parity(dict(embed_dim=6, num_heads=3, batch_first=True), [(2, 4, 6)], same_qkv=True,
               call=dict(need_weights=False))
    mha_parity(dict(embed_dim=6, num_heads=3), [(4, 6), (3, 6), (3, 6)],
               dict(key_padding_mask=np.array([False, True, False])))
    mha_parity(dict(embed_dim=6, num_heads=3, batch_first=True), [(4, 6), (3, 6), (3, 6)],
               dict(need_weights=False))


def test_mha_dropout_eval_is_identity_and_train_changes():
    torch.manual_seed(0)
    m = MultiheadAttention(8, 2, dropout=0.5)
    x = nr.randn(3, 2, 8)
    m.eval()
    a = m(x, x, x)[0]
    b = m(x, x, x)[0]
    np.testing.assert_array_equal(_np(a), _np(b))
    m.train()
    c = m(x, x, x)[0]
    assert not np.allclose(_np(a), _np(c))


def test_mha_bad_shapes():
    m = MultiheadAttention(8, 2)
    with pytest.raises(RuntimeError, match=r"\(4, 2, 7\)"):
        m(nr.randn(4, 2, 7), nr.randn(4, 2, 8), nr.randn(4, 2, 8))
    with pytest.raises(RuntimeError, match="attn_mask"):
        m(nr.randn(4, 2, 8), nr.randn(5, 2, 8), nr.randn(5, 2, 8), attn_mask=nr.zeros(4, 4))
    with pytest.raises(AssertionError):
        MultiheadAttention(7, 2)


def test_mha_repr_matches_torch():
    ours, theirs = MultiheadAttention(8, 2), torch.nn.MultiheadAttention(8, 2)
    assert repr(ours) == repr(theirs)


# -- Bahdanau / Luong -------------------------------------------------------------------
ATTNS = [lambda: BahdanauAttention(6, 10, 7), lambda: LuongAttention(6, "general", key_dim=10),
         lambda: LuongAttention(6, "concat", key_dim=10), lambda: LuongAttention(10, "dot")]


@pytest.mark.parametrize("make", ATTNS)
@pytest.mark.parametrize("steps", [None, 3])
def test_encdec_attention_weights_sum_to_one_and_respect_mask(make, steps):
    attn = make()
    qdim = 10 if getattr(attn, "method", None) == "dot" else 6
    B, S = 2, 5
    q = nr.randn(B, qdim) if steps is None else nr.randn(B, steps, qdim)
    keys = nr.randn(B, S, 10, requires_grad=True)
    mask = nr.tensor(np.array([[1, 1, 1, 0, 0], [1, 1, 1, 1, 1]], bool))
    ctx, w = attn(q, keys, mask)
    lead = (B,) if steps is None else (B, steps)
    assert tuple(w.shape) == lead + (S,) and tuple(ctx.shape) == lead + (10,)
    wa = _np(w)
    np.testing.assert_allclose(wa.sum(-1), 1.0, rtol=1e-5)
    assert np.all(wa[0, ..., 3:] == 0) and np.all(wa[1] > 0)
    # the context is the weighted sum of the keys
    np.testing.assert_allclose(_np(ctx), np.einsum("b...s,bsd->b...d", wa, _np(keys)),
                               rtol=1e-4, atol=1e-5)
    ctx.sum().backward()
    assert np.all(_np(keys.grad)[0, 3:] == 0)  # masked keys get no gradient
    for n, p in attn.named_parameters():
        assert p.grad is not None, n


def test_luong_dot_matches_formula_and_gradcheck():
    q = nr.randn(2, 4, dtype=nr.float64, requires_grad=True)
    k = nr.randn(2, 3, 4, dtype=nr.float64, requires_grad=True)
    attn = LuongAttention(4, "dot")
    ctx, w = attn(q, k)
    s = np.einsum("bd,bsd->bs", _np(q), _np(k))
    e = np.exp(s - s.max(-1, keepdims=True))
    np.testing.assert_allclose(_np(w), e / e.sum(-1, keepdims=True), rtol=1e-10)
    assert nr.autograd.gradcheck(lambda a, b: attn(a, b)[0], [q, k])


def test_bahdanau_gradcheck_and_projected_keys():
    attn = BahdanauAttention(3, 4, 5).double()
    q = nr.randn(2, 3, dtype=nr.float64, requires_grad=True)
    k = nr.randn(2, 3, 4, dtype=nr.float64, requires_grad=True)
    assert nr.autograd.gradcheck(lambda a, b: attn(a, b)[0], [q, k])
    c1, w1 = attn(q, k)
    c2, w2 = attn(q, k, projected_keys=attn.key_proj(k))
    np.testing.assert_allclose(_np(c1), _np(c2))


def test_encdec_attention_bad_args():
    with pytest.raises(ValueError, match="method"):
        LuongAttention(4, "cosine")
    with pytest.raises(RuntimeError, match=r"\(2, 3\)"):
        BahdanauAttention(3, 4, 5)(nr.randn(2, 3), nr.randn(2, 4))
