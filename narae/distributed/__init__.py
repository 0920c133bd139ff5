"""``narae.distributed``: torch.distributed's process groups and collectives, over TCP
between processes (the "gloo" backend, on the CPU; CuPy tensors go through the host).

    import narae.distributed as dist
    dist.init_process_group("gloo")          # env://: MASTER_ADDR, MASTER_PORT, RANK, WORLD_SIZE
    dist.all_reduce(t)                       # t = sum over ranks, in place
"""
from .errors import *  # noqa: F401,F403
from .store import *  # noqa: F401,F403
from .distributed_c10d import *  # noqa: F401,F403
from . import errors as _errors, store as _store, distributed_c10d as _c10d

__all__ = _errors.__all__ + _store.__all__ + _c10d.__all__
