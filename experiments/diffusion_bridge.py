"""Diffusion Policy (CPU-sized) on the real BridgeData V2 sample shipped in tests: two cameras, 7-D state/action.

    jaxrobot train --config experiments/diffusion_bridge.py --workdir /tmp/dp_bridge

Shapes from the registry's ``bridge_dataset`` entry; two observation frames, horizon 8, random 56 crops of
the 64x64 frames, one shared encoder for both cameras, MIN_MAX normalisation. Checks the pipeline on real
data (the noise-prediction loss falls), not a policy: the sample has 25 episodes.
"""

import pathlib

from jaxrobot.data.rlds_source import RldsDataConfig
from jaxrobot.models.diffusion import small_diffusion_config
from jaxrobot.train.config import ExperimentConfig, OptimizerConfig, TrainConfig

BRIDGE = pathlib.Path(__file__).resolve().parents[1] / "tests/testdata/bridge_dataset_octo_debug/bridge_dataset/1.0.0"


def get_config() -> ExperimentConfig:
    return ExperimentConfig(
        name="diffusion_bridge",
        model=small_diffusion_config(action_dim=7, horizon=8, n_obs_steps=2, n_action_steps=4, crop_shape=(56, 56),
                                     image_norm="unit"),
        data=RldsDataConfig(path=str(BRIDGE), n_obs_steps=2, horizon=8, normalization="min_max"),
        optimizer=OptimizerConfig(lr=1e-3, b1=0.95, b2=0.999, warmup_steps=20, weight_decay=1e-6, grad_clip=10.0),
        train=TrainConfig(steps=300, batch_size=16, log_every=50, checkpoint_every=150, ema_decay=0.999,
                          ema_power=0.75),
    )
