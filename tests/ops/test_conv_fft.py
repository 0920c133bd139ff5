"""The FFT path of conv2d/conv1d/conv_transpose (narae.ops.conv): torch parity, gradchecks,
double backward, and the dispatch rule that picks it."""
import numpy as np
import pytest

import narae as nr
import narae.nn.functional as F
from narae.ops import conv
from helpers import check, randn


def _f(m):
    return F if m is nr else m.nn.functional


@pytest.fixture
def fft_calls(monkeypatch):
    """Forces the FFT path on every eligible conv and counts the FFT kernels that ran."""
    monkeypatch.setattr(conv, "FFT_MODE", "always")
    calls = {"fwd": 0, "input": 0, "weight": 0}
    for key, name in (("fwd", "_fft_fwd"), ("input", "_fft_bwd_input"),
                      ("weight", "_fft_bwd_weight")):
        def spy(*a, _inner=getattr(conv, name), _key=key, **k):
            calls[_key] += 1
            return _inner(*a, **k)
        monkeypatch.setattr(conv, name, spy)
    return calls


FFT_CASES = [
    # (input shape, weight shape, kwargs): stride 1, dilation 1, groups 1
    ((2, 3, 6, 5), (4, 3, 3, 3), {}),                                  # no padding
    ((2, 3, 6, 5), (4, 3, 3, 3), dict(padding=1)),
    ((2, 2, 7, 6), (3, 2, 5, 5), dict(padding=2)),
    ((1, 3, 5, 6), (2, 3, 3, 5), dict(padding=(0, 3))),                # pad > half the kernel
    ((2, 3, 5, 6), (4, 3, 2, 4), dict(padding="same")),                # asymmetric padding
    ((2, 2, 3, 3), (2, 2, 3, 3), dict(padding=4)),                     # output > input
    ((2, 3, 6, 7), (2, 3, 1, 3), {}),                                  # one-row kernel
]


@pytest.mark.parametrize("xs,ws,kw", FFT_CASES)
def test_conv2d_fft(fft_calls, xs, ws, kw):
    check(lambda m, x, w, b: _f(m).conv2d(x, w, b, **kw), randn(*xs), randn(*ws), randn(ws[0]),
          double=True)
    assert min(fft_calls.values()) > 0, fft_calls


def test_conv2d_fft_no_bias_unbatched_and_partial_gradients(fft_calls):
    check(lambda m, x, w: _f(m).conv2d(x, w, padding=1), randn(3, 5, 4), randn(2, 3, 3, 3),
          double=True)
    check(lambda m, x, w, b: _f(m).conv2d(x, w, b, padding=1), randn(2, 2, 4, 4),
          randn(3, 2, 3, 3), randn(3), diff=[1, 2])
    check(lambda m, x, w: _f(m).conv2d(x, w, padding=1), randn(2, 2, 4, 4), randn(3, 2, 3, 3),
          diff=[0])
    assert min(fft_calls.values()) > 0, fft_calls


def test_conv1d_and_conv_transpose_fft(fft_calls):
    check(lambda m, x, w, b: _f(m).conv1d(x, w, b, padding=2), randn(2, 3, 9), randn(4, 3, 5),
          randn(4), double=True)
    check(lambda m, x, w, b: _f(m).conv_transpose2d(x, w, b, padding=1), randn(2, 3, 4, 5),
          randn(3, 2, 3, 3), randn(2), double=True)
    assert min(fft_calls.values()) > 0, fft_calls


def test_fft_batch_blocks(fft_calls, monkeypatch):
    """Tiny blocks: the batch goes through the transforms in several pieces."""
    monkeypatch.setattr(conv, "_FFT_BLOCK_BYTES", 64)
    check(lambda m, x, w, b: _f(m).conv2d(x, w, b, padding=2), randn(3, 2, 5, 4),
          randn(3, 2, 5, 5), randn(3), double=True)


def test_fft_matches_im2col_on_a_real_layer(monkeypatch):
    """conv2 of the benchmark CNN at batch 2: the FFT and im2col paths agree in float32."""
    rng = np.random.default_rng(0)
    x = rng.standard_normal((2, 32, 14, 14)).astype(np.float32)
    w = (rng.standard_normal((64, 32, 5, 5)) / 40).astype(np.float32)
    b = rng.standard_normal(64).astype(np.float32)
    gy = rng.standard_normal((2, 64, 14, 14)).astype(np.float32)
    res = {}
    for mode in ("never", "always"):
        monkeypatch.setattr(conv, "FFT_MODE", mode)
        xt, wt, bt = (nr.tensor(a, requires_grad=True) for a in (x, w, b))
        (F.conv2d(xt, wt, bt, padding=2) * nr.tensor(gy)).sum().backward()
        res[mode] = [F.conv2d(xt, wt, bt, padding=2).detach().numpy(), xt.grad.numpy(),
                     wt.grad.numpy(), bt.grad.numpy()]
    for a, b in zip(res["never"], res["always"]):
        np.testing.assert_allclose(a, b, rtol=1e-4, atol=2e-5 * np.abs(b).max())


def test_auto_rule_parity():
    """Shapes the "auto" rule sends to the FFT path (5x5, 32->32 channels) match torch."""
    assert conv.FFT_MODE == "auto"
    assert conv._use_fft(np, 32, 32, 5, 5, conv._Geom((1, 1), (2,) * 4, (1, 1), 1))
    check(lambda m, x, w, b: _f(m).conv2d(x, w, b, padding=2), randn(2, 32, 5, 5),
          randn(32, 32, 5, 5) / 10, randn(32), gradcheck=False)


def test_dispatch_rule():
    g1 = conv._Geom((1, 1), (2,) * 4, (1, 1), 1)
    assert conv._use_fft(np, 32, 64, 5, 5, g1)                     # the CNN's conv2
    assert not conv._use_fft(np, 1, 32, 5, 5, g1)                  # its first layer
    assert conv._use_fft(np, 128, 128, 3, 3, conv._Geom((1, 1), (1,) * 4, (1, 1), 1))
    assert not conv._use_fft(np, 64, 64, 3, 3, conv._Geom((1, 1), (1,) * 4, (1, 1), 1))
    assert not conv._use_fft(np, 16, 16, 3, 3, g1)
    assert not conv._use_fft(np, 256, 256, 1, 1, conv._Geom((1, 1), (0,) * 4, (1, 1), 1))
    for other in (conv._Geom((2, 2), (2,) * 4, (1, 1), 1), conv._Geom((1, 1), (2,) * 4, (2, 2), 1),
                  conv._Geom((1, 1), (2,) * 4, (1, 1), 2)):
        assert not conv._use_fft(np, 32, 64, 5, 5, other)


def test_fft_len():
    assert [conv._fft_len(n) for n in (1, 7, 11, 16, 17, 31)] == [1, 8, 12, 16, 18, 32]
    assert [conv._fft_len(n, even=True) for n in (1, 9, 15, 25)] == [2, 10, 16, 30]
