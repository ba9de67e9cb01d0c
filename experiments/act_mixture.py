"""ACT (CPU-sized) on a weighted mixture of two real RLDS datasets: BridgeData V2 and jaxrobot's sim demos.

    jaxrobot train --config experiments/act_mixture.py --workdir /tmp/act_mixture

As ``bc_mixture.py``: batches hold the union of cameras (Bridge's ``primary``/``secondary``, the sim's
``front``; a view a dataset lacks is black), state and action zero-padded to the larger size (7-D), each
dataset normalised with its own statistics; 70% of examples from Bridge.
"""

import pathlib

from jaxrobot.data.rlds_source import MixtureDataConfig, RldsDataConfig
from jaxrobot.models.act import small_act_config
from jaxrobot.train.config import ExperimentConfig, OptimizerConfig, TrainConfig

DATA = pathlib.Path(__file__).resolve().parents[1] / "tests/testdata"
BRIDGE = DATA / "bridge_dataset_octo_debug/bridge_dataset/1.0.0"
PICK = DATA / "jaxrobot_sim_pick_cube_small/jaxrobot_sim_pick_cube/1.0.0"
CHUNK = 8


def get_config() -> ExperimentConfig:
    common = dict(n_obs_steps=1, horizon=CHUNK, image_size=(64, 64))
    return ExperimentConfig(
        name="act_mixture",
        model=small_act_config(action_dim=7, chunk_size=CHUNK, n_action_steps=CHUNK, backbone_norm="group_norm",
                               image_norm="unit"),
        data=MixtureDataConfig(datasets=(RldsDataConfig(path=str(BRIDGE), **common),
                                         RldsDataConfig(path=str(PICK), **common)),
                               weights=(0.7, 0.3)),
        optimizer=OptimizerConfig(lr=3e-4, warmup_steps=20, weight_decay=1e-4, grad_clip=10.0),
        train=TrainConfig(steps=200, batch_size=16, log_every=50, checkpoint_every=100),
    )
