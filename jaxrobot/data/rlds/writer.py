"""Write episodes as an RLDS dataset that tfds and :class:`~jaxrobot.data.rlds.reader.RldsDataset` read back.

The output is a TFDS folder ``<out_dir>/<name>/<version>/`` with ``features.json``, ``dataset_info.json``
and tfrecord shards named as tfds's standard builder names them (``<name>-<split>.tfrecord-00000-of-00002``),
one ``tf.train.Example`` per episode, steps flattened the way tfds serialises a ``Dataset`` feature. It is
written without TensorFlow (records, framing and metadata by hand; JPEG with simplejpeg), which keeps the
simulation's data collection light, and it is tested to read back unchanged through
``tfds.builder_from_directory(path).as_dataset(split=...)``.

Atomic: everything goes into a hidden temporary sibling
``<out_dir>/<name>/.<version>.incomplete-<host>-<pid>-<id>`` (``dataset_info.json`` last) that is renamed to
``<version>`` only when all episodes are written, and is deleted if writing fails. A crash never leaves a
folder that looks like a complete dataset. A writer killed outright (``kill -9``, power loss) cannot delete
its folder; the next :func:`write_rlds` to the same ``<name>/<version>`` removes the temporary folders whose
writer is dead (same host, no process with that PID). Folders of other hosts, of live writers, and of older
jaxrobot versions (no host and PID in the name) are left alone.
"""

from __future__ import annotations

import os
import re
import uuid
from collections.abc import Iterable, Mapping
from typing import Any

import numpy as np

from jaxrobot.data.base import DataError
from jaxrobot.data.rlds import fs, tfrecord
from jaxrobot.data.rlds.example_proto import serialize_example
from jaxrobot.data.rlds.features import (
    DEFAULT_TEMPLATE,
    IMAGE_ENCODINGS,
    INDEX_TEMPLATE,
    METADATA_FILE,
    DatasetInfo,
    Feature,
    SplitInfo,
    dataset_info_json,
    features_json,
    normalize_spec,
)
from jaxrobot.data.rlds.images import encode_image

_NAME_RE = re.compile(r"^[a-zA-Z]\w*$")  # tfds naming: dataset names in file templates
_SPLIT_RE = re.compile(r"^[\w-]+$")
_VERSION_RE = re.compile(r"^\d+\.\d+\.\d+$")


def _as_bytes(v: Any, key: str, where: str) -> bytes:
    if isinstance(v, bytes):
        return v
    if isinstance(v, str):
        return v.encode("utf-8")
    if isinstance(v, np.ndarray) and v.ndim == 0:
        return _as_bytes(v.item(), key, where)
    if isinstance(v, np.bytes_ | np.str_):
        return _as_bytes(v.item(), key, where)
    raise DataError(f"{where}: text feature {key!r} needs str or bytes, got {type(v).__name__}")


def encode_episode(ep: Mapping[str, Any], spec: dict[str, Feature], where: str, jpeg_quality: int) -> bytes:
    extra = sorted(set(ep) - set(spec))
    if extra:
        raise DataError(f"{where}: keys not in features: {extra}; features has {sorted(spec)}")
    missing = sorted(set(spec) - set(ep))
    if missing:
        raise DataError(f"{where}: missing keys {missing} (episode has {sorted(ep)})")
    length = None
    out: dict[str, Any] = {}
    for key, f in spec.items():
        v = ep[key]
        item = f.item_shape
        if f.encoding in IMAGE_ENCODINGS:
            frames = v if f.sequence else [v]
            if isinstance(frames, np.ndarray) and frames.dtype != object:
                frames = list(frames)
            enc = []
            for t, img in enumerate(frames):
                if isinstance(img, bytes | np.bytes_):
                    enc.append(bytes(img))
                    continue
                img = np.asarray(img)
                if img.ndim == 2 and len(item) == 3 and item[2] == 1:
                    img = img[..., None]
                if img.ndim != 3 or any(w is not None and d != w for d, w in zip(img.shape, item, strict=True)):
                    raise DataError(f"{where}: image {key!r} step {t} has shape {img.shape}, features say {item}")
                if img.dtype != np.dtype(f.dtype):
                    raise DataError(f"{where}: image {key!r} step {t} is {img.dtype}, features say {f.dtype}")
                enc.append(encode_image(img, f.encoding, quality=jpeg_quality))
            out[key] = enc
            n = len(enc)
        elif f.encoding == "text":
            if f.sequence:
                vals = list(v) if not isinstance(v, str | bytes) else None
                if vals is None:
                    raise DataError(f"{where}: per-step text {key!r} needs one string per step, got one string")
            else:
                vals = [v]
            out[key] = [_as_bytes(x, key, where) for x in vals]
            n = len(vals)
        else:
            arr = np.asarray(v)
            if f.dtype == "string":
                raise DataError(f"{where}: feature {key!r}: string tensors are not supported; use a text feature")
            expect = ((arr.shape[0],) if f.sequence and arr.ndim else ()) + tuple(item)
            if arr.shape != expect or (f.sequence and arr.ndim == 0):
                raise DataError(f"{where}: feature {key!r} has shape {arr.shape}, expected "
                                f"{('T',) if f.sequence else ()}{tuple(item)}")
            try:
                arr = arr.astype(f.dtype, casting="same_kind") if arr.dtype != np.dtype(f.dtype) else arr
            except TypeError as e:
                raise DataError(f"{where}: feature {key!r} is {arr.dtype}, cannot store as {f.dtype}") from e
            if f.encoding in ("tensor_bytes", "tensor_zlib"):
                import zlib

                rows = arr if f.sequence else arr[None]
                raw = [np.ascontiguousarray(r).tobytes() for r in rows]
                out[key] = [zlib.compress(b) for b in raw] if f.encoding == "tensor_zlib" else raw
            else:
                out[key] = arr.reshape(-1)
            n = arr.shape[0] if f.sequence else None
        if f.sequence:
            if length is None:
                length = n
            elif n != length:
                raise DataError(f"{where}: per-step features disagree on the episode length ({key!r} has {n} "
                                f"steps, others {length})")
    return serialize_example(out)


