"""torch.distributed's process-group API over TCP between processes ("gloo" on the CPU).

Rendezvous goes through a store (``env://``, ``tcp://host:port``, ``file://path`` or a store
you pass); then every pair of ranks keeps one TCP connection (see ``_mesh``). Collectives
work in place on narae tensors. Results are reduced in rank order (small tensors) or around a
ring (large ones), so every rank ends with bitwise the same values. CuPy tensors are copied
to the host, reduced with NumPy and copied back: correct, but not NCCL.
"""
import enum
import json
import os
import socket
import threading
import time
from datetime import timedelta
from urllib.parse import urlparse, parse_qs

import numpy as np

from ..backend import get_array_module
from ..backend.arrays import to_device
from ..backend.device import cpu
from .errors import DistBackendError, DistError
from .store import TCPStore, FileStore, PrefixStore
from ._mesh import Mesh

__all__ = ["Backend", "ReduceOp", "ProcessGroup", "Work", "GroupMember", "group",
           "default_pg_timeout", "is_available", "is_gloo_available", "is_nccl_available",
           "is_mpi_available", "is_torchelastic_launched", "init_process_group",
           "destroy_process_group", "is_initialized", "get_rank", "get_world_size",
           "get_backend", "new_group", "get_process_group_ranks", "get_global_rank",
           "get_group_rank", "barrier", "monitored_barrier", "all_reduce", "broadcast",
           "reduce", "all_gather", "all_gather_into_tensor", "gather", "scatter",
           "reduce_scatter", "reduce_scatter_tensor", "all_to_all", "all_to_all_single",
           "send", "recv", "isend", "irecv", "P2POp", "batch_isend_irecv",
           "all_gather_object", "broadcast_object_list", "gather_object",
           "scatter_object_list", "get_default_backend_for_device"]

default_pg_timeout = timedelta(minutes=30)
_RING_MIN_BYTES = 1 << 18  # below this, direct exchange beats the ring's 2(n-1) steps


class Backend(str):
    """A backend name ("gloo"); ``Backend("GLOO") == "gloo"``."""
    UNDEFINED = "undefined"
    GLOO = "gloo"
    NCCL = "nccl"
    MPI = "mpi"

    def __new__(cls, name):
        if not isinstance(name, str):
            raise ValueError(f"Backend name must be a string, but got: {name!r}")
        return str.__new__(cls, name.lower())


class ReduceOp:
    """How collectives combine values: SUM, PRODUCT, MIN, MAX, AVG, and BAND/BOR/BXOR
    for integer (and bool) tensors."""

    class RedOpType(enum.IntEnum):
        SUM = 0
        AVG = 1
        PRODUCT = 2
        MIN = 3
        MAX = 4
        BAND = 5
        BOR = 6
        BXOR = 7
        PREMUL_SUM = 8
        UNUSED = 9


for _op in ReduceOp.RedOpType:
    setattr(ReduceOp, _op.name, _op)

_UFUNCS = {ReduceOp.SUM: np.add, ReduceOp.AVG: np.add, ReduceOp.PRODUCT: np.multiply,
           ReduceOp.MIN: np.minimum, ReduceOp.MAX: np.maximum, ReduceOp.BAND: np.bitwise_and,
           ReduceOp.BOR: np.bitwise_or, ReduceOp.BXOR: np.bitwise_xor}


def is_available():
    return True


def is_gloo_available():
    return True


def is_nccl_available():
    return False


def is_mpi_available():
    return False


def is_torchelastic_launched():
    return os.getenv("TORCHELASTIC_RUN_ID") is not None


def get_default_backend_for_device(device):
    return "gloo"


# -- groups ----------------------------------------------------------------------------------
class ProcessGroup:
    """A set of ranks that run collectives together (the world or a ``new_group``)."""

    def __init__(self, world, ranks, gid, timeout):
        self._world, self.ranks, self._gid = world, list(ranks), gid
        self._timeout = timeout
        self._seq = 0
        self._lock = threading.Lock()
        self._me = self.ranks.index(world.rank)

    def rank(self):
        return self._me

    def size(self):
        return len(self.ranks)

    def name(self):
        return "gloo"

    @property
    def group_name(self):
        return str(self._gid)

    def _key(self, what):
        with self._lock:
            self._seq += 1
            return f"{self._gid}:{self._seq}:{what}"

    def __repr__(self):
        return f"ProcessGroup(gloo, ranks={self.ranks})"


class _NonMember:
    def __repr__(self):
        return "GroupMember.NON_GROUP_MEMBER"


class GroupMember:
    WORLD = None
    NON_GROUP_MEMBER = _NonMember()


class _World:
    def __init__(self):
        self.default = None   # ProcessGroup of every rank
        self.mesh = None
        self.store = None
        self.rank = -1
        self.world_size = -1
        self.groups = []
        self.next_gid = 0
        self.file_store_path = None


_world = _World()


class group:  # noqa: N801 (torch's name)
    """``group.WORLD``: the default process group."""
    WORLD = None


def _default_pg(what="this function"):
    if _world.default is None:
        raise ValueError("Default process group has not been initialized, please make sure "
                         "to call init_process_group.")
    return _world.default


def _resolve(grp, what):
    if grp is None or grp is GroupMember.WORLD:
        return _default_pg(what)
    _default_pg(what)
    if grp is GroupMember.NON_GROUP_MEMBER:
        return None
    if not isinstance(grp, ProcessGroup):
        raise TypeError(f"{what}: group must be a ProcessGroup (got {type(grp).__name__})")
    return grp


def _seconds(timeout):
    if timeout is None:
        return None
    return timeout.total_seconds() if isinstance(timeout, timedelta) else float(timeout)


