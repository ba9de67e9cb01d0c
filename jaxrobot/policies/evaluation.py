"""Build run-time policies from a checkpoint folder, a live train state or an export bundle; score them in MJX.

Whatever drives the policy (the JAX :class:`PolicyRunner` or the robot-side ``jaxrobot_runtime.Policy``
over ONNX Runtime / LiteRT), the simulated robot is configured from what the policy was trained on: a
policy trained on 64x64 ``front`` images is scored in an env that renders 64x64 ``front`` images
(:func:`env_overrides`).
"""

from __future__ import annotations

import pathlib
from typing import Any

import numpy as np

from jaxrobot.models.registry import build_model
from jaxrobot.policies.runner import PolicyRunner
from jaxrobot.train import checkpoint as ckpt_lib


def runner_from_meta(meta: dict[str, Any], params: Any, seed: int = 0) -> PolicyRunner:
    """A :class:`PolicyRunner` for params of the model described by checkpoint metadata."""
    cfg = ckpt_lib.config_from_meta(meta)
    model = build_model(cfg.model)
    spec = meta["data_spec"]
    horizon = int(spec["horizon"])
    return PolicyRunner(
        model.predict, params, meta["stats"], n_obs_steps=int(spec["n_obs_steps"]), horizon=horizon,
        n_action_steps=int(getattr(cfg.model, "n_action_steps", horizon)),
        temporal_ensemble=getattr(cfg.model, "temporal_ensemble_coeff", None),
        state_dim=spec.get("state_dim"), state_keys=spec.get("state_keys"), seed=seed,
        action_offset=int(getattr(cfg.model, "action_offset", 0)))


def env_overrides(spec: dict[str, Any]) -> dict[str, Any]:
    """Task-config overrides that make the env observe what the data spec says the policy reads.

    Image policies need the env to render the same cameras at the same (square) size; state-only
    policies run on the task's default (state-only) config.
    """
    cams = tuple(spec.get("cameras") or ())
    if not cams:
        return {}
    h, w = (int(x) for x in spec["image_size"])
    if h != w:
        raise ValueError(f"the policy was trained on {h}x{w} images; simulated cameras render square images")
    return {"image_size": h, "cameras": cams}


def task_env(task: str, spec: dict[str, Any], action_dim: int | None, source: str):
    """The env to score a policy in: the task config its demonstrations were generated with when the data spec
    recorded it (``sim_task``: action space, control rate, ...) and the task is the same, else the task's
    default config; cameras and image size from :func:`env_overrides`. Refused (``ConfigError``) when the
    policy's action size is not the env's: e.g. a policy trained on ``joint_pos`` demos (8-D) scored in an
    ``ee_pose`` env (10-D) would otherwise run on actions of the wrong meaning, or fail deep inside the step."""
    import dataclasses

    from jaxrobot import config as config_lib
    from jaxrobot.config import ConfigError
    from jaxrobot.sim import registry

    recorded = spec.get("sim_task") or {}
    base = None
    if recorded.get("task") == task and recorded.get("config"):
        try:
            base = config_lib.from_dict(recorded["config"])
        except (ConfigError, TypeError, KeyError) as e:
            raise ConfigError(f"{source}: the task config recorded with its demonstrations does not load "
                              f"({e}); was it made by another jaxrobot version?") from e
        names = {f.name for f in dataclasses.fields(base)}
        if not spec.get("cameras") and "image_size" in names:
            base = dataclasses.replace(base, image_size=0)  # a state policy: render nothing
    env = registry.load(task, base, overrides=env_overrides(spec))
    if action_dim is not None and int(action_dim) != env.action_size:
        space = getattr(env.config, "action_space", None)
        raise ConfigError(
            f"{source} predicts {int(action_dim)}-D actions but task {task!r}"
            + (f" (action_space {space!r})" if space else "") + f" takes {env.action_size}-D actions: evaluate it "
            f"on the task (and action space) its demonstrations came from")
    return env


def load_policy(workdir: str | pathlib.Path, step: int | None = None, use_ema: bool = True,
                seed: int = 0) -> tuple[PolicyRunner, dict[str, Any]]:
    """The policy saved in ``workdir`` (EMA params when the run kept them)."""
    step, meta = ckpt_lib.read_meta(workdir, step)
    _, state = ckpt_lib.restore_arrays(workdir, step, item="state")
    params = state[ckpt_lib.params_key(state, use_ema)]
    meta = dict(meta, step=step)
    return runner_from_meta(meta, params, seed), meta


