"""Diffusion Policy on the built-in synthetic dataset; variants ``small`` (default: the smoke run) and ``full``
(LeRobot's PushT defaults on PushT-shaped data: the parity config).

    jaxrobot train --config experiments/diffusion_synthetic.py:small --workdir /tmp/dp_small
    jaxrobot model params --config experiments/diffusion_synthetic.py:full     # prints params=262709026
    jaxrobot train --config experiments/diffusion_synthetic.py:full --workdir /tmp/dp --set train.steps=3

Expect: ``small`` runs 400 steps of batch 32 in about 70 s on a 2-core CPU (half of it compiling); the
noise-prediction MSE falls from ~1.2 at init (~1 = predicting zero noise) to ~0.17. ``full`` is for a GPU/TPU
(200k steps of batch 64); on this CPU a step takes tens of seconds. ``experiments/diffusion_pusht_defaults.py``
is ``full`` under its fixed name.

- ``small``: ``small_diffusion_config`` (camera + state), horizon 8, random 56 crops of 64.
- ``full``: the parameter count equals LeRobot's Diffusion Policy with a 2-D state, a 2-D action and one 96x96
  camera cropped to 84x84: UNet 251,511,938 (down_dims 512/1024/2048) + RGB encoder 11,197,088
  (``--set model.down_dims=256,512,1024`` gives 76,070,434). Data: the synthetic source shaped like PushT (2-D
  state/action, 96x96 images, horizon 16, 2 observation frames). Optimiser: AdamW lr 1e-4, betas
  (0.95, 0.999), weight decay 1e-6, cosine with 500 warm-up steps, grad clip 10; EMA with power 0.75
  (max decay 0.9999), as diffusion_policy's EMAModel.
"""

from jaxrobot.config import ConfigError
from jaxrobot.data.sources.synthetic import SyntheticDataConfig
from jaxrobot.models.diffusion import DiffusionConfig, small_diffusion_config
from jaxrobot.train.config import ExperimentConfig, OptimizerConfig, TrainConfig

VARIANTS = ("small", "full")


def get_config(arg: str | None = None) -> ExperimentConfig:
    variant = arg or VARIANTS[0]
    if variant == "small":
        return ExperimentConfig(
            name="diffusion_synthetic_small",
            model=small_diffusion_config(action_dim=4, horizon=8, n_obs_steps=2, n_action_steps=4,
                                         crop_shape=(56, 56)),
            data=SyntheticDataConfig(num_episodes=64, episode_length=50, state_dim=8, action_dim=4, n_obs_steps=2,
                                     horizon=8, image_size=64),
            optimizer=OptimizerConfig(lr=1e-3, b1=0.95, b2=0.999, warmup_steps=50, weight_decay=1e-6,
                                      grad_clip=10.0),
            train=TrainConfig(steps=400, batch_size=32, log_every=50, checkpoint_every=400, seed=0, ema_decay=0.999,
                              ema_power=0.75),
        )
    if variant == "full":
        return ExperimentConfig(
            name="diffusion_pusht_defaults",
            model=DiffusionConfig(action_dim=2, horizon=16, n_obs_steps=2, n_action_steps=8),
            data=SyntheticDataConfig(num_episodes=200, episode_length=150, state_dim=2, action_dim=2,
                                     n_obs_steps=2, horizon=16, image_size=96),
            optimizer=OptimizerConfig(lr=1e-4, b1=0.95, b2=0.999, eps=1e-8, weight_decay=1e-6, warmup_steps=500,
                                      schedule="cosine", grad_clip=10.0),
            train=TrainConfig(steps=200_000, batch_size=64, log_every=100, checkpoint_every=10_000,
                              ema_decay=0.9999, ema_power=0.75, cpu_fusion_emitters=True),
            description="Diffusion Policy, LeRobot 0.4.4 PushT defaults, PushT-shaped synthetic data",
        )
    raise ConfigError(f"diffusion_synthetic.py: unknown variant {arg!r}; known: {', '.join(VARIANTS)}")
