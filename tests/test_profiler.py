"""narae.profiler: op timing rows, user ranges, schedules, traces, and zero cost outside."""
import gzip
import json
import os
import threading
import warnings

import pytest
import torch

import narae as nr
import narae.nn as nn
from narae.autograd import engine
from narae.autograd.function import Function
from narae.profiler import (profile, record_function, schedule, tensorboard_trace_handler,
                            ProfilerAction, ProfilerActivity, supported_activities)

import helpers


PLAIN_CALL = Function.__dict__["__call__"]
CPU = [ProfilerActivity.CPU]


def randn(*shape):
    return helpers.randn(*shape).astype("float32")


def _mlp():
    nr.manual_seed(0)
    return nn.Sequential(nn.Linear(6, 8), nn.ReLU(), nn.Linear(8, 3))


def _train_step(model, opt, x, y):
    opt.zero_grad()
    loss = nn.functional.mse_loss(model(x), y)
    loss.backward()
    opt.step()
    return loss


def _rows(prof, **kw):
    return {r.key: r for r in prof.key_averages(**kw)}


def _assert_plain():
    assert Function.__dict__["__call__"] is PLAIN_CALL
    assert engine._backward_hook is None
    assert "__call__" not in nn.Module.__dict__ or \
        nn.Module.__dict__["__call__"].__name__ == "__call__"


def test_mlp_training_step_rows_counts_and_totals():
    model = _mlp()
    opt = nr.optim.SGD(model.parameters(), lr=0.1)
    x, y = nr.tensor(randn(4, 6)), nr.tensor(randn(4, 3))
    steps = 3
    with profile(activities=CPU) as prof:
        for _ in range(steps):
            _train_step(model, opt, x, y)
    _assert_plain()
    rows = _rows(prof)
    assert rows["Linear"].count == 2 * steps
    assert rows["LinearBackward"].count == 2 * steps
    assert rows["ReLU"].count == steps and rows["ReLUBackward"].count == steps
    events = prof.events()
    for e in events:
        assert 0 <= e.self_cpu_time_total <= e.cpu_time_total + 1e-6
        kids = sum(c.cpu_time_total for c in e.cpu_children)
        assert e.self_cpu_time_total == pytest.approx(e.cpu_time_total - kids, abs=1e-3)
        for c in e.cpu_children:  # children lie inside their parent
            assert e.time_range.start <= c.time_range.start <= c.time_range.end \
                <= e.time_range.end
    for r in rows.values():
        assert 0 <= r.self_cpu_time_total <= r.cpu_time_total + 1e-6
        assert r.cpu_time == pytest.approx(r.cpu_time_total / r.count)
    # self times partition the time spent in the top-level ranges
    top = sum(e.cpu_time_total for e in events if e.cpu_parent is None)
    assert sum(r.self_cpu_time_total for r in rows.values()) == pytest.approx(top, rel=1e-6)
    assert events.self_cpu_time_total == pytest.approx(top, rel=1e-6)
    # the backward node's own ops nest inside it
    lb = next(e for e in events if e.name == "LinearBackward")
    assert lb.cpu_children and all(c.cpu_parent is lb for c in lb.cpu_children)
    assert rows["LinearBackward"].cpu_time_total > rows["LinearBackward"].self_cpu_time_total


def test_matmul_forward_and_backward_counts():
    a = nr.tensor(randn(3, 4), requires_grad=True)
    b = nr.tensor(randn(4, 5), requires_grad=True)
    with profile(activities=CPU) as prof:
        for _ in range(4):
            (a @ b).sum().backward()
    rows = _rows(prof)
    assert rows["MatMulBackward"].count == 4
    assert rows["SumBackward"].count == 4
    # MatMul runs 4 times forward, plus inside MatMulBackward (grad = g @ b.T, a.T @ g)
    inside = sum(1 for e in prof.events() if e.name == "MatMul" and e.cpu_parent is not None
                 and e.cpu_parent.name == "MatMulBackward")
    assert rows["MatMul"].count == 4 + inside and inside == 8


def test_no_grad_ops_are_recorded_too():
    x = nr.tensor(randn(3))
    with nr.no_grad(), profile(activities=CPU) as prof:
        nr.exp(x)
        nr.exp(x)
    assert _rows(prof)["Exp"].count == 2


