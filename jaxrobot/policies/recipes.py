"""The ACT and Diffusion Policy recipes on simulated demonstrations, written once for every sim task.

An experiment file per task (``experiments/act_pick_cube.py``, ``experiments/diffusion_push_t.py``, ...) names
its task's facts in a :class:`SimDemos` and calls :func:`act_recipe` or :func:`diffusion_recipe` with a variant
and the few numbers that differ per task (steps, image settings), so the recipe itself is not copied per task.

Variants: ``state`` (proprioception and object state, CPU widths), ``image`` (one camera plus proprioception,
CPU widths, GroupNorm backbone from scratch) and ``full`` (LeRobot 0.4.4's defaults, for a GPU/TPU).
"""

from __future__ import annotations

import dataclasses
from typing import Any

from jaxrobot.config import ConfigError
from jaxrobot.data.sources.rlds import RldsDataConfig
from jaxrobot.models.act import ACTConfig, small_act_config
from jaxrobot.models.diffusion import DiffusionConfig, small_diffusion_config
from jaxrobot.train.config import ExperimentConfig, OptimizerConfig, TrainConfig

VARIANTS = ("state", "image", "full")


@dataclasses.dataclass(frozen=True)
class SimDemos:
    """What a policy recipe needs to know about one sim task's demonstrations.

    ``proprio`` is the slice of ``state`` the image variants keep (the robot's own state: where the object is
    must come from the camera); ``camera`` names the one camera or the cameras they see (one shared backbone);
    the paths are where ``jaxrobot sim gen-demos`` writes the state-only, 64x64 and 96x96 demonstrations in the
    README's commands.
    """

    task: str
    action_dim: int
    proprio: str
    camera: str | tuple[str, ...]
    state_path: str
    image_path: str
    full_path: str

    def data(self, variant: str, **kw: Any) -> RldsDataConfig:
        if variant == "state":  # cameras=None: no camera is decoded even if the dataset has one
            return RldsDataConfig(path=self.state_path, cameras=None, **kw)
        cameras = (self.camera,) if isinstance(self.camera, str) else tuple(self.camera)
        camera = dict(state_keys=(f"steps/observation/{self.proprio}",), cameras=cameras)
        if variant == "image":
            return RldsDataConfig(path=self.image_path, **kw, **camera, memory_mb=1024)
        return RldsDataConfig(path=self.full_path, **kw, **camera, memory_mb=4096, workers=8)


def _check_variant(variant: str, recipe: str) -> None:
    if variant not in VARIANTS:
        raise ConfigError(f"{recipe}: unknown variant {variant!r}; known: {', '.join(VARIANTS)}")


def _train(demos: SimDemos, variant: str, steps: int, eval_every: int, batch_size: int, **kw: Any) -> TrainConfig:
    if variant == "full":
        return TrainConfig(steps=steps, batch_size=batch_size, log_every=100, checkpoint_every=10_000,
                           eval_every=10_000, eval_task=demos.task, eval_episodes=100, **kw)
    return TrainConfig(steps=steps, batch_size=batch_size, log_every=200, checkpoint_every=1000,
                       eval_every=eval_every, eval_task=demos.task, eval_episodes=50, **kw)


# ACT: temporal ensembling with re-planning every step (the original ACT's m = 0.01); CPU widths for the small
# variants; LeRobot 0.4.4's ACT defaults (ACTConfig's own defaults) for ``full``.
ACT_SMALL = dict(dim_model=128, n_heads=4, dim_feedforward=512, latent_dim=16)
ACT_SMALL_VISION = dict(backbone_width=16, backbone_norm="group_norm", image_norm="unit")


