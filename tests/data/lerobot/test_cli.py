"""``jaxrobot data inspect|stats|convert`` on LeRobot datasets, through the real entry point (subprocess)."""

from __future__ import annotations

import json
import os

import numpy as np
import pytest

from jaxrobot.data.lerobot.reader import LeRobotDataset
from jaxrobot.data.rlds import RldsDataset
from tests.data.lerobot.fixtures import TASKS, V21, V30, jaxrobot_cli, parquet_rows


@pytest.fixture
def cache(tmp_path):
    return tmp_path / "cache"


def _one_line(r) -> dict:
    lines = r.stdout.strip().splitlines()
    assert len(lines) == 1, r.stdout
    return json.loads(lines[0])


@pytest.mark.parametrize("root", [V30, V21], ids=["v30", "v21"])
def test_inspect_json(root, cache):
    info = _one_line(jaxrobot_cli("data", "inspect", root, "--json", cache=cache))
    assert info["splits"] == {"train": {"episodes": 3, "steps": 21}}
    assert info["episodes"] == 3 and info["steps"] == 21 and info["format"] == "lerobot"
    assert info["version"] == ("v3.0" if root == V30 else "v2.1") and info["fps"] == 10
    assert info["features"]["action"]["shape"] == [None, 3] and info["features"]["action"]["dtype"] == "float32"
    cam = info["features"]["observation.images.front"]
    assert (cam["shape"], cam["dtype"], cam["encoding"], cam["codec"]) == ([None, 48, 64, 3], "uint8", "video", "av1")
    assert info["instructions"] == TASKS and info["missing_features"] == {}
    assert _one_line(jaxrobot_cli("data", "inspect", root, "--split", "train", "--json", cache=cache)) == info


def test_stats_json_is_the_stored_action_as_it_is(cache):
    rows = parquet_rows(V30)
    acts = np.concatenate([rows[i]["action"] for i in range(3)]).astype(np.float64)
    state = np.concatenate([rows[i]["observation.state"] for i in range(3)]).astype(np.float64)
    st = _one_line(jaxrobot_cli("data", "stats", V30, "--json", cache=cache))
    assert st["steps"] == 21 and st["episodes"] == 3
    for part, x in (("action", acts), ("state", state)):
        np.testing.assert_allclose(st[part]["mean"], x.mean(0), rtol=1e-6, atol=1e-9)
        np.testing.assert_allclose(st[part]["min"], x.min(0))
        np.testing.assert_allclose(st[part]["max"], x.max(0))
        np.testing.assert_allclose(st[part]["q99"], np.quantile(x, 0.99, axis=0), rtol=1e-6)
    assert len(os.listdir(cache / "stats")) == 1
    assert not any(p.suffix == ".json" for p in (V30 / "data").rglob("*"))  # never inside the dataset
    again = _one_line(jaxrobot_cli("data", "stats", V21, "--no-cache", "--split", "train", "--json", cache=cache))
    np.testing.assert_allclose(again["action"]["mean"], st["action"]["mean"], rtol=1e-12)


def test_bad_input_fails_with_one_line(tmp_path, cache, v21_copy):
    (v21_copy / "meta" / "info.json").unlink()
    no_info = jaxrobot_cli("data", "inspect", v21_copy, "--json", cache=cache, check=False)
    info = json.loads((V21 / "meta" / "info.json").read_text())
    (v21_copy / "meta" / "info.json").write_text(json.dumps(dict(info, codebase_version="v1.6")))
    old = jaxrobot_cli("data", "stats", v21_copy, "--json", cache=cache, check=False)
    split = jaxrobot_cli("data", "stats", V30, "--split", "val", cache=cache, check=False)
    entry = jaxrobot_cli("data", "stats", V30, "--dataset", "bridge_dataset", cache=cache, check=False)
    for r, text in ((no_info, "not a LeRobot dataset: no meta/info.json"), (old, "codebase_version 'v1.6'"),
                    (split, "a LeRobot dataset has one split, 'train' (asked for 'val')"),
                    (entry, "--dataset names a registry entry")):
        err = r.stderr.strip().splitlines()
        assert r.returncode == 2 and r.stdout == "" and len(err) == 1, r.stderr
        assert err[0].startswith("error:") and text in err[0], err[0]


def test_convert_both_ways(tmp_path, cache):
    r = jaxrobot_cli("data", "convert", "lerobot", "--in", V30, "--out", tmp_path / "rlds", "--name", "tiny",
                     cache=cache)
    rlds = r.stdout.strip().splitlines()[-1]
    assert rlds == str(tmp_path / "rlds" / "tiny" / "1.0.0") and len(RldsDataset(rlds)) == 3
    again = jaxrobot_cli("data", "convert", "lerobot", "--in", V30, "--out", tmp_path / "rlds", "--name", "tiny",
                cache=cache, check=False)
    assert again.returncode == 2 and "already exists" in again.stderr
    r = jaxrobot_cli("data", "convert", "rlds-to-lerobot", "--in", rlds, "--out", tmp_path / "lr", "--crf", "20",
            cache=cache)
    out = r.stdout.strip().splitlines()[-1]
    src, back = LeRobotDataset(V30), LeRobotDataset(out)
    for i in range(3):
        np.testing.assert_array_equal(src.columns(i)["action"], back.columns(i)["action"])
    info = _one_line(jaxrobot_cli("data", "inspect", out, "--json", cache=cache))
    assert info["splits"] == {"train": {"episodes": 3, "steps": 21}}
    bad = jaxrobot_cli("data", "convert", "lerobot", "--in", tmp_path / "nowhere", "--out", tmp_path / "x",
              cache=cache, check=False)
    assert bad.returncode == 2 and "no such folder" in bad.stderr and len(bad.stderr.strip().splitlines()) == 1
