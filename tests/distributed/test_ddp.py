"""DistributedDataParallel, DataParallel, SyncBatchNorm and the differentiable collectives
on 2-3 local processes: DDP's guarantee is that every rank holds the same parameters after
each step, equal to one process training on the whole batch."""
import numpy as np
import pytest

import narae
import narae.distributed as dist
import narae.nn as nn
import narae.nn.functional as F
from narae.distributed.nn import functional as dnf
from narae.nn.parallel import DistributedDataParallel as DDP
from distutil import run_world

N = 12
RNG = np.random.default_rng(0)
X = RNG.standard_normal((N, 4)).astype(np.float32)
Y = RNG.integers(0, 3, N)


def mlp(seed=0):
    narae.manual_seed(seed)
    return nn.Sequential(nn.Linear(4, 8), nn.Tanh(), nn.Linear(8, 3))


def shard(rank, ws):
    n = N // ws
    return narae.tensor(X[rank * n:(rank + 1) * n]), narae.tensor(Y[rank * n:(rank + 1) * n])


def _train(rank, ws, steps, bucket_cap_mb):
    m = mlp(seed=rank + 1)  # different weights on every rank: DDP broadcasts rank 0's
    if rank == 0:
        m.load_state_dict(mlp().state_dict())
    d = DDP(m, bucket_cap_mb=bucket_cap_mb)
    assert d.module is m
    opt = narae.optim.SGD(d.parameters(), lr=0.5, momentum=0.9)
    x, y = shard(rank, ws)
    out = []
    for _ in range(steps):
        opt.zero_grad()
        F.cross_entropy(d(x), y).backward()
        opt.step()
        out.append([p.detach().numpy().copy() for p in m.parameters()])
    return out, list(d.state_dict()), len(d._buckets)


def _reference(steps):
    m = mlp()
    opt = narae.optim.SGD(m.parameters(), lr=0.5, momentum=0.9)
    out = []
    for _ in range(steps):
        opt.zero_grad()
        F.cross_entropy(m(narae.tensor(X)), narae.tensor(Y)).backward()
        opt.step()
        out.append([p.detach().numpy().copy() for p in m.parameters()])
    return out


@pytest.mark.parametrize("ws,cap", [(2, None), (3, 0.0001)])
def test_ddp_matches_single_process_full_batch(ws, cap):
    res = run_world(_train, ws, 3, cap)
    ref = _reference(3)
    for rank, (steps, keys, nbuckets) in enumerate(res):
        assert keys == ["module.0.weight", "module.0.bias", "module.2.weight", "module.2.bias"]
        assert nbuckets == (1 if cap is None else 4)  # a tiny cap: one bucket per parameter
        for step, (got, want) in enumerate(zip(steps, ref)):
            for a, b, r in zip(got, res[0][0][step], want):
                assert np.array_equal(a, b), f"rank {rank} differs from rank 0 at {step}"
                np.testing.assert_allclose(a, r, rtol=1e-5, atol=1e-6)


def _no_sync(rank, ws):
    m = mlp()
    d = DDP(m)
    x, y = shard(rank, ws)
    with d.no_sync():
        F.cross_entropy(d(x[:3]), y[:3]).backward()
    local = [p.grad.numpy().copy() for p in m.parameters()]
    F.cross_entropy(d(x[3:]), y[3:]).backward()
    return local, [p.grad.numpy().copy() for p in m.parameters()]


def test_no_sync_accumulates_locally_then_averages():
    res = run_world(_no_sync, 2)
    expect_total = []
    for rank in range(2):
        m = mlp()
        x, y = shard(rank, 2)
        F.cross_entropy(m(x[:3]), y[:3]).backward()
        first = [p.grad.numpy().copy() for p in m.parameters()]
        np.testing.assert_allclose(res[rank][0][0], first[0], rtol=1e-6)  # no communication
        F.cross_entropy(m(x[3:]), y[3:]).backward()
        expect_total.append([p.grad.numpy() for p in m.parameters()])
    for rank in range(2):
        for got, a, b in zip(res[rank][1], *expect_total):
            np.testing.assert_allclose(got, (a + b) / 2, rtol=1e-5, atol=1e-7)
    assert not np.allclose(res[0][0][0], res[1][0][0])


