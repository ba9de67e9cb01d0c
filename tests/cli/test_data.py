"""``jaxrobot data inspect|stats|convert`` through the real entry point (subprocess)."""

from __future__ import annotations

import json
import os
import shutil
import subprocess
import sys

import numpy as np
import pytest

BRIDGE = "tests/testdata/bridge_dataset_octo_debug/bridge_dataset/1.0.0"
SHARD = "bridge_dataset-train.tfrecord-00000-of-00001"


def _jaxrobot(*args, env_cache, check=True):
    exe = os.path.join(os.path.dirname(sys.executable), "jaxrobot")
    cmd = [exe] if os.path.exists(exe) else [sys.executable, "-m", "jaxrobot.cli"]
    env = {**os.environ, "JAXROBOT_CACHE": str(env_cache)}
    r = subprocess.run(cmd + list(args), capture_output=True, text=True, env=env, timeout=300)
    if check and r.returncode:
        raise AssertionError(f"exit {r.returncode}: {r.stderr[-2000:]}")
    return r


@pytest.fixture
def cache(tmp_path):
    return tmp_path / "cache"


def test_inspect_json(cache):
    r = _jaxrobot("data", "inspect", BRIDGE, "--json", env_cache=cache)
    lines = r.stdout.strip().splitlines()
    assert len(lines) == 1
    info = json.loads(lines[0])
    assert info["splits"] == {"train": {"episodes": 25, "steps": 250}}
    action = info["features"]["steps/action"]
    assert (action["shape"], action["dtype"]) == ([None, 7], "float32")
    assert info["features"]["steps/observation/image_0"]["shape"] == [None, 64, 64, 3]


def test_stats_json_matches_numpy_and_is_cached(cache):
    from jaxrobot.data.sources.rlds import open_rlds

    ds = open_rlds(BRIDGE, "train")
    acts = np.concatenate([ds.episode(i)["steps/action"] for i in range(len(ds))]).astype(np.float64)
    state = np.concatenate([ds.episode(i)["steps/observation/state"] for i in range(len(ds))]).astype(np.float64)
    r = _jaxrobot("data", "stats", BRIDGE, "--json", env_cache=cache)
    (line,) = r.stdout.strip().splitlines()
    st = json.loads(line)
    assert st["episodes"] == 25 and st["steps"] == 250
    for part, x in (("action", acts), ("state", state)):
        np.testing.assert_allclose(st[part]["mean"], x.mean(0), rtol=1e-6, atol=1e-9)
        np.testing.assert_allclose(st[part]["std"], np.maximum(x.std(0), 1e-2), rtol=1e-6)
        np.testing.assert_allclose(st[part]["min"], x.min(0))
        np.testing.assert_allclose(st[part]["max"], x.max(0))
        np.testing.assert_allclose(st[part]["q01"], np.quantile(x, 0.01, axis=0), rtol=1e-6)
        np.testing.assert_allclose(st[part]["q99"], np.quantile(x, 0.99, axis=0), rtol=1e-6)
    files = os.listdir(cache / "stats")
    assert len(files) == 1
    assert not any(f.endswith(".json") for f in os.listdir(BRIDGE) if f != "dataset_info.json" and
                   f != "features.json")  # never inside the dataset folder
    again = json.loads(_jaxrobot("data", "stats", BRIDGE, "--json", "--no-cache", "--split", "train",
                                 "--dataset", "bridge_dataset", env_cache=cache).stdout)
    assert again["action"] == st["action"]


