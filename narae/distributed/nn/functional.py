"""Differentiable collectives (torch.distributed.nn.functional): they return new tensors and
their backward runs the adjoint collective on the gradients, so a loss built from gathered or
summed values trains every rank's inputs."""
from ...autograd.function import Function
from ...backend import get_array_module
from ...tensor import Tensor
from .. import distributed_c10d as c10d
from ..distributed_c10d import ReduceOp, group

__all__ = ["all_reduce", "all_gather", "broadcast"]


def _copy(a):
    return get_array_module(a).array(a, copy=True)


class AllReduce(Function):
    """y = op over ranks of x. For SUM, dL/dx on each rank = sum over ranks of dL/dy
    (every rank's y depends on this x); AVG divides by the group size."""
    uses_inputs = False

    def __init__(self, op, group):
        self.op, self.group = op, group

    def forward(self, x):
        t = Tensor(_copy(x))
        c10d.all_reduce(t, self.op, self.group)
        return t._data

    def backward(self, gy):
        if self.op not in (ReduceOp.SUM, ReduceOp.AVG):
            raise RuntimeError(f"all_reduce: backward is defined for SUM and AVG only "
                               f"(got {ReduceOp.RedOpType(int(self.op)).name})")
        return AllReduce(self.op, self.group)(gy)


class Broadcast(Function):
    """y = x of rank src; dL/dx on src = sum over ranks of dL/dy, zero elsewhere."""
    uses_inputs = False

    def __init__(self, src, group):
        self.src, self.group = src, group

    def forward(self, x):
        t = Tensor(_copy(x))
        c10d.broadcast(t, self.src, self.group)
        return t._data

    def backward(self, gy):
        g = AllReduce(ReduceOp.SUM, self.group)(gy)
        if c10d.get_rank() != self.src:
            g = g * 0
        return g


class AllGather(Function):
    """(x of rank 0, x of rank 1, ...); dL/dx = sum over ranks r of dL/d(out_me) on r."""
    uses_inputs = False

    def __init__(self, group):
        self.group = group

    def forward(self, x):
        n = c10d.get_world_size(self.group)
        xp = get_array_module(x)
        outs = [Tensor(xp.empty_like(x)) for _ in range(n)]
        c10d.all_gather(outs, Tensor(x), self.group)
        return tuple(o._data for o in outs)

    def backward(self, *gys):
        return ReduceScatter(self.group)(*gys)


class ReduceScatter(Function):
    """out on rank i = sum over ranks of their input i; the adjoint of AllGather."""
    uses_inputs = False

    def __init__(self, group):
        self.group = group

    def forward(self, *xs):
        out = Tensor(get_array_module(xs[0]).empty_like(xs[0]))
        c10d.reduce_scatter(out, [Tensor(x) for x in xs], ReduceOp.SUM, self.group)
        return out._data

    def backward(self, gy):
        return AllGather(self.group)(gy)


def all_reduce(tensor, op=ReduceOp.SUM, group=group.WORLD):
    """A new tensor: ``op`` over the ranks' ``tensor`` (differentiable for SUM and AVG)."""
    c10d._check_tensor(tensor, "all_reduce")
    return AllReduce(op, group)(tensor)


def broadcast(tensor, src, group=group.WORLD):
    """A new tensor: rank ``src``'s ``tensor`` (differentiable)."""
    c10d._check_tensor(tensor, "broadcast")
    return Broadcast(src, group)(tensor)


def all_gather(tensor, group=group.WORLD):
    """A tuple of every rank's ``tensor`` (differentiable)."""
    c10d._check_tensor(tensor, "all_gather")
    out = AllGather(group)(tensor)
    return out if isinstance(out, tuple) else (out,)
