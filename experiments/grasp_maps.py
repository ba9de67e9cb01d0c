"""GG-CNN2 dense grasp maps trained on physics-labelled MJX grasps (grasp_objects, seen categories).

    jaxrobot train --config experiments/grasp_maps.py --workdir /tmp/grasp_maps
    jaxrobot grasp eval --workdir /tmp/grasp_maps --split novel_instances --scenes 200 --json

First labels fresh grasps in MJX into ``<workdir>/grasp_labels`` (reused when present, e.g. on resume):
320 scenes of boxes, mugs and bottles x 40 candidates (30 antipodal + 10 random), executed in parallel
(~10 min on a loaded 2-core CPU), then trains GG-CNN2 (~67k params) on random 64x64 crops of the 96x96
depth images (it predicts on whole images: fully convolutional) for 1,500 steps of batch 32 (~12 min).
Total within 30 minutes on this CPU. See ``jaxrobot grasp eval`` for the numbers.

The label cache goes under the ``--workdir`` given on the command line (read from ``sys.argv``, because a
data source is built without the workdir); otherwise under ``$JAXROBOT_CACHE/grasp_labels/<hash>``.
Override with ``--set data.cache_dir=DIR`` or ``--set data.path=DATASET_FOLDER``.
"""

import os
import sys

from jaxrobot.models.grasp import GraspMapConfig
from jaxrobot.skills.grasping.dataset import GraspRldsConfig
from jaxrobot.skills.grasping.label import GraspLabelConfig
from jaxrobot.train.config import ExperimentConfig, OptimizerConfig, TrainConfig

MAX_WIDTH_PX = 40.0


def _workdir_cache() -> str:
    argv = sys.argv
    for i, a in enumerate(argv):
        if a == "--workdir" and i + 1 < len(argv):
            return os.path.join(os.path.abspath(argv[i + 1]), "grasp_labels")
        if a.startswith("--workdir="):
            return os.path.join(os.path.abspath(a.split("=", 1)[1]), "grasp_labels")
    return ""


def get_config() -> ExperimentConfig:
    return ExperimentConfig(
        name="grasp_maps",
        model=GraspMapConfig(
            arch="ggcnn2", max_width=MAX_WIDTH_PX, min_distance=4, quality_threshold=0.1, top_k=5, loss="mse"
        ),
        data=GraspRldsConfig(
            cache_dir=_workdir_cache(),
            max_width=MAX_WIDTH_PX,
            jaw_px=6.0,
            quality="success_rate",
            augment=True,
            crop=64,
            label=GraspLabelConfig(scenes=320, candidates=40, random_fraction=0.25, split="train", seed=0),
        ),
        optimizer=OptimizerConfig(lr=2e-3, warmup_steps=100, weight_decay=1e-4, grad_clip=1.0),
        train=TrainConfig(steps=1500, batch_size=32, log_every=100, checkpoint_every=1000, seed=0),
        description="GG-CNN2 on physics-labelled MJX grasps; eval with `jaxrobot grasp eval`.",
    )
