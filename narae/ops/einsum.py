"""einsum and tensordot: contractions by subscripts."""

__all__ = []
