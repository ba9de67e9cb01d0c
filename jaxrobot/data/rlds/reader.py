"""Read an RLDS dataset (a TFDS folder) episode by episode, without TensorFlow by default.

One record of a shard is one whole episode. The numpy backend indexes the byte offset of every record (so
any episode is one positioned read), checks both masked CRC-32Cs, parses the ``tf.train.Example`` by hand,
reshapes the flattened steps with the spec from ``features.json`` (T x A actions, T JPEGs per camera,
booleans stored as int64) and decodes JPEGs with simplejpeg. The ``tf`` backend
(:mod:`~jaxrobot.data.rlds.tf_reader`) reads the same folder through tfds and returns the same dict layout;
it is the reference the numpy backend is tested against, and it reads ``array_record`` shards (tfds's
random-access data sources), which the numpy backend does not: the default ``backend="auto"`` picks it for
those.

An episode is a flat dict: ``steps/<...>`` arrays with a leading T, ``episode_metadata/<...>`` (0-d arrays),
text as ``bytes`` in ``np.object_`` arrays. Never use ``is_last`` or ``has_image_*`` to find where an episode
ends or which cameras exist: cut datasets (e.g. the Bridge sample in tests/testdata) get them wrong.
"""

from __future__ import annotations

import dataclasses
import hashlib
import json
import os
import threading
import zlib
from collections.abc import Iterator, Sequence
from typing import Any, Literal

import numpy as np

from jaxrobot.data.base import DataError
from jaxrobot.data.rlds import fs, tfrecord
from jaxrobot.data.rlds.example_proto import ProtoError, parse_example
from jaxrobot.data.rlds.features import (
    IMAGE_ENCODINGS,
    METADATA_FILE,
    DatasetInfo,
    Feature,
    load_json,
    parse_dataset_info,
    parse_features,
)
from jaxrobot.data.rlds.images import decode_frames

Episode = dict[str, np.ndarray]
_INDEX_CACHE_VERSION = 1


@dataclasses.dataclass
class _Shard:
    split: str
    name: str
    path: str
    num_episodes: int  # from dataset_info.json
    index: tfrecord.ShardIndex | None = None
    file: fs.RandomAccessFile | None = None


def _find_dataset_dirs(path: str, depth: int = 2) -> list[str]:
    """Folders below ``path`` (up to ``depth`` levels) that hold a dataset_info.json."""
    found: list[str] = []
    try:
        names = fs.listdir(path)
    except OSError:
        return found
    if "dataset_info.json" in names:
        return [path]
    if depth == 0:
        return found
    for name in names:
        sub = fs.join(path, name)
        if fs.isdir(sub):
            found += _find_dataset_dirs(sub, depth - 1)
    return found


def check_dataset_dir(path: str) -> None:
    """Raise a DataError that says what was expected when ``path`` is not a TFDS dataset folder."""
    if not fs.exists(path):
        raise DataError(f"{path}: no such folder; expected the TFDS dataset folder that holds "
                        "dataset_info.json, features.json and the record shards (<data_dir>/<name>/<version>)")
    if not fs.isdir(path):
        raise DataError(f"{path}: is a file; pass the folder that holds dataset_info.json "
                        f"({fs.dirname(path) or '.'}?)")
    if fs.exists(fs.join(path, "dataset_info.json")):
        return
    below = _find_dataset_dirs(path)
    if below:
        hint = ", ".join(below[:3]) + (" ..." if len(below) > 3 else "")
        raise DataError(f"{path}: no dataset_info.json here. This looks like a TFDS data_dir (the parent of "
                        f"<name>/<version>/); pass the dataset folder itself: {hint}")
    raise DataError(f"{path}: not a TFDS dataset folder (no dataset_info.json); expected the folder "
                    "<data_dir>/<name>/<version>/ that holds dataset_info.json, features.json and the shards")


def _read_json(path: str) -> Any:
    """A metadata file's JSON; unreadable, non-UTF-8 or invalid JSON raises a DataError naming the file."""
    try:
        data = fs.read_bytes(path)
    except OSError as e:
        raise DataError(f"{path}: cannot read ({e.strerror or e})") from e
    return load_json(data, path)


def _resolve_splits(info: DatasetInfo, split: str | None, path: str) -> list[str]:
    if split is None:
        return list(info.splits)
    names = [s.strip() for s in split.replace(",", "+").split("+") if s.strip()]
    for s in names:
        if s not in info.splits:
            raise DataError(f"{path}: no split {s!r}; the dataset has {sorted(info.splits)}"
                            + (" (slices like 'train[:10]' are not supported)" if "[" in s else ""))
    return names


