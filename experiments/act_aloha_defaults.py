"""ACT at the reference defaults (LeRobot 0.4.4 / tonyzhaozh/act, ALOHA-shaped): the parity config,
``act_synthetic.py:full`` under its fixed name.

    jaxrobot model params --config experiments/act_aloha_defaults.py     # prints params=51613582
    jaxrobot train --config experiments/act_aloha_defaults.py --workdir /tmp/act_aloha --set train.steps=3

Full size is for a GPU/TPU (100k steps of batch 8); on this 2-core CPU a step takes several seconds, so run
only a few here. The recipe (data shape, optimiser, parameter breakdown) is in ``act_synthetic.py``.
"""

from jaxrobot.config import Config, load_variant


def get_config() -> Config:
    return load_variant(__file__, "act_synthetic.py:full")
