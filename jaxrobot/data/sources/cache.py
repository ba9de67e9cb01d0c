"""A thread-safe LRU cache bounded by bytes, and what a standardised episode costs in it.

The RLDS sources keep two of these per dataset (standardised episodes with JPEG frames still encoded, and
decoded frames), sharing the dataset's ``memory_mb``: memory stays bounded whatever the dataset size, and a
miss is one random-access read or one decode.
"""

from __future__ import annotations

import collections
import threading
from typing import Any


class ByteLRU:
    """A thread-safe LRU cache bounded by the total ``nbytes`` of its values (an item larger than the
    whole budget is returned but not kept)."""

    def __init__(self, capacity_bytes: int):
        self.capacity = int(capacity_bytes)
        self.size = 0
        self._items: collections.OrderedDict = collections.OrderedDict()
        self._lock = threading.Lock()
        self.hits = self.misses = 0

    def get(self, key):
        with self._lock:
            if key in self._items:
                self._items.move_to_end(key)
                self.hits += 1
                return self._items[key][0]
            self.misses += 1
            return None

    def put(self, key, value, nbytes: int) -> None:
        with self._lock:
            if key in self._items or nbytes > self.capacity:
                return
            self._items[key] = (value, nbytes)
            self.size += nbytes
            while self.size > self.capacity:
                _, (_, n) = self._items.popitem(last=False)
                self.size -= n

    def __len__(self) -> int:
        return len(self._items)


def episode_nbytes(ep: dict[str, Any]) -> int:
    """Bytes a standardised episode (:func:`~jaxrobot.data.standardize.standardize`) holds: arrays, encoded
    frames (with a per-object overhead) and the language embedding."""
    n = ep["state"].nbytes + ep["action"].nbytes + 256
    for frames in ep["images"].values():
        if frames is None:
            continue
        n += frames.nbytes if frames.dtype != object else sum(len(f) + 40 for f in frames)
    if ep["language_embedding"] is not None:
        n += ep["language_embedding"].nbytes
    return n
