"""The command line's own error: a bad argument, printed as one line ``error: ...`` with exit status 2."""

from __future__ import annotations


class CliError(Exception):
    """A user-facing error: printed as one line ``error: ...`` with exit status 2."""
