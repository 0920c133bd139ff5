"""torch's ``*_copy`` variants of view ops (``permute_copy``...) and other top-level odds."""

__all__ = []
