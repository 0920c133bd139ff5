"""HashStore, TCPStore, FileStore and PrefixStore: the key-value API and its timeouts."""
import multiprocessing as mp
import threading
import time
from datetime import timedelta

import pytest

import narae.distributed as dist


def _tcp_pair():
    master = dist.TCPStore("127.0.0.1", 0, 2, True, timedelta(seconds=5),
                           wait_for_workers=False)
    client = dist.TCPStore("127.0.0.1", master.port, 2, False, timedelta(seconds=5),
                           wait_for_workers=False)
    return master, client


@pytest.fixture(params=["hash", "tcp", "file", "prefix"])
def stores(request, tmp_path):
    """(writer, reader): two handles on one store."""
    if request.param == "hash":
        s = dist.HashStore()
        return s, s
    if request.param == "tcp":
        return _tcp_pair()
    if request.param == "file":
        path = str(tmp_path / "store")
        return dist.FileStore(path, 2), dist.FileStore(path, 2)
    base = dist.HashStore()
    return dist.PrefixStore("p", base), dist.PrefixStore("p", base)


def test_set_get_add_compare_set_delete(stores):
    a, b = stores
    a.set("k", "v1")
    assert b.get("k") == b"v1"
    a.set("bin", b"\x00\xff")
    assert b.get("bin") == b"\x00\xff"
    assert a.add("n", 2) == 2 and b.add("n", 5) == 7
    assert a.get("n") == b"7"
    assert a.compare_set("k", "v1", "v2") == b"v2"
    assert b.compare_set("k", "nope", "v3") == b"v2"  # mismatch: current value back
    assert a.compare_set("fresh", "", "x") == b"x"  # missing + empty expected: created
    assert b.check(["k", "n"]) and not b.check(["missing"])
    a.append("log", "ab")
    a.append("log", "cd")
    assert b.get("log") == b"abcd"
    assert b.multi_get(["k", "n"]) == [b"v2", b"7"]
    n = a.num_keys()
    assert a.delete_key("k") and not b.delete_key("k")
    assert a.num_keys() == n - 1
    a.wait(["n", "bin"])


def test_get_blocks_until_set_and_times_out(stores):
    a, b = stores
    threading.Timer(0.1, lambda: a.set("late", "here")).start()
    assert b.get("late") == b"here"
    b.set_timeout(timedelta(seconds=0.2))
    assert b.timeout == timedelta(seconds=0.2)
    t0 = time.monotonic()
    with pytest.raises(dist.DistStoreError, match="timed out.*missing"):
        b.get("missing")
    with pytest.raises(dist.DistStoreError, match="timed out"):
        b.wait(["missing", "late"], timedelta(seconds=0.1))
    assert time.monotonic() - t0 < 3


def test_store_rejects_bad_values():
    with pytest.raises(TypeError, match="str or bytes"):
        dist.HashStore().set("k", 3.5)


def _add_many(path, n):
    s = dist.FileStore(path, 2)
    for _ in range(n):
        s.add("c", 1)


def test_file_store_counter_across_processes(tmp_path):
    path = str(tmp_path / "fs")
    ctx = mp.get_context("fork")
    ps = [ctx.Process(target=_add_many, args=(path, 20)) for _ in range(2)]
    for p in ps:
        p.start()
    for p in ps:
        p.join(20)
    assert dist.FileStore(path).add("c", 0) == 40


def test_tcp_store_host_port_and_connection_errors():
    master, client = _tcp_pair()
    assert client.host == "127.0.0.1" and client.port == master.port
    with pytest.raises(dist.DistNetworkError, match="could not connect"):
        dist.TCPStore("127.0.0.1", 1, timeout=timedelta(seconds=0.2))


def test_prefix_store_isolates_keys():
    base = dist.HashStore()
    p = dist.PrefixStore("job", base)
    p.set("a", "1")
    assert base.get("job/a") == b"1"
    assert p.num_keys() == 1 and base.num_keys() == 1
    assert not dist.PrefixStore("other", base).check(["a"])
