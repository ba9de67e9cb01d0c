"""Diffusion Policy on MJX push_t demos, scored closed loop while it trains; variants ``state`` (default),
``image``, ``full``.

    jaxrobot sim gen-demos --task push_t --episodes 200 --out /tmp/demos_pusht
    jaxrobot train --config experiments/diffusion_push_t.py:state --workdir /tmp/dp_pusht \\
        --set data.path=/tmp/demos_pusht/jaxrobot_sim_push_t/1.0.0
    jaxrobot eval --workdir /tmp/dp_pusht --task push_t --episodes 100

    jaxrobot sim gen-demos --task push_t --episodes 200 --image-size 64 --out /tmp/demos_pusht_img
    jaxrobot train --config experiments/diffusion_push_t.py:image --workdir /tmp/dp_pusht_img \\
        --set data.path=/tmp/demos_pusht_img/jaxrobot_sim_push_t/1.0.0

    jaxrobot sim gen-demos --task push_t --episodes 1000 --image-size 96 --out /data/demos_img96
    jaxrobot train --config experiments/diffusion_push_t.py:full --workdir /ckpt/dp_pusht_full \\
        --set data.path=/data/demos_img96/jaxrobot_sim_push_t/1.0.0

Expect: coverage at episode end is reported by ``jaxrobot eval`` as the task metric; success is coverage > 0.95
as in PushT (measured runs: bench/RESULTS.md). ``full`` is for a GPU/TPU: on this 2-core CPU run a few steps only
(``--set train.steps=3``). ``experiments/diffusion_push_t_state.py`` is the ``state`` variant under its fixed name.

- ``state``: the PushT recipe of Diffusion Policy (horizon 16, 2 observation frames, 8 actions per plan, DDPM
  100 / DDIM 10, EMA power 0.75, MIN_MAX) with the narrower UNet (64, 128, 256) of the CPU experiments, on the
  pusher x, y + block pose.
- ``image``: PushT as in the paper: the 64x64 ``top`` camera plus ``state[0:2]`` (``agent_pos``), random 56
  crops of 64 (the reference's 84 of 96 scaled down), 16 spatial-softmax keypoints, ResNet-18 at width 16.
- ``full``: LeRobot 0.4.4's Diffusion Policy defaults (see ``diffusion_pick_cube.py:full``) on a 96x96 camera.
"""


from jaxrobot.policies.recipes import VARIANTS, SimDemos, diffusion_recipe
from jaxrobot.train.config import ExperimentConfig

__all__ = ["VARIANTS", "get_config"]

PUSH_T = SimDemos(task="push_t", action_dim=2, proprio="state[0:2]", camera="top",
                  state_path="out/demos_pusht/jaxrobot_sim_push_t/1.0.0",
                  image_path="out/demos_pusht_img/jaxrobot_sim_push_t/1.0.0",
                  full_path="out/demos_img96/jaxrobot_sim_push_t/1.0.0")


def get_config(arg: str | None = None) -> ExperimentConfig:
    # image: random 56 crops of 64 (the reference's 84 of 96 scaled down), 16 keypoints
    return diffusion_recipe(PUSH_T, arg or "state", steps={"state": 6000, "image": 8000},
                            eval_every={"state": 2000, "image": 2000},
                            image_model=dict(spatial_softmax_num_keypoints=16, crop_shape=(56, 56)))
