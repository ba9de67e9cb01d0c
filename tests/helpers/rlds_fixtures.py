"""Write small RLDS datasets with a given feature layout through tfds's own writer (test helper).

``write_rlds_fixture(root, name, steps, episodes, metadata=None)``: ``steps``/``metadata`` map flat keys
(``observation/image_0``) to tfds features; ``episodes`` is a list of ``{"steps": [step dicts nested
like the features], "episode_metadata": {...}}``; ``file_format``: ``tfrecord`` or ``array_record``. Returns
the ``<root>/<name>/1.0.0`` folder.
"""

from __future__ import annotations

import os

import numpy as np


def nest(flat: dict) -> dict:
    out: dict = {}
    for key, value in flat.items():
        parts = key.split("/")
        d = out
        for p in parts[:-1]:
            d = d.setdefault(p, {})
        d[parts[-1]] = value
    return out


def write_rlds_fixture(root, name: str, steps: dict, episodes: list[dict], metadata: dict | None = None,
                       split: str = "train", per_shard: int = 1000, file_format: str = "tfrecord") -> str:
    os.environ.setdefault("TF_CPP_MIN_LOG_LEVEL", "3")
    import tensorflow_datasets as tfds

    features = {"steps": tfds.features.Dataset(nest(steps))}
    if metadata:
        features["episode_metadata"] = nest(metadata)
    data_dir = os.path.join(str(root), name, "1.0.0")
    os.makedirs(data_dir, exist_ok=True)
    info = tfds.core.DatasetInfo(
        builder=tfds.core.DatasetIdentity(name=name, version=tfds.core.Version("1.0.0"), data_dir=data_dir,
                                          module_name="tests.fixture"),
        features=tfds.features.FeaturesDict(features))
    writer = tfds.core.SequentialWriter(info, max_examples_per_shard=per_shard, file_format=file_format)
    writer.initialize_splits([split])
    writer.add_examples({split: episodes})
    writer.close_all()
    return data_dir


def image(h: int, w: int, seed: int) -> np.ndarray:
    """A smooth test image (JPEG-friendly) with a seed-dependent colour."""
    rng = np.random.default_rng(seed)
    base = rng.integers(0, 255, 3)
    y, x = np.mgrid[:h, :w]
    img = 50 + 0.6 * base[None, None] + 25 * np.sin(y / 5.0)[..., None] + 25 * np.cos(x / 7.0)[..., None]
    return np.clip(img, 0, 255).astype(np.uint8)


# ---------------------------------------------------------------- per-dataset layouts


def _features():
    import tensorflow_datasets as tfds

    F = tfds.features
    img = lambda h, w: F.Image(shape=(h, w, 3), encoding_format="jpeg")  # noqa: E731
    vec = lambda n, dt=np.float32: F.Tensor(shape=(n,), dtype=dt)  # noqa: E731
    common = {"is_first": F.Scalar(dtype=np.bool_), "is_last": F.Scalar(dtype=np.bool_),
              "is_terminal": F.Scalar(dtype=np.bool_), "reward": F.Scalar(dtype=np.float32)}
    return {
        "bridge_dataset": ({**common, **{f"observation/image_{i}": img(24, 32) for i in range(4)},
                            "observation/state": vec(7), "action": vec(7), "language_instruction": F.Text(),
                            "language_embedding": vec(16), "discount": F.Scalar(dtype=np.float32)},
                           {"episode_id": F.Scalar(dtype=np.int32), "file_path": F.Text()}),
        "fractal20220817_data": ({**common, "observation/image": img(32, 40),
                                  "observation/base_pose_tool_reached": vec(7),
                                  "observation/gripper_closed": vec(1),
                                  "observation/natural_language_instruction": F.Text(),
                                  "observation/natural_language_embedding": vec(16),
                                  "action/world_vector": vec(3), "action/rotation_delta": vec(3),
                                  "action/gripper_closedness_action": vec(1),
                                  "action/terminate_episode": vec(3, np.int32),
                                  "action/base_displacement_vector": vec(2)}, None),
        "berkeley_autolab_ur5": ({**common, "observation/image": img(24, 32), "observation/hand_image": img(24, 32),
                                  "observation/image_with_depth": F.Tensor(shape=(24, 32, 1), dtype=np.float32),
                                  "observation/robot_state": vec(15),
                                  "observation/natural_language_instruction": F.Text(),
                                  "action/world_vector": vec(3), "action/rotation_delta": vec(3),
                                  "action/gripper_closedness_action": F.Scalar(dtype=np.float32),
                                  "action/terminate_episode": F.Scalar(dtype=np.float32)}, None),
        "aloha": ({**common, "observation/qpos": vec(14), "observation/images/cam_high": img(24, 32),
                   "observation/images/cam_left_wrist": img(24, 32), "action": vec(14),
                   "language_instruction": F.Text()}, None),
        "jaxrobot_sim": ({**common, "observation/state": vec(9), "observation/image_front": img(24, 32),
                          "observation/image_wrist": img(24, 32), "action": vec(8), "language_instruction": F.Text()},
                         {"success": F.Scalar(dtype=np.bool_), "env": F.Text(), "seed": F.Scalar(dtype=np.int64)}),
    }


