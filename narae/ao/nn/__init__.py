"""narae.ao.nn: quantized, fused (intrinsic) and quantization-aware-training modules."""
from . import intrinsic, qat, quantized  # noqa: F401
