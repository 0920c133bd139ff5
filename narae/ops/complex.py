"""Complex-number ops: real/imag views, polar form, conjugation (torch's complex API)."""

__all__ = []
