"""ACT on MJX pick_cube demos, state observations: ``act_pick_cube.py:state`` under the fixed name that
``make demo`` and outside scripts use.

    jaxrobot sim gen-demos --task pick_cube --episodes 200 --out /tmp/demos
    jaxrobot train --config experiments/act_pick_cube_state.py --workdir /tmp/act_pick_state \\
        --set data.path=/tmp/demos/jaxrobot_sim_pick_cube/1.0.0
    jaxrobot eval --workdir /tmp/act_pick_state --task pick_cube --episodes 100

Success rates: bench/RESULTS.md, "Policies closed loop in MJX". The recipe and its other variants
(``image``, ``full``) are in ``act_pick_cube.py``.
"""

from jaxrobot.config import Config, load_variant


def get_config() -> Config:
    return load_variant(__file__, "act_pick_cube.py:state")