def evaluate_checkpoint(workdir, task: str, episodes: int, *, n_envs: int = 64, seed: int = 0,
                        step: int | None = None, videos: int = 0, video_dir=None,
                        video_format: str | None = None, video_pick: str = "first") -> dict[str, Any]:
    from jaxrobot.sim.evaluate import evaluate

    runner, meta = load_policy(workdir, step, seed=seed)
    env = task_env(task, meta["data_spec"], meta["data_spec"].get("action_dim"),
                   f"the policy in {workdir} (step {meta['step']})")
    result = evaluate(runner, env, n_envs=min(n_envs, episodes), episodes=episodes, seed=seed, videos=videos,
                      video_dir=video_dir, video_format=video_format, video_pick=video_pick)
    result["step"] = meta["step"]
    return result


def make_evaluator(cfg):
    """For ``train.eval_every``: a function (state, step, meta) -> scalars logged with the metrics."""
    tcfg = cfg.train

    def evaluator(state, step: int, meta: dict[str, Any]) -> dict[str, float]:
        import jax

        from jaxrobot.sim.evaluate import eval_scalars, evaluate

        params = state.ema_params if state.ema_params is not None else state.params
        params = jax.tree.map(np.asarray, jax.device_get(params))
        runner = runner_from_meta(meta, params, seed=tcfg.seed)
        n = tcfg.eval_episodes
        env = task_env(tcfg.eval_task, meta["data_spec"], meta["data_spec"].get("action_dim"),
                       f"config field 'train.eval_task' ({tcfg.eval_task!r}): the policy")
        return eval_scalars(evaluate(runner, env, n_envs=min(64, n), episodes=n, seed=tcfg.seed + step))

    return evaluator


class RuntimePolicy:
    """``jaxrobot_runtime.Policy`` (numpy + ONNX Runtime / LiteRT) behind ``sim.evaluate``'s policy protocol.

    The env hands over device arrays; the runtime takes numpy, exactly as a robot's driver would give it.
    """

    def __init__(self, policy: Any):
        self.policy = policy

    def reset(self, n_envs: int | None = None) -> None:
        self.policy.reset()

    def __call__(self, obs: dict[str, Any], rng: Any = None) -> np.ndarray:
        return self.policy({k: np.asarray(v) for k, v in obs.items()})


def evaluate_bundle(bundle, task: str, episodes: int, *, backend: str = "onnx", precision: str = "fp32",
                    n_envs: int = 64, seed: int = 0, threads: int | None = None) -> dict[str, Any]:
    """Score an export bundle closed loop in MJX through the robot-side runtime (no JAX in the policy).

    Uses the bundle's own spec for the env's cameras, so the result is comparable with
    :func:`evaluate_checkpoint` on the checkpoint the bundle came from (same seeds, same scenes).
    """
    from jaxrobot.config import ConfigError
    from jaxrobot.sim.evaluate import evaluate

    runtime = _import_runtime()
    try:
        policy = runtime.Policy(str(bundle), backend=backend, precision=precision, threads=threads, seed=seed)
    except runtime.BundleError as e:
        raise ConfigError(str(e) if str(bundle) in str(e) else f"bundle {bundle}: {e}") from e
    rt = policy.bundle.runtime
    spec = {"cameras": rt.get("cameras", []), "image_size": _bundle_image_size(policy.bundle),
            "sim_task": policy.bundle.meta.get("sim_task")}
    env = task_env(task, spec, (policy.bundle.meta.get("action") or {}).get("dim"), f"bundle {bundle}")
    result = evaluate(RuntimePolicy(policy), env, n_envs=min(n_envs, episodes), episodes=episodes, seed=seed)
    result.update(backend=backend, precision=precision, plans=policy.plans)
    return result


def _bundle_image_size(bundle) -> list[int]:
    first = "policy" if "policy" in bundle.functions else "encode"
    for s in bundle.functions[first]["inputs"]:
        if s["name"].startswith("image_"):
            return [int(s["shape"][-3]), int(s["shape"][-2])]
    return []


def _import_runtime():
    """``jaxrobot_runtime``: installed (``pip install ./export/runtime``) or straight from the source tree."""
    try:
        import jaxrobot_runtime
    except ImportError:
        import sys

        sys.path.insert(0, str(pathlib.Path(__file__).resolve().parents[2] / "export" / "runtime"))
        import jaxrobot_runtime
    return jaxrobot_runtime
