"""narae.ao.quantization: torch.ao.quantization's eager-mode workflow - observers, fake
quantization, qconfigs, QuantStub/DeQuantStub, fuse_modules, prepare / prepare_qat /
convert and quantize_dynamic."""
from .observer import *  # noqa: F401,F403
from .fake_quantize import *  # noqa: F401,F403
from .qconfig import *  # noqa: F401,F403
from .stubs import *  # noqa: F401,F403
from .fuse_modules import *  # noqa: F401,F403
from .quantization_mappings import *  # noqa: F401,F403
from .quantize import *  # noqa: F401,F403
from . import observer, fake_quantize, qconfig, stubs, quantization_mappings  # noqa: F401
