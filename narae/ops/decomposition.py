"""Differentiable matrix decompositions and solvers behind narae.linalg."""

__all__ = []
