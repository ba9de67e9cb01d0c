"""Diffusion Policy on MJX pick_cube demos from a 64x64 camera plus proprioception (no object pose in the state).

    jaxrobot sim gen-demos --task pick_cube --episodes 300 --image-size 64 --out /tmp/demos_img
    jaxrobot train --config experiments/diffusion_pick_cube_image.py --workdir /tmp/dp_pick_image \\
        --set data.path=/tmp/demos_img/jaxrobot_sim_pick_cube/1.0.0
    jaxrobot eval --workdir /tmp/dp_pick_image --task pick_cube --episodes 100

Diffusion Policy's vision recipe at CPU widths: ResNet-18 (width 16, GroupNorm, from scratch) kept at output
stride 8 (an 8x8 feature map of the 64x64 frame; stride 32 leaves 2x2), spatial soft-argmax over 32 keypoints
(the reference's count), two observation frames. No random crop: the camera is fixed and the cube is ~3 px
wide, so a +-4 px crop shift is +-4 cm across the table (more along it), and the policy needs the cube's
absolute place in the image (the reference crops 84 of 96 on PushT). The state is ``state[0:5]`` (tcp pose,
yaw, opening): the cube's place must come from the image. The rest as ``diffusion_pick_cube_state.py``.
Measured (bench/RESULTS.md): 16% at 2,000 and 66% at 4,000 over the 50 episodes logged in training; the
4,000-step checkpoint scores 78% (CI 69-85%) on 100 fresh episodes (``jaxrobot eval --seed 1``). 34 min of
training on the 2-core CPU while the test suite shared it. The earlier recipe (56-px random crop, stride 32,
16 keypoints) reached 28% at 6,000.
"""

from jaxrobot.data.rlds_source import RldsDataConfig
from jaxrobot.models.diffusion import small_diffusion_config
from jaxrobot.train.config import ExperimentConfig, OptimizerConfig, TrainConfig

HORIZON, N_OBS = 16, 2


def get_config() -> ExperimentConfig:
    return ExperimentConfig(
        name="diffusion_pick_cube_image",
        model=small_diffusion_config(action_dim=5, horizon=HORIZON, n_obs_steps=N_OBS, n_action_steps=8,
                                     down_dims=(64, 128, 256), diffusion_step_embed_dim=64, backbone_width=16,
                                     spatial_softmax_num_keypoints=32, crop_shape=None, image_norm="unit",
                                     backbone_output_stride=8),
        data=RldsDataConfig(path="out/demos_img/jaxrobot_sim_pick_cube/1.0.0", n_obs_steps=N_OBS,
                            horizon=HORIZON, normalization="min_max", state_keys=("steps/observation/state[0:5]",),
                            cameras=("front",), memory_mb=1024),
        optimizer=OptimizerConfig(lr=1e-3, b1=0.95, b2=0.999, warmup_steps=500, weight_decay=1e-6,
                                  grad_clip=10.0),
        train=TrainConfig(steps=4000, batch_size=32, log_every=200, checkpoint_every=1000, eval_every=2000,
                          eval_task="pick_cube", eval_episodes=50, ema_decay=0.9999, ema_power=0.75),
    )
