"""ACT on MJX panda_pick_cube demos (the Franka Panda arm); variants ``state`` (default, ``make demo``), ``image``,
``full``.

    jaxrobot sim gen-demos --task panda_pick_cube --episodes 200 --out /tmp/panda_demos
    jaxrobot train --config experiments/act_panda_pick_cube.py:state --workdir /tmp/act_panda_state \\
        --set data.path=/tmp/panda_demos/jaxrobot_sim_panda_pick_cube/1.0.0
    jaxrobot eval --workdir /tmp/act_panda_state --task panda_pick_cube --episodes 100

    jaxrobot sim gen-demos --task panda_pick_cube --episodes 300 --image-size 64 --out /tmp/panda_demos_img
    jaxrobot train --config experiments/act_panda_pick_cube.py:image --workdir /tmp/act_panda_image \\
        --set data.path=/tmp/panda_demos_img/jaxrobot_sim_panda_pick_cube/1.0.0

    jaxrobot sim gen-demos --task panda_pick_cube --episodes 1000 --image-size 96 --out /data/panda_demos_img96
    jaxrobot train --config experiments/act_panda_pick_cube.py:full --workdir /ckpt/act_panda_full \\
        --set data.path=/data/panda_demos_img96/jaxrobot_sim_panda_pick_cube/1.0.0

The recipe is the one of ``act_pick_cube.py`` (``jaxrobot.policies.recipes``) on the arm's facts: 29-D state,
10-D ``ee_pose`` actions (TCP position, 6-D rotation, gripper width; the task's default action space, solved by IK
inside the env step), 50 Hz control, so a chunk of 25 is half a second. The ``image`` variant keeps the robot's
own state (``state[0:22]``: joints, joint velocities, TCP pose, gripper width) and sees the ``scene`` and the
``wrist`` camera through one shared backbone. ``act_panda_pick_cube_image.py`` is the 50-demonstration image recipe.
For ``joint_pos`` demos (``gen-demos --set action_space=joint_pos``) add ``--set model.action_dim=8``; evaluation
picks the action space up from the dataset's recorded task config.
Results: bench/RESULTS.md, "The Franka Panda arm".
"""

from jaxrobot.policies.recipes import VARIANTS, SimDemos, act_recipe
from jaxrobot.train.config import ExperimentConfig

__all__ = ["VARIANTS", "get_config"]

PANDA_PICK_CUBE = SimDemos(task="panda_pick_cube", action_dim=10, proprio="state[0:22]", camera=("scene", "wrist"),
                           state_path="out/demo/demos/jaxrobot_sim_panda_pick_cube/1.0.0",
                           image_path="out/panda_demos_img/jaxrobot_sim_panda_pick_cube/1.0.0",
                           full_path="out/panda_demos_img96/jaxrobot_sim_panda_pick_cube/1.0.0")


def get_config(arg: str | None = None) -> ExperimentConfig:
    return act_recipe(PANDA_PICK_CUBE, arg or "state", chunk=25, steps={"state": 2000, "image": 3000},
                      eval_every={"state": 1000, "image": 1000})
