"""How the ``jaxrobot`` command reports failures: one short message, never a traceback unless asked for.

Exit codes: 2 for bad input (arguments, configs, data, damaged checkpoints or bundles, a held workdir), 1 for
the environment or an internal error (disk full, permissions, a bug), 130 for Ctrl-C outside training; 3 stays
"training stopped on non-finite values" (``jaxrobot train`` returns it itself). ``--debug`` or
``JAXROBOT_DEBUG=1`` re-raises instead, with the full traceback.
"""

from __future__ import annotations

import errno
import logging

MAX_LINES = 12  # of the message itself; the contract is <= 20 lines of output in all
MAX_LINE_CHARS = 600
DEBUG_HINT = "(run with --debug or JAXROBOT_DEBUG=1 for the Python traceback)"

# Exceptions whose message already says what is wrong and where, by class name along the MRO, so that this
# module needs no import of the library (the runtime's BundleIntegrityError comes from another package).
USER_ERRORS = frozenset({
    "CliError", "ConfigError", "DataError", "ExportError", "CheckpointIntegrityError", "WorkdirLocked", "DirLocked",
    "LeaderError", "FollowerError",
    "BundleIntegrityError", "BundleError", "FileNotFoundError", "NotADirectoryError", "IsADirectoryError",
})


class CliError(Exception):
    """A user-facing error of the command line itself (a bad argument): ``error: ...``, exit status 2."""


def describe(e: BaseException) -> tuple[str, int]:
    """``(message, exit code)`` for an exception that reached the command line."""
    if isinstance(e, KeyboardInterrupt):
        return "interrupted (Ctrl-C)" + (f": {e}" if str(e) else ""), 130
    no_space = _find(e, lambda x: isinstance(x, OSError) and x.errno == errno.ENOSPC
                     or "No space left on device" in str(x))
    if no_space is not None:
        where = getattr(no_space, "filename", None)
        return (f"error: no space left on device{f' while writing {where}' if where else ''}; free space and "
                f"run the command again (nothing half-written is kept as complete)"), 1
    if any(c.__name__ in USER_ERRORS for c in type(e).__mro__):
        return _clip(f"error: {e}"), 2
    if isinstance(e, PermissionError):
        return _clip(f"error: permission denied: {e.filename or e}"), 1
    if isinstance(e, OSError):
        return _clip(f"error: {e}"), 1
    return _clip(f"error: unexpected {type(e).__name__}: {e}") + "\n" + DEBUG_HINT, 1


def quiet_library_logs() -> None:
    """Library loggers print warnings as multi-line noise, and orbax logs a failed background save with its
    whole traceback (300+ lines on a full disk) before the same exception reaches :func:`describe`. Without
    ``--debug`` they keep only critical records; the error itself is still reported, in one message."""
    for name in ("absl", "jax", "orbax"):
        logging.getLogger(name).setLevel(logging.CRITICAL)


def _find(e: BaseException, pred) -> BaseException | None:
    seen = set()
    while e is not None and id(e) not in seen:
        seen.add(id(e))
        if pred(e):
            return e
        e = e.__cause__ or e.__context__
    return None


def _clip(text: str) -> str:
    lines = [ln if len(ln) <= MAX_LINE_CHARS else ln[:MAX_LINE_CHARS] + " ..." for ln in text.splitlines()]
    if len(lines) > MAX_LINES:
        lines = lines[:MAX_LINES] + [f"... ({len(lines) - MAX_LINES} more lines)"]
    return "\n".join(lines) or "error"
