"""Diffusion Policy at the reference defaults for PushT (LeRobot 0.4.4 / real-stanford/diffusion_policy).

    jaxrobot model params --config experiments/diffusion_pusht_defaults.py     # prints params=262709026
    jaxrobot train --config experiments/diffusion_pusht_defaults.py --workdir /tmp/dp --set train.steps=3

The parameter count equals LeRobot's Diffusion Policy with a 2-D state, a 2-D action and one 96x96
camera cropped to 84x84: UNet 251,511,938 (down_dims 512/1024/2048) + RGB encoder 11,197,088
(``--set model.down_dims=256,512,1024`` gives 76,070,434). Full size is for a GPU/TPU (200k steps of
batch 64); on this CPU a step takes tens of seconds. Data: the synthetic source shaped like PushT (2-D
state/action, 96x96 images, horizon 16, 2 observation frames). Optimiser: AdamW lr 1e-4, betas
(0.95, 0.999), weight decay 1e-6, cosine with 500 warm-up steps, grad clip 10; EMA with power 0.75
(max decay 0.9999), as diffusion_policy's EMAModel.
"""

from jaxrobot.data.synthetic import SyntheticDataConfig
from jaxrobot.models.diffusion import DiffusionConfig
from jaxrobot.train.config import ExperimentConfig, OptimizerConfig, TrainConfig


def get_config() -> ExperimentConfig:
    return ExperimentConfig(
        name="diffusion_pusht_defaults",
        model=DiffusionConfig(action_dim=2, horizon=16, n_obs_steps=2, n_action_steps=8),
        data=SyntheticDataConfig(
            num_episodes=200,
            episode_length=150,
            state_dim=2,
            action_dim=2,
            n_obs_steps=2,
            horizon=16,
            image_size=96,
        ),
        optimizer=OptimizerConfig(
            lr=1e-4,
            b1=0.95,
            b2=0.999,
            eps=1e-8,
            weight_decay=1e-6,
            warmup_steps=500,
            schedule="cosine",
            grad_clip=10.0,
        ),
        train=TrainConfig(
            steps=200_000,
            batch_size=64,
            log_every=100,
            checkpoint_every=10_000,
            ema_decay=0.9999,
            ema_power=0.75,
        ),
        description="Diffusion Policy, LeRobot 0.4.4 PushT defaults, PushT-shaped synthetic data",
    )
