"""narae.ao: quantization (torch.ao): observers, fake quantization, the eager-mode
prepare/convert workflow (``narae.ao.quantization``) and quantized modules (``narae.ao.nn``)."""
import importlib

__all__ = ["quantization", "nn"]


def __getattr__(name):
    if name in __all__:
        return importlib.import_module(f"{__name__}.{name}")
    raise AttributeError(f"module {__name__!r} has no attribute {name!r}")
