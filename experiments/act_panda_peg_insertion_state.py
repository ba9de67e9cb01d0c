"""ACT from state on MJX ``panda_peg_insertion``: the Franka Panda inserts the square peg it holds into a hole with
0.8 mm clearance, from the state (the arm, the peg and the hole's pose).

    jaxrobot sim gen-demos --task panda_peg_insertion --episodes 200 --out /tmp/peg_demos
    jaxrobot train --config experiments/act_panda_peg_insertion_state.py --workdir /tmp/act_peg \\
        --set data.path=/tmp/peg_demos/jaxrobot_sim_panda_peg_insertion/1.0.0
    jaxrobot eval --workdir /tmp/act_peg --task panda_peg_insertion --episodes 200 --seed 99 --json

The recipe is ACT's (``jaxrobot.policies.recipes``) on the task's facts: 37-D state (the arm, the peg, the hole's
pose and the insertion depth), 10-D ``ee_pose`` actions solved by IK in the step, 50 Hz, chunks of 25 (0.5 s).
The hole's pose is in the state, so the policy must turn it into a TCP target within the 0.8 mm clearance.
Results: bench/RESULTS.md, "panda_peg_insertion".
"""

from jaxrobot.policies.recipes import SimDemos, act_recipe
from jaxrobot.train.config import ExperimentConfig

__all__ = ["get_config"]

PANDA_PEG_INSERTION = SimDemos(task="panda_peg_insertion", action_dim=10, proprio="state[0:22]",
                               camera=("scene", "wrist"),
                               state_path="out/peg_demos/jaxrobot_sim_panda_peg_insertion/1.0.0",
                               image_path="out/peg_demos_img/jaxrobot_sim_panda_peg_insertion/1.0.0",
                               full_path="out/peg_demos_img96/jaxrobot_sim_panda_peg_insertion/1.0.0")


def get_config() -> ExperimentConfig:
    return act_recipe(PANDA_PEG_INSERTION, "state", chunk=25, steps={"state": 5000}, eval_every={"state": 1000})
