"""Write episodes as a LeRobotDataset v3.0 that LeRobot 0.4.4 loads (``LeRobotDataset(repo_id, root=...)``).

The layout is the one ``LeRobotDataset.create`` / ``save_episode`` / ``finalize`` produce (lerobot/datasets/
lerobot_dataset.py and utils.py, LeRobot 0.4.4): episodes appended to ``data/chunk-000/file-000.parquet``
(one row group per episode) and, per camera, to ``videos/<key>/chunk-000/file-000.mp4`` (frame ``n`` of a file
shown at ``n / fps``, so an episode starts where the previous one ended: its ``from_timestamp``), a new file
when one passes ``data_file_mb`` / ``video_file_mb``; ``meta/episodes/chunk-000/file-000.parquet`` with the
episode table and per-episode statistics; ``meta/tasks.parquet`` (task strings as the pandas index, which
``pandas.read_parquet`` restores); ``meta/stats.json`` (per-episode statistics aggregated as LeRobot does);
``meta/info.json`` last.

Number features are stored as given (float32 stays bit-exact). Cameras are always written as ``video``
features, encoded with PyAV (SVT-AV1, CRF 30, GOP 2, ``yuv420p`` by default: LeRobot's own settings).

Atomic: everything is written into a hidden sibling ``.<name>.incomplete-<pid>-<id>`` renamed to the target
only when complete (and removed on failure), so a crash never leaves a folder that looks like a dataset.
"""

from __future__ import annotations

import json
import os
import shutil
import uuid
from collections.abc import Iterable, Mapping
from pathlib import Path
from typing import Any

import numpy as np

from jaxrobot.data.base import DataError
from jaxrobot.data.lerobot.meta import BOOKKEEPING, CAMERA_DTYPES, EPISODES_DIR, INFO_FILE, STATS_FILE, TASKS_PARQUET
from jaxrobot.data.lerobot.video import VideoWriter, probe, resolve_codec

CODEBASE_VERSION = "v3.0"
CHUNKS_SIZE = 1000  # files per chunk folder (LeRobot's DEFAULT_CHUNK_SIZE)
DATA_PATH = "data/chunk-{chunk_index:03d}/file-{file_index:03d}.parquet"
VIDEO_PATH = "videos/{video_key}/chunk-{chunk_index:03d}/file-{file_index:03d}.mp4"
EPISODES_PATH = EPISODES_DIR + "/chunk-{chunk_index:03d}/file-{file_index:03d}.parquet"
QUANTILES = (0.01, 0.10, 0.50, 0.90, 0.99)  # LeRobot's DEFAULT_QUANTILES
_BOOKKEEPING_FEATURES = {
    "timestamp": {"dtype": "float32", "shape": [1], "names": None},
    "frame_index": {"dtype": "int64", "shape": [1], "names": None},
    "episode_index": {"dtype": "int64", "shape": [1], "names": None},
    "index": {"dtype": "int64", "shape": [1], "names": None},
    "task_index": {"dtype": "int64", "shape": [1], "names": None},
}


def feature_stats(x: np.ndarray, *, image: bool = False) -> dict[str, np.ndarray]:
    """LeRobot's per-episode statistics of one feature (``compute_episode_stats``): per dimension for
    numbers, per channel in [0, 1] with shape ``(3, 1, 1)`` for frames ``[T, H, W, 3]``; ``count`` is ``[T]``.
    Quantiles are exact here (LeRobot estimates them from histograms)."""
    n = len(x)
    if image:
        flat = x.reshape(-1, x.shape[-1]).astype(np.float64) / 255.0
    else:
        flat = x.reshape(n, -1).astype(np.float64)
    out = {"min": flat.min(0), "max": flat.max(0), "mean": flat.mean(0), "std": flat.std(0)}
    for q in QUANTILES:
        out[f"q{int(round(q * 100)):02d}"] = np.quantile(flat, q, axis=0)
    shape = (-1, 1, 1) if image else (x.shape[1:] or (1,))
    out = {k: v.reshape(shape) for k, v in out.items()}
    out["count"] = np.array([n], np.int64)
    return out


