"""The RLDS DataSource: batch layout (base.py), determinism, exact resume, host slices, mixtures, memory."""

from __future__ import annotations

import json

import numpy as np
import pytest

from jaxrobot.config import from_json, to_json, validate
from jaxrobot.data.base import DataError
from jaxrobot.data.sources import make_source
from jaxrobot.data.sources.mixture import MixtureDataConfig
from jaxrobot.data.sources.rlds import RldsDataConfig, RldsSource
from tests.helpers.rlds_fixtures import (
    CORRUPT_JPEG,
    SIM_SHARD,
    layout_episodes,
    write_layout,
    write_rlds_fixture,
    write_with_corrupt_frame,
)

BRIDGE = "tests/testdata/bridge_dataset_octo_debug/bridge_dataset/1.0.0"


@pytest.fixture(autouse=True)
def _cache(tmp_path, monkeypatch):
    monkeypatch.setenv("JAXROBOT_CACHE", str(tmp_path / "cache"))


@pytest.fixture(scope="module")
def sim_path(tmp_path_factory):
    return write_layout(tmp_path_factory.mktemp("sim"), "jaxrobot_sim", lengths=(6, 4, 9, 5))[0]


def _take(src, n):
    return [next(src) for _ in range(n)]


def _same(a, b):
    assert a.keys() == b.keys()
    for k in a:
        np.testing.assert_array_equal(a[k], b[k], err_msg=k)


def test_bridge_batch_follows_base_layout():
    cfg = validate(RldsDataConfig(path=BRIDGE, n_obs_steps=1, horizon=4))
    src = make_source(cfg, global_batch_size=8, seed=0)
    b = next(src)
    want = {"observation/state": ((8, 1, 7), np.float32), "observation/pad_mask": ((8, 1), np.bool_),
            "action": ((8, 4, 7), np.float32), "action_pad_mask": ((8, 4), np.bool_),
            "observation/image_primary": ((8, 1, 64, 64, 3), np.uint8),
            "observation/image_secondary": ((8, 1, 64, 64, 3), np.uint8)}
    assert {k: (v.shape, v.dtype.type) for k, v in b.items()} == want
    spec = src.spec()
    assert {k: tuple(v["shape"]) for k, v in spec["keys"].items()} == {k: s for k, (s, _) in want.items()}
    assert spec["dataset"] == "bridge_dataset" and spec["cameras"] == ["primary", "secondary"]
    st = src.stats()
    json.dumps(st)
    assert st["episodes"] == 25 and st["steps"] == 250 and len(st["action"]["q99"]) == 7
    assert b["observation/pad_mask"].all() and b["observation/image_primary"].any()
    src.close()


def test_normalised_windows_match_a_direct_computation():
    from jaxrobot.data.datasets import get_entry
    from jaxrobot.data.sources.rlds import open_rlds
    from jaxrobot.data.standardize import standardize

    for mode in ("mean_std", "min_max"):
        cfg = RldsDataConfig(path=BRIDGE, n_obs_steps=2, horizon=12, shuffle=False, normalization=mode, prefetch=0)
        src = RldsSource(cfg, global_batch_size=10)
        b = next(src)  # sequential: episode 0, steps 0..9
        ep = standardize(open_rlds(BRIDGE, "train").episode(0), get_entry("bridge_dataset"))
        s = src.stats()
        for t in range(10):
            act = ep["action"][np.minimum(t + np.arange(12), 9)]
            if mode == "mean_std":
                want = (act - np.array(s["action"]["mean"])) / np.array(s["action"]["std"])
            else:
                lo, hi = np.array(s["action"]["min"]), np.array(s["action"]["max"])
                want = 2 * (act - lo) / (hi - lo) - 1
            np.testing.assert_allclose(b["action"][t], want, rtol=1e-5, atol=1e-5)
            assert b["action_pad_mask"][t].tolist() == [t + i < 10 for i in range(12)]
            assert b["observation/pad_mask"][t].tolist() == [t >= 1, True]
        np.testing.assert_array_equal(b["observation/image_primary"][0, 0], b["observation/image_primary"][0, 1])
        src.close()


