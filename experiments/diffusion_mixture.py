"""Diffusion Policy (CPU-sized) on a weighted mixture of two real RLDS datasets: BridgeData V2 and sim demos.

    jaxrobot train --config experiments/diffusion_mixture.py --workdir /tmp/dp_mixture

As ``bc_mixture.py`` (union of cameras, zero-padded 7-D state/action, per-dataset MIN_MAX statistics, 70%
Bridge) with the Diffusion Policy settings of ``diffusion_bridge.py``.
"""

import pathlib

from jaxrobot.data.rlds_source import MixtureDataConfig, RldsDataConfig
from jaxrobot.models.diffusion import small_diffusion_config
from jaxrobot.train.config import ExperimentConfig, OptimizerConfig, TrainConfig

DATA = pathlib.Path(__file__).resolve().parents[1] / "tests/testdata"
BRIDGE = DATA / "bridge_dataset_octo_debug/bridge_dataset/1.0.0"
PICK = DATA / "jaxrobot_sim_pick_cube_small/jaxrobot_sim_pick_cube/1.0.0"


def get_config() -> ExperimentConfig:
    common = dict(n_obs_steps=2, horizon=8, image_size=(64, 64), normalization="min_max")
    return ExperimentConfig(
        name="diffusion_mixture",
        model=small_diffusion_config(action_dim=7, horizon=8, n_obs_steps=2, n_action_steps=4, crop_shape=(56, 56),
                                     image_norm="unit"),
        data=MixtureDataConfig(datasets=(RldsDataConfig(path=str(BRIDGE), **common),
                                         RldsDataConfig(path=str(PICK), **common)),
                               weights=(0.7, 0.3)),
        optimizer=OptimizerConfig(lr=1e-3, b1=0.95, b2=0.999, warmup_steps=20, weight_decay=1e-6, grad_clip=10.0),
        train=TrainConfig(steps=200, batch_size=16, log_every=50, checkpoint_every=100, ema_decay=0.999,
                          ema_power=0.75),
    )
