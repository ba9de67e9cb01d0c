"""Stopping a training run cleanly: SIGTERM or Ctrl-C ask the loop to save a checkpoint and exit.

Shared by supervised training (:mod:`jaxrobot.train.loop`) and RL fine-tuning (:mod:`jaxrobot.rl.loop`).
"""

from __future__ import annotations

import os
import signal
import sys
import threading
from collections.abc import Callable
from typing import Any

import jax


class Preemption:
    """SIGTERM or Ctrl-C → save at the current step and exit cleanly; a second Ctrl-C aborts at once.

    Multi-process: JAX's preemption sync point makes every process stop at the same step on SIGTERM (Ctrl-C
    there keeps Python's default: each process aborts; the last verified checkpoint stays the resume point).
    Single process: our own handlers set a flag checked after each step.
    """

    def __init__(self, log: Callable[[str], None] = print):
        self.multi = jax.process_count() > 1
        self.flag = False
        self.reason = ""
        self._log = log
        self._old: dict[int, Any] = {}
        if not self.multi and threading.current_thread() is threading.main_thread():
            self._old[signal.SIGTERM] = signal.signal(signal.SIGTERM, self._on_term)
            self._old[signal.SIGINT] = signal.signal(signal.SIGINT, self._on_int)

    def _on_term(self, signum, frame):
        self.flag, self.reason = True, self.reason or "SIGTERM"

    def _on_int(self, signum, frame):
        if self.flag and self.reason == "Ctrl-C":
            # At once means no cleanup that could block (an async save in flight, the prefetch thread): the OS
            # releases the workdir lock, and an unfinished checkpoint is never sealed, so it is never used.
            sys.stderr.write("aborted (second Ctrl-C): not saving; resuming starts from the newest checkpoint "
                             "that verifies\n")
            sys.stderr.flush()
            os._exit(130)
        self.flag, self.reason = True, "Ctrl-C"
        self._log("interrupted (Ctrl-C): saving a checkpoint after the current step; press Ctrl-C again to "
                  "abort without saving")

    def reached(self, step: int) -> bool:
        if self.multi:
            from jax.experimental import multihost_utils

            if multihost_utils.reached_preemption_sync_point(step):
                self.reason = "SIGTERM"
                return True
            return False
        return self.flag

    def close(self):
        for sig, old in self._old.items():
            signal.signal(sig, old)
        self._old.clear()
