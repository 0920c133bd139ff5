"""narae.onnx.export: every layer family and the zoo models, checked by onnx's checker and
run in onnxruntime against narae's own eval-mode output."""
import io
import subprocess
import sys

import numpy as np
import pytest

import narae
import narae.models as M
from narae import nn
from helpers import randn, rand

onnx = pytest.importorskip("onnx")
ort = pytest.importorskip("onnxruntime")

RTOL, ATOL = 1e-4, 1e-5


def t(a, dtype=np.float32):
    return narae.tensor(np.asarray(a, dtype=dtype))


def ids(*shape, high=10):
    return narae.tensor(np.random.default_rng(sum(shape)).integers(0, high, shape))


def _flat(v, out):
    if isinstance(v, narae.Tensor):
        out.append(v)
    elif isinstance(v, (tuple, list)):
        for x in v:
            _flat(x, out)
    return out


def session(proto):
    return ort.InferenceSession(proto.SerializeToString(), providers=["CPUExecutionProvider"])


def export_and_compare(model, args, feeds=None, reruns=(), **kw):
    """Export, check the model, run it in onnxruntime on ``args`` (and on each argument
    tuple in ``reruns``) and compare with narae's output. Returns the ModelProto."""
    if hasattr(model, "eval"):
        model.eval()
    args = args if isinstance(args, tuple) else (args,)
    proto = narae.onnx.export(model, args, None, **kw)
    onnx.checker.check_model(proto, full_check=True)
    sess = session(proto)
    names = [i.name for i in sess.get_inputs()]
    for run_args in (args,) + tuple(reruns):
        feed = {n: a.numpy() for n, a in zip(names, _flat(list(run_args), []))}
        got = sess.run(None, feed)
        with narae.no_grad():
            ref = _flat(model(*run_args), [])
        assert len(got) == len(ref)
        for g, r in zip(got, ref):
            assert g.shape == tuple(r.shape)
            np.testing.assert_allclose(g, r.numpy(), rtol=RTOL, atol=ATOL)
    return proto


def dynamic_batch(model, args, bigger, n_out=1):
    """Export with a dynamic batch axis on every input and output, run with ``bigger``."""
    args = args if isinstance(args, tuple) else (args,)
    bigger = bigger if isinstance(bigger, tuple) else (bigger,)
    ins = [f"in{i}" for i in range(len(args))]
    outs = [f"out{i}" for i in range(n_out)]
    axes = {n: {0: "batch"} for n in ins + outs}
    return export_and_compare(model, args, reruns=(bigger,), input_names=ins,
                              output_names=outs, dynamic_axes=axes)


# --- zoo models --------------------------------------------------------------------------------
def test_mlp_names_initializers_after_state_dict():
    model = M.mlp([10, 16, 4], batch_norm=True, dropout=0.2)
    model.train()
    with narae.no_grad():  # give batch norm non-trivial running statistics
        model(t(randn(8, 10)))
    proto = export_and_compare(model, t(randn(3, 10)), input_names=["x"], output_names=["y"])
    inits = {i.name for i in proto.graph.initializer}
    params = {k for k in model.state_dict() if not k.endswith("num_batches_tracked")}
    assert params <= inits
    assert [i.name for i in proto.graph.input] == ["x"]
    assert [o.name for o in proto.graph.output] == ["y"]
    model.train()
    narae.onnx.export(model, (t(randn(3, 10)),), None)
    assert model.training and model[1].training  # the mode is restored after the export


def test_lenet_dynamic_batch():
    proto = dynamic_batch(M.lenet5(), t(randn(2, 1, 28, 28)), t(randn(5, 1, 28, 28)))
    dims = proto.graph.input[0].type.tensor_type.shape.dim
    assert dims[0].dim_param == "batch" and dims[1].dim_value == 1


def test_resnet20_dynamic_batch():
    dynamic_batch(M.resnet20(num_classes=10), t(randn(2, 3, 32, 32)), t(randn(3, 3, 32, 32)))


def test_small_vgg_features_with_batch_norm():
    features = M.vgg.make_layers([4, "M", 8, "M"], batch_norm=True)
    model = nn.Sequential(features, nn.Flatten(), nn.Linear(8 * 4 * 4, 5))
    dynamic_batch(model, t(randn(1, 3, 16, 16)), t(randn(2, 3, 16, 16)))


def test_char_lstm_outputs_and_state():
    model = M.CharLSTM(11, 8, 12, num_layers=2)
    dynamic_batch(model, ids(2, 5, high=11), ids(3, 5, high=11), n_out=3)


def test_char_lstm_with_given_state():
    model = M.CharLSTM(7, 4, 6)
    state = (t(randn(1, 2, 6)), t(randn(1, 2, 6)))
    export_and_compare(model, (ids(2, 3, high=7), state))


@pytest.mark.parametrize("cell", ["gru", "lstm"])
def test_seq2seq_encoder_packed(cell):
    s2s = M.Seq2Seq(vocab_size=12, emb_dim=4, hidden_size=5, cell=cell)

    class Encoder(nn.Module):
        def __init__(self):
            super().__init__()
            self.s2s = s2s

        def forward(self, src, lengths):
            memory, _, state = self.s2s.encode(src, lengths)
            return memory, state["h"]

    src = ids(3, 6, high=12)
    src._data[:, :] = np.maximum(src._data, 3)
    src._data[1, 4:] = 0
    src._data[2, 2:] = 0
    export_and_compare(Encoder(), (src, narae.tensor([6, 4, 2])))


