"""Scans, order statistics, counting and sorting helpers (cummax, quantile, unique...)."""

__all__ = []
