"""Transformer layers and stacks against torch.nn in eval mode (torch's weights copied in):
outputs, input gradients and parameter gradients, with and without masks."""
import numpy as np
import pytest
import torch

import narae as nr
from narae.nn import transformer as T

RNG = np.random.default_rng(11)


def _np(t):
    return t.detach().numpy() if isinstance(t, torch.Tensor) else np.asarray(t.detach()._data)


def _pair(a):
    t, o = torch.from_numpy(a.copy()), nr.from_numpy(a.copy())
    if a.dtype.kind == "f":
        t.requires_grad_(True)
        o.requires_grad_(True)
    return o, t


def parity(make, shapes, call=None, train=False, atol=3e-5):
    """make(lib, ns) builds the module (ns: torch.nn or narae's namespace); compare both."""
    torch.manual_seed(0)
    theirs = make(torch.nn)
    ours = make(NS)
    assert list(ours.state_dict()) == list(theirs.state_dict())
    assert [(n, tuple(p.shape)) for n, p in ours.named_parameters()] == \
        [(n, tuple(p.shape)) for n, p in theirs.named_parameters()]
    res = ours.load_state_dict({k: v.detach().numpy() for k, v in theirs.state_dict().items()})
    assert not res.missing_keys and not res.unexpected_keys
    ours.train(train)
    theirs.train(train)
    pairs = [_pair(RNG.standard_normal(s).astype(np.float32)) for s in shapes]
    o_kw, t_kw = {}, {}
    for k, v in (call or {}).items():
        if isinstance(v, np.ndarray):
            o_kw[k], t_kw[k] = nr.from_numpy(v.copy()), torch.from_numpy(v.copy())
        else:
            o_kw[k] = t_kw[k] = v
    oo = ours(*[p[0] for p in pairs], **o_kw)
    to = theirs(*[p[1] for p in pairs], **t_kw)
    np.testing.assert_allclose(_np(oo), _np(to), atol=atol, rtol=1e-4)
    up = RNG.standard_normal(tuple(to.shape)).astype(np.float32)
    (oo * nr.from_numpy(up)).sum().backward()
    (to * torch.from_numpy(up)).sum().backward()
    for i, (o, t) in enumerate(pairs):
        np.testing.assert_allclose(_np(o.grad), _np(t.grad), atol=atol, rtol=1e-4,
                                   err_msg=f"input {i}")
    tp = dict(theirs.named_parameters())
    for n, p in ours.named_parameters():
        np.testing.assert_allclose(_np(p.grad), _np(tp[n].grad), atol=atol, rtol=1e-4,
                                   err_msg=n)
    return ours, theirs


class _NS:
    """narae's transformer classes under torch.nn's names (the lead exports them in nn)."""
    from narae.nn import LayerNorm, GELU  # noqa: F401
    TransformerEncoderLayer = T.TransformerEncoderLayer
    TransformerDecoderLayer = T.TransformerDecoderLayer
    TransformerEncoder = T.TransformerEncoder
    TransformerDecoder = T.TransformerDecoder
    Transformer = T.Transformer


NS = _NS
KPM = np.array([[False, False, False, True, True], [False, False, False, False, False]])
CAUSAL = np.triu(np.ones((5, 5), bool), 1)


@pytest.mark.parametrize("norm_first", [False, True])
@pytest.mark.parametrize("activation", ["relu", "gelu"])
def test_encoder_layer(norm_first, activation):
    parity(lambda nn: nn.TransformerEncoderLayer(8, 2, 16, activation=activation,
                                                 norm_first=norm_first),
           [(5, 2, 8)], dict(src_key_padding_mask=KPM, src_mask=CAUSAL))


def test_encoder_layer_batch_first_callable_activation_no_bias():
    parity(lambda nn: nn.TransformerEncoderLayer(8, 4, 12, activation=nn.GELU(), bias=False,
                                                 batch_first=True, layer_norm_eps=1e-6),
           [(2, 5, 8)], dict(src_key_padding_mask=KPM))
    parity(lambda nn: nn.TransformerEncoderLayer(8, 2, 12, batch_first=True), [(5, 8)])


def test_encoder_layer_is_causal():
    mask = T.generate_square_subsequent_mask(5)
    parity(lambda nn: nn.TransformerEncoderLayer(8, 2, 16), [(5, 2, 8)],
           dict(src_mask=mask.numpy(), is_causal=True))


