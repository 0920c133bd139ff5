"""Training on the GPU is training on the CPU: optimizers, Module.to, checkpoints, a real run.

Each test builds the same model twice (same seed, same state dict), keeps one on the CPU and
moves the other with ``Module.to(device)``, then drives both with identical data and
compares. Only narae is used: no CuPy import, so the module imports cleanly without it.
"""
import numpy as np
import pytest

import narae as nr
import narae.nn as nn
import narae.nn.functional as F
import narae.optim as optim
from narae.io import load_checkpoint, save_checkpoint
from narae.models import MODELS

pytestmark = pytest.mark.gpu


def _on(t, device):
    return nr.backend.as_device(device) == t.device


def _numpy(t):
    return t.detach().cpu().numpy()


def _small_net():
    """Conv + BN + linear: parameters of every kind plus BN buffers (running stats, counter).

    The conv has no bias, as before any BN: BN removes it, so its gradient is rounding noise
    (~1e-8, either sign) that Adam and RMSprop scale up to full-size steps, and the CPU and the
    device (other summation orders) would then disagree for no fault of either."""
    return nn.Sequential(nn.Conv2d(1, 4, 3, padding=1, bias=False), nn.BatchNorm2d(4), nn.ReLU(),
                         nn.MaxPool2d(2), nn.Flatten(), nn.Linear(4 * 4 * 4, 16), nn.Tanh(),
                         nn.Linear(16, 3))


def _twins(build, device):
    """The same initial model on the CPU and on ``device``."""
    nr.manual_seed(0)
    cpu_model = build()
    dev_model = build()
    dev_model.load_state_dict(cpu_model.state_dict())
    return cpu_model, dev_model.to(device)


def _data(n=16, seed=0):
    rng = np.random.default_rng(seed)
    return (rng.standard_normal((n, 1, 8, 8)).astype(np.float32),
            rng.integers(0, 3, n).astype(np.int64))


def _assert_same_state(dev_model, cpu_model, atol=1e-5, rtol=1e-4, what=""):
    dev_sd, cpu_sd = dev_model.state_dict(), cpu_model.state_dict()
    assert dev_sd.keys() == cpu_sd.keys()
    for k in cpu_sd:
        np.testing.assert_allclose(_numpy(dev_sd[k]), _numpy(cpu_sd[k]), atol=atol, rtol=rtol,
                                   err_msg=f"{what}{k}")


OPTIMIZERS = {
    "sgd_momentum": lambda ps: optim.SGD(ps, lr=0.05, momentum=0.9),
    "sgd_nesterov_wd": lambda ps: optim.SGD(ps, lr=0.05, momentum=0.9, nesterov=True,
                                            weight_decay=1e-3),
    "adam": lambda ps: optim.Adam(ps, lr=1e-2),
    "adam_amsgrad_wd": lambda ps: optim.Adam(ps, lr=1e-2, amsgrad=True, weight_decay=1e-3),
    "rmsprop": lambda ps: optim.RMSprop(ps, lr=1e-3),
    "rmsprop_centered_momentum": lambda ps: optim.RMSprop(ps, lr=1e-3, momentum=0.5,
                                                          centered=True),
    "adamw": lambda ps: optim.AdamW(ps, lr=1e-2, weight_decay=0.1),
}


def _step(model, opt, x, y):
    opt.zero_grad()
    loss = F.cross_entropy(model(x), y)
    loss.backward()
    opt.step()
    return loss.item()


@pytest.mark.parametrize("name", list(OPTIMIZERS))
def test_optimizer_steps_match_cpu(name, device):
    """Five steps from the same weights on the same batches give the same weights and losses;
    the optimizer's per-parameter state lives on the parameters' device."""
    cpu_model, dev_model = _twins(_small_net, device)
    cpu_opt = OPTIMIZERS[name](cpu_model.parameters())
    dev_opt = OPTIMIZERS[name](dev_model.parameters())
    for i in range(5):
        x, y = _data(seed=i)
        cpu_loss = _step(cpu_model, cpu_opt, nr.from_numpy(x), nr.from_numpy(y))
        dev_loss = _step(dev_model, dev_opt, nr.from_numpy(x).to(device),
                         nr.from_numpy(y).to(device))
        assert dev_loss == pytest.approx(cpu_loss, rel=1e-4, abs=1e-5), f"step {i}"
        _assert_same_state(dev_model, cpu_model, what=f"{name} step {i}: ")
    for p in dev_model.parameters():
        assert _on(p, device)
        for key, v in dev_opt.state[p].items():
            # torch keeps Adam's step counter on the CPU; every per-element buffer must follow
            # the parameter.
            if isinstance(v, nr.Tensor) and tuple(v.shape) == tuple(p.shape):
                assert _on(v, device), f"{name}: state {key!r} is on {v.device}"


