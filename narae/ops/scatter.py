"""Index-based writes and reads: index_copy/fill/put/reduce, scatter_reduce, take, put..."""

__all__ = []