# Temporary folders of a write (``incomplete``) and of an overwrite's old copy (``old``, fs.rename).
_TEMP_RE = re.compile(r"^\.(?P<version>.+)\.(?:incomplete|old)-(?P<host>.+)-(?P<pid>\d+)-(?P<id>[0-9a-f]{8})$")


def _pid_alive(pid: int) -> bool:
    if pid == os.getpid():
        return True
    try:
        os.kill(pid, 0)
    except ProcessLookupError:
        return False
    except (PermissionError, OSError):
        return True  # exists (another user's) or cannot tell: keep
    return True


def remove_orphans(name_dir: str, version: str) -> list[str]:
    """Delete the ``.<version>.incomplete-<host>-<pid>-<id>`` (and ``.<version>.old-...``) folders in
    ``name_dir`` that writers on this host left when they died; returns the removed paths. A PID reused by an
    unrelated process keeps its folder (the safe side)."""
    try:
        names = fs.listdir(name_dir)
    except OSError:
        return []
    host, removed = fs.process_tag().rsplit("-", 1)[0], []
    for n in names:
        m = _TEMP_RE.match(n.rstrip("/"))
        if not m or m["version"] != version or m["host"] != host or _pid_alive(int(m["pid"])):
            continue
        path = fs.join(name_dir, n.rstrip("/"))
        try:
            fs.remove(path)
        except OSError:
            continue  # e.g. removed meanwhile by another writer's clean-up
        removed.append(path)
    return removed


class _SplitWriter:
    """Streams one split's episodes into shards with temporary names (the count is known only at the end)."""

    def __init__(self, tmp_dir: str, name: str, split: str, max_per_shard: int):
        self.tmp_dir, self.name, self.split, self.max_per_shard = tmp_dir, name, split, max_per_shard
        self.shard_lengths: list[int] = []
        self.num_bytes = 0
        self._f = None
        self._tmp_names: list[str] = []

    def add(self, record: bytes) -> None:
        if self._f is None or self.shard_lengths[-1] >= self.max_per_shard:
            self._close()
            tmp_name = f".{self.split}.shard{len(self._tmp_names):05d}.tmp"
            self._tmp_names.append(tmp_name)
            self._f = fs.open_write(fs.join(self.tmp_dir, tmp_name))
            self.shard_lengths.append(0)
        framed = tfrecord.encode_record(record)
        self._f.write(framed)
        self.num_bytes += len(framed)
        self.shard_lengths[-1] += 1

    def _close(self) -> None:
        if self._f is not None:
            self._f.close()
            self._f = None

    def finish(self, template: str) -> SplitInfo:
        self._close()
        info = SplitInfo(self.split, tuple(self.shard_lengths), self.num_bytes, template)
        for tmp, final in zip(self._tmp_names, info.shard_names(self.name, "tfrecord"), strict=True):
            fs.rename(fs.join(self.tmp_dir, tmp), fs.join(self.tmp_dir, final))
        return info

    def abort(self) -> None:
        try:
            self._close()
        except OSError:
            pass


