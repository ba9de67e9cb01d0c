"""ACT (CPU-sized) on the real BridgeData V2 sample shipped in tests: two cameras, 7-D state and action.

    jaxrobot train --config experiments/act_bridge.py --workdir /tmp/act_bridge

Shapes come from the standardisation registry's ``bridge_dataset`` entry (cameras ``primary`` and
``secondary`` at 64x64, 7-D end-effector state, 7-D delta action with the gripper last). Both cameras share
one backbone, as in the reference; chunks of 8. The sample has 25 episodes, so this checks the pipeline
and that the loss falls, not a policy.
"""

import pathlib

from jaxrobot.data.rlds_source import RldsDataConfig
from jaxrobot.models.act import small_act_config
from jaxrobot.train.config import ExperimentConfig, OptimizerConfig, TrainConfig

BRIDGE = pathlib.Path(__file__).resolve().parents[1] / "tests/testdata/bridge_dataset_octo_debug/bridge_dataset/1.0.0"
CHUNK = 8


def get_config() -> ExperimentConfig:
    return ExperimentConfig(
        name="act_bridge",
        model=small_act_config(action_dim=7, chunk_size=CHUNK, n_action_steps=CHUNK, backbone_norm="group_norm",
                               image_norm="unit"),
        data=RldsDataConfig(path=str(BRIDGE), n_obs_steps=1, horizon=CHUNK, normalization="mean_std"),
        optimizer=OptimizerConfig(lr=3e-4, warmup_steps=20, weight_decay=1e-4, grad_clip=10.0),
        train=TrainConfig(steps=300, batch_size=16, log_every=50, checkpoint_every=150),
    )