def _check_backend(backend):
    if backend is None:
        return Backend("gloo")
    if not isinstance(backend, str):
        raise ValueError(f"init_process_group: backend must be a string (got {backend!r})")
    names = [p.split(":")[-1] for p in backend.lower().split(",")]
    if "gloo" in names:
        return Backend("gloo")
    if "nccl" in names:
        from .. import cuda
        if not cuda.is_available():
            raise RuntimeError("init_process_group: backend 'nccl' needs CUDA, and no GPU is "
                               "available; use backend='gloo'")
        raise RuntimeError("init_process_group: narae has no NCCL backend; use backend='gloo' "
                           "(it copies CuPy tensors to the host and reduces there)")
    raise ValueError(f"init_process_group: invalid backend {backend!r} (narae supports 'gloo')")


def _env(var):
    v = os.environ.get(var)
    if v is None:
        raise ValueError("Error initializing torch.distributed using env:// rendezvous: "
                         f"environment variable {var} expected, but not set")
    return v


def _rendezvous(url, rank, world_size, timeout):
    """(store, rank, world_size) for an init_method URL."""
    parsed = urlparse(url)
    query = {k: v[-1] for k, v in parse_qs(parsed.query).items()}
    if "rank" in query and rank == -1:
        rank = int(query["rank"])
    if "world_size" in query and world_size == -1:
        world_size = int(query["world_size"])
    scheme = parsed.scheme
    if scheme == "env":
        if rank == -1:
            rank = int(_env("RANK"))
        if world_size == -1:
            world_size = int(_env("WORLD_SIZE"))
        host, port = _env("MASTER_ADDR"), int(_env("MASTER_PORT"))
    elif scheme == "tcp":
        if rank == -1:
            raise ValueError("Error initializing torch.distributed using tcp:// rendezvous: "
                             "rank parameter missing")
        if world_size == -1:
            raise ValueError("Error initializing torch.distributed using tcp:// rendezvous: "
                             "world size parameter missing")
        host, port = parsed.hostname, parsed.port
        if host is None or port is None:
            raise ValueError(f"init_process_group: tcp:// init_method needs host and port "
                             f"(got {url!r})")
    elif scheme == "file":
        if rank == -1:
            raise ValueError("Error initializing torch.distributed using file:// rendezvous: "
                             "rank parameter missing")
        if world_size == -1:
            raise ValueError("Error initializing torch.distributed using file:// rendezvous: "
                             "world size parameter missing")
        path = parsed.path if not parsed.netloc else parsed.netloc + parsed.path
        _world.file_store_path = path
        store = FileStore(path, world_size)
        store.set_timeout(timeout)
        return store, rank, world_size
    else:
        raise ValueError(f"init_process_group: no rendezvous handler for {scheme or url!r}:// "
                         "(use env://, tcp://host:port or file://path)")
    if not 0 <= rank < world_size:
        raise ValueError(f"init_process_group: rank {rank} is not in [0, {world_size})")
    store = TCPStore(host, port, world_size, is_master=(rank == 0), timeout=timeout,
                     wait_for_workers=False)
    return store, rank, world_size


def _advertised_address(store):
    """The address the other ranks can reach this process at."""
    addr = os.environ.get("NARAE_DIST_ADDR")
    if addr:
        return addr
    base = store
    while isinstance(base, PrefixStore):
        base = base.underlying_store
    if isinstance(base, TCPStore):
        return base._local_address()
    try:
        return socket.gethostbyname(socket.gethostname())
    except OSError:
        return "127.0.0.1"


def init_process_group(backend=None, init_method=None, timeout=None, world_size=-1, rank=-1,
                       store=None, group_name="", pg_options=None, device_id=None):
    """Join the default process group: rendezvous through ``init_method`` (default
    ``env://``: MASTER_ADDR, MASTER_PORT, RANK, WORLD_SIZE) or ``store``, then connect every
    pair of ranks over TCP. Every rank must call it."""
    if _world.default is not None:
        raise RuntimeError("trying to initialize the default process group twice!")
    backend = _check_backend(backend)
    timeout = default_pg_timeout if timeout is None else timeout
    if not isinstance(timeout, timedelta):
        raise TypeError(f"init_process_group: timeout must be a datetime.timedelta "
                        f"(got {type(timeout).__name__})")
    if store is not None:
        if init_method is not None:
            raise ValueError("Cannot specify both init_method and store.")
        if world_size <= 0:
            raise ValueError("world_size must be positive if using store")
        if rank < 0:
            raise ValueError("rank must be non-negative if using store")
    else:
        store, rank, world_size = _rendezvous(init_method or "env://", rank, world_size,
                                              timeout)
    if not 0 <= rank < world_size:
        raise ValueError(f"init_process_group: rank {rank} is not in [0, {world_size})")
    # the n-th init of these ranks on this store gets its own key space: stale keys of an
    # earlier group (a re-init after destroy_process_group) are never read
    generation = (store.add("narae_init_count", 1) - 1) // world_size
    pstore = PrefixStore(f"narae_pg{generation}", store)
    mesh = Mesh(pstore, rank, world_size, _seconds(timeout), _advertised_address(store))
    # no rank leaves init before every rank has its connections: rank 0 must not exit (and
    # take the store server with it) while another rank still reads addresses from it
    for r in range(world_size):
        if r != rank:
            mesh.send(r, "init", np.zeros(0, np.uint8))
    for r in range(world_size):
        if r != rank:
            mesh.recv([r], "init", _seconds(timeout), "init_process_group")
    _world.mesh, _world.store, _world.rank, _world.world_size = mesh, store, rank, world_size
    _world.next_gid = 1
    pg = ProcessGroup(_world, range(world_size), 0, timeout)
    pg._backend = backend
    _world.default = pg
    GroupMember.WORLD = group.WORLD = pg
    _world.groups = [pg]


