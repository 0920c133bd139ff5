"""narae.onnx.export of models living on the GPU: the file equals the CPU model's export
(every array the exporter reads is brought to the host explicitly), and runs the same."""
import numpy as np
import pytest

import narae
import narae.models as M
from narae import nn

pytestmark = pytest.mark.gpu

onnx = pytest.importorskip("onnx")
ort = pytest.importorskip("onnxruntime")


def _models():
    rng = np.random.default_rng(0)
    img = rng.standard_normal((2, 1, 8, 8)).astype(np.float32)
    seq = rng.standard_normal((2, 3, 4)).astype(np.float32)
    tokens = rng.integers(0, 11, (2, 5))
    return [
        ("lenet_like", lambda: nn.Sequential(nn.Conv2d(1, 3, 3, padding=1), nn.BatchNorm2d(3),
                                             nn.ReLU(), nn.MaxPool2d(2),
                                             nn.AvgPool2d(3, 1, 1, count_include_pad=False),
                                             nn.Upsample(scale_factor=2, mode="bilinear"),
                                             nn.AdaptiveAvgPool2d(3), nn.Flatten(),
                                             nn.Linear(27, 4)), img),
        ("conv_autoencoder", lambda: M.ConvAutoencoder(channels=(2, 4)), img),
        ("char_lstm", lambda: M.CharLSTM(11, 4, 6, num_layers=2), tokens),
        ("gru_bidir", lambda: nn.GRU(4, 5, bidirectional=True, batch_first=True), seq),
        ("attention", lambda: nn.TransformerEncoderLayer(4, 2, 8, batch_first=True), seq),
    ]


def _export(model, x, device):
    model = model.to(device).eval()
    t = narae.tensor(x, device=device)
    proto = narae.onnx.export(model, (t,), None, input_names=["x"],
                              dynamic_axes={"x": {0: "batch"}})
    onnx.checker.check_model(proto)
    return proto


@pytest.mark.parametrize("name,build,x", _models(), ids=[m[0] for m in _models()])
def test_export_on_device_matches_cpu(name, build, x, device):
    narae.manual_seed(0)
    cpu_model = build()
    dev_model = build()
    dev_model.load_state_dict(cpu_model.state_dict())
    want = _export(cpu_model, x, "cpu")
    got = _export(dev_model, x, device)
    # (batch norm in eval runs a fused kernel on the GPU, exported with its folded statistics:
    # the graphs may differ there, the weights and the results may not)
    w_init = {i.name: onnx.numpy_helper.to_array(i) for i in want.graph.initializer}
    g_init = {i.name: onnx.numpy_helper.to_array(i) for i in got.graph.initializer}
    for k, _ in cpu_model.named_parameters():
        np.testing.assert_allclose(g_init[k], w_init[k], rtol=1e-6, atol=1e-6)
    sess = ort.InferenceSession(got.SerializeToString(), providers=["CPUExecutionProvider"])
    out = sess.run(None, {"x": x})
    with narae.no_grad():
        ref = cpu_model(narae.tensor(x))
    ref = ref[0] if isinstance(ref, tuple) else ref
    np.testing.assert_allclose(out[0], ref.numpy(), rtol=1e-4, atol=1e-5)
