"""The ``tf`` backend of :class:`~jaxrobot.data.rlds.reader.RldsDataset`: tfds/tf.data as the reference reader.

Reads through ``tfds.builder_from_directory(path).as_dataset(split=...)`` and converts each episode to the
same flat dict the numpy backend returns (steps batched into [T, ...] arrays, text as bytes in ``np.object_``
arrays, metadata as 0-d arrays). TensorFlow's corrupt-record error ("corrupted record at 12") names neither
file nor record, so on such an error the shards are scanned with the CRC checker to name them.
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
    """Episodes through tf.data, for one :class:`RldsDataset`'s path, split(s), keys and image options."""

    def __init__(self, ds: RldsDataset):
        from jaxrobot.platform import import_tensorflow

        self.ds = ds
        self.tf = import_tensorflow()
        import tensorflow_datasets as tfds

        self.tfds = tfds
        self.builder = tfds.builder_from_directory(ds.path)
        self.split = "+".join(ds._splits)
        spec = ds.features()
        decoders = None
        if not ds.decode_images:
            decoders = _nest({k: tfds.decode.SkipDecoding() for k, f in spec.items()
                              if f.encoding in IMAGE_ENCODINGS})
        self.decoders = decoders

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

    def iterate(self) -> Iterator[Episode]:
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
        """Episode ``i`` (slow: skips through the split; the tf backend is the reference, not for training)."""
        n = len(self.ds)
        if not -n <= i < n:
            raise IndexError(f"episode {i} out of range: {self.ds.path} has {n} episodes")
        i %= n
        s, _ = self.ds._locate(i)
        split = self.ds._shards[s].split
        start = sum(self.ds.splits[x] for x in self.ds._splits[: self.ds._splits.index(split)])
        within = i - start
        ds = self._dataset(f"{split}[{within}:{within + 1}]")
        try:
            (ep,) = list(self.tfds.as_numpy(ds))
        except (self.tf.errors.DataLossError, self.tf.errors.InvalidArgumentError) as e:
            raise self._name_corrupt_shard(e) from None
        return self._convert(ep)
