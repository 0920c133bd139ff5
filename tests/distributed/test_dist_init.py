"""init_process_group's rendezvous methods and errors; dead peers and timeouts."""
import os
import time
from datetime import timedelta

import numpy as np
import pytest

import narae
import narae.distributed as dist
from distutil import run_world, free_port


@pytest.fixture
def solo():
    """A world of one process in this process (through a HashStore)."""
    dist.init_process_group("gloo", store=dist.HashStore(), rank=0, world_size=1)
    yield
    dist.destroy_process_group()


def test_calls_before_init_raise():
    assert not dist.is_initialized()
    for call in [dist.get_rank, dist.get_world_size, dist.barrier,
                 lambda: dist.all_reduce(narae.ones(2)), dist.destroy_process_group,
                 lambda: dist.new_group([0])]:
        with pytest.raises(ValueError, match="Default process group has not been initialized"):
            call()
    assert dist.is_available() and dist.is_gloo_available() and not dist.is_nccl_available()


def test_single_process_world(solo):
    t = narae.tensor([1.0, 2.0])
    dist.all_reduce(t, op=dist.ReduceOp.AVG)
    lst = [narae.zeros(2)]
    dist.all_gather(lst, t)
    assert t.tolist() == [1.0, 2.0] and lst[0].tolist() == [1.0, 2.0]
    assert dist.get_rank() == 0 and dist.get_world_size() == 1
    with pytest.raises(RuntimeError, match="twice"):
        dist.init_process_group("gloo", store=dist.HashStore(), rank=0, world_size=1)


def test_bad_arguments():
    with pytest.raises(RuntimeError, match="'nccl' needs CUDA|no NCCL"):
        dist.init_process_group("nccl", store=dist.HashStore(), rank=0, world_size=1)
    with pytest.raises(ValueError, match="invalid backend 'mpx'"):
        dist.init_process_group("mpx")
    with pytest.raises(ValueError, match="no rendezvous handler for 'foo'"):
        dist.init_process_group(init_method="foo://bar", rank=0, world_size=1)
    with pytest.raises(ValueError, match="tcp:// rendezvous: rank parameter missing"):
        dist.init_process_group(init_method="tcp://127.0.0.1:1234", world_size=2)
    with pytest.raises(ValueError, match="world size parameter missing"):
        dist.init_process_group(init_method="tcp://127.0.0.1:1234", rank=0)
    with pytest.raises(ValueError, match="Cannot specify both init_method and store"):
        dist.init_process_group(init_method="env://", store=dist.HashStore(), rank=0,
                                world_size=1)
    with pytest.raises(ValueError, match="world_size must be positive"):
        dist.init_process_group(store=dist.HashStore(), rank=0)
    with pytest.raises(ValueError, match=r"rank 3 is not in \[0, 2\)"):
        dist.init_process_group(store=dist.HashStore(), rank=3, world_size=2)
    with pytest.raises(TypeError, match="timedelta"):
        dist.init_process_group(store=dist.HashStore(), rank=0, world_size=1, timeout=5)
    assert not dist.is_initialized()


@pytest.mark.parametrize("missing", ["MASTER_ADDR", "MASTER_PORT", "RANK", "WORLD_SIZE"])
def test_env_init_names_the_missing_variable(monkeypatch, missing):
    env = dict(MASTER_ADDR="127.0.0.1", MASTER_PORT="1", RANK="0", WORLD_SIZE="1")
    for k, v in env.items():
        monkeypatch.setenv(k, v)
    monkeypatch.delenv(missing)
    with pytest.raises(ValueError, match=f"environment variable {missing} expected"):
        dist.init_process_group("gloo")


def _init_with(rank, ws, url):
    dist.init_process_group("gloo", init_method=url, rank=rank if "rank=" not in url else -1,
                            world_size=ws if "world_size=" not in url else -1,
                            timeout=timedelta(seconds=10))
    t = narae.tensor([float(rank)])
    dist.all_reduce(t)
    dist.destroy_process_group()
    return t.item()


def test_tcp_and_file_init_methods(tmp_path):
    port = free_port()
    assert run_world(_init_with, 2, f"tcp://127.0.0.1:{port}", init=False) == [1.0, 1.0]
    path = tmp_path / "rdzv"
    assert run_world(_init_with, 3, f"file://{path}", init=False) == [3.0] * 3
    assert not path.exists()  # the last rank out removed it


def _url_params(rank, ws, port):
    return _init_with(rank, ws, f"tcp://127.0.0.1:{port}?rank={rank}&world_size={ws}")


def test_tcp_init_reads_rank_and_world_size_from_the_url():
    assert run_world(_url_params, 2, free_port(), init=False) == [1.0, 1.0]


def _dies(rank, ws):
    if rank == 1:
        os._exit(0)  # a crashed peer: its connections close
    t0 = time.monotonic()
    try:
        dist.all_reduce(narae.ones(3))
    except dist.DistBackendError as e:
        return str(e), time.monotonic() - t0


def test_dead_peer_raises_instead_of_hanging():
    res = run_world(_dies, 2, timeout=30.0, expect_fail=(1,), wait=20)
    msg, took = res[0]
    assert "lost rank 1" in msg and "all_reduce" in msg
    assert took < 10


def _silent(rank, ws):
    if rank == 1:
        time.sleep(1.2)  # alive, but never joins the collective
        return None
    try:
        dist.broadcast(narae.ones(2), src=1)
    except dist.DistBackendError as e:
        return str(e)


def test_collective_timeout():
    res = run_world(_silent, 2, timeout=0.5)
    assert "timed out after 0.5 s waiting for rank 1" in res[0]


def _monitored(rank, ws):
    if rank == 1:
        time.sleep(1.0)
        return None
    try:
        dist.monitored_barrier(timeout=timedelta(seconds=0.4), wait_all_ranks=True)
    except RuntimeError as e:
        return str(e)


def test_monitored_barrier_names_the_missing_rank():
    res = run_world(_monitored, 3, timeout=2.0)
    assert "Rank 1 failed to pass monitoredBarrier in 400 ms" in res[0]
    # rank 2 arrived but rank 0 never released it: a timeout, or rank 0 gone first
    assert "timed out" in res[2] or "lost rank 0" in res[2]


def _monitored_ok(rank, ws):
    dist.monitored_barrier(timeout=timedelta(seconds=5))
    return True


def test_monitored_barrier_passes():
    assert run_world(_monitored_ok, 3) == [True] * 3


def _env_world(rank, ws):
    return (os.environ["RANK"], dist.get_rank(),
            np.array(dist.get_world_size()).tolist())


def test_env_init():
    assert run_world(_env_world, 2) == [("0", 0, 2), ("1", 1, 2)]


def _reinit(rank, ws):
    out = []
    for k in range(2):  # destroy, then join a new group on the same rendezvous
        if k:
            dist.init_process_group("gloo", timeout=timedelta(seconds=10))
        t = narae.tensor([float(rank + k)])
        dist.all_reduce(t)
        out.append(t.item())
        dist.destroy_process_group()
    return out


def test_init_again_after_destroy():
    assert run_world(_reinit, 2) == [[1.0, 3.0], [1.0, 3.0]]
