"""GradScaler's device mode (scale, growth tracker and inf flags in device memory, fused
optimizers skipping on the device) against its host mode, and a captured float16 training
step -- autocast plus loss scaling inside narae.compile -- against the eager one."""
import numpy as np
import pytest

import narae as nr
import narae.nn as nn
import narae.nn.functional as F
import narae.optim as optim

pytestmark = pytest.mark.gpu


def _setup(device, opt_name):
    nr.manual_seed(0)
    model = nn.Sequential(nn.Linear(10, 16), nn.ReLU(), nn.Linear(16, 4)).to(device)
    opt = (optim.SGD(model.parameters(), lr=0.05, momentum=0.9) if opt_name == "sgd"
           else optim.Adam(model.parameters(), lr=1e-2))
    return model, opt


def _batches(device, n):
    rng = np.random.default_rng(0)
    return [(nr.tensor(rng.standard_normal((8, 10)).astype(np.float32), device=device),
             nr.tensor(rng.integers(0, 4, 8), device=device)) for _ in range(n)]


@pytest.mark.parametrize("opt_name", ["sgd", "adam"])
def test_device_mode_scaler_matches_host_mode(opt_name, cross_device):
    runs = {}
    for device in ("cpu", cross_device):
        model, opt = _setup(device, opt_name)
        scaler = nr.amp.GradScaler(device.split(":")[0], init_scale=2.0 ** 10,
                                   growth_interval=3)
        scales = []
        for i, (x, y) in enumerate(_batches(device, 12)):
            opt.zero_grad()
            scaler.scale(F.cross_entropy(model(x), y)).backward()
            if i in (4, 8):                      # an overflowed step: skipped, scale backs off
                g = model[0].weight.grad
                g._data[0, 0] = np.inf
            scaler.step(opt)
            scaler.update()
            scales.append(scaler.get_scale())
        runs[device] = (scales, [p.detach().cpu().numpy() for p in model.parameters()])
    (s_cpu, p_cpu), (s_dev, p_dev) = runs["cpu"], runs[cross_device]
    assert s_dev == s_cpu
    assert s_cpu[4] == s_cpu[3] / 2 and s_cpu[8] == s_cpu[7] / 2
    for a, b in zip(p_dev, p_cpu):
        np.testing.assert_allclose(a, b, rtol=1e-5, atol=1e-6)


def test_captured_float16_step_equals_eager(cross_device):
    device = cross_device
    results = []
    for compiled in (False, True):
        model, opt = _setup(device, "adam")
        scaler = nr.amp.GradScaler("cuda", init_scale=2.0 ** 12, growth_interval=2)

        def step(x, y):
            opt.zero_grad()
            with nr.autocast("cuda", dtype=nr.float16):
                loss = F.cross_entropy(model(x), y)
            scaler.scale(loss).backward()
            scaler.step(opt)
            scaler.update()
            return loss
        run = nr.compile(step, warmup=2) if compiled else step
        losses = [run(x, y).item() for x, y in _batches(device, 7)]
        results.append((losses, scaler.get_scale(),
                        [p.detach().cpu().numpy() for p in model.parameters()]))
        if compiled:
            assert len(run.graphs) == 1
    (l0, s0, p0), (l1, s1, p1) = results
    np.testing.assert_allclose(l1, l0, rtol=1e-3, atol=1e-4)
    assert s1 == s0 and s0 > 2.0 ** 12       # grown on the device, in the graph too
    for a, b in zip(p1, p0):
        np.testing.assert_allclose(a, b, rtol=1e-3, atol=1e-4)