def aggregate(per_episode: list[dict[str, np.ndarray]]) -> dict[str, np.ndarray]:
    """Dataset statistics of one feature from per-episode ones, as LeRobot's ``aggregate_feature_stats``:
    exact mean and pooled std, min/max, count-weighted mean of the per-episode quantiles."""
    counts = np.array([float(s["count"][0]) for s in per_episode])
    means = np.stack([s["mean"] for s in per_episode])
    w = counts.reshape((-1,) + (1,) * (means.ndim - 1))
    total = counts.sum()
    mean = (means * w).sum(0) / total
    var = ((np.stack([s["std"] for s in per_episode]) ** 2 + (means - mean) ** 2) * w).sum(0) / total
    out = {"min": np.min(np.stack([s["min"] for s in per_episode]), 0),
           "max": np.max(np.stack([s["max"] for s in per_episode]), 0), "mean": mean, "std": np.sqrt(var),
           "count": np.array([int(total)], np.int64)}
    for q in QUANTILES:
        k = f"q{int(round(q * 100)):02d}"
        out[k] = (np.stack([s[k] for s in per_episode]) * w).sum(0) / total
    return out


def _number(x: float) -> int | float:
    """An integral value as int (LeRobot's info.json holds ints for fps and file sizes)."""
    return int(x) if float(x).is_integer() else float(x)


def _jsonable(stats: dict[str, dict[str, np.ndarray]]) -> dict:
    return {k: {s: np.asarray(v).tolist() for s, v in d.items()} for k, d in stats.items()}


def _arrow_column(values: np.ndarray, shape: list[int], dtype: str):
    """One parquet column as LeRobot stores it: a plain column for shape ``[1]``, a fixed-size list for
    ``[D]``, nested fixed-size lists for more dimensions."""
    import pyarrow as pa

    arr = np.ascontiguousarray(values.astype(np.dtype(dtype), copy=False))
    if list(shape) == [1]:
        return pa.array(arr.reshape(-1))
    col = pa.array(arr.reshape(-1))
    for d in reversed(shape):
        col = pa.FixedSizeListArray.from_arrays(col, int(d))
    return col


def _tasks_table(tasks: list[str]):
    """``meta/tasks.parquet``: ``task_index`` with the task strings as the pandas index (what LeRobot's
    ``pandas.DataFrame({"task_index": ...}, index=tasks).to_parquet`` writes)."""
    import pyarrow as pa

    pandas_meta = {
        "index_columns": ["__index_level_0__"],
        "column_indexes": [{"name": None, "field_name": None, "pandas_type": "unicode", "numpy_type": "object",
                            "metadata": {"encoding": "UTF-8"}}],
        "columns": [{"name": "task_index", "field_name": "task_index", "pandas_type": "int64",
                     "numpy_type": "int64", "metadata": None},
                    {"name": None, "field_name": "__index_level_0__", "pandas_type": "unicode",
                     "numpy_type": "object", "metadata": None}],
        "attributes": {}, "creator": {"library": "jaxrobot"}, "pandas_version": "2.2.0"}
    table = pa.table({"task_index": pa.array(np.arange(len(tasks), dtype=np.int64)),
                      "__index_level_0__": pa.array(tasks, pa.string())})
    return table.replace_schema_metadata({"pandas": json.dumps(pandas_meta)})


def _check_features(features: Mapping[str, dict]) -> dict[str, dict]:
    out = {}
    for key, f in features.items():
        if "/" in key or not key:
            raise DataError(f"feature {key!r}: LeRobot feature names are non-empty and contain no '/'")
        if key in BOOKKEEPING or key == "task":
            raise DataError(f"feature {key!r} is written by the writer itself")
        dtype, shape = f.get("dtype"), list(f.get("shape") or [])
        if dtype in CAMERA_DTYPES:
            if len(shape) != 3 or shape[2] != 3:
                raise DataError(f"feature {key!r}: cameras are [H, W, 3], got {shape}")
            out[key] = {"dtype": "video", "shape": shape, "names": ["height", "width", "channels"]}
            continue
        try:
            np.dtype(dtype)
        except TypeError:
            raise DataError(f"feature {key!r}: dtype {dtype!r} is not a number type or 'video'") from None
        if not shape or any(int(d) < 1 for d in shape):
            raise DataError(f"feature {key!r}: shape {shape} must be non-empty and positive")
        out[key] = {"dtype": str(np.dtype(dtype)), "shape": [int(d) for d in shape], "names": f.get("names")}
    if not out:
        raise DataError("features: nothing to write")
    return out


