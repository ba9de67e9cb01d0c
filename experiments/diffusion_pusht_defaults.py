"""Diffusion Policy at the reference defaults for PushT (LeRobot 0.4.4 / real-stanford/diffusion_policy): the
parity config, ``diffusion_synthetic.py:full`` under its fixed name.

    jaxrobot model params --config experiments/diffusion_pusht_defaults.py     # prints params=262709026
    jaxrobot train --config experiments/diffusion_pusht_defaults.py --workdir /tmp/dp --set train.steps=3

Full size is for a GPU/TPU (200k steps of batch 64); on this CPU a step takes tens of seconds. The recipe (data
shape, optimiser, parameter breakdown) is in ``diffusion_synthetic.py``.
"""

from jaxrobot.config import Config, load_variant


def get_config() -> Config:
    return load_variant(__file__, "diffusion_synthetic.py:full")
