"""Quiet import of ``mujoco.mjx``.

Without warp installed, ``import mujoco.mjx`` prints two "Failed to import warp" lines on *stdout*
(mujoco/mjx/warp/__init__.py uses ``print``). ``jaxrobot sim gen-demos`` promises that its last stdout
line is a path, and other tools parse stdout too, so every jaxrobot module imports mjx through here:
the import-time prints are captured and dropped (only the JAX implementation is used).
"""

from __future__ import annotations

import contextlib
import io
import sys


def import_mjx():
    """Return the ``mujoco.mjx`` module without its import-time prints on stdout."""
    if "mujoco.mjx" in sys.modules:
        return sys.modules["mujoco.mjx"]
    with contextlib.redirect_stdout(io.StringIO()):
        import mujoco.mjx as mjx
    return mjx


mjx = import_mjx()