def test_autoencoders():
    dynamic_batch(M.Autoencoder(12, [6, 3]), t(rand(2, 12)), t(rand(4, 12)))
    dynamic_batch(M.ConvAutoencoder(channels=(4, 8)), t(rand(2, 1, 8, 8)), t(rand(3, 1, 8, 8)))


# --- layer families ------------------------------------------------------------------------------
@pytest.mark.parametrize("layer,shape", [
    (lambda: nn.Conv1d(4, 6, 3, stride=2, padding=1, dilation=2, groups=2), (2, 4, 11)),
    (lambda: nn.Conv2d(3, 4, (3, 2), stride=(2, 1), padding=(1, 0), bias=False), (2, 3, 7, 6)),
    (lambda: nn.Conv2d(4, 4, 3, padding="same", groups=4), (1, 4, 5, 5)),
    (lambda: nn.Conv3d(2, 3, 2, stride=1, padding=1), (1, 2, 4, 4, 3)),
    (lambda: nn.ConvTranspose2d(4, 6, 3, stride=2, padding=1, output_padding=1, groups=2),
     (2, 4, 5, 5)),
    (lambda: nn.ConvTranspose2d(2, 3, 3, stride=1, padding=2, dilation=2), (2, 2, 4, 4)),
], ids=["conv1d", "conv2d", "conv2d_same", "conv3d", "convT", "convT_dilated"])
def test_convolutions(layer, shape):
    big = (shape[0] + 2,) + shape[1:]
    dynamic_batch(layer(), t(randn(*shape)), t(randn(*big)))


@pytest.mark.parametrize("layer,shape", [
    (lambda: nn.MaxPool1d(3, 2, 1), (2, 3, 10)),
    (lambda: nn.MaxPool2d(3, 2, 1, ceil_mode=True), (2, 3, 9, 8)),
    (lambda: nn.MaxPool2d(2, dilation=2), (1, 2, 7, 7)),
    (lambda: nn.MaxPool3d(2), (1, 2, 4, 4, 4)),
    (lambda: nn.AvgPool1d(3, 2, 1, count_include_pad=False), (2, 3, 10)),
    (lambda: nn.AvgPool2d(3, 2, 1, ceil_mode=True), (2, 3, 9, 8)),
    (lambda: nn.AvgPool2d(2, divisor_override=3), (1, 2, 6, 6)),
    (lambda: nn.AdaptiveAvgPool2d((3, 2)), (2, 3, 7, 5)),
    (lambda: nn.AdaptiveAvgPool2d(1), (2, 3, 4, 4)),
    (lambda: nn.AdaptiveAvgPool1d(4), (2, 3, 9)),
    (lambda: nn.AdaptiveMaxPool2d((2, 3)), (2, 3, 5, 7)),
    (lambda: nn.AdaptiveMaxPool1d(3), (2, 3, 6)),
    (lambda: nn.LPPool2d(2, 2), (2, 3, 4, 4)),
], ids=["max1d", "max2d_ceil", "max2d_dil", "max3d", "avg1d", "avg2d_ceil", "avg2d_div",
        "adaptive2d", "global", "adaptive1d", "adaptive_max2d", "adaptive_max1d", "lp"])
def test_pooling(layer, shape):
    big = (shape[0] + 1,) + shape[1:]
    dynamic_batch(layer(), t(randn(*shape)), t(randn(*big)))


def test_batch_norm_eval_and_training_mode():
    bn = nn.Sequential(nn.Conv2d(2, 3, 3), nn.BatchNorm2d(3), nn.ReLU())
    bn.train()
    with narae.no_grad():
        bn(t(randn(6, 2, 5, 5)))
    x = t(randn(2, 2, 5, 5))
    export_and_compare(bn, x)
    # TrainingMode.TRAINING: the batch statistics, as the model computes them in training
    bn.train()
    proto = narae.onnx.export(bn, (x,), None, training=narae.onnx.TrainingMode.TRAINING)
    got = session(proto).run(None, {"input": x.numpy()})[0]
    with narae.no_grad():
        ref = bn(x)
    np.testing.assert_allclose(got, ref.numpy(), rtol=RTOL, atol=ATOL)


@pytest.mark.parametrize("layer,shape", [
    (lambda: nn.LayerNorm(6), (2, 3, 6)),
    (lambda: nn.LayerNorm((3, 6), elementwise_affine=False), (2, 3, 6)),
    (lambda: nn.GroupNorm(2, 4), (2, 4, 3, 3)),
    (lambda: nn.InstanceNorm1d(3, affine=True), (2, 3, 5)),
    (lambda: nn.BatchNorm1d(3), (4, 3)),
    (lambda: nn.LocalResponseNorm(3), (2, 5, 3, 3)),
], ids=["layer", "layer_noaffine", "group", "instance", "bn1d", "lrn"])
def test_normalization(layer, shape):
    big = (shape[0] + 2,) + shape[1:]
    dynamic_batch(layer(), t(randn(*shape)), t(randn(*big)))


ACTIVATIONS = [nn.ReLU(), nn.LeakyReLU(0.2), nn.ELU(0.7), nn.SELU(), nn.CELU(0.5),
               nn.GELU(), nn.GELU("tanh"), nn.Sigmoid(), nn.Tanh(), nn.Softplus(),
               nn.Softplus(beta=2.0, threshold=1.0), nn.SiLU(), nn.Hardtanh(-0.5, 0.8),
               nn.ReLU6(), nn.PReLU(), nn.PReLU(4), nn.Softmax(1), nn.LogSoftmax(-1),
               nn.Hardswish(), nn.Hardsigmoid(), nn.Softshrink(0.3), nn.Hardshrink(),
               nn.Threshold(0.1, -2.0), nn.Mish(), nn.Softsign(), nn.LogSigmoid(),
               nn.Softmin(1), nn.GLU(1)]


