"""Lazy modules: shapes of parameters inferred from the first input (LazyLinear, LazyConv2d...)."""

__all__ = []
