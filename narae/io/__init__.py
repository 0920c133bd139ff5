"""``narae.io``: safetensors files, nested-state save/load, checkpoints, atomic writes.

Nothing here uses pickle: tensors are raw bytes, everything else is JSON.
"""
from .atomic import atomic_write, atomic_write_bytes, atomic_write_text
from .safetensors import save_file, load_file, read_metadata, read_header
from .state import save, load
from .checkpoint import save_checkpoint, load_checkpoint

__all__ = ["atomic_write", "atomic_write_bytes", "atomic_write_text", "save_file", "load_file",
           "read_metadata", "read_header", "save", "load", "save_checkpoint", "load_checkpoint"]
