"""Append episodes to an RLDS dataset one at a time, each commit atomic and readable by tfds at once.

Recording (``jaxrobot record``) accepts an episode every few seconds for hours; a crash must lose at most the
episode in progress, and the dataset must stay readable between commits (a trainer may start on it meanwhile).
:func:`jaxrobot.data.rlds.writer.write_rlds` writes a whole dataset at once; this module grows one:

- The split uses tfds's one-file-per-index shard names (``<name>-<split>.tfrecord-00012``, the template of
  tfds's ``SequentialWriter``), so a new shard never renames the old ones. Each commit writes one episode as a
  new shard under a temporary name, fsyncs it, renames it into place, then replaces ``metadata.json`` and last
  ``dataset_info.json`` (write a temporary file, ``os.replace``). Readers list shards from
  ``dataset_info.json``, so they see the episodes before or after the commit, never between; a crash between
  the two replaces leaves ``metadata.json`` one commit ahead (its counters, e.g. the recorder's next start
  index, count the lost episode; never behind, so no start is reused). At most 99,999 episodes (tfds widens
  the shard indices at 100,000).
- The first commit builds the whole ``<version>`` folder beside it and renames it into place, as
  :func:`write_rlds` does, so no folder ever looks like a dataset without holding one.
- A writer killed between renaming a shard and replacing ``dataset_info.json`` leaves a shard no reader lists;
  the next appender (it holds the folder's lock, :class:`jaxrobot.dir_lock.DirLock`) deletes it and the
  temporary files of dead writers.
- One appender per dataset: a second one fails at once naming the holder.

Local filesystems only: object stores have no atomic rename.
"""

from __future__ import annotations

import os
import re
import uuid
from collections.abc import Mapping
from typing import Any

from jaxrobot.data.base import DataError
from jaxrobot.data.rlds import fs, tfrecord
from jaxrobot.data.rlds.features import (
    INDEX_TEMPLATE,
    METADATA_FILE,
    DatasetInfo,
    SplitInfo,
    dataset_info_json,
    features_json,
    load_json,
    normalize_spec,
    parse_dataset_info,
    parse_features,
)
from jaxrobot.data.rlds.writer import dumps_json, encode_episode, remove_orphans
from jaxrobot.dir_lock import DirLock, DirLocked

LOCK_NAME = ".jaxrobot-append.lock"
#: tfds widens shard indices past 5 digits at 100,000 shards, which would rename every existing shard.
MAX_EPISODES = 100_000
_TMP_RE = re.compile(r"^\..*\.tmp-")


class DatasetInUse(DirLocked, DataError):
    """Another live process is appending to the dataset."""


def _write_replace(path: str, text: str) -> None:
    """Write ``path`` whole or not at all: a temporary sibling, fsynced, then ``os.replace``."""
    tmp = os.path.join(os.path.dirname(path), f".{os.path.basename(path)}.tmp-{fs.process_tag()}")
    with open(tmp, "w", encoding="utf-8") as f:
        f.write(text)
        f.flush()
        os.fsync(f.fileno())
    os.replace(tmp, path)


def _fsync_dir(path: str) -> None:
    fd = os.open(path, os.O_RDONLY)
    try:
        os.fsync(fd)
    finally:
        os.close(fd)