def destroy_process_group(group=None):
    """Leave the default group (closing the connections), or forget a subgroup."""
    if group is not None and group is not _world.default:
        if group in _world.groups:
            _world.groups.remove(group)
        return
    if _world.default is None:
        raise ValueError("Default process group has not been initialized, please make sure "
                         "to call init_process_group.")
    mesh, store = _world.mesh, _world.store
    if _world.file_store_path is not None:  # the last rank out removes the rendezvous file
        try:
            if store.add("narae_destroyed", 1) == _world.world_size:
                os.remove(_world.file_store_path)
        except (OSError, DistError):
            pass
    _world.default = _world.mesh = _world.store = None
    _world.rank = _world.world_size = -1
    _world.groups, _world.file_store_path = [], None
    GroupMember.WORLD = None
    globals()["group"].WORLD = None  # the class ``group``, shadowed by the argument
    mesh.close()


def is_initialized():
    return _world.default is not None


def get_rank(group=None):
    """This process's rank in ``group`` (-1 when it is not a member)."""
    pg = _resolve(group, "get_rank")
    return -1 if pg is None else pg.rank()


def get_world_size(group=None):
    pg = _resolve(group, "get_world_size")
    return -1 if pg is None else pg.size()


def get_backend(group=None):
    pg = _resolve(group, "get_backend")
    if pg is None:
        raise ValueError("Invalid process group specified")
    return Backend("gloo")


def new_group(ranks=None, timeout=None, backend=None, pg_options=None,
              use_local_synchronization=False, group_desc=None, device_id=None,
              sort_ranks=True):
    """A subgroup of the world; every rank must call it, in the same order. Non-members get
    ``GroupMember.NON_GROUP_MEMBER``."""
    world = _default_pg("new_group")
    ranks = list(range(_world.world_size)) if ranks is None else [int(r) for r in ranks]
    if sort_ranks:
        ranks = sorted(ranks)
    if len(set(ranks)) != len(ranks):
        raise ValueError(f"new_group: ranks {ranks} contain duplicates")
    for r in ranks:
        if not 0 <= r < _world.world_size:
            raise ValueError(f"new_group: rank {r} is not in [0, {_world.world_size})")
    if backend is not None:
        _check_backend(backend)
    gid = _world.next_gid
    _world.next_gid += 1
    if _world.rank not in ranks:
        return GroupMember.NON_GROUP_MEMBER
    pg = ProcessGroup(_world, ranks, gid, timeout or world._timeout)
    _world.groups.append(pg)
    return pg


def get_process_group_ranks(group):
    pg = _resolve(group, "get_process_group_ranks")
    return list(pg.ranks)


def get_global_rank(group, group_rank):
    pg = _resolve(group, "get_global_rank")
    if not 0 <= group_rank < pg.size():
        raise ValueError(f"Group rank {group_rank} is not part of group {pg.ranks}")
    return pg.ranks[group_rank]


def get_group_rank(group, global_rank):
    pg = _resolve(group, "get_group_rank")
    if global_rank not in pg.ranks:
        raise ValueError(f"Global rank {global_rank} is not part of group {pg.ranks}")
    return pg.ranks.index(global_rank)


# -- Work ------------------------------------------------------------------------------------
class Work:
    """A collective running in the background (``async_op=True``): ``wait()`` blocks until it
    finished and re-raises its error."""

    def __init__(self, fn=None, result=None):
        self._result, self._exc = result, None
        self._done = threading.Event()
        if fn is None:
            self._done.set()
        else:
            self._thread = threading.Thread(target=self._run, args=(fn,), daemon=True,
                                            name="narae-dist-work")
            self._thread.start()

    def _run(self, fn):
        try:
            self._result = fn()
        except BaseException as e:  # handed to wait()
            self._exc = e
        finally:
            self._done.set()

    def wait(self, timeout=None):
        t = _seconds(timeout)
        if not self._done.wait(t if t else None):
            raise DistBackendError(f"Work.wait: not finished after {t:g} s")
        if self._exc is not None:
            raise self._exc
        return True

    def is_completed(self):
        return self._done.is_set()

    def is_success(self):
        return self._done.is_set() and self._exc is None

    def exception(self):
        return self._exc

    def result(self):
        self.wait()
        return self._result if isinstance(self._result, list) else []

    def source_rank(self):
        self.wait()
        return self._result


def _launch(fn, async_op):
    if async_op:
        return Work(fn)
    fn()
    return None


# -- tensor helpers --------------------------------------------------------------------------
def _check_tensor(t, what, name="tensor"):
    from ..tensor import Tensor
    if not isinstance(t, Tensor):
        raise TypeError(f"{what}: {name} must be a narae Tensor (got {type(t).__name__})")


def _host(t):
    """The tensor's values as a NumPy array (a copy off the GPU)."""
    a = t._data
    return a if isinstance(a, np.ndarray) else to_device(a, cpu)


def _write(t, arr, what):
    if tuple(arr.shape) != tuple(t._data.shape):
        raise DistBackendError(f"{what}: received shape {tuple(arr.shape)} for a tensor of "
                               f"shape {tuple(t.shape)} (do the ranks pass matching shapes?)")
    xp = get_array_module(t._data)
    t._data[...] = arr if xp is np else xp.asarray(arr)
    t._version[0] += 1


def _global(pg, rank, group_rank, what, arg):
    """Global rank from a global ``rank`` or a ``group_rank`` (exactly one given)."""
    if rank is not None and group_rank is not None:
        raise ValueError(f"{what}: pass only one of {arg} and group_{arg}")
    if group_rank is not None:
        if not 0 <= group_rank < pg.size():
            raise ValueError(f"{what}: group_{arg} {group_rank} is not in [0, {pg.size()})")
        return pg.ranks[group_rank]
    if rank is None:
        rank = 0
    if rank not in pg.ranks:
        raise ValueError(f"{what}: {arg} rank {rank} is not part of the group {pg.ranks}")
    return rank


