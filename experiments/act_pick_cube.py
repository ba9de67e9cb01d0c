"""ACT on MJX pick_cube demos, scored closed loop while it trains; variants ``state`` (default), ``image``, ``full``.

    jaxrobot sim gen-demos --task pick_cube --episodes 200 --out /tmp/demos
    jaxrobot train --config experiments/act_pick_cube.py:state --workdir /tmp/act_pick_state \\
        --set data.path=/tmp/demos/jaxrobot_sim_pick_cube/1.0.0
    jaxrobot eval --workdir /tmp/act_pick_state --task pick_cube --episodes 100

    jaxrobot sim gen-demos --task pick_cube --episodes 300 --image-size 64 --out /tmp/demos_img
    jaxrobot train --config experiments/act_pick_cube.py:image --workdir /tmp/act_pick_image \\
        --set data.path=/tmp/demos_img/jaxrobot_sim_pick_cube/1.0.0
    jaxrobot eval --workdir /tmp/act_pick_image --task pick_cube --episodes 100

    jaxrobot sim gen-demos --task pick_cube --episodes 1000 --image-size 96 --out /data/demos_img96
    jaxrobot train --config experiments/act_pick_cube.py:full --workdir /ckpt/act_pick_full \\
        --set data.path=/data/demos_img96/jaxrobot_sim_pick_cube/1.0.0

Success rates and step rates: bench/RESULTS.md, "Policies closed loop in MJX". ``full`` is for a GPU/TPU: on
this 2-core CPU a step takes seconds, so run a few only (``--set train.steps=3``), as the tests do. Success on
50 episodes is logged every ``train.eval_every`` steps (``eval/success_rate`` in metrics.jsonl).
``experiments/act_pick_cube_state.py`` is the ``state`` variant under the name ``make demo`` trains.

All variants predict chunks of 20 absolute 5-D targets (1 s at 20 Hz) run with the original ACT's temporal
ensembling (re-plan every step, m = 0.01).

- ``state``: the ACT topology at CPU widths (``small_act_config``: 2 encoder layers, 1 decoder layer, CVAE over
  the chunk, no camera) on the 12-D state. lr 1e-4 rather than ACT's 1e-5: the reference rate is tuned for a
  52 M-parameter model at batch 8 (LeRobot's ACTConfig), this one is 0.2 M at batch 64.
- ``image``: the ``front`` 64x64 camera and ``state[0:5]`` (tcp position, yaw, finger opening): where the cube is
  must come from the image. ``data.state_keys`` records that in the checkpoint, so evaluation, the exported
  bundle and the robot runtime assemble the same state; the evaluation env renders the same camera at the same
  size. The backbone is ResNet-18 at width 16 with GroupNorm (trained from scratch, so frozen BatchNorm
  statistics would be meaningless); everything else as ``state``.
- ``full``: LeRobot 0.4.4's ACT defaults (ResNet-18 with frozen BatchNorm and ImageNet normalisation, dim_model
  512, 8 heads, FFN 3200, 4+1 layers, CVAE with 4 layers and a 32-D latent, dropout 0.1, kl_weight 10, AdamW lr
  1e-5 with the backbone at 1e-5, weight decay 1e-4, clip 10, batch 8), chunk 20 (the reference's 100 is 2 s at
  50 Hz), 96x96 camera + proprioception. Load ImageNet weights with
  ``--set model.pretrained_backbone=resnet18.npz`` (see ``jaxrobot/nn/resnet_convert.py``).
"""


from jaxrobot.policies.recipes import VARIANTS, SimDemos, act_recipe
from jaxrobot.train.config import ExperimentConfig

__all__ = ["VARIANTS", "get_config"]

PICK_CUBE = SimDemos(task="pick_cube", action_dim=5, proprio="state[0:5]", camera="front",
                     state_path="out/demo/demos/jaxrobot_sim_pick_cube/1.0.0",
                     image_path="out/demos_img/jaxrobot_sim_pick_cube/1.0.0",
                     full_path="out/demos_img96/jaxrobot_sim_pick_cube/1.0.0")


def get_config(arg: str | None = None) -> ExperimentConfig:
    return act_recipe(PICK_CUBE, arg or "state", chunk=20, steps={"state": 2000, "image": 3000},
                      eval_every={"state": 1000, "image": 1000})
