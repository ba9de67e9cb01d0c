"""ACT and Diffusion Policy: export (ONNX + TFLite), parity, and the runtime against PolicyRunner.

Slow: each trains its small synthetic experiment for 2 steps in a subprocess (compilation dominates).
Diffusion runs its DDIM loop in the runtime over the exported ``denoise_step``; the initial noise of each
plan is the one ``PolicyRunner`` draws from its JAX key stream, so the two agree action for action.
"""

import json

import numpy as np
import pytest

from tests.helpers.export import train_small


@pytest.mark.slow
@pytest.mark.parametrize("experiment", ["act_synthetic.py:small", "diffusion_synthetic.py:small"])
def test_export_and_runtime_match_policy_runner(experiment, tmp_path):
    import jax
    from jaxrobot_runtime import Policy, check_bundle

    from jaxrobot.data.sources.synthetic import SyntheticSource, _render
    from jaxrobot.export.bundle import export_checkpoint
    from jaxrobot.policies.evaluation import load_policy
    from jaxrobot.train.checkpoint import config_from_meta

    workdir = train_small(experiment, tmp_path / "run")
    out = tmp_path / "bundle"
    report = export_checkpoint(workdir, out, formats=("onnx", "tflite"), precisions=("fp32", "fp16"),
                               log=lambda s: None)
    for rel, rep in report.items():
        assert rep["ok"], (rel, rep)
        if rep["precision"] == "fp32":
            assert rep["max_abs_err"] < 1e-4
    meta = json.loads((out / "bundle.json").read_text())
    if experiment.startswith("diffusion"):
        assert set(meta["functions"]) == {"encode", "denoise_step"}
        sched = json.loads((out / "schedule.json").read_text())
        assert sched["timesteps"][0] > sched["timesteps"][-1] == 0 and len(sched["alphas_cumprod"]) == 100
        import onnx  # the UNet's convolutions are ONNX Conv nodes, not im2col slices and an Einsum

        ops = {n.op_type for n in onnx.load(str(out / "onnx" / "denoise_step.onnx")).graph.node}
        assert "Conv" in ops and "Einsum" not in ops, sorted(ops)
    else:
        assert set(meta["functions"]) == {"policy"}
    assert check_bundle(out)["ok"]

    runner, ckpt_meta = load_policy(workdir)
    cfg = config_from_meta(ckpt_meta)
    states = SyntheticSource(cfg.data, global_batch_size=1).states[:2, :10]
    images = _render(states, cfg.data.image_size)
    keys = {"rng": jax.random.PRNGKey(0)}  # PolicyRunner(seed=0)'s stream; predict's noise is split(key)[0]

    def jax_noise(shape):
        keys["rng"], key = jax.random.split(keys["rng"])
        return np.asarray(jax.random.normal(jax.random.split(key)[0], shape, np.float32))

    for backend in ("onnx", "tflite"):
        runner.reset()
        runner.rng = jax.random.PRNGKey(0)
        keys["rng"] = jax.random.PRNGKey(0)
        policy = Policy(out, backend, noise=jax_noise)
        for t in range(states.shape[1]):
            obs = {"state": states[:, t], "image_main": images[:, t]}
            np.testing.assert_allclose(policy(obs), runner(obs), atol=2e-5, rtol=1e-4, err_msg=f"{backend} t={t}")
