"""LeRobotDataset metadata: ``meta/info.json``, the episode table, the tasks and the stored statistics.

Three layouts are read (the format of huggingface/lerobot, ``lerobot/datasets/utils.py`` and, for the older
ones, ``lerobot/datasets/v30/convert_dataset_v21_to_v30.py`` of LeRobot 0.4.4):

- **v3.0** (LeRobot >= 0.4): ``data/chunk-XXX/file-YYY.parquet`` and ``videos/<key>/chunk-XXX/file-YYY.mp4``
  each hold many episodes; ``meta/episodes/chunk-XXX/file-YYY.parquet`` says per episode which data file
  (``data/chunk_index``, ``data/file_index``), which global frames (``dataset_from_index``,
  ``dataset_to_index``), which MP4 and where in it (``videos/<key>/{chunk_index,file_index,from_timestamp,
  to_timestamp}``), its ``tasks`` and ``length``; ``meta/tasks.parquet`` maps task strings (the pandas index)
  to ``task_index``; ``meta/stats.json`` holds the statistics of every feature.
- **v2.1**: one parquet and one MP4 per episode (``data_path``/``video_path`` templates over ``episode_chunk``
  = ``episode_index // chunks_size``), ``meta/episodes.jsonl`` (index, tasks, length), ``meta/tasks.jsonl``,
  and per-episode statistics in ``meta/episodes_stats.jsonl`` (no global ``stats.json``).
- **v2.0**: as v2.1 with a global ``meta/stats.json`` instead of per-episode statistics.

Every per-step feature lives in ``info.json`` ``features``: numbers (``float32[D]``, ``int64[1]``, ``bool``...),
``video`` (frames in MP4, decoded by timestamp) or ``image`` (PNG/JPEG bytes inside the parquet). Five are
always there: ``timestamp``, ``frame_index``, ``episode_index``, ``index`` (global frame number) and
``task_index``. Only local folders are read (not the Hugging Face hub; download a dataset first).
"""

from __future__ import annotations

import collections
import dataclasses
import json
from pathlib import Path
from typing import Any

import numpy as np

from jaxrobot.data.base import DataError

INFO_FILE = "meta/info.json"
STATS_FILE = "meta/stats.json"
TASKS_PARQUET = "meta/tasks.parquet"
EPISODES_DIR = "meta/episodes"
LEGACY_EPISODES = "meta/episodes.jsonl"
LEGACY_EPISODES_STATS = "meta/episodes_stats.jsonl"
LEGACY_TASKS = "meta/tasks.jsonl"
SUPPORTED_VERSIONS = ("v2.0", "v2.1", "v3.0")
# The per-frame bookkeeping columns every LeRobot dataset has (``DEFAULT_FEATURES`` in lerobot's utils.py).
BOOKKEEPING = ("timestamp", "frame_index", "episode_index", "index", "task_index")
CAMERA_DTYPES = ("video", "image")
_CHANNEL_NAMES = ("channel", "channels", "c")


class LeRobotFormatError(DataError):
    """A LeRobot dataset folder is incomplete or inconsistent; the message names the file and the problem."""


def is_lerobot_root(path: str | Path) -> bool:
    """True when ``path`` is the root of a LeRobot dataset (it holds ``meta/info.json``)."""
    return "://" not in str(path) and (Path(path) / INFO_FILE).is_file()


@dataclasses.dataclass(frozen=True)
class EpisodeRef:
    """Where one episode is stored.

    ``data_file`` and the video paths are relative to the dataset root; ``video_offsets`` holds the time of
    the episode's first frame in each MP4 (v3.0 concatenates episodes; 0 in v2.x).
    """

    index: int
    length: int
    tasks: tuple[str, ...]
    data_file: str
    video_files: dict[str, str]
    video_offsets: dict[str, float]


def camera_keys(features: dict[str, dict]) -> list[str]:
    """Features holding frames (``video`` or ``image``), in ``info.json`` order."""
    return [k for k, f in features.items() if f.get("dtype") in CAMERA_DTYPES]


