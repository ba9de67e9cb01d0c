"""ACT (CPU-sized) on real RLDS data shipped in tests; variants ``bridge`` (default: the BridgeData V2 sample) and
``mixture`` (Bridge mixed with jaxrobot's own sim demos).

    jaxrobot train --config experiments/act_bridge.py --workdir /tmp/act_bridge
    jaxrobot train --config experiments/act_bridge.py:mixture --workdir /tmp/act_mixture

Expect: the loss falls (the sample has 25 episodes, so this checks the pipeline and that the loss falls, not a
policy); ``tests/train/test_policy_experiments.py`` runs both.

- ``bridge``: shapes come from the standardisation registry's ``bridge_dataset`` entry (cameras ``primary`` and
  ``secondary`` at 64x64, 7-D end-effector state, 7-D delta action with the gripper last). Both cameras share one
  backbone, as in the reference; chunks of 8.
- ``mixture``: as ``bc_bridge.py:mixture``: batches hold the union of cameras (Bridge's ``primary``/``secondary``,
  the sim's ``front``; a view a dataset lacks is black), state and action zero-padded to the larger size (7-D),
  each dataset normalised with its own statistics; 70% of examples from Bridge.
"""

import pathlib

from jaxrobot.config import ConfigError
from jaxrobot.data.sources.mixture import MixtureDataConfig
from jaxrobot.data.sources.rlds import RldsDataConfig
from jaxrobot.models.act import small_act_config
from jaxrobot.train.config import ExperimentConfig, OptimizerConfig, TrainConfig

VARIANTS = ("bridge", "mixture")
DATA = pathlib.Path(__file__).resolve().parents[1] / "tests/testdata"
BRIDGE = DATA / "bridge_dataset_octo_debug/bridge_dataset/1.0.0"
PICK = DATA / "jaxrobot_sim_pick_cube_small/jaxrobot_sim_pick_cube/1.0.0"
CHUNK = 8


def get_config(arg: str | None = None) -> ExperimentConfig:
    variant = arg or VARIANTS[0]
    model = small_act_config(action_dim=7, chunk_size=CHUNK, n_action_steps=CHUNK, backbone_norm="group_norm",
                             image_norm="unit")
    optimizer = OptimizerConfig(lr=3e-4, warmup_steps=20, weight_decay=1e-4, grad_clip=10.0)
    if variant == "bridge":
        return ExperimentConfig(
            name="act_bridge",
            model=model,
            data=RldsDataConfig(path=str(BRIDGE), n_obs_steps=1, horizon=CHUNK, normalization="mean_std"),
            optimizer=optimizer,
            train=TrainConfig(steps=300, batch_size=16, log_every=50, checkpoint_every=150),
        )
    if variant == "mixture":
        common = dict(n_obs_steps=1, horizon=CHUNK, image_size=(64, 64))
        return ExperimentConfig(
            name="act_mixture",
            model=model,
            data=MixtureDataConfig(datasets=(RldsDataConfig(path=str(BRIDGE), **common),
                                             RldsDataConfig(path=str(PICK), **common)),
                                   weights=(0.7, 0.3)),
            optimizer=optimizer,
            train=TrainConfig(steps=200, batch_size=16, log_every=50, checkpoint_every=100),
        )
    raise ConfigError(f"act_bridge.py: unknown variant {arg!r}; known: {', '.join(VARIANTS)}")
