"""Export trained models for edge robots: ONNX (TensorRT-ready) and TFLite bundles with proven parity.

Public API:
- :func:`jaxrobot.export.bundle.export_checkpoint` (``jaxrobot export`` on the command line);
- :func:`jaxrobot.export.functions.export_plan` and :class:`~jaxrobot.export.functions.ExportPlan`: the pure
  inference functions a model exports (a model opts in with an ``export_plan`` method or an adapter);
- :func:`jaxrobot.export.onnx_export.to_onnx`, :func:`jaxrobot.export.tflite_export.to_tflite`;
- :func:`jaxrobot.export.tensorrt.check`: the TensorRT op/opset check run on every ONNX graph.

The robot side lives in ``export/runtime`` (package ``jaxrobot_runtime``), which needs only numpy and ONNX
Runtime or LiteRT.
"""

from jaxrobot.export.errors import ExportError

__all__ = ["ExportError"]
