"""Utilities that mirror ``torch.utils``: ``narae.utils.data`` (datasets, samplers, loaders),
``narae.utils.checkpoint`` (gradient checkpointing), ``narae.utils.tensorboard``
(SummaryWriter)."""
from . import data, checkpoint  # noqa: F401

__all__ = ["data", "checkpoint", "tensorboard"]


def __getattr__(name):
    if name == "tensorboard":  # imported on use: it pulls in the training package
        import importlib
        return importlib.import_module(f"{__name__}.tensorboard")
    raise AttributeError(f"module {__name__!r} has no attribute {name!r}")
