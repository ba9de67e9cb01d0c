"""Batches built in worker processes, handed back through shared memory.

Threads cannot run the Python half of batch assembly (windows, normalisation, copies) in parallel, and on the
first pass over a JPEG dataset that half costs as much as the decoding itself. :class:`ProcessAssembler` runs
the rows of each batch among ``processes`` worker processes (by episode, so each keeps its own share of the
caches), which write them into a shared-memory slot; the caller's batch arrays are views of that slot, which is
reused once they are all gone (nothing pickled, nothing copied, no page faults per batch: a fresh segment per
batch was slower, the kernel zeroing and mapping every page twice). Slots are files ``jaxrobot-<pid>-<n>`` in
``/dev/shm``, removed on close; a new assembler removes those of processes that no longer exist (a trainer
killed with ``-9``).

Workers are fresh interpreters (``python -c ...``, talking over their stdin/stdout): unlike
``multiprocessing``'s ``spawn`` they do not re-import the caller's main script (a script without an
``if __name__ == "__main__"`` guard would start training again in each worker), and unlike ``fork`` they never
inherit the trainer's JAX threads. A worker whose parent dies reads end-of-file and exits.

A worker is built once from a picklable *recipe* (a zero-argument callable returning the filler); a filler is
a callable ``filler(work, out) -> info`` that writes one batch into the zeroed arrays ``out`` and returns
something small and picklable (e.g. the corrupt frames it met). Batches are a pure function of ``work``, so a
batch is the same whichever worker builds it, and resume stays exact. An exception in a worker (a corrupt
frame, a missing file) is raised again in the caller with its message.

Why not grain: its multiprocess prefetch would own the iteration order and the checkpointed iterator state,
which here belong to :mod:`jaxrobot.data.sampler` (one state for single datasets and mixtures alike, shared
with the thread path); what is left to parallelise is this one function call per batch.
"""

from __future__ import annotations

import collections
import concurrent.futures as futures
import mmap
import os
import pickle
import queue
import signal
import struct
import subprocess
import sys
import tempfile
import threading
import weakref
from collections.abc import Callable
from typing import IO, Any

import numpy as np

from jaxrobot.data.base import DataError

_ALIGN = 64
_PREFIX = "jaxrobot-"
_POPULATE = getattr(mmap, "MAP_POPULATE", 0)  # fault the segment's pages in one call, not one at a time