def test_deterministic_and_exact_resume():
    cfg = RldsDataConfig(path=BRIDGE, n_obs_steps=2, horizon=3, random_crop=0.875, color_jitter=0.2,
                         image_size=(48, 48), prefetch=3)
    a = RldsSource(cfg, global_batch_size=6, seed=4)
    first = _take(a, 3)
    state = a.get_state()
    rest = _take(a, 4)  # crosses an epoch boundary? 250 steps / 6 per batch: not yet, fine either way
    b = RldsSource(cfg, global_batch_size=6, seed=4)
    for x, y in zip(first, _take(b, 3), strict=True):
        _same(x, y)
    c = RldsSource(cfg, global_batch_size=6, seed=4)
    c.set_state(state)
    for x, y in zip(rest, _take(c, 4), strict=True):
        _same(x, y)
    a.set_state(state)  # rewinding a source with batches in flight
    _same(next(a), rest[0])
    assert not np.array_equal(first[0]["action"], RldsSource(cfg, global_batch_size=6, seed=5).__next__()["action"])
    for s in (a, b, c):
        s.close()


def test_epochs_wrap_and_resume_across_them():
    cfg = RldsDataConfig(path=BRIDGE, horizon=2, prefetch=1)
    a = RldsSource(cfg, global_batch_size=32, seed=0)
    batches = _take(a, 10)  # 320 > 250 steps
    c = RldsSource(cfg, global_batch_size=32, seed=0)
    c.set_state({"position": 32 * 7})
    for x, y in zip(batches[7:], _take(c, 3), strict=True):
        _same(x, y)


def test_host_slices_union_to_the_global_batch():
    cfg = RldsDataConfig(path=BRIDGE, n_obs_steps=2, horizon=2, random_crop=0.9, color_jitter=0.1)
    glob = RldsSource(cfg, global_batch_size=8, seed=1)
    hosts = [RldsSource(cfg, global_batch_size=8, seed=1, process_index=i, process_count=2) for i in range(2)]
    for _ in range(3):
        want = next(glob)
        parts = [next(h) for h in hosts]
        assert parts[0]["action"].shape[0] == 4
        _same({k: np.concatenate([p[k] for p in parts]) for k in want}, want)


def test_mixture_of_two_layouts(sim_path):
    cfg = validate(MixtureDataConfig(
        datasets=(RldsDataConfig(path=BRIDGE, horizon=4, image_size=(32, 32)),
                  RldsDataConfig(path=sim_path, horizon=4, image_size=(32, 32))),
        weights=(0.7, 0.3)))
    cfg = from_json(to_json(cfg))
    src = make_source(cfg, global_batch_size=10, seed=0)
    b = next(src)
    spec = src.spec()
    assert spec["cameras"] == ["primary", "secondary", "front", "wrist"]
    assert b["action"].shape == (10, 4, 8) and b["observation/state"].shape == (10, 1, 9)  # padded to the max
    for cam in spec["cameras"]:
        assert b[f"observation/image_{cam}"].shape == (10, 1, 32, 32, 3)
    ds = np.concatenate([b["dataset_index"]] + [next(src)["dataset_index"] for _ in range(59)])
    assert abs((ds == 1).mean() - 0.3) < 0.02  # systematic rounding: each batch has 3 (or so) sim items
    sim_rows = b["dataset_index"] == 1
    assert not b["observation/image_primary"][sim_rows].any()  # the sim set has no 'primary' camera
    assert np.all(b["action"][~sim_rows][..., 7] == 0)  # bridge's 7-D action padded to 8
    state = src.get_state()
    nxt = next(src)
    again = make_source(cfg, global_batch_size=10, seed=0)
    again.set_state(state)
    _same(next(again), nxt)
    assert set(src.stats()["datasets"]) == {"bridge_dataset", "jaxrobot_sim"}


def test_memory_is_bounded(sim_path):
    cfg = RldsDataConfig(path=BRIDGE, n_obs_steps=2, horizon=2, memory_mb=1)
    src = RldsSource(cfg, global_batch_size=16)
    _take(src, 40)
    info = src.reader.cache_info()
    assert info["episode_bytes"] <= 512 * 1024 and info["frame_bytes"] <= 512 * 1024
    assert info["episodes"] < 25 and info["frames"] > 0


def test_bad_episodes_fail_or_are_counted(tmp_path):
    steps_f, meta_f, eps = layout_episodes("jaxrobot_sim", (4, 5, 3))
    eps[1]["steps"][2]["action"] = np.full(8, np.nan, np.float32)
    path = write_rlds_fixture(tmp_path, "jaxrobot_sim", steps_f, eps, meta_f)
    with pytest.raises(DataError, match=r"1 bad episode\(s\), first: dataset 'jaxrobot_sim' episode 1: .*NaN"):
        RldsSource(RldsDataConfig(path=path), global_batch_size=2)
    src = RldsSource(RldsDataConfig(path=path, skip_bad=True, stats_cache=False), global_batch_size=2)
    assert src.stats()["skipped"] == 1 and src.stats()["episodes"] == 2 and src.stats()["steps"] == 7
    batches = _take(src, 10)
    assert all(np.isfinite(b["action"]).all() for b in batches)


