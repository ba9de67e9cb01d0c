"""Read a LeRobot dataset (v3.0, v2.1, v2.0) episode by episode, with frames decoded by timestamp.

:class:`LeRobotDataset` opens a dataset root (the folder holding ``meta/info.json``): the metadata is read and
checked at once (:func:`~jaxrobot.data.lerobot.meta.load_meta`); the number columns of every data file
(state, action, timestamps, task indices...) are read on first use and kept in memory (a few bytes per value,
small next to the frames); frames stay in their MP4 (or parquet, for ``image`` features) and are decoded
only when asked for (:func:`~jaxrobot.data.lerobot.video.decode_at`).

An episode is a flat dict keyed by LeRobot feature names: number features as arrays ``[T, *shape]`` (a
``shape`` of ``(1,)`` gives ``[T, 1]``), ``"task"`` as the task string of every frame (``object [T]``), and
with ``cameras=True`` every camera as uint8 RGB ``[T, H, W, 3]``. Inconsistent data (rows that disagree with
the episode table, ``frame_index`` gaps, missing columns, frames missing from a video) raise
:class:`~jaxrobot.data.lerobot.meta.LeRobotFormatError` / :class:`~jaxrobot.data.base.DataError` naming the
file and the episode.
"""

from __future__ import annotations

import collections
import threading
from pathlib import Path
from typing import Any

import numpy as np

from jaxrobot.data.base import DataError
from jaxrobot.data.lerobot.meta import (
    BOOKKEEPING,
    INFO_FILE,
    EpisodeRef,
    LeRobotFormatError,
    camera_keys,
    load_meta,
    numeric_keys,
)
from jaxrobot.data.lerobot.video import DEFAULT_TOLERANCE_S, decode_at


def _column_to_numpy(column, shape: tuple[int, ...], dtype: str, where: str) -> np.ndarray:
    """A parquet column (scalars, fixed-size or variable lists, nested for 2-D features) as ``[n, *shape]``."""
    import pyarrow as pa

    n = len(column)
    arr = column.combine_chunks() if isinstance(column, pa.ChunkedArray) else column
    if arr.null_count:
        raise LeRobotFormatError(f"{where}: {arr.null_count} missing values")
    values = arr
    while pa.types.is_list(values.type) or pa.types.is_large_list(values.type) or \
            pa.types.is_fixed_size_list(values.type):
        values = values.flatten()
    try:
        out = values.to_numpy(zero_copy_only=False)
    except (pa.ArrowInvalid, NotImplementedError):
        out = np.asarray(arr.to_pylist())
    size = int(np.prod(shape)) if shape else 1
    if out.size != n * size:
        raise LeRobotFormatError(f"{where}: {out.size} values for {n} rows of shape {list(shape)}")
    out = out.reshape((n, *shape) if shape else (n, 1))
    try:
        target = np.dtype(dtype)
    except TypeError:
        return out
    return out if out.dtype == target else out.astype(target)


