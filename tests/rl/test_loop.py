"""``jaxrobot rl finetune`` end to end on MJX ``panda_peg_insertion`` over a (barely trained) ACT base: exact
resume after ``kill -9``, SIGTERM saves, a changed base is refused, ``jaxrobot eval`` scores the fine-tuned policy."""

import json
import os
import pathlib
import signal
import subprocess
import sys
import time

import pytest

from jaxrobot.cli import main
from jaxrobot.config import ConfigError
from jaxrobot.train import checkpoint as ckpt_lib

REPO = pathlib.Path(__file__).resolve().parents[2]
EPISODE = 120  # control steps per episode (the demos' recorded task config; the RL env follows it)
ENVS = 8  # the tests run on 8 fake CPU devices (conftest): the environments are split over them
PER_ITERATION = ENVS * EPISODE
SMALL = ["--set", f"ppo.n_envs={ENVS}", "--set", "ppo.minibatches=2", "--set", "ppo.hidden=[32, 32]",
         "--set", "eval_every=0", "--set", "checkpoint_every=2", "--no-progress"]


@pytest.fixture(scope="module")
def bases(tmp_path_factory):
    """Two ACT bases (seeds 0 and 1, 2 training steps each) on 2 peg-insertion demos of at most 120 steps."""
    root = tmp_path_factory.mktemp("rl_bases")
    assert main(["sim", "gen-demos", "--task", "panda_peg_insertion", "--episodes", "2", "--batch-size", "2",
                 "--out", str(root / "demos"), "--set", f"episode_steps={EPISODE}", "--no-progress"]) == 0
    data = root / "demos" / "jaxrobot_sim_panda_peg_insertion" / "1.0.0"
    out = []
    for seed in (0, 1):
        w = root / f"act{seed}"
        assert main(["train", "--config", str(REPO / "experiments" / "act_panda_peg_insertion_state.py"),
                     "--workdir", str(w), "--steps", "2", "--set", f"data.path={data}", "--set", "train.eval_every=0",
                     "--set", f"train.seed={seed}", "--no-progress"]) == 0
        out.append(w)
    return out


def finetune(base, workdir, iterations: int, *extra: str) -> int:
    return main(["rl", "finetune", "--base", str(base), "--task", "panda_peg_insertion", "--workdir", str(workdir),
                 "--steps", str(iterations * PER_ITERATION), *SMALL, *extra])


def state_digest(workdir, step: int) -> str:
    return ckpt_lib.digest(ckpt_lib.restore_arrays(workdir, step)[1])


def start(base, workdir, iterations: int) -> subprocess.Popen:
    cmd = [sys.executable, "-m", "jaxrobot.cli", "rl", "finetune", "--base", str(base), "--task",
           "panda_peg_insertion", "--workdir", str(workdir), "--steps", str(iterations * PER_ITERATION), *SMALL]
    return subprocess.Popen(cmd, stdout=subprocess.PIPE, stderr=subprocess.STDOUT, text=True, cwd=REPO,
                            env=dict(os.environ, JAXROBOT_ALLOCATOR="system"))


def wait_for_checkpoint(workdir, proc, timeout=600.0) -> None:
    t0 = time.time()
    while not ckpt_lib.complete_steps(workdir) or not any(
            (ckpt_lib.checkpoint_dir(workdir) / str(s) / ckpt_lib.INTEGRITY_FILE).exists()
            for s in ckpt_lib.complete_steps(workdir)):
        assert proc.poll() is None, proc.stdout.read()
        assert time.time() - t0 < timeout, "no checkpoint appeared"
        time.sleep(0.2)


def test_kill9_then_resume_continues_bit_for_bit(bases, tmp_path, capsys):
    killed = tmp_path / "killed"
    proc = start(bases[0], killed, 10_000)
    wait_for_checkpoint(killed, proc)
    proc.send_signal(signal.SIGKILL)
    proc.wait()
    k = ckpt_lib.latest_verified_step(killed, log=lambda m: None)
    assert k is not None and k % 2 == 0
    assert finetune(bases[0], killed, k + 2) == 0  # resumes at k, saves k + 2
    assert finetune(bases[0], tmp_path / "straight", k + 2) == 0
    assert state_digest(killed, k + 2) == state_digest(tmp_path / "straight", k + 2)
    rows = [json.loads(x) for x in (killed / "metrics.jsonl").read_text().splitlines()]
    assert [r["step"] for r in rows] == list(range(1, k + 3))  # nothing logged twice, nothing missing
    # A different base is refused: the run was trained over bases[0]'s params (by digest).
    with pytest.raises(ConfigError, match="not the base policy"):
        main(["--debug", "rl", "finetune", "--base", str(bases[1]), "--task", "panda_peg_insertion", "--workdir",
              str(killed), "--steps", str((k + 4) * PER_ITERATION), *SMALL])
    # jaxrobot eval scores the fine-tuned policy (base + residual) with the same JSON as a supervised one.
    from jaxrobot.rl.finetuned import evaluate_finetuned

    capsys.readouterr()
    assert main(["eval", "--workdir", str(killed), "--task", "panda_peg_insertion", "--episodes", "8", "--envs", "8",
                 "--seed", "3", "--json"]) == 0
    res = json.loads(capsys.readouterr().out.strip().splitlines()[-1])
    assert res["episodes"] == 8 and 0.0 <= res["success_rate"] <= 1.0 and len(res["ci95"]) == 2
    with pytest.raises(ConfigError, match="fine-tuned on task 'panda_peg_insertion'"):
        evaluate_finetuned(killed, "panda_pick_cube", 8, n_envs=8)


