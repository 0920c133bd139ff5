"""Eager-mode quantization workflow against torch: fuse, prepare, calibrate, convert (int_repr
within one unit of torch's x86 kernels), QAT, quantize_dynamic, state_dict; and a
post-training-quantized CNN on the digits keeping its accuracy."""

import numpy as np
import pytest
import torch
import torch.ao.quantization as TQ

import narae as nr
import narae.ao.quantization as NQ
import narae.ao.nn.quantized as nnq
import narae.ao.nn.quantized.dynamic as nnqd
from narae import _dtype as D
from narae.ops import quantize as Q
from helpers import randn

pytestmark = pytest.mark.filterwarnings("ignore")


def build(m, q):
    nn = m.nn

    class Net(nn.Module):
        def __init__(self):
            super().__init__()
            self.quant = q.QuantStub()
            self.conv1 = nn.Conv2d(1, 4, 3, padding=1)
            self.bn1 = nn.BatchNorm2d(4)
            self.relu1 = nn.ReLU()
            self.conv2 = nn.Conv2d(4, 8, 3, stride=2)
            self.relu2 = nn.ReLU()
            self.pool = nn.MaxPool2d(2)
            self.flat = nn.Flatten()
            self.fc = nn.Linear(8, 10)
            self.fc_relu = nn.ReLU()
            self.fc2 = nn.Linear(10, 5)
            self.dequant = q.DeQuantStub()

        def forward(self, x):
            x = self.quant(x)
            x = self.relu1(self.bn1(self.conv1(x)))
            x = self.pool(self.relu2(self.conv2(x)))
            x = self.fc_relu(self.fc(self.flat(x)))
            return self.dequant(self.fc2(x))
    return Net()


def twin_models():
    torch.manual_seed(0)
    tm = build(torch, TQ)
    with torch.no_grad():
        tm.bn1.running_mean.uniform_(-0.5, 0.5)
        tm.bn1.running_var.uniform_(0.5, 2)
        tm.bn1.weight.uniform_(0.5, 1.5)
    nm = build(nr, NQ)
    nm.load_state_dict({k: nr.from_numpy(v.detach().numpy().copy())
                        for k, v in tm.state_dict().items()})
    return tm.eval(), nm.eval()


FUSE = [["conv1", "bn1", "relu1"], ["conv2", "relu2"], ["fc", "fc_relu"]]


def assert_within_one(n, t, what):
    assert n.dtype.name == str(t.dtype)[6:], what
    assert n.q_scale() == pytest.approx(t.q_scale(), rel=1e-6), what
    assert n.q_zero_point() == t.q_zero_point(), what
    diff = np.abs(n.int_repr().numpy().astype(int) - t.int_repr().numpy().astype(int))
    assert diff.max() <= 1, f"{what}: int_repr differs by {diff.max()}"
    assert (diff > 0).mean() < 0.05, f"{what}: {(diff > 0).sum()} values differ by one"