def test_module_to_moves_parameters_in_place(device):
    """``Module.to`` keeps the Parameter objects (an optimizer built before still works),
    moves buffers and existing gradients, and ``.cpu()`` moves everything back."""
    model = _small_net()
    params = list(model.parameters())
    opt = optim.Adam(params, lr=1e-3)
    x, y = _data()
    F.cross_entropy(model(nr.from_numpy(x)), nr.from_numpy(y)).backward()
    assert model.to(device) is model
    moved = list(model.parameters())
    assert all(a is b for a, b in zip(params, moved)), "Module.to replaced Parameter objects"
    for name, p in model.named_parameters():
        assert _on(p, device), f"parameter {name} on {p.device}"
        assert p.grad is not None and _on(p.grad, device), f"gradient of {name} not moved"
    for name, b in model.named_buffers():
        assert _on(b, device), f"buffer {name} on {b.device}"
    _step(model, opt, nr.from_numpy(x).to(device), nr.from_numpy(y).to(device))
    for p in params:
        for v in opt.state[p].values():
            if isinstance(v, nr.Tensor) and tuple(v.shape) == tuple(p.shape):
                assert _on(v, device)
    model.cpu()
    assert all(_on(p, "cpu") for p in model.parameters())
    assert all(_on(b, "cpu") for b in model.buffers())


def test_state_dict_crosses_devices(device):
    """A state dict of device tensors loads into a CPU model and vice versa, keeping each
    model on its own device."""
    cpu_model, dev_model = _twins(_small_net, device)
    with nr.no_grad():
        for p in dev_model.parameters():
            p.add_(0.5)  # differ from the fresh CPU weights, so a no-op load would fail
    cpu_model.load_state_dict(dev_model.state_dict())
    assert all(_on(p, "cpu") for p in cpu_model.parameters())
    _assert_same_state(dev_model, cpu_model, atol=0, rtol=0)
    other = _small_net().to(device)
    other.load_state_dict(cpu_model.state_dict())
    assert all(_on(p, device) for p in other.parameters())
    _assert_same_state(other, cpu_model, atol=0, rtol=0)


def _trained_pair(device, steps=3):
    cpu_model, dev_model = _twins(_small_net, device)
    cpu_opt = optim.Adam(cpu_model.parameters(), lr=1e-2)
    dev_opt = optim.Adam(dev_model.parameters(), lr=1e-2)
    for i in range(steps):
        x, y = _data(seed=i)
        _step(cpu_model, cpu_opt, nr.from_numpy(x), nr.from_numpy(y))
        _step(dev_model, dev_opt, nr.from_numpy(x).to(device), nr.from_numpy(y).to(device))
    return cpu_model, cpu_opt, dev_model, dev_opt


def test_checkpoint_from_device_loads_on_cpu(device, tmp_path):
    """Saved from device tensors, loaded into a CPU model/optimizer: training resumes exactly
    as the device run continues."""
    _, _, dev_model, dev_opt = _trained_pair(device)
    path = tmp_path / "from_device.safetensors"
    save_checkpoint(path, dev_model, dev_opt, epoch=3, note="gpu")
    cpu_model = _small_net()
    cpu_opt = optim.Adam(cpu_model.parameters(), lr=1e-2)
    info = load_checkpoint(path, cpu_model, cpu_opt)
    assert info["epoch"] == 3 and info["extra"]["note"] == "gpu"
    assert all(_on(p, "cpu") for p in cpu_model.parameters())
    assert all(_on(b, "cpu") for b in cpu_model.buffers())
    _assert_same_state(dev_model, cpu_model, atol=0, rtol=0)
    for p in cpu_model.parameters():
        for v in cpu_opt.state[p].values():
            if isinstance(v, nr.Tensor):
                assert _on(v, "cpu")
    x, y = _data(seed=10)
    cpu_loss = _step(cpu_model, cpu_opt, nr.from_numpy(x), nr.from_numpy(y))
    dev_loss = _step(dev_model, dev_opt, nr.from_numpy(x).to(device), nr.from_numpy(y).to(device))
    assert cpu_loss == pytest.approx(dev_loss, rel=1e-4, abs=1e-5)
    _assert_same_state(dev_model, cpu_model, what="after resuming: ")