class Branchy(nn.Module):
    def __init__(self):
        super().__init__()
        narae.manual_seed(0)
        self.a = nn.Linear(3, 2)
        self.b = nn.Linear(3, 2)      # used on rank 0 only
        self.never = nn.Linear(3, 2)  # used nowhere

    def forward(self, x, use_b):
        y = self.a(x)
        return y + self.b(x) if use_b else y


def _unused(rank, ws, find):
    m = Branchy()
    d = DDP(m, find_unused_parameters=find)
    x = narae.tensor(np.full((2, 3), rank + 1.0, np.float32))
    out = {}
    for _ in range(2):
        m.zero_grad()
        try:
            d(x, rank == 0).sum().backward()
        except RuntimeError as e:
            return str(e)
    out["a"] = m.a.weight.grad.numpy()
    out["b"] = None if m.b.weight.grad is None else m.b.weight.grad.numpy()
    out["never"] = m.never.weight.grad
    return out


def test_find_unused_parameters():
    res = run_world(_unused, 2, True)
    # d(sum)/dW of a Linear on a (2, 3) input of value v: each row 2v
    for r in res:
        np.testing.assert_allclose(r["a"], np.full((2, 3), (2 * 1 + 2 * 2) / 2))
        np.testing.assert_allclose(r["b"], np.full((2, 3), 2 * 1 / 2))  # rank 1 adds zeros
        assert r["never"] is None  # unused on every rank: left alone


def test_unused_parameters_without_find_unused_raise_on_next_forward():
    res = run_world(_unused, 2, False)
    for msg in res:
        assert "Expected to have finished reduction in the prior iteration" in msg
        assert "find_unused_parameters=True" in msg and "never.weight" in msg


def _buffers(rank, ws):
    narae.manual_seed(rank)
    m = nn.Sequential(nn.Linear(3, 4), nn.BatchNorm1d(4))
    m[1].running_mean.data = narae.full((4,), float(rank))
    DDP(m)
    return m[1].running_mean.numpy(), m[0].weight.detach().numpy()


def test_construction_broadcasts_parameters_and_buffers():
    res = run_world(_buffers, 2)
    np.testing.assert_array_equal(res[1][0], np.zeros(4))
    np.testing.assert_array_equal(res[0][1], res[1][1])


def test_ddp_needs_an_initialised_group_and_parameters():
    with pytest.raises(ValueError, match="not been initialized"):
        DDP(nn.Linear(2, 2))
    dist.init_process_group(store=dist.HashStore(), rank=0, world_size=1)
    try:
        with pytest.raises(RuntimeError, match="doesn't have any parameter"):
            DDP(nn.ReLU())
        d = DDP(nn.Linear(2, 2))  # a world of one: gradients unchanged
        x = narae.ones(3, 2)
        d(x).sum().backward()
        np.testing.assert_allclose(d.module.weight.grad.numpy(), np.full((2, 2), 3.0))
    finally:
        dist.destroy_process_group()


def test_data_parallel_runs_the_module():
    m = mlp()
    dp = nn.DataParallel(m)
    x = narae.tensor(X)
    np.testing.assert_array_equal(dp(x).detach().numpy(), m(x).detach().numpy())
    assert list(dp.state_dict())[0] == "module.0.weight" and dp.module is m
    from narae.nn.parallel import data_parallel
    np.testing.assert_array_equal(data_parallel(m, x).detach().numpy(),
                                  m(x).detach().numpy())


XB = RNG.standard_normal((6, 3, 4)).astype(np.float32)
CB = RNG.standard_normal((6, 3, 4)).astype(np.float32)


def _sync_bn(rank, ws):
    narae.manual_seed(0)
    bn = nn.SyncBatchNorm(3)
    bn.weight.data = narae.tensor([1.0, 2.0, 0.5])
    n = 6 // ws
    x = narae.tensor(XB[rank * n:(rank + 1) * n], requires_grad=True)
    y = bn(x)
    (y * narae.tensor(CB[rank * n:(rank + 1) * n])).sum().backward()
    return (y.detach().numpy(), x.grad.numpy(), bn.weight.grad.numpy(),
            bn.running_mean.numpy(), bn.running_var.numpy())


