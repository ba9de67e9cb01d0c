"""ACT on MJX pick_cube demos from a 64x64 camera plus proprioception (no object pose in the state).

    jaxrobot sim gen-demos --task pick_cube --episodes 300 --image-size 64 --out /tmp/demos_img
    jaxrobot train --config experiments/act_pick_cube_image.py --workdir /tmp/act_pick_image \\
        --set data.path=/tmp/demos_img/jaxrobot_sim_pick_cube/1.0.0
    jaxrobot eval --workdir /tmp/act_pick_image --task pick_cube --episodes 100

The policy sees the ``front`` camera and ``state[0:5]`` (tcp position, yaw, finger opening): where the cube
is must come from the image. ``data.state_keys`` records that in the checkpoint, so evaluation, the
exported bundle and the robot runtime assemble the same state; the evaluation env renders the same camera
at the same size. The backbone is ResNet-18 at width 16 with GroupNorm (trained from scratch, so frozen
BatchNorm statistics would be meaningless); everything else as ``act_pick_cube_state.py``. Measured 96% over
50 episodes at step 2,000 (bench/RESULTS.md).
"""

from jaxrobot.data.rlds_source import RldsDataConfig
from jaxrobot.models.act import small_act_config
from jaxrobot.train.config import ExperimentConfig, OptimizerConfig, TrainConfig

CHUNK = 20


def get_config() -> ExperimentConfig:
    return ExperimentConfig(
        name="act_pick_cube_image",
        model=small_act_config(action_dim=5, chunk_size=CHUNK, n_action_steps=1, temporal_ensemble_coeff=0.01,
                               dim_model=128, n_heads=4, dim_feedforward=512, latent_dim=16, backbone_width=16,
                               backbone_norm="group_norm", image_norm="unit"),
        data=RldsDataConfig(path="out/demos_img/jaxrobot_sim_pick_cube/1.0.0", n_obs_steps=1, horizon=CHUNK,
                            normalization="mean_std", state_keys=("steps/observation/state[0:5]",),
                            cameras=("front",), memory_mb=1024),
        optimizer=OptimizerConfig(lr=3e-4, warmup_steps=200, weight_decay=1e-4, grad_clip=10.0),
        train=TrainConfig(steps=3000, batch_size=32, log_every=200, checkpoint_every=1000, eval_every=1000,
                          eval_task="pick_cube", eval_episodes=50),
    )
