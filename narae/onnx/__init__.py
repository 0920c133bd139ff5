"""``narae.onnx``: export narae models to ONNX (torch.onnx's API)."""

__all__ = []