@pytest.mark.parametrize("act", ACTIVATIONS, ids=lambda a: type(a).__name__)
def test_activations(act):
    x = randn(2, 4, 3) * 3
    x[0, 0, 0] = 0.0
    dynamic_batch(act, t(x), t(randn(5, 4, 3)))


def test_activations_and_less_common_ops_at_lowest_opset():
    model = nn.Sequential(*ACTIVATIONS[:-2])  # (Softmin and GLU change the values' range)
    export_and_compare(model, t(randn(2, 4, 3)), opset_version=13)
    export_and_compare(LessCommon(), (t(randn(2, 3, 4)), ids(2, 3, 2, high=2)),
                       opset_version=13)


@pytest.mark.parametrize("opset", [13, 18, 20, 21])
def test_opsets(opset):
    model = nn.Sequential(nn.Linear(4, 6), nn.GELU(), nn.LayerNorm(6), nn.Softmax(-1))
    proto = export_and_compare(model, t(randn(3, 4)), opset_version=opset)
    assert proto.opset_import[0].version == opset
    ops = {n.op_type for n in proto.graph.node}
    assert ("LayerNormalization" in ops) == (opset >= 17) and ("Gelu" in ops) == (opset >= 20)


def test_dropout_is_identity_in_export():
    model = nn.Sequential(nn.Linear(5, 5), nn.Dropout(0.5), nn.AlphaDropout(0.3))
    model.train()
    x = t(randn(3, 5))
    proto = narae.onnx.export(model, (x,), None)
    assert not any(n.op_type not in ("Gemm",) for n in proto.graph.node)
    model.eval()
    with narae.no_grad():
        ref = model(x)
    np.testing.assert_allclose(session(proto).run(None, {"input": x.numpy()})[0], ref.numpy(),
                               rtol=RTOL, atol=ATOL)


def test_embedding_and_linear_3d():
    model = nn.Sequential(nn.Embedding(10, 4, padding_idx=0), nn.Linear(4, 3), nn.Flatten())
    dynamic_batch(model, ids(2, 5), ids(4, 5))


class ShapeOps(nn.Module):
    def forward(self, x):
        b = x.transpose(1, 2).reshape(x.shape[0], -1)
        c = narae.cat(list(x.chunk(2, 2)), 1).flatten(1)
        s1, s2 = x.split([1, 2], 1)
        d = narae.stack([x, x * 2], 1).unsqueeze(-1).permute(0, 3, 1, 2, 4).squeeze(-1)
        return (b, c, s1, s2, d, x[:, 1:3], x[:, ::2, ::-1], x[..., None], x[:, 0], x[:, -1, 1:],
                x.view(x.shape[0], 2, 6), x[:, :1].expand(x.shape[0], 3, 4), x.roll(1, 2),
                x.roll((1, -1), (1, 2)), narae.ops.shape.SumTo((3, 1))(x))


def test_shape_and_indexing_ops():
    dynamic_batch(ShapeOps(), t(randn(2, 3, 4)), t(randn(5, 3, 4)), n_out=15)


class Reductions(nn.Module):
    def forward(self, x):
        v, i = x.max(1)
        w, j = x.min(-1, keepdim=True)
        return (x.sum((1, 2)), x.mean(-1, keepdim=True), x.amax(1), x.amin((1, 2)), v, i, w, j,
                x.argmax(-1), x.std(1), x.var(2, keepdim=True), x.logsumexp(1), x.prod(2),
                x.cumsum(1))


def test_reductions():
    dynamic_batch(Reductions(), t(randn(2, 3, 4)), t(randn(3, 3, 4)), n_out=14)


class Elementwise(nn.Module):
    def forward(self, x, y):
        return (x + y, x - y, x * y, x / (y.abs() + 1), (x.abs() + 0.5) ** y, -x, x.exp(),
                (x.abs() + 1).log(), x.abs().sqrt(), (x.abs() + 1).rsqrt(), x.clamp(-0.5, 0.5),
                x.clamp(min=0.1), narae.maximum(x, y), narae.minimum(x, y), 1 - x, 2 / (x + 5),
                x ** 2, x ** 3, 2 ** x, x.sin(), x.cos(), x.erf(), (x * 3).floor(),
                (x * 3).round(), x.sign(), (x * 3).trunc(),
                narae.where(x > y, x, y), (x > 0).float(), (x <= y) | (x == 0), x != y,
                ((x < 0) & (y >= 0)).logical_not(), x.double())


def test_elementwise_and_comparisons():
    x, y = t(randn(2, 3)), t(randn(1, 3))
    export_and_compare(Elementwise(), (x, y))