def segment_layout(keys: dict[str, dict]) -> tuple[dict[str, int], int]:
    """Byte offsets of each array of a spec's ``keys`` in one segment (64-byte aligned) and its size."""
    offsets, size = {}, 0
    for k, v in keys.items():
        offsets[k] = size
        n = int(np.prod(v["shape"], dtype=np.int64)) * np.dtype(v["dtype"]).itemsize
        size += -(-max(n, 1) // _ALIGN) * _ALIGN
    return offsets, max(size, _ALIGN)


def segment_arrays(buf, keys: dict[str, dict], offsets: dict[str, int]) -> dict[str, np.ndarray]:
    """The arrays of ``keys`` as views into ``buf`` (they keep it alive)."""
    return {k: np.ndarray(v["shape"], v["dtype"], buffer=buf, offset=offsets[k]) for k, v in keys.items()}


def _map(path: str, size: int, *, create: bool) -> mmap.mmap:
    fd = os.open(path, os.O_RDWR | (os.O_CREAT | os.O_EXCL if create else 0), 0o600)
    try:
        if create:
            os.ftruncate(fd, size)
        return mmap.mmap(fd, size, flags=mmap.MAP_SHARED | _POPULATE)
    finally:
        os.close(fd)


def shm_dir() -> str:
    """Where segments live: ``/dev/shm`` (memory) when the system has it, else the temp folder."""
    return "/dev/shm" if os.path.isdir("/dev/shm") else tempfile.gettempdir()


def remove_orphan_segments(folder: str | None = None) -> int:
    """Remove segments left by processes that no longer exist; returns how many."""
    folder = folder or shm_dir()
    removed = 0
    try:
        names = os.listdir(folder)
    except OSError:
        return 0
    for name in names:
        if not name.startswith(_PREFIX):
            continue
        try:
            pid = int(name[len(_PREFIX):].split("-")[0])
            os.kill(pid, 0)
        except ValueError:
            continue
        except ProcessLookupError:
            try:
                os.unlink(os.path.join(folder, name))
                removed += 1
            except OSError:
                pass
        except PermissionError:  # another user's live process
            continue
    return removed


def _send(f: IO[bytes], obj: Any) -> None:
    data = pickle.dumps(obj, protocol=pickle.HIGHEST_PROTOCOL)
    f.write(struct.pack("<Q", len(data)) + data)
    f.flush()


def _recv(f: IO[bytes]) -> Any:
    head = f.read(8)
    if len(head) < 8:
        raise EOFError
    (n,) = struct.unpack("<Q", head)
    data = f.read(n)
    if len(data) < n:
        raise EOFError
    return pickle.loads(data)


def serve() -> None:
    """A worker's main loop: the recipe, then ``(slot, keys, rows, work)`` requests until end-of-file."""
    signal.signal(signal.SIGINT, signal.SIG_IGN)  # Ctrl-C is the parent's to handle; it closes our stdin
    requests = os.fdopen(os.dup(0), "rb")
    replies = os.fdopen(os.dup(1), "wb")
    os.dup2(2, 1)  # anything printed goes to stderr, never into the reply stream
    try:
        filler = _recv(requests)()
        _send(replies, ("ok", None))
    except EOFError:
        return
    except Exception as e:  # noqa: BLE001 (reported to the parent, which raises it)
        _send(replies, ("error", _portable(e)))
        return
    slots: dict[str, tuple[mmap.mmap, dict[str, np.ndarray]]] = {}
    while True:
        try:
            path, keys, rows, work = _recv(requests)
        except EOFError:
            return
        try:
            if path not in slots:
                offsets, size = segment_layout(keys)
                buf = _map(path, size, create=False)
                slots[path] = (buf, segment_arrays(buf, keys, offsets))
            out = slots[path][1]
            for a in out.values():
                a[rows] = 0
            reply = ("ok", filler(work, out))
        except Exception as e:  # noqa: BLE001
            reply = ("error", _portable(e))
        _send(replies, reply)


def _portable(e: Exception) -> Exception:
    """``e`` if it pickles (a DataError does), else a RuntimeError with its type and message."""
    try:
        pickle.loads(pickle.dumps(e))
        return e
    except Exception:  # noqa: BLE001
        return RuntimeError(f"{type(e).__name__}: {e}")


class _Worker:
    """One worker process: requests go down its stdin in order, a reader thread resolves the replies (which
    come back in the same order) as futures."""

    def __init__(self, recipe: Callable[[], Callable], name: str):
        import jaxrobot

        root = os.path.dirname(os.path.dirname(os.path.abspath(jaxrobot.__file__)))
        env = dict(os.environ, PYTHONPATH=os.pathsep.join([root, *filter(None, [os.environ.get("PYTHONPATH")])]))
        self.name = name
        self.proc = subprocess.Popen([sys.executable, "-c", "from jaxrobot.data.sources.workers import serve; serve()"],
                                     stdin=subprocess.PIPE, stdout=subprocess.PIPE, env=env)
        self._lock = threading.Lock()
        self._pending: collections.deque[futures.Future] = collections.deque()
        self._dead: BaseException | None = None
        self._ready: futures.Future = futures.Future()  # the reply to the recipe: the worker's filler is built
        self._pending.append(self._ready)
        _send(self.proc.stdin, recipe)
        self._reader = threading.Thread(target=self._read_replies, name="jaxrobot-data-replies", daemon=True)
        self._reader.start()

    def submit(self, request: Any) -> futures.Future:
        fut: futures.Future = futures.Future()
        with self._lock:
            if self._dead is not None:
                fut.set_exception(self._dead)
                return fut
            self._pending.append(fut)
            try:
                _send(self.proc.stdin, request)
            except OSError:
                pass  # the reader thread sees the end of the reply stream and fails every pending request
        return fut

    def _read_replies(self) -> None:
        while True:
            try:
                status, value = _recv(self.proc.stdout)
            except (EOFError, OSError, pickle.UnpicklingError) as e:
                code = self.proc.wait()
                self._fail(DataError(f"{self.name}: data worker process {self.proc.pid} exited (exit code {code}"
                                     f"{'' if isinstance(e, EOFError) else f'; {e}'}); out of memory? try fewer "
                                     "data.processes or a smaller data.memory_mb"))
                return
            with self._lock:
                fut = self._pending.popleft()
            if status == "error" and fut is self._ready:  # the worker could not start: that error, every time
                fut.set_exception(value)
                self._fail(value)
            elif status == "error":
                fut.set_exception(value)
            else:
                fut.set_result(value)

    def _fail(self, error: BaseException) -> None:
        """Fail every pending and later request with ``error`` (or with the first error already recorded)."""
        with self._lock:
            self._dead = self._dead or error
            while self._pending:
                fut = self._pending.popleft()
                if not fut.done():
                    fut.set_exception(self._dead)

    def close(self, timeout: float = 10.0) -> None:
        with self._lock:
            self._dead = self._dead or DataError(f"{self.name}: the data source is closed")
            try:
                self.proc.stdin.close()
            except OSError:
                pass
        try:
            self.proc.wait(timeout)
        except subprocess.TimeoutExpired:
            self.proc.kill()
            self.proc.wait()
        self._reader.join(timeout)


class ProcessAssembler:
    """``processes`` worker processes building batches of layout ``keys`` in shared-memory slots.

    Every batch is split into one part per worker by ``split(work, parts) -> [(rows, part_work)]``: a source
    that splits by episode keeps each episode's frames in one worker's caches (no frame decoded twice, each
    cache holding only its share). The batch handed back *is* the slot (no copy); the slot returns to the pool
    when the last array viewing it is gone, and a new slot is made when none is free, so there are as many
    slots as batches in flight plus batches the caller still holds. :meth:`assemble` may be called from
    several threads at once.
    """

    def __init__(self, recipe: Callable[[], Callable], keys: dict[str, dict], split: Callable, *, processes: int,
                 slots: int, name: str = "data"):
        self.keys = keys
        self.name = name
        self._split = split
        self._offsets, self._size = segment_layout(keys)
        self._folder = shm_dir()
        remove_orphan_segments(self._folder)
        self._paths: list[str] = []
        self._free: queue.Queue = queue.Queue()
        self._workers: list[_Worker] = []
        self._lock = threading.Lock()
        self._closed = False
        try:
            for _ in range(max(1, slots)):
                self._free.put(self._new_slot())
            self._workers = [_Worker(recipe, name) for _ in range(processes)]
        except BaseException:
            self.close()
            raise

    def _new_slot(self) -> tuple[str, mmap.mmap]:
        with self._lock:
            path = os.path.join(self._folder, f"{_PREFIX}{os.getpid()}-{id(self):x}-{len(self._paths)}")
            self._paths.append(path)
        return path, _map(path, self._size, create=True)

    def _release(self, slot: tuple[str, mmap.mmap]) -> None:
        if not self._closed:  # once closed, the mapping goes with its last reference
            self._free.put(slot)

    def assemble(self, work: Any) -> tuple[dict[str, np.ndarray], list]:
        """Build the batch for ``work`` in the workers; returns ``(batch arrays, the fillers' infos)``."""
        if self._closed:
            raise DataError(f"{self.name}: the data source is closed")
        try:
            slot = self._free.get_nowait()
        except queue.Empty:
            slot = self._new_slot()
        try:
            parts = self._split(work, len(self._workers))
            futs = [w.submit((slot[0], self.keys, rows, part)) for w, (rows, part) in zip(self._workers, parts,
                                                                                         strict=True)]
            futures.wait(futs)  # every part finished (or failed) before the slot can be reused
            infos = [f.result() for f in futs]
        except BaseException:
            self._free.put(slot)
            raise
        # A fresh ndarray over the slot for this batch: every array below views it (numpy stops collapsing
        # the base chain at it), so its finaliser runs when the caller has dropped the whole batch.
        holder = np.frombuffer(slot[1], np.uint8)
        weakref.finalize(holder, self._release, slot).atexit = False
        return segment_arrays(holder, self.keys, self._offsets), infos

    def pids(self) -> list[int]:
        """Process ids of the workers (for RSS reports)."""
        return [w.proc.pid for w in self._workers]

    def rss_mb(self) -> float:
        """Resident memory of the worker processes, summed (MB); 0 where /proc is unavailable."""
        total = 0.0
        for pid in self.pids():
            try:
                with open(f"/proc/{pid}/status") as f:
                    total += next((int(line.split()[1]) for line in f if line.startswith("VmRSS:")), 0) / 1024
            except OSError:
                pass
        return total

    def close(self) -> None:
        with self._lock:
            if self._closed:
                return
            self._closed = True
        for w in self._workers:
            w.close()
        while not self._free.empty():
            _, buf = self._free.get()
            try:
                buf.close()
            except BufferError:  # still viewed somewhere: unmapped with its last reference instead
                pass
        for path in self._paths:
            try:
                os.unlink(path)
            except OSError:
                pass

    def __del__(self):
        try:
            self.close()
        except Exception:
            pass
