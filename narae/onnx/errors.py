"""The exporter's exceptions (torch.onnx.errors' names)."""

__all__ = ["OnnxExporterError", "UnsupportedOperatorError", "OnnxExporterWarning"]


class OnnxExporterError(RuntimeError):
    """Something in the model cannot be exported to ONNX."""


class UnsupportedOperatorError(OnnxExporterError):
    """An op has no ONNX mapping (at the requested opset)."""


class OnnxExporterWarning(UserWarning):
    """Export went on, but the graph may not behave exactly like the model."""