class LessCommon(nn.Module):
    def forward(self, x, i):
        u = x.clamp(-0.9, 0.9)
        return (u.acos(), u.asin(), x.atan(), (x.abs() + 1).acosh(), x.asinh(), u.atanh(),
                x.sinh(), x.cosh(), x.erfc(), x.frac(), u.abs().logit(eps=0.1),
                narae.logaddexp(x, x * 2), narae.logaddexp2(x, -x), x.norm(dim=1),
                x.norm(p=1, dim=-1, keepdim=True), narae.linalg.vector_norm(x, ord=3, dim=1),
                narae.linalg.vector_norm(x, ord=float("inf")),
                narae.einsum("bij,bjk->bik", x, x.transpose(1, 2)), x.tril(), x.triu(1),
                x.gather(2, i), x[[0, 1], [2, 0]], x[i[:, :, 0], i[:, :, 1]], x[:, i[0, :, 0]])


def test_less_common_ops_and_traced_indices():
    """Index tensors that are graph inputs stay inputs: a new index changes the result."""
    model = LessCommon()
    x = t(randn(2, 3, 4))
    i, j = ids(2, 3, 2, high=2), narae.tensor(np.array([[[1, 0]] * 3, [[0, 1]] * 3]))
    export_and_compare(model, (x, i), reruns=((x, j),))


def linear_algebra(x, w, b):
    F = nn.functional
    return (narae.addmm(b, x, w.t()), narae.addmm(b, x, w.t(), beta=0.5, alpha=2),
            narae.addmm(b, x, w.t(), beta=0), narae.mm(x, w.t()), F.linear(x, w, b),
            F.linear(x[None], w), narae.bmm(x[None], w.t()[None]), x @ w.t(),
            narae.baddbmm(b[None, None], x[None], w.t()[None]), narae.outer(x[0], w[0]),
            narae.dot(x[0], x[1]), F.normalize(x, dim=1), F.cosine_similarity(x, x * 2),
            F.pairwise_distance(x, x + 1))


def test_linear_algebra():
    export_and_compare(linear_algebra, (t(randn(3, 4)), t(randn(5, 4)), t(randn(5))))


@pytest.mark.parametrize("mode", ["lstm", "gru", "rnn_tanh", "rnn_relu"])
def test_recurrent_layers(mode):
    kind, _, act = mode.partition("_")
    if kind == "rnn":
        layer = nn.RNN(4, 5, num_layers=2, nonlinearity=act, batch_first=True)
    else:
        layer = getattr(nn, kind.upper())(4, 5, num_layers=2, bidirectional=True,
                                          batch_first=True)
    n_out = 3 if kind == "lstm" else 2
    dynamic_batch(layer, t(randn(2, 3, 4)), t(randn(4, 3, 4)), n_out=n_out)


def test_recurrent_with_initial_state_and_no_bias():
    gru = nn.GRU(3, 4, bias=False)
    export_and_compare(gru, (t(randn(5, 2, 3)), t(randn(1, 2, 4))))
    lstm = nn.LSTM(3, 4, proj_size=0)
    export_and_compare(lstm, (t(randn(5, 2, 3)), (t(randn(1, 2, 4)), t(randn(1, 2, 4)))))


def test_attention():
    mha = nn.MultiheadAttention(8, 2, batch_first=True)
    q = t(randn(2, 3, 8))
    q5 = t(randn(5, 3, 8))
    dynamic_batch(mha, (q, q, q), (q5, q5, q5), n_out=2)
    layer = nn.TransformerEncoderLayer(8, 2, 16, dropout=0.1, batch_first=True)
    dynamic_batch(layer, t(randn(2, 3, 8)), t(randn(4, 3, 8)))


@pytest.mark.parametrize("spec", [{0: "batch", 1: "time"}, [0, 1]], ids=["named", "list"])
def test_dynamic_batch_and_sequence_length(spec):
    """Reshapes whose sizes come from two dynamic axes (heads split off a batch*time dim)."""
    layer = nn.TransformerEncoderLayer(8, 2, 16, batch_first=True).eval()
    x, x2 = t(randn(2, 5, 8)), t(randn(3, 7, 8))
    export_and_compare(layer, x, reruns=((x2,),), input_names=["x"], output_names=["y"],
                       dynamic_axes={"x": spec, "y": spec})
    mha = nn.MultiheadAttention(8, 2).eval()  # (time, batch, embed)
    q, q2 = t(randn(5, 2, 8)), t(randn(4, 3, 8))
    axes = {n: {0: "time", 1: "batch"} for n in ("q", "k", "v")}
    export_and_compare(mha, (q, q, q), reruns=((q2, q2, q2),), input_names=["q", "k", "v"],
                       dynamic_axes=axes)
    lm = M.CharLSTM(11, 8, 12)
    export_and_compare(lm, ids(2, 5, high=11), reruns=((ids(3, 8, high=11),),),
                       input_names=["ids"], dynamic_axes={"ids": {0: "batch", 1: "time"}})


def test_scaled_dot_product_attention_function():
    def sdpa(q, k, v):
        return nn.functional.scaled_dot_product_attention(q, k, v, is_causal=True)
    export_and_compare(sdpa, (t(randn(2, 2, 3, 4)), t(randn(2, 2, 3, 4)), t(randn(2, 2, 3, 4))))


@pytest.mark.parametrize("kw,resize", [
    (dict(scale_factor=2, mode="nearest"), True),
    (dict(size=(5, 7), mode="nearest-exact"), True),
    (dict(size=(5, 7), mode="bilinear"), True),
    (dict(scale_factor=1.5, mode="bilinear", align_corners=True), True),
    (dict(scale_factor=1.7, mode="bilinear"), False),  # torch's 1/scale is not ONNX's rule
    (dict(scale_factor=1.7, mode="nearest"), False),
], ids=["nearest", "nearest_exact", "bilinear", "align_corners", "bilinear_odd_scale",
        "nearest_odd_scale"])