def numeric_keys(features: dict[str, dict]) -> list[str]:
    """Per-step number features (vectors and scalars), bookkeeping columns included, in ``info.json`` order."""
    return [k for k, f in features.items() if f.get("dtype") not in CAMERA_DTYPES + ("string",)]


def camera_hw(key: str, feature: dict) -> tuple[int, int]:
    """(height, width) of a camera feature; its ``shape`` is ``[H, W, C]`` or, in datasets ported to v2.0,
    ``[C, H, W]`` (``names`` say which)."""
    shape = list(feature.get("shape") or [])
    names = [str(n).lower() for n in (feature.get("names") or [])]
    if len(shape) != 3:
        raise LeRobotFormatError(f"feature {key!r}: camera shape {shape} is not [H, W, C] or [C, H, W]")
    if names and names[0] in _CHANNEL_NAMES:
        return int(shape[1]), int(shape[2])
    if not names and shape[0] in (1, 3, 4) and shape[2] not in (1, 3, 4):
        return int(shape[1]), int(shape[2])
    return int(shape[0]), int(shape[1])


def camera_name(key: str) -> str:
    """The batch camera name of a LeRobot camera key: ``observation.images.front`` -> ``front``,
    ``observation.image`` -> ``image`` (``.`` becomes ``_``); the batch key is ``observation/image_<name>``."""
    for prefix in ("observation.images.", "observation."):
        if key.startswith(prefix):
            key = key[len(prefix):]
            break
    return key.replace(".", "_")


def _load_json(path: Path, what: str) -> Any:
    try:
        return json.loads(path.read_text())
    except FileNotFoundError:
        raise LeRobotFormatError(f"{path}: missing ({what})") from None
    except (ValueError, UnicodeDecodeError) as e:
        raise LeRobotFormatError(f"{path}: not valid JSON ({e})") from None


def _load_jsonl(path: Path, what: str) -> list[dict]:
    try:
        text = path.read_text()
    except FileNotFoundError:
        raise LeRobotFormatError(f"{path}: missing ({what})") from None
    rows = []
    for n, line in enumerate(text.splitlines(), 1):
        if not line.strip():
            continue
        try:
            rows.append(json.loads(line))
        except ValueError as e:
            raise LeRobotFormatError(f"{path}: line {n} is not valid JSON ({e})") from None
    return rows


def _format(template: str, where: str, **fields) -> str:
    try:
        return template.format(**fields)
    except (KeyError, IndexError, ValueError) as e:
        raise LeRobotFormatError(f"{where}: path template {template!r} cannot be filled ({e!r})") from None


@dataclasses.dataclass
class Meta:
    """The metadata of one LeRobot dataset, checked for consistency (see :func:`load_meta`)."""

    root: Path
    info: dict[str, Any]
    version: str
    fps: float
    features: dict[str, dict]
    episodes: list[EpisodeRef]
    tasks: list[str]
    stats: dict[str, dict] | None

    @property
    def lengths(self) -> np.ndarray:
        return np.array([e.length for e in self.episodes], np.int64)


