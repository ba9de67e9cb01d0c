"""Diffusion Policy on MJX push_t demos, state observations (pusher x, y + block pose), CPU-sized.

    jaxrobot sim gen-demos --task push_t --episodes 200 --out /tmp/demos_pusht
    jaxrobot train --config experiments/diffusion_push_t_state.py --workdir /tmp/dp_pusht \\
        --set data.path=/tmp/demos_pusht/jaxrobot_sim_push_t/1.0.0
    jaxrobot eval --workdir /tmp/dp_pusht --task push_t --episodes 100

The PushT recipe of Diffusion Policy (horizon 16, 2 observation frames, 8 actions per plan, DDPM 100 /
DDIM 10, EMA power 0.75, MIN_MAX) with the narrower UNet (64, 128, 256) of the CPU experiments.
"""

from jaxrobot.data.rlds_source import RldsDataConfig
from jaxrobot.models.diffusion import small_diffusion_config
from jaxrobot.train.config import ExperimentConfig, OptimizerConfig, TrainConfig

HORIZON, N_OBS = 16, 2


def get_config() -> ExperimentConfig:
    return ExperimentConfig(
        name="diffusion_push_t_state",
        model=small_diffusion_config(action_dim=2, horizon=HORIZON, n_obs_steps=N_OBS, n_action_steps=8,
                                     down_dims=(64, 128, 256), diffusion_step_embed_dim=64),
        data=RldsDataConfig(path="out/demos_pusht/jaxrobot_sim_push_t/1.0.0", n_obs_steps=N_OBS,
                            horizon=HORIZON, normalization="min_max"),
        optimizer=OptimizerConfig(lr=1e-3, b1=0.95, b2=0.999, warmup_steps=500, weight_decay=1e-6,
                                  grad_clip=10.0),
        train=TrainConfig(steps=6000, batch_size=64, log_every=200, checkpoint_every=1000, eval_every=2000,
                          eval_task="push_t", eval_episodes=50, ema_decay=0.9999, ema_power=0.75),
    )
