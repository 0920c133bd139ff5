"""Every collective of narae.distributed on 2 and 3 local processes against NumPy."""
import numpy as np
import pytest

import narae
import narae.distributed as dist
from distutil import run_world

WS = [2, 3]


def data(rank, shape=(2, 3), dtype=np.float32, seed=0):
    """Rank ``rank``'s input: the same on every process and in the test."""
    rng = np.random.default_rng(seed * 100 + rank)
    if np.dtype(dtype).kind in "iub":
        return rng.integers(1, 9, shape).astype(dtype)
    return rng.standard_normal(shape).astype(dtype)


def T(a):
    return narae.tensor(a)


def _all_reduce(rank, ws, op, dtype, shape):
    t = T(data(rank, shape, dtype))
    dist.all_reduce(t, op=getattr(dist.ReduceOp, op))
    return t.numpy()


REF = {"SUM": np.add, "PRODUCT": np.multiply, "MIN": np.minimum, "MAX": np.maximum,
       "BAND": np.bitwise_and, "BOR": np.bitwise_or, "BXOR": np.bitwise_xor}


def _ref_reduce(op, arrays):
    if op == "AVG":
        return sum(arrays[1:], arrays[0].copy()) / len(arrays)
    out = arrays[0].copy()
    for a in arrays[1:]:
        out = REF[op](out, a)
    return out


@pytest.mark.parametrize("ws", WS)
@pytest.mark.parametrize("op,dtype", [("SUM", np.float32), ("AVG", np.float32),
                                      ("PRODUCT", np.float64), ("MIN", np.float32),
                                      ("MAX", np.int64), ("BAND", np.int32), ("BOR", np.int64),
                                      ("BXOR", np.uint8)])
def test_all_reduce_ops(ws, op, dtype):
    res = run_world(_all_reduce, ws, op, dtype, (2, 3))
    want = _ref_reduce(op, [data(r, (2, 3), dtype) for r in range(ws)])
    for r in res:
        np.testing.assert_allclose(r, want, rtol=1e-6)
        assert r.dtype == np.dtype(dtype)


@pytest.mark.parametrize("ws", WS)
def test_all_reduce_large_uses_ring_and_is_identical_on_every_rank(ws):
    shape = (70001,)  # > 256 KiB in float32: the ring path, chunks of unequal size
    res = run_world(_all_reduce, ws, "SUM", np.float32, shape)
    want = _ref_reduce("SUM", [data(r, shape) for r in range(ws)])
    for r in res:
        np.testing.assert_allclose(r, want, rtol=1e-5, atol=1e-5)
        assert np.array_equal(r, res[0])  # bitwise equal across ranks
    res = run_world(_all_reduce, ws, "MAX", np.float64, shape)
    np.testing.assert_array_equal(res[-1], _ref_reduce("MAX", [data(r, shape, np.float64)
                                                                for r in range(ws)]))


def _scalar_and_empty(rank, ws):
    a, e = T(np.float32(rank + 1.5)), narae.zeros(0, 3)
    dist.all_reduce(a)
    dist.all_reduce(e)
    return a.item(), tuple(e.shape)


def test_all_reduce_scalar_and_empty():
    for r in run_world(_scalar_and_empty, 2):
        assert r == (4.0, (0, 3))


def _bad_op(rank, ws):
    msgs = []
    for t, op in [(T(data(rank)), dist.ReduceOp.BAND), (T(np.arange(3)), dist.ReduceOp.AVG)]:
        try:
            dist.all_reduce(t, op=op)
        except TypeError as e:
            msgs.append(str(e))
    try:
        dist.all_reduce(data(rank))
    except TypeError as e:
        msgs.append(str(e))
    return msgs


def test_all_reduce_bad_op_and_type():
    msgs = run_world(_bad_op, 2)[0]
    assert "BAND needs an integer" in msgs[0] and "AVG needs a floating" in msgs[1]
    assert "must be a narae Tensor" in msgs[2]