@pytest.mark.parametrize("ws", [2, 3])
def test_sync_batch_norm_equals_batch_norm_on_the_whole_batch(ws):
    res = run_world(_sync_bn, ws)
    narae.manual_seed(0)
    bn = nn.BatchNorm1d(3)
    bn.weight.data = narae.tensor([1.0, 2.0, 0.5])
    x = narae.tensor(XB, requires_grad=True)
    y = bn(x)
    (y * narae.tensor(CB)).sum().backward()
    n = 6 // ws
    for rank, (yr, gx, gw, rm, rv) in enumerate(res):
        sl = slice(rank * n, (rank + 1) * n)
        np.testing.assert_allclose(yr, y.detach().numpy()[sl], rtol=1e-5, atol=1e-5)
        np.testing.assert_allclose(gx, x.grad.numpy()[sl], rtol=1e-4, atol=1e-5)
        np.testing.assert_allclose(rm, bn.running_mean.numpy(), rtol=1e-5, atol=1e-6)
        np.testing.assert_allclose(rv, bn.running_var.numpy(), rtol=1e-5, atol=1e-6)
    np.testing.assert_allclose(sum(r[2] for r in res), bn.weight.grad.numpy(), rtol=1e-4,
                               atol=1e-5)


def _functional(rank, ws):
    x = narae.tensor(np.full(2, rank + 1.0, np.float32), requires_grad=True)
    c = narae.tensor(np.full(2, 10.0 ** rank, np.float32))
    y = dnf.all_reduce(x)
    outs = dnf.all_gather(x)
    b = dnf.broadcast(x, src=1)
    loss = (y * c).sum() + sum(((o * (i + 1) * c)).sum() for i, o in enumerate(outs)) + \
        (b * c).sum()
    loss.backward()
    return y.detach().numpy(), [o.detach().numpy() for o in outs], b.detach().numpy(), \
        x.grad.numpy()


def test_differentiable_collectives():
    ws = 2
    res = run_world(_functional, ws)
    csum = sum(10.0 ** r for r in range(ws))
    for rank, (y, outs, b, g) in enumerate(res):
        np.testing.assert_array_equal(y, [3.0, 3.0])
        assert [o.tolist() for o in outs] == [[1.0, 1.0], [2.0, 2.0]]
        np.testing.assert_array_equal(b, [2.0, 2.0])
        # all_reduce: sum of c; all_gather: (rank + 1) * sum of c; broadcast: src only
        want = csum + (rank + 1) * csum + (csum if rank == 1 else 0.0)
        np.testing.assert_allclose(g, [want, want])


def bn_net(seed=0):
    narae.manual_seed(seed)
    return nn.Sequential(nn.Linear(4, 6), nn.BatchNorm1d(6), nn.ReLU(), nn.Linear(6, 3))


def _train_sync_bn(rank, ws):
    m = nn.SyncBatchNorm.convert_sync_batchnorm(bn_net())
    d = DDP(m)
    opt = narae.optim.SGD(d.parameters(), lr=0.3)
    x, y = shard(rank, ws)
    for _ in range(2):
        opt.zero_grad()
        F.cross_entropy(d(x), y).backward()
        opt.step()
    return [v.numpy().copy() for v in m.state_dict().values()]


def test_ddp_with_sync_batch_norm_equals_full_batch_training():
    res = run_world(_train_sync_bn, 2)
    ref = bn_net()
    opt = narae.optim.SGD(ref.parameters(), lr=0.3)
    for _ in range(2):
        opt.zero_grad()
        F.cross_entropy(ref(narae.tensor(X)), narae.tensor(Y)).backward()
        opt.step()
    for a, b, r in zip(res[0], res[1], ref.state_dict().values()):
        np.testing.assert_allclose(a, b, rtol=1e-6, atol=1e-7)
        np.testing.assert_allclose(a, r.numpy(), rtol=1e-5, atol=1e-6)