@pytest.mark.parametrize("opset", [13, 18])
def test_interpolate(kw, resize, opset):
    model = nn.Upsample(**kw)
    x, x3 = t(randn(1, 2, 4, 5)), t(randn(3, 2, 4, 5))
    proto = export_and_compare(model, x, reruns=((x3,),), opset_version=opset,
                               input_names=["x"], dynamic_axes={"x": {0: "n"}})
    ops = {n.op_type for n in proto.graph.node}
    assert ("Resize" in ops) == resize and ("Gather" in ops) != resize


def test_adaptive_and_linear_1d_resampling():
    model = nn.Sequential(nn.Upsample(scale_factor=2, mode="linear"), nn.AdaptiveAvgPool1d(5))
    dynamic_batch(model, t(randn(2, 3, 4)), t(randn(4, 3, 4)))


# --- the API --------------------------------------------------------------------------------
def test_writes_path_and_file_object(tmp_path):
    model = nn.Linear(3, 2)
    x = t(randn(4, 3))
    path = tmp_path / "m.onnx"
    assert narae.onnx.export(model, (x,), str(path)) is None
    buf = io.BytesIO()
    narae.onnx.export(model, x, buf)
    loaded = onnx.load(str(path))
    assert loaded.SerializeToString() == buf.getvalue()
    onnx.checker.check_model(str(path))
    got = ort.InferenceSession(str(path)).run(None, {"input": x.numpy()})[0]
    np.testing.assert_allclose(got, model(x).detach().numpy(), rtol=RTOL, atol=ATOL)


def test_keep_initializers_as_inputs_and_dynamic_shapes():
    model = nn.Linear(3, 2)
    x = t(randn(2, 3))
    proto = narae.onnx.export(model, (x,), None, keep_initializers_as_inputs=True,
                              dynamic_shapes={"input": {0: "rows"}})
    assert [i.name for i in proto.graph.input] == ["input", "weight", "bias"]
    assert proto.graph.input[0].type.tensor_type.shape.dim[0].dim_param == "rows"
    got = session(proto).run(None, {"input": t(randn(5, 3)).numpy()})[0]
    assert got.shape == (5, 2)


def test_warns_about_constants_sized_by_the_batch():
    class ZerosOfBatch(nn.Module):
        def forward(self, x):
            return x + narae.zeros(x.shape[0], 3)
    with pytest.warns(narae.onnx.errors.OnnxExporterWarning, match=r"\(2, 3\).*\(3, 3\)"):
        narae.onnx.export(ZerosOfBatch(), (t(randn(2, 3)),), None, input_names=["x"],
                          dynamic_axes={"x": [0]})


def test_warns_when_the_model_refuses_other_sizes():
    class FixedBatch(nn.Module):
        def forward(self, x):
            if x.shape[0] != 2:
                raise RuntimeError("batch must be 2")
            return x.reshape(-1)
    with pytest.warns(narae.onnx.errors.OnnxExporterWarning, match="batch must be 2"):
        narae.onnx.export(FixedBatch(), (t(randn(2, 3)),), None, input_names=["x"],
                          dynamic_axes={"x": [0]})


def test_warns_when_control_flow_depends_on_the_dynamic_size():
    class SizeBranch(nn.Module):
        def forward(self, x):
            return x.exp() if x.shape[0] == 2 else x.sin()
    with pytest.warns(narae.onnx.errors.OnnxExporterWarning, match="other ops"):
        narae.onnx.export(SizeBranch(), (t(randn(2, 3)),), None, input_names=["x"],
                          dynamic_axes={"x": [0]})


def test_training_export_updates_running_stats_once():
    bn = nn.BatchNorm1d(3)
    x = t(randn(4, 3))
    narae.onnx.export(bn, (x,), None, training=narae.onnx.TrainingMode.TRAINING,
                      input_names=["x"], dynamic_axes={"x": [0]})
    ref = nn.BatchNorm1d(3)
    ref(x)
    np.testing.assert_allclose(bn.running_mean.numpy(), ref.running_mean.numpy(), rtol=1e-6)
    assert int(bn.num_batches_tracked.item()) == 1


def test_weights_beyond_protobuf_limit_go_to_external_data(tmp_path, monkeypatch):
    from narae.onnx import _export
    monkeypatch.setattr(_export, "_PROTOBUF_LIMIT", 1000)  # (a small model stands for 2 GB)
    model = nn.Sequential(nn.Linear(30, 20), nn.ReLU(), nn.Linear(20, 2))
    x = t(randn(3, 30))
    path = tmp_path / "big.onnx"
    narae.onnx.export(model, (x,), path)
    assert (tmp_path / "big.onnx.data").exists()
    got = ort.InferenceSession(str(path)).run(None, {"input": x.numpy()})[0]
    np.testing.assert_allclose(got, model(x).detach().numpy(), rtol=RTOL, atol=ATOL)
    with pytest.raises(narae.onnx.OnnxExporterError, match="2 GB"):
        narae.onnx.export(model, (x,), io.BytesIO())


def test_export_params_false_makes_parameters_inputs():
    model = nn.Linear(3, 2)
    proto = narae.onnx.export(model, (t(randn(1, 3)),), None, export_params=False)
    assert [i.name for i in proto.graph.input] == ["input", "weight", "bias"]
    assert not proto.graph.initializer


