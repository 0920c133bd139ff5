"""Run a function on N local processes joined in a narae.distributed process group.

Children are forked (fast: no re-import); each runs ``fn(rank, world_size, *args)`` after
``init_process_group`` and sends back its result (or its traceback)."""
import multiprocessing as mp
import os
import queue
import socket
import time
import traceback
from datetime import timedelta


def free_port():
    with socket.socket() as s:
        s.bind(("127.0.0.1", 0))
        return s.getsockname()[1]


def _child(fn, rank, world_size, port, args, q, init, timeout):
    os.environ.update(MASTER_ADDR="127.0.0.1", MASTER_PORT=str(port), RANK=str(rank),
                      WORLD_SIZE=str(world_size))
    try:
        import narae.distributed as dist
        if init:
            dist.init_process_group("gloo", timeout=timedelta(seconds=timeout))
        out = fn(rank, world_size, *args)
        if init and dist.is_initialized():
            dist.destroy_process_group()
        q.put(("ok", rank, out))
    except BaseException:
        q.put(("err", rank, traceback.format_exc()))


def run_world(fn, world_size=2, *args, init=True, timeout=10.0, wait=30.0, expect_fail=()):
    """Results of ``fn`` per rank (a list). Raises AssertionError with the child's
    traceback when a rank fails, unless the rank is in ``expect_fail`` (its traceback text
    is returned in its slot instead)."""
    ctx = mp.get_context("fork")
    q = ctx.Queue()
    port = free_port()
    procs = [ctx.Process(target=_child, args=(fn, r, world_size, port, args, q, init, timeout),
                         daemon=True) for r in range(world_size)]
    for p in procs:
        p.start()
    results, errors, reported = [None] * world_size, {}, set()
    deadline = time.monotonic() + wait
    try:
        while len(reported) < world_size:
            try:
                kind, rank, out = q.get(timeout=0.05)
            except queue.Empty:
                gone = [r for r, p in enumerate(procs) if r not in reported and
                        not p.is_alive()]
                if gone and q.empty():  # exited without a word (os._exit, a crash)
                    time.sleep(0.1)
                    if q.empty():
                        for r in gone:
                            reported.add(r)
                            errors[r] = results[r] = f"exited with code {procs[r].exitcode}"
                if time.monotonic() > deadline:
                    raise AssertionError(f"ranks did not finish within {wait} s") from None
                continue
            reported.add(rank)
            if kind == "err":
                errors[rank] = out
            results[rank] = out
    finally:
        for p in procs:
            p.join(5)
            if p.is_alive():
                p.kill()
    bad = {r: e for r, e in errors.items() if r not in expect_fail}
    if bad:
        raise AssertionError("\n".join(f"rank {r} failed:\n{e}" for r, e in bad.items()))
    return results