def act_recipe(demos: SimDemos, variant: str, *, chunk: int, steps: dict[str, int],
               eval_every: dict[str, int]) -> ExperimentConfig:
    """ACT on ``demos``: ``steps``/``eval_every`` give the ``state`` and ``image`` training lengths."""
    _check_variant(variant, f"act_{demos.task}")
    policy = dict(action_dim=demos.action_dim, chunk_size=chunk, n_action_steps=1, temporal_ensemble_coeff=0.01)
    data = demos.data(variant, n_obs_steps=1, horizon=chunk, normalization="mean_std")
    name = f"act_{demos.task}_{variant}"
    if variant == "full":
        return ExperimentConfig(
            name=name, model=ACTConfig(**policy), data=data,
            optimizer=OptimizerConfig(lr=1e-5, weight_decay=1e-4, grad_clip=10.0, schedule="constant",
                                      module_lrs=(("backbone", 1e-5),)),
            train=_train(demos, variant, 100_000, 0, batch_size=8),
            description=f"GPU/TPU: ACT at LeRobot 0.4.4 defaults on MJX {demos.task} images")
    vision = ACT_SMALL_VISION if variant == "image" else {}
    return ExperimentConfig(
        name=name, model=small_act_config(**policy, **ACT_SMALL, **vision), data=data,
        optimizer=OptimizerConfig(lr=3e-4 if variant == "image" else 1e-4, warmup_steps=200, weight_decay=1e-4,
                                  grad_clip=10.0),
        train=_train(demos, variant, steps[variant], eval_every[variant], batch_size=32 if vision else 64))


# Diffusion Policy with a camera compiles its train step with XLA:CPU's newer fusion emitters (panda_pick_cube
# image variant: 2-9% faster a step; for state-only steps the sign varied: bench/RESULTS.md "Performance").
# Diffusion Policy: LeRobot 0.4.4's PushT settings (horizon 16, 2 observation frames, 8 actions per plan, AdamW
# betas (0.95, 0.999), wd 1e-6, 500 warm-up steps, EMA power 0.75, MIN_MAX); a narrower UNet on the CPU.
DP_HORIZON, DP_OBS_STEPS = 16, 2
DP_ADAMW = dict(b1=0.95, b2=0.999, warmup_steps=500, weight_decay=1e-6, grad_clip=10.0)
DP_EMA = dict(ema_decay=0.9999, ema_power=0.75)


def diffusion_recipe(demos: SimDemos, variant: str, *, steps: dict[str, int], eval_every: dict[str, int],
                     image_model: dict[str, Any]) -> ExperimentConfig:
    """Diffusion Policy on ``demos``; ``image_model`` holds the image variant's vision settings (crop, keypoints,
    output stride), which depend on how large the task's objects are in the image."""
    _check_variant(variant, f"diffusion_{demos.task}")
    data = demos.data(variant, n_obs_steps=DP_OBS_STEPS, horizon=DP_HORIZON, normalization="min_max")
    name = f"diffusion_{demos.task}_{variant}"
    if variant == "full":
        return ExperimentConfig(
            name=name, model=DiffusionConfig(action_dim=demos.action_dim), data=data,
            optimizer=OptimizerConfig(lr=1e-4, **DP_ADAMW),
            train=_train(demos, variant, 200_000, 0, batch_size=64, cpu_fusion_emitters=True, **DP_EMA),
            description=f"GPU/TPU: Diffusion Policy at LeRobot 0.4.4 defaults on MJX {demos.task} images")
    small = dict(action_dim=demos.action_dim, horizon=DP_HORIZON, n_obs_steps=DP_OBS_STEPS, n_action_steps=8,
                 down_dims=(64, 128, 256), diffusion_step_embed_dim=64)
    vision = dict(backbone_width=16, image_norm="unit", **image_model) if variant == "image" else {}
    return ExperimentConfig(
        name=name, model=small_diffusion_config(**small, **vision), data=data,
        optimizer=OptimizerConfig(lr=1e-3, **DP_ADAMW),
        train=_train(demos, variant, steps[variant], eval_every[variant], batch_size=32 if vision else 64,
                     cpu_fusion_emitters=bool(vision), **DP_EMA))
