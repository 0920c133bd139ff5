"""Tensors built from index patterns: meshgrid, tril_indices, block_diag, cartesian_prod..."""

__all__ = []