def test_config_errors_name_fields():
    from jaxrobot.config import ConfigError

    with pytest.raises(ConfigError, match="'path'"):
        validate(RldsDataConfig())
    with pytest.raises(ConfigError, match="'horizon'"):
        validate(RldsDataConfig(path=BRIDGE, horizon=0))
    with pytest.raises(ConfigError, match="weights"):
        validate(MixtureDataConfig(datasets=(RldsDataConfig(path=BRIDGE),), weights=()))
    with pytest.raises(DataError, match="no split 'val'"):
        RldsSource(RldsDataConfig(path=BRIDGE, split="val"), global_batch_size=2)


def test_array_record_and_the_tfds_fallback_give_the_same_batches(tmp_path, monkeypatch):
    """array_record shards (read through tfds's data sources) and ``JAXROBOT_RLDS_FALLBACK=1`` (tfds instead
    of jaxrobot's record parser) give the batches, statistics and spec of the TF-free reader, byte for byte."""
    from jaxrobot.data.sources.rlds import open_rlds

    tfrecord = write_layout(tmp_path / "tfrecord", "jaxrobot_sim", lengths=(6, 4, 9, 5))[0]
    array_record = write_layout(tmp_path / "array_record", "jaxrobot_sim", lengths=(6, 4, 9, 5),
                                file_format="array_record")[0]

    def read(path):
        cfg = RldsDataConfig(path=path, n_obs_steps=2, horizon=3, image_size=(16, 16), random_crop=0.875,
                             color_jitter=0.2, stats_cache=False)
        src = RldsSource(cfg, global_batch_size=4, seed=2)
        out = _take(src, 3), src.stats(), src.spec()
        src.close()
        return out

    want = read(tfrecord)
    assert open_rlds(tfrecord).backend == "numpy" and open_rlds(array_record).backend == "tf"
    got = [read(array_record)]
    monkeypatch.setenv("JAXROBOT_RLDS_FALLBACK", "1")
    assert open_rlds(tfrecord).backend == "tf"
    got.append(read(tfrecord))
    for batches, stats, spec in got:
        for x, y in zip(batches, want[0], strict=True):
            _same(x, y)
        assert stats == want[1] and spec == want[2]


# ---------------------------------------------------------------- corrupt frames, state-only sources

def test_decode_image_refuses_corrupt_jpeg_with_a_data_error():
    from jaxrobot.data.transforms import decode_image

    with pytest.raises(DataError, match=r"cannot decode JPEG \(102 bytes\)"):
        decode_image(CORRUPT_JPEG)


def test_corrupt_frame_fails_naming_shard_episode_feature_and_step(tmp_path):
    path = write_with_corrupt_frame(tmp_path)
    src = RldsSource(RldsDataConfig(path=path, shuffle=False, prefetch=0), global_batch_size=24)
    want = (rf"{path}/{SIM_SHARD}: record 1 \(episode 1\), feature 'steps/observation/image_front' step 2: "
            r"cannot decode JPEG .*skip_bad")
    with pytest.raises(DataError, match=want):
        next(src)
    src.close()
    # in the first episode it fails at start-up (the native image size is read from its first frame)
    path0 = write_with_corrupt_frame(tmp_path / "first", bad=(0, 0))
    with pytest.raises(DataError, match=r"record 0 \(episode 0\), feature 'steps/observation/image_front' step 0"):
        RldsSource(RldsDataConfig(path=path0), global_batch_size=4)


