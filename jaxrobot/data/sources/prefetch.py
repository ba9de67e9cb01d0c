"""A data source that builds its batches ahead on a background thread and still resumes exactly.

The sampler runs ahead of the caller by ``prefetch`` batches, so its own state describes batches the caller
has not seen yet. :class:`PrefetchingSource` therefore records, with every batch it starts building, the
sampler state after that batch; ``get_state()`` is the state before the next batch the caller will receive,
and ``set_state()`` drops the batches built ahead before moving the sampler. Batches are built on this
process's threads (``workers`` decode threads) or, with ``processes > 0``, whole in worker processes
(:mod:`~jaxrobot.data.sources.workers`).
"""

from __future__ import annotations

import collections
import concurrent.futures as futures
from collections.abc import Callable
from typing import Any

import numpy as np

from jaxrobot.data.base import Batch, allocate
from jaxrobot.data.sampler import SamplerState
from jaxrobot.data.sources.workers import ProcessAssembler


class PrefetchingSource(SamplerState):
    """Builds batches ``prefetch`` ahead; ``get_state`` is the state before the next returned batch.

    Subclasses set ``self.sampler`` before calling ``__init__`` and implement ``_plan()`` (draw the next
    batch's indices from the sampler, on the caller's thread: returns the work), ``_keys()`` (the batch
    arrays' layout) and ``_fill(work, out)`` (write the batch into zeroed arrays, on an assembler thread; it
    may fan out over ``self._pool``, the ``workers`` decode threads; returns an info object for ``_merge``).
    With ``processes > 0`` they also implement ``_recipe()`` (a picklable zero-argument callable that builds,
    in a worker process, a filler doing what ``_fill`` does) and ``_split(work, parts)`` (the batch's rows
    shared out among the workers); the workers' infos come back to ``_merge``.
    """

    def __init__(self, workers: int, prefetch: int, processes: int = 0):
        self._pool = futures.ThreadPoolExecutor(max(1, workers), thread_name_prefix="jaxrobot-decode")
        self._prefetch = prefetch
        self._procs: ProcessAssembler | None = None
        in_flight = 1
        if processes > 0:
            # one assembler thread per batch in flight, each waiting on a worker; enough to keep all busy
            in_flight = max(prefetch + 1, processes)
            self._prefetch = in_flight - 1
            self._procs = ProcessAssembler(self._recipe(), self._keys(), self._split, processes=processes,
                                           slots=in_flight, name=type(self).__name__)
        self._assembler = futures.ThreadPoolExecutor(in_flight, thread_name_prefix="jaxrobot-batch")
        self._pending: collections.deque = collections.deque()
        self._state = self.sampler.get_state()

    def _plan(self) -> Any:
        raise NotImplementedError

    def _keys(self) -> dict[str, dict]:
        raise NotImplementedError

    def _fill(self, work: Any, out: dict[str, np.ndarray]) -> Any:
        raise NotImplementedError

    def _recipe(self) -> Callable[[], Callable[[Any, dict[str, np.ndarray]], Any]]:
        raise NotImplementedError(f"{type(self).__name__} cannot build batches in worker processes")

    def _split(self, work: Any, parts: int) -> list[tuple[np.ndarray, Any]]:
        """``work`` as one ``(rows, part)`` per worker process (rows: the batch rows the part writes)."""
        raise NotImplementedError(f"{type(self).__name__} cannot build batches in worker processes")

    def _merge(self, info: Any) -> None:
        """Take in what a filler reported with a batch (e.g. corrupt frames met in a worker process)."""

    def _assemble(self, work: Any) -> Batch:
        if self._procs is not None:
            out, infos = self._procs.assemble(work)
        else:
            out = allocate(self._keys())
            infos = [self._fill(work, out)]
        for info in infos:
            self._merge(info)
        return out

    def __next__(self) -> Batch:
        while len(self._pending) < self._prefetch + 1:
            work = self._plan()
            self._pending.append((self.sampler.get_state(), self._assembler.submit(self._assemble, work)))
        state_after, fut = self._pending.popleft()
        batch = fut.result()
        self._state = state_after
        return batch

    def worker_rss_mb(self) -> float:
        """Resident memory of the worker processes (0 without them)."""
        return self._procs.rss_mb() if self._procs is not None else 0.0

    def get_state(self) -> dict[str, int]:
        return dict(self._state)

    def set_state(self, state: dict[str, int]) -> None:
        for _, fut in self._pending:
            fut.cancel()
        for _, fut in self._pending:
            if not fut.cancelled():
                try:
                    fut.result()
                except Exception:  # a failed prefetch of a batch we no longer want
                    pass
        self._pending.clear()
        self.sampler.set_state(state)
        self._state = self.sampler.get_state()

    def close(self) -> None:
        self._assembler.shutdown(wait=True, cancel_futures=True)
        self._pool.shutdown(wait=True, cancel_futures=True)
        if self._procs is not None:
            self._procs.close()

    def __del__(self):
        try:
            self._assembler.shutdown(wait=False, cancel_futures=True)
            self._pool.shutdown(wait=False, cancel_futures=True)
            if self._procs is not None:
                self._procs.close()
        except Exception:
            pass
