"""The one error type of the export package (defined beside the export plans, which raise it too)."""

from __future__ import annotations

from jaxrobot.models.export_plan import ExportError

__all__ = ["ExportError"]
