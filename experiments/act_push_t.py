"""ACT on MJX push_t demos, scored closed loop while it trains; variants ``state`` (default), ``image``, ``full``.

    jaxrobot sim gen-demos --task push_t --episodes 200 --out /tmp/demos_pusht
    jaxrobot train --config experiments/act_push_t.py:state --workdir /tmp/act_pusht \\
        --set data.path=/tmp/demos_pusht/jaxrobot_sim_push_t/1.0.0
    jaxrobot eval --workdir /tmp/act_pusht --task push_t --episodes 100

    jaxrobot sim gen-demos --task push_t --episodes 200 --image-size 64 --out /tmp/demos_pusht_img
    jaxrobot train --config experiments/act_push_t.py:image --workdir /tmp/act_pusht_img \\
        --set data.path=/tmp/demos_pusht_img/jaxrobot_sim_push_t/1.0.0

    jaxrobot sim gen-demos --task push_t --episodes 1000 --image-size 96 --out /data/demos_img96
    jaxrobot train --config experiments/act_push_t.py:full --workdir /ckpt/act_pusht_full \\
        --set data.path=/data/demos_img96/jaxrobot_sim_push_t/1.0.0

Expect: coverage at episode end is reported by ``jaxrobot eval`` as the task metric; success is coverage > 0.95
as in PushT (measured runs and step rates: bench/RESULTS.md). ``full`` is for a GPU/TPU: on this 2-core CPU a
step takes seconds, so run a few only (``--set train.steps=3``).

push_t runs at 10 Hz with absolute 2-D pusher targets (PushT's action); all variants predict chunks of 10 (1 s)
with temporal ensembling, otherwise as the same variant of ``act_pick_cube.py``:

- ``state``: pusher x, y + block pose, ACT at CPU widths.
- ``image``: the 64x64 ``top`` camera plus ``state[0:2]`` (PushT's ``agent_pos``; the block pose must come from
  the image), the vision settings of ``act_pick_cube.py:image``.
- ``full``: LeRobot 0.4.4's ACT defaults (see ``act_pick_cube.py:full``) on a 96x96 camera + proprioception.
"""


from jaxrobot.policies.recipes import VARIANTS, SimDemos, act_recipe
from jaxrobot.train.config import ExperimentConfig

__all__ = ["VARIANTS", "get_config"]

PUSH_T = SimDemos(task="push_t", action_dim=2, proprio="state[0:2]", camera="top",
                  state_path="out/demos_pusht/jaxrobot_sim_push_t/1.0.0",
                  image_path="out/demos_pusht_img/jaxrobot_sim_push_t/1.0.0",
                  full_path="out/demos_img96/jaxrobot_sim_push_t/1.0.0")


def get_config(arg: str | None = None) -> ExperimentConfig:
    return act_recipe(PUSH_T, arg or "state", chunk=10, steps={"state": 4000, "image": 6000},
                      eval_every={"state": 2000, "image": 2000})