def load_meta(root: str | Path) -> Meta:
    """Read and check the metadata of the LeRobot dataset at ``root`` (no frame or data row is read).

    Raises :class:`LeRobotFormatError` naming the file for: a missing ``meta/info.json``, an unknown
    ``codebase_version``, a malformed feature table, episode indices with gaps or duplicates, a count that
    disagrees with ``info.json``, a missing data or video file, tasks that are not in the task table.
    """
    root = Path(root)
    if not root.is_dir():
        raise LeRobotFormatError(f"{root}: no such folder (expected a LeRobot dataset root holding {INFO_FILE})")
    info_path = root / INFO_FILE
    if not info_path.is_file():
        raise LeRobotFormatError(f"{root}: not a LeRobot dataset: no {INFO_FILE}")
    info = _load_json(info_path, "dataset info")
    if not isinstance(info, dict):
        raise LeRobotFormatError(f"{info_path}: expected a JSON object")
    version = str(info.get("codebase_version", ""))
    if version not in SUPPORTED_VERSIONS:
        raise LeRobotFormatError(f"{info_path}: codebase_version {version!r} is not supported (jaxrobot reads "
                                 f"{', '.join(SUPPORTED_VERSIONS)}; convert older datasets with LeRobot first)")
    features = info.get("features")
    if not isinstance(features, dict) or not features:
        raise LeRobotFormatError(f"{info_path}: no 'features' table")
    for key, f in features.items():
        if not isinstance(f, dict) or "dtype" not in f or not isinstance(f.get("shape"), list | tuple):
            raise LeRobotFormatError(f"{info_path}: feature {key!r} needs 'dtype' and 'shape', got {f!r}")
        if f["dtype"] in CAMERA_DTYPES:
            camera_hw(key, f)
    missing = [k for k in ("episode_index", "frame_index", "timestamp", "task_index") if k not in features]
    if missing:
        raise LeRobotFormatError(f"{info_path}: features lack the bookkeeping columns {missing}")
    try:
        fps = float(info["fps"])
    except (KeyError, TypeError, ValueError):
        raise LeRobotFormatError(f"{info_path}: missing or bad 'fps' ({info.get('fps')!r})") from None
    if not fps > 0:
        raise LeRobotFormatError(f"{info_path}: fps must be > 0, got {fps}")
    for key in ("data_path",) + (("video_path",) if any(f["dtype"] == "video" for f in features.values()) else ()):
        if not isinstance(info.get(key), str):
            raise LeRobotFormatError(f"{info_path}: missing {key!r} template")

    if version == "v3.0":
        tasks = _tasks_v3(root)
        episodes = _episodes_v3(root, info, features)
        stats = _load_json(root / STATS_FILE, "statistics") if (root / STATS_FILE).is_file() else None
    else:
        tasks = _tasks_v2(root)
        episodes = _episodes_v2(root, info, features)
        if (root / LEGACY_EPISODES_STATS).is_file():
            stats = aggregate_stats([r.get("stats", {}) for r in _load_jsonl(root / LEGACY_EPISODES_STATS,
                                                                               "per-episode statistics")])
        elif (root / STATS_FILE).is_file():
            stats = _load_json(root / STATS_FILE, "statistics")
        else:
            stats = None
    _check_episodes(root, info, episodes, tasks)
    return Meta(root=root, info=info, version=version, fps=fps, features=dict(features), episodes=episodes,
                tasks=tasks, stats=stats)


def _tasks_v3(root: Path) -> list[str]:
    import pyarrow.parquet as pq

    path = root / TASKS_PARQUET
    if not path.is_file():
        raise LeRobotFormatError(f"{path}: missing (the task table)")
    try:
        table = pq.read_table(path)
    except Exception as e:  # pyarrow raises ArrowInvalid, OSError... for damaged files
        raise LeRobotFormatError(f"{path}: cannot read parquet ({e})") from None
    names = table.column_names
    text_col = "task" if "task" in names else None
    if text_col is None:  # LeRobot writes the task strings as the pandas index of the table
        meta = json.loads((table.schema.metadata or {}).get(b"pandas", b"{}") or b"{}")
        index_cols = [c for c in meta.get("index_columns", []) if isinstance(c, str) and c in names]
        text_col = index_cols[0] if index_cols else ("__index_level_0__" if "__index_level_0__" in names else None)
    if text_col is None or "task_index" not in names:
        raise LeRobotFormatError(f"{path}: expected a task_index column and the task strings (as column 'task' "
                                 f"or the pandas index); columns: {names}")
    return _task_list(path, table.column(text_col).to_pylist(), table.column("task_index").to_pylist())


def _tasks_v2(root: Path) -> list[str]:
    path = root / LEGACY_TASKS
    rows = _load_jsonl(path, "the task table")
    try:
        return _task_list(path, [r["task"] for r in rows], [r["task_index"] for r in rows])
    except (KeyError, TypeError):
        raise LeRobotFormatError(f"{path}: every line needs 'task_index' and 'task'") from None