class RldsDataset:
    """Episodes of an RLDS/TFDS dataset folder, by index or in file order.

    Args:
        path: the folder holding ``dataset_info.json`` (``<data_dir>/<name>/<version>``), local or ``gs://``.
        split: a split name, several joined by ``+``, or None for all splits (in dataset_info order).
        backend: ``"numpy"`` (no TensorFlow), ``"tf"`` (tfds; the reference, and the reader of
            ``array_record`` shards) or ``"auto"`` (default: ``numpy`` for tfrecord shards, else ``tf``).
        decode_images: decode JPEG/PNG frames to uint8 [T, H, W, C]; if False they stay encoded
            (``np.object_`` arrays of bytes), e.g. for a cache of encoded frames or to decode in workers.
        image_size: ``(h, w)`` to decode every camera at this size; JPEGs are decoded at a reduced DCT
            scale first when that is smaller (much cheaper than a full decode and resize).
        keys: only these flat keys (default: all); skipping cameras you do not use skips their decode.
        check_crc: verify both CRCs of every record read (cheap next to JPEG decoding).
        index_cache: keep the record-offset/episode-length index of each shard in the user cache folder
            (keyed by shard names, sizes and mtimes), so re-opening a large dataset needs no scan.
    """

    def __init__(self, path: str, split: str | None = None, *, backend: Literal["auto", "numpy", "tf"] = "auto",
                 decode_images: bool = True, image_size: tuple[int, int] | None = None,
                 keys: Sequence[str] | None = None, check_crc: bool = True, index_cache: bool = True):
        path = os.fspath(path)
        if not fs.is_remote(path):
            path = path.rstrip("/") or "/"
        self.path = path
        check_dataset_dir(path)
        info_path = fs.join(path, "dataset_info.json")
        self._info = parse_dataset_info(_read_json(info_path), info_path)
        feat_path = fs.join(path, "features.json")
        if not fs.exists(feat_path):
            raise DataError(f"{feat_path}: missing; a TFDS dataset folder needs features.json beside "
                            "dataset_info.json (written by tfds >= 4.0)")
        self._spec = parse_features(_read_json(feat_path), feat_path)
        if backend not in ("auto", "numpy", "tf"):
            raise DataError(f"backend must be 'auto', 'numpy' or 'tf', got {backend!r}")
        if backend == "auto":
            backend = "numpy" if self._info.file_format == "tfrecord" else "tf"
        self.backend = backend
        self.split = split
        self._splits = _resolve_splits(self._info, split, path)
        self.decode_images = decode_images
        self.image_size = None if image_size is None else (int(image_size[0]), int(image_size[1]))
        if keys is not None:
            missing = [k for k in keys if k not in self._spec]
            if missing:
                raise DataError(f"{path}: no feature(s) {missing}; the dataset has {sorted(self._spec)}")
            self._keys = list(keys)
        else:
            self._keys = list(self._spec)
        self.check_crc = check_crc
        self.index_cache = index_cache
        if backend == "numpy" and self._info.file_format != "tfrecord":
            raise DataError(f"{path}: shards are {self._info.file_format!r}; the numpy reader reads tfrecord "
                            "shards only: use backend='tf' (or 'auto')")
        self._shards: list[_Shard] = []
        names_present: set[str] | None = None
        for s in self._splits:
            sinfo = self._info.splits[s]
            for name, n in zip(sinfo.shard_names(self._info.name, self._info.file_format),
                               sinfo.shard_lengths, strict=True):
                self._shards.append(_Shard(s, name, fs.join(path, name), n))
        if self._shards:
            names_present = set(fs.listdir(path))
            missing = [sh.name for sh in self._shards if sh.name not in names_present]
            if missing:
                raise DataError(f"{path}: shard(s) listed in dataset_info.json are missing: {missing[:5]}"
                                f"{' ...' if len(missing) > 5 else ''} (incomplete download or copy?)")
        self._starts = np.cumsum([0] + [sh.num_episodes for sh in self._shards])
        self._lock = threading.Lock()
        self._lengths: np.ndarray | None = None
        self._missing: dict[str, dict[str, int]] | None = None  # shard -> declared key -> records lacking it
        self._tf_reader = None

    # ------------------------------------------------------------------------------------------ metadata

    @property
    def name(self) -> str:
        return self._info.name

    @property
    def version(self) -> str:
        return self._info.version

    @property
    def info(self) -> DatasetInfo:
        return self._info

    @property
    def splits(self) -> dict[str, int]:
        """Episodes per split (all splits of the dataset, not only the selected ones)."""
        return {name: s.num_episodes for name, s in self._info.splits.items()}

    @property
    def metadata(self) -> dict[str, Any]:
        """The dataset's ``metadata.json`` (tfds's ``MetadataDict`` file; e.g. the sim task config that made
        jaxrobot's demonstrations), or ``{}`` when it has none."""
        meta_path = fs.join(self.path, METADATA_FILE)
        if not fs.exists(meta_path):
            return {}
        content = _read_json(meta_path)
        if not isinstance(content, dict):
            raise DataError(f"{meta_path}: expected a JSON object, got {type(content).__name__}")
        return content

    def feature_spec(self) -> dict[str, dict[str, Any]]:
        """Flat key -> ``{"shape": tuple, "dtype": str, "encoding": str}`` (per-step shapes lead with None)."""
        return {k: self._spec[k].as_dict() for k in self._keys}

    def features(self) -> dict[str, Feature]:
        """The flat spec as :class:`~jaxrobot.data.rlds.features.Feature` objects (with descriptions)."""
        return {k: self._spec[k] for k in self._keys}

    def __len__(self) -> int:
        return int(self._starts[-1])

    def shard_fingerprint(self) -> list[tuple[str, int, float]]:
        """``(file name, size, mtime)`` of every shard of the selected splits, for cache keys."""
        out = []
        for sh in self._shards:
            st = fs.stat(sh.path)
            out.append((sh.name, st.size, st.mtime))
        return out

    def locate(self, i: int) -> tuple[str, int]:
        """``(shard file name, record number)`` of episode ``i``."""
        s, r = self._locate(i)
        return self._shards[s].name, r

    def split_position(self, i: int) -> tuple[str, int]:
        """``(split name, episode number within that split)`` of episode ``i``."""
        s, _ = self._locate(i)
        split = self._shards[s].split
        start = sum(self.splits[x] for x in self._splits[: self._splits.index(split)])
        return split, i % len(self) - start

    def _locate(self, i: int) -> tuple[int, int]:
        n = len(self)
        if not -n <= i < n:
            raise IndexError(f"episode {i} out of range: {self.path} has {n} episodes in {self._splits}")
        i %= n
        s = int(np.searchsorted(self._starts, i, side="right")) - 1
        return s, i - int(self._starts[s])

    # ----------------------------------------------------------------------------------------- indexing

    def _cache_file(self, sh: _Shard) -> str | None:
        if not self.index_cache:
            return None
        try:
            st = fs.stat(sh.path)
        except OSError:
            return None
        from jaxrobot.platform import cache_dir

        where = sh.path if fs.is_remote(sh.path) else os.path.abspath(sh.path)
        key = json.dumps([_INDEX_CACHE_VERSION, where, st.size, st.mtime])
        return str(cache_dir() / "rlds_index" / (hashlib.sha1(key.encode()).hexdigest() + ".json"))

    def _load_cached(self, sh: _Shard) -> dict | None:
        f = self._cache_file(sh)
        if f is None or not os.path.exists(f):
            return None
        try:
            with open(f) as fh:
                content = json.load(fh)
        except (OSError, ValueError):  # a damaged cache entry is rebuilt
            return None
        ok = isinstance(content, dict) and isinstance(content.get("offsets"), list) and isinstance(
            content.get("lengths"), list)
        return content if ok else None

    def _store_cached(self, sh: _Shard, content: dict) -> None:
        f = self._cache_file(sh)
        if f is None:
            return
        try:
            os.makedirs(os.path.dirname(f), exist_ok=True)
            tmp = f"{f}.{os.getpid()}.{threading.get_ident()}.tmp"
            with open(tmp, "w") as fh:
                json.dump(content, fh)
            os.replace(tmp, f)
        except OSError:
            pass  # the cache is an optimisation only

    def _shard_index(self, s: int) -> tfrecord.ShardIndex:
        sh = self._shards[s]
        if sh.index is None:
            with self._lock:
                if sh.index is None:
                    cached = self._load_cached(sh)
                    if cached is not None:
                        idx = tfrecord.ShardIndex(sh.path, np.asarray(cached["offsets"], dtype=np.int64),
                                                  np.asarray(cached["lengths"], dtype=np.int64))
                    else:
                        idx = tfrecord.index_shard(sh.path, check_crc=True)
                        self._store_cached(sh, {"offsets": idx.offsets.tolist(), "lengths": idx.lengths.tolist()})
                    if len(idx) != sh.num_episodes:
                        raise DataError(f"{sh.path}: holds {len(idx)} records but dataset_info.json says "
                                        f"{sh.num_episodes} (shard and metadata disagree)")
                    sh.file = fs.RandomAccessFile(sh.path)
                    sh.index = idx
        return sh.index

    def record(self, i: int) -> bytes:
        """The raw serialized ``tf.train.Example`` of episode ``i`` (CRC-checked)."""
        s, r = self._locate(i)
        idx = self._shard_index(s)
        sh = self._shards[s]
        assert sh.file is not None
        return tfrecord.read_record(sh.file, int(idx.offsets[r]), length=int(idx.lengths[r]), number=r,
                                    check_crc=self.check_crc)

    # ------------------------------------------------------------------------------------------ decoding

    def parse_record(self, data: bytes, where: str = "record") -> Episode:
        """A serialized episode -> flat dict of arrays (reshaped, cast, images decoded as configured)."""
        try:
            raw = parse_example(data)
        except ProtoError as e:
            raise DataError(f"{where}: {e}") from e
        length = self._episode_length(raw, where)
        out: Episode = {}
        for key in self._keys:
            f = self._spec[key]
            if key not in raw:
                raise DataError(f"{where}: feature {key!r} is missing from the record (features.json lists it)")
            out[key] = self._convert(key, f, raw[key], length, where)
        return out

    def _episode_length(self, raw: dict, where: str) -> int:
        length = None
        for key, f in self._spec.items():
            if not f.sequence or key not in raw:
                continue
            v = raw[key]
            if f.encoding in IMAGE_ENCODINGS or f.encoding in ("text", "tensor_bytes", "tensor_zlib"):
                t = len(v)
            else:
                per = int(np.prod(f.item_shape, dtype=np.int64)) if f.item_shape else 1
                if per == 0:
                    continue
                if len(v) % per:
                    raise DataError(f"{where}: feature {key!r} has {len(v)} values, not a multiple of its "
                                    f"step shape {f.item_shape}")
                t = len(v) // per
            if length is None:
                length = t
            elif t != length:
                raise DataError(f"{where}: steps disagree on the episode length ({key!r} has {t} steps, "
                                f"others {length})")
        return 0 if length is None else length

    def _convert(self, key: str, f: Feature, v, length: int, where: str) -> np.ndarray:
        lead = (length,) if f.sequence else ()
        item = f.item_shape
        if f.encoding in IMAGE_ENCODINGS:
            frames = list(v)
            if not f.sequence:
                frames = frames[:1]
            if not self.decode_images:
                arr = np.empty(len(frames), dtype=object)
                arr[:] = frames
                return arr if f.sequence else arr[0:1].reshape(())
            try:
                imgs = decode_frames(frames, item, self.image_size, f.dtype)
            except Exception as e:  # noqa: BLE001 - any decoder failure is bad data
                raise DataError(f"{where}: cannot decode image {key!r}: {e}") from e
            if self.image_size is None:
                for d, want in zip(imgs.shape[1:], item, strict=False):
                    if want is not None and d != want:
                        raise DataError(f"{where}: image {key!r} decodes to {imgs.shape[1:]}, features.json "
                                        f"says {item}")
            return imgs if f.sequence else imgs[0]
        if f.encoding == "text":
            arr = np.empty(len(v), dtype=object)
            arr[:] = list(v)
            if not f.sequence:
                if len(v) != 1:
                    raise DataError(f"{where}: text feature {key!r} has {len(v)} values, expected 1")
                return arr.reshape(())
            return arr
        if f.encoding in ("tensor_bytes", "tensor_zlib"):
            vals = [zlib.decompress(b) if f.encoding == "tensor_zlib" else b for b in v]
            try:
                arrs = [np.frombuffer(b, dtype=f.dtype).reshape(item) for b in vals]
            except ValueError as e:
                raise DataError(f"{where}: feature {key!r}: {e}") from e
            return np.stack(arrs) if f.sequence else arrs[0]
        arr = np.asarray(v)
        want = int(np.prod(lead + item, dtype=np.int64))
        if arr.size != want:
            raise DataError(f"{where}: feature {key!r} has {arr.size} values, expected {want} for shape "
                            f"{lead + item}")
        if f.dtype == "bool":
            out = arr != 0
        elif f.dtype == "string":
            out = np.asarray(list(v), dtype=object)
        else:
            out = arr.astype(f.dtype)  # copies: the float views point into the record buffer
        return out.reshape(lead + item)

    # ---------------------------------------------------------------------------------------- episodes

    def episode(self, i: int) -> Episode:
        """Episode ``i`` of the selected split(s) as a flat dict (see the module docstring)."""
        if self.backend == "tf":
            return self._tf().episode(i)
        s, r = self._locate(i)
        data = self.record(i)
        return self.parse_record(data, f"{self._shards[s].path}: record {r} (episode {i})")

    def __getitem__(self, i: int) -> Episode:
        return self.episode(i)

    def __iter__(self) -> Iterator[Episode]:
        """Episodes in file order (shards in order, records in order)."""
        if self.backend == "tf":
            yield from self._tf().iterate()
            return
        for sh in self._shards:
            count = 0
            for off, data in tfrecord.iter_records(sh.path, check_crc=self.check_crc):
                if count >= sh.num_episodes:
                    raise DataError(f"{sh.path}: holds more records than the {sh.num_episodes} that "
                                    "dataset_info.json lists (shard and metadata disagree)")
                yield self.parse_record(data, f"{sh.path}: record {count} at byte {off}")
                count += 1
            if count != sh.num_episodes:
                raise DataError(f"{sh.path}: holds {count} records but dataset_info.json says "
                                f"{sh.num_episodes} (shard and metadata disagree)")

    def episode_lengths(self) -> np.ndarray:
        """Steps per episode (int64 [len(self)]), parsed once without decoding images and then cached.

        The same pass notes which features ``features.json`` declares that records lack
        (:meth:`missing_features`).
        """
        if self._lengths is not None:
            return self._lengths
        if self._info.file_format != "tfrecord":
            self._lengths = self._tf().episode_lengths()
            return self._lengths
        lengths = []
        missing: dict[str, dict[str, int]] = {}
        for s, sh in enumerate(self._shards):
            self._shard_index(s)
            cached = self._load_cached(sh)
            if cached is not None and "episode_lengths" in cached and isinstance(cached.get("missing"), dict):
                lengths.append(np.asarray(cached["episode_lengths"], dtype=np.int64))
                missing[sh.name] = {str(k): int(v) for k, v in cached["missing"].items()}
                continue
            idx = sh.index
            assert idx is not None and sh.file is not None
            ls = np.zeros(len(idx), dtype=np.int64)
            absent: dict[str, int] = {}
            for r in range(len(idx)):
                data = tfrecord.read_record(sh.file, int(idx.offsets[r]), length=int(idx.lengths[r]), number=r,
                                            check_crc=self.check_crc)
                where = f"{sh.path}: record {r}"
                try:
                    raw = parse_example(data)
                except ProtoError as e:
                    raise DataError(f"{where}: {e}") from e
                ls[r] = self._episode_length(raw, where)
                for key in self._spec:
                    if key not in raw:
                        absent[key] = absent.get(key, 0) + 1
            lengths.append(ls)
            missing[sh.name] = absent
            self._store_cached(sh, {"offsets": idx.offsets.tolist(), "lengths": idx.lengths.tolist(),
                                    "episode_lengths": ls.tolist(), "missing": absent})
        self._missing = missing
        self._lengths = np.concatenate(lengths) if lengths else np.zeros(0, dtype=np.int64)
        return self._lengths

    def missing_features(self) -> dict[str, dict[str, Any]]:
        """Features that ``features.json`` declares but records of the selected splits lack:
        ``{key: {"records": how many lack it, "of": records read, "shards": [file names]}}`` (``{}`` when every
        record holds every declared feature). Reading such an episode fails; this says so up front.

        Computed with :meth:`episode_lengths` (one parse of every record, cached); tfrecord shards only.
        """
        self.episode_lengths()
        out: dict[str, dict[str, Any]] = {}
        for shard, absent in (self._missing or {}).items():
            for key, n in absent.items():
                entry = out.setdefault(key, {"records": 0, "of": len(self), "shards": []})
                entry["records"] += n
                entry["shards"].append(shard)
        return out

    def _tf(self):
        if self._tf_reader is None:
            from jaxrobot.data.rlds.tf_reader import TfEpisodes

            self._tf_reader = TfEpisodes(self)
        return self._tf_reader

    def close(self) -> None:
        for sh in self._shards:
            if sh.file is not None:
                sh.file.close()
                sh.file = None
                sh.index = None

    def __repr__(self) -> str:
        return (f"RldsDataset({self.path!r}, split={self.split!r}, backend={self.backend!r}: "
                f"{self.name} {self.version}, {len(self)} episodes)")

    def __getstate__(self):  # picklable for worker processes: files reopen lazily
        state = self.__dict__.copy()
        state["_lock"] = None
        state["_tf_reader"] = None
        state["_shards"] = [dataclasses.replace(sh, file=None, index=None) for sh in self._shards]
        return state

    def __setstate__(self, state) -> None:
        self.__dict__.update(state)
        self._lock = threading.Lock()
