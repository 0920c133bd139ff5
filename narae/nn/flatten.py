"""``Flatten`` and ``Unflatten``: reshape between a conv stack and a linear head."""
from ..ops.shape import reshape
from ..ops._operands import normalize_dim
from .module import Module

__all__ = ["Flatten", "Unflatten"]


class Flatten(Module):
    """Merge dims ``start_dim..end_dim`` into one (default: everything but the batch dim)."""

    def __init__(self, start_dim=1, end_dim=-1):
        super().__init__()
        self.start_dim = start_dim
        self.end_dim = end_dim

    def forward(self, input):
        if input.ndim == 0:
            return reshape(input, (1,))
        s = normalize_dim(self.start_dim, input.ndim)
        e = normalize_dim(self.end_dim, input.ndim)
        if s > e:
            raise RuntimeError(f"{self!r}: start_dim cannot come after end_dim for input of "
                               f"shape {tuple(input.shape)}")
        shape = tuple(input.shape)
        merged = 1
        for d in shape[s:e + 1]:
            merged *= d
        return reshape(input, shape[:s] + (merged,) + shape[e + 1:])

    def extra_repr(self):
        return f"start_dim={self.start_dim}, end_dim={self.end_dim}"


class Unflatten(Module):
    """Split dim ``dim`` into ``unflattened_size`` (may contain one -1)."""

    def __init__(self, dim, unflattened_size):
        super().__init__()
        if isinstance(dim, str):
            raise TypeError("Unflatten: named dimensions are not supported")
        if not isinstance(unflattened_size, (tuple, list)):
            raise TypeError(f"unflattened_size must be tuple or list, got "
                            f"{type(unflattened_size).__name__}")
        self.dim = dim
        self.unflattened_size = unflattened_size

    def forward(self, input):
        d = normalize_dim(self.dim, input.ndim)
        shape = tuple(input.shape)
        return reshape(input, shape[:d] + tuple(self.unflattened_size) + shape[d + 1:])

    def extra_repr(self):
        return f"dim={self.dim}, unflattened_size={self.unflattened_size}"
