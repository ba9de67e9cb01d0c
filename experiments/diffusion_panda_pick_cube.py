"""Diffusion Policy on MJX ``panda_pick_cube`` demos (the Franka Panda arm); variants ``state`` (default), ``image``,
``full``.

    jaxrobot sim gen-demos --task panda_pick_cube --episodes 200 --out /tmp/panda_demos
    jaxrobot train --config experiments/diffusion_panda_pick_cube.py:state --workdir /tmp/dp_panda_state \\
        --set data.path=/tmp/panda_demos/jaxrobot_sim_panda_pick_cube/1.0.0
    jaxrobot eval --workdir /tmp/dp_panda_state --task panda_pick_cube --episodes 200 --seed 99 --json

    jaxrobot sim gen-demos --task panda_pick_cube --episodes 200 --image-size 64 --out /tmp/panda_demos_img
    jaxrobot train --config experiments/diffusion_panda_pick_cube.py:image --workdir /tmp/dp_panda_image \\
        --set data.path=/tmp/panda_demos_img/jaxrobot_sim_panda_pick_cube/1.0.0

    jaxrobot sim gen-demos --task panda_pick_cube --episodes 1000 --image-size 96 --out /data/panda_demos_img96
    jaxrobot train --config experiments/diffusion_panda_pick_cube.py:full --workdir /ckpt/dp_panda_full \
        --set data.path=/data/panda_demos_img96/jaxrobot_sim_panda_pick_cube/1.0.0

The recipe is the one of ``diffusion_pick_cube.py`` (``jaxrobot.policies.recipes``: LeRobot 0.4.4's PushT
settings, a narrower UNet on the CPU) on the arm's facts (``act_panda_pick_cube.py``'s ``PANDA_PICK_CUBE``):
29-D state, 10-D ``ee_pose`` actions, horizon 16 at 50 Hz (0.32 s), 8 actions per plan. The ``image`` variant
keeps ``state[0:22]`` (the robot's own state) and sees the ``scene`` and ``wrist`` cameras through one backbone
at output stride 8 (an 8x8 map of a 64-px frame), 32 keypoints and no crop, as ``diffusion_pick_cube.py:image``.
For ``joint_pos`` demos add ``--set model.action_dim=8``. Results: bench/RESULTS.md, "Policies on
panda_pick_cube".
"""

from jaxrobot.config import load_experiment_module
from jaxrobot.policies.recipes import VARIANTS, diffusion_recipe
from jaxrobot.train.config import ExperimentConfig

__all__ = ["VARIANTS", "get_config"]


def get_config(arg: str | None = None) -> ExperimentConfig:
    demos = load_experiment_module(__file__, "act_panda_pick_cube.py").PANDA_PICK_CUBE
    return diffusion_recipe(demos, arg or "state", steps={"state": 5000, "image": 6000},
                            eval_every={"state": 1000, "image": 2000},
                            image_model=dict(spatial_softmax_num_keypoints=32, crop_shape=None,
                                             backbone_output_stride=8))
