"""``DistributedDataParallel``: one model replica per process, gradients averaged across the
process group during backward, so every replica takes the same optimizer step.

At construction rank 0's parameters and buffers are broadcast. The parameters are split into
buckets (reverse registration order, about ``bucket_cap_mb`` each, one dtype per bucket);
a post-accumulate-grad hook marks each parameter ready, and as soon as a bucket is complete
its flattened gradients are all-reduced in a background thread while the other buckets fill.
The last hook waits for every bucket and writes grad / world_size back into ``.grad``.
"""
import contextlib

from ... import distributed as dist
from ...autograd import grad_mode
from ...backend import get_array_module
from ...tensor import Tensor
from ..module import Module

__all__ = ["DistributedDataParallel"]

_FIRST_BUCKET_MB = 1.0  # a small first bucket starts communication early (torch does this)


class _Bucket:
    __slots__ = ("params", "index", "pending", "work", "flat")

    def __init__(self, params, index):
        self.params, self.index = params, index
        self.pending, self.work, self.flat = len(params), None, None


def _tensors_in(obj):
    if isinstance(obj, Tensor):
        yield obj
    elif isinstance(obj, (list, tuple)):
        for o in obj:
            yield from _tensors_in(o)
    elif isinstance(obj, dict):
        for o in obj.values():
            yield from _tensors_in(o)


def _reachable_leaves(outputs):
    """ids of the leaf tensors the outputs' graph reaches (iterative walk over creators)."""
    seen_fn, leaves = set(), set()
    stack = []
    for t in _tensors_in(outputs):
        if t._creator is None:
            leaves.add(id(t))
        else:
            stack.append(t._creator)
    while stack:
        fn = stack.pop()
        if id(fn) in seen_fn:
            continue
        seen_fn.add(id(fn))
        for x in fn.inputs:
            if x._creator is None:
                leaves.add(id(x))
            else:
                stack.append(x._creator)
    return leaves


