"""Utilities that mirror ``torch.utils``: ``narae.utils.data`` (datasets, samplers, loaders)."""
from . import data  # noqa: F401

__all__ = ["data"]