@pytest.mark.parametrize("backend", ["x86", "qnnpack"])
def test_post_training_static_quantization_matches_torch(backend):
    tm, nm = twin_models()
    engine = torch.backends.quantized.engine
    torch.backends.quantized.engine = backend
    try:
        tf, nf = TQ.fuse_modules(tm, FUSE), NQ.fuse_modules(nm, FUSE)
        tf.qconfig, nf.qconfig = TQ.get_default_qconfig(backend), NQ.get_default_qconfig(backend)
        tp, npr = TQ.prepare(tf), NQ.prepare(nf)
        assert isinstance(npr.conv1.activation_post_process, NQ.HistogramObserver)
        assert not hasattr(npr.pool, "activation_post_process")
        for i in range(3):
            xb = (randn(6, 1, 8, 8) * (1 + i)).astype(np.float32)
            np.testing.assert_allclose(npr(nr.from_numpy(xb)).detach().numpy(),
                                       tp(torch.from_numpy(xb)).detach().numpy(), atol=1e-5)
        tq, nq = TQ.convert(tp), NQ.convert(npr)
        x = randn(5, 1, 8, 8).astype(np.float32)
        tx, nx = tq.quant(torch.from_numpy(x)), nq.quant(nr.from_numpy(x))
        assert_within_one(nx, tx, "quant")
        # each layer fed the same (torch's) input, so one-unit differences do not compound
        t1 = tq.conv1(tx)
        assert_within_one(nq.conv1(nx), t1, "conv1")
        n1 = Q.QuantizedTensor(t1.int_repr().numpy(), D.quint8, D.per_tensor_affine,
                               t1.q_scale(), t1.q_zero_point())
        t2 = tq.pool(tq.conv2(t1))
        assert_within_one(nq.pool(nq.conv2(n1)), t2, "conv2+pool")
        n2 = Q.QuantizedTensor(t2.int_repr().numpy(), D.quint8, D.per_tensor_affine,
                               t2.q_scale(), t2.q_zero_point())
        t3 = tq.fc(tq.flat(t2))
        assert_within_one(nq.fc(nq.flat(n2)), t3, "fc+relu")
        to, no = tq(torch.from_numpy(x)).numpy(), nq(nr.from_numpy(x)).numpy()
        np.testing.assert_allclose(no, to, atol=3 * tq.fc2.scale)
    finally:
        torch.backends.quantized.engine = engine
    assert type(nq.conv1).__name__ == "ConvReLU2d" and nq.conv1._get_name() == \
        "QuantizedConvReLU2d"
    assert not hasattr(nq, "qconfig") and not hasattr(nq.conv1, "activation_post_process")


def test_quantized_state_dict_round_trip(tmp_path):
    _, nm = twin_models()
    nf = NQ.fuse_modules(nm, FUSE)
    nf.qconfig = NQ.get_default_qconfig("x86")
    p = NQ.prepare(nf)
    p(nr.from_numpy(randn(4, 1, 8, 8).astype(np.float32)))
    q = NQ.convert(p)
    sd = q.state_dict()
    assert {"quant.scale", "quant.zero_point", "conv1.weight", "conv1.bias", "conv1.scale",
            "conv1.weight_scale", "conv1.weight_axis", "fc._packed_params.weight",
            "fc.scale", "fc.zero_point"} <= set(sd)
    assert sd["conv1.weight"].dtype == nr.int8
    fresh = NQ.fuse_modules(build(nr, NQ).eval(), FUSE)
    fresh.qconfig = NQ.get_default_qconfig("x86")
    fresh = NQ.prepare(fresh)
    fresh(nr.from_numpy(randn(4, 1, 8, 8).astype(np.float32)))
    fresh = NQ.convert(fresh)
    nr.save(sd, str(tmp_path / "q.safetensors"))  # narae's tensor-only checkpoints
    fresh.load_state_dict(nr.load(str(tmp_path / "q.safetensors")))
    x = nr.from_numpy(randn(3, 1, 8, 8).astype(np.float32))
    np.testing.assert_array_equal(fresh(x).numpy(), q(x).numpy())
    w = fresh.conv1.weight()
    assert w.qscheme() is D.per_channel_affine and w.q_per_channel_axis() == 0


def test_quantized_modules_errors():
    lin = nnq.Linear(4, 3)
    with pytest.raises(RuntimeError, match="quantized input"):
        lin(nr.randn(2, 4))
    qx = Q.quantize_per_tensor(nr.randn(2, 5), 0.1, 128, D.quint8)
    with pytest.raises(RuntimeError, match=r"\(2, 5\)"):
        lin(qx)
    conv = nnq.Conv2d(3, 4, 3)
    with pytest.raises(RuntimeError, match=r"\(2, 5\)"):
        conv(qx)
    with pytest.raises(RuntimeError, match="training mode"):
        NQ.prepare_qat(nr.nn.Linear(2, 2).eval())
    with pytest.raises(ValueError, match="prepare"):
        nnq.Linear.from_float(nr.nn.Linear(2, 2))


