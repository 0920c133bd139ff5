"""Matrix products with accumulation (addmm, baddbmm...), diagonals, trace, kron, cross."""

__all__ = []
