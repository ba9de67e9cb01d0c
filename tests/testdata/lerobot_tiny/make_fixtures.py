"""Write the LeRobot dataset fixtures of ``tests/testdata`` with LeRobot 0.4.4 itself.

Run in the peers venv (``make .venv-peers/.installed``); it never imports jaxrobot:

    .venv-peers/bin/python tests/testdata/lerobot_tiny/make_fixtures.py [--out DIR]

Writes two datasets, the same three episodes in each (state float32[4], action float32[3], one 48x64 video
camera ``observation.images.front`` at 10 fps, AV1 through LeRobot's default ``libsvtav1``):

- ``lerobot_tiny_v30/``: a LeRobotDataset v3.0 exactly as ``LeRobotDataset.create`` / ``add_frame`` /
  ``save_episode`` / ``finalize`` write it (all episodes in one parquet file and one MP4).
- ``lerobot_tiny_v21/``: the v2.1 layout (one parquet and one MP4 per episode, ``meta/episodes.jsonl``,
  ``meta/episodes_stats.jsonl``, ``meta/tasks.jsonl``). LeRobot 0.4.4 only writes v3.0, so the episodes are
  written once more by LeRobot with file-size limits so small that every episode gets its own parquet file
  and its own MP4 (bytes still LeRobot's), and then moved to the v2.1 file names (the templates of
  ``lerobot/datasets/v30/convert_dataset_v21_to_v30.py``, which reads v2.1), with the v2.1 metadata files
  made from LeRobot's own per-episode metadata and statistics.

Episode 2 changes task halfway, so per-frame tasks are exercised. Frames are smooth (a gradient and a moving
square) so the codec error is what a camera image would see, not noise.
"""

from __future__ import annotations

import argparse
import json
import shutil
import sys
import tempfile
from pathlib import Path

import numpy as np

FPS = 10
H, W = 48, 64
LENGTHS = (7, 5, 9)
TASKS = ("pick up the red cube", "push the blue block to the left")
CAMERA = "observation.images.front"


def features() -> dict:
    return {
        "observation.state": {"dtype": "float32", "shape": (4,), "names": ["x", "y", "z", "gripper"]},
        "action": {"dtype": "float32", "shape": (3,), "names": ["dx", "dy", "grip"]},
        CAMERA: {"dtype": "video", "shape": (H, W, 3), "names": ["height", "width", "channels"]},
    }


