"""narae.ao.nn.intrinsic: fused modules (torch.ao.nn.intrinsic) and their quantized and
QAT forms (``.quantized``, ``.qat``)."""
from .modules import *  # noqa: F401,F403
from . import quantized, qat  # noqa: F401,E402