def test_corrupt_and_missing_input_fail_with_one_line(tmp_path, cache):
    bad = tmp_path / "bridge_dataset" / "1.0.0"
    shutil.copytree(BRIDGE, bad)
    shard = bad / SHARD
    data = shard.read_bytes()
    shard.write_bytes(data[: len(data) // 2])  # truncated mid-record
    for cmd in (["inspect", str(bad), "--json"], ["stats", str(bad), "--json"]):
        r = _jaxrobot("data", *cmd, env_cache=cache, check=False)
        assert r.returncode != 0 and r.stdout == ""
        err = r.stderr.strip().splitlines()
        assert len(err) == 1 and err[0].startswith("error:") and SHARD in err[0], r.stderr
    r = _jaxrobot("data", "inspect", str(tmp_path), env_cache=cache, check=False)
    assert r.returncode == 2 and "dataset_info.json" in r.stderr


def test_convert_hdf5_round_trip(tmp_path, cache):
    import h5py

    src = tmp_path / "h5"
    src.mkdir()
    rng = np.random.default_rng(0)
    written = []
    for e, T in enumerate((5, 8)):
        qpos = rng.normal(size=(T, 14)).astype(np.float32)
        action = rng.normal(size=(T, 14)).astype(np.float32)
        y, x = np.mgrid[:24, :32]
        img = np.clip(80 + 40 * np.sin(y / 4 + e)[..., None] + 20 * np.cos(x / 6)[..., None] + [0, 30, 60], 0, 255)
        imgs = np.repeat(img[None].astype(np.uint8), T, 0)
        with h5py.File(src / f"episode_{e}.hdf5", "w") as f:
            f["/observations/qpos"] = qpos
            f["/observations/images/cam_high"] = imgs
            f["/observations/images/cam_left_wrist"] = imgs[..., ::-1]
            f["/action"] = action
        written.append((qpos, action, imgs))
    out = tmp_path / "out"
    r = _jaxrobot("data", "convert", "hdf5", "--in", str(src), "--out", str(out), "--instruction", "fold",
                  env_cache=cache)
    path = r.stdout.strip().splitlines()[-1]
    assert path == str(out / "aloha" / "1.0.0") and not [p for p in os.listdir(out) if p.startswith(".")]

    import tensorflow_datasets as tfds  # the other reader: tfds/tf.data reads it back unchanged

    eps = list(tfds.as_numpy(tfds.builder_from_directory(path).as_dataset(split="train")))
    assert len(eps) == 2
    from jaxrobot.data.datasets import get_entry
    from jaxrobot.data.sources.rlds import open_rlds
    from jaxrobot.data.standardize import standardize

    ds = open_rlds(path, "train")
    for i, (qpos, action, imgs) in enumerate(written):
        ep = standardize(ds.episode(i), get_entry("aloha"), decode_images=True)
        np.testing.assert_array_equal(ep["state"], qpos)
        np.testing.assert_array_equal(ep["action"], action)
        assert np.abs(ep["images"]["primary"].astype(int) - imgs).mean() < 3
        assert not ep["images"]["secondary"].any() and ep["language"] == "fold"
    info = json.loads(_jaxrobot("data", "inspect", path, "--json", env_cache=cache).stdout)
    assert info["splits"]["train"] == {"episodes": 2, "steps": 13}


def test_convert_sim_npz(tmp_path, cache):
    src = tmp_path / "demos"
    src.mkdir()
    for e in range(3):
        np.savez(src / f"demo_{e}.npz", state=np.full((4, 9), e, np.float32), action=np.full((4, 8), -e, np.float32),
                 image_front=np.full((4, 16, 16, 3), 100, np.uint8), success=e % 2 == 1, env="PickCube", seed=e,
                 language="pick the cube")
    r = _jaxrobot("data", "convert", "sim", "--in", str(src), "--out", str(tmp_path / "out"), env_cache=cache)
    path = r.stdout.strip().splitlines()[-1]
    st = json.loads(_jaxrobot("data", "stats", path, "--json", env_cache=cache).stdout)
    assert st["episodes"] == 3 and st["steps"] == 12 and st["state"]["mean"] == [1.0] * 9
    from jaxrobot.data.sources.rlds import open_rlds

    ep = open_rlds(path, "train").episode(1)
    assert bool(ep["episode_metadata/success"]) and ep["steps/language_instruction"][0] == b"pick the cube"


def _short_failure(r) -> list[str]:
    """The fixed interface of a failure on bad input: exit != 0 and != 3, <= 20 lines, no traceback."""
    lines = (r.stdout + r.stderr).strip().splitlines()
    assert r.returncode not in (0, 3), (r.returncode, r.stderr)
    assert len(lines) <= 20 and "Traceback (most recent call last):" not in r.stdout + r.stderr, r.stderr
    return lines


def test_damaged_dataset_info_fails_naming_the_file(tmp_path, cache):
    """dataset_info.json of random bytes (a raw UnicodeDecodeError before) or invalid JSON: one line naming it."""
    bad = tmp_path / "bridge_dataset" / "1.0.0"
    shutil.copytree(BRIDGE, bad)
    random_bytes = np.random.default_rng(0).integers(0, 256, 4096, dtype=np.uint8).tobytes()
    for content, cmd in ((random_bytes, "inspect"), (random_bytes, "stats"), (b'{"name": ', "inspect")):
        (bad / "dataset_info.json").write_bytes(content)
        lines = _short_failure(_jaxrobot("data", cmd, str(bad), env_cache=cache, check=False))
        assert len(lines) == 1 and lines[0].startswith(f"error: {bad / 'dataset_info.json'}: "), lines


def test_inspect_reports_declared_features_the_records_lack(tmp_path, cache):
    """features.json declares steps/action, the shard's records do not hold it: inspect lists what the data
    holds and flags the declared-but-missing feature (before: listed as if present)."""
    from jaxrobot.data.rlds import write_rlds

    full = {"steps/observation/state": {"shape": (None, 3), "dtype": "float32"},
            "steps/action": {"shape": (None, 2), "dtype": "float32"}}
    eps = [{"steps/observation/state": np.zeros((t, 3), np.float32), "steps/action": np.zeros((t, 2), np.float32)}
           for t in (2, 3)]
    path = write_rlds(str(tmp_path / "a"), "toy", eps, features=full, progress=False)
    other = write_rlds(str(tmp_path / "b"), "toy", [{"steps/observation/state": e["steps/observation/state"]}
                                                    for e in eps],
                       features={"steps/observation/state": full["steps/observation/state"]}, progress=False)
    shard = "toy-train.tfrecord-00000-of-00001"
    shutil.copy(os.path.join(other, shard), os.path.join(path, shard))
    info = json.loads(_jaxrobot("data", "inspect", path, "--json", env_cache=cache).stdout)
    assert list(info["features"]) == ["steps/observation/state"]
    assert info["missing_features"] == {"steps/action": {"records": 2, "of": 2, "shards": [shard],
                                                         "shape": [None, 2], "dtype": "float32"}}
    text = _jaxrobot("data", "inspect", path, env_cache=cache).stdout
    (line,) = [ln for ln in text.splitlines() if "steps/action" in ln]
    assert "MISSING from 2 of 2 records" in line and shard in line
    lines = _short_failure(_jaxrobot("data", "stats", path, "--dataset", "jaxrobot_sim", env_cache=cache,
                                     check=False))
    assert "'steps/action' is missing" in lines[0] and shard in lines[0]