def test_checkpoint_from_cpu_loads_on_device(device, tmp_path):
    """Saved on the CPU, loaded into a model already on the device: parameters and optimizer
    state land on the device, and ``device=`` loads the raw tensors there too."""
    cpu_model, cpu_opt, _, _ = _trained_pair(device)
    path = tmp_path / "from_cpu.safetensors"
    save_checkpoint(path, cpu_model, cpu_opt, epoch=3)
    dev_model = _small_net().to(device)
    dev_opt = optim.Adam(dev_model.parameters(), lr=1e-2)
    load_checkpoint(path, dev_model, dev_opt)
    assert all(_on(p, device) for p in dev_model.parameters())
    assert all(_on(b, device) for b in dev_model.buffers())
    _assert_same_state(dev_model, cpu_model, atol=0, rtol=0)
    for p in dev_model.parameters():
        state = dev_opt.state[p]
        assert state, "optimizer state was not restored"
        for v in state.values():
            if isinstance(v, nr.Tensor) and tuple(v.shape) == tuple(p.shape):
                assert _on(v, device)
    x, y = _data(seed=10)
    cpu_loss = _step(cpu_model, cpu_opt, nr.from_numpy(x), nr.from_numpy(y))
    dev_loss = _step(dev_model, dev_opt, nr.from_numpy(x).to(device), nr.from_numpy(y).to(device))
    assert dev_loss == pytest.approx(cpu_loss, rel=1e-4, abs=1e-5)
    raw = load_checkpoint(path, device=device)
    assert all(_on(t, device) for t in raw["model"].values())


def _digits_setup():
    """scikit-learn's digits and a freshly initialised LeNet-5 (with its initial weights)."""
    pytest.importorskip("sklearn")
    from narae.datasets import Digits
    x_train, y_train = Digits(train=True).tensors()
    x_test, y_test = Digits(train=False).tensors()
    nr.manual_seed(0)
    model = MODELS["lenet5"]((1, 8, 8), 10)
    reference = model.state_dict()
    return x_train, y_train, x_test, y_test, model, reference


def _train_epoch(model, device, x_train, y_train, x_test, y_test, batch=32):
    """One epoch of Adam in a fixed order, then (test accuracy, per-step losses)."""
    model.to(device)
    opt = optim.Adam(model.parameters(), lr=2e-3)
    order = np.random.default_rng(0).permutation(len(y_train))  # the same order on both
    losses = []
    model.train()
    for i in range(0, len(order), batch):
        idx = order[i:i + batch]
        xb = nr.from_numpy(x_train.numpy()[idx]).to(device)
        yb = nr.from_numpy(y_train.numpy()[idx]).to(device)
        losses.append(_step(model, opt, xb, yb))
    model.eval()
    with nr.no_grad():
        pred = model(x_test.to(device)).argmax(dim=1)
    acc = float((pred.cpu().numpy() == y_test.numpy()).mean())
    return acc, np.array(losses)


def test_digits_cnn_epoch_matches_cpu(device):
    """The digits CNN trained one epoch on the device reaches the CPU run's accuracy: the
    per-step losses track each other and the test accuracies agree within 2 points."""
    x_train, y_train, x_test, y_test, cpu_model, ref = _digits_setup()
    dev_model = MODELS["lenet5"]((1, 8, 8), 10)
    dev_model.load_state_dict(ref)
    cpu_acc, cpu_losses = _train_epoch(cpu_model, "cpu", x_train, y_train, x_test, y_test)
    dev_acc, dev_losses = _train_epoch(dev_model, device, x_train, y_train, x_test, y_test)
    assert cpu_acc > 0.5, f"the CPU reference did not learn (accuracy {cpu_acc:.3f})"
    np.testing.assert_allclose(dev_losses[:10], cpu_losses[:10], rtol=1e-3, atol=1e-4)
    assert abs(dev_losses[-5:].mean() - cpu_losses[-5:].mean()) < 0.05
    assert abs(dev_acc - cpu_acc) <= 0.02, f"device {dev_acc:.3f} vs cpu {cpu_acc:.3f}"