@pytest.mark.parametrize("norm_first", [False, True])
@pytest.mark.parametrize("activation", ["relu", "gelu"])
def test_decoder_layer(norm_first, activation):
    parity(lambda nn: nn.TransformerDecoderLayer(8, 2, 16, activation=activation,
                                                 norm_first=norm_first),
           [(5, 2, 8), (6, 2, 8)],
           dict(tgt_mask=T.generate_square_subsequent_mask(5).numpy(),
                tgt_key_padding_mask=np.where(KPM, -np.inf, 0).astype(np.float32),
                memory_key_padding_mask=np.array([[0, 0, 0, 0, 0, -np.inf]] * 2, np.float32),
                memory_mask=np.zeros((5, 6), np.float32)))


def test_encoder_stack_with_norm():
    ours, _ = parity(lambda nn: nn.TransformerEncoder(
        nn.TransformerEncoderLayer(8, 2, 16, batch_first=True), 2, nn.LayerNorm(8)),
        [(2, 5, 8)], dict(src_key_padding_mask=KPM, mask=CAUSAL))
    assert "layers.1.self_attn.in_proj_weight" in ours.state_dict()
    assert "norm.weight" in ours.state_dict()
    # the clones are independent copies
    assert ours.layers[0].linear1.weight is not ours.layers[1].linear1.weight


def test_decoder_stack():
    parity(lambda nn: nn.TransformerDecoder(nn.TransformerDecoderLayer(8, 2, 16,
                                                                      norm_first=True), 2),
           [(5, 2, 8), (4, 2, 8)], dict(tgt_mask=CAUSAL, tgt_is_causal=True))


def test_full_transformer():
    ours, theirs = parity(lambda nn: nn.Transformer(8, 2, 1, 2, 16, batch_first=True),
                          [(2, 6, 8), (2, 5, 8)],
                          dict(tgt_mask=CAUSAL, src_key_padding_mask=np.zeros((2, 6), bool)))
    np.testing.assert_array_equal(
        T.Transformer.generate_square_subsequent_mask(4).numpy(),
        torch.nn.Transformer.generate_square_subsequent_mask(4).numpy())


def test_repr_matches_torch():
    ours = T.TransformerEncoder(T.TransformerEncoderLayer(8, 2, 16), 2)
    theirs = torch.nn.TransformerEncoder(torch.nn.TransformerEncoderLayer(8, 2, 16), 2,
                                         enable_nested_tensor=False)
    assert repr(ours) == repr(theirs)


def test_dropout_active_in_train_mode():
    layer = T.TransformerEncoderLayer(8, 2, 16, dropout=0.5)
    x = nr.randn(5, 2, 8)
    layer.eval()
    a = _np(layer(x))
    np.testing.assert_array_equal(a, _np(layer(x)))
    layer.train()
    assert not np.allclose(a, _np(layer(x)))


def test_transformer_learns_copy_a_little():
    """A tiny encoder stack trained for a few steps lowers its loss (gradients flow)."""
    nr.manual_seed(0)
    enc = T.TransformerEncoder(T.TransformerEncoderLayer(16, 2, 32, dropout=0.0,
                                                         batch_first=True), 1)
    head = nr.nn.Linear(16, 4)
    emb = nr.nn.Embedding(4, 16)
    params = list(enc.parameters()) + list(head.parameters()) + list(emb.parameters())
    opt = nr.optim.Adam(params, lr=1e-2)
    x = nr.randint(0, 4, (8, 6))
    losses = []
    for _ in range(15):
        loss = nr.nn.functional.cross_entropy(head(enc(emb(x))).reshape(-1, 4), x.reshape(-1))
        opt.zero_grad()
        loss.backward()
        opt.step()
        losses.append(loss.item())
    assert losses[-1] < 0.5 * losses[0]


def test_bad_activation_and_shapes():
    with pytest.raises(RuntimeError, match="relu/gelu"):
        T.TransformerEncoderLayer(8, 2, activation="tanh")
    with pytest.raises(RuntimeError, match="d_model"):
        T.Transformer(8, 2, 1, 1, 16)(nr.randn(3, 2, 6), nr.randn(3, 2, 6))