class _Files:
    """The data file and the per-camera video files currently appended to, rolled over by size."""

    def __init__(self, tmp: Path, features: dict, fps: float, codec: str, crf: int, gop: int,
                 data_mb: float, video_mb: float, max_episodes: int | None):
        self.tmp, self.features, self.fps = tmp, features, fps
        self.codec, self.crf, self.gop = codec, crf, gop
        self.data_limit, self.video_limit = data_mb * (1 << 20), video_mb * (1 << 20)
        self.max_episodes = max_episodes or float("inf")
        self.data_index = (0, 0)
        self.data_writer = None
        self.data_bytes = self.data_episodes = 0
        self.videos: dict[str, tuple[tuple[int, int], VideoWriter | None, int]] = {}

    @staticmethod
    def _next(index: tuple[int, int]) -> tuple[int, int]:
        chunk, file = index
        return (chunk + 1, 0) if file + 1 >= CHUNKS_SIZE else (chunk, file + 1)

    def write_data(self, table) -> tuple[int, int]:
        import pyarrow.parquet as pq

        if self.data_writer is not None and (self.data_bytes >= self.data_limit
                                             or self.data_episodes >= self.max_episodes):
            self.data_writer.close()
            self.data_writer, self.data_bytes, self.data_episodes = None, 0, 0
            self.data_index = self._next(self.data_index)
        if self.data_writer is None:
            chunk, file = self.data_index
            path = self.tmp / DATA_PATH.format(chunk_index=chunk, file_index=file)
            path.parent.mkdir(parents=True, exist_ok=True)
            self.data_writer = pq.ParquetWriter(path, table.schema, compression="snappy")
        self.data_writer.write_table(table)
        self.data_bytes += table.nbytes
        self.data_episodes += 1
        return self.data_index

    def video(self, key: str, height: int, width: int) -> tuple[tuple[int, int], VideoWriter]:
        """The writer the next episode of camera ``key`` goes to (the encoder holds back packets for its
        look-ahead, so a file's size is known only roughly while it is written)."""
        index, writer, episodes = self.videos.get(key, ((0, 0), None, 0))
        if writer is not None and (writer.nbytes >= self.video_limit or episodes >= self.max_episodes):
            writer.close()
            writer, index, episodes = None, self._next(index), 0
        if writer is None:
            path = self.tmp / VIDEO_PATH.format(video_key=key, chunk_index=index[0], file_index=index[1])
            path.parent.mkdir(parents=True, exist_ok=True)
            writer = VideoWriter(str(path), self.fps, height, width, codec=self.codec, crf=self.crf, gop=self.gop)
        self.videos[key] = (index, writer, episodes + 1)
        return index, writer

    def close(self) -> None:
        if self.data_writer is not None:
            self.data_writer.close()
            self.data_writer = None
        for key, (index, writer, episodes) in self.videos.items():
            if writer is not None:
                writer.close()
                self.videos[key] = (index, None, episodes)

    def abort(self) -> None:
        try:
            if self.data_writer is not None:
                self.data_writer.close()
        except Exception:  # the file is deleted with the temporary folder anyway
            pass
        for _, writer, _ in self.videos.values():
            if writer is not None:
                writer.abort()


