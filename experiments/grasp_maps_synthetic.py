"""GG-CNN2 dense grasp maps on synthetic top-down box scenes with analytic labels (no MJX needed).

    jaxrobot train --config experiments/grasp_maps_synthetic.py --workdir /tmp/grasp_maps_synthetic
    jaxrobot export --workdir /tmp/grasp_maps_synthetic --out /tmp/grasp_maps_bundle --format onnx,tflite

GG-CNN2 (~67k params at the paper's widths) on 256 scenes of 32x32 depth with one box each; targets are
painted from the box's grasp across its short side (``jaxrobot.data.synthetic_vision``). The cheap way to
get a real grasp-map checkpoint (export tests, benchmarks); ``experiments/grasp_maps.py`` is the real
experiment on physics-labelled MJX grasps. 1,000 steps of batch 32 take about 3 minutes on a 2-core CPU;
on 200 held-out scenes (``data.data_seed=7``) the top-1 decoded grasp lies within 3 px and 30° of the
box's analytic grasp in 97.5% (median errors 0.4 px, 2°).
"""

from jaxrobot.data.synthetic_vision import SyntheticGraspMapsConfig
from jaxrobot.models.grasp import GraspMapConfig
from jaxrobot.train.config import ExperimentConfig, OptimizerConfig, TrainConfig

MAX_WIDTH_PX = 20.0


def get_config() -> ExperimentConfig:
    return ExperimentConfig(
        name="grasp_maps_synthetic",
        model=GraspMapConfig(arch="ggcnn2", max_width=MAX_WIDTH_PX, min_distance=2, quality_threshold=0.2,
                             top_k=1, loss="mse"),
        data=SyntheticGraspMapsConfig(num_scenes=256, image_size=32, num_boxes=1, max_width=MAX_WIDTH_PX),
        optimizer=OptimizerConfig(lr=2e-3, warmup_steps=50, weight_decay=1e-4, grad_clip=1.0),
        train=TrainConfig(steps=1000, batch_size=32, log_every=100, checkpoint_every=500, seed=0),
        description="GG-CNN2 on synthetic box scenes (analytic labels); export and benchmark smoke run.",
    )
