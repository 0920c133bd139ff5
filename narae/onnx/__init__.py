"""``narae.onnx``: export narae models to ONNX (torch.onnx's API, the tracing exporter).

``narae.onnx.export(model, args, "model.onnx")`` runs the model once, records every op and
writes the graph. Importing this package needs nothing extra; ``export`` needs the ``onnx``
package (``pip install 'narae[onnx]'``, which also brings onnxruntime to run the file).

The package: ``_trace`` (the instrumentation layer that sees each op call and names the
values), ``_graph`` (nodes, initializers, opset-dependent helpers), one mapping module per
family of ops (``_map_elementwise``, ``_map_shape``, ``_map_nn``, ``_map_extra``, registered
by Function class in ``_registry``) and ``_export`` (the API and the writer).
"""
from . import errors
from .errors import OnnxExporterError
from ._export import (export, is_in_onnx_export, select_model_mode_for_export, TrainingMode,
                      OperatorExportTypes, DEFAULT_OPSET, producer_name, producer_version)

__all__ = ["export", "is_in_onnx_export", "select_model_mode_for_export", "TrainingMode",
           "OperatorExportTypes", "OnnxExporterError", "errors", "DEFAULT_OPSET",
           "producer_name", "producer_version"]
