"""Imported LeRobot policies against LeRobot 0.4.4 itself, with cameras: ``make test-peers``.

Needs the peers venv (``make .venv-peers/.installed``: LeRobot 0.4.4 on CPU torch); skipped without it, and
marked slow (each policy carries torchvision's full ResNet-18). For every spec, LeRobot builds a random policy
with random dataset statistics and saves it (``tests/interop/lerobot_side.py``, in its own venv); jaxrobot
imports the folder and must compute what LeRobot computed: ACT's action chunk and Diffusion Policy's noise
prediction within 1e-4, the full DDIM / DDPM sample from the same noise, and the first action of LeRobot's
``preprocessor -> select_action -> postprocessor`` (all within 1e-4 here; the fast tests show a configuration
where float32 rounding alone moves a DDIM sample by more). Then the edge path on converted image policies: ``jaxrobot
export`` (ONNX, TFLite), ``jaxrobot-runtime check``, and the runtime's first action against LeRobot's; and
``jaxrobot eval`` in simulation on a converted policy shaped for the ``pick_cube`` task. LeRobot and the
command line (``jaxrobot.cli``) run in subprocesses.
"""

from __future__ import annotations

import json
import pathlib

import numpy as np
import pytest

from tests.helpers.lerobot_parity import (
    PEERS_PYTHON,
    REPO,
    jax_outputs,
    jaxrobot_cli,
    make_lerobot_policy,
    reference,
    runtime_cli,
    runtime_first_action,
)

pytestmark = [
    pytest.mark.slow,
    pytest.mark.skipif(not (REPO / ".venv-peers" / ".installed").exists() or not PEERS_PYTHON.exists(),
                       reason="needs the LeRobot peers venv: make .venv-peers/.installed"),
]

SPECS = {
    # Two cameras of different sizes, listed out of name order; the cameras' own statistics.
    "act_two_cameras": {"policy": "act", "state_dim": 6, "action_dim": 5, "seed": 11,
                        "cameras": {"wrist": [40, 48], "top": [48, 64]},
                        "config": {"dim_model": 32, "n_heads": 4, "dim_feedforward": 64, "n_encoder_layers": 2,
                                   "n_decoder_layers": 2, "n_vae_encoder_layers": 1, "latent_dim": 8,
                                   "chunk_size": 10, "n_action_steps": 10}},
    # ImageNet camera statistics, an environment state, pre-norm, no VAE.
    "act_imagenet_env_pre_norm": {"policy": "act", "state_dim": 4, "env_dim": 3, "action_dim": 3, "seed": 12,
                                  "stats": "imagenet", "cameras": {"front": [64, 64]},
                                  "config": {"dim_model": 64, "n_heads": 8, "dim_feedforward": 128,
                                             "n_encoder_layers": 3, "n_decoder_layers": 1, "use_vae": False,
                                             "latent_dim": 16, "chunk_size": 7, "n_action_steps": 7,
                                             "pre_norm": True}},
    # LeRobot's defaults (51.6 M parameters with a 14-D state), temporal ensembling on.
    "act_defaults_ensembling": {"policy": "act", "state_dim": 14, "action_dim": 14, "seed": 13,
                                "cameras": {"top": [96, 96]},
                                "config": {"temporal_ensemble_coeff": 0.01, "n_action_steps": 1}},
    # Shared encoder over two cameras listed out of name order, crop, DDIM, mixed normalisation modes.
    "dp_two_cameras_ddim": {"policy": "diffusion", "state_dim": 4, "action_dim": 3, "seed": 14,
                            "cameras": {"top": [48, 56], "left": [48, 56]},
                            "config": {"horizon": 16, "n_obs_steps": 2, "n_action_steps": 8,
                                       "down_dims": [16, 32, 64], "spatial_softmax_num_keypoints": 8,
                                       "diffusion_step_embed_dim": 32, "crop_shape": [40, 48],
                                       "noise_scheduler_type": "DDIM", "num_inference_steps": 10,
                                       "normalization_mapping": {"VISUAL": "MIN_MAX", "STATE": "QUANTILES",
                                                                 "ACTION": "MEAN_STD"}}},
    # One encoder per camera, BatchNorm backbone, no crop, DDPM over all 100 steps, environment state, 3 frames.
    "dp_separate_bn_ddpm_env": {"policy": "diffusion", "state_dim": 5, "env_dim": 3, "action_dim": 4, "seed": 15,
                                "cameras": {"wrist": [40, 40], "front": [40, 40]},
                                "config": {"horizon": 16, "n_obs_steps": 3, "n_action_steps": 6,
                                           "down_dims": [16, 32], "kernel_size": 3,
                                           "spatial_softmax_num_keypoints": 4, "diffusion_step_embed_dim": 16,
                                           "use_separate_rgb_encoder_per_camera": True, "use_group_norm": False,
                                           "use_film_scale_modulation": False}},
    # torch's exact (erf) GELU in every feed-forward layer, one camera.
    "act_gelu_camera": {"policy": "act", "state_dim": 4, "action_dim": 3, "seed": 17, "cameras": {"top": [48, 48]},
                        "config": {"dim_model": 32, "n_heads": 4, "dim_feedforward": 64, "n_encoder_layers": 2,
                                   "n_decoder_layers": 1, "n_vae_encoder_layers": 1, "latent_dim": 8,
                                   "chunk_size": 8, "n_action_steps": 8, "feedforward_activation": "gelu"}},
    # n_groups=4 in the residual blocks (12 and 20 channels: not multiples of 8), LeRobot's final conv block at 8.
    "dp_n_groups_4_camera": {"policy": "diffusion", "state_dim": 3, "action_dim": 2, "seed": 18,
                             "cameras": {"top": [40, 40]},
                             "config": {"horizon": 16, "n_obs_steps": 2, "n_action_steps": 8,
                                        "down_dims": [8, 12, 20], "n_groups": 4,
                                        "spatial_softmax_num_keypoints": 4, "diffusion_step_embed_dim": 16,
                                        "crop_shape": [32, 32], "noise_scheduler_type": "DDIM",
                                        "num_inference_steps": 10}},
}
TOL = {"chunk": 1e-4, "eps": 1e-4, "first_action": 1e-4, "sample": 1e-4}


