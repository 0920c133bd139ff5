"""``narae.nn``: modules, parameters, layers and the functional API (mirrors torch.nn)."""
from . import functional  # noqa: F401