def test_record_function_nesting_and_decorator():
    x = nr.tensor(randn(5), requires_grad=True)

    @record_function("decorated")
    def work(t):
        return (t * 2).sum()

    with profile(activities=CPU) as prof:
        with record_function("outer") as rf:
            assert isinstance(rf, record_function)
            with record_function("inner"):
                work(x)
            work(x)
    ev = {e.name: e for e in prof.events()}
    outer, inner = ev["outer"], ev["inner"]
    assert inner.cpu_parent is outer and outer.cpu_parent is None
    assert outer.cpu_time_total >= inner.cpu_time_total
    assert outer.self_cpu_time_total <= outer.cpu_time_total - inner.cpu_time_total + 1e-3
    rows = _rows(prof)
    assert rows["decorated"].count == 2 and rows["MulScalar"].count == 2
    assert {c.name for c in inner.cpu_children} == {"decorated"}
    assert outer.is_user_annotation and not ev["MulScalar"].is_user_annotation
    # without a profiler, a record_function is a plain block
    with record_function("nothing"):
        assert work(x).item() == pytest.approx(2 * float(x.sum().item()), rel=1e-5)
    with pytest.raises(TypeError, match="record_function"):
        record_function(3)


def test_recursive_decorated_function():
    @record_function("fact")
    def fact(n):
        return 1 if n <= 1 else n * fact(n - 1)

    with profile(activities=CPU) as prof:
        assert fact(4) == 24
    events = [e for e in prof.events() if e.name == "fact"]
    assert len(events) == 4
    assert [e.cpu_parent.name if e.cpu_parent else None for e in events] == \
        [None, "fact", "fact", "fact"]


@pytest.mark.parametrize("kw", [dict(wait=1, warmup=1, active=2),
                                dict(wait=0, warmup=1, active=1, repeat=2),
                                dict(wait=2, warmup=1, active=3, repeat=1, skip_first=2),
                                dict(wait=3, warmup=1, active=1, skip_first_wait=1),
                                dict(wait=1, warmup=0, active=1, repeat=3, skip_first=1)])
def test_schedule_matches_torch(kw):
    with warnings.catch_warnings():
        warnings.simplefilter("ignore")
        ours, theirs = schedule(**kw), torch.profiler.schedule(**kw)
    assert [ours(i).name for i in range(20)] == [theirs(i).name for i in range(20)]


def test_schedule_validates():
    with pytest.raises(ValueError, match="active"):
        schedule(wait=0, warmup=0, active=0)
    with pytest.raises(ValueError, match="wait"):
        schedule(wait=-1, warmup=1, active=1)
    with pytest.warns(UserWarning, match="warmup"):
        schedule(wait=0, warmup=0, active=1)
    assert schedule(wait=0, warmup=1, active=1)(1) is ProfilerAction.RECORD_AND_SAVE


def test_schedule_records_only_active_steps():
    saved = []

    def on_ready(p):
        saved.append(sorted(r.key for r in p.key_averages() if r.key.startswith("s")))
        assert Function.__dict__["__call__"] is PLAIN_CALL  # recording is over

    x = nr.tensor(randn(3))
    with profile(activities=CPU, schedule=schedule(wait=1, warmup=1, active=2, repeat=2),
                 on_trace_ready=on_ready) as prof:
        for i in range(10):
            with record_function(f"s{i}"):
                nr.exp(x)
            prof.step()
    _assert_plain()
    # cycle: step 0 wait, 1 warmup, 2-3 active (saved at 3); 4 wait, 5 warmup, 6-7 active
    assert saved == [["s2", "s3"], ["s6", "s7"]]
    rows = _rows(prof)
    assert rows["Exp"].count == 2
    assert {"ProfilerStep#6", "ProfilerStep#7"} <= set(rows)
    steps = {e.name: e for e in prof.events() if e.name.startswith("ProfilerStep")}
    assert set(steps) == {"ProfilerStep#6", "ProfilerStep#7"}
    s6 = next(e for e in prof.events() if e.name == "s6")
    assert s6.cpu_parent is steps["ProfilerStep#6"]


def test_stop_saves_an_open_window_and_acc_events():
    calls = []
    x = nr.tensor(randn(3))
    prof = profile(activities=CPU, schedule=schedule(wait=0, warmup=1, active=3),
                   on_trace_ready=calls.append, acc_events=True)
    prof.start()
    for _ in range(3):  # warmup, record, record: stopped before the window's end
        nr.exp(x)
        prof.step()
    prof.stop()
    _assert_plain()
    assert calls == [prof]
    assert _rows(prof)["Exp"].count == 2
    prof.stop()  # a second stop does nothing
    assert calls == [prof]