@pytest.fixture(scope="module")
def made(tmp_path_factory):
    root = tmp_path_factory.mktemp("lerobot")
    cache: dict[str, pathlib.Path] = {}

    def get(name: str) -> pathlib.Path:
        if name not in cache:
            cache[name] = make_lerobot_policy({"name": name, **SPECS[name]}, root / name)
        return cache[name]

    return get


@pytest.mark.parametrize("name", sorted(SPECS))
def test_imported_image_policy_computes_what_lerobot_computed(name, made, tmp_path):
    from jaxrobot.train.lerobot_checkpoint import import_lerobot

    folder = made(name)
    summary = import_lerobot(folder / "checkpoint", tmp_path / "wd", log=lambda s: None)
    _, ref = reference(folder)
    ours = jax_outputs(pathlib.Path(summary["workdir"]), ref)
    for key in ("chunk", "eps", "sample", "first_action"):
        if key not in ref:
            continue
        err = float(np.abs(ours[key] - ref[key]).max())
        print(f"PARITY {name} {key} max_abs_err={err:.3g} (params {summary['params']:,})")
        assert err <= TOL[key], (name, key, err)


@pytest.mark.parametrize("name", ["act_two_cameras", "dp_two_cameras_ddim"])
def test_edge_path_export_check_and_runtime_first_action(name, made, tmp_path):
    """import-lerobot -> jaxrobot export (ONNX + TFLite, parity-gated) -> jaxrobot-runtime check -> the runtime's
    first action on LeRobot's observation (batch 1) equals LeRobot's."""
    folder = made(name)
    wd, bundle = tmp_path / "wd", tmp_path / "bundle"
    proc = jaxrobot_cli("ckpt", "import-lerobot", "--in", str(folder / "checkpoint"), "--out", str(wd), "--json")
    assert proc.returncode == 0, proc.stderr
    inputs = json.loads(proc.stdout.strip().splitlines()[-1])["inputs"]
    proc = jaxrobot_cli("export", "--workdir", str(wd), "--out", str(bundle), "--format", "onnx,tflite", "--json")
    assert proc.returncode == 0, proc.stderr
    report = json.loads(proc.stdout.strip().splitlines()[-1])
    for rel, rep in sorted(report.items()):
        print(f"EXPORT {name} {rel} max_abs_err={rep['max_abs_err']:.3g}")
    proc = runtime_cli("check", str(bundle))
    assert proc.returncode == 0 and "CHECK OK" in proc.stdout, proc.stdout + proc.stderr
    _, ref = reference(folder)
    for backend in ("onnx", "tflite"):
        got = runtime_first_action(bundle, ref, inputs, backend)
        err = float(np.abs(got - ref["first_action"][0]).max())
        print(f"PARITY {name} runtime-{backend} first_action max_abs_err={err:.3g}")
        assert err <= TOL["first_action"], (backend, err)


def test_jaxrobot_eval_runs_a_converted_policy_in_simulation(tmp_path):
    """A LeRobot ACT shaped for the pick_cube task (12-D state, 5-D action, a 64x64 `front` camera) runs closed
    loop under `jaxrobot eval --workdir` (random weights: only that it runs and reports is checked)."""
    spec = {"name": "act_pick_cube", "policy": "act", "state_dim": 12, "action_dim": 5, "seed": 16,
            "stats": "imagenet", "cameras": {"front": [64, 64]},
            "config": {"dim_model": 32, "n_heads": 4, "dim_feedforward": 64, "n_encoder_layers": 1,
                       "n_decoder_layers": 1, "n_vae_encoder_layers": 1, "latent_dim": 8, "chunk_size": 10,
                       "n_action_steps": 10}}
    folder = make_lerobot_policy(spec, tmp_path / "lerobot")
    wd = tmp_path / "wd"
    proc = jaxrobot_cli("ckpt", "import-lerobot", "--in", str(folder / "checkpoint"), "--out", str(wd))
    assert proc.returncode == 0, proc.stderr
    proc = jaxrobot_cli("eval", "--workdir", str(wd), "--task", "pick_cube", "--episodes", "2", "--envs", "2",
                        "--json")
    assert proc.returncode == 0, proc.stderr
    res = json.loads(proc.stdout.strip().splitlines()[-1])
    assert res["episodes"] == 2 and 0.0 <= res["success_rate"] <= 1.0
