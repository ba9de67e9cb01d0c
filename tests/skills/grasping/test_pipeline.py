"""Grasp maps from MJX labels: targets and augmentation, the resumable source, CLI JSON, and (slow) a trained
GG-CNN2 beating the height heuristic in MJX.

The fast tests use a hand-made labelled dataset (no MJX) except the CLI test, which executes a few grasps in
MJX through the compiled function the sim tests share (chunks of ``CHUNK``).
"""

from __future__ import annotations

import io
import json
import math
from contextlib import redirect_stdout

import numpy as np
import pytest

from tests.helpers.grasp_labels import SIZE, synthetic_labels

CHUNK = 32


@pytest.fixture(scope="module")
def synthetic_dataset(tmp_path_factory):
    from jaxrobot.skills.grasping import label as gl

    return gl.write_dataset(synthetic_labels(), str(tmp_path_factory.mktemp("grasp_ds")))


def _source(path, batch=4, **kw):
    from jaxrobot.data.sources import make_source
    from jaxrobot.skills.grasping.dataset import GraspRldsConfig

    cfg = GraspRldsConfig(path=path, max_width=20.0, jaw_px=4.0, **kw)
    return make_source(cfg, global_batch_size=batch, seed=1)


def test_quality_is_success_rate_of_covering_grasps(synthetic_dataset):
    """Quality 1 where only positives paint, 1/2 where a negative overlaps one, angle/width from positives."""
    src = _source(synthetic_dataset, augment=False)
    t = src.targets
    c = src.scenes["grasp/center"][0]
    u, v = int(c[0, 0]), int(c[0, 1])
    assert t["quality"][0, v, u] == pytest.approx(0.5)  # grasp 0 (success) and grasp 2 (failure) overlap
    u1, v1 = int(c[1, 0]), int(c[1, 1]) + 1  # grasp 1 only (below grasps 0/2's jaw extent)
    assert t["quality"][0, v1, u1] == pytest.approx(1.0)
    assert t["quality"][0, 3, 3] == 0.0  # the empty-space negative
    assert t["cos2"][0, v, u] == pytest.approx(1.0) and t["width"][0, v, u] == pytest.approx(12.0 / 20.0)
    positive = _source(synthetic_dataset, augment=False, quality="positive").targets
    assert positive["quality"][0, v, u] == 1.0


def test_dihedral_augmentation_matches_reencoding():
    """Transforming maps by a flip / quarter turn equals encoding the transformed grasps."""
    import jax.numpy as jnp

    from jaxrobot.skills.grasping.dataset import dihedral, dihedral_angle_maps
    from jaxrobot.vision.grasp_repr import encode_grasp_maps, make_grasps

    rng = np.random.default_rng(1)
    center = rng.uniform(6, 25, (5, 2)).astype(np.float32)
    angle = rng.uniform(-1.5, 1.5, 5).astype(np.float32)
    width = rng.uniform(6, 14, 5).astype(np.float32)
    maps = {
        k: np.asarray(v)
        for k, v in encode_grasp_maps(make_grasps(center, angle, width), SIZE, SIZE, 20.0).items()
    }
    for code in range(8):
        c, a = center.copy(), angle.copy()
        if code & 4:
            c[:, 0], a = SIZE - 1 - c[:, 0], -a
        for _ in range(code & 3):  # np.rot90: (u, v) -> (v, W-1-u), theta -> theta - pi/2
            c = np.stack([c[:, 1], SIZE - 1 - c[:, 0]], -1)
            a = a - math.pi / 2
        ref = {
            k: np.asarray(v)
            for k, v in encode_grasp_maps(make_grasps(jnp.asarray(c), a, width), SIZE, SIZE, 20.0).items()
        }
        cos2, sin2 = dihedral_angle_maps(dihedral(maps["cos2"], code), dihedral(maps["sin2"], code), code)
        for key, got in (
            ("quality", dihedral(maps["quality"], code)),
            ("cos2", cos2),
            ("sin2", sin2),
            ("width", dihedral(maps["width"], code)),
        ):
            mismatch = np.mean(np.abs(got - ref[key]) > 1e-3)
            assert mismatch < 0.01, (code, key, mismatch)


def test_source_batches_and_exact_resume(synthetic_dataset):
    src = _source(synthetic_dataset, crop=16)
    b0 = next(src)
    assert b0["observation/depth"].shape == (4, 16, 16, 1)
    for key in ("quality", "cos2", "sin2", "width"):
        assert b0[f"grasp/{key}"].shape == (4, 16, 16) and b0[f"grasp/{key}"].dtype == np.float32
    state = src.get_state()
    b1 = next(src)
    src.set_state(state)
    b1_again = next(src)
    for k in b1:
        np.testing.assert_array_equal(b1[k], b1_again[k])
    spec = src.spec()
    assert spec["image_size"] == [SIZE, SIZE] and len(spec["camera_intrinsics"]) == 3


