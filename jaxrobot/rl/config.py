"""The config of an RL fine-tuning run: PPO's hyper-parameters, the residual, the reward, the loop.

One typed, validated :class:`RLConfig` per run (``experiments/rl_*.py``, ``jaxrobot rl finetune --set ...``);
serialised into every checkpoint as the supervised configs are.
"""

from __future__ import annotations

import dataclasses
from typing import ClassVar, Literal

from jaxrobot.config import Config, require
from jaxrobot.train.config import MeshConfig


@dataclasses.dataclass(frozen=True)
class PPOConfig(Config):
    """Proximal Policy Optimisation (Schulman et al. 2017) over batched MJX episodes.

    Fields:
      n_envs: environments stepped together; one iteration collects one episode from each
        (``n_envs x episode_steps`` transitions; steps after an episode's end are masked out).
      epochs: passes of minibatch SGD over each iteration's transitions.
      minibatches: minibatches per epoch (the transitions are shuffled, then split evenly).
      lr: Adam learning rate (constant); grad_clip: global-norm clip.
      discount, gae_lambda: GAE's gamma and lambda (Schulman et al. 2016).
      clip_epsilon: the ratio clip of the surrogate objective.
      value_coef: weight of the value loss; entropy_coef: weight of the entropy bonus.
      normalize_advantage: advantages standardised per minibatch over its valid transitions.
      hidden: widths of the policy and of the value MLP (separate networks, swish, as brax's).
      init_noise_std: the Gaussian's initial std, in units of the action's scale (``residual_scale``).
    """

    kind: ClassVar[str] = "ppo"
    n_envs: int = 256
    epochs: int = 4
    minibatches: int = 8
    lr: float = 3e-4
    grad_clip: float = 1.0
    discount: float = 0.99
    gae_lambda: float = 0.95
    clip_epsilon: float = 0.2
    value_coef: float = 0.5
    entropy_coef: float = 0.0
    normalize_advantage: bool = True
    hidden: tuple[int, ...] = (256, 256)
    init_noise_std: float = 0.3

    def check(self) -> None:
        require(self.n_envs >= 1, "n_envs", f"must be >= 1, got {self.n_envs}")
        require(self.epochs >= 1, "epochs", f"must be >= 1, got {self.epochs}")
        require(self.minibatches >= 1, "minibatches", f"must be >= 1, got {self.minibatches}")
        require(self.lr > 0, "lr", f"must be > 0, got {self.lr}")
        require(self.grad_clip >= 0, "grad_clip", f"must be >= 0, got {self.grad_clip}")
        require(0 < self.discount <= 1, "discount", f"must be in (0, 1], got {self.discount}")
        require(0 <= self.gae_lambda <= 1, "gae_lambda", f"must be in [0, 1], got {self.gae_lambda}")
        require(self.clip_epsilon > 0, "clip_epsilon", f"must be > 0, got {self.clip_epsilon}")
        require(self.value_coef >= 0 and self.entropy_coef >= 0, "value_coef",
                "value_coef and entropy_coef must be >= 0")
        require(len(self.hidden) >= 1 and all(h >= 1 for h in self.hidden), "hidden",
                f"must be one or more widths >= 1, got {self.hidden}")
        require(self.init_noise_std > 0, "init_noise_std", f"must be > 0, got {self.init_noise_std}")


