"""ACT on MJX push_t demos from the 64x64 ``top`` camera plus the pusher position (block pose from the image).

    jaxrobot sim gen-demos --task push_t --episodes 200 --image-size 64 --out /tmp/demos_pusht_img
    jaxrobot train --config experiments/act_push_t_image.py --workdir /tmp/act_pusht_img \\
        --set data.path=/tmp/demos_pusht_img/jaxrobot_sim_push_t/1.0.0

As ``act_push_t_state.py`` with ``state[0:2]`` (PushT's ``agent_pos``) and the camera, the vision settings of
``act_pick_cube_image.py``.
"""

from jaxrobot.data.rlds_source import RldsDataConfig
from jaxrobot.models.act import small_act_config
from jaxrobot.train.config import ExperimentConfig, OptimizerConfig, TrainConfig

CHUNK = 10


def get_config() -> ExperimentConfig:
    return ExperimentConfig(
        name="act_push_t_image",
        model=small_act_config(action_dim=2, chunk_size=CHUNK, n_action_steps=1, temporal_ensemble_coeff=0.01,
                               dim_model=128, n_heads=4, dim_feedforward=512, latent_dim=16, backbone_width=16,
                               backbone_norm="group_norm", image_norm="unit"),
        data=RldsDataConfig(path="out/demos_pusht_img/jaxrobot_sim_push_t/1.0.0", n_obs_steps=1, horizon=CHUNK,
                            normalization="mean_std", state_keys=("steps/observation/state[0:2]",),
                            cameras=("top",), memory_mb=1024),
        optimizer=OptimizerConfig(lr=3e-4, warmup_steps=200, weight_decay=1e-4, grad_clip=10.0),
        train=TrainConfig(steps=6000, batch_size=32, log_every=200, checkpoint_every=1000, eval_every=2000,
                          eval_task="push_t", eval_episodes=50),
    )
