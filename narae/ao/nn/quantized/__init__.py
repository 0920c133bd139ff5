"""narae.ao.nn.quantized: modules computing on quantized tensors (torch.ao.nn.quantized)."""
from .modules import *  # noqa: F401,F403
from . import dynamic  # noqa: F401
