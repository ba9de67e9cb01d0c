"""A fine-tuned policy at run time: the base policy's action plus the residual network's mean correction.

Closed-loop evaluation (``jaxrobot eval --workdir RL_RUN``, the loop's periodic evaluation) drives it through
:func:`jaxrobot.sim.evaluate.evaluate` exactly like a supervised policy: the base runs in its own
:class:`~jaxrobot.policies.runner.PolicyRunner` (temporal ensembling or chunk queue, as when it was evaluated
alone). The residual is *sampled* from the trained Gaussian by default (a key stream seeded by the evaluation's
seed, so an evaluation is reproducible): PPO optimises the stochastic policy, and on ``panda_peg_insertion`` the
fine-tuned policy relies on its noise (a wiggle that slides the peg in: 69% sampled vs 41% with the mean at the
same checkpoint, bench/RESULTS.md "RL fine-tuning"). ``RLConfig.sample_actions=False`` runs the mean instead.
"""

from __future__ import annotations

import dataclasses
import json
import pathlib
from typing import Any

import jax
import numpy as np

from jaxrobot import config as config_lib
from jaxrobot.config import ConfigError
from jaxrobot.policies.evaluation import runner_from_meta, task_env
from jaxrobot.policies.runner import PolicyRunner
from jaxrobot.rl import brax_parts, ppo
from jaxrobot.rl.base_policy import BasePolicy, load_base_policy
from jaxrobot.rl.config import RLConfig
from jaxrobot.train import checkpoint as ckpt_lib


def is_rl_run(workdir: str | pathlib.Path) -> bool:
    """True for the workdir of ``jaxrobot rl finetune`` (its ``config.json`` is an RL config)."""
    path = pathlib.Path(workdir) / "config.json"
    try:
        return json.loads(path.read_text()).get("kind") == "rl"
    except (OSError, ValueError):
        return False


class ResidualRunner:
    """``policy_fn(obs, rng) -> actions`` for :func:`jaxrobot.sim.evaluate.evaluate`; ``reset`` per round."""

    def __init__(self, base_runner: PolicyRunner | None, nets, params: ppo.PPOParams, normalizer, sp: ppo.Spaces,
                 *, sample: bool = True, seed: int = 0):
        self.base = base_runner
        self.params, self.normalizer, self.sp = params, normalizer, sp
        self.sample = sample
        self.key = jax.random.fold_in(jax.random.PRNGKey(seed), 0x5E5)
        dist = nets.parametric_action_distribution

        def act(params, normalizer, state_obs, base_action, key):
            obs = ppo.policy_observation(state_obs, base_action)
            if sample:
                u = dist.sample_no_postprocessing(nets.policy_network.apply(normalizer, params.policy, obs), key)
            else:
                u = ppo.deterministic_residual(nets, params, normalizer, obs)
            return ppo.compose_action(sp, base_action, u)

        self._act = jax.jit(act)

    def reset(self, n_envs: int | None = None) -> None:
        if self.base is not None:
            self.base.reset(n_envs)

    def __call__(self, obs: dict[str, Any], rng: Any = None) -> np.ndarray:
        base_action = None if self.base is None else self.base(obs)
        self.key, key = jax.random.split(self.key)
        return np.asarray(self._act(self.params, self.normalizer, np.asarray(obs["state"]), base_action, key))


def make_runner(cfg: RLConfig, base: BasePolicy, run: ppo.RunState, sp: ppo.Spaces, nets, seed: int = 0
                ) -> ResidualRunner:
    """The run-time policy of a run state (host copies of its params)."""
    params, normalizer = jax.device_get((run.params, run.normalizer))
    base_runner = None
    if cfg.mode == "residual":
        base_runner = runner_from_meta(base.meta, jax.device_get(base.params), seed=seed)
    return ResidualRunner(base_runner, nets, params, normalizer, sp, sample=cfg.sample_actions, seed=seed)


@dataclasses.dataclass
class FinetunedRun:
    """An RL run's checkpoint with everything needed to run it: its config, the base policy (checked by digest),
    the task env, the action/observation spaces, the networks and the run state (host arrays)."""

    cfg: RLConfig
    meta: dict[str, Any]
    step: int
    base: BasePolicy
    env: Any
    sp: ppo.Spaces
    nets: Any
    run: ppo.RunState

    def host_policy(self):
        """(policy params, observation normaliser) as host arrays: what the residual network runs on."""
        return jax.device_get((self.run.params.policy, self.run.normalizer))


def load_run(workdir: str | pathlib.Path, step: int | None = None) -> FinetunedRun:
    """An RL run's checkpoint; the base policy must still be the one it was trained over."""
    step, meta = ckpt_lib.read_meta(workdir, step)
    cfg = config_lib.validate(config_lib.from_dict(meta["config"]))
    base_ref = meta["base"]
    base = load_base_policy(base_ref["workdir"], base_ref["step"])
    if base.digest != base_ref["digest"]:
        raise ConfigError(f"{workdir}: its base policy {base_ref['workdir']} (step {base_ref['step']}) has changed "
                          f"since fine-tuning (params sha256 {base.digest[:12]}..., trained on "
                          f"{base_ref['digest'][:12]}...)")
    env = task_env(cfg.task, base.meta["data_spec"], base.action_dim, f"the base policy {base_ref['workdir']}")
    sp = ppo.spaces(cfg, env, base if cfg.mode == "residual" else None)
    nets = brax_parts.make_networks(cfg.ppo, sp.obs_size, sp.action_size)
    like = jax.eval_shape(lambda: ppo.init_run_state(cfg, sp, nets, ppo.make_optimizer(cfg)))
    _, run = ckpt_lib.restore_arrays(workdir, step, like=like)
    return FinetunedRun(cfg, dict(meta, step=step), step, base, env, sp, nets, run)


def load_finetuned(workdir: str | pathlib.Path, step: int | None = None, seed: int = 0):
    """(runner, meta, env) of an RL run's checkpoint (see :func:`load_run`)."""
    r = load_run(workdir, step)
    return make_runner(r.cfg, r.base, r.run, r.sp, r.nets, seed), r.meta, r.env


def evaluate_finetuned(workdir, task: str, episodes: int, *, n_envs: int = 64, seed: int = 0,
                       step: int | None = None, **video) -> dict[str, Any]:
    """``jaxrobot eval --workdir`` for an RL run: same seeds, same result keys as for a supervised policy."""
    from jaxrobot.sim.evaluate import evaluate

    runner, meta, env = load_finetuned(workdir, step, seed)
    trained_on = meta["config"]["task"]
    if task != trained_on:
        raise ConfigError(f"{workdir} was fine-tuned on task {trained_on!r}; evaluate it there (got --task {task!r})")
    result = evaluate(runner, env, n_envs=min(n_envs, episodes), episodes=episodes, seed=seed, **video)
    result["step"] = meta["step"]
    return result
