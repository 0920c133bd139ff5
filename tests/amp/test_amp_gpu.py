"""autocast("cuda") and GradScaler("cuda") on CuPy arrays, compared with the same run on the CPU
(deselected by default; run with ``python -m pytest tests/amp -m gpu`` on a GPU machine)."""
import numpy as np
import pytest

import narae as nr
import narae.amp as amp
import narae.nn.functional as F
import narae.optim
from narae.backend import gpu_available
from helpers import randn

pytestmark = [pytest.mark.gpu,
              pytest.mark.skipif(not gpu_available(), reason="needs CuPy and a CUDA GPU")]

X = randn(8, 6).astype(np.float32)
W = (randn(3, 6) * 0.5).astype(np.float32)
Y = np.arange(8) % 3


def _forward_backward(device):
    x, y = nr.tensor(X, device=device), nr.tensor(Y, device=device)
    w = nr.tensor(W, device=device, requires_grad=True)
    with amp.autocast(device, dtype=nr.float16):
        h = F.linear(x, w)
        loss = F.cross_entropy(h, y)
    loss.backward()
    return h, loss, w


def test_autocast_cuda_matches_cpu():
    h, loss, w = _forward_backward("cuda")
    h_cpu, loss_cpu, w_cpu = _forward_backward("cpu")
    assert h.dtype == nr.float16 and loss.dtype == nr.float32
    assert w.grad.dtype == nr.float32 and w.grad.device.type == "cuda"
    np.testing.assert_allclose(h.detach().cpu().numpy(), h_cpu.detach().numpy(), rtol=1e-2,
                               atol=1e-2)
    np.testing.assert_allclose(w.grad.cpu().numpy(), w_cpu.grad.numpy(), rtol=1e-2, atol=1e-3)


@pytest.mark.skipif(nr._dtype.BF16 is None, reason="bfloat16 needs ml_dtypes")
def test_autocast_cuda_bfloat16_matches_cpu():
    def run(device):
        x, y = nr.tensor(X, device=device), nr.tensor(Y, device=device)
        w = nr.tensor(W, device=device, requires_grad=True)
        with amp.autocast(device, dtype=nr.bfloat16):
            h = F.relu(F.linear(x, w)) * 0.5
            loss = F.cross_entropy(h, y)
        loss.backward()
        return h, loss, w
    h, loss, w = run("cuda")
    h_cpu, loss_cpu, w_cpu = run("cpu")
    assert h.dtype == nr.bfloat16 and loss.dtype == nr.float32
    assert w.grad.dtype == nr.float32 and w.grad.device.type == "cuda"
    np.testing.assert_allclose(h.detach().float().cpu().numpy(), h_cpu.detach().float().numpy(),
                               rtol=2e-2, atol=2e-2)
    np.testing.assert_allclose(w.grad.cpu().numpy(), w_cpu.grad.numpy(), rtol=2e-2, atol=2e-3)


def test_cuda_region_leaves_cpu_tensors_alone():
    with amp.autocast("cuda"):
        assert amp.is_autocast_enabled("cuda") and not amp.is_autocast_enabled("cpu")
        assert F.linear(nr.tensor(X), nr.tensor(W)).dtype == nr.float32
        assert F.linear(nr.tensor(X, device="cuda"),
                        nr.tensor(W, device="cuda")).dtype == nr.float16


def _scaler_run(device, poison):
    w = nr.tensor(W, device=device, requires_grad=True)
    x = nr.tensor(X, device=device)
    opt = narae.optim.SGD([w], lr=0.1)
    scaler = amp.GradScaler(device, init_scale=2.0 ** 8, growth_interval=2)
    scales = []
    for step in range(8):
        opt.zero_grad()
        scaler.scale((F.linear(x, w) ** 2).mean()).backward()
        if step in poison:
            w.grad._data[0, 0] = np.inf
        scaler.step(opt)
        scaler.update()
        scales.append(scaler.get_scale())
    return scales, w.detach().cpu().numpy()


def test_grad_scaler_cuda_matches_cpu():
    poison = {2, 5}
    scales, w = _scaler_run("cuda", poison)
    scales_cpu, w_cpu = _scaler_run("cpu", poison)
    assert scales == scales_cpu
    np.testing.assert_allclose(w, w_cpu, rtol=1e-5, atol=1e-6)
