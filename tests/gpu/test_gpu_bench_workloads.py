"""The six workloads of benchmarks/gpu/bench_gpu.py (narae's side, at tiny batches) train on
the device eagerly and through narae.compile, and the captured steps equal the eager ones:
the benchmark's captured rows measure the same work as its eager rows."""
import os
import sys

import numpy as np
import pytest

import narae as nr
import narae.nn.functional as F
import narae.optim

pytestmark = pytest.mark.gpu

sys.path.insert(0, os.path.join(os.path.dirname(os.path.abspath(__file__)), "..", "..",
                                "benchmarks", "gpu"))
bench = pytest.importorskip("bench_gpu")


def _steps(workload, device, compiled, n=4):
    name, builder, batch, kind, make_opt, _, _ = workload
    nr.manual_seed(0)
    model = builder(nr).to(device)
    model.train()
    opt = make_opt(narae.optim, model.parameters())
    loss_fn = bench._loss_fn(F, kind)
    x, y = bench._batch(kind, min(batch, 3), np.random.default_rng(0))
    x, y = nr.tensor(x, device=device), nr.tensor(y, device=device)

    def step():
        opt.zero_grad()
        loss = loss_fn(model(x), y)
        loss.backward()
        opt.step()
        return loss
    if compiled:
        step = nr.compile(step, warmup=1)
    return [step().item() for _ in range(n)], step


@pytest.mark.parametrize("workload", [bench.WORKLOADS[i] for i in (0, 2, 4, 5)],
                         ids=lambda w: w[0])   # one of each model (batch sizes differ only)
def test_benchmark_workload_captured_equals_eager(workload, device):
    eager, _ = _steps(workload, device, compiled=False)
    captured, step = _steps(workload, device, compiled=True)
    assert np.all(np.isfinite(eager))
    np.testing.assert_allclose(captured, eager, rtol=1e-4, atol=1e-5)
    if device != "cpu":
        assert len(step.graphs) == 1
