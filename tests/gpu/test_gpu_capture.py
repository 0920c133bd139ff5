"""CUDA-graph capture (narae.compile) and memory statistics on a GPU: captured steps equal
eager steps, replays follow LR schedulers, shapes make new graphs, rules raise clearly."""
import numpy as np
import pytest

import narae as nr
import narae.nn as nn
import narae.nn.functional as F
import narae.optim as optim

pytestmark = pytest.mark.gpu


def _numpy(t):
    return t.detach().cpu().numpy()


def _model_and_step(device, kind):
    nr.manual_seed(0)
    if kind == "mlp":
        model = nn.Sequential(nn.Flatten(), nn.Linear(64, 32), nn.ReLU(), nn.Linear(32, 10))
        opt_fn = lambda ps: optim.SGD(ps, lr=0.05, momentum=0.9)  # noqa: E731
    else:
        model = nn.Sequential(nn.Conv2d(1, 4, 3, padding=1), nn.BatchNorm2d(4), nn.ReLU(),
                              nn.MaxPool2d(2), nn.Flatten(), nn.Linear(64, 10))
        opt_fn = lambda ps: optim.Adam(ps, lr=1e-2)  # noqa: E731
    model = model.to(device)
    opt = opt_fn(model.parameters())

    def train_step(x, y):
        opt.zero_grad()
        loss = F.cross_entropy(model(x), y)
        loss.backward()
        opt.step()
        return loss
    return model, opt, train_step


def _batches(device, n=8, batch=16):
    rng = np.random.default_rng(0)
    return [(nr.tensor(rng.standard_normal((batch, 1, 8, 8)).astype(np.float32), device=device),
             nr.tensor(rng.integers(0, 10, batch), device=device)) for _ in range(n)]


@pytest.mark.parametrize("kind", ["mlp", "cnn"])
def test_captured_steps_equal_eager_steps(kind, device):
    eager_model, _, eager_step = _model_and_step(device, kind)
    comp_model, _, step = _model_and_step(device, kind)
    compiled = nr.compile(step, warmup=2)
    for i, (x, y) in enumerate(_batches(device)):
        a = eager_step(x, y).item()
        b = compiled(x, y).item()
        assert b == pytest.approx(a, rel=1e-5, abs=1e-6), f"step {i}"
    if device != "cpu":
        assert len(compiled.graphs) == 1, "steps 3..8 must replay one graph"
    for (k, p), q in zip(eager_model.state_dict().items(), comp_model.state_dict().values()):
        np.testing.assert_allclose(_numpy(q), _numpy(p), rtol=1e-5, atol=1e-6, err_msg=k)


def test_replay_sees_lr_scheduler(device):
    eager_model, eager_opt, eager_step = _model_and_step(device, "mlp")
    comp_model, comp_opt, step = _model_and_step(device, "mlp")
    compiled = nr.compile(step, warmup=1)
    scheds = [optim.lr_scheduler.StepLR(o, 2, 0.5) for o in (eager_opt, comp_opt)]
    for x, y in _batches(device):
        eager_step(x, y)
        compiled(x, y)
        for s in scheds:
            s.step()
    for p, q in zip(eager_model.parameters(), comp_model.parameters()):
        np.testing.assert_allclose(_numpy(q), _numpy(p), rtol=1e-5, atol=1e-6)


def test_new_shape_makes_a_new_graph(device, cross_device):
    _, _, step = _model_and_step(device, "mlp")
    compiled = nr.compile(step, warmup=1, max_graphs=2)
    for batch in (16, 16, 8, 8, 16):
        x, y = _batches(device, 1, batch)[0]
        compiled(x, y)
    assert len(compiled.graphs) == 2
    x, y = _batches(device, 1, 4)[0]
    compiled(x, y)                      # eager warm-up call for the third shape
    with pytest.raises(RuntimeError, match="graphs captured already"):
        compiled(x, y)


def test_item_inside_capture_raises(device, cross_device):
    compiled = nr.compile(lambda x: x.sum().item(), warmup=1)
    x = nr.ones(3, device=device)
    with pytest.raises(RuntimeError, match="Tensor.item"):
        compiled(x)


def test_dropout_masks_change_between_replays_and_training_proceeds(device):
    nr.manual_seed(0)
    model = nn.Sequential(nn.Flatten(), nn.Linear(64, 64), nn.Dropout(0.5), nn.ReLU(),
                          nn.Linear(64, 10)).to(device)
    opt = optim.SGD(model.parameters(), lr=0.05, momentum=0.9)

    def train_step(x, y):
        opt.zero_grad()
        h = model[2](model[1](model[0](x)))          # dropout's output: zeros where dropped
        loss = F.cross_entropy(model[4](model[3](h)), y)
        loss.backward()
        opt.step()
        return loss, h
    compiled = nr.compile(train_step, warmup=2)
    x, y = _batches(device, 1, 32)[0]
    losses, masks = [], []
    for _ in range(12):
        loss, h = compiled(x, y)
        losses.append(loss.item())
        masks.append(_numpy(h) == 0)
    if device != "cpu":
        assert len(compiled.graphs) == 1
    replays = masks[2:]                                 # calls 3..12: capture, then replays
    for i in range(1, len(replays)):
        assert (replays[i] != replays[i - 1]).any(), f"replay {i} reused the previous mask"
    assert all(0.35 < m.mean() < 0.65 for m in replays)
    assert np.isfinite(losses).all()
    assert np.mean(losses[-3:]) < 0.8 * losses[0], losses


