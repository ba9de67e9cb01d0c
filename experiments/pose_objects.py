"""PoseCNN-style 6-DoF pose of four known objects from 64x64 RGB-D rendered in MJX (grasp_objects table).

    jaxrobot train --config experiments/pose_objects.py --workdir /tmp/pose_objects
    jaxrobot pose eval --workdir /tmp/pose_objects --scenes 400 --json

4,096 training scenes (block, mug, bottle, ball; random table position and yaw, camera pose jittered by
±1 cm / 2°) rendered with ``mjx.ray`` in a few seconds (``jaxrobot.skills.pose.dataset``), then the small U-Net
PoseCNN (segmentation + centre voting + depth offset + cropped 6-D rotation with PLoss / ShapeMatch-Loss,
``jaxrobot.models.pose``) trains for 1,600 steps of batch 32. ``jaxrobot pose eval`` scores held-out
``test`` scenes with ADD / ADD-S at 10% of the diameter and picks each object in MJX with a pre-defined
grasp placed by the estimated pose (and by the true pose as a reference).

Results per object (ADD, ADD-S, translation error, pick success) and training time: bench/RESULTS.md,
"6-DoF object pose".
"""

from jaxrobot.models.pose import PoseConfig
from jaxrobot.skills.pose.dataset import PoseScenesConfig
from jaxrobot.train.config import ExperimentConfig, OptimizerConfig, TrainConfig


def get_config() -> ExperimentConfig:
    return ExperimentConfig(
        name="pose_objects",
        model=PoseConfig(num_objects=4, features=(16, 24, 48, 64)),
        data=PoseScenesConfig(num_scenes=4096, image_size=64),
        optimizer=OptimizerConfig(lr=2e-3, warmup_steps=100, weight_decay=1e-4, grad_clip=1.0),
        train=TrainConfig(steps=1600, batch_size=32, log_every=100, checkpoint_every=400, seed=0),
        description="PoseCNN-style pose of known objects on MJX-rendered 64x64 RGB-D scenes.",
    )
