"""Load a LeRobot dataset with LeRobot 0.4.4 itself and dump what it returns (runs in ``.venv-peers``).

    .venv-peers/bin/python tests/data/lerobot/peer_load.py ROOT OUT.npz [--obs 2 --horizon 4]

Never imports jaxrobot. Builds ``LeRobotDataset(repo_id, root=ROOT, delta_timestamps=...)`` with the
observation history and action chunk given in frames (state and camera at ``-(obs-1)/fps .. 0``, action at
``0 .. (horizon-1)/fps``) and saves, for every item ``dataset[i]``: the state and action windows with their
``*_is_pad`` masks, the camera window as uint8, ``episode_index``, ``frame_index``, ``index``, ``timestamp``
and the task string, plus ``meta.info``, ``meta.stats`` and the task table as JSON.

LeRobot decodes video with torchcodec or torchvision's ``VideoReader``; neither exists in the peers venv
(no torchcodec wheel for this torch; torchvision 0.28 removed ``VideoReader``). Only that last step,
``decode_video_frames(path, timestamps, tolerance_s, backend)``, is replaced by PyAV decoding that follows
LeRobot's pyav path (seek to the keyframe before the first time, decode forward, nearest frame within the
tolerance, float32 ``[n, 3, H, W]`` in [0, 1]); which file and which timestamps (``from_timestamp`` +
``timestamp``, the delta windows, the clamping at episode edges) stay LeRobot's own.
"""

from __future__ import annotations

import argparse
import json
import sys
from pathlib import Path


def _pyav_decode(video_path, timestamps, tolerance_s, backend=None):
    import av
    import numpy as np
    import torch

    with av.open(str(video_path)) as c:
        s = c.streams.video[0]
        c.seek(int(min(timestamps) / s.time_base), stream=s, backward=True, any_frame=False)
        frames, times = [], []
        for f in c.decode(s):
            frames.append(f.to_ndarray(format="rgb24"))
            times.append(float(f.pts * s.time_base))
            if times[-1] >= max(timestamps):
                break
    times = np.array(times)
    out = []
    for t in timestamps:
        j = int(np.argmin(np.abs(times - t)))
        if abs(times[j] - t) >= tolerance_s:
            raise ValueError(f"{video_path}: no frame within {tolerance_s} of {t} (nearest {times[j]})")
        out.append(frames[j])
    return torch.from_numpy(np.stack(out)).permute(0, 3, 1, 2).float() / 255


def main() -> None:
    p = argparse.ArgumentParser()
    p.add_argument("root")
    p.add_argument("out")
    p.add_argument("--obs", type=int, default=1)
    p.add_argument("--horizon", type=int, default=1)
    args = p.parse_args()
    import numpy as np
    import torch

    sys.path.insert(0, str(Path(__file__).resolve().parents[3] / "bench"))
    from peers_lerobot import _allow_torchvision_without_ops  # CPU torch with the CUDA-built torchvision

    _allow_torchvision_without_ops(torch)
    import lerobot.datasets.lerobot_dataset as lds

    meta = lds.LeRobotDatasetMetadata("local/peer_check", root=args.root)
    fps = meta.fps
    obs = [(k - args.obs + 1) / fps for k in range(args.obs)]
    delta = {"action": [k / fps for k in range(args.horizon)], "observation.state": obs}
    cams = meta.camera_keys
    for cam in cams:
        delta[cam] = obs
    try:
        import torchcodec  # noqa: F401
    except ImportError:
        lds.decode_video_frames = _pyav_decode
    ds = lds.LeRobotDataset("local/peer_check", root=args.root, delta_timestamps=delta)
    rows: dict[str, list] = {}
    for i in range(len(ds)):
        item = ds[i]
        for k in ("episode_index", "frame_index", "index", "timestamp", "observation.state", "action",
                  "observation.state_is_pad", "action_is_pad"):
            rows.setdefault(k, []).append(item[k].numpy())
        for cam in cams:
            rows.setdefault(cam, []).append((item[cam].numpy() * 255).round().astype(np.uint8).transpose(0, 2, 3, 1))
        rows.setdefault("task", []).append(item["task"])
    out = {k: np.stack(v) if k != "task" else np.array(v) for k, v in rows.items()}
    out["meta_json"] = np.array(json.dumps({
        "info": meta.info, "total_episodes": meta.total_episodes, "total_frames": meta.total_frames,
        "tasks": [str(t) for t in meta.tasks.index],
        "stats": {k: {s: np.asarray(v).tolist() for s, v in d.items()} for k, d in (meta.stats or {}).items()},
        "episodes": [{k: v for k, v in e.items()} for e in meta.episodes], "cameras": cams}, default=str))
    np.savez(args.out, **out)
    print(json.dumps({"items": len(ds), "episodes": ds.num_episodes}))


if __name__ == "__main__":
    sys.exit(main())
