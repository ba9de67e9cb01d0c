"""A runtime-driven policy (numpy + ONNX Runtime, no JAX in the policy) scores like the JAX policy in MJX.

BC trained briefly on the 8-episode pick_cube test set (from its front camera too, so the runtime's image path is
driven: ``bc_pick_cube`` itself is state-only), exported to ONNX, then evaluated closed loop twice
on the same seeded scenes: once through ``PolicyRunner`` (jax.jit), once through ``jaxrobot_runtime.Policy``.
Actions agree to ~1e-6, so both runs must give the same successes and episode lengths within a step.
"""

import pathlib

import numpy as np
import pytest

from tests.helpers.export import train_small

REPO = pathlib.Path(__file__).resolve().parents[2]
DATA = REPO / "tests" / "testdata" / "jaxrobot_sim_pick_cube_small" / "jaxrobot_sim_pick_cube" / "1.0.0"
N_ENVS = 8


@pytest.fixture(scope="module")
def pick_bundle(tmp_path_factory):
    from jaxrobot.export.bundle import export_checkpoint

    root = tmp_path_factory.mktemp("pick")
    workdir = train_small("bc_pick_cube", root / "run", 300, f"data.path={DATA}", "train.batch_size=64",
                          "data.cameras=front")
    bundle = root / "bundle"
    export_checkpoint(workdir, bundle, formats=("onnx",), precisions=("fp32",), log=lambda s: None)
    return workdir, bundle


def test_runtime_policy_matches_jax_policy_closed_loop(pick_bundle):
    from jaxrobot.policies.evaluation import evaluate_bundle, evaluate_checkpoint

    workdir, bundle = pick_bundle
    jax_res = evaluate_checkpoint(workdir, "pick_cube", N_ENVS, n_envs=N_ENVS, seed=3)
    rt_res = evaluate_bundle(bundle, "pick_cube", N_ENVS, backend="onnx", n_envs=N_ENVS, seed=3, threads=1)
    assert rt_res["episodes"] == jax_res["episodes"] == N_ENVS
    assert rt_res["plans"] > 0  # the runtime really planned (not a JAX fallback)
    assert rt_res["successes"] == jax_res["successes"]
    lengths_rt, lengths_jax = np.array(rt_res["episode_lengths"]), np.array(jax_res["episode_lengths"])
    assert np.abs(lengths_rt - lengths_jax).max() <= 1, (lengths_rt, lengths_jax)
    # Contact dynamics amplify the ~1e-6 action differences a little over 80 steps (measured: 1% apart).
    assert rt_res["mean_return"] == pytest.approx(jax_res["mean_return"], rel=5e-2)


def test_env_overrides_follow_the_data_spec():
    from jaxrobot.policies.evaluation import env_overrides

    assert env_overrides({"cameras": [], "image_size": []}) == {}
    assert env_overrides({"cameras": ["front"], "image_size": [64, 64]}) == {"image_size": 64, "cameras": ("front",)}
    with pytest.raises(ValueError, match="square"):
        env_overrides({"cameras": ["front"], "image_size": [48, 64]})


def test_eval_cli_rejects_a_folder_that_is_not_a_bundle(tmp_path, capsys):
    from jaxrobot.cli import main

    assert main(["eval", "--bundle", str(tmp_path), "--task", "pick_cube", "--episodes", "2"]) == 2
    assert "not a jaxrobot export bundle" in capsys.readouterr().err