def test_float_functional_and_relu6():
    t, n = TQ, NQ
    ff_t, ff_n = torch.ao.nn.quantized.FloatFunctional(), nnq.FloatFunctional()
    for ff, q in ((ff_t, t), (ff_n, n)):
        ff.qconfig = q.default_qconfig
    pt, pn = t.prepare(torch.nn.Sequential(ff_t)), n.prepare(nr.nn.Sequential(ff_n))
    a, b = randn(3, 4).astype(np.float32), randn(3, 4).astype(np.float32)
    for m, lib in ((pt, torch), (pn, nr)):
        ff = m[0]
        ff.add(lib.from_numpy(a), lib.from_numpy(b))
        ff.mul(lib.from_numpy(a), lib.from_numpy(b))
    qt, qn = t.convert(pt)[0], n.convert(pn)[0]
    assert type(qn) is nnq.QFunctional and qn.scale == pytest.approx(qt.scale)
    xa = [torch.quantize_per_tensor(torch.from_numpy(v), 0.05, 64, torch.quint8) for v in (a, b)]
    na = [Q.quantize_per_tensor(nr.from_numpy(v), 0.05, 64, D.quint8) for v in (a, b)]
    for op in ("add", "mul", "add_relu"):
        assert_within_one(getattr(qn, op)(*na), getattr(qt, op)(*xa), op)
    assert_within_one(qn.cat(na, 1), qt.cat(xa, 1), "cat")
    r6 = nnq.ReLU6()(na[0])
    want = torch.ao.nn.quantized.ReLU6()(xa[0])
    np.testing.assert_array_equal(r6.int_repr().numpy(), want.int_repr().numpy())


def test_quantize_dynamic_matches_torch():
    torch.manual_seed(1)
    tm = torch.nn.Sequential(torch.nn.Linear(12, 16), torch.nn.ReLU(), torch.nn.Linear(16, 4))
    nm = nr.nn.Sequential(nr.nn.Linear(12, 16), nr.nn.ReLU(), nr.nn.Linear(16, 4))
    nm.load_state_dict({k: nr.from_numpy(v.detach().numpy().copy())
                        for k, v in tm.state_dict().items()})
    tq = TQ.quantize_dynamic(tm, {torch.nn.Linear}, dtype=torch.qint8)
    nq = NQ.quantize_dynamic(nm, {nr.nn.Linear}, dtype=D.qint8)
    assert type(nq[0]) is nnqd.Linear and nq[0]._get_name() == "DynamicQuantizedLinear"
    np.testing.assert_array_equal(nq[0].weight().int_repr().numpy(),
                                  tq[0].weight().int_repr().numpy())
    for scale in (1.0, 5.0, 1e-6):
        x = (randn(7, 12) * scale).astype(np.float32)
        to, no = tq(torch.from_numpy(x)).numpy(), nq(nr.from_numpy(x)).numpy()
        np.testing.assert_allclose(no, to, rtol=1e-5, atol=1e-5 * max(scale, 1))
    tpc = TQ.quantize_dynamic(tm, {torch.nn.Linear: TQ.per_channel_dynamic_qconfig})
    npc = NQ.quantize_dynamic(nm, {nr.nn.Linear: NQ.per_channel_dynamic_qconfig})
    assert npc[0].weight().qscheme() is D.per_channel_affine
    x = randn(7, 12).astype(np.float32)
    np.testing.assert_allclose(npc(nr.from_numpy(x)).numpy(), tpc(torch.from_numpy(x)).numpy(),
                               rtol=1e-5, atol=1e-5)
    assert type(NQ.quantize_dynamic(nm)[2]) is nnqd.Linear  # default spec: every Linear
    only = NQ.quantize_dynamic(nm, {"2": NQ.default_dynamic_qconfig})
    assert type(only[0]) is nr.nn.Linear and type(only[2]) is nnqd.Linear


