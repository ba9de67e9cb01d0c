"""BC baseline (MLP on state + small CNN per camera) on the real BridgeData V2 sample shipped in tests.

    jaxrobot train --config experiments/bc_bridge.py --workdir /tmp/bc_bridge

25 real episodes (250 steps, two 64x64 cameras, 7-D state and action) read by the TF-free RLDS reader;
300 steps of batch 32 take about 30 s on a 2-core CPU. The masked MSE on normalised 4-step action
chunks falls from ~0.45 (step 50) to ~0.2 (the sample is tiny: this checks the pipeline, not a policy).
"""

import pathlib

from jaxrobot.data.rlds_source import RldsDataConfig
from jaxrobot.models.bc import BCConfig
from jaxrobot.train.config import ExperimentConfig, OptimizerConfig, TrainConfig

BRIDGE = pathlib.Path(__file__).resolve().parents[1] / "tests/testdata/bridge_dataset_octo_debug/bridge_dataset/1.0.0"


def get_config() -> ExperimentConfig:
    return ExperimentConfig(
        name="bc_bridge",
        model=BCConfig(action_dim=7, horizon=4, hidden=(256, 256), cnn_features=(16, 32)),
        data=RldsDataConfig(path=str(BRIDGE), n_obs_steps=1, horizon=4, normalization="mean_std"),
        optimizer=OptimizerConfig(lr=1e-3, warmup_steps=20),
        train=TrainConfig(steps=300, batch_size=32, log_every=50, checkpoint_every=150),
    )
