"""Dynamically quantized modules (torch.ao.nn.quantized.dynamic): int8 weights, float input
and output; each call picks the input's qparams from its own min/max."""
from .modules import *  # noqa: F401,F403