def write_lerobot(out_dir: str | Path, episodes: Iterable[Mapping[str, Any]], *, features: Mapping[str, dict],
                  fps: float, robot_type: str | None = None, codec: str = "libsvtav1", crf: int = 30,
                  gop: int = 2, data_file_mb: float = 100.0, video_file_mb: float = 200.0,
                  max_episodes_per_file: int | None = None, overwrite: bool = False,
                  extra_info: dict | None = None) -> str:
    """Write ``episodes`` as the LeRobotDataset v3.0 ``out_dir`` and return its path.

    Args:
        out_dir: the dataset root to create (must not exist unless ``overwrite``).
        episodes: dicts with, for every key of ``features``, an array ``[T, *shape]`` (numbers; ``[T]`` is
            accepted for shape ``[1]``) or uint8 RGB frames ``[T, H, W, 3]`` (cameras), and ``"task"``: one
            string for the whole episode or one per frame.
        features: ``{key: {"dtype", "shape", "names"}}`` as in LeRobot's ``info.json`` (without the
            bookkeeping columns, which are written here); cameras have dtype ``video`` (or ``image``) and
            shape ``[H, W, 3]``.
        fps: frames per second (LeRobot's ``fps``; timestamps are ``frame_index / fps``).
        codec, crf, gop: video encoding (``libsvtav1``, ``libx264`` or ``libx265``).
        data_file_mb, video_file_mb: start a new data / video file once one holds this many megabytes
            (LeRobot's ``data_files_size_in_mb`` = 100 and ``video_files_size_in_mb`` = 200).
        max_episodes_per_file: also start new files after this many episodes (None: no limit).
        extra_info: more top-level entries for ``info.json`` (e.g. where the data came from).
    """
    out = Path(out_dir)
    feats = _check_features(features)
    if not fps > 0:
        raise DataError(f"fps must be > 0, got {fps}")
    codec = resolve_codec(codec)
    if out.exists():
        if not overwrite:
            raise DataError(f"{out}: already exists; remove it or choose another --out")
    out.parent.mkdir(parents=True, exist_ok=True)
    tmp = out.parent / f".{out.name}.incomplete-{os.getpid()}-{uuid.uuid4().hex[:8]}"
    tmp.mkdir()
    if max_episodes_per_file is not None and max_episodes_per_file < 1:
        raise DataError(f"max_episodes_per_file must be >= 1, got {max_episodes_per_file}")
    files = _Files(tmp, feats, fps, codec, crf, gop, data_file_mb, video_file_mb, max_episodes_per_file)
    try:
        info = _write_all(tmp, files, episodes, feats, fps, robot_type, extra_info)
        (tmp / INFO_FILE).write_text(json.dumps(info, indent=4) + "\n")  # last: the dataset is complete
        if out.exists():
            old = out.parent / f".{out.name}.old-{os.getpid()}-{uuid.uuid4().hex[:8]}"
            os.replace(out, old)
            os.replace(tmp, out)
            shutil.rmtree(old, ignore_errors=True)
        else:
            os.replace(tmp, out)
    except BaseException:
        files.abort()
        shutil.rmtree(tmp, ignore_errors=True)
        raise
    return str(out)


