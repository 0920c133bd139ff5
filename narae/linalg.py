"""``narae.linalg``: torch.linalg's norms over narae's differentiable reductions."""
from .ops.reduce import vector_norm

__all__ = ["vector_norm", "norm", "matrix_norm"]


def matrix_norm(A, ord="fro", dim=(-2, -1), keepdim=False, *, dtype=None):
    """Frobenius norm over the last two dims (the other matrix norms need an SVD)."""
    if ord != "fro":
        raise NotImplementedError(f"matrix_norm: ord={ord!r} is not supported (only 'fro')")
    return vector_norm(A, 2, dim, keepdim, dtype=dtype)


def norm(A, ord=None, dim=None, keepdim=False, *, dtype=None):
    """Vector 2-norm by default; 'fro' for matrices; any vector ord with an int dim."""
    if ord == "fro" or (ord is None and isinstance(dim, tuple) and len(dim) == 2):
        return matrix_norm(A, "fro", dim if dim is not None else (-2, -1), keepdim, dtype=dtype)
    return vector_norm(A, 2 if ord is None else ord, dim, keepdim, dtype=dtype)
