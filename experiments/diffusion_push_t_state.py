"""Diffusion Policy on MJX push_t demos, state observations: ``diffusion_push_t.py:state`` under its fixed name.

    jaxrobot sim gen-demos --task push_t --episodes 200 --out /tmp/demos_pusht
    jaxrobot train --config experiments/diffusion_push_t_state.py --workdir /tmp/dp_pusht \\
        --set data.path=/tmp/demos_pusht/jaxrobot_sim_push_t/1.0.0
    jaxrobot eval --workdir /tmp/dp_pusht --task push_t --episodes 100

Expect: ``jaxrobot eval`` reports the coverage at episode end; success is coverage > 0.95 as in PushT. The
recipe and its other variants (``image``, ``full``) are in ``diffusion_push_t.py``.
"""

from jaxrobot.config import Config, load_variant


def get_config() -> Config:
    return load_variant(__file__, "diffusion_push_t.py:state")