def _write_all(tmp: Path, files: _Files, episodes, feats: dict, fps: float, robot_type, extra_info) -> dict:
    import pyarrow as pa
    import pyarrow.parquet as pq

    cams = [k for k, f in feats.items() if f["dtype"] == "video"]
    values = [k for k in feats if k not in cams]
    tasks: dict[str, int] = {}
    rows: list[dict[str, Any]] = []
    ep_stats: list[dict[str, dict]] = []
    total = 0
    for i, ep in enumerate(episodes):
        where = f"episode {i}"
        extra = sorted(set(ep) - set(feats) - {"task"})
        missing = sorted(set(feats) - set(ep)) + ([] if "task" in ep else ["task"])
        if extra or missing:
            raise DataError(f"{where}: keys differ from the features (missing {missing}, extra {extra})")
        arrays = {}
        length = None
        for k in feats:
            a = np.asarray(ep[k])
            shape = feats[k]["shape"]
            if k not in cams and list(shape) == [1] and a.ndim == 1:
                a = a[:, None]
            if a.shape[1:] != tuple(shape):
                raise DataError(f"{where}: {k!r} has shape {a.shape}, features say [T, {', '.join(map(str, shape))}]")
            if k in cams and a.dtype != np.uint8:
                raise DataError(f"{where}: camera {k!r} is {a.dtype}; expected uint8 RGB frames")
            if length is None:
                length = len(a)
            elif len(a) != length:
                raise DataError(f"{where}: {k!r} has {len(a)} steps, {next(iter(feats))!r} has {length}")
            arrays[k] = a
        if not length:
            raise DataError(f"{where}: empty episode (0 steps)")
        task = ep["task"]
        task_list = [task] * length if isinstance(task, str | bytes) else list(task)
        task_list = [t.decode() if isinstance(t, bytes) else str(t) for t in task_list]
        if len(task_list) != length:
            raise DataError(f"{where}: 'task' has {len(task_list)} entries for {length} steps")
        task_index = np.array([tasks.setdefault(t, len(tasks)) for t in task_list], np.int64)
        frame_index = np.arange(length, dtype=np.int64)
        book = {"timestamp": (frame_index / fps).astype(np.float32)[:, None], "frame_index": frame_index[:, None],
                "episode_index": np.full((length, 1), i, np.int64),
                "index": (total + frame_index)[:, None], "task_index": task_index[:, None]}
        columns = {k: _arrow_column(arrays[k], feats[k]["shape"], feats[k]["dtype"]) for k in values}
        columns.update({k: _arrow_column(v, [1], _BOOKKEEPING_FEATURES[k]["dtype"]) for k, v in book.items()})
        chunk, file = files.write_data(pa.table(columns))
        row: dict[str, Any] = {"episode_index": i, "tasks": list(dict.fromkeys(task_list)), "length": length,
                               "data/chunk_index": chunk, "data/file_index": file,
                               "dataset_from_index": total, "dataset_to_index": total + length}
        stats = {k: feature_stats(arrays[k]) for k in values}
        for k in cams:
            h, w = feats[k]["shape"][:2]
            (vchunk, vfile), writer = files.video(k, h, w)
            start = writer.seconds
            for frame in arrays[k]:
                writer.add(frame)
            row.update({f"videos/{k}/chunk_index": vchunk, f"videos/{k}/file_index": vfile,
                        f"videos/{k}/from_timestamp": start, f"videos/{k}/to_timestamp": writer.seconds})
            stats[k] = feature_stats(arrays[k], image=True)
        stats.update({k: feature_stats(v) for k, v in book.items()})
        for k, s in stats.items():
            for name, v in s.items():
                row[f"stats/{k}/{name}"] = v.tolist()
        row["meta/episodes/chunk_index"], row["meta/episodes/file_index"] = 0, 0
        rows.append(row)
        ep_stats.append(stats)
        total += length
    if not rows:
        raise DataError("no episodes to write")
    files.close()

    path = tmp / EPISODES_PATH.format(chunk_index=0, file_index=0)
    path.parent.mkdir(parents=True, exist_ok=True)
    pq.write_table(pa.Table.from_pylist(rows), path, compression="snappy")
    task_names = sorted(tasks, key=tasks.get)
    pq.write_table(_tasks_table(task_names), tmp / TASKS_PARQUET)
    stats = {k: aggregate([s[k] for s in ep_stats]) for k in ep_stats[0]}
    (tmp / STATS_FILE).write_text(json.dumps(_jsonable(stats), indent=4) + "\n")

    info_features = dict(feats)
    for k in cams:
        v = probe(str(tmp / VIDEO_PATH.format(video_key=k, chunk_index=0, file_index=0)))
        info_features[k] = {**feats[k], "info": {
            "video.height": v["height"], "video.width": v["width"],
            "video.codec": {"libdav1d": "av1", "libaom-av1": "av1"}.get(v["codec"], v["codec"]),
            "video.pix_fmt": v["pix_fmt"], "video.is_depth_map": False,
            "video.fps": _number(fps), "video.channels": 3, "has_audio": False}}
    info_features.update(_BOOKKEEPING_FEATURES)
    return {"codebase_version": CODEBASE_VERSION, "robot_type": robot_type, "total_episodes": len(rows),
            "total_frames": total, "total_tasks": len(tasks), "chunks_size": CHUNKS_SIZE,
            "data_files_size_in_mb": _number(files.data_limit / (1 << 20)),
            "video_files_size_in_mb": _number(files.video_limit / (1 << 20)), "fps": _number(fps),
            "splits": {"train": f"0:{len(rows)}"}, "data_path": DATA_PATH,
            "video_path": VIDEO_PATH if cams else None, "features": info_features, **(extra_info or {})}
