"""The robot-side runtime against the JAX policy wrapper, action for action on recorded observations."""

import numpy as np
import pytest

from jaxrobot.data.sources.synthetic import SyntheticSource
from jaxrobot.policies.evaluation import load_policy
from jaxrobot.policies.runner import PolicyRunner
from jaxrobot.train.checkpoint import config_from_meta


def recorded_states(meta, n_envs=3, steps=30):
    """Raw state sequences [steps][n_envs, S] from the experiment's own (synthetic) episodes."""

    cfg = config_from_meta(meta)
    states = SyntheticSource(cfg.data, global_batch_size=1).states[:n_envs, :steps]
    return [states[:, t] for t in range(steps)]


@pytest.mark.parametrize("backend,precision", [("onnx", "fp32"), ("tflite", "fp32")])
def test_chunk_queue_matches_policy_runner(bc_workdir, bc_bundle, backend, precision):
    from jaxrobot_runtime import Policy

    runner, meta = load_policy(bc_workdir)
    policy = Policy(bc_bundle[0], backend, precision)
    for episode in range(2):  # reset between episodes, with a different batch size
        runner.reset()
        policy.reset()
        plans = policy.plans
        seq = recorded_states(meta, n_envs=3 - episode)
        for t, state in enumerate(seq):
            want = runner({"state": state})
            got = policy({"state": state})
            np.testing.assert_allclose(got, want, atol=2e-5, rtol=1e-5, err_msg=f"episode {episode} step {t}")
        assert policy.plans - plans == len(seq) // 4 + (len(seq) % 4 > 0)  # re-plan every n_action_steps


@pytest.mark.parametrize("coeff", [0.01, 0.5])
def test_temporal_ensembling_matches_policy_runner(bc_workdir, bc_bundle, coeff):
    """ACT's ensembling path: the same trained model, re-planned every step on both sides."""
    from jaxrobot_runtime import Policy, load_bundle

    _, meta = load_policy(bc_workdir)
    jax_runner, _ = load_policy(bc_workdir)
    runner = PolicyRunner(jax_runner.predict, jax_runner.params, meta["stats"], n_obs_steps=2, horizon=4,
                          n_action_steps=1, temporal_ensemble=coeff, state_dim=8)
    bundle = load_bundle(bc_bundle[0])
    bundle.runtime.update(n_action_steps=1, temporal_ensemble_coeff=coeff)
    policy = Policy(bundle, "onnx")
    for t, state in enumerate(recorded_states(meta, steps=20)):
        np.testing.assert_allclose(policy({"state": state}), runner({"state": state}), atol=2e-5, rtol=1e-5,
                                   err_msg=f"step {t}")
    assert policy.plans == 20


def test_ensembler_is_the_offline_weighted_mean():
    from jaxrobot_runtime import TemporalEnsembler

    rng = np.random.default_rng(0)
    chunks = [rng.normal(size=(2, 5, 3)) for _ in range(9)]
    ens = TemporalEnsembler(0.1, 5)
    for s, c in enumerate(chunks):
        got = ens.update(c)
        preds = [chunks[t][:, s - t] for t in range(max(0, s - 4), s + 1)]
        w = np.exp(-0.1 * np.arange(len(preds)))
        want = sum(wi * p for wi, p in zip(w, preds, strict=True)) / w.sum()
        np.testing.assert_allclose(got, want, rtol=1e-5, atol=1e-6)


def test_history_and_normalisation(bc_bundle):
    """Model inputs: normalised state, first frame repeated at an episode start, oldest frame first."""
    from jaxrobot_runtime import Policy

    policy = Policy(bc_bundle[0], "onnx")
    st = policy.bundle.stats["state"]
    mean, std = np.asarray(st["mean"], np.float32), np.asarray(st["std"], np.float32)
    a, b = mean + std, mean - 2 * std
    x1 = policy.observe({"state": a[None]})["state"]
    np.testing.assert_allclose(x1, np.ones((1, 2, 8)), atol=1e-5)
    x2 = policy.observe({"state": b[None]})["state"]
    np.testing.assert_allclose(x2[0, 0], np.ones(8), atol=1e-5)
    np.testing.assert_allclose(x2[0, 1], -2 * np.ones(8), atol=1e-5)


def test_loop_and_trtexec(bc_bundle):
    from jaxrobot_runtime import load_bundle
    from jaxrobot_runtime.cli import run_loop, trtexec_commands

    bundle = load_bundle(bc_bundle[0])
    res = run_loop(bundle, hz=100, seconds=0.3)
    assert res["ticks"] == 30 and 0 <= res["missed_deadlines"] <= 30 and res["plans"] >= 7
    lines = trtexec_commands(bundle)
    assert lines == [f"trtexec --onnx={bundle.path}/onnx/policy.b1.onnx "
                     f"--saveEngine={bundle.path}/tensorrt/policy.fp16.engine --fp16"]
    dyn = trtexec_commands(bundle, max_batch=16)[0]
    assert "--minShapes=state:1x2x8" in dyn and "--maxShapes=state:16x2x8" in dyn


def test_state_slices_select_the_trained_dims(bc_bundle):
    """A bundle whose data spec kept part of the observation (``state_slices``) builds ``state`` the same way."""
    from jaxrobot_runtime import BundleError, Policy

    policy = Policy(bc_bundle[0], "onnx")
    st = policy.bundle.stats["state"]
    mean = np.asarray(st["mean"], np.float32)
    policy.state_slices = [["proprio", 0, 3], ["state", 3, None]]
    wide = {"proprio": np.concatenate([mean[:3], [7.0, 7.0]])[None],
            "state": np.concatenate([[9.0] * 3, mean[3:]])[None]}
    np.testing.assert_allclose(policy.observe(wide)["state"], np.zeros((1, 2, 8)), atol=1e-5)
    with pytest.raises(BundleError, match="proprio"):
        policy.observe({"state": mean[None]})
