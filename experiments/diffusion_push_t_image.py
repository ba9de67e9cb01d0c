"""Diffusion Policy on MJX push_t demos from the 64x64 ``top`` camera plus the pusher position: PushT as in the paper.

    jaxrobot sim gen-demos --task push_t --episodes 200 --image-size 64 --out /tmp/demos_pusht_img
    jaxrobot train --config experiments/diffusion_push_t_image.py --workdir /tmp/dp_pusht_img \\
        --set data.path=/tmp/demos_pusht_img/jaxrobot_sim_push_t/1.0.0

As ``diffusion_push_t_state.py`` with ``state[0:2]`` (``agent_pos``) and the camera, the vision settings of
``diffusion_pick_cube_image.py`` (random 56 crops of 64, the reference's 84 of 96 scaled down).
"""

from jaxrobot.data.rlds_source import RldsDataConfig
from jaxrobot.models.diffusion import small_diffusion_config
from jaxrobot.train.config import ExperimentConfig, OptimizerConfig, TrainConfig

HORIZON, N_OBS = 16, 2


def get_config() -> ExperimentConfig:
    return ExperimentConfig(
        name="diffusion_push_t_image",
        model=small_diffusion_config(action_dim=2, horizon=HORIZON, n_obs_steps=N_OBS, n_action_steps=8,
                                     down_dims=(64, 128, 256), diffusion_step_embed_dim=64, backbone_width=16,
                                     spatial_softmax_num_keypoints=16, crop_shape=(56, 56), image_norm="unit"),
        data=RldsDataConfig(path="out/demos_pusht_img/jaxrobot_sim_push_t/1.0.0", n_obs_steps=N_OBS,
                            horizon=HORIZON, normalization="min_max", state_keys=("steps/observation/state[0:2]",),
                            cameras=("top",), memory_mb=1024),
        optimizer=OptimizerConfig(lr=1e-3, b1=0.95, b2=0.999, warmup_steps=500, weight_decay=1e-6,
                                  grad_clip=10.0),
        train=TrainConfig(steps=8000, batch_size=32, log_every=200, checkpoint_every=1000, eval_every=2000,
                          eval_task="push_t", eval_episodes=50, ema_decay=0.9999, ema_power=0.75),
    )
