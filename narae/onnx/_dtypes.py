"""NumPy dtypes as ONNX TensorProto element types (the numbers, so onnx need not be loaded)."""
import numpy as np

from .errors import OnnxExporterError

__all__ = ["onnx_type"]

_TYPES = {"float32": 1, "uint8": 2, "int8": 3, "uint16": 4, "int16": 5, "int32": 6,
          "int64": 7, "bool": 9, "float16": 10, "float64": 11, "uint32": 12, "uint64": 13,
          "bfloat16": 16}


def onnx_type(dtype):
    """The TensorProto.DataType number of a NumPy dtype (float32 -> 1, int64 -> 7...)."""
    name = np.dtype(dtype).name
    t = _TYPES.get(name)
    if t is None:
        raise OnnxExporterError(f"narae.onnx.export: dtype {name} has no ONNX tensor type")
    return t
