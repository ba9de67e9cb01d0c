"""ACT from images on MJX ``panda_pick_cube`` (the Franka Panda arm): the scene and the wrist camera, the robot's own
state as proprioception, 50 demonstrations; sized to train on a 2-core CPU in about an hour.

    jaxrobot sim gen-demos --task panda_pick_cube --episodes 50 --image-size 64 --seed 41 --out /tmp/panda_img50
    jaxrobot train --config experiments/act_panda_pick_cube_image.py --workdir /tmp/act_panda_img \\
        --set data.path=/tmp/panda_img50/jaxrobot_sim_panda_pick_cube/1.0.0
    jaxrobot eval --workdir /tmp/act_panda_img --task panda_pick_cube --episodes 200 --seed 99 --json

``IMAGE_SIZE`` is the camera side the demos are rendered at (``--image-size``) and the policy reads. Where the
cube is must come from the cameras: the state keeps only ``state[0:22]`` (joints, joint velocities, TCP pose,
gripper width). The recipe is ``act_panda_pick_cube.py:image`` (``jaxrobot.policies.recipes``) with both
cameras through one shared GroupNorm ResNet-18 (LeRobot's ACT shares its backbone across cameras too), kept at
output stride 8.
Results (success over 200 seed-99 episodes, data efficiency): bench/RESULTS.md, "Policies on panda_pick_cube".
"""

import dataclasses

from jaxrobot.config import load_variant
from jaxrobot.train.config import ExperimentConfig

__all__ = ["IMAGE_SIZE", "get_config"]

#: Camera side in pixels, for ``jaxrobot sim gen-demos --image-size`` and the policy.
IMAGE_SIZE = 64


def get_config() -> ExperimentConfig:
    cfg = load_variant(__file__, "act_panda_pick_cube.py:image")
    data = dataclasses.replace(cfg.data, image_size=(IMAGE_SIZE, IMAGE_SIZE),
                               path="out/panda_demos_img50/jaxrobot_sim_panda_pick_cube/1.0.0")
    # Output stride 8: an 8x8 feature map per 64-px camera (stride 32 leaves 2x2, too coarse to place the cube;
    # stride 16 against 8: bench/RESULTS.md).
    model = dataclasses.replace(cfg.model, backbone_output_stride=8)
    train = dataclasses.replace(cfg.train, steps=6000, eval_every=2000)
    return dataclasses.replace(cfg, name="act_panda_pick_cube_image", model=model, data=data, train=train,
                               description="ACT from the scene + wrist cameras on 50 panda_pick_cube demos")