def _broadcast_reduce(rank, ws):
    b = T(data(rank))
    dist.broadcast(b, src=ws - 1)
    r = T(data(rank))
    dist.reduce(r, dst=1, op=dist.ReduceOp.SUM)
    g = T(data(rank))
    dist.broadcast(g, group_src=0)
    return b.numpy(), r.numpy(), g.numpy()


@pytest.mark.parametrize("ws", WS)
def test_broadcast_and_reduce(ws):
    res = run_world(_broadcast_reduce, ws)
    total = _ref_reduce("SUM", [data(r) for r in range(ws)])
    for rank, (b, r, g) in enumerate(res):
        np.testing.assert_array_equal(b, data(ws - 1))
        np.testing.assert_array_equal(g, data(0))
        if rank == 1:
            np.testing.assert_allclose(r, total, rtol=1e-6)
        else:
            np.testing.assert_array_equal(r, data(rank))  # untouched off the destination


def _gathers(rank, ws):
    x = T(data(rank, (2, 3)))
    lst = [narae.zeros(2, 3) for _ in range(ws)]
    dist.all_gather(lst, x)
    cat, stk = narae.zeros(2 * ws, 3), narae.zeros(ws, 2, 3)
    dist.all_gather_into_tensor(cat, x)
    dist.all_gather_into_tensor(stk, x)
    gl = [narae.zeros(2, 3) for _ in range(ws)] if rank == 0 else None
    dist.gather(x, gl, dst=0)
    sc = narae.zeros(2, 3)
    dist.scatter(sc, [T(data(i, seed=5)) for i in range(ws)] if rank == 1 else None, src=1)
    return ([t.numpy() for t in lst], cat.numpy(), stk.numpy(),
            None if gl is None else [t.numpy() for t in gl], sc.numpy())


@pytest.mark.parametrize("ws", WS)
def test_all_gather_gather_scatter(ws):
    res = run_world(_gathers, ws)
    xs = [data(r, (2, 3)) for r in range(ws)]
    for rank, (lst, cat, stk, gl, sc) in enumerate(res):
        for a, b in zip(lst, xs):
            np.testing.assert_array_equal(a, b)
        np.testing.assert_array_equal(cat, np.concatenate(xs))
        np.testing.assert_array_equal(stk, np.stack(xs))
        if rank == 0:
            for a, b in zip(gl, xs):
                np.testing.assert_array_equal(a, b)
        else:
            assert gl is None
        np.testing.assert_array_equal(sc, data(rank, seed=5))


def _reduce_scatters(rank, ws):
    ins = [T(data(rank * 10 + j)) for j in range(ws)]
    out = narae.zeros(2, 3)
    dist.reduce_scatter(out, ins, op=dist.ReduceOp.MAX)
    full = T(np.concatenate([data(rank * 10 + j) for j in range(ws)]))
    out2 = narae.zeros(2, 3)
    dist.reduce_scatter_tensor(out2, full)
    return out.numpy(), out2.numpy()


@pytest.mark.parametrize("ws", WS)
def test_reduce_scatter(ws):
    res = run_world(_reduce_scatters, ws)
    for rank, (a, b) in enumerate(res):
        parts = [data(r * 10 + rank) for r in range(ws)]
        np.testing.assert_array_equal(a, _ref_reduce("MAX", parts))
        np.testing.assert_allclose(b, _ref_reduce("SUM", parts), rtol=1e-6)


def _all_to_all(rank, ws):
    outs = [narae.zeros(2, 3) for _ in range(ws)]
    dist.all_to_all(outs, [T(data(rank * 10 + j)) for j in range(ws)])
    # uneven splits: rank r sends j + 1 rows to rank j, receives (r + 1) rows from each
    in_splits = [j + 1 for j in range(ws)]
    x = T(np.concatenate([np.full((j + 1, 2), rank * 10 + j, np.float32) for j in range(ws)]))
    y = narae.zeros((rank + 1) * ws, 2)
    dist.all_to_all_single(y, x, [rank + 1] * ws, in_splits)
    even = narae.zeros(ws, 2)
    dist.all_to_all_single(even, T(np.full((ws, 2), rank, np.float32)))
    return [o.numpy() for o in outs], y.numpy(), even.numpy()


