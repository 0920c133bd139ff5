"""``narae.nn.parallel``: ``DistributedDataParallel`` (processes over narae.distributed) and
``DataParallel`` (one device: runs the module)."""
from .data_parallel import DataParallel, data_parallel
from .distributed import DistributedDataParallel

__all__ = ["DataParallel", "DistributedDataParallel", "data_parallel"]
