"""One writer per workdir: an exclusive ``flock`` on ``<workdir>/.jaxrobot.lock`` for the life of a run
(:class:`jaxrobot.dir_lock.DirLock`: released by the kernel however the run dies, so never stale). Only process
0 of a multi-process run takes the lock."""

from __future__ import annotations

import os

from jaxrobot.dir_lock import DirLock, DirLocked

LOCK_NAME = ".jaxrobot.lock"


class WorkdirLocked(DirLocked):
    """Another live run holds the workdir; the message names its PID and host."""


class WorkdirLock(DirLock):
    """Holds ``<workdir>/.jaxrobot.lock`` from :meth:`acquire` until :meth:`release` or process death."""

    def __init__(self, workdir: str | os.PathLike, purpose: str = "jaxrobot train"):
        super().__init__(workdir, LOCK_NAME, purpose, noun="workdir", error=WorkdirLocked,
                         hint="wait for it to finish, stop it, or use another --workdir")