def test_kwargs_and_verbose(capsys):
    class Scale(nn.Module):
        def forward(self, x, scale=1.0, shift=None):
            return x * scale + shift

    x, shift = t(randn(2, 3)), t(randn(3))
    proto = narae.onnx.export(Scale(), (x,), None, kwargs={"scale": 2.0, "shift": shift},
                              verbose=True)
    assert "Mul" in capsys.readouterr().out
    got = session(proto).run(None, {"x": x.numpy(), "shift": shift.numpy()})[0]
    np.testing.assert_allclose(got, (x * 2.0 + shift).numpy(), rtol=RTOL, atol=ATOL)


def test_python_control_flow_is_traced():
    class Branchy(nn.Module):
        def __init__(self):
            super().__init__()
            self.fc = nn.Linear(3, 3)

        def forward(self, x):
            for _ in range(3):
                x = self.fc(x).relu() if x.shape[1] == 3 else x
            return x
    proto = export_and_compare(Branchy(), t(randn(2, 3)))
    assert sum(n.op_type == "Gemm" for n in proto.graph.node) == 3


def test_in_place_ops_are_traced():
    class InPlace(nn.Module):
        def __init__(self):
            super().__init__()
            self.act = nn.ReLU(inplace=True)

        def forward(self, x, i):
            x.mul_(2)
            x = self.act(x)
            y = x + 0
            y += 1
            return y, x, i.clamp(0, 2) * 3
    x, i = t(randn(2, 3)), narae.tensor([0, 5, -1])
    before = x.numpy().copy()
    narae.onnx.export(InPlace(), (x, i), None)
    np.testing.assert_array_equal(x.numpy(), before)  # the caller's input is left alone
    export_and_compare(InPlace(), (x, i), reruns=((t(randn(2, 3)), narae.tensor([4, 1, -3])),))


def test_untraceable_in_place_change_is_an_error():
    class Bump(nn.Module):
        def forward(self, i):
            i.add_(1)  # a NumPy ufunc in place: no op call the trace could see
            return i * 2
    with pytest.raises(narae.onnx.OnnxExporterError, match="modified in place"):
        narae.onnx.export(Bump(), (narae.tensor([1, 2]),), None)


def test_op_on_raw_arrays_is_an_error_not_a_frozen_constant():
    class RawSin(narae.autograd.Function):
        @staticmethod
        def forward(ctx, x):
            return narae.tensor(np.sin(x.detach().numpy()))

        @staticmethod
        def backward(ctx, g):
            return g

    class Model(nn.Module):
        def __init__(self):
            super().__init__()
            self.scale = narae.ones(3, requires_grad=True)  # a plain tensor: a constant

        def forward(self, x):
            return RawSin.apply(x) + self.scale * 2

    with pytest.raises(narae.onnx.errors.UnsupportedOperatorError, match="RawSinBackward"):
        narae.onnx.export(Model(), (t(randn(2, 3)),), None)

    class Traceable(Model):
        def forward(self, x):
            return x.sin() + self.scale * 2
    export_and_compare(Traceable(), t(randn(2, 3)))


def test_node_names_follow_layers():
    proto = narae.onnx.export(M.lenet5(), (t(randn(1, 1, 28, 28)),), None)
    names = [n.name for n in proto.graph.node]
    assert any(n.startswith("/features/0/Conv") for n in names), names


def test_unsupported_op_names_op_and_layer():
    class Odd(nn.Module):
        def __init__(self):
            super().__init__()
            self.inner = nn.Sequential(nn.Linear(3, 3))

        def forward(self, x):
            return self.inner(x).cumprod(1)

    with pytest.raises(narae.onnx.errors.UnsupportedOperatorError,
                       match=r"CumProd.*'<model>'"):
        narae.onnx.export(Odd(), (t(randn(2, 3)),), None)

    class Deep(nn.Module):
        def __init__(self):
            super().__init__()
            self.block = nn.Sequential(nn.Identity(), nn.Softmax2d())

        def forward(self, x):
            return self.block(x).cumprod(1)
    with pytest.raises(RuntimeError, match="CumProd"):
        narae.onnx.export(Deep(), (t(randn(1, 2, 3, 3)),), None)


def test_unsupported_op_inside_a_layer_names_the_layer():
    class Cum(nn.Module):
        def forward(self, x):
            return x.cumprod(1)
    model = nn.Sequential(nn.Linear(3, 3), Cum())
    with pytest.raises(narae.onnx.OnnxExporterError, match=r"CumProd in layer '1'"):
        narae.onnx.export(model, (t(randn(2, 3)),), None)
    # nothing of the trace is left behind after the failure
    from narae.autograd import engine
    assert not engine.is_instrumented("onnx_trace") and not narae.onnx.is_in_onnx_export()
    assert "traced" not in narae.Tensor.__gt__.__name__ and not model[0]._forward_hooks
    assert narae.Tensor._take_over.__name__ == "_take_over"


def test_bad_arguments():
    model = nn.Linear(3, 2)
    x = t(randn(2, 3))
    with pytest.raises(ValueError, match="opset_version 9"):
        narae.onnx.export(model, (x,), None, opset_version=9)
    with pytest.raises(ValueError, match="2 input names given for 1 inputs"):
        narae.onnx.export(model, (x,), None, input_names=["a", "b"])
    with pytest.raises(narae.onnx.OnnxExporterError, match="no tensors"):
        narae.onnx.export(lambda x: None, (x,), None)
    with pytest.raises(TypeError, match="path or a binary file"):
        narae.onnx.export(model, (x,), 42)
    with pytest.raises(narae.onnx.errors.UnsupportedOperatorError, match="random windows"):
        narae.onnx.export(nn.FractionalMaxPool2d(2, output_size=3), (t(randn(1, 2, 7, 7)),),
                          None)