@pytest.fixture(scope="module")
def tiny_workdir(synthetic_dataset, tmp_path_factory):
    """A GG-CNN2 trained for a few steps on the synthetic dataset (the CLI needs a checkpoint, not skill)."""
    from jaxrobot.models.grasp import GraspMapConfig
    from jaxrobot.skills.grasping.dataset import GraspRldsConfig
    from jaxrobot.train.config import ExperimentConfig, OptimizerConfig, TrainConfig
    from jaxrobot.train.loop import train

    wd = tmp_path_factory.mktemp("grasp_wd")
    cfg = ExperimentConfig(
        name="grasp_tiny",
        model=GraspMapConfig(max_width=40.0, ggcnn2_filters=(4, 4, 8, 4)),
        data=GraspRldsConfig(path=synthetic_dataset, max_width=40.0),
        optimizer=OptimizerConfig(lr=1e-3),
        train=TrainConfig(steps=4, batch_size=8, log_every=2, checkpoint_every=4),
    )
    train(cfg, wd, progress=False, log=lambda m: None, async_checkpoints=False)
    return wd


def _run_cli(argv):
    import argparse

    from jaxrobot.cli import grasp as commands

    parser = argparse.ArgumentParser()
    sub = parser.add_subparsers(dest="command", required=True)
    commands.register(sub)
    args = parser.parse_args(argv)
    out = io.StringIO()
    with redirect_stdout(out):
        code = args.func(args)
    return code, out.getvalue()


def test_grasp_predict_cli(tiny_workdir, tmp_path):
    depth = np.full((SIZE, SIZE), 0.5, np.float32)
    depth[10:20, 12:18] = 0.45
    np.save(tmp_path / "d.npy", depth)
    code, out = _run_cli(
        [
            "grasp",
            "predict",
            "--workdir",
            str(tiny_workdir),
            "--depth",
            str(tmp_path / "d.npy"),
            "--out",
            str(tmp_path / "pred.json"),
            "--top-k",
            "3",
        ]
    )
    assert code == 0 and out.strip().splitlines()[-1] == str(tmp_path / "pred.json")
    res = json.loads((tmp_path / "pred.json").read_text())
    assert 1 <= len(res["grasps"]) <= 3
    g = res["grasps"][0]
    assert {"center_px", "angle_rad", "width_px", "quality", "position_m", "yaw_rad", "width_m"} <= set(g)
    from PIL import Image

    assert Image.open(tmp_path / "pred.png").size == (SIZE * 4, SIZE * 4)


def test_grasp_eval_cli_prints_one_json_line(tiny_workdir):
    """`jaxrobot grasp eval ... --json`: one JSON line with the fixed keys (a handful of scenes)."""
    code, out = _run_cli(
        [
            "grasp",
            "eval",
            "--workdir",
            str(tiny_workdir),
            "--split",
            "novel_instances",
            "--scenes",
            "3",
            "--chunk",
            str(CHUNK),
            "--json",
        ]
    )
    assert code == 0
    lines = [ln for ln in out.splitlines() if ln.strip()]
    assert len(lines) == 1
    res = json.loads(lines[0])
    assert {"success_rate", "baseline_success_rate", "scenes", "ci95", "per_category"} <= set(res)
    assert res["scenes"] == 3 and 0 <= res["ci95"][0] <= res["success_rate"] <= res["ci95"][1] <= 1
    assert set(res["per_category"]) == {"box", "mug", "bottle"}
    assert "handle_share" in res["per_category"]["mug"]


@pytest.mark.slow
def test_trained_grasp_maps_beat_height_baseline(tmp_path):
    """Label grasps in MJX, train a small GG-CNN2, execute its top-1 grasps on novel instances: it beats the
    highest-point heuristic (~10-20 min here)."""
    from jaxrobot.models.grasp import GraspMapConfig
    from jaxrobot.skills.grasping import evaluate as grasp_eval
    from jaxrobot.skills.grasping import label as gl
    from jaxrobot.skills.grasping.dataset import GraspRldsConfig
    from jaxrobot.train.config import ExperimentConfig, OptimizerConfig, TrainConfig
    from jaxrobot.train.loop import train

    label = gl.GraspLabelConfig(scenes=96, candidates=32, exec_chunk=256)
    cfg = ExperimentConfig(
        name="grasp_small",
        model=GraspMapConfig(max_width=40.0, min_distance=4, quality_threshold=0.1),
        data=GraspRldsConfig(cache_dir=str(tmp_path / "labels"), max_width=40.0, crop=64, label=label),
        optimizer=OptimizerConfig(lr=2e-3, warmup_steps=50),
        train=TrainConfig(steps=500, batch_size=32, checkpoint_every=500),
    )
    train(cfg, tmp_path / "wd", progress=False, log=lambda m: None, async_checkpoints=False)
    predictor = grasp_eval.load_predictor(tmp_path / "wd")
    res = grasp_eval.evaluate_grasping(predictor, "novel_instances", 48, chunk=256)
    assert res["success_rate"] > res["baseline_success_rate"], res
    assert res["success_rate"] >= 0.7, res
