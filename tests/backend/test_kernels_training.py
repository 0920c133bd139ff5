"""Whole training runs on the kernel path (the one CuPy arrays take), run by the CPU emulator:
conv, batch norm, ReLU, max pool, linear, softmax-cross-entropy and the fused optimizer
update (a CNN with Adam, a residual block with SGD momentum), the LSTM step and the fused
Adam (a character language model) -- each equal to the NumPy path step by step."""
import shutil

import numpy as np
import pytest

import narae as nr
import narae.nn as nn
import narae.nn.functional as F
import narae.optim as optim
from narae.backend import kernels

pytestmark = pytest.mark.skipif(shutil.which("g++") is None, reason="the emulator needs g++")


class _Residual(nn.Module):
    def __init__(self, c):
        super().__init__()
        self.conv1 = nn.Conv2d(c, c, 3, padding=1, bias=False)
        self.bn1 = nn.BatchNorm2d(c)
        self.conv2 = nn.Conv2d(c, c, 3, padding=1, bias=False)
        self.bn2 = nn.BatchNorm2d(c)

    def forward(self, x):
        return F.relu(x + self.bn2(self.conv2(F.relu(self.bn1(self.conv1(x))))))


class _CharLM(nn.Module):
    def __init__(self, vocab=12, hidden=16):
        super().__init__()
        self.embed = nn.Embedding(vocab, 8)
        self.lstm = nn.LSTM(8, hidden, batch_first=True)
        self.head = nn.Linear(hidden, vocab)

    def forward(self, x):
        y, _ = self.lstm(self.embed(x))
        return self.head(y)


def _cnn():
    # no bias before batch norm: its gradient is rounding noise, which Adam would blow up
    return nn.Sequential(nn.Conv2d(1, 4, 3, padding=1, bias=False), nn.BatchNorm2d(4), nn.ReLU(),
                         nn.MaxPool2d(2), nn.Conv2d(4, 6, 3), nn.Tanh(), nn.Flatten(),
                         nn.Linear(6 * 2 * 2, 10))


def _resnet():
    return nn.Sequential(nn.Conv2d(3, 4, 3, padding=1), _Residual(4), nn.AvgPool2d(2),
                         nn.Flatten(), nn.Linear(4 * 4 * 4, 5))


CASES = {
    "cnn-adam": (_cnn, lambda ps: optim.Adam(ps, lr=1e-2),
                 lambda rng: (rng.standard_normal((6, 1, 8, 8)), rng.integers(0, 10, 6))),
    "resnet-sgd-momentum": (_resnet, lambda ps: optim.SGD(ps, lr=0.05, momentum=0.9,
                                                          weight_decay=5e-4),
                            lambda rng: (rng.standard_normal((4, 3, 8, 8)),
                                         rng.integers(0, 5, 4))),
    "char-lstm-adam": (_CharLM, lambda ps: optim.Adam(ps, lr=1e-2),
                       lambda rng: (rng.integers(0, 12, (3, 7)), rng.integers(0, 12, (3, 7)))),
}


def _train(name, emulate, steps=4):
    build, make_opt, batch = CASES[name]
    nr.manual_seed(0)
    model = build()
    opt = make_opt(model.parameters())
    rng = np.random.default_rng(1)
    losses = []
    with kernels.emulate(emulate):
        for _ in range(steps):
            x, y = batch(rng)
            x = nr.tensor(x.astype(np.float32) if x.dtype.kind == "f" else x)
            y = nr.tensor(y)
            opt.zero_grad()
            out = model(x)
            loss = F.cross_entropy(out.reshape(-1, out.shape[-1]), y.reshape(-1))
            loss.backward()
            opt.step()
            losses.append(loss.item())
    return losses, model, opt


@pytest.mark.parametrize("name", list(CASES))
def test_training_on_the_kernel_path_equals_the_numpy_path(name, launches):
    want, ref, _ = _train(name, emulate=False)
    assert not launches
    got, model, opt = _train(name, emulate=True)
    np.testing.assert_allclose(got, want, rtol=1e-5, atol=1e-6)
    for (k, a), b in zip(model.state_dict().items(), ref.state_dict().values()):
        np.testing.assert_allclose(a.numpy(), b.numpy(), rtol=2e-4, atol=2e-5, err_msg=k)
    assert opt.__dict__.get("_fused_cache"), "the fused optimizer update did not run"
    expected = {"optim", "softmax_ce"} | ({"rnn_cell"} if "lstm" in name else
                                         {"im2col", "batchnorm", "pool"})
    assert expected <= launches.modules, f"kernels not used: {expected - launches.modules}"
