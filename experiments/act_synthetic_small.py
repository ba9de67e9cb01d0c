"""A CPU-sized ACT (camera + state) on the built-in synthetic dataset: the policy's smoke experiment.

    jaxrobot train --config experiments/act_synthetic_small.py --workdir /tmp/act_small

400 steps of batch 32 in about 75 s on a 2-core CPU (half of it compiling). The loss (L1 + 10 x KL on
normalised actions) falls from ~26 at init (the random CVAE encoder's KL dominates) to ~0.3; its L1 part
from ~1 to ~0.15 (predicting the mean gives ~0.8).
"""

from jaxrobot.data.synthetic import SyntheticDataConfig
from jaxrobot.models.act import small_act_config
from jaxrobot.train.config import ExperimentConfig, OptimizerConfig, TrainConfig


def get_config() -> ExperimentConfig:
    return ExperimentConfig(
        name="act_synthetic_small",
        model=small_act_config(action_dim=4, chunk_size=8, n_action_steps=8),
        data=SyntheticDataConfig(
            num_episodes=64,
            episode_length=50,
            state_dim=8,
            action_dim=4,
            n_obs_steps=1,
            horizon=8,
            image_size=64,
        ),
        optimizer=OptimizerConfig(lr=1e-3, warmup_steps=50, weight_decay=1e-4, grad_clip=10.0),
        train=TrainConfig(steps=400, batch_size=32, log_every=50, checkpoint_every=400, seed=0),
    )
