"""narae.distributed on device tensors equals the CPU: collectives copy to the host, reduce
there and copy back (a world of one process here, so the values pass through unchanged in
all_gather/broadcast and AVG; SUM over one rank is the identity too). DDP and SyncBatchNorm
on device tensors as well."""
import numpy as np
import pytest

import narae as nr
import narae.distributed as dist
import narae.nn as nn
from narae.distributed.nn import functional as dnf
from test_gpu_ops import Case, randn, with_layouts, layout_ids, check_case

pytestmark = pytest.mark.gpu


@pytest.fixture(autouse=True, scope="module")
def _world_of_one():
    dist.init_process_group("gloo", store=dist.HashStore(), rank=0, world_size=1)
    yield
    dist.destroy_process_group()


def _inplace(collective, **kw):
    def fn(x):
        y = x.detach() * 2.0  # a fresh device tensor the collective writes into
        collective(y, **kw)
        return y
    return fn


def _gather(x):
    out = [nr.zeros_like(x)]
    dist.all_gather(out, x.detach())
    cat = nr.zeros_like(x)
    dist.all_gather_into_tensor(cat, x.detach())
    return out[0], cat


def _a2a(x):
    out = nr.zeros_like(x)
    dist.all_to_all_single(out, x.detach())
    return out


def _ddp_step(x):
    nr.manual_seed(0)
    m = nn.Linear(4, 3).to(x.device)
    d = nn.parallel.DistributedDataParallel(m)
    (d(x) ** 2).sum().backward()
    return d(x), m.weight.grad, m.bias.grad


def _sync_bn(x):
    bn = nn.SyncBatchNorm(4).to(x.device)
    return bn(x), bn.running_mean, bn.running_var


CASES = [
    Case("all_reduce_sum", _inplace(dist.all_reduce), randn(3, 4), grad=False),
    Case("all_reduce_avg", _inplace(dist.all_reduce, op=dist.ReduceOp.AVG), randn(3, 4),
         grad=False),
    Case("broadcast", _inplace(dist.broadcast, src=0), randn(3, 4), grad=False),
    Case("reduce_max", _inplace(dist.reduce, dst=0, op=dist.ReduceOp.MAX), randn(3, 4),
         grad=False),
    Case("all_gather", _gather, randn(3, 4), grad=False),
    Case("all_to_all_single", _a2a, randn(3, 4), grad=False),
    Case("functional_all_reduce", lambda x: dnf.all_reduce(x * 3.0), randn(3, 4)),
    Case("functional_all_gather", lambda x: dnf.all_gather(x.exp()), randn(3, 4)),
    Case("functional_broadcast", lambda x: dnf.broadcast(x.tanh(), 0), randn(3, 4)),
    Case("ddp_step", _ddp_step, randn(5, 4), grad=False),
    Case("sync_batch_norm", _sync_bn, randn(5, 4, 3)),
]

PAIRS = with_layouts(CASES)


@pytest.mark.parametrize("case,fortran", PAIRS, ids=layout_ids(PAIRS))
def test_op_matches_cpu(case, fortran, device):
    check_case(case, fortran, device)


def test_device_tensor_stays_on_device(device):
    t = nr.from_numpy(np.arange(4, dtype=np.float32)).to(device)
    dist.all_reduce(t)
    assert t.device == nr.backend.as_device(device)
    np.testing.assert_array_equal(t.cpu().numpy(), np.arange(4))