class EpisodeAppender:
    """Grows the RLDS dataset ``<out_dir>/<name>/<version>`` by one episode per :meth:`append`.

    Args:
        out_dir: the TFDS data_dir (local).
        name: dataset name (also the shard file prefix).
        features: flat spec as for :func:`write_rlds`; an existing dataset must have exactly these features.
        split: the split episodes go to.
        metadata: JSON-able dataset facts written as ``metadata.json`` at the first commit; afterwards
            :meth:`update_metadata` changes them (written with the next commit).
        description: ``dataset_info.json`` description (first commit).

    Use as a context manager (takes the dataset's lock, cleans up after dead writers).
    """

    def __init__(self, out_dir: str, name: str, *, features: dict, split: str = "train", version: str = "1.0.0",
                 metadata: dict | None = None, description: str = "", jpeg_quality: int = 95):
        if fs.is_remote(out_dir):
            raise DataError(f"{out_dir}: appending needs a local folder (object stores have no atomic rename)")
        self.name, self.split, self.version = name, split, version
        self.spec = normalize_spec(features)
        self.name_dir = os.path.abspath(os.path.join(out_dir, name))
        self.path = os.path.join(self.name_dir, version)
        self.metadata: dict = dict(metadata or {})
        self.description = description
        self.jpeg_quality = jpeg_quality
        self._lengths: list[int] = []
        self._bytes = 0
        self._lock: DirLock | None = None
        self._other_splits: dict[str, SplitInfo] = {}
        self.removed: list[str] = []  # leftovers of dead writers deleted at open

    # ------------------------------------------------------------------ open / close

    def open(self) -> EpisodeAppender:
        os.makedirs(self.name_dir, exist_ok=True)
        self._lock = DirLock(self.name_dir, LOCK_NAME, "jaxrobot record", noun="dataset", error=DatasetInUse,
                             hint="one recorder per dataset: stop it, or record into another --out").acquire()
        try:
            self.removed = remove_orphans(self.name_dir, self.version)
            if os.path.exists(self.path):
                self._load_existing()
        except BaseException:
            self.close()
            raise
        return self

    def close(self) -> None:
        if self._lock is not None:
            self._lock.release()
            self._lock = None

    def __enter__(self) -> EpisodeAppender:
        return self.open()

    def __exit__(self, *exc) -> None:
        self.close()

    @property
    def exists(self) -> bool:
        return bool(self._lengths)

    @property
    def num_episodes(self) -> int:
        return len(self._lengths)

    def existing_metadata(self) -> dict:
        """``metadata.json`` of the dataset being appended to ({} for a new one)."""
        return dict(self.metadata) if self.exists else {}

    def update_metadata(self, metadata: dict) -> None:
        """Replace the dataset-level metadata; written atomically with the next commit."""
        self.metadata = dict(metadata)

    def _load_existing(self) -> None:
        where = self.path
        info_path = os.path.join(where, "dataset_info.json")
        if not os.path.exists(info_path):
            raise DataError(f"{where}: a folder without dataset_info.json is not a dataset; move it away")
        info: DatasetInfo = parse_dataset_info(load_json(fs.read_text(info_path), info_path), info_path)
        have = parse_features(load_json(fs.read_text(os.path.join(where, "features.json")), where), where)
        if have != self.spec:
            diff = sorted(k for k in set(have) | set(self.spec) if have.get(k) != self.spec.get(k))
            raise DataError(f"{where}: the dataset there has other features than the episodes to append "
                            f"(differing: {', '.join(diff[:6])}{' ...' if len(diff) > 6 else ''}); record into "
                            "another --out, or with the settings it was made with")
        split = info.splits.get(self.split)
        if split is not None and split.template != INDEX_TEMPLATE:
            raise DataError(f"{where}: split {self.split!r} was written in one piece (shard names "
                            f"{split.template!r}); only datasets made by recording can be appended to")
        self._other_splits = {k: v for k, v in info.splits.items() if k != self.split}
        if split is not None:
            if any(n != 1 for n in split.shard_lengths):
                raise DataError(f"{where}: split {self.split!r} has shards of several episodes; not an appendable "
                                "recording")
            self._lengths, self._bytes = list(split.shard_lengths), split.num_bytes
        meta_path = os.path.join(where, METADATA_FILE)
        if os.path.exists(meta_path):
            self.metadata = load_json(fs.read_text(meta_path), meta_path)
        self.description = info.description
        listed = set(self._shard_names(len(self._lengths)))
        prefix = f"{self.name}-{self.split}.tfrecord-"
        for f in os.listdir(where):
            tail = f[len(prefix):] if f.startswith(prefix) else ""
            unlisted = tail.isdigit() and int(tail) >= len(self._lengths) and f not in listed
            if unlisted or _TMP_RE.match(f):  # a shard renamed in but never listed, or a temporary file: a writer
                # died mid-commit
                os.remove(os.path.join(where, f))
                self.removed.append(os.path.join(where, f))

    # ------------------------------------------------------------------ commit

    def _shard_names(self, n: int) -> list[str]:
        return SplitInfo(self.split, tuple([1] * n), 0, INDEX_TEMPLATE).shard_names(self.name, "tfrecord")

    def _info(self, lengths: list[int], num_bytes: int) -> dict:
        splits = dict(self._other_splits)
        splits[self.split] = SplitInfo(self.split, tuple(lengths), num_bytes, INDEX_TEMPLATE)
        return dataset_info_json(DatasetInfo(name=self.name, version=self.version, file_format="tfrecord",
                                             splits=splits, description=self.description))

    def append(self, episode: Mapping[str, Any]) -> int:
        """Commit one episode (flat dict as for :func:`write_rlds`); returns its index in the split."""
        if self._lock is None:
            raise RuntimeError("EpisodeAppender.append outside open()/close()")
        index = len(self._lengths)
        if index + 1 >= MAX_EPISODES:
            raise DataError(f"{self.path}: holds {index} episodes; a recording keeps at most {MAX_EPISODES - 1} "
                            "(the shard names would widen and rename every shard); record into another --out")
        framed = tfrecord.encode_record(encode_episode(episode, self.spec, f"{self.name} episode {index}",
                                                       self.jpeg_quality))
        lengths, num_bytes = self._lengths + [1], self._bytes + len(framed)
        shard = self._shard_names(index + 1)[-1]
        if index == 0 and not os.path.exists(self.path):
            self._create(shard, framed, lengths, num_bytes)
        else:
            tmp = os.path.join(self.path, f".{shard}.tmp-{fs.process_tag()}")
            with open(tmp, "wb") as f:
                f.write(framed)
                f.flush()
                os.fsync(f.fileno())
            os.replace(tmp, os.path.join(self.path, shard))
            _write_replace(os.path.join(self.path, METADATA_FILE), dumps_json(self.metadata))
            _write_replace(os.path.join(self.path, "dataset_info.json"), dumps_json(self._info(lengths, num_bytes)))
            _fsync_dir(self.path)
        self._lengths, self._bytes = lengths, num_bytes
        return index

    def _create(self, shard: str, framed: bytes, lengths: list[int], num_bytes: int) -> None:
        tmp = os.path.join(self.name_dir, f".{self.version}.incomplete-{fs.process_tag()}-{uuid.uuid4().hex[:8]}")
        os.makedirs(tmp)
        try:
            with open(os.path.join(tmp, shard), "wb") as f:
                f.write(framed)
                f.flush()
                os.fsync(f.fileno())
            fs.write_text(os.path.join(tmp, "features.json"), dumps_json(features_json(self.spec)))
            fs.write_text(os.path.join(tmp, METADATA_FILE), dumps_json(self.metadata))
            _write_replace(os.path.join(tmp, "dataset_info.json"), dumps_json(self._info(lengths, num_bytes)))
            _fsync_dir(tmp)
            os.rename(tmp, self.path)
            _fsync_dir(self.name_dir)
        except BaseException:
            fs.remove(tmp)
            raise
