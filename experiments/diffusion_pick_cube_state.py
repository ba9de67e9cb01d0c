"""Diffusion Policy on MJX pick_cube demos, state observations: CPU-sized, scored closed loop while it trains.

    jaxrobot sim gen-demos --task pick_cube --episodes 200 --out /tmp/demos
    jaxrobot train --config experiments/diffusion_pick_cube_state.py --workdir /tmp/dp_pick_state \\
        --set data.path=/tmp/demos/jaxrobot_sim_pick_cube/1.0.0
    jaxrobot eval --workdir /tmp/dp_pick_state --task pick_cube --episodes 100

Diffusion Policy's recipe (DDPM 100 steps, squaredcos_cap_v2, epsilon prediction, DDIM 10 steps at run time,
EMA with power 0.75, AdamW betas (0.95, 0.999), MIN_MAX normalisation, horizon 16, 2 observation frames,
8 actions executed per plan: LeRobot 0.4.4's PushT defaults) with a narrower UNet (64, 128, 256) so it
trains on a 2-core CPU. lr 1e-3 is the small-model rate (the reference 1e-4 is for 263 M parameters).
Success on 50 episodes is logged every 1,000 steps (``eval/success_rate`` in metrics.jsonl); measured
14% at step 1,000 and 86% at step 2,000 (bench/RESULTS.md).
"""

from jaxrobot.data.rlds_source import RldsDataConfig
from jaxrobot.models.diffusion import small_diffusion_config
from jaxrobot.train.config import ExperimentConfig, OptimizerConfig, TrainConfig

HORIZON, N_OBS = 16, 2


def get_config() -> ExperimentConfig:
    return ExperimentConfig(
        name="diffusion_pick_cube_state",
        model=small_diffusion_config(action_dim=5, horizon=HORIZON, n_obs_steps=N_OBS, n_action_steps=8,
                                     down_dims=(64, 128, 256), diffusion_step_embed_dim=64),
        data=RldsDataConfig(path="out/demo/demos/jaxrobot_sim_pick_cube/1.0.0", n_obs_steps=N_OBS,
                            horizon=HORIZON, normalization="min_max"),
        optimizer=OptimizerConfig(lr=1e-3, b1=0.95, b2=0.999, warmup_steps=500, weight_decay=1e-6,
                                  grad_clip=10.0),
        train=TrainConfig(steps=3000, batch_size=64, log_every=200, checkpoint_every=1000, eval_every=1000,
                          eval_task="pick_cube", eval_episodes=50, ema_decay=0.9999, ema_power=0.75),
    )
