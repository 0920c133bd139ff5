"""Randomised low-rank factorisations and eigensolvers: svd_lowrank, pca_lowrank, lobpcg."""

__all__ = []
