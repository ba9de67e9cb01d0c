"""ACT at the reference defaults (LeRobot 0.4.4 / tonyzhaozh/act, ALOHA-shaped): the parity config.

    jaxrobot model params --config experiments/act_aloha_defaults.py     # prints params=51613582
    jaxrobot train --config experiments/act_aloha_defaults.py --workdir /tmp/act_aloha --set train.steps=3

The parameter count equals LeRobot's ACT at its defaults with a 14-D state, a 14-D action and one camera
(17,332,736 in the CVAE encoder, 11,166,912 in the ResNet-18; frozen BatchNorm terms are not trainable).
Full size is for a GPU/TPU (100k steps of batch 8); on this 2-core CPU a step takes several seconds, so
run only a few here. Data: the synthetic source shaped like ALOHA sim (14-D state/action, one 480x480
camera, 400-step episodes, chunk 100). Optimiser: AdamW lr 1e-5 (backbone 1e-5), weight decay 1e-4,
grad clip 10, constant lr, as the reference.
"""

from jaxrobot.data.synthetic import SyntheticDataConfig
from jaxrobot.models.act import ACTConfig
from jaxrobot.train.config import ExperimentConfig, OptimizerConfig, TrainConfig


def get_config() -> ExperimentConfig:
    return ExperimentConfig(
        name="act_aloha_defaults",
        model=ACTConfig(action_dim=14, chunk_size=100, n_action_steps=100),
        data=SyntheticDataConfig(
            num_episodes=50,
            episode_length=400,
            state_dim=14,
            action_dim=14,
            n_obs_steps=1,
            horizon=100,
            image_size=480,
        ),
        optimizer=OptimizerConfig(
            lr=1e-5, weight_decay=1e-4, grad_clip=10.0, schedule="constant", module_lrs=(("backbone", 1e-5),)
        ),
        train=TrainConfig(steps=100_000, batch_size=8, log_every=100, checkpoint_every=10_000),
        description="ACT, LeRobot 0.4.4 defaults, ALOHA-shaped synthetic data",
    )