def test_quantization_aware_training_matches_torch():
    tm, nm = twin_models()
    tm.train()
    nm.train()
    tf, nf = TQ.fuse_modules_qat(tm, FUSE), NQ.fuse_modules_qat(nm, FUSE)
    tf.qconfig, nf.qconfig = TQ.get_default_qat_qconfig("x86"), \
        NQ.get_default_qat_qconfig("x86")
    tp, npr = TQ.prepare_qat(tf), NQ.prepare_qat(nf)
    assert type(npr.conv1).__name__ == "ConvBnReLU2d" and hasattr(npr.conv1, "weight_fake_quant")
    nopt = nr.optim.SGD(npr.parameters(), lr=0.05)  # (torch's: by hand, torch.optim's
    # first import costs seconds)
    for step in range(3):
        x = randn(6, 1, 8, 8).astype(np.float32)
        lt = tp(torch.from_numpy(x)).pow(2).mean()
        ln = npr(nr.from_numpy(x)).pow(2).mean()
        assert ln.item() == pytest.approx(lt.item(), rel=1e-3, abs=1e-5)
        tp.zero_grad()
        nopt.zero_grad()
        lt.backward()
        ln.backward()
        with torch.no_grad():
            for p in tp.parameters():
                if p.grad is not None:
                    p -= 0.05 * p.grad
        nopt.step()
    np.testing.assert_allclose(npr.fc2.weight.detach().numpy(),
                               tp.fc2.weight.detach().numpy(), atol=1e-4)
    tp.eval()
    npr.eval()
    tq, nq = TQ.convert(tp), NQ.convert(npr)
    assert type(nq.conv1).__name__ == "ConvReLU2d"
    x = randn(4, 1, 8, 8).astype(np.float32)
    np.testing.assert_allclose(nq(nr.from_numpy(x)).numpy(), tq(torch.from_numpy(x)).numpy(),
                               atol=4 * tq.fc2.scale)


def test_quant_wrapper_propagation_and_add_quant_dequant():
    lin = nr.nn.Linear(4, 3)
    w = NQ.QuantWrapper(lin)
    w.qconfig = NQ.default_qconfig
    p = NQ.prepare(w.eval())
    x = nr.randn(5, 4)
    p(x)
    q = NQ.convert(p)
    assert type(q.quant) is nnq.Quantize and type(q.module) is nnq.Linear
    np.testing.assert_allclose(q(x).numpy(), lin(x).detach().numpy(), atol=0.1)
    m = nr.nn.Sequential(nr.nn.Linear(4, 4), nr.nn.Sequential(nr.nn.Linear(4, 2)))
    NQ.propagate_qconfig_(m, {"1.0": NQ.default_qconfig})
    assert m[0].qconfig is None and m[1][0].qconfig is NQ.default_qconfig
    m = NQ.add_quant_dequant(m)
    assert type(m[1][0]) is NQ.QuantWrapper


def test_fuse_modules_eval_and_errors():
    _, nm = twin_models()
    f = NQ.fuse_modules(nm, FUSE)
    assert type(f.conv1).__name__ == "ConvReLU2d" and type(f.bn1) is nr.nn.Identity
    x = nr.from_numpy(randn(3, 1, 8, 8).astype(np.float32))
    np.testing.assert_allclose(f(x).detach().numpy(), nm(x).detach().numpy(), atol=1e-5)
    with pytest.raises(NotImplementedError, match="fuser method"):
        NQ.fuse_modules(nm, [["conv1", "fc"]])