@pytest.mark.parametrize("ws", WS)
def test_all_to_all(ws):
    res = run_world(_all_to_all, ws)
    for rank, (outs, y, even) in enumerate(res):
        for j, o in enumerate(outs):
            np.testing.assert_array_equal(o, data(j * 10 + rank))
        want = np.concatenate([np.full((rank + 1, 2), j * 10 + rank) for j in range(ws)])
        np.testing.assert_array_equal(y, want)
        np.testing.assert_array_equal(even, np.repeat(np.arange(ws), 1)[:, None] *
                                      np.ones((1, 2)))


def _shape_errors(rank, ws):
    msgs = []
    for call in [lambda: dist.all_gather([narae.zeros(2)], narae.zeros(2)),
                 lambda: dist.all_gather_into_tensor(narae.zeros(5, 3), narae.zeros(2, 3)),
                 lambda: dist.reduce_scatter_tensor(narae.zeros(2), narae.zeros(3)),
                 lambda: dist.all_to_all_single(narae.zeros(4), narae.zeros(4), None, [1, 2])]:
        try:
            call()
        except ValueError as e:
            msgs.append(str(e))
    # mismatched shapes across ranks: a clear error, not garbage
    try:
        dist.all_reduce(narae.zeros(2 + rank))
    except dist.DistBackendError as e:
        msgs.append(str(e))
    return msgs


def test_argument_errors_name_the_shapes():
    msgs = run_world(_shape_errors, 2)[0]
    assert "list of 2 tensors" in msgs[0]
    assert "(5, 3)" in msgs[1] and "(2, 3)" in msgs[1]
    assert "(3,)" in msgs[2]
    assert "input_split_sizes [1, 2]" in msgs[3]
    assert "different shapes" in msgs[4] and "(2,)" in msgs[4] and "(3,)" in msgs[4]


def _async(rank, ws):
    t, big = T(data(rank)), T(data(rank, (100000,)))
    w1 = dist.all_reduce(t, async_op=True)
    w2 = dist.all_reduce(big, async_op=True)
    lst = [narae.zeros(2, 3) for _ in range(ws)]
    w3 = dist.all_gather(lst, T(data(rank)), async_op=True)
    assert isinstance(w1, dist.Work)
    ok = [w.wait() for w in (w3, w2, w1)]
    return ok, [w.is_completed() for w in (w1, w2, w3)], t.numpy(), big.numpy()[:5], \
        [x.numpy() for x in lst]


@pytest.mark.parametrize("ws", WS)
def test_async_ops(ws):
    res = run_world(_async, ws)
    for ok, done, t, big, lst in res:
        assert ok == [True] * 3 and done == [True] * 3
        np.testing.assert_allclose(t, _ref_reduce("SUM", [data(r) for r in range(ws)]),
                                   rtol=1e-6)
        np.testing.assert_allclose(big, sum(data(r, (100000,))[:5] for r in range(ws)),
                                   rtol=1e-5, atol=1e-6)
        for r, x in enumerate(lst):
            np.testing.assert_array_equal(x, data(r))


def _p2p(rank, ws):
    out = {}
    if rank == 0:
        dist.send(T(np.arange(4, dtype=np.float32)), dst=1)
        dist.send(T(np.full(2, 7.0, np.float32)), dst=1, tag=3)
        w = dist.isend(T(np.ones(3, np.float32)), dst=ws - 1, tag=9)
        w.wait()
        got = narae.zeros(2)
        out["src"] = dist.recv(got)  # from anyone
        out["got"] = got.numpy()
    if rank == 1:
        tagged, plain = narae.zeros(2), narae.zeros(4)
        dist.recv(tagged, src=0, tag=3)  # arrives second, matched by tag
        out["src_plain"] = dist.recv(plain, 0)
        out["tagged"], out["plain"] = tagged.numpy(), plain.numpy()
        dist.send(T(np.array([5.0, 6.0], np.float32)), 0)
    if rank == ws - 1:
        buf = narae.zeros(3)
        w = dist.irecv(buf, src=0, tag=9)
        w.wait()
        out["irecv"] = buf.numpy()
    try:
        dist.send(narae.zeros(1), dst=rank)
    except ValueError as e:
        out["self"] = str(e)
    return out


