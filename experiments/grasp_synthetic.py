"""Grasp networks on synthetic top-down box scenes with analytic labels (no MJX needed): the cheap way to get a
real checkpoint (export tests, benchmarks); variants ``maps`` (default: GG-CNN2 dense grasp maps) and
``candidates`` (GQ-CNN-style candidate scorer).

    jaxrobot train --config experiments/grasp_synthetic.py:maps --workdir /tmp/grasp_maps_synthetic
    jaxrobot export --workdir /tmp/grasp_maps_synthetic --out /tmp/grasp_maps_bundle --format onnx,tflite

    jaxrobot train --config experiments/grasp_synthetic.py:candidates --workdir /tmp/grasp_candidates_synthetic
    jaxrobot export --workdir /tmp/grasp_candidates_synthetic --out /tmp/grasp_candidates_bundle \\
        --format onnx,tflite

Results (held-out scenes with ``data.data_seed=7``, training time): bench/RESULTS.md, "Synthetic vision
recipes".

- ``maps``: GG-CNN2 (~67k params at the paper's widths) on 256 scenes of 32x32 depth with one box each; targets
  are painted from the box's grasp across its short side (``jaxrobot.skills.grasping.synthetic``).
  ``experiments/grasp_maps.py`` is the real experiment on physics-labelled MJX grasps.
- ``candidates``: 512 examples of one 32x32 depth scene and one candidate each, half jittered around the box's
  analytic grasp, half uniform; a candidate succeeds iff its centre is on the middle of the box and it closes
  across the short side (about a quarter do). Crops of 16x16 px.
"""

from jaxrobot.config import ConfigError
from jaxrobot.models.grasp import GraspCandidateConfig, GraspMapConfig
from jaxrobot.skills.grasping.synthetic import SyntheticGraspCandidatesConfig, SyntheticGraspMapsConfig
from jaxrobot.train.config import ExperimentConfig, OptimizerConfig, TrainConfig

VARIANTS = ("maps", "candidates")
MAX_WIDTH_PX = 20.0


def get_config(arg: str | None = None) -> ExperimentConfig:
    variant = arg or VARIANTS[0]
    if variant == "maps":
        return ExperimentConfig(
            name="grasp_maps_synthetic",
            model=GraspMapConfig(arch="ggcnn2", max_width=MAX_WIDTH_PX, min_distance=2, quality_threshold=0.2,
                                 top_k=1, loss="mse"),
            data=SyntheticGraspMapsConfig(num_scenes=256, image_size=32, num_boxes=1, max_width=MAX_WIDTH_PX),
            optimizer=OptimizerConfig(lr=2e-3, warmup_steps=50, weight_decay=1e-4, grad_clip=1.0),
            train=TrainConfig(steps=1000, batch_size=32, log_every=100, checkpoint_every=500, seed=0),
            description="GG-CNN2 on synthetic box scenes (analytic labels); export and benchmark smoke run.",
        )
    if variant == "candidates":
        return ExperimentConfig(
            name="grasp_candidates_synthetic",
            model=GraspCandidateConfig(crop_size=16, crop_scale=1.0, conv_features=(16, 16, 16, 16),
                                       conv_kernels=(5, 3, 3, 3), image_hidden=64, depth_hidden=16, merge_hidden=64),
            data=SyntheticGraspCandidatesConfig(num_examples=512, image_size=32),
            optimizer=OptimizerConfig(lr=1e-3, warmup_steps=50, weight_decay=1e-4, grad_clip=1.0),
            train=TrainConfig(steps=1000, batch_size=64, log_every=100, checkpoint_every=500, seed=0),
            description="GQ-CNN-style scorer on synthetic box scenes (geometric labels); export smoke run.",
        )
    raise ConfigError(f"grasp_synthetic.py: unknown variant {arg!r}; known: {', '.join(VARIANTS)}")