def test_digits_cnn_static_quantization_keeps_accuracy():
    nn = nr.nn
    nr.manual_seed(0)
    xtr, ytr = nr.datasets.Digits(train=True).tensors()
    xte, yte = nr.datasets.Digits(train=False).tensors()

    class Net(nn.Module):
        def __init__(self):
            super().__init__()
            self.quant = NQ.QuantStub()
            self.conv1 = nn.Conv2d(1, 8, 3, padding=1)
            self.bn1 = nn.BatchNorm2d(8)
            self.relu1 = nn.ReLU()
            self.conv2 = nn.Conv2d(8, 16, 3, stride=2, padding=1)
            self.relu2 = nn.ReLU()
            self.pool = nn.MaxPool2d(2)
            self.flat = nn.Flatten()
            self.fc = nn.Linear(64, 10)
            self.dequant = NQ.DeQuantStub()

        def forward(self, x):
            x = self.quant(x)
            x = self.pool(self.relu2(self.conv2(self.relu1(self.bn1(self.conv1(x))))))
            return self.dequant(self.fc(self.flat(x)))
    model = Net()
    opt = nr.optim.Adam(model.parameters(), lr=1e-2)
    for epoch in range(3):
        perm = np.random.default_rng(epoch).permutation(len(ytr))
        for i in range(0, len(perm), 64):
            idx = nr.from_numpy(perm[i:i + 64])
            loss = nn.functional.cross_entropy(model(xtr[idx]), ytr[idx])
            opt.zero_grad()
            loss.backward()
            opt.step()
    model.eval()

    def accuracy(m):
        with nr.no_grad():
            return float((m(xte).argmax(1) == yte).float().mean())
    float_acc = accuracy(model)
    assert float_acc > 0.9
    fused = NQ.fuse_modules(model, [["conv1", "bn1", "relu1"], ["conv2", "relu2"]])
    fused.qconfig = NQ.get_default_qconfig("x86")
    prepared = NQ.prepare(fused)
    with nr.no_grad():
        for i in range(0, 512, 128):
            prepared(xtr[i:i + 128])
    quantized = NQ.convert(prepared)
    assert isinstance(quantized.quant(xte[:2]), Q.QuantizedTensor)
    assert accuracy(quantized) >= float_acc - 0.01


def _twin_quantized(x, scale, zp):
    t = torch.quantize_per_tensor(torch.from_numpy(x), scale, zp, torch.quint8)
    n = Q.QuantizedTensor(t.int_repr().numpy(), D.quint8, D.per_tensor_affine, scale, zp)
    return t, n


@pytest.mark.parametrize("per_channel", [False, True])
@pytest.mark.parametrize("relu", [False, True])
def test_quantized_linear_module_matches_torch(per_channel, relu):
    w = randn(6, 9).astype(np.float32)
    b = randn(6).astype(np.float32)
    if per_channel:
        s, z = np.abs(w).max(1) / 127.5, np.zeros(6, np.int64)
        tw = torch.quantize_per_channel(torch.from_numpy(w), torch.from_numpy(s),
                                        torch.from_numpy(z), 0, torch.qint8)
    else:
        tw = torch.quantize_per_tensor(torch.from_numpy(w), 0.02, 3, torch.qint8)
    nw = Q.QuantizedTensor(tw.int_repr().numpy(), D.qint8, tw.qscheme() and (
        D.per_channel_affine if per_channel else D.per_tensor_affine),
        tw.q_per_channel_scales().numpy() if per_channel else tw.q_scale(),
        tw.q_per_channel_zero_points().numpy() if per_channel else tw.q_zero_point(),
        0 if per_channel else None)
    tcls = torch.ao.nn.intrinsic.quantized.LinearReLU if relu else torch.ao.nn.quantized.Linear
    ncls = nr.ao.nn.intrinsic.quantized.LinearReLU if relu else nnq.Linear
    tl, nl = tcls(9, 6), ncls(9, 6)
    tl.set_weight_bias(tw, torch.from_numpy(b))
    nl.set_weight_bias(nw, nr.from_numpy(b))
    for m in (tl, nl):
        m.scale, m.zero_point = 0.05, 100
    tx, nx = _twin_quantized(randn(4, 3, 9).astype(np.float32), 0.03, 120)
    assert_within_one(nl(nx), tl(tx), "linear")