def write_rlds(out_dir: str, name: str, episodes: Iterable[dict] | Mapping[str, Iterable[dict]], *,
               features: dict, split: str = "train", version: str = "1.0.0", description: str = "",
               citation: str = "", max_episodes_per_shard: int = 1000, progress: bool = True,
               jpeg_quality: int = 95, overwrite: bool = False,
               shard_names: str = "x_of_y", metadata: dict | None = None) -> str:
    """Write episodes as the RLDS dataset ``<out_dir>/<name>/<version>`` and return that path.

    Args:
        out_dir: the TFDS data_dir (local or a URL; renames on object stores are copies, not atomic).
        name: dataset name (letters, digits, ``_``), also the shard file prefix.
        episodes: flat dicts as :meth:`RldsDataset.episode` returns them (``steps/...`` with leading T;
            images as uint8 arrays or already-encoded bytes; text as str or bytes). A mapping
            ``{split: episodes}`` writes several splits at once (then ``split`` is ignored).
        features: flat spec ``{key: {"shape", "dtype", "encoding"}}`` as :meth:`RldsDataset.feature_spec`
            returns it; per-step shapes may omit the leading None; image features are JPEG/PNG-encoded.
        max_episodes_per_shard: episodes per tfrecord shard (tfds's builder aims at ~1 GB shards).
        jpeg_quality: JPEG quality for image features (95, as tfds).
        overwrite: replace an existing dataset at the target (else it is an error).
        shard_names: ``"x_of_y"`` (``-00000-of-00001``, tfds's builder) or ``"index"`` (``-00000``, tfds's
            SequentialWriter); both read the same.
        metadata: JSON-able facts about how the data was made, written as ``metadata.json`` (where tfds keeps
            a builder's ``MetadataDict``); e.g. the sim task config that generated demonstrations.

    Returns:
        The folder to give ``tfds.builder_from_directory`` or :class:`RldsDataset`.
    """
    if not _NAME_RE.match(name):
        raise DataError(f"dataset name {name!r}: use letters, digits and '_' (starting with a letter)")
    if not _VERSION_RE.match(version):
        raise DataError(f"version {version!r}: tfds needs MAJOR.MINOR.PATCH, e.g. '1.0.0'")
    if max_episodes_per_shard < 1:
        raise DataError(f"max_episodes_per_shard must be >= 1, got {max_episodes_per_shard}")
    if shard_names not in ("x_of_y", "index"):
        raise DataError(f"shard_names must be 'x_of_y' or 'index', got {shard_names!r}")
    template = DEFAULT_TEMPLATE if shard_names == "x_of_y" else INDEX_TEMPLATE
    by_split = dict(episodes) if isinstance(episodes, Mapping) else {split: episodes}
    for s in by_split:
        if not _SPLIT_RE.match(s):
            raise DataError(f"split name {s!r}: use letters, digits, '_' and '-'")
    spec = normalize_spec(features)
    if not any(f.sequence for f in spec.values()):
        raise DataError("features: an RLDS dataset needs per-step features under 'steps/'")

    name_dir = fs.join(out_dir, name)
    target = fs.join(name_dir, version)
    if fs.exists(target) and not overwrite:
        raise DataError(f"{target}: already exists; pass overwrite=True to replace it")
    created_name_dir = not fs.exists(name_dir)
    fs.makedirs(name_dir)
    remove_orphans(name_dir, version)
    tmp = fs.join(name_dir, f".{version}.incomplete-{fs.process_tag()}-{uuid.uuid4().hex[:8]}")
    fs.makedirs(tmp)
    writers: list[_SplitWriter] = []
    try:
        splits: dict[str, SplitInfo] = {}
        for s, eps in by_split.items():
            w = _SplitWriter(tmp, name, s, max_episodes_per_shard)
            writers.append(w)
            total = len(eps) if hasattr(eps, "__len__") else None
            it = eps
            bar = None
            if progress:
                from tqdm import tqdm

                bar = tqdm(total=total, desc=f"write {name}/{s}", unit="ep", leave=False)
            for i, ep in enumerate(it):
                w.add(encode_episode(ep, spec, f"{name} split {s!r} episode {i}", jpeg_quality))
                if bar is not None:
                    bar.update(1)
            if bar is not None:
                bar.close()
            splits[s] = w.finish(template)
        fs.write_text(fs.join(tmp, "features.json"), dumps_json(features_json(spec)))
        if metadata is not None:
            fs.write_text(fs.join(tmp, METADATA_FILE), dumps_json(metadata))
        info = DatasetInfo(name=name, version=version, file_format="tfrecord", splits=splits,
                           description=description, citation=citation)
        fs.write_text(fs.join(tmp, "dataset_info.json"), dumps_json(dataset_info_json(info)))  # last: complete
        fs.rename(tmp, target, overwrite=overwrite)
    except BaseException:
        for w in writers:
            w.abort()
        fs.remove(tmp)
        if created_name_dir:
            try:
                if not fs.listdir(name_dir):
                    fs.remove(name_dir)
            except OSError:
                pass
        raise
    return target if fs.is_remote(target) else os.path.normpath(target)


def dumps_json(content: dict) -> str:
    """The JSON text of a dataset metadata file (indented, sorted keys, final newline), for every writer."""
    import json

    return json.dumps(content, indent=2, sort_keys=True) + "\n"