def _reduce(op, arrays, what):
    """Combine ``arrays`` (in rank order) with ``op``."""
    op = ReduceOp.RedOpType(int(op)) if not isinstance(op, ReduceOp.RedOpType) else op
    if op not in _UFUNCS:
        raise ValueError(f"{what}: ReduceOp.{op.name} is not supported by the gloo backend")
    kind = arrays[0].dtype.kind
    if op in (ReduceOp.BAND, ReduceOp.BOR, ReduceOp.BXOR) and kind not in "biu":
        raise TypeError(f"{what}: ReduceOp.{op.name} needs an integer or bool tensor (got "
                        f"{arrays[0].dtype})")
    if op == ReduceOp.AVG and kind not in "fc":
        raise TypeError(f"{what}: ReduceOp.AVG needs a floating-point tensor (got "
                        f"{arrays[0].dtype})")
    uf = _UFUNCS[op]
    acc = np.array(arrays[0], copy=True)
    for a in arrays[1:]:
        uf(acc, a, out=acc)
    if op == ReduceOp.AVG:
        acc /= len(arrays)
    return acc


def _check_op(op, dtype, what):
    _reduce(op, [np.zeros(1, dtype)], what)


def _mesh():
    return _world.mesh


def _peers(pg):
    return [r for r in pg.ranks if r != _world.rank]


def _recv(pg, src, key, what):
    return _world.mesh.recv([src], key, _seconds(pg._timeout), what)[1]


def _exchange(pg, key, arrays_for, what):
    """Send ``arrays_for(r)`` to every other member; the arrays received, in group order
    (this rank's own slot is None)."""
    mesh = _world.mesh
    for r in _peers(pg):
        mesh.send(r, key, arrays_for(r))
    return [None if r == _world.rank else _recv(pg, r, key, what) for r in pg.ranks]


def _ring_all_reduce(pg, key, flat, op, what):
    """Reduce-scatter then all-gather around the ring: each rank sends 2(n-1)/n of the data."""
    n, me, mesh = pg.size(), pg.rank(), _world.mesh
    right, left = pg.ranks[(me + 1) % n], pg.ranks[(me - 1) % n]
    bounds = np.linspace(0, flat.size, n + 1).astype(np.int64)
    chunk = [slice(bounds[i], bounds[i + 1]) for i in range(n)]
    uf = _UFUNCS[ReduceOp.SUM if op == ReduceOp.AVG else op]
    for s in range(n - 1):
        mesh.send(right, f"{key}:rs{s}", flat[chunk[(me - s) % n]])
        c = chunk[(me - s - 1) % n]
        got = _recv(pg, left, f"{key}:rs{s}", what)
        uf(got, flat[c], out=flat[c])  # incoming partial first: same order on every chunk
    for s in range(n - 1):
        mesh.send(right, f"{key}:ag{s}", flat[chunk[(me + 1 - s) % n]])
        flat[chunk[(me - s) % n]] = _recv(pg, left, f"{key}:ag{s}", what)
    if op == ReduceOp.AVG:
        flat /= n
    return flat


# -- collectives -----------------------------------------------------------------------------
def all_reduce(tensor, op=ReduceOp.SUM, group=None, async_op=False):
    """Replace ``tensor`` on every rank by ``op`` over all ranks' tensors."""
    what = "all_reduce"
    _check_tensor(tensor, what)
    pg = _resolve(group, what)
    if pg is None:
        return None
    op = ReduceOp.RedOpType(int(op))
    _check_op(op, tensor._data.dtype, what)
    key = pg._key("ar")

    def run():
        mine = _host(tensor)
        if pg.size() == 1:
            return _write(tensor, _reduce(op, [mine], what), what)
        if mine.nbytes >= _RING_MIN_BYTES and mine.size >= pg.size():
            flat = np.array(mine, copy=True).reshape(-1)
            return _write(tensor, _ring_all_reduce(pg, key, flat, op, what)
                          .reshape(mine.shape), what)
        got = _exchange(pg, key, lambda r: mine, what)
        got[pg.rank()] = mine
        _shapes_agree(got, what)
        _write(tensor, _reduce(op, got, what), what)
    return _launch(run, async_op)


def _shapes_agree(arrays, what):
    shapes = [tuple(a.shape) for a in arrays]
    if len(set(shapes)) > 1:
        raise DistBackendError(f"{what}: the ranks passed tensors of different shapes {shapes}")


def broadcast(tensor, src=None, group=None, async_op=False, group_src=None):
    """Copy ``tensor`` of rank ``src`` into ``tensor`` on every rank."""
    what = "broadcast"
    _check_tensor(tensor, what)
    pg = _resolve(group, what)
    if pg is None:
        return None
    src = _global(pg, src, group_src, what, "src")
    key = pg._key("bc")

    def run():
        if _world.rank == src:
            mine = _host(tensor)
            for r in _peers(pg):
                _world.mesh.send(r, key, mine)
        else:
            _write(tensor, _recv(pg, src, key, what), what)
    return _launch(run, async_op)


def reduce(tensor, dst=None, op=ReduceOp.SUM, group=None, async_op=False, group_dst=None):
    """``op`` over all ranks' tensors, written into ``tensor`` on rank ``dst`` only."""
    what = "reduce"
    _check_tensor(tensor, what)
    pg = _resolve(group, what)
    if pg is None:
        return None
    dst = _global(pg, dst, group_dst, what, "dst")
    op = ReduceOp.RedOpType(int(op))
    _check_op(op, tensor._data.dtype, what)
    key = pg._key("rd")

    def run():
        mine = _host(tensor)
        if _world.rank != dst:
            _world.mesh.send(dst, key, mine)
            return
        got = [mine if r == dst else _recv(pg, r, key, what) for r in pg.ranks]
        _shapes_agree(got, what)
        _write(tensor, _reduce(op, got, what), what)
    return _launch(run, async_op)