def frame(ep: int, t: int) -> np.ndarray:
    """A smooth RGB frame: colour gradient plus a square that moves with ``t``."""
    yy, xx = np.mgrid[0:H, 0:W]
    img = np.stack([xx * 255 // (W - 1), yy * 255 // (H - 1), np.full_like(xx, 60 + 50 * ep)], -1)
    y0, x0 = 8 + 2 * t, 6 + 5 * t + 3 * ep
    img[y0:y0 + 12, x0:x0 + 12] = (240, 240, 30)
    return img.astype(np.uint8)


def episodes():
    rng = np.random.default_rng(18)
    for ep, n in enumerate(LENGTHS):
        state = rng.normal(size=(n, 4)).astype(np.float32)
        action = rng.uniform(-1, 1, size=(n, 3)).astype(np.float32)
        tasks = [TASKS[0] if ep != 1 else TASKS[1]] * n
        if ep == 2:
            tasks = [TASKS[0]] * (n // 2) + [TASKS[1]] * (n - n // 2)
        yield [{"observation.state": state[t], "action": action[t], CAMERA: frame(ep, t), "task": tasks[t]}
               for t in range(n)]


def write_v30(root: Path, **sizes) -> None:
    from lerobot.datasets.lerobot_dataset import LeRobotDataset

    ds = LeRobotDataset.create("jaxrobot/lerobot_tiny", FPS, features(), robot_type="tiny_arm", root=root,
                               use_videos=True)
    if sizes:
        ds.meta.update_chunk_settings(**sizes)
    for frames in episodes():
        for f in frames:
            ds.add_frame(f)
        ds.save_episode()
    ds.finalize()


def v30_to_v21(src: Path, dst: Path) -> None:
    """Move a v3.0 dataset whose every episode has its own data file and MP4 into the v2.1 layout."""
    import pyarrow.parquet as pq

    info = json.loads((src / "meta/info.json").read_text())
    eps = pq.read_table(sorted((src / "meta/episodes").glob("*/*.parquet"))).to_pylist()
    eps.sort(key=lambda e: e["episode_index"])
    chunks = info["chunks_size"]
    data_tpl = "data/chunk-{episode_chunk:03d}/episode_{episode_index:06d}.parquet"
    video_tpl = "videos/chunk-{episode_chunk:03d}/{video_key}/episode_{episode_index:06d}.mp4"
    video_keys = [k for k, f in info["features"].items() if f["dtype"] == "video"]
    episodes_jsonl, stats_jsonl = [], []
    for e in eps:
        i = e["episode_index"]
        assert e["dataset_to_index"] - e["dataset_from_index"] == e["length"]
        data = src / info["data_path"].format(chunk_index=e["data/chunk_index"], file_index=e["data/file_index"])
        table = pq.read_table(data)
        assert table.num_rows == e["length"], "an episode shares its data file: make the size limit smaller"
        out = dst / data_tpl.format(episode_chunk=i // chunks, episode_index=i)
        out.parent.mkdir(parents=True, exist_ok=True)
        shutil.copyfile(data, out)
        for key in video_keys:
            assert e[f"videos/{key}/from_timestamp"] == 0.0, "an episode shares its MP4"
            mp4 = src / info["video_path"].format(video_key=key, chunk_index=e[f"videos/{key}/chunk_index"],
                                                  file_index=e[f"videos/{key}/file_index"])
            out = dst / video_tpl.format(episode_chunk=i // chunks, video_key=key, episode_index=i)
            out.parent.mkdir(parents=True, exist_ok=True)
            shutil.copyfile(mp4, out)
        episodes_jsonl.append({"episode_index": i, "tasks": list(e["tasks"]), "length": e["length"]})
        stats: dict = {}
        for k, v in e.items():
            if k.startswith("stats/"):
                _, feat, stat = k.split("/")
                if stat in ("min", "max", "mean", "std", "count"):  # v2.1 kept no quantiles
                    stats.setdefault(feat, {})[stat] = v
        stats_jsonl.append({"episode_index": i, "stats": stats})
    tasks = pq.read_table(src / "meta/tasks.parquet").to_pandas()
    tasks_jsonl = [{"task_index": int(r.task_index), "task": str(name)} for name, r in tasks.iterrows()]
    tasks_jsonl.sort(key=lambda r: r["task_index"])
    info.update(codebase_version="v2.1", total_chunks=(len(eps) - 1) // chunks + 1,
                total_videos=len(eps) * len(video_keys), data_path=data_tpl,
                video_path=video_tpl if video_keys else None)
    for k in ("data_files_size_in_mb", "video_files_size_in_mb"):
        info.pop(k, None)
    for f in info["features"].values():
        if f["dtype"] != "video":
            f.pop("fps", None)
    meta = dst / "meta"
    meta.mkdir(parents=True, exist_ok=True)
    (meta / "info.json").write_text(json.dumps(info, indent=4) + "\n")
    for name, rows in (("episodes", episodes_jsonl), ("episodes_stats", stats_jsonl), ("tasks", tasks_jsonl)):
        (meta / f"{name}.jsonl").write_text("".join(json.dumps(r) + "\n" for r in rows))


def main() -> None:
    p = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    p.add_argument("--out", default=str(Path(__file__).resolve().parent))
    args = p.parse_args()
    import torch

    sys.path.insert(0, str(Path(__file__).resolve().parents[3] / "bench"))
    from peers_lerobot import _allow_torchvision_without_ops  # CPU torch with the CUDA-built torchvision

    _allow_torchvision_without_ops(torch)
    out = Path(args.out)
    v30, v21 = out / "lerobot_tiny_v30", out / "lerobot_tiny_v21"
    for d in (v30, v21):
        if d.exists():
            shutil.rmtree(d)
    write_v30(v30)
    with tempfile.TemporaryDirectory() as tmp:
        per_episode = Path(tmp) / "per_episode"
        write_v30(per_episode, data_files_size_in_mb=1e-9, video_files_size_in_mb=1e-9)
        v30_to_v21(per_episode, v21)
    for d in (v30, v21):
        size = sum(f.stat().st_size for f in d.rglob("*") if f.is_file())
        print(f"{d}: {size / 1024:.1f} KiB")


if __name__ == "__main__":
    main()
