"""BC baseline on MJX pick_cube demos (state observations): the policy `make demo` trains and evaluates.

    jaxrobot sim gen-demos --task pick_cube --episodes 200 --out /tmp/demos
    jaxrobot train --config experiments/bc_pick_cube.py --workdir /tmp/bc_pick \\
        --set data.path=/tmp/demos/jaxrobot_sim_pick_cube/1.0.0
    jaxrobot eval --workdir /tmp/bc_pick --task pick_cube --episodes 100

An MLP maps the 12-D state (gripper pose, opening, cube pose) to a chunk of 8 absolute 5-D targets, of
which all 8 are executed before re-planning. 3,000 steps of batch 256 take a few minutes on a 2-core CPU.
State only: ``cameras=None`` reads no frame even when the demos were rendered with cameras (``()`` would
mean "every camera the dataset has" and add a CNN per camera).
"""

from jaxrobot.data.sources.rlds import RldsDataConfig
from jaxrobot.models.bc import BCConfig
from jaxrobot.train.config import ExperimentConfig, OptimizerConfig, TrainConfig


def get_config() -> ExperimentConfig:
    return ExperimentConfig(
        name="bc_pick_cube",
        model=BCConfig(action_dim=5, horizon=8, hidden=(512, 512, 512)),
        data=RldsDataConfig(path="out/demo/demos/jaxrobot_sim_pick_cube/1.0.0", n_obs_steps=1, horizon=8,
                            normalization="mean_std", cameras=None),
        optimizer=OptimizerConfig(lr=1e-3, warmup_steps=100, weight_decay=1e-4),
        train=TrainConfig(steps=3000, batch_size=256, log_every=250, checkpoint_every=1000),
    )
