"""A data source that builds its batches ahead on a background thread and still resumes exactly.

The sampler runs ahead of the caller by ``prefetch`` batches, so its own state describes batches the caller
has not seen yet. :class:`PrefetchingSource` therefore records, with every batch it starts building, the
sampler state after that batch; ``get_state()`` is the state before the next batch the caller will receive,
and ``set_state()`` drops the batches built ahead before moving the sampler.
"""

from __future__ import annotations

import collections
import concurrent.futures as futures
from typing import Any

from jaxrobot.data.base import Batch
from jaxrobot.data.sampler import SamplerState


class PrefetchingSource(SamplerState):
    """Builds batches ``prefetch`` ahead; ``get_state`` is the state before the next returned batch.

    Subclasses set ``self.sampler`` before calling ``__init__`` and implement ``_plan()`` (draw the next
    batch's indices from the sampler, on the caller's thread: returns the work) and ``_assemble(work)`` (build
    the batch, on the assembler thread; it may fan out over ``self._pool``, the ``workers`` decode threads).
    """

    def __init__(self, workers: int, prefetch: int):
        self._pool = futures.ThreadPoolExecutor(max(1, workers), thread_name_prefix="jaxrobot-decode")
        self._assembler = futures.ThreadPoolExecutor(1, thread_name_prefix="jaxrobot-batch")
        self._prefetch = prefetch
        self._pending: collections.deque = collections.deque()
        self._state = self.sampler.get_state()

    def _plan(self) -> Any:
        raise NotImplementedError

    def _assemble(self, work: Any) -> Batch:
        raise NotImplementedError

    def __next__(self) -> Batch:
        while len(self._pending) < self._prefetch + 1:
            work = self._plan()
            self._pending.append((self.sampler.get_state(), self._assembler.submit(self._assemble, work)))
        state_after, fut = self._pending.popleft()
        batch = fut.result()
        self._state = state_after
        return batch

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

    def __del__(self):
        try:
            self._assembler.shutdown(wait=False, cancel_futures=True)
            self._pool.shutdown(wait=False, cancel_futures=True)
        except Exception:
            pass