def test_chrome_trace_is_valid_json(tmp_path):
    model = _mlp()
    x = nr.tensor(randn(2, 6))
    with profile(activities=CPU, record_shapes=True) as prof:
        with record_function("forward"):
            out = model(x).sum()
        out.backward()
    path = tmp_path / "trace.json"
    prof.add_metadata("run", "a")
    prof.add_metadata_json("cfg", '{"lr": 0.1}')
    prof.export_chrome_trace(str(path))
    data = json.loads(path.read_text())
    assert data["run"] == "a" and data["cfg"] == {"lr": 0.1}
    events = [e for e in data["traceEvents"] if e["ph"] == "X"]
    names = {e["name"] for e in events}
    assert {"forward", "Linear", "LinearBackward", "ReLU", "ReLUBackward"} <= names
    for e in events:
        assert e["dur"] >= 0 and e["ts"] >= 0 and "pid" in e and "tid" in e
    lin = next(e for e in events if e["name"] == "Linear")
    assert lin["args"]["Input Dims"] == [[2, 6], [8, 6], [8]]
    assert lin["cat"] == "cpu_op"
    assert next(e for e in events if e["name"] == "forward")["cat"] == "user_annotation"
    assert len(events) == len(prof.events())
    assert not [p for p in os.listdir(tmp_path) if p != "trace.json"]  # no temp file left
    gz = tmp_path / "trace.json.gz"
    prof.export_chrome_trace(str(gz))
    assert json.loads(gzip.decompress(gz.read_bytes()))["traceEvents"]


def test_tensorboard_trace_handler_writes_one_file_per_window(tmp_path):
    logdir = tmp_path / "tb"
    x = nr.tensor(randn(3))
    with profile(activities=CPU, schedule=schedule(wait=0, warmup=1, active=1, repeat=2),
                 on_trace_ready=tensorboard_trace_handler(str(logdir), "w0")) as prof:
        for _ in range(4):
            nr.exp(x)
            prof.step()
    files = sorted(os.listdir(logdir))
    assert len(files) == 2 and all(f.startswith("w0.") and f.endswith(".pt.trace.json")
                                   for f in files)
    for f in files:
        data = json.loads((logdir / f).read_text())
        assert "Exp" in {e["name"] for e in data["traceEvents"]}


def test_table_has_op_names_and_options():
    model = _mlp()
    x = nr.tensor(randn(2, 6))
    with profile(activities=CPU, record_shapes=True, profile_memory=True) as prof:
        model(x).sum().backward()
    text = prof.key_averages().table(sort_by="cpu_time_total", row_limit=100)
    for word in ("Name", "Self CPU %", "CPU total", "# of Calls", "CPU Mem", "Linear",
                 "LinearBackward", "ReLUBackward", "Self CPU time total:"):
        assert word in text
    body = [ln for ln in text.splitlines() if ln and not ln.startswith("-")][1:-1]
    assert len(prof.key_averages().table(row_limit=2).splitlines()) == 7
    totals = [r.cpu_time_total for r in sorted(prof.key_averages(),
                                               key=lambda r: -r.cpu_time_total)]
    assert body[0].split()[0] == max(prof.key_averages(),
                                     key=lambda r: r.cpu_time_total).key.split()[0]
    assert totals == sorted(totals, reverse=True)
    shaped = prof.key_averages(group_by_input_shape=True).table(sort_by="count")
    assert "Input Shapes" in shaped and "[[2, 6], [8, 6], [8]]" in shaped
    assert "ms" in prof.key_averages().table(time_unit="ms")
    with pytest.raises(ValueError, match="sort_by"):
        prof.key_averages().table(sort_by="nonsense")
    assert str(prof.key_averages()).startswith("-")


def test_shapes_memory_and_grouping():
    model = _mlp()
    x = nr.tensor(randn(2, 6))
    x5 = nr.tensor(randn(5, 6))
    with profile(activities=CPU, record_shapes=True, profile_memory=True) as prof:
        model(x)
        model(x5)
    grouped = prof.key_averages(group_by_input_shape=True)
    lin = sorted(str(r.input_shapes) for r in grouped if r.key == "Linear")
    assert lin == ["[[2, 6], [8, 6], [8]]", "[[2, 8], [3, 8], [3]]",
                   "[[5, 6], [8, 6], [8]]", "[[5, 8], [3, 8], [3]]"]
    rows = _rows(prof)
    # float32 outputs: (2*8 + 2*3 + 5*8 + 5*3) * 4 bytes
    assert rows["Linear"].cpu_memory_usage == (16 + 6 + 40 + 15) * 4
    assert rows["Linear"].self_cpu_memory_usage == rows["Linear"].cpu_memory_usage


def test_memory_of_nested_ranges_counts_each_array_once():
    x = nr.tensor(randn(4, 4), requires_grad=True)
    with profile(activities=CPU, profile_memory=True) as prof:
        with record_function("block"):
            y = nr.exp(x)
            nr.tanh(y)
    ev = {e.name: e for e in prof.events()}
    assert ev["block"].cpu_memory_usage == 2 * 64 and ev["block"].self_cpu_memory_usage == 0