@pytest.mark.parametrize("ws", WS)
def test_send_recv_isend_irecv(ws):
    res = run_world(_p2p, ws)
    assert res[0]["src"] == 1
    np.testing.assert_array_equal(res[0]["got"], [5, 6])
    np.testing.assert_array_equal(res[1]["plain"], np.arange(4))
    np.testing.assert_array_equal(res[1]["tagged"], [7, 7])
    assert res[1]["src_plain"] == 0
    np.testing.assert_array_equal(res[ws - 1]["irecv"], np.ones(3))
    assert "Invalid destination rank" in res[0]["self"]


def _batch_p2p(rank, ws):
    right, left = (rank + 1) % ws, (rank - 1) % ws
    buf = narae.zeros(2)
    ops = [dist.P2POp(dist.isend, T(np.full(2, rank, np.float32)), right),
           dist.P2POp(dist.irecv, buf, left)]
    for w in dist.batch_isend_irecv(ops):
        w.wait()
    return buf.numpy()


def test_batch_isend_irecv_ring():
    for rank, b in enumerate(run_world(_batch_p2p, 3)):
        np.testing.assert_array_equal(b, [(rank - 1) % 3] * 2)


def _subgroups(rank, ws):
    g = dist.new_group([0, 2])
    odd = dist.new_group([1])
    out = {"member": g is not dist.GroupMember.NON_GROUP_MEMBER}
    t = T(np.full(2, rank + 1.0, np.float32))
    dist.all_reduce(t, group=g)  # a no-op on rank 1
    out["t"] = t.numpy()
    out["rank_in_g"] = dist.get_rank(g)
    out["size_g"] = dist.get_world_size(g)
    if out["member"]:
        b = T(np.full(1, float(rank), np.float32))
        dist.broadcast(b, src=2, group=g)
        out["b"] = b.item()
        out["global_of_1"] = dist.get_global_rank(g, 1)
        out["ranks"] = dist.get_process_group_ranks(g)
        c = T(np.full(1, float(rank), np.float32))
        dist.broadcast(c, group=g, group_src=0)
        out["c"] = c.item()
    w = T(np.ones(1, np.float32))
    dist.all_reduce(w)  # the world still works, interleaved with the subgroup
    out["w"] = w.item()
    if rank == 1:
        t1 = T(np.full(1, 5.0, np.float32))
        dist.all_reduce(t1, group=odd)
        out["odd"] = t1.item()
    dist.barrier(g)
    dist.barrier()
    return out


def test_new_group_subgroups():
    res = run_world(_subgroups, 3)
    np.testing.assert_array_equal(res[0]["t"], [4, 4])
    np.testing.assert_array_equal(res[2]["t"], [4, 4])
    np.testing.assert_array_equal(res[1]["t"], [2, 2])
    assert [r["rank_in_g"] for r in res] == [0, -1, 1]
    assert [r["size_g"] for r in res] == [2, -1, 2]
    assert res[0]["b"] == 2.0 and res[2]["b"] == 2.0
    assert res[0]["c"] == 0.0 and res[2]["c"] == 0.0
    assert res[0]["global_of_1"] == 2 and res[0]["ranks"] == [0, 2]
    assert all(r["w"] == 3.0 for r in res)
    assert res[1]["odd"] == 5.0 and not res[1]["member"]


