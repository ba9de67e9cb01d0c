"""The ``tf`` backend of :class:`~jaxrobot.data.rlds.reader.RldsDataset`: tfds as the reference reader.

tfrecord shards are read through ``tfds.builder_from_directory(path).as_dataset(split=...)`` (tf.data).
tf.data cannot read ``array_record`` shards; those are read through tfds's random-access data sources
(``builder.as_data_source(split)``: the array_record reader and tfds's numpy example parser, no TensorFlow
import), which also gives fast ``episode(i)``. Either way each episode becomes the same flat dict the numpy
backend returns (steps batched into [T, ...] arrays, text as bytes in ``np.object_`` arrays, metadata as 0-d
arrays). TensorFlow's corrupt-record error ("corrupted record at 12") names neither file nor record, so on
such an error the shards are scanned with the CRC checker to name them.
"""

from __future__ import annotations

from collections.abc import Iterator
from typing import TYPE_CHECKING

import numpy as np

from jaxrobot.data.base import DataError
from jaxrobot.data.rlds import tfrecord
from jaxrobot.data.rlds.features import IMAGE_ENCODINGS
from jaxrobot.data.rlds.images import _resize

if TYPE_CHECKING:
    from jaxrobot.data.rlds.reader import Episode, RldsDataset


def _stack(rows: list):
    if isinstance(rows[0], dict):
        return {k: _stack([r[k] for r in rows]) for k in rows[0]}
    if isinstance(rows[0], bytes):
        arr = np.empty(len(rows), dtype=object)
        arr[:] = rows
        return arr
    return np.stack([np.asarray(r) for r in rows])


def _nest(flat: dict) -> dict:
    out: dict = {}
    for key, value in flat.items():
        parts = key.split("/")
        node = out
        for p in parts[:-1]:
            node = node.setdefault(p, {})
        node[parts[-1]] = value
    return out