def test_with_stack_and_export_stacks(tmp_path):
    x = nr.tensor(randn(3))
    with profile(activities=CPU, with_stack=True) as prof:
        nr.exp(x)
    e = next(e for e in prof.events() if e.name == "Exp")
    assert e.stack and "test_profiler.py" in e.stack[0]
    rows = prof.key_averages(group_by_stack_n=2)
    assert "Source Location" in rows.table()
    out = tmp_path / "stacks.txt"
    prof.export_stacks(str(out))
    assert ";Exp " in out.read_text()
    with profile(activities=CPU) as plain:
        nr.exp(x)
    with pytest.raises(RuntimeError, match="with_stack"):
        plain.export_stacks(str(out))


def test_with_modules_records_module_calls_and_restores():
    plain_module_call = nn.Module.__dict__["__call__"]
    model = _mlp()
    with profile(activities=CPU, with_modules=True) as prof:
        model(nr.tensor(randn(2, 6)))
    assert nn.Module.__dict__["__call__"] is plain_module_call
    rows = _rows(prof)
    assert rows["nn.Module: Linear"].count == 2 and rows["nn.Module: Sequential"].count == 1
    lin = next(e for e in prof.events() if e.name == "Linear")
    assert lin.cpu_parent.name == "nn.Module: Linear"


def test_zero_overhead_outside_and_after_errors():
    _assert_plain()
    x = nr.tensor(randn(3))
    with pytest.raises(ZeroDivisionError):
        with profile(activities=CPU):
            assert Function.__dict__["__call__"] is not PLAIN_CALL
            assert engine._backward_hook is not None
            nr.exp(x)
            1 / 0
    _assert_plain()
    prof = profile(activities=CPU)
    prof.start()
    with pytest.raises(RuntimeError, match="already running"):
        prof.start()
    with pytest.raises(RuntimeError, match="another profiler"):
        profile(activities=CPU).start()
    prof.stop()
    _assert_plain()


class _Boom(Function):
    def forward(self, x):
        raise ValueError("no")


def test_failing_op_closes_its_range():
    a = nr.tensor(randn(2, 3))
    with profile(activities=CPU) as prof:
        with pytest.raises(RuntimeError, match="_Boom"):
            _Boom()(a)
        nr.exp(a)
    ev = {e.name: e for e in prof.events()}
    assert ev["Exp"].cpu_parent is None and ev["_Boom"].cpu_parent is None


def test_profiler_and_anomaly_mode_together():
    x = nr.tensor(randn(3), requires_grad=True)
    with warnings.catch_warnings():
        warnings.simplefilter("ignore")
        with profile(activities=CPU) as prof:
            with nr.autograd.detect_anomaly():
                y = (x * 2).sum()
                assert "_anomaly_trace" in y._creator.__dict__
                trace = "".join(y._creator._anomaly_trace)
                assert "test_profiler.py" in trace and "profiler.py" not in \
                    trace.replace("test_profiler.py", "")
                y.backward()
            z = nr.exp(x).sum()  # anomaly off again, the profiler still on
            assert "_anomaly_trace" not in z._creator.__dict__
            z.backward()
        _assert_plain()
        # the other order: anomaly around the profile
        with nr.autograd.detect_anomaly():
            with profile(activities=CPU) as prof2:
                (x * 3).sum().backward()
            assert Function.__dict__["__call__"] is not PLAIN_CALL  # anomaly still on
            assert engine._backward_hook is not None
        _assert_plain()
    rows = _rows(prof)
    assert rows["MulScalarBackward"].count == 1 and rows["ExpBackward"].count == 1
    assert _rows(prof2)["MulScalarBackward"].count == 1


def test_other_threads_are_not_recorded():
    x = nr.tensor(randn(3))
    with profile(activities=CPU) as prof:
        t = threading.Thread(target=lambda: nr.exp(x))
        t.start()
        t.join()
        nr.tanh(x)
    rows = _rows(prof)
    assert "Exp" not in rows and rows["Tanh"].count == 1


def test_activities_and_api():
    assert ProfilerActivity.CPU in supported_activities()
    with pytest.raises(TypeError, match="ProfilerActivity"):
        profile(activities=["cpu"])
    import inspect
    for ours, theirs in ((profile.__init__, torch.profiler.profile.__init__),
                         (profile.key_averages, torch.profiler.profile.key_averages),
                         (schedule, torch.profiler.schedule),
                         (tensorboard_trace_handler, torch.profiler.tensorboard_trace_handler),
                         (record_function.__init__, torch.profiler.record_function.__init__)):
        a, b = inspect.signature(ours).parameters, inspect.signature(theirs).parameters
        assert list(a) == list(b)
        assert [p.kind for p in a.values()] == [p.kind for p in b.values()]
        assert [p.default for p in a.values()] == [p.default for p in b.values()]
    assert {m for m in torch.profiler.ProfilerActivity.__members__} <= \
        set(ProfilerActivity.__members__)
    assert list(torch.profiler.ProfilerAction.__members__) == \
        list(ProfilerAction.__members__)
    assert nr.profiler.profile is profile
