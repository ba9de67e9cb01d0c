"""Diffusion Policy (CPU-sized) on real RLDS data shipped in tests; variants ``bridge`` (default: the BridgeData V2
sample) and ``mixture`` (Bridge mixed with jaxrobot's own sim demos).

    jaxrobot train --config experiments/diffusion_bridge.py --workdir /tmp/dp_bridge
    jaxrobot train --config experiments/diffusion_bridge.py:mixture --workdir /tmp/dp_mixture

Expect: the noise-prediction loss falls (the sample has 25 episodes: this checks the pipeline on real data, not a
policy); ``tests/train/test_policy_experiments.py`` runs both.

- ``bridge``: shapes from the registry's ``bridge_dataset`` entry (two cameras, 7-D state/action); two
  observation frames, horizon 8, random 56 crops of the 64x64 frames, one shared encoder for both cameras,
  MIN_MAX normalisation.
- ``mixture``: as ``bc_bridge.py:mixture`` (union of cameras, zero-padded 7-D state/action, per-dataset MIN_MAX
  statistics, 70% Bridge) with the Diffusion Policy settings of ``bridge``.
"""

import pathlib

from jaxrobot.config import ConfigError
from jaxrobot.data.sources.mixture import MixtureDataConfig
from jaxrobot.data.sources.rlds import RldsDataConfig
from jaxrobot.models.diffusion import small_diffusion_config
from jaxrobot.train.config import ExperimentConfig, OptimizerConfig, TrainConfig

VARIANTS = ("bridge", "mixture")
DATA = pathlib.Path(__file__).resolve().parents[1] / "tests/testdata"
BRIDGE = DATA / "bridge_dataset_octo_debug/bridge_dataset/1.0.0"
PICK = DATA / "jaxrobot_sim_pick_cube_small/jaxrobot_sim_pick_cube/1.0.0"


def get_config(arg: str | None = None) -> ExperimentConfig:
    variant = arg or VARIANTS[0]
    model = small_diffusion_config(action_dim=7, horizon=8, n_obs_steps=2, n_action_steps=4, crop_shape=(56, 56),
                                   image_norm="unit")
    data = dict(n_obs_steps=2, horizon=8, normalization="min_max")
    optimizer = OptimizerConfig(lr=1e-3, b1=0.95, b2=0.999, warmup_steps=20, weight_decay=1e-6, grad_clip=10.0)
    ema = dict(ema_decay=0.999, ema_power=0.75)
    if variant == "bridge":
        return ExperimentConfig(
            name="diffusion_bridge",
            model=model,
            data=RldsDataConfig(path=str(BRIDGE), **data),
            optimizer=optimizer,
            train=TrainConfig(steps=300, batch_size=16, log_every=50, checkpoint_every=150, **ema),
        )
    if variant == "mixture":
        return ExperimentConfig(
            name="diffusion_mixture",
            model=model,
            data=MixtureDataConfig(datasets=(RldsDataConfig(path=str(BRIDGE), **data, image_size=(64, 64)),
                                             RldsDataConfig(path=str(PICK), **data, image_size=(64, 64))),
                                   weights=(0.7, 0.3)),
            optimizer=optimizer,
            train=TrainConfig(steps=200, batch_size=16, log_every=50, checkpoint_every=100, **ema),
        )
    raise ConfigError(f"diffusion_bridge.py: unknown variant {arg!r}; known: {', '.join(VARIANTS)}")