def test_verify_runs_onnxruntime(monkeypatch):
    model = nn.Sequential(nn.Linear(3, 4), nn.Tanh())
    x = t(randn(2, 3))
    narae.onnx.export(model, (x,), None, verify=True)
    from narae.onnx import _map_elementwise
    from narae.ops.activation import Tanh
    monkeypatch.setitem(_map_elementwise._UNARY, Tanh, "Sigmoid")  # a wrong mapping is caught
    with pytest.raises(narae.onnx.OnnxExporterError, match="differs"):
        narae.onnx.export(model, (x,), None, verify=True)


def test_missing_onnx_package(monkeypatch):
    monkeypatch.setitem(sys.modules, "onnx", None)
    with pytest.raises(ImportError, match="pip install onnx"):
        narae.onnx.export(nn.Linear(2, 2), (t(randn(1, 2)),), None)


def test_import_without_onnx():
    code = ("import sys; sys.modules['onnx'] = None; sys.modules['onnxruntime'] = None\n"
            "import narae, narae.onnx\n"
            "assert not narae.onnx.is_in_onnx_export()\n"
            "try:\n"
            "    narae.onnx.export(narae.nn.Linear(2, 2), (narae.randn(1, 2),), None)\n"
            "except ImportError as e:\n"
            "    assert 'pip install onnx' in str(e)\n"
            "else:\n"
            "    raise SystemExit('no ImportError')\n")
    subprocess.run([sys.executable, "-c", code], check=True)


def test_is_in_onnx_export():
    seen = []

    class Spy(nn.Module):
        def forward(self, x):
            seen.append(narae.onnx.is_in_onnx_export())
            return x * 2
    narae.onnx.export(Spy(), (t(randn(1, 2)),), None)
    assert seen and all(seen)
    assert not narae.onnx.is_in_onnx_export()


def test_select_model_mode_for_export():
    model = nn.Sequential(nn.Linear(2, 2), nn.Dropout())
    with narae.onnx.select_model_mode_for_export(model, narae.onnx.TrainingMode.EVAL):
        assert not model.training and not model[1].training
    assert model.training and model[1].training
    proto = narae.onnx.export(model, (t(randn(1, 2)),), None)
    assert proto.producer_name == narae.onnx.producer_name == "narae"
    assert proto.producer_version == narae.__version__


def test_signature_mirrors_torch():
    import inspect
    torch = pytest.importorskip("torch")
    ours = inspect.signature(narae.onnx.export)
    theirs = inspect.signature(torch.onnx.export)
    assert list(ours.parameters) == list(theirs.parameters)
    for name, p in theirs.parameters.items():
        assert ours.parameters[name].kind == p.kind, name


# --- ops told apart by explicit attributes (kind, params), never by their closures ----------
def test_piecewise_linear_ops_carry_kind_and_params():
    F = nn.functional
    x = t(randn(2, 3)).requires_grad_()  # (so that each result records its op)
    cases = [(F.leaky_relu(x, 0.3), "leaky_relu", (0.3,)),
             (F.hardtanh(x, -0.5, 0.7), "hardtanh", (-0.5, 0.7)),
             (F.relu6(x), "hardtanh", (0.0, 6.0)),
             (F.hardsigmoid(x), "hardsigmoid", ()),
             (F.threshold(x, 0.1, -1.0), "threshold", (0.1, -1.0)),
             (F.hardshrink(x, 0.4), "hardshrink", (0.4,)),
             (F.softshrink(x, 0.2), "softshrink", (0.2,)),
             (F.rrelu(x, 0.1, 0.3, training=True), "rrelu", (0.1, 0.3))]
    for y, kind, params in cases:
        assert (y._creator.kind, y._creator.params) == (kind, params)
    assert narae.floor(x)._creator.kind == "floor"
    assert narae.round(x, decimals=2)._creator.params == (2,)
    assert x.max(1).values._creator.kind == "max" and x.min(0)[0]._creator.kind == "min"
    assert x.median(1).values._creator.kind == "median"


class InPlaceActivations(nn.Module):
    def forward(self, x):
        F = nn.functional
        y = F.leaky_relu(x * 1, 0.25, inplace=True)
        z = F.threshold_(x * 2, 0.5, 3.0)
        w = F.hardtanh_(x * 3, -2.0, 1.5)
        return y, z, w, F.hardsigmoid(x, inplace=False), F.softshrink(x, 0.0)


def test_piecewise_linear_in_place_and_functional_forms():
    proto = export_and_compare(InPlaceActivations(), t(randn(2, 5) * 3))
    leaky = [n for n in proto.graph.node if n.op_type == "LeakyRelu"]
    assert len(leaky) == 1 and abs(leaky[0].attribute[0].f - 0.25) < 1e-7


class Refused(nn.Module):
    def __init__(self, f):
        super().__init__()
        self.f = f

    def forward(self, x):
        return self.f(x)