def _check_list(lst, n, what, name):
    if not isinstance(lst, (list, tuple)) or len(lst) != n:
        got = len(lst) if isinstance(lst, (list, tuple)) else type(lst).__name__
        raise ValueError(f"{what}: {name} must be a list of {n} tensors (the group size), "
                         f"got {got}")
    for t in lst:
        _check_tensor(t, what, name)


def all_gather(tensor_list, tensor, group=None, async_op=False):
    """``tensor_list[i]`` = rank i's ``tensor``, on every rank."""
    what = "all_gather"
    _check_tensor(tensor, what)
    pg = _resolve(group, what)
    if pg is None:
        return None
    _check_list(tensor_list, pg.size(), what, "tensor_list")
    key = pg._key("ag")

    def run():
        mine = _host(tensor)
        got = _exchange(pg, key, lambda r: mine, what)
        for i, (t, a) in enumerate(zip(tensor_list, got)):
            _write(t, mine if i == pg.rank() else a, what)
    return _launch(run, async_op)


def all_gather_into_tensor(output_tensor, input_tensor, group=None, async_op=False):
    """Every rank's ``input_tensor`` concatenated along dim 0 (or stacked, when
    ``output_tensor`` has shape (world_size, *input.shape)) into ``output_tensor``."""
    what = "all_gather_into_tensor"
    _check_tensor(output_tensor, what, "output_tensor")
    _check_tensor(input_tensor, what, "input_tensor")
    pg = _resolve(group, what)
    if pg is None:
        return None
    n, ins, outs = pg.size(), tuple(input_tensor.shape), tuple(output_tensor.shape)
    stacked = outs == (n,) + ins
    if not stacked and (len(ins) == 0 or outs != (ins[0] * n,) + ins[1:]):
        raise ValueError(f"{what}: output_tensor of shape {outs} must be input_tensor's shape "
                         f"{ins} with dim 0 times the group size {n}")
    key = pg._key("agt")

    def run():
        mine = _host(input_tensor)
        got = _exchange(pg, key, lambda r: mine, what)
        got[pg.rank()] = mine
        _shapes_agree(got, what)
        out = np.stack(got) if stacked else np.concatenate(got, axis=0)
        _write(output_tensor, out, what)
    return _launch(run, async_op)


def gather(tensor, gather_list=None, dst=None, group=None, async_op=False, group_dst=None):
    """``gather_list[i]`` = rank i's ``tensor``, on rank ``dst`` only."""
    what = "gather"
    _check_tensor(tensor, what)
    pg = _resolve(group, what)
    if pg is None:
        return None
    dst = _global(pg, dst, group_dst, what, "dst")
    if _world.rank == dst:
        _check_list(gather_list, pg.size(), what, "gather_list")
    elif gather_list:
        raise ValueError(f"{what}: Argument ``gather_list`` must NOT be specified on "
                         "non-destination ranks.")
    key = pg._key("ga")

    def run():
        mine = _host(tensor)
        if _world.rank != dst:
            _world.mesh.send(dst, key, mine)
            return
        for r, t in zip(pg.ranks, gather_list):
            _write(t, mine if r == dst else _recv(pg, r, key, what), what)
    return _launch(run, async_op)


def scatter(tensor, scatter_list=None, src=None, group=None, async_op=False, group_src=None):
    """``tensor`` on rank i = ``scatter_list[i]`` of rank ``src``."""
    what = "scatter"
    _check_tensor(tensor, what)
    pg = _resolve(group, what)
    if pg is None:
        return None
    src = _global(pg, src, group_src, what, "src")
    if _world.rank == src:
        _check_list(scatter_list, pg.size(), what, "scatter_list")
    elif scatter_list:
        raise ValueError(f"{what}: Argument ``scatter_list`` must NOT be specified on "
                         "non-source ranks.")
    key = pg._key("sc")

    def run():
        if _world.rank == src:
            for r, t in zip(pg.ranks, scatter_list):
                if r == src:
                    _write(tensor, np.array(_host(t), copy=True), what)
                else:
                    _world.mesh.send(r, key, _host(t))
        else:
            _write(tensor, _recv(pg, src, key, what), what)
    return _launch(run, async_op)


def reduce_scatter(output, input_list, op=ReduceOp.SUM, group=None, async_op=False):
    """``output`` on rank i = ``op`` over every rank's ``input_list[i]``."""
    what = "reduce_scatter"
    _check_tensor(output, what, "output")
    pg = _resolve(group, what)
    if pg is None:
        return None
    _check_list(input_list, pg.size(), what, "input_list")
    op = ReduceOp.RedOpType(int(op))
    _check_op(op, output._data.dtype, what)
    key = pg._key("rs")

    def run():
        got = _exchange(pg, key, lambda r: _host(input_list[pg.ranks.index(r)]), what)
        got[pg.rank()] = _host(input_list[pg.rank()])
        _shapes_agree(got, what)
        _write(output, _reduce(op, got, what), what)
    return _launch(run, async_op)


def reduce_scatter_tensor(output, input, op=ReduceOp.SUM, group=None, async_op=False):
    """``input`` split along dim 0 into group-size pieces; rank i gets ``op`` over every
    rank's piece i (``input`` may also be stacked: (world_size, *output.shape))."""
    what = "reduce_scatter_tensor"
    _check_tensor(output, what, "output")
    _check_tensor(input, what, "input")
    pg = _resolve(group, what)
    if pg is None:
        return None
    n, ins, outs = pg.size(), tuple(input.shape), tuple(output.shape)
    stacked = ins == (n,) + outs
    if not stacked and (len(outs) == 0 or ins != (outs[0] * n,) + outs[1:]):
        raise ValueError(f"{what}: input of shape {ins} must be output's shape {outs} with "
                         f"dim 0 times the group size {n}")
    op = ReduceOp.RedOpType(int(op))
    _check_op(op, output._data.dtype, what)
    key = pg._key("rst")

    def run():
        full = _host(input)
        parts = list(full) if stacked else np.split(full, n, axis=0)
        got = _exchange(pg, key, lambda r: parts[pg.ranks.index(r)], what)
        got[pg.rank()] = parts[pg.rank()]
        _write(output, _reduce(op, got, what), what)
    return _launch(run, async_op)