class LeRobotDataset:
    """Random-access episodes of one LeRobot dataset (see the module docstring).

    Args:
        root: the dataset root (holding ``meta/info.json``); local folders only.
        tolerance_s: how far (seconds) a decoded frame may be from the wanted timestamp.
    """

    def __init__(self, root: str | Path, *, tolerance_s: float = DEFAULT_TOLERANCE_S):
        self.meta = load_meta(root)
        self.root = self.meta.root
        self.tolerance_s = tolerance_s
        self._columns: list[dict[str, np.ndarray]] | None = None
        self._rows: list[tuple[int, int]] = []  # per episode: (first row in its data file, row count)
        self._lock = threading.Lock()

    # ------------------------------------------------------------ metadata

    @property
    def name(self) -> str:
        """The dataset's folder name (LeRobot datasets carry no name of their own besides the hub repo id)."""
        return self.root.name

    @property
    def version(self) -> str:
        return self.meta.version

    @property
    def fps(self) -> float:
        return self.meta.fps

    @property
    def info(self) -> dict[str, Any]:
        return self.meta.info

    @property
    def features(self) -> dict[str, dict]:
        return self.meta.features

    @property
    def tasks(self) -> list[str]:
        """Task strings by ``task_index``."""
        return self.meta.tasks

    @property
    def lengths(self) -> np.ndarray:
        return self.meta.lengths

    @property
    def total_frames(self) -> int:
        return int(self.lengths.sum())

    @property
    def camera_keys(self) -> list[str]:
        return camera_keys(self.features)

    @property
    def value_keys(self) -> list[str]:
        """Number features besides the bookkeeping columns (``observation.state``, ``action``, ...)."""
        return [k for k in numeric_keys(self.features) if k not in BOOKKEEPING]

    @property
    def stored_stats(self) -> dict[str, dict] | None:
        """The statistics the dataset stores (``meta/stats.json``; v2.1: aggregated per-episode ones), as
        LeRobot writes them (``{feature: {"mean", "std", "min", "max", "count", "q01", ...}}``), or None."""
        return self.meta.stats

    def __len__(self) -> int:
        return len(self.meta.episodes)

    def ref(self, i: int) -> EpisodeRef:
        if not 0 <= i < len(self):
            raise IndexError(f"episode {i} outside 0..{len(self) - 1}")
        return self.meta.episodes[i]

    def fingerprint(self) -> list[tuple[str, int, int]]:
        """(file, size, mtime) of the metadata and data files: a cache key for anything computed from them."""
        files = {INFO_FILE} | {e.data_file for e in self.meta.episodes}
        files |= {str(p.relative_to(self.root)) for p in (self.root / "meta").rglob("*") if p.is_file()}
        out = []
        for rel in sorted(files):
            st = (self.root / rel).stat()
            out.append((rel, st.st_size, st.st_mtime_ns))
        return out

    # ------------------------------------------------------------ number columns

    def _load_columns(self) -> list[dict[str, np.ndarray]]:
        import pyarrow.parquet as pq

        with self._lock:
            if self._columns is not None:
                return self._columns
            keys = numeric_keys(self.features)
            by_file: dict[str, list[EpisodeRef]] = collections.defaultdict(list)
            for e in self.meta.episodes:
                by_file[e.data_file].append(e)
            columns: list[dict[str, np.ndarray] | None] = [None] * len(self)
            rows: list[tuple[int, int]] = [(0, 0)] * len(self)
            for rel, eps in by_file.items():
                path = self.root / rel
                try:
                    names = pq.read_schema(path).names
                    absent = [k for k in keys if k not in names]
                    if absent:
                        raise LeRobotFormatError(f"{path}: missing columns {absent} (info.json declares them; "
                                                 f"the file has {names})")
                    table = pq.read_table(path, columns=keys)
                except LeRobotFormatError:
                    raise
                except Exception as e:  # pyarrow: ArrowInvalid, OSError... for damaged files
                    raise LeRobotFormatError(f"{path}: cannot read parquet ({e})") from None
                arrays = {k: _column_to_numpy(table.column(k), tuple(self.features[k]["shape"]),
                                              self.features[k]["dtype"], f"{path}: column {k!r}") for k in keys}
                episode_col = arrays["episode_index"].reshape(-1)
                for e in eps:
                    idx = np.flatnonzero(episode_col == e.index)
                    if len(idx) != e.length:
                        raise LeRobotFormatError(f"{path}: episode {e.index} has {len(idx)} rows but the episode "
                                                 f"table says length {e.length}")
                    if idx[-1] - idx[0] + 1 != len(idx):
                        raise LeRobotFormatError(f"{path}: the rows of episode {e.index} are not contiguous")
                    sl = slice(int(idx[0]), int(idx[-1]) + 1)
                    cols = {k: v[sl] for k, v in arrays.items()}
                    frame_index = cols["frame_index"].reshape(-1)
                    if not np.array_equal(frame_index, np.arange(e.length)):
                        bad = int(np.flatnonzero(frame_index != np.arange(e.length))[0])
                        raise LeRobotFormatError(f"{path}: episode {e.index}: frame_index is not 0..{e.length - 1} "
                                                 f"(row {bad} of the episode has {int(frame_index[bad])})")
                    task_index = cols["task_index"].reshape(-1)
                    if len(task_index) and (task_index.min() < 0 or task_index.max() >= len(self.tasks)):
                        raise LeRobotFormatError(f"{path}: episode {e.index}: task_index outside the "
                                                 f"{len(self.tasks)} tasks of the task table")
                    columns[e.index] = cols
                    rows[e.index] = (sl.start, e.length)
            self._rows = rows
            self._columns = columns  # type: ignore[assignment]
            return self._columns

    def columns(self, i: int) -> dict[str, np.ndarray]:
        """The number features of episode ``i`` (bookkeeping columns included) as ``[T, *shape]`` arrays."""
        self.ref(i)
        return self._load_columns()[i]

    def task_strings(self, i: int) -> np.ndarray:
        """The task of every frame of episode ``i`` (``object [T]`` of str)."""
        idx = self.columns(i)["task_index"].reshape(-1)
        out = np.empty(len(idx), object)
        out[:] = [self.tasks[int(j)] for j in idx]
        return out

    def timestamps(self, i: int) -> np.ndarray:
        return self.columns(i)["timestamp"].reshape(-1).astype(np.float64)

    # ------------------------------------------------------------ frames

    def encoded_frames(self, i: int, key: str) -> np.ndarray:
        """The stored bytes (PNG/JPEG) of an ``image`` feature for every frame of episode ``i`` (``object [T]``)."""
        import pyarrow.parquet as pq

        if self.features.get(key, {}).get("dtype") != "image":
            raise KeyError(f"{key!r} is not an image feature of {self.root}")
        self._load_columns()
        start, n = self._rows[i]
        path = self.root / self.ref(i).data_file
        try:
            f = pq.ParquetFile(path)
            groups, first, pos = [], None, 0
            for g in range(f.metadata.num_row_groups):
                size = f.metadata.row_group(g).num_rows
                if pos + size > start and pos < start + n:
                    groups.append(g)
                    first = pos if first is None else first
                pos += size
            values = f.read_row_groups(groups, columns=[key]).column(key).to_pylist()[start - first:start - first + n]
        except Exception as e:
            raise LeRobotFormatError(f"{path}: cannot read image column {key!r} ({e})") from None
        out = np.empty(n, object)
        for t, v in enumerate(values):
            data = v.get("bytes") if isinstance(v, dict) else v
            if data is None and isinstance(v, dict) and v.get("path"):
                data = (self.root / v["path"]).read_bytes()
            if data is None:
                raise LeRobotFormatError(f"{path}: episode {i} frame {t}: image {key!r} has no bytes")
            out[t] = bytes(data)
        return out

    def frames(self, i: int, key: str, steps=None) -> np.ndarray:
        """Frames ``steps`` (default: all) of camera ``key`` in episode ``i``: uint8 RGB ``[n, H, W, 3]``.

        Video frames are the ones shown at ``from_timestamp + timestamp[t]`` in the episode's MP4 (as LeRobot
        finds them), within ``tolerance_s``.
        """
        e = self.ref(i)
        steps = np.arange(e.length) if steps is None else np.asarray(steps, np.int64).reshape(-1)
        dtype = self.features.get(key, {}).get("dtype")
        if dtype == "video":
            times = e.video_offsets[key] + self.timestamps(i)[steps]
            return decode_at(str(self.root / e.video_files[key]), times, tolerance_s=self.tolerance_s,
                             where=f"episode {i} feature {key!r}: ")
        if dtype == "image":
            from jaxrobot.data.transforms import decode_image

            raw = self.encoded_frames(i, key)
            out = []
            for t in steps:
                try:
                    out.append(decode_image(raw[t]))
                except DataError as err:
                    raise DataError(f"{self.root / e.data_file}: episode {i} frame {int(t)} feature {key!r}: "
                                    f"{err}") from None
            return np.stack(out)
        raise KeyError(f"{key!r} is not a camera feature of {self.root} (cameras: {self.camera_keys})")

    def episode(self, i: int, *, cameras: bool = True) -> dict[str, np.ndarray]:
        """Episode ``i`` as a flat dict (see the module docstring)."""
        out = dict(self.columns(i))
        out["task"] = self.task_strings(i)
        if cameras:
            for key in self.camera_keys:
                out[key] = self.frames(i, key)
        return out

    def __iter__(self):
        for i in range(len(self)):
            yield self.episode(i)

    def __repr__(self) -> str:
        return (f"LeRobotDataset({str(self.root)!r}, {self.version}, {len(self)} episodes, {self.total_frames} "
                f"frames, {self.fps:g} fps)")