def _objects(rank, ws):
    objs = [None] * ws
    dist.all_gather_object(objs, {"rank": rank, "xs": [rank] * rank, "s": "é"})
    lst = [{"cfg": 1}, "two", 3.5] if rank == 0 else [None, None, None]
    dist.broadcast_object_list(lst, src=0)
    gathered = [None] * ws if rank == 1 else None
    dist.gather_object(rank * 2, gathered, dst=1)
    sc = [None]
    dist.scatter_object_list(sc, [f"to{i}" for i in range(ws)] if rank == 0 else None, src=0)
    try:
        dist.all_gather_object(objs, object())
        err = None
    except TypeError as e:
        err = str(e)
    return objs, lst, gathered, sc[0], err


@pytest.mark.parametrize("ws", WS)
def test_object_collectives_json_only(ws):
    res = run_world(_objects, ws)
    for rank, (objs, lst, gathered, sc, err) in enumerate(res):
        assert objs == [{"rank": r, "xs": [r] * r, "s": "é"} for r in range(ws)]
        assert lst == [{"cfg": 1}, "two", 3.5]
        assert gathered == ([2 * r for r in range(ws)] if rank == 1 else None)
        assert sc == f"to{rank}"
        assert "JSON" in err and "never unpickles" in err


def _float64_int_dtypes(rank, ws):
    out = []
    for dt in (np.float64, np.int8, np.bool_):
        t = T(np.array([rank % 2 == 0, True, False]).astype(dt))
        dist.all_reduce(t, op=dist.ReduceOp.MAX)
        out.append((t.numpy(), str(t.dtype)))
    return out


def test_dtypes_survive_the_wire():
    res = run_world(_float64_int_dtypes, 2)[1]
    assert [d for _, d in res] == ["narae.float64", "narae.int8", "narae.bool"]
    for a, _ in res:
        np.testing.assert_array_equal(a.astype(int), [1, 1, 0])


def _info(rank, ws):
    return (dist.is_initialized(), dist.get_rank(), dist.get_world_size(), dist.get_backend(),
            dist.group.WORLD is not None, dist.is_available())


def test_rank_world_size_backend():
    res = run_world(_info, 3)
    assert res == [(True, r, 3, "gloo", True, True) for r in range(3)]


def _extras(rank, ws):
    out = {}
    a, b = T(np.full(2, rank + 1.0, np.float32)), T(np.full((1, 3), 2.0 * rank, np.float32))
    dist.all_reduce_coalesced([a, b])
    w = dist.all_reduce_coalesced([T(np.ones(1, np.float32))], async_op=True)
    w.wait()
    out["coalesced"] = (a.numpy().tolist(), b.numpy().tolist())
    if rank == 0:
        dist.send_object_list([{"lr": 0.1}, [1, 2]], dst=1)
    elif rank == 1:
        objs = [None, None]
        out["from"] = dist.recv_object_list(objs)
        out["objs"] = objs
    mine, groups = dist.new_subgroups(1)
    out["sub"] = (dist.get_world_size(mine), len(groups))
    mine2, _ = dist.new_subgroups_by_enumeration([[0, 1]] + ([[2]] if ws == 3 else []))
    out["enum"] = dist.get_process_group_ranks(mine2)
    out["local"] = dist.get_node_local_rank(fallback_rank=rank)
    return out


def test_extras_coalesced_object_p2p_subgroups():
    res = run_world(_extras, 3)
    for rank, r in enumerate(res):
        assert r["coalesced"] == ([6.0, 6.0], [[6.0, 6.0, 6.0]])
        assert r["sub"] == (1, 3)
        assert r["enum"] == ([0, 1] if rank < 2 else [2])
        assert r["local"] == rank
    assert res[1]["from"] == 0 and res[1]["objs"] == [{"lr": 0.1}, [1, 2]]
    assert dist.supports_complex(dist.ReduceOp.SUM) and \
        not dist.supports_complex(dist.ReduceOp.MAX)
    assert dist.is_backend_available("gloo") and not dist.is_backend_available("nccl")