def test_host_read_inside_capture_raises_at_capture(device, cross_device):
    """The first (checked) call and the warm-up pass; the capture itself raises."""
    def reader(read):
        calls = []

        def fn(x):
            calls.append(1)
            y = x * 2
            if len(calls) > 1:
                read(y)
            return y
        return nr.compile(fn, warmup=2)
    x = nr.ones(3, device=device)
    for read, message in [(lambda y: y.sum().item(), "Tensor.item"),           # narae's check
                          (lambda y: y._data.sum().item(),                     # CUDA's
                           "cudaErrorStreamCapture|operation not permitted when stream")]:
        compiled = reader(read)
        compiled(x)
        compiled(x)
        with pytest.raises(RuntimeError, match="capturing fn failed") as err:
            compiled(x)
        assert err.match(message)
        assert not compiled.graphs


def test_memory_stats(cross_device, real_gpu):
    nr.cuda.reset_peak_memory_stats()
    base = nr.cuda.memory_allocated()
    big = nr.zeros(1024, 1024, device="cuda")          # 4 MiB
    assert nr.cuda.memory_allocated() - base >= 4 * 2 ** 20
    del big
    assert nr.cuda.max_memory_allocated() - base >= 4 * 2 ** 20
    nr.cuda.reset_peak_memory_stats()
    assert nr.cuda.max_memory_allocated() < base + 4 * 2 ** 20
    assert nr.cuda.memory_reserved() >= nr.cuda.memory_allocated()
    assert set(nr.cuda.memory_stats()) >= {"allocated_bytes.all.peak"}


# -- ops that must not upload host data or read device values inside a capture ---------------
_T4 = [0, 1, 2, 3]
CAPTURE_PROBES = {
    "scalar_arith": lambda x, t: x * 2.0 + 1 - (1.0 - x) ** 2,
    "clamp_where_maximum": lambda x, t: nr.where(x > 0.5, x, 0.0).clamp(0, 1)
    + nr.maximum(x, nr.zeros_like(x)),
    "regression_losses": lambda x, t: F.mse_loss(x, nr.zeros_like(x)) + F.l1_loss(x, x * 0)
    + F.smooth_l1_loss(x, nr.ones_like(x)),
    "binary_losses": lambda x, t: F.binary_cross_entropy_with_logits(x, nr.zeros_like(x))
    + F.binary_cross_entropy(x.sigmoid(), nr.ones_like(x)),
    "class_losses": lambda x, t: F.cross_entropy(x, t, weight=nr.ones_like(x[0]),
                                                 label_smoothing=0.1)
    + F.nll_loss(F.log_softmax(x, 1), t),
    "reductions": lambda x, t: x.mean() + x.var() + x.std(1).sum() + x.norm()
    + x.logsumexp(1).sum() + x.cumsum(0).sum(),
    "normalisation": lambda x, t: F.layer_norm(x, (4,)) + F.softmax(x, 1) + F.gelu(x),
    "padding": lambda x, t: F.pad(x, (1, 1)).sum()
    + F.pad(x.reshape(1, 1, 4, 4), (1, 1, 1, 1), mode="reflect").sum(),
    "pooling": lambda x, t: F.avg_pool2d(x.reshape(1, 1, 4, 4), 2).sum()
    + F.avg_pool2d(x.reshape(1, 1, 4, 4), 3, 1, 1, count_include_pad=False).sum()
    + F.adaptive_avg_pool2d(x.reshape(1, 1, 4, 4), 3).sum(),
    "resize": lambda x, t: F.interpolate(x.reshape(1, 1, 4, 4), scale_factor=2,
                                         mode="bilinear").sum(),
    "indexing_embedding_attention": lambda x, t: x[:, 1:3].sum() + F.embedding(t[:2], x).sum()
    + F.scaled_dot_product_attention(x[None], x[None], x[None]).sum() + nr.cat([x, x]).sum(),
}


@pytest.mark.parametrize("name", list(CAPTURE_PROBES))
def test_ops_capture_and_replay_like_eager(name, device, cross_device):
    fn = CAPTURE_PROBES[name]
    x = nr.tensor(np.random.default_rng(0).random((4, 4)).astype(np.float32), device=device)
    t = nr.tensor(_T4, device=device)
    compiled = nr.compile(fn, warmup=1)
    compiled(x, t)                       # warm-up
    got = _numpy(compiled(x, t))         # capture + first replay (outputs are static: copy)
    x2 = x * 0.5
    got2 = _numpy(compiled(x2, t))       # replay on new data
    assert len(compiled.graphs) == 1
    np.testing.assert_allclose(got, _numpy(fn(x, t)), rtol=1e-5, atol=1e-6)
    np.testing.assert_allclose(got2, _numpy(fn(x2, t)), rtol=1e-5, atol=1e-6)
