"""Diffusion Policy on MJX pick_cube demos, scored closed loop while it trains; variants ``state`` (default),
``image``, ``full``.

    jaxrobot sim gen-demos --task pick_cube --episodes 200 --out /tmp/demos
    jaxrobot train --config experiments/diffusion_pick_cube.py:state --workdir /tmp/dp_pick_state \\
        --set data.path=/tmp/demos/jaxrobot_sim_pick_cube/1.0.0
    jaxrobot eval --workdir /tmp/dp_pick_state --task pick_cube --episodes 100

    jaxrobot sim gen-demos --task pick_cube --episodes 300 --image-size 64 --out /tmp/demos_img
    jaxrobot train --config experiments/diffusion_pick_cube.py:image --workdir /tmp/dp_pick_image \\
        --set data.path=/tmp/demos_img/jaxrobot_sim_pick_cube/1.0.0
    jaxrobot eval --workdir /tmp/dp_pick_image --task pick_cube --episodes 100

    jaxrobot sim gen-demos --task pick_cube --episodes 1000 --image-size 96 --out /data/demos_img96
    jaxrobot train --config experiments/diffusion_pick_cube.py:full --workdir /ckpt/dp_pick_full \\
        --set data.path=/data/demos_img96/jaxrobot_sim_pick_cube/1.0.0

Success rates (in training and on fresh episodes with ``jaxrobot eval --seed 1``) and training times:
bench/RESULTS.md, "Policies closed loop in MJX". ``full`` is for a GPU/TPU: on this CPU run a few steps only
(``--set train.steps=3``).

- ``state``: Diffusion Policy's recipe (DDPM 100 steps, squaredcos_cap_v2, epsilon prediction, DDIM 10 steps at
  run time, EMA with power 0.75, AdamW betas (0.95, 0.999), MIN_MAX normalisation, horizon 16, 2 observation
  frames, 8 actions executed per plan: LeRobot 0.4.4's PushT defaults) with a narrower UNet (64, 128, 256) so
  it trains on a 2-core CPU. lr 1e-3 is the small-model rate (the reference 1e-4 is for 263 M parameters).
- ``image``: Diffusion Policy's vision recipe at CPU widths: ResNet-18 (width 16, GroupNorm, from scratch) kept
  at output stride 8 (an 8x8 feature map of the 64x64 frame; stride 32 leaves 2x2), spatial soft-argmax over 32
  keypoints (the reference's count), two observation frames. No random crop: the camera is fixed and the cube
  is ~3 px wide, so a +-4 px crop shift is +-4 cm across the table (more along it), and the policy needs the
  cube's absolute place in the image (the reference crops 84 of 96 on PushT). The state is ``state[0:5]`` (tcp
  pose, yaw, opening): the cube's place must come from the image. The rest as ``state``.
- ``full``: LeRobot 0.4.4's Diffusion Policy defaults (ResNet-18 with GroupNorm from scratch, random 84 crops of
  96, 32 spatial-softmax keypoints, UNet (512, 1024, 2048), kernel 5, 8 groups, FiLM scale+bias, DDPM 100
  squaredcos_cap_v2 / DDIM 10, EMA power 0.75, AdamW lr 1e-4 betas (0.95, 0.999) wd 1e-6, cosine with 500
  warm-up steps, batch 64, horizon 16, 2 observation frames, 8 actions per plan) on the 96x96 camera.
"""


from jaxrobot.policies.recipes import VARIANTS, SimDemos, diffusion_recipe
from jaxrobot.train.config import ExperimentConfig

__all__ = ["VARIANTS", "get_config"]

PICK_CUBE = SimDemos(task="pick_cube", action_dim=5, proprio="state[0:5]", camera="front",
                     state_path="out/demo/demos/jaxrobot_sim_pick_cube/1.0.0",
                     image_path="out/demos_img/jaxrobot_sim_pick_cube/1.0.0",
                     full_path="out/demos_img96/jaxrobot_sim_pick_cube/1.0.0")


def get_config(arg: str | None = None) -> ExperimentConfig:
    # image: output stride 8 keeps an 8x8 feature map of the 64x64 frame; no crop (the cube's place matters)
    return diffusion_recipe(PICK_CUBE, arg or "state", steps={"state": 3000, "image": 4000},
                            eval_every={"state": 1000, "image": 2000},
                            image_model=dict(spatial_softmax_num_keypoints=32, crop_shape=None,
                                             backbone_output_stride=8))