def test_resnet20_step_matches_cpu(device):
    """One SGD step of CIFAR ResNet-20 (BN, option-A shortcuts): the model the benchmark times."""
    cpu_model, dev_model = _twins(lambda: MODELS["resnet20"]((3, 32, 32), 10), device)
    cpu_opt = optim.SGD(cpu_model.parameters(), lr=0.1, momentum=0.9)
    dev_opt = optim.SGD(dev_model.parameters(), lr=0.1, momentum=0.9)
    rng = np.random.default_rng(0)
    x = rng.standard_normal((8, 3, 32, 32)).astype(np.float32)
    y = rng.integers(0, 10, 8)
    for _ in range(2):
        cpu_loss = _step(cpu_model, cpu_opt, nr.from_numpy(x), nr.from_numpy(y))
        dev_loss = _step(dev_model, dev_opt, nr.from_numpy(x).to(device),
                         nr.from_numpy(y).to(device))
        assert dev_loss == pytest.approx(cpu_loss, rel=1e-3)
    _assert_same_state(dev_model, cpu_model, atol=1e-4, rtol=1e-3)


def test_lstm_module_step_matches_cpu(device):
    """nn.LSTM (2 layers, bidirectional, batch_first) + Embedding + Linear: one Adam step."""
    class Net(nn.Module):
        def __init__(self):
            super().__init__()
            self.embed = nn.Embedding(20, 8)
            self.lstm = nn.LSTM(8, 12, num_layers=2, batch_first=True, bidirectional=True)
            self.gru = nn.GRU(24, 10, batch_first=True)
            self.head = nn.Linear(10, 20)

        def forward(self, x):
            y, _ = self.lstm(self.embed(x))
            y, _ = self.gru(y)
            return self.head(y)

    cpu_model, dev_model = _twins(Net, device)
    cpu_opt = optim.Adam(cpu_model.parameters(), lr=1e-2)
    dev_opt = optim.Adam(dev_model.parameters(), lr=1e-2)
    ids = np.random.default_rng(0).integers(0, 20, (4, 9))

    def lm_step(model, opt, dev):
        t = nr.from_numpy(ids).to(dev)
        opt.zero_grad()
        logits = model(t[:, :-1])
        loss = F.cross_entropy(logits.reshape(-1, 20), t[:, 1:].reshape(-1))
        loss.backward()
        opt.step()
        return loss.item()

    for _ in range(3):
        assert lm_step(dev_model, dev_opt, device) == pytest.approx(
            lm_step(cpu_model, cpu_opt, "cpu"), rel=1e-4)
    _assert_same_state(dev_model, cpu_model)


# -- cross-device misuse: a clear error, not a silent copy or a CuPy traceback -----------------
def _assert_cross_device_error(fn):
    with pytest.raises(RuntimeError) as err:
        fn()
    msg = str(err.value).lower()
    assert "device" in msg and "cpu" in msg and "cuda" in msg, \
        f"unclear cross-device error: {err.value!r}"


@pytest.mark.parametrize("expr", [
    lambda c, g: c + g,
    lambda c, g: g * c,
    lambda c, g: nr.matmul(c, g.t()),
    lambda c, g: nr.cat([c, g]),
    lambda c, g: nr.where(c > 0, c, g),
    lambda c, g: F.linear(g, c),
    lambda c, g: F.mse_loss(g, c),
], ids=["add", "mul", "matmul", "cat", "where", "linear", "mse_loss"])
def test_cross_device_ops_raise(expr, cross_device):
    c = nr.ones(3, 3)
    g = nr.ones(3, 3).to(cross_device)
    _assert_cross_device_error(lambda: expr(c, g))


def test_cross_device_model_input_raises(cross_device):
    """A model on the GPU fed a CPU batch (the commonest mistake) names both devices."""
    model = _small_net().to(cross_device)
    x, y = _data()
    _assert_cross_device_error(lambda: model(nr.from_numpy(x)))
    logits = model(nr.from_numpy(x).to(cross_device))
    _assert_cross_device_error(lambda: F.cross_entropy(logits, nr.from_numpy(y)))


def test_cross_device_inplace_and_backward_raise(cross_device):
    g = nr.ones(3).to(cross_device)
    _assert_cross_device_error(lambda: g.add_(nr.ones(3)))
    x = nr.ones(3).to(cross_device).requires_grad_(True)
    y = (x * 2).sum()
    _assert_cross_device_error(lambda: y.backward(nr.tensor(1.0)))


def test_cuda_namespace(cross_device):
    assert nr.cuda.is_available()
    assert nr.cuda.device_count() >= 1
    nr.cuda.synchronize()
    t = nr.ones(2, device="cuda:0")
    assert t.device == nr.backend.Device("cuda", 0) and t.is_cuda