@pytest.mark.slow  # make test-all: the Preemption handler is shared with (and tested in) supervised training
def test_sigterm_saves_and_exits_cleanly(bases, tmp_path):
    w = tmp_path / "term"
    proc = start(bases[0], w, 10_000)
    wait_for_checkpoint(w, proc)
    proc.send_signal(signal.SIGTERM)
    out, _ = proc.communicate(timeout=300)
    assert proc.returncode == 0, out
    assert "preempted: saved checkpoint at iteration" in out
    it = int(out.split("preempted: saved checkpoint at iteration ")[1].split()[0])
    assert ckpt_lib.latest_verified_step(w, log=lambda m: None) == it


def test_cli_refuses_unknown_recipe_and_mismatched_task(bases, tmp_path, capsys):
    code = main(["rl", "finetune", "--base", str(bases[0]), "--task", "push_t", "--workdir", str(tmp_path / "x")])
    assert code != 0
    assert "no RL recipe for task 'push_t'" in capsys.readouterr().err
    code = main(["rl", "finetune", "--base", str(bases[0]), "--task", "panda_pick_cube", "--workdir",
                 str(tmp_path / "y"), "--config", str(REPO / "experiments" / "rl_panda_peg_insertion.py")])
    assert code != 0
    assert "recipe for 'panda_peg_insertion', not --task 'panda_pick_cube'" in capsys.readouterr().err
    assert not (tmp_path / "x").exists() and not (tmp_path / "y").exists()


def test_export_runs_base_plus_residual_in_the_runtime(bases, tmp_path, capsys):
    """``jaxrobot export`` of an RL run: the runtime (numpy + ONNX Runtime) composes base + residual action for
    action like the JAX side, sampled (the same noise fed to both) and with the mean; ``jaxrobot eval --bundle``
    drives it closed loop."""
    import jax
    import numpy as np

    from jaxrobot.export.bundle import export_checkpoint
    from jaxrobot.policies.evaluation import _import_runtime, runner_from_meta
    from jaxrobot.rl import ppo
    from jaxrobot.rl.finetuned import ResidualRunner, load_run
    from jaxrobot.sim.evaluate import evaluate

    w = tmp_path / "run"
    assert finetune(bases[0], w, 2) == 0
    bundle = tmp_path / "bundle"
    export_checkpoint(w, bundle, formats=("onnx",), log=lambda s: None)
    meta = json.loads((bundle / "bundle.json").read_text())
    run = load_run(w)
    assert meta["checkpoint"]["kind"] == "rl_finetune" and meta["checkpoint"]["step"] == 2
    assert meta["checkpoint"]["base"]["params_sha256"] == run.base.digest
    assert meta["runtime"]["residual"]["sample"] is True
    assert {"onnx/residual.onnx", "onnx/policy.onnx", "rl_config.json"} <= set(meta["files"])

    runtime = _import_runtime()
    policy, normalizer = run.host_policy()
    apply = jax.jit(lambda obs: run.nets.policy_network.apply(normalizer, policy, obs))
    eps = []
    noise = lambda shape: eps[-1]  # noqa: E731 - the runtime draws the noise the JAX side used
    rt_sampled = runtime.Policy(str(bundle), threads=1, residual_noise=noise)
    rt_mean = runtime.Policy(str(bundle), threads=1, sample_residual=False)
    base_runner = runner_from_meta(run.base.meta, jax.device_get(run.base.params))
    jax_mean = ResidualRunner(runner_from_meta(run.base.meta, jax.device_get(run.base.params)), run.nets,
                              run.run.params, normalizer, run.sp, sample=False)
    gen = np.random.default_rng(0)
    errors = {"sampled": [], "mean": [], "correction": []}

    class Both:
        def reset(self, n_envs=None):
            base_runner.reset(n_envs)
            jax_mean.reset(n_envs)
            rt_sampled.reset()  # the runtime's Policy takes its batch size from the observations
            rt_mean.reset()

        def __call__(self, obs, rng=None):
            state = np.asarray(obs["state"])
            base = np.asarray(base_runner(obs))
            mean, std = apply(ppo.policy_observation(state, base))
            eps.append(gen.standard_normal(np.shape(mean)).astype(np.float32))
            want = np.asarray(ppo.compose_action(run.sp, base, mean + std * eps[-1]))
            raw = {k: np.asarray(v) for k, v in obs.items()}
            errors["sampled"].append(np.abs(rt_sampled(raw) - want).max())
            errors["mean"].append(np.abs(rt_mean(raw) - np.asarray(jax_mean(obs))).max())
            errors["correction"].append(np.abs(want - base).max())
            return want

    evaluate(Both(), run.env, n_envs=4, episodes=4, seed=5)
    scale = float(run.sp.scale.max())
    assert max(errors["correction"]) > 0.1 * scale  # the sampled residual really moves the action
    assert max(errors["sampled"]) < 1e-4 * max(scale, 1.0), max(errors["sampled"])
    assert max(errors["mean"]) < 1e-4 * max(scale, 1.0), max(errors["mean"])

    capsys.readouterr()
    assert main(["eval", "--bundle", str(bundle), "--task", "panda_peg_insertion", "--episodes", "4", "--envs",
                 "4", "--json"]) == 0
    res = json.loads(capsys.readouterr().out.strip().splitlines()[-1])
    assert res["episodes"] == 4 and 0.0 <= res["success_rate"] <= 1.0