class TfEpisodes:
    """Episodes through tfds, for one :class:`RldsDataset`'s path, split(s), keys and image options."""

    def __init__(self, ds: RldsDataset):
        self.ds = ds
        # tf.data reads tfrecord shards only; other formats (array_record) have random-access data sources.
        self.random_access = ds.info.file_format != "tfrecord"
        if not self.random_access:
            from jaxrobot.platform import import_tensorflow

            self.tf = import_tensorflow()
        import tensorflow_datasets as tfds

        self.tfds = tfds
        self.builder = tfds.builder_from_directory(ds.path)
        self.split = "+".join(ds._splits)
        self.decoders = None if ds.decode_images else self._skip_images()
        self._sources = {s: self.builder.as_data_source(s, decoders=self.decoders) for s in ds._splits
                         } if self.random_access else {}

    def _skip_images(self) -> dict:
        """tfds decoders that leave every image feature encoded (bytes)."""
        return _nest({k: self.tfds.decode.SkipDecoding() for k, f in self.ds.features().items()
                      if f.encoding in IMAGE_ENCODINGS})

    def _dataset(self, split: str):
        return self.builder.as_dataset(split=split, shuffle_files=False, decoders=self.decoders,
                                       read_config=self.tfds.ReadConfig(interleave_cycle_length=1))

    def _convert(self, ep: dict) -> Episode:
        spec = self.ds.features()
        steps = ep.get("steps")
        if steps is not None and not isinstance(steps, dict):
            # The nested steps dataset, iterated step by step and stacked here (batching it inside
            # tf.data with a huge batch size makes TF preallocate that many rows).
            rows = list(steps)
            steps = _stack(rows) if rows else None
        flat: dict = {}

        def flatten(prefix, node):
            if isinstance(node, dict):
                for k, v in node.items():
                    flatten(f"{prefix}/{k}" if prefix else k, v)
            else:
                flat[prefix] = node

        flatten("", {k: v for k, v in ep.items() if k != "steps"})
        if steps is not None:
            flatten("steps", steps)
        out: Episode = {}
        for key, f in spec.items():
            if key not in flat:
                if f.sequence and steps is None:  # empty episode: nothing was batched
                    item = f.item_shape
                    if f.encoding in IMAGE_ENCODINGS and self.ds.decode_images:
                        h, w = self.ds.image_size or (item[0] or 0, item[1] or 0)
                        out[key] = np.zeros((0, h, w, item[2] or 3), dtype=f.dtype)
                    elif f.dtype == "string" or f.encoding in IMAGE_ENCODINGS:
                        out[key] = np.zeros((0,), dtype=object)
                    else:
                        out[key] = np.zeros((0,) + item, dtype=f.dtype)
                    continue
                raise DataError(f"{self.ds.path}: tfds returned no {key!r}")
            v = flat[key]
            if f.dtype == "string" or (f.encoding in IMAGE_ENCODINGS and not self.ds.decode_images):
                arr = np.empty(np.shape(v), dtype=object)
                if arr.ndim == 0:
                    arr[()] = v if isinstance(v, bytes) else bytes(np.asarray(v).item())
                else:
                    arr[...] = list(np.asarray(v, dtype=object).reshape(-1)) if arr.size else []
                out[key] = arr
                continue
            arr = np.asarray(v)
            if f.encoding in IMAGE_ENCODINGS and self.ds.image_size is not None:
                frames = arr if f.sequence else arr[None]
                arr = np.stack([_resize(x, self.ds.image_size) for x in frames]) if len(frames) else arr
                arr = arr if f.sequence else arr[0]
            out[key] = arr.astype(f.dtype, copy=False)
        return out

    def _name_corrupt_shard(self, err: Exception) -> DataError:
        """Turn TF's anonymous DataLossError into one naming the shard and the record."""
        for sh in self.ds._shards:
            try:
                for _ in tfrecord.iter_records(sh.path, check_crc=True):
                    pass
            except DataError as e:
                return DataError(f"{e} (TensorFlow said: {str(err).strip().splitlines()[0]})")
        return DataError(f"{self.ds.path}: TensorFlow could not read split {self.split!r}: "
                         f"{str(err).strip().splitlines()[0]}")

    def _read(self, split: str, within: int) -> Episode:
        """Episode ``within`` of ``split`` from its random-access data source."""
        try:
            ep = self._sources[split][within]
        except Exception as e:  # noqa: BLE001 - the array_record reader's and tfds's parser's errors
            raise DataError(f"{self.ds.path}: split {split!r}, episode {within}: tfds could not read it "
                            f"({type(e).__name__}: {e})") from e
        return self._convert(ep)

    def iterate(self) -> Iterator[Episode]:
        if self.random_access:
            for split in self.ds._splits:
                for j in range(len(self._sources[split])):
                    yield self._read(split, j)
            return
        tf = self.tf
        it = iter(self.tfds.as_numpy(self._dataset(self.split)))
        while True:
            try:
                ep = next(it)
            except StopIteration:
                return
            except (tf.errors.DataLossError, tf.errors.InvalidArgumentError) as e:
                raise self._name_corrupt_shard(e) from None
            yield self._convert(ep)

    def episode(self, i: int) -> Episode:
        """Episode ``i``: one read from a random-access data source; with tf.data (tfrecord) slow, since it
        skips through the split (the tf backend is the reference there, not for training)."""
        split, within = self.ds.split_position(i)
        if self.random_access:
            return self._read(split, within)
        ds = self._dataset(f"{split}[{within}:{within + 1}]")
        try:
            (ep,) = list(self.tfds.as_numpy(ds))
        except (self.tf.errors.DataLossError, self.tf.errors.InvalidArgumentError) as e:
            raise self._name_corrupt_shard(e) from None
        return self._convert(ep)

    def episode_lengths(self) -> np.ndarray:
        """Steps per episode through the random-access data sources (images left encoded)."""
        skip = self._skip_images()
        lengths = []
        for split in self.ds._splits:
            src = self.builder.as_data_source(split, decoders=skip)
            lengths += [len(src[j]["steps"]) for j in range(len(src))]
        return np.asarray(lengths, dtype=np.int64)