def test_quantized_conv1d_and_hardswish_match_torch():
    tc = torch.nn.Conv1d(4, 6, 3, stride=2, padding=2, dilation=2, groups=2)
    nc = nr.nn.Conv1d(4, 6, 3, stride=2, padding=2, dilation=2, groups=2)
    nc.load_state_dict({k: nr.from_numpy(v.detach().numpy().copy())
                        for k, v in tc.state_dict().items()})
    x = randn(3, 4, 11).astype(np.float32)
    mods = []
    for conv, lib, q in ((tc, torch, TQ), (nc, nr, NQ)):
        m = lib.nn.Sequential(q.QuantStub(), conv, lib.nn.Hardswish(), q.DeQuantStub()).eval()
        m.qconfig = q.get_default_qconfig("x86")
        m = q.prepare(m)
        m(lib.from_numpy(x))
        mods.append(q.convert(m))
    tq, nq = mods
    assert nq[1]._get_name() == "QuantizedConv1d" and nq[2]._get_name() == "QuantizedHardswish"
    tx = tq[0](torch.from_numpy(x))
    nx = Q.QuantizedTensor(tx.int_repr().numpy(), D.quint8, D.per_tensor_affine,
                           tx.q_scale(), tx.q_zero_point())
    ty = tq[1](tx)
    assert_within_one(nq[1](nx), ty, "conv1d")
    ny = Q.QuantizedTensor(ty.int_repr().numpy(), D.quint8, D.per_tensor_affine,
                           ty.q_scale(), ty.q_zero_point())
    assert_within_one(nq[2](ny), tq[2](ty), "hardswish")
    assert nq[1].weight().q_per_channel_axis() == 0
    assert nx[1:, :2].shape == (2, 2, 11) and nx[0].q_scale() == nx.q_scale()


@pytest.mark.parametrize("make", [
    lambda m: m.nn.LeakyReLU(0.1), lambda m: m.nn.ELU(0.7), lambda m: m.nn.Sigmoid(),
    lambda m: m.nn.Dropout(0.3), lambda m: m.nn.Hardswish(), lambda m: m.nn.BatchNorm2d(3),
    lambda m: m.nn.LayerNorm([4, 4])],
    ids=["leaky_relu", "elu", "sigmoid", "dropout", "hardswish", "batch_norm", "layer_norm"])
def test_requantizing_modules_match_torch(make):
    tl, nl = make(torch), make(nr)
    if list(tl.state_dict()):
        with torch.no_grad():
            for v in tl.state_dict().values():
                if v.dtype == torch.float32:
                    v.uniform_(0.5, 1.5)
        nl.load_state_dict({k: nr.from_numpy(v.numpy().copy())
                            for k, v in tl.state_dict().items()})
    x = (randn(2, 3, 4, 4) * 2).astype(np.float32)
    mods = []
    for layer, lib, q in ((tl, torch, TQ), (nl, nr, NQ)):
        m = lib.nn.Sequential(q.QuantStub(), layer, q.DeQuantStub()).eval()
        m.qconfig = q.default_qconfig
        m = q.prepare(m)
        m(lib.from_numpy(x))
        mods.append(q.convert(m))
    tq, nq = mods
    assert nq[1]._get_name() == tq[1]._get_name()
    assert list(nq[1].state_dict()) == list(tq[1].state_dict())
    tx = tq[0](torch.from_numpy(x))
    nx = Q.QuantizedTensor(tx.int_repr().numpy(), D.quint8, D.per_tensor_affine,
                           tx.q_scale(), tx.q_zero_point())
    assert_within_one(nq[1](nx), tq[1](tx), type(nl).__name__)


def test_quantized_softmax_matches_torch():
    x = (randn(2, 3, 5) * 2).astype(np.float32)
    tx, nx = _twin_quantized(x, 0.05, 128)
    for dim in (1, 2, -1):
        want = torch.ao.nn.quantized.Softmax(dim, 1 / 256, 0)(tx)
        assert_within_one(nnq.Softmax(dim, 1 / 256, 0)(nx), want, f"softmax dim={dim}")
