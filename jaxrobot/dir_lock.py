"""One writer per folder: an exclusive ``flock`` on a lock file inside it for the life of a writer.

The kernel releases a ``flock`` when its process dies, however it dies (``kill -9`` included), so a lock is
never stale: whoever opens the file next gets it. The file holds the holder's PID, host, purpose and start
time, so a second writer fails at once with a message naming them. The file stays after the writer ends (its
contents then describe the last holder); only the lock matters.

On a network filesystem ``flock`` is as good as that filesystem's lock support (NFSv4 and Lustre honour it;
some FUSE filesystems do not). Used for training workdirs (:mod:`jaxrobot.train.workdir_lock`) and for
datasets being recorded (:mod:`jaxrobot.data.rlds.appender`).
"""

from __future__ import annotations

import fcntl
import json
import os
import pathlib
import socket
import time


class DirLocked(RuntimeError):
    """Another live process holds the folder; the message names its PID and host."""


class DirLock:
    """Holds ``<folder>/<lock_name>`` from :meth:`acquire` until :meth:`release` or process death.

    ``noun`` and ``hint`` make the message (``"<noun> <folder> is in use by ...; <hint>"``); ``error`` is the
    exception class raised when the lock is taken.
    """

    def __init__(self, folder: str | os.PathLike, lock_name: str, purpose: str, *, noun: str = "folder",
                 hint: str = "wait for it to finish or stop it", error: type[DirLocked] = DirLocked):
        self.path = pathlib.Path(folder).absolute() / lock_name
        self.purpose, self.noun, self.hint, self.error = purpose, noun, hint, error
        self._fd: int | None = None

    def acquire(self) -> DirLock:
        """Take the lock without waiting; raises ``error`` naming the holder if it is taken."""
        fd = os.open(self.path, os.O_RDWR | os.O_CREAT, 0o644)
        try:
            fcntl.flock(fd, fcntl.LOCK_EX | fcntl.LOCK_NB)
        except BlockingIOError:
            holder = _describe(_read_holder(fd))
            os.close(fd)
            raise self.error(f"{self.noun} {self.path.parent} is in use by another {holder}; {self.hint}") from None
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

    def __enter__(self) -> DirLock:
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
        return "process (holder unknown: it has not written its PID yet)"
    started = time.strftime("%Y-%m-%d %H:%M:%S", time.localtime(info.get("started_unix", 0)))
    return f"{info.get('purpose', 'process')} (PID {info['pid']} on host {info.get('host', '?')}, since {started})"
