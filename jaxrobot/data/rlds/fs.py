"""One filesystem layer for datasets: local paths directly, URLs (``gs://``, ``s3://``...) through tf.io.gfile.

Why: Open X-Embodiment is hosted on ``gs://gresearch/robotics``; readers and writers must treat a bucket and
a local folder the same way, but TensorFlow (~5 s, ~670 MB to import) must only be paid for when a URL is
actually used. Local paths (and ``file://`` URLs) never import TensorFlow. ``gs://`` reads are tested against a
local stand-in for GCS (tests/data/test_gcs_paths.py); writes to URLs and other schemes are not tested.

Random access goes through :class:`RandomAccessFile`, whose :meth:`~RandomAccessFile.pread` is safe to call
from several threads (``os.pread`` locally; a lock around seek+read for gfile).
"""

from __future__ import annotations

import dataclasses
import os
import shutil
import threading
import uuid
from typing import IO

_tf_gfile = None


def _gfile():
    """tf.io.gfile, imported on first use of a URL (with GPUs hidden from TF)."""
    global _tf_gfile
    if _tf_gfile is None:
        from jaxrobot.platform import import_tensorflow

        _tf_gfile = import_tensorflow().io.gfile
    return _tf_gfile


def is_remote(path: str) -> bool:
    """True for URLs such as ``gs://bucket/x`` (``file://`` counts as local)."""
    path = os.fspath(path)
    return "://" in path and not path.startswith("file://")


def _local(path: str) -> str:
    path = os.fspath(path)
    return path[len("file://"):] if path.startswith("file://") else path


def join(*parts: str) -> str:
    """Join path parts with ``/`` for URLs and ``os.path.join`` locally."""
    first = os.fspath(parts[0])
    if is_remote(first):
        return "/".join([first.rstrip("/")] + [os.fspath(p).strip("/") for p in parts[1:]])
    return os.path.join(first, *map(os.fspath, parts[1:]))


def basename(path: str) -> str:
    return os.fspath(path).rstrip("/").rsplit("/", 1)[-1]


def dirname(path: str) -> str:
    path = os.fspath(path).rstrip("/")
    if is_remote(path):
        return path.rsplit("/", 1)[0]
    return os.path.dirname(path)


def exists(path: str) -> bool:
    if is_remote(path):
        return bool(_gfile().exists(path))
    return os.path.exists(_local(path))


def isdir(path: str) -> bool:
    if is_remote(path):
        return bool(_gfile().isdir(path))
    return os.path.isdir(_local(path))


def listdir(path: str) -> list[str]:
    """Entry names (not paths) in a folder, sorted; folder names carry no trailing slash."""
    if is_remote(path):
        return sorted(name.rstrip("/") for name in _gfile().listdir(path))
    return sorted(os.listdir(_local(path)))


@dataclasses.dataclass(frozen=True)
class FileStat:
    size: int
    mtime: float  # seconds since the epoch


def stat(path: str) -> FileStat:
    if is_remote(path):
        st = _gfile().stat(path)
        return FileStat(size=int(st.length), mtime=st.mtime_nsec / 1e9)
    st = os.stat(_local(path))
    return FileStat(size=st.st_size, mtime=st.st_mtime)


def makedirs(path: str) -> None:
    if is_remote(path):
        _gfile().makedirs(path)
    else:
        os.makedirs(_local(path), exist_ok=True)


def rename(src: str, dst: str, overwrite: bool = False) -> None:
    """Rename a file or folder. Locally atomic (same filesystem); object stores copy, so they are not."""
    if is_remote(src) or is_remote(dst):
        gf = _gfile()
        if gf.isdir(src):  # gfile renames files only: copy the tree file by file, then delete it
            if gf.exists(dst):
                if not overwrite:
                    raise FileExistsError(dst)
                gf.rmtree(dst)
            for root, _, files in gf.walk(src):
                rel = root[len(src.rstrip("/")):].strip("/")
                target = join(dst, rel) if rel else dst
                gf.makedirs(target)
                for f in files:
                    gf.copy(join(root, f), join(target, f), overwrite=True)
            gf.rmtree(src)
        else:
            gf.rename(src, dst, overwrite=overwrite)
        return
    src, dst = _local(src), _local(dst)
    if not os.path.lexists(dst):
        os.rename(src, dst)
        return
    if not overwrite:
        raise FileExistsError(dst)
    if not os.path.isdir(src):
        os.replace(src, dst)  # atomic for files
        return
    # A folder cannot be renamed onto a non-empty one: move the old one aside first, so dst is never
    # missing for longer than between two renames and never half-written.
    trash = os.path.join(os.path.dirname(dst), f".{os.path.basename(dst)}.old-{process_tag()}-{uuid.uuid4().hex[:8]}")
    os.rename(dst, trash)
    os.rename(src, dst)
    remove(trash)