def _task_list(path: Path, texts: list, indices: list) -> list[str]:
    by_index = {}
    for text, idx in zip(texts, indices, strict=True):
        if idx in by_index:
            raise LeRobotFormatError(f"{path}: task_index {idx} appears twice")
        by_index[int(idx)] = str(text)
    if sorted(by_index) != list(range(len(by_index))):
        raise LeRobotFormatError(f"{path}: task indices {sorted(by_index)} are not 0..{len(by_index) - 1}")
    return [by_index[i] for i in range(len(by_index))]


def _episodes_v3(root: Path, info: dict, features: dict) -> list[EpisodeRef]:
    import pyarrow.parquet as pq

    files = sorted((root / EPISODES_DIR).glob("*/*.parquet"))
    if not files:
        raise LeRobotFormatError(f"{root / EPISODES_DIR}: no episode metadata (chunk-XXX/file-YYY.parquet)")
    video_keys = [k for k, f in features.items() if f["dtype"] == "video"]
    need = ["episode_index", "length", "tasks", "data/chunk_index", "data/file_index"]
    for k in video_keys:
        need += [f"videos/{k}/chunk_index", f"videos/{k}/file_index", f"videos/{k}/from_timestamp"]
    rows: list[dict] = []
    for path in files:
        try:
            schema = pq.read_schema(path)
            absent = [c for c in need if c not in schema.names]
            if absent:
                raise LeRobotFormatError(f"{path}: episode metadata lacks the columns {absent}")
            rows += pq.read_table(path, columns=need + [c for c in ("dataset_from_index", "dataset_to_index")
                                                         if c in schema.names]).to_pylist()
        except LeRobotFormatError:
            raise
        except Exception as e:
            raise LeRobotFormatError(f"{path}: cannot read parquet ({e})") from None
    out = []
    for r in rows:
        where = f"{root / EPISODES_DIR}: episode {r['episode_index']}"
        data = _format(info["data_path"], where, chunk_index=r["data/chunk_index"], file_index=r["data/file_index"])
        videos, offsets = {}, {}
        for k in video_keys:
            videos[k] = _format(info["video_path"], where, video_key=k, chunk_index=r[f"videos/{k}/chunk_index"],
                                file_index=r[f"videos/{k}/file_index"])
            offsets[k] = float(r[f"videos/{k}/from_timestamp"])
        if r.get("dataset_to_index") is not None and r.get("dataset_from_index") is not None:
            if r["dataset_to_index"] - r["dataset_from_index"] != r["length"]:
                raise LeRobotFormatError(f"{where}: dataset_from_index..dataset_to_index "
                                         f"({r['dataset_from_index']}..{r['dataset_to_index']}) disagrees with "
                                         f"length {r['length']}")
        out.append(EpisodeRef(int(r["episode_index"]), int(r["length"]), tuple(r["tasks"] or ()), data, videos,
                              offsets))
    return sorted(out, key=lambda e: e.index)


