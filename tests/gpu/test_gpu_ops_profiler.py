"""narae.profiler on a GPU: the CUDA activity records device ranges (CuPy events) per op."""
import json
import warnings

import pytest

import narae as nr
import narae.nn as nn
from narae.autograd.function import Function
from narae.profiler import profile, ProfilerActivity

pytestmark = pytest.mark.gpu


def test_cuda_activity_records_device_times(device, tmp_path):
    if device == "cpu":
        pytest.skip("dry run: no device to time")
    plain = Function.__dict__["__call__"]
    nr.manual_seed(0)
    model = nn.Sequential(nn.Linear(6, 8), nn.ReLU(), nn.Linear(8, 3)).to(device)
    x = nr.randn(4, 6, device=device)
    with warnings.catch_warnings():
        warnings.simplefilter("error")  # no "no GPU" warning: the device is there
        with profile(activities=[ProfilerActivity.CPU, ProfilerActivity.CUDA],
                     profile_memory=True) as prof:
            model(x).sum().backward()
    assert Function.__dict__["__call__"] is plain
    rows = {r.key: r for r in prof.key_averages()}
    assert rows["Linear"].count == 2 and rows["LinearBackward"].count == 2
    for r in rows.values():
        assert r.device_time_total >= 0 and r.cuda_time_total == r.device_time_total
    assert rows["Linear"].cpu_memory_usage == (4 * 8 + 4 * 3) * 4
    text = prof.key_averages().table(sort_by="device_time_total")
    assert "Self CUDA" in text and "CUDA total" in text and "Linear" in text
    path = tmp_path / "trace.json"
    prof.export_chrome_trace(str(path))
    events = json.loads(path.read_text())["traceEvents"]
    gpu = [e for e in events if e.get("cat") == "gpu_range"]
    assert {"Linear", "LinearBackward"} <= {e["name"] for e in gpu}


def test_cpu_only_activity_records_no_device_ranges(device):
    x = nr.randn(3, device=device)
    with profile(activities=[ProfilerActivity.CPU]) as prof:
        nr.exp(x)
    assert all(e.device_range is None for e in prof.events())
    assert "CUDA" not in prof.key_averages().table()