def process_tag() -> str:
    """``<host>-<pid>`` of this process, for the names of temporary folders, so that a later writer can tell
    the folders of dead processes (see :func:`jaxrobot.data.rlds.writer.remove_orphans`)."""
    import re
    import socket

    return f"{re.sub(r'[^A-Za-z0-9_.]', '_', socket.gethostname()) or 'host'}-{os.getpid()}"


def remove(path: str) -> None:
    """Delete a file or a whole folder (missing paths are fine)."""
    if is_remote(path):
        gf = _gfile()
        if gf.isdir(path):
            gf.rmtree(path)
        elif gf.exists(path):
            gf.remove(path)
        return
    path = _local(path)
    if os.path.isdir(path) and not os.path.islink(path):
        shutil.rmtree(path, ignore_errors=True)
    elif os.path.lexists(path):
        os.remove(path)


def open_read(path: str) -> IO[bytes]:
    """A binary, seekable file object for reading."""
    if is_remote(path):
        return _gfile().GFile(path, "rb")
    return open(_local(path), "rb")


def open_write(path: str) -> IO[bytes]:
    """A binary file object for writing (truncates)."""
    if is_remote(path):
        return _gfile().GFile(path, "wb")
    return open(_local(path), "wb")


def read_bytes(path: str, offset: int = 0, length: int | None = None) -> bytes:
    """Bytes ``[offset, offset + length)`` of a file (to the end when ``length`` is None)."""
    with open_read(path) as f:
        if offset:
            f.seek(offset)
        return f.read() if length is None else f.read(length)


def read_text(path: str) -> str:
    return read_bytes(path).decode("utf-8")


def write_bytes(path: str, data: bytes) -> None:
    with open_write(path) as f:
        f.write(data)


def write_text(path: str, text: str) -> None:
    write_bytes(path, text.encode("utf-8"))


class RandomAccessFile:
    """A file opened once for many positioned reads (``pread``), safe to share between threads."""

    def __init__(self, path: str):
        self.path = os.fspath(path)
        self._lock = threading.Lock()
        if is_remote(self.path):
            self._fd = None
            self._f: IO[bytes] | None = open_read(self.path)
        else:
            self._fd = os.open(_local(self.path), os.O_RDONLY)
            self._f = None

    def pread(self, offset: int, length: int) -> bytes:
        """Up to ``length`` bytes from ``offset`` (fewer only at the end of the file)."""
        if self._fd is not None:
            chunks = []
            while length > 0:  # os.pread may return short reads on some filesystems
                got = os.pread(self._fd, length, offset)
                if not got:
                    break
                chunks.append(got)
                offset += len(got)
                length -= len(got)
            return chunks[0] if len(chunks) == 1 else b"".join(chunks)
        if self._f is None:
            raise ValueError(f"{self.path}: file is closed")
        with self._lock:
            self._f.seek(offset)
            return self._f.read(length)

    def size(self) -> int:
        if self._fd is not None:
            return os.fstat(self._fd).st_size
        return stat(self.path).size

    def close(self) -> None:
        if self._fd is not None:
            os.close(self._fd)
            self._fd = None
        if self._f is not None:
            self._f.close()
            self._f = None

    def __enter__(self) -> RandomAccessFile:
        return self

    def __exit__(self, *exc) -> None:
        self.close()

    def __del__(self) -> None:
        try:
            self.close()
        except Exception:  # noqa: BLE001 - interpreter shutdown
            pass

    def __getstate__(self):  # pickled into worker processes: reopen there
        return {"path": self.path}

    def __setstate__(self, state) -> None:
        self.__init__(state["path"])