@dataclasses.dataclass(frozen=True)
class RewardConfig(Config):
    """The reward PPO maximises per step: ``success x [succeeded] + shaping x (discount x phi(s') - phi(s))
    - residual_penalty x mean(r^2)``.

    - ``success`` is paid once, on the step the task succeeds (the episode ends there): the sparse objective.
    - ``phi`` is the task's own dense reward read as a potential (each task documents it; ``panda_peg_insertion``'s
      is ``align + depth + success`` in [0, 3]). Potential-based shaping (Ng, Harada and Russell 1999) leaves the
      optimal policy unchanged; paying the dense reward itself every step would not: with success ending the
      episode, hovering aligned over the hole for the rest of it earns more than inserting.
    - ``r`` is the residual action in its own units ([-1, 1] per dimension), so the penalty keeps corrections
      small where the base policy is already right.
    """

    kind: ClassVar[str] = "rl_reward"
    shaping: float = 1.0
    success: float = 10.0
    residual_penalty: float = 0.01

    def check(self) -> None:
        require(self.shaping >= 0 and self.success >= 0 and self.residual_penalty >= 0, "shaping",
                "shaping, success and residual_penalty must be >= 0")


@dataclasses.dataclass(frozen=True)
class RLConfig(Config):
    """An RL fine-tuning run.

    Fields:
      name: the run's name (logs, checkpoint metadata).
      task: the MJX task (``jaxrobot sim tasks``); the env is configured as the base policy's demonstrations
        were (action space, control rate), as ``jaxrobot eval`` does.
      mode: ``"residual"``: PPO trains a per-step correction added to a frozen base policy's actions (ResiP,
        Ankile et al. 2024, arXiv 2407.16677); ``"scratch"``: plain PPO, no base policy (the baseline), its
        action mapped onto the whole action range (the ``--base`` checkpoint then only configures the env: the task
        config its demonstrations were made with).
      residual_scale: the correction's range as a fraction of each action dimension's half range
        (``(high - low) / 2``); the residual network's output in [-1, 1] is scaled by it. Ignored by ``scratch``.
      env_steps: environment (control) steps to train for, rounded up to whole iterations.
      seed: seeds the networks, the exploration noise and the training episodes (drawn from their own key stream,
        so evaluation seeds never coincide with them).
      log_every / checkpoint_every / eval_every: in iterations (one iteration = one episode per env);
        eval_every 0 disables the periodic closed-loop evaluation.
      eval_episodes: held-out seeded episodes per periodic evaluation (seed ``eval_seed``).
      sample_actions: the fine-tuned policy at run time (evaluation) samples its residual from the trained Gaussian
        (what PPO optimised; reproducible per evaluation seed); False runs the Gaussian's mean.
      keep_checkpoints: recent checkpoints kept.
    """

    kind: ClassVar[str] = "rl"
    name: str
    task: str
    mode: Literal["residual", "scratch"] = "residual"
    residual_scale: float = 0.02
    env_steps: int = 10_000_000
    ppo: PPOConfig = PPOConfig()
    reward: RewardConfig = RewardConfig()
    mesh: MeshConfig = MeshConfig(fsdp=1)
    seed: int = 0
    log_every: int = 1
    checkpoint_every: int = 10
    eval_every: int = 10
    eval_episodes: int = 100
    eval_seed: int = 1_000_003
    sample_actions: bool = True
    keep_checkpoints: int = 3
    description: str = ""

    def check(self) -> None:
        require(bool(self.name), "name", "must not be empty")
        require(bool(self.task), "task", "must not be empty")
        require(0 < self.residual_scale <= 1, "residual_scale", f"must be in (0, 1], got {self.residual_scale}")
        require(self.env_steps >= 1, "env_steps", f"must be >= 1, got {self.env_steps}")
        require(self.log_every >= 1, "log_every", f"must be >= 1, got {self.log_every}")
        require(self.checkpoint_every >= 1, "checkpoint_every", f"must be >= 1, got {self.checkpoint_every}")
        require(self.eval_every >= 0, "eval_every", f"must be >= 0, got {self.eval_every}")
        require(self.eval_episodes >= 1, "eval_episodes", f"must be >= 1, got {self.eval_episodes}")
        require(self.keep_checkpoints >= 1, "keep_checkpoints", "must be >= 1")
        require(self.mesh.fsdp == 1, "mesh.fsdp", "RL keeps its small networks replicated: use fsdp=1 "
                "(the environments are split over the data axis)")
