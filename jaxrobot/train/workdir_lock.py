"""One writer per workdir: an exclusive ``flock`` on ``<workdir>/.jaxrobot.lock`` for the life of a run.

The kernel releases a ``flock`` when its process dies, however it dies (``kill -9`` included), so a lock is
never stale: whoever opens the file next gets it. The file holds the holder's PID, host and start time, so a
second ``jaxrobot train`` on the same workdir fails at once with a message naming them. The file stays after
the run (its contents then describe the last holder); only the lock matters.

On a network filesystem ``flock`` is as good as that filesystem's lock support (NFSv4 and Lustre honour it;
some FUSE filesystems do not). Only process 0 of a multi-process run takes the lock.
"""

from __future__ import annotations

import fcntl
import json
import os
import pathlib
import socket
import time

LOCK_NAME = ".jaxrobot.lock"


class WorkdirLocked(RuntimeError):
    """Another live process holds the workdir; the message names its PID and host."""


class WorkdirLock:
    """Holds ``<workdir>/.jaxrobot.lock`` from :meth:`acquire` until :meth:`release` or process death."""

    def __init__(self, workdir: str | os.PathLike, purpose: str = "jaxrobot train"):
        self.path = pathlib.Path(workdir).absolute() / LOCK_NAME
        self.purpose = purpose
        self._fd: int | None = None

    def acquire(self) -> WorkdirLock:
        """Take the lock without waiting; raises :class:`WorkdirLocked` naming the holder if it is taken."""
        fd = os.open(self.path, os.O_RDWR | os.O_CREAT, 0o644)
        try:
            fcntl.flock(fd, fcntl.LOCK_EX | fcntl.LOCK_NB)
        except BlockingIOError:
            holder = _describe(_read_holder(fd))
            os.close(fd)
            raise WorkdirLocked(f"workdir {self.path.parent} is in use by another run ({holder}); wait for it "
                                f"to finish, stop it, or use another --workdir") from None
        except BaseException:
            os.close(fd)
            raise
        info = {"pid": os.getpid(), "host": socket.gethostname(), "purpose": self.purpose,
                "started_unix": round(time.time(), 3)}
        os.ftruncate(fd, 0)
        os.pwrite(fd, (json.dumps(info) + "\n").encode(), 0)
        self._fd = fd
        return self

    def release(self) -> None:
        if self._fd is not None:
            fcntl.flock(self._fd, fcntl.LOCK_UN)
            os.close(self._fd)
            self._fd = None

    def __enter__(self) -> WorkdirLock:
        return self.acquire()

    def __exit__(self, *exc) -> None:
        self.release()


def _read_holder(fd: int) -> dict:
    try:
        return json.loads(os.pread(fd, 4096, 0).decode() or "{}")
    except (OSError, ValueError):
        return {}


def _describe(info: dict) -> str:
    if not info.get("pid"):
        return "holder unknown: it has not written its PID yet"
    started = time.strftime("%Y-%m-%d %H:%M:%S", time.localtime(info.get("started_unix", 0)))
    return f"{info.get('purpose', 'a process')}, PID {info['pid']} on host {info.get('host', '?')}, since {started}"