class DistributedDataParallel(Module):
    """Data parallelism across processes: wrap the model, train as usual, and each rank's
    gradients become the average over ranks (``loss.backward()`` returns after the
    all-reduce). ``module`` is the wrapped model; state_dict keys start with ``module.``.

    ``device_ids``/``output_device``/``gradient_as_bucket_view``/``static_graph`` are accepted
    for compatibility; communication goes through narae's TCP ("gloo") backend.
    """

    def __init__(self, module, device_ids=None, output_device=None, dim=0,
                 broadcast_buffers=None, init_sync=True, process_group=None,
                 bucket_cap_mb=None, find_unused_parameters=False, check_reduction=False,
                 gradient_as_bucket_view=False, static_graph=False,
                 delay_all_reduce_named_params=None, param_to_hook_all_reduce=None,
                 mixed_precision=None, device_mesh=None, skip_all_reduce_unused_params=False,
                 bucket_cap_mb_list=None, batched_grad_copy=False, forward_sync_buffers=None):
        super().__init__()
        if not isinstance(module, Module):
            raise TypeError(f"DistributedDataParallel: module must be an nn.Module (got "
                            f"{type(module).__name__})")
        if device_mesh is not None:
            raise ValueError("DistributedDataParallel: device_mesh is not supported by narae")
        if mixed_precision is not None:
            raise ValueError("DistributedDataParallel: mixed_precision is not supported by "
                             "narae")
        self.module = module
        pg = dist.distributed_c10d._resolve(process_group, "DistributedDataParallel")
        if pg is None:
            raise ValueError("DistributedDataParallel: this rank is not a member of "
                             "process_group")
        self.process_group = pg
        self.device_ids, self.output_device, self.dim = device_ids, output_device, dim
        self.broadcast_buffers = True if broadcast_buffers is None else bool(broadcast_buffers)
        self.find_unused_parameters = find_unused_parameters
        self.gradient_as_bucket_view, self.static_graph = gradient_as_bucket_view, static_graph
        self.skip_all_reduce_unused_params = skip_all_reduce_unused_params
        self.require_backward_grad_sync = True
        self.require_forward_param_sync = True
        self.bucket_bytes_cap = int((25 if bucket_cap_mb is None else bucket_cap_mb)
                                    * 1024 * 1024)
        ignored = set(getattr(module, "_ddp_params_and_buffers_to_ignore", ()))
        self._params = [p for n, p in module.named_parameters()
                        if p.requires_grad and n not in ignored]
        if not self._params:
            raise RuntimeError("DistributedDataParallel is not needed when a module doesn't "
                               "have any parameter that requires a gradient.")
        self._buffers_to_sync = [b for n, b in module.named_buffers()
                                 if b is not None and n not in ignored]
        if init_sync:
            self._broadcast_coalesced([p for n, p in module.named_parameters()
                                       if n not in ignored] + self._buffers_to_sync)
        self._build_buckets()
        self._handles = [p.register_post_accumulate_grad_hook(self._grad_ready)
                         for p in self._params]
        self._expect_sync = False
        self._unused, self._ready = set(), set()

    # -- setup -------------------------------------------------------------------------------
    def _build_buckets(self):
        cap, first = self.bucket_bytes_cap, min(self.bucket_bytes_cap,
                                                int(_FIRST_BUCKET_MB * 1024 * 1024))
        buckets, current, size, dtype = [], [], 0, None
        for p in reversed(self._params):  # gradients arrive roughly in reverse order
            nbytes = p._data.nbytes
            limit = first if not buckets else cap
            if current and (p._data.dtype != dtype or size + nbytes > limit):
                buckets.append(current)
                current, size = [], 0
            current.append(p)
            size += nbytes
            dtype = p._data.dtype
        if current:
            buckets.append(current)
        self._buckets = [_Bucket(ps, i) for i, ps in enumerate(buckets)]
        self._bucket_of = {id(p): b for b in self._buckets for p in b.params}

    def _broadcast_coalesced(self, tensors):
        """Broadcast ``tensors`` from rank 0 of the group, one flat message per dtype."""
        by_dtype = {}
        for t in tensors:
            by_dtype.setdefault(t._data.dtype, []).append(t)
        src = self.process_group.ranks[0]
        for ts in by_dtype.values():
            xp = get_array_module(ts[0]._data)
            flat = Tensor(xp.concatenate([t._data.reshape(-1) for t in ts]))
            dist.broadcast(flat, src, self.process_group)
            offset = 0
            for t in ts:
                n = t._data.size
                t._data[...] = flat._data[offset:offset + n].reshape(t._data.shape)
                t._version[0] += 1
                offset += n

    # -- forward -----------------------------------------------------------------------------
    def forward(self, *inputs, **kwargs):
        if self._expect_sync:
            ready = sum(len(b.params) - b.pending for b in self._buckets)
            if ready:  # a backward ran but some parameters never got a gradient
                missing = [n for n, p in self.module.named_parameters()
                           if p.requires_grad and self._bucket_of[id(p)].pending and
                           not self._is_ready(p)]
                self._reset_buckets()
                raise RuntimeError(
                    "Expected to have finished reduction in the prior iteration before "
                    "starting a new one. This error indicates that your module has parameters "
                    "that were not used in producing loss. You can enable unused parameter "
                    "detection by passing the keyword argument `find_unused_parameters=True` "
                    "to `narae.nn.parallel.DistributedDataParallel`, and by making sure all "
                    "`forward` function outputs participate in calculating loss. Parameters "
                    f"that did not receive a gradient on rank {dist.get_rank()}: {missing}")
        grad_on = grad_mode.state.enabled
        if grad_on and self.module.training and self.broadcast_buffers and \
                self._buffers_to_sync and self.process_group.size() > 1:
            self._broadcast_coalesced(self._buffers_to_sync)
        out = self.module(*inputs, **kwargs)
        if grad_on and self.require_backward_grad_sync:
            self._prepare_for_backward(out)
        else:
            self._expect_sync = False
        return out

    def _is_ready(self, p):
        return id(p) in self._ready

    def _reset_buckets(self):
        for b in self._buckets:
            b.pending, b.work, b.flat = len(b.params), None, None
        self._ready = set()
        self._expect_sync = False

    def _prepare_for_backward(self, outputs):
        self._reset_buckets()
        self._expect_sync = True
        self._unused = set()
        if self.find_unused_parameters:
            used = _reachable_leaves(outputs)
            self._unused = {id(p) for p in self._params if id(p) not in used}
            for p in self._params:
                if id(p) in self._unused:
                    self._mark(p, launch=False)

    # -- backward ----------------------------------------------------------------------------
    def _grad_ready(self, p):
        if not self._expect_sync or id(p) in self._ready:
            return
        self._mark(p, launch=True)

    def _mark(self, p, launch):
        self._ready.add(id(p))
        b = self._bucket_of[id(p)]
        b.pending -= 1
        if b.pending == 0 and launch:
            self._launch(b)
        if len(self._ready) == len(self._params):
            self._finish()

    def _launch(self, b):
        if b.work is not None:
            return
        xp = get_array_module(b.params[0]._data)
        parts = []
        for p in b.params:
            g = p.grad
            if g is None or id(p) in self._unused:  # unused here: contributes zeros
                parts.append(xp.zeros(p._data.size, dtype=p._data.dtype))
            else:
                parts.append(g._data.reshape(-1))
        b.flat = Tensor(xp.concatenate(parts))
        b.work = dist.all_reduce(b.flat, dist.ReduceOp.SUM, self.process_group, async_op=True)

    def _finish(self):
        """Every parameter is ready: launch what is left, wait, write averaged gradients."""
        for b in self._buckets:  # buckets of unused-only parameters have not started yet
            self._launch(b)
        used_anywhere = None
        if self.find_unused_parameters:  # which parameters did some rank use?
            xp = get_array_module(self._params[0]._data)
            used = Tensor(xp.asarray([0 if id(p) in self._unused else 1
                                      for p in self._params], dtype=xp.int32))
            dist.all_reduce(used, dist.ReduceOp.SUM, self.process_group)
            used_anywhere = {id(p) for p, u in zip(self._params, used._data.tolist()) if u}
        n = self.process_group.size()
        for b in self._buckets:
            b.work.wait()
            flat = b.flat._data
            flat /= n
            offset = 0
            for p in b.params:
                k = p._data.size
                if used_anywhere is not None and id(p) not in used_anywhere:
                    offset += k
                    continue  # unused on every rank: its grad stays as it was
                g = flat[offset:offset + k].reshape(p._data.shape).astype(p._data.dtype,
                                                                          copy=False)
                if p.grad is None:
                    p.grad = Tensor(g.copy())
                else:
                    p.grad._data[...] = g
                    p.grad._version[0] += 1
                offset += k
            b.work, b.flat = None, None
        self._expect_sync = False

    # -- API ---------------------------------------------------------------------------------
    @contextlib.contextmanager
    def no_sync(self):
        """Inside this context backward accumulates gradients locally without
        communicating; the first backward after it averages the accumulated sums."""
        old = self.require_backward_grad_sync
        self.require_backward_grad_sync = False
        try:
            yield
        finally:
            self.require_backward_grad_sync = old

    def will_sync_module_buffers(self):
        return self.require_forward_param_sync and self.broadcast_buffers and \
            len(self._buffers_to_sync) > 0

    def register_comm_hook(self, state, hook):
        raise NotImplementedError("DistributedDataParallel.register_comm_hook: narae averages "
                                  "gradients with its built-in all-reduce only")

    def __getstate__(self):
        raise TypeError("DistributedDataParallel cannot be pickled; save .module's state_dict")
