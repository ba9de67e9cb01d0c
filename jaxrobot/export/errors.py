"""The one error type of the export package: an export that cannot be made or does not match."""

from __future__ import annotations


class ExportError(RuntimeError):
    """Conversion failed (the message names the op and where it comes from in the model), a graph uses an op
    TensorRT does not support, or an artifact does not match ``jax.jit`` (the message gives the numbers)."""