def _episodes_v2(root: Path, info: dict, features: dict) -> list[EpisodeRef]:
    path = root / LEGACY_EPISODES
    rows = _load_jsonl(path, "the episode table")
    chunks = int(info.get("chunks_size") or 1000)
    video_keys = [k for k, f in features.items() if f["dtype"] == "video"]
    out = []
    for n, r in enumerate(rows, 1):
        try:
            i, length = int(r["episode_index"]), int(r["length"])
        except (KeyError, TypeError, ValueError):
            raise LeRobotFormatError(f"{path}: line {n} needs 'episode_index' and 'length'") from None
        tasks = r.get("tasks") or ()
        if isinstance(tasks, str):
            tasks = (tasks,)
        where = f"{path}: episode {i}"
        data = _format(info["data_path"], where, episode_chunk=i // chunks, episode_index=i)
        videos = {k: _format(info["video_path"], where, episode_chunk=i // chunks, video_key=k, episode_index=i)
                  for k in video_keys}
        out.append(EpisodeRef(i, length, tuple(tasks), data, videos, dict.fromkeys(video_keys, 0.0)))
    return sorted(out, key=lambda e: e.index)


def _check_episodes(root: Path, info: dict, episodes: list[EpisodeRef], tasks: list[str]) -> None:
    where = root / (EPISODES_DIR if info["codebase_version"] == "v3.0" else LEGACY_EPISODES)
    if not episodes:
        raise LeRobotFormatError(f"{where}: the dataset has no episodes")
    indices = [e.index for e in episodes]
    if indices != list(range(len(indices))):
        dup = sorted(i for i, n in collections.Counter(indices).items() if n > 1)
        gaps = sorted(set(range(max(indices) + 1)) - set(indices))[:10]
        raise LeRobotFormatError(f"{where}: episode indices are not 0..{len(indices) - 1}"
                                 + (f"; missing {gaps}" if gaps else "") + (f"; repeated {dup}" if dup else ""))
    total = info.get("total_episodes")
    if total is not None and int(total) != len(episodes):
        raise LeRobotFormatError(f"{root / INFO_FILE}: total_episodes is {total} but {where} lists "
                                 f"{len(episodes)} episodes")
    for e in episodes:
        if e.length <= 0:
            raise LeRobotFormatError(f"{where}: episode {e.index} has length {e.length}")
        unknown = [t for t in e.tasks if t not in tasks]
        if unknown:
            raise LeRobotFormatError(f"{where}: episode {e.index} names tasks {unknown} that are not in the "
                                     "task table")
    for rel in sorted({e.data_file for e in episodes}):
        if not (root / rel).is_file():
            first = next(e.index for e in episodes if e.data_file == rel)
            raise LeRobotFormatError(f"{root / rel}: missing data file (episode {first})")
    checked = set()
    for e in episodes:
        for key, rel in e.video_files.items():
            if rel not in checked:
                checked.add(rel)
                if not (root / rel).is_file():
                    raise LeRobotFormatError(f"{root / rel}: missing video file (episode {e.index}, "
                                             f"feature {key!r})")


def aggregate_stats(per_episode: list[dict[str, dict]]) -> dict[str, dict]:
    """Dataset statistics from per-episode ones (v2.1's ``episodes_stats.jsonl``), as LeRobot aggregates
    them (``aggregate_feature_stats`` in lerobot/datasets/compute_stats.py): exact count-weighted mean and
    pooled variance, elementwise min/max, quantiles averaged with count weights."""
    out: dict[str, dict] = {}
    keys = sorted({k for s in per_episode for k in s})
    for key in keys:
        parts = [s[key] for s in per_episode if key in s]
        try:
            counts = np.array([float(np.asarray(p["count"]).reshape(-1)[0]) for p in parts])
            means = np.stack([np.asarray(p["mean"], np.float64) for p in parts])
            stds = np.stack([np.asarray(p["std"], np.float64) for p in parts])
        except (KeyError, ValueError, TypeError):
            continue  # a feature without moments (or with ragged shapes) gets no aggregate
        w = counts.reshape((-1,) + (1,) * (means.ndim - 1))
        n = counts.sum()
        mean = (means * w).sum(0) / n
        var = ((stds**2 + (means - mean) ** 2) * w).sum(0) / n
        agg = {"mean": mean.tolist(), "std": np.sqrt(var).tolist(), "count": [int(n)],
               "min": np.min(np.stack([np.asarray(p["min"], np.float64) for p in parts]), 0).tolist(),
               "max": np.max(np.stack([np.asarray(p["max"], np.float64) for p in parts]), 0).tolist()}
        for q in sorted(k for k in parts[0] if k[:1] == "q" and k[1:].isdigit()):
            if all(q in p for p in parts):
                agg[q] = ((np.stack([np.asarray(p[q], np.float64) for p in parts]) * w).sum(0) / n).tolist()
        out[key] = agg
    return out