def all_to_all(output_tensor_list, input_tensor_list, group=None, async_op=False):
    """``output_tensor_list[j]`` on rank i = ``input_tensor_list[i]`` of rank j."""
    what = "all_to_all"
    pg = _resolve(group, what)
    if pg is None:
        return None
    _check_list(output_tensor_list, pg.size(), what, "output_tensor_list")
    _check_list(input_tensor_list, pg.size(), what, "input_tensor_list")
    key = pg._key("a2a")

    def run():
        got = _exchange(pg, key, lambda r: _host(input_tensor_list[pg.ranks.index(r)]), what)
        for i, t in enumerate(output_tensor_list):
            _write(t, np.array(_host(input_tensor_list[i]), copy=True) if i == pg.rank()
                   else got[i], what)
    return _launch(run, async_op)


def _splits(sizes, total, n, what, name):
    if sizes is None or len(sizes) == 0:
        if total % n:
            raise ValueError(f"{what}: dim 0 of size {total} does not split evenly over "
                             f"{n} ranks; pass {name}")
        return [total // n] * n
    sizes = [int(s) for s in sizes]
    if len(sizes) != n or sum(sizes) != total:
        raise ValueError(f"{what}: {name} {sizes} must have {n} entries summing to {total}")
    return sizes


def all_to_all_single(output, input, output_split_sizes=None, input_split_sizes=None,
                      group=None, async_op=False):
    """Split ``input`` along dim 0, send piece j to rank j, and concatenate the pieces
    received (in rank order) into ``output``."""
    what = "all_to_all_single"
    _check_tensor(output, what, "output")
    _check_tensor(input, what, "input")
    pg = _resolve(group, what)
    if pg is None:
        return None
    n = pg.size()
    if input.ndim == 0 or output.ndim == 0:
        raise ValueError(f"{what}: input {tuple(input.shape)} and output "
                         f"{tuple(output.shape)} need at least one dimension")
    ins = _splits(input_split_sizes, input.shape[0], n, what, "input_split_sizes")
    outs = _splits(output_split_sizes, output.shape[0], n, what, "output_split_sizes")
    key = pg._key("a2as")

    def run():
        full = _host(input)
        edges = np.cumsum([0] + ins)
        parts = [full[edges[i]:edges[i + 1]] for i in range(n)]
        got = _exchange(pg, key, lambda r: parts[pg.ranks.index(r)], what)
        got[pg.rank()] = parts[pg.rank()]
        for i, (g, s) in enumerate(zip(got, outs)):
            if g.shape[0] != s:
                raise DistBackendError(f"{what}: rank {pg.ranks[i]} sent {g.shape[0]} rows, "
                                       f"output_split_sizes expects {s}")
        _write(output, np.concatenate(got, axis=0), what)
    return _launch(run, async_op)


def barrier(group=None, async_op=False, device_ids=None, timeout=None):
    """Wait until every rank of the group has reached the barrier."""
    pg = _resolve(group, "barrier")
    if pg is None:
        return None
    key = pg._key("barrier")
    t = _seconds(timeout) if timeout is not None else _seconds(pg._timeout)

    def run():
        mesh = _world.mesh
        for r in _peers(pg):
            mesh.send(r, key, np.zeros(0, np.uint8))
        for r in _peers(pg):
            mesh.recv([r], key, t, "barrier")
    return _launch(run, async_op)


def monitored_barrier(group=None, timeout=None, wait_all_ranks=False):
    """A barrier checked by rank 0: it names the ranks that did not arrive within
    ``timeout`` (raising RuntimeError) instead of hanging."""
    pg = _resolve(group, "monitored_barrier")
    if pg is None:
        return None
    t = _seconds(timeout) if timeout is not None else _seconds(pg._timeout)
    key, mesh, root = pg._key("mb"), _world.mesh, pg.ranks[0]
    if _world.rank != root:
        mesh.send(root, key + ":in", np.zeros(0, np.uint8))
        mesh.recv([root], key + ":out", t, "monitored_barrier")
        return None
    failed, deadline = [], time.monotonic() + t
    for r in _peers(pg):
        try:
            mesh.recv([r], key + ":in", max(deadline - time.monotonic(), 0.0),
                      "monitored_barrier")
        except DistBackendError:
            failed.append(r)
            if not wait_all_ranks:
                break
    if failed:
        ranks = ", ".join(map(str, failed))
        raise RuntimeError(f"monitored_barrier: Rank{'s' if len(failed) > 1 else ''} {ranks} "
                           f"failed to pass monitoredBarrier in {int(t * 1000)} ms")
    for r in _peers(pg):
        mesh.send(r, key + ":out", np.zeros(0, np.uint8))
    return None


# -- point to point --------------------------------------------------------------------------
def _p2p_key(pg, tag):
    return f"p2p:{pg._gid}:{int(tag)}"


def send(tensor, dst=None, group=None, tag=0, group_dst=None):
    """Send ``tensor`` to rank ``dst`` (matched by a ``recv`` there with the same tag)."""
    what = "send"
    _check_tensor(tensor, what)
    pg = _resolve(group, what)
    if pg is None:
        return None
    dst = _global(pg, dst, group_dst, what, "dst")
    if dst == _world.rank:
        raise ValueError("Invalid destination rank: should not be the same as the rank of the "
                         "current process.")
    _world.mesh.send(dst, _p2p_key(pg, tag), _host(tensor))


def recv(tensor, src=None, group=None, tag=0, group_src=None):
    """Receive into ``tensor`` from rank ``src`` (any rank when None); the sender's rank."""
    what = "recv"
    _check_tensor(tensor, what)
    pg = _resolve(group, what)
    if pg is None:
        return -1
    if src is None and group_src is None:
        srcs = _peers(pg)
    else:
        srcs = [_global(pg, src, group_src, what, "src")]
        if srcs[0] == _world.rank:
            raise ValueError("Invalid source rank: should not be the same as the rank of the "
                             "current process.")
    got_from, arr = _world.mesh.recv(srcs, _p2p_key(pg, tag), _seconds(pg._timeout), what)
    _write(tensor, arr, what)
    return got_from if group_src is None else pg.ranks.index(got_from)


def isend(tensor, dst=None, group=None, tag=0, group_dst=None):
    """``send`` in the background: a Work to ``wait()`` on."""
    _check_tensor(tensor, "isend")
    data = np.array(_host(tensor), copy=True)  # later writes to the tensor must not leak
    pg = _resolve(group, "isend")
    if pg is None:
        return None
    dst = _global(pg, dst, group_dst, "isend", "dst")
    if dst == _world.rank:
        raise ValueError("Invalid destination rank: should not be the same as the rank of the "
                         "current process.")
    key = _p2p_key(pg, tag)
    return Work(lambda: _world.mesh.send(dst, key, data))


def irecv(tensor, src=None, group=None, tag=0, group_src=None):
    """``recv`` in the background: a Work to ``wait()`` on."""
    _check_tensor(tensor, "irecv")
    if _resolve(group, "irecv") is None:
        return None
    return Work(lambda: recv(tensor, src, group, tag, group_src))


class P2POp:
    """One point-to-point operation for ``batch_isend_irecv``: ``op`` is isend or irecv."""

    def __init__(self, op, tensor, peer=None, group=None, tag=0, group_peer=None):
        if op not in (isend, irecv, send, recv):
            raise ValueError("Invalid ``op``. Expected ``op`` to be of type ``dist.isend`` or "
                             "``dist.irecv``.")
        self.op, self.tensor, self.peer, self.group, self.tag = op, tensor, peer, group, tag
        self.group_peer = group_peer


def batch_isend_irecv(p2p_op_list):
    """Start every P2POp; their Works, in order."""
    works = []
    for p in p2p_op_list:
        op = isend if p.op in (isend, send) else irecv
        works.append(op(p.tensor, p.peer, p.group, p.tag, p.group_peer))
    return works


# -- objects (JSON only: narae never unpickles) ----------------------------------------------
def _encode(obj, what):
    try:
        text = json.dumps(obj)
    except (TypeError, ValueError) as e:
        raise TypeError(f"{what}: narae sends objects as JSON (it never unpickles data from "
                        f"other processes); {type(obj).__name__} object is not "
                        f"JSON-serialisable: {e}") from None
    return np.frombuffer(text.encode(), dtype=np.uint8)


def _decode(arr):
    return json.loads(arr.tobytes().decode())


def all_gather_object(object_list, obj, group=None):
    """``object_list[i]`` = rank i's ``obj`` (JSON-serialisable; tuples come back as lists)."""
    what = "all_gather_object"
    pg = _resolve(group, what)
    if pg is None:
        return None
    if len(object_list) != pg.size():
        raise ValueError(f"{what}: object_list must have {pg.size()} entries (the group "
                         f"size), got {len(object_list)}")
    mine = _encode(obj, what)
    key = pg._key("ago")
    got = _exchange(pg, key, lambda r: mine, what)
    for i, a in enumerate(got):
        object_list[i] = _decode(mine if i == pg.rank() else a)


def broadcast_object_list(object_list, src=None, group=None, device=None, group_src=None):
    """Rank ``src``'s ``object_list`` entries copied into ``object_list`` on every rank."""
    what = "broadcast_object_list"
    pg = _resolve(group, what)
    if pg is None:
        return None
    src = _global(pg, src, group_src, what, "src")
    key = pg._key("bco")
    if _world.rank == src:
        payload = _encode(list(object_list), what)
        for r in _peers(pg):
            _world.mesh.send(r, key, payload)
    else:
        objs = _decode(_recv(pg, src, key, what))
        if len(objs) != len(object_list):
            raise ValueError(f"{what}: rank {src} sent {len(objs)} objects, this rank's "
                             f"object_list has {len(object_list)} slots")
        object_list[:] = objs


def gather_object(obj, object_gather_list=None, dst=None, group=None, group_dst=None):
    """``object_gather_list[i]`` = rank i's ``obj``, on rank ``dst``."""
    what = "gather_object"
    pg = _resolve(group, what)
    if pg is None:
        return None
    dst = _global(pg, dst, group_dst, what, "dst")
    mine = _encode(obj, what)
    key = pg._key("gao")
    if _world.rank != dst:
        _world.mesh.send(dst, key, mine)
        return None
    if object_gather_list is None or len(object_gather_list) != pg.size():
        raise ValueError(f"{what}: object_gather_list must have {pg.size()} entries on the "
                         "destination rank")
    for i, r in enumerate(pg.ranks):
        object_gather_list[i] = _decode(mine if r == dst else _recv(pg, r, key, what))


def scatter_object_list(scatter_object_output_list, scatter_object_input_list=None, src=None,
                        group=None, group_src=None):
    """``scatter_object_output_list[0]`` on rank i = ``scatter_object_input_list[i]`` of
    rank ``src``."""
    what = "scatter_object_list"
    pg = _resolve(group, what)
    if pg is None:
        return None
    src = _global(pg, src, group_src, what, "src")
    if not isinstance(scatter_object_output_list, list) or not scatter_object_output_list:
        raise ValueError(f"{what}: Expected argument scatter_object_output_list to be a list "
                         "of size at least 1.")
    key = pg._key("sco")
    if _world.rank == src:
        if scatter_object_input_list is None or len(scatter_object_input_list) != pg.size():
            raise ValueError(f"{what}: scatter_object_input_list must have {pg.size()} "
                             "entries on the source rank")
        for i, r in enumerate(pg.ranks):
            if r == src:
                scatter_object_output_list[0] = _decode(
                    _encode(scatter_object_input_list[i], what))
            else:
                _world.mesh.send(r, key, _encode(scatter_object_input_list[i], what))
    else:
        scatter_object_output_list[0] = _decode(_recv(pg, src, key, what))


def send_object_list(object_list, dst=None, group=None, device=None, group_dst=None,
                     use_batch=False):
    """Send the JSON-serialisable ``object_list`` to rank ``dst`` (see recv_object_list)."""
    what = "send_object_list"
    pg = _resolve(group, what)
    if pg is None:
        return None
    dst = _global(pg, dst, group_dst, what, "dst")
    if dst == _world.rank:
        raise ValueError("Invalid destination rank: should not be the same as the rank of the "
                         "current process.")
    _world.mesh.send(dst, f"obj:{pg._gid}", _encode(list(object_list), what))


def recv_object_list(object_list, src=None, group=None, device=None, group_src=None,
                     use_batch=False):
    """Fill ``object_list`` with the objects sent by ``src`` (any rank when None); the
    sender's rank."""
    what = "recv_object_list"
    pg = _resolve(group, what)
    if pg is None:
        return -1
    srcs = _peers(pg) if src is None and group_src is None else \
        [_global(pg, src, group_src, what, "src")]
    got_from, arr = _world.mesh.recv(srcs, f"obj:{pg._gid}", _seconds(pg._timeout), what)
    objs = _decode(arr)
    if len(objs) != len(object_list):
        raise ValueError(f"{what}: rank {got_from} sent {len(objs)} objects, object_list has "
                         f"{len(object_list)} slots")
    object_list[:] = objs
    return got_from


def all_reduce_coalesced(tensors, op=ReduceOp.SUM, group=None, async_op=False):
    """``all_reduce`` of several tensors of one dtype in a single message."""
    what = "all_reduce_coalesced"
    tensors = [tensors] if not isinstance(tensors, (list, tuple)) else list(tensors)
    for t in tensors:
        _check_tensor(t, what, "tensors")
    if len({t._data.dtype for t in tensors}) > 1:
        raise ValueError(f"{what}: all tensors must have one dtype (got "
                         f"{sorted({str(t.dtype) for t in tensors})})")
    pg = _resolve(group, what)
    if pg is None or not tensors:
        return None
    from ..tensor import Tensor
    xp = get_array_module(tensors[0]._data)
    flat = Tensor(xp.concatenate([t._data.reshape(-1) for t in tensors]))

    inner = all_reduce(flat, op, pg, async_op=True)  # its sequence number taken now

    def run():
        inner.wait()
        offset = 0
        for t in tensors:
            n = t._data.size
            t._data[...] = flat._data[offset:offset + n].reshape(t._data.shape)
            t._version[0] += 1
            offset += n
    return _launch(run, async_op)


def get_node_local_rank(fallback_rank=None):
    """LOCAL_RANK from the environment (set by launchers), else ``fallback_rank``."""
    if "LOCAL_RANK" in os.environ:
        return int(os.environ["LOCAL_RANK"])
    if fallback_rank is not None:
        return int(fallback_rank)
    raise RuntimeError("LOCAL_RANK is not in the environment. Consider passing fallback_rank "
                       "to allow `get_node_local_rank` to work, assuming you are not running "
                       "in a multi-device context and want the code to run locally instead.")


def new_subgroups(group_size=None, group=None, timeout=None, backend=None, pg_options=None,
                  group_desc=None):
    """Split the world into consecutive subgroups of ``group_size`` ranks; (this rank's
    subgroup, all subgroups)."""
    _default_pg("new_subgroups")
    ws = _world.world_size
    if group_size is None or group_size <= 0 or ws % group_size:
        raise ValueError(f"new_subgroups: group_size {group_size} must be positive and divide "
                         f"the world size {ws}")
    return new_subgroups_by_enumeration(
        [list(range(i, i + group_size)) for i in range(0, ws, group_size)], timeout, backend)


def new_subgroups_by_enumeration(ranks_per_subgroup_list, timeout=None, backend=None,
                                 pg_options=None, group_desc=None):
    """One subgroup per list of ranks; (this rank's subgroup, all subgroups)."""
    _default_pg("new_subgroups_by_enumeration")
    if not ranks_per_subgroup_list:
        raise ValueError("The arg 'ranks_per_subgroup_list' cannot be empty")
    mine, groups, seen = None, [], set()
    for ranks in ranks_per_subgroup_list:
        if seen & set(ranks):
            raise ValueError(f"new_subgroups_by_enumeration: rank(s) {sorted(seen & set(ranks))}"
                             " appear in more than one subgroup")
        seen |= set(ranks)
        g = new_group(ranks, timeout, backend)
        groups.append(g)
        if _world.rank in ranks:
            mine = g
    return mine, groups  # (non-members hold GroupMember.NON_GROUP_MEMBER, as torch)


def is_backend_available(backend):
    return str(backend).lower() == "gloo"


def get_pg_count():
    return len(_world.groups)


def supports_complex(reduceOp):  # noqa: N803 (torch's name)
    return int(reduceOp) not in (ReduceOp.MAX, ReduceOp.MIN, ReduceOp.PRODUCT, ReduceOp.BAND,
                                 ReduceOp.BOR, ReduceOp.BXOR)


__all__ += ["send_object_list", "recv_object_list", "all_reduce_coalesced",
            "get_node_local_rank", "new_subgroups", "new_subgroups_by_enumeration",
            "is_backend_available", "get_pg_count", "supports_complex"]