def _value(key: str, feat, ep: int, t: int, T: int):
    import tensorflow_datasets as tfds

    if isinstance(feat, tfds.features.Image):
        return image(feat.shape[0], feat.shape[1], 1000 * ep + 10 * t + len(key))
    if isinstance(feat, tfds.features.Text):
        return f"task {ep} {key.rsplit('/', 1)[-1]}"
    if key.endswith("is_first"):
        return t == 0
    if key.endswith(("is_last", "is_terminal")):
        return t == T - 1
    shape = feat.shape
    dt = np.dtype(feat.np_dtype)
    # distinct values per (episode, step, key, dim) so concatenation order is checkable
    base = ep * 100 + t + (hash(key) % 7) / 10
    arr = base + np.arange(int(np.prod(shape)) if shape else 1) / 100
    return arr.reshape(shape).astype(dt) if shape else dt.type(arr[0])


def layout_episodes(name: str, lengths=(5, 3, 6)) -> tuple[dict, dict | None, list[dict]]:
    steps_f, meta_f = _features()[name]
    episodes = []
    for e, T in enumerate(lengths):
        steps = [nest({k: _value(k, f, e, t, T) for k, f in steps_f.items()}) for t in range(T)]
        ep = {"steps": steps}
        if meta_f:
            ep["episode_metadata"] = nest({k: _value(k, f, e, 0, 1) if k != "success" else bool(e % 2)
                                           for k, f in meta_f.items()})
        episodes.append(ep)
    return steps_f, meta_f, episodes


def write_layout(root, name: str, lengths=(5, 3, 6), file_format: str = "tfrecord") -> tuple[str, list[dict]]:
    steps_f, meta_f, episodes = layout_episodes(name, lengths)
    return write_rlds_fixture(root, name, steps_f, episodes, meta_f, file_format=file_format), episodes


CORRUPT_JPEG = b"\xff\xd8" + bytes(range(100))  # a JPEG header and garbage: libjpeg-turbo refuses it
SIM_SHARD = "jaxrobot_sim-train.tfrecord-00000-of-00001"


def write_with_corrupt_frame(root, bad=(1, 2), n=4, t_len=6) -> str:
    """jaxrobot_sim episodes (4-D state, 2-D action, one 16x16 camera) whose frame ``bad`` = (episode, step)
    holds undecodable JPEG bytes; every other frame is one flat grey level, 40 * episode + 5 * step."""
    from jaxrobot.data.rlds import write_rlds

    feats = {"steps/observation/state": {"shape": (None, 4), "dtype": "float32"},
             "steps/observation/image_front": {"shape": (None, 16, 16, 3), "dtype": "uint8", "encoding": "jpeg"},
             "steps/action": {"shape": (None, 2), "dtype": "float32"}}
    rng = np.random.default_rng(0)
    eps = []
    for i in range(n):
        frames = [np.full((16, 16, 3), 40 * i + 5 * t, np.uint8) for t in range(t_len)]
        if i == bad[0]:
            frames[bad[1]] = CORRUPT_JPEG
        eps.append({"steps/observation/state": rng.normal(size=(t_len, 4)).astype(np.float32),
                    "steps/observation/image_front": frames,
                    "steps/action": rng.normal(size=(t_len, 2)).astype(np.float32)})
    return write_rlds(str(root), "jaxrobot_sim", eps, features=feats, progress=False)
