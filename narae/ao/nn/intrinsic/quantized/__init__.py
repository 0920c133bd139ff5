"""Quantized fused modules: the ReLU is the lower clamp of the requantization (q >= zy)."""
from ...quantized import modules as _nnq

__all__ = ["LinearReLU", "ConvReLU1d", "ConvReLU2d"]


class LinearReLU(_nnq.Linear):
    """Quantized Linear with a fused ReLU."""
    _relu = True


class ConvReLU1d(_nnq.Conv1d):
    """Quantized Conv1d with a fused ReLU."""
    _relu = True


class ConvReLU2d(_nnq.Conv2d):
    """Quantized Conv2d with a fused ReLU."""
    _relu = True
