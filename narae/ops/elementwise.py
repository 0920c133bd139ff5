"""Elementwise math beyond arith: inverse trig/hyperbolic, special functions, float helpers."""

__all__ = []
