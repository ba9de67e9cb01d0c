"""ACT on the built-in synthetic dataset; variants ``small`` (default: the policy's smoke run) and ``full``
(LeRobot's ACT at its defaults on ALOHA-shaped data: the parity config).

    jaxrobot train --config experiments/act_synthetic.py:small --workdir /tmp/act_small
    jaxrobot model params --config experiments/act_synthetic.py:full     # prints params=51613582
    jaxrobot train --config experiments/act_synthetic.py:full --workdir /tmp/act_aloha --set train.steps=3

Expect: ``small`` runs 400 steps of batch 32 in about 75 s on a 2-core CPU (half of it compiling); the loss
(L1 + 10 x KL on normalised actions) falls from ~26 at init (the random CVAE encoder's KL dominates) to ~0.3,
its L1 part from ~1 to ~0.15 (predicting the mean gives ~0.8). ``full`` is for a GPU/TPU (100k steps of batch 8);
on this 2-core CPU a step takes several seconds, so run only a few here. ``experiments/act_aloha_defaults.py``
is ``full`` under its fixed name.

- ``small``: ``small_act_config`` (camera + state), chunks of 8.
- ``full``: the parameter count equals LeRobot's ACT at its defaults with a 14-D state, a 14-D action and one
  camera (17,332,736 in the CVAE encoder, 11,166,912 in the ResNet-18; frozen BatchNorm terms are not
  trainable). Data: the synthetic source shaped like ALOHA sim (14-D state/action, one 480x480 camera, 400-step
  episodes, chunk 100). Optimiser: AdamW lr 1e-5 (backbone 1e-5), weight decay 1e-4, grad clip 10, constant lr,
  as the reference.
"""

from jaxrobot.config import ConfigError
from jaxrobot.data.sources.synthetic import SyntheticDataConfig
from jaxrobot.models.act import ACTConfig, small_act_config
from jaxrobot.train.config import ExperimentConfig, OptimizerConfig, TrainConfig

VARIANTS = ("small", "full")


def get_config(arg: str | None = None) -> ExperimentConfig:
    variant = arg or VARIANTS[0]
    if variant == "small":
        return ExperimentConfig(
            name="act_synthetic_small",
            model=small_act_config(action_dim=4, chunk_size=8, n_action_steps=8),
            data=SyntheticDataConfig(num_episodes=64, episode_length=50, state_dim=8, action_dim=4, n_obs_steps=1,
                                     horizon=8, image_size=64),
            optimizer=OptimizerConfig(lr=1e-3, warmup_steps=50, weight_decay=1e-4, grad_clip=10.0),
            train=TrainConfig(steps=400, batch_size=32, log_every=50, checkpoint_every=400, seed=0),
        )
    if variant == "full":
        return ExperimentConfig(
            name="act_aloha_defaults",
            model=ACTConfig(action_dim=14, chunk_size=100, n_action_steps=100),
            data=SyntheticDataConfig(num_episodes=50, episode_length=400, state_dim=14, action_dim=14,
                                     n_obs_steps=1, horizon=100, image_size=480),
            optimizer=OptimizerConfig(lr=1e-5, weight_decay=1e-4, grad_clip=10.0, schedule="constant",
                                      module_lrs=(("backbone", 1e-5),)),
            train=TrainConfig(steps=100_000, batch_size=8, log_every=100, checkpoint_every=10_000),
            description="ACT, LeRobot 0.4.4 defaults, ALOHA-shaped synthetic data",
        )
    raise ConfigError(f"act_synthetic.py: unknown variant {arg!r}; known: {', '.join(VARIANTS)}")
