"""Errors of the recording stack, below both leaders and devices so either can raise them."""

from __future__ import annotations


class LeaderError(RuntimeError):
    """A leader device cannot be used (not found, not answering, bad calibration); the message says why."""