def test_skip_bad_skips_corrupt_frames_with_one_warning_and_counts_them(tmp_path, capsys):
    """With skip_bad an example needing the corrupt frame is redrawn (deterministically, from its position):
    every batch is full, none holds the frame, one warning line names it, and the count is kept."""
    path = write_with_corrupt_frame(tmp_path)
    cfg = RldsDataConfig(path=path, skip_bad=True, n_obs_steps=2, stats_cache=False)
    src = RldsSource(cfg, global_batch_size=8, seed=1)
    batches = _take(src, 12)  # 96 examples over 24 steps: the windows at steps 2 and 3 of episode 1 recur
    assert src.skipped_frames == 1 and src.reader.cache_info()["bad_frames"] == 1
    err = capsys.readouterr().err.strip().splitlines()
    assert len(err) == 1 and err[0].startswith("warning: skip_bad: skipping corrupt frame #1: ")
    assert f"{SIM_SHARD}: record 1 (episode 1), feature 'steps/observation/image_front' step 2" in err[0]
    levels = np.concatenate([b["observation/image_front"].reshape(-1, 16 * 16 * 3).mean(1) for b in batches])
    assert len(levels) == 96 * 2 and np.abs(levels - 50).min() > 2  # the frame at episode 1, step 2 is 50
    assert all(b["action_pad_mask"].shape == (8, 1) for b in batches)
    again = RldsSource(cfg, global_batch_size=8, seed=1)
    for a, b in zip(batches, _take(again, 12), strict=True):
        _same(a, b)
    # the start-up read of the native size also skips a corrupt first frame
    path0 = write_with_corrupt_frame(tmp_path / "first", bad=(0, 0))
    first = RldsSource(RldsDataConfig(path=path0, skip_bad=True, stats_cache=False), global_batch_size=4)
    assert first.spec()["image_size"] == [16, 16]
    src.close(), again.close(), first.close()


def test_state_only_source_reads_no_frame(tmp_path):
    """cameras=None: no image key and no decode, even on a dataset with a camera and a corrupt frame; the
    config round-trips through JSON, and an old config's [] still means every camera."""
    from jaxrobot.config import from_dict, to_dict

    path = write_with_corrupt_frame(tmp_path)
    cfg = validate(RldsDataConfig(path=path, cameras=None, shuffle=False, prefetch=0))
    src = make_source(cfg, global_batch_size=24)
    b = next(src)
    assert sorted(b) == ["action", "action_pad_mask", "observation/pad_mask", "observation/state"]
    assert src.spec()["cameras"] == [] and src.reader.episode(1)["images"] == {}
    assert src.reader.cache_info()["frames"] == 0
    assert from_json(to_json(cfg)) == cfg
    old = to_dict(cfg) | {"cameras": []}
    assert from_dict(old).cameras == ()
    with pytest.raises(DataError, match="step 2"):  # the default () finds the camera and decodes it
        next(make_source(RldsDataConfig(path=path, shuffle=False, prefetch=0), global_batch_size=24))
    src.close()


@pytest.mark.slow  # two short `jaxrobot train` processes: ~15 s on an idle 2-core box
def test_train_on_a_corrupt_frame_fails_short_or_skips_it(tmp_path):
    """End to end through `jaxrobot train`: skip_bad=false fails with one line naming shard, episode and
    feature (60 lines of decoder traceback before); skip_bad=true warns once and completes."""
    import os
    import pathlib
    import subprocess
    import sys

    experiment = pathlib.Path(__file__).resolve().parents[2] / "experiments" / "bc_pick_cube.py"
    path = write_with_corrupt_frame(tmp_path / "data")
    exe = os.path.join(os.path.dirname(sys.executable), "jaxrobot")
    env = {**os.environ, "JAXROBOT_CACHE": str(tmp_path / "cache")}
    env.pop("JAXROBOT_DEBUG", None)
    for skip in ("false", "true"):
        cmd = [exe, "train", "--config", str(experiment), "--workdir", str(tmp_path / skip),
               "--steps", "5", "--no-progress", "--set", f"data.path={path}", "--set", "data.cameras=front",
               "--set", "train.batch_size=24", "--set", "model.action_dim=2", "--set", "data.shuffle=false",
               "--set", f"data.skip_bad={skip}"]
        r = subprocess.run(cmd, capture_output=True, text=True, env=env, timeout=300)
        lines = (r.stdout + r.stderr).strip().splitlines()
        assert "Traceback (most recent call last):" not in r.stdout + r.stderr and len(lines) <= 20, lines
        where = f"{SIM_SHARD}: record 1 (episode 1), feature 'steps/observation/image_front' step 2"
        if skip == "false":
            assert r.returncode not in (0, 3), r.stderr
            assert len(lines) == 1 and lines[0].startswith("error: ") and where in lines[0], lines
        else:
            assert r.returncode == 0, r.stderr
            warnings = [ln for ln in lines if ln.startswith("warning: skip_bad")]
            assert len(warnings) == 1 and where in warnings[0] and "TRAIN_SUMMARY" in r.stdout + r.stderr, lines