@pytest.mark.parametrize("f,match", [
    (lambda x: x.round(decimals=1), "round with decimals"),
    (lambda x: x // 2, "floor_divide"),
    (lambda x: x.median(1).values, "not median"),
    (lambda x: nn.functional.rrelu(x, training=True), "rrelu in training mode"),
    (lambda x: x.sgn(), "opset 17: sgn"),
], ids=["round_decimals", "floor_divide", "median", "rrelu_training", "sgn"])
def test_ops_without_mapping_are_refused_by_kind(f, match):
    with pytest.raises(narae.onnx.errors.UnsupportedOperatorError, match=match):
        narae.onnx.export(Refused(f), (t(randn(2, 3)),), None)


def test_round_with_zero_decimals_and_median_free_ops_export():
    model = Refused(lambda x: (x * 3).round(decimals=0) + narae.ceil(x) + x.max(0).values)
    export_and_compare(model, t(randn(3, 4)))


def test_plane_gather_reads_its_kind():
    """ops/pool.py's _PlaneGather carries its ``kind``: the mapping trusts it and refuses
    fractional max pooling (random windows) by it."""
    dynamic_batch(nn.AdaptiveMaxPool2d((2, 3)), t(randn(2, 3, 5, 7)), t(randn(3, 3, 5, 7)))
    with pytest.raises(narae.onnx.errors.UnsupportedOperatorError, match="random windows"):
        narae.onnx.export(nn.FractionalMaxPool2d(2, output_size=3), (t(randn(1, 2, 6, 6)),),
                          None)


def test_mappings_do_not_read_closures_or_source():
    import pathlib
    root = pathlib.Path(narae.onnx.__file__).parent
    for path in root.glob("*.py"):
        text = path.read_text()
        for word in ("__closure__", "__code__", "co_freevars", "co_names", "__qualname__"):
            assert word not in text, (path.name, word)


# --- eval-mode batch norm: one BatchNormalization on the running statistics ------------------
def _trained_bn_model(bn):
    model = nn.Sequential(nn.Conv2d(2, 3, 3), bn, nn.ReLU())
    model.train()
    with narae.no_grad():  # non-trivial running statistics
        model(t(randn(6, 2, 5, 5) * 2 + 1))
    return model.eval()


def _bn_nodes(proto):
    return [n for n in proto.graph.node if n.op_type == "BatchNormalization"]


@pytest.mark.parametrize("opset", [13, 17])
def test_batch_norm_eval_is_one_node_on_named_statistics(opset):
    model = _trained_bn_model(nn.BatchNorm2d(3, eps=1e-3))
    proto = dynamic_batch(model, t(randn(2, 2, 5, 5)), t(randn(3, 2, 5, 5)))
    assert [n.op_type for n in proto.graph.node] == ["Conv", "BatchNormalization", "Relu"]
    (node,) = _bn_nodes(proto)
    assert list(node.input[1:]) == ["1.weight", "1.bias", "1.running_mean", "1.running_var"]
    assert abs(node.attribute[0].f - 1e-3) < 1e-9
    inits = {i.name: onnx.numpy_helper.to_array(i) for i in proto.graph.initializer}
    np.testing.assert_array_equal(inits["1.running_var"], model[1].running_var.numpy())
    export_and_compare(model, t(randn(2, 2, 5, 5)), opset_version=opset)


def test_batch_norm_eval_on_gpu_kernel_path_gives_the_same_graph():
    """The GPU's fused BatchNormEval op (run here on the emulated kernels) exports as the
    CPU's scale-and-shift ops do."""
    from narae.backend import kernels
    model = _trained_bn_model(nn.BatchNorm2d(3))
    x = t(randn(2, 2, 5, 5))
    want = narae.onnx.export(model, (x,), None)
    with kernels.emulate():
        assert type(model(x.requires_grad_())._creator.inputs[0]._creator).__name__ == \
            "BatchNormEval"
        got = narae.onnx.export(model, (x.detach(),), None)
    assert [(n.op_type, list(n.input)) for n in got.graph.node] == \
        [(n.op_type, list(n.input)) for n in want.graph.node]
    assert len(_bn_nodes(got)) == 1


@pytest.mark.parametrize("layer,shape", [
    (lambda: nn.BatchNorm1d(3), (4, 3)),
    (lambda: nn.BatchNorm1d(3, affine=False), (4, 3, 5)),
    (lambda: nn.BatchNorm3d(2, momentum=None), (2, 2, 3, 3, 3)),
    (lambda: nn.InstanceNorm2d(3, track_running_stats=True, affine=True), (2, 3, 4, 4)),
], ids=["bn1d_2d_input", "bn1d_no_affine", "bn3d", "instance_running"])
def test_batch_norm_eval_variants(layer, shape):
    m = layer()
    m.train()
    with narae.no_grad():
        m(t(randn(*shape) * 3 - 1))
    big = (shape[0] + 2,) + shape[1:]
    proto = dynamic_batch(m, t(randn(*shape)), t(randn(*big)))
    assert [n.op_type for n in proto.graph.node] == ["BatchNormalization"]


def test_batch_norm_functional_and_training_mode_keep_their_graphs():
    F = nn.functional
    mean, var = t(rand(3)), t(rand(3) + 0.5)
    w = t(randn(3))
    model = Refused(lambda x: F.batch_norm(x * 2, mean, var, w, None, False, 0.1, 1e-4) + x)
    proto = export_and_compare(model, t(randn(2, 3, 4)))
    assert len(_bn_nodes(proto)) == 1
    bn = _trained_bn_model(nn.BatchNorm2d(3))
    proto = narae.onnx.export(bn, (t(randn(2, 2, 5, 5)),), None,
                              training=narae.onnx.TrainingMode.TRAINING)
    assert not _bn_nodes(proto)  # batch statistics: the normalisation written out
