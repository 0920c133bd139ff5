"""narae.multiprocessing.spawn: running, joining, and re-raising a child's failure."""
import multiprocessing

import pytest

import narae.multiprocessing as nmp
import spawn_workers as w
from distutil import free_port


def test_spawn_runs_every_process(tmp_path):
    assert nmp.spawn(w.write_rank, (str(tmp_path),), nprocs=3, start_method="fork") is None
    assert sorted(p.name for p in tmp_path.iterdir()) == ["rank0", "rank1", "rank2"]


def test_spawn_default_start_method_with_a_process_group(tmp_path):
    nmp.spawn(w.all_reduce_world, (free_port(), str(tmp_path)), nprocs=2)
    assert [(tmp_path / f"sum{i}").read_text() for i in range(2)] == ["3.0", "3.0"]


def test_child_exception_is_raised_in_the_parent_with_its_traceback():
    with pytest.raises(nmp.ProcessRaisedException) as info:
        nmp.spawn(w.fail_on_one, nprocs=2, start_method="fork")
    e = info.value
    assert e.error_index == 1
    assert "-- Process 1 terminated with the following error" in str(e)
    assert "ValueError: bad thing in child 1" in str(e) and "fail_on_one" in str(e)


def test_child_exit_code_is_reported():
    with pytest.raises(nmp.ProcessExitedException, match="process 0 terminated with exit "
                                                         "code 3") as info:
        nmp.spawn(w.exit_three, nprocs=2, start_method="fork")
    assert info.value.exit_code == 3 and info.value.signal_name is None


def test_join_false_returns_a_context(tmp_path):
    ctx = nmp.spawn(w.write_rank, (str(tmp_path),), nprocs=2, join=False, start_method="fork")
    assert isinstance(ctx, nmp.ProcessContext) and len(ctx.pids()) == 2
    while not ctx.join():
        pass
    assert len(list(tmp_path.iterdir())) == 2


def test_reexports_python_multiprocessing():
    assert nmp.Queue is multiprocessing.Queue and nmp.cpu_count() >= 1
    assert nmp.get_sharing_strategy() in nmp.get_all_sharing_strategies()
    with pytest.raises(ValueError, match="unknown strategy"):
        nmp.set_sharing_strategy("nope")
