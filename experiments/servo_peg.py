"""Deep visual servo net for peg insertion, on MJX-rendered ``peg_servo`` pairs (64x64 RGB eye-in-hand view).

    jaxrobot train --config experiments/servo_peg.py --workdir /tmp/servo_peg
    python -m jaxrobot.servoing.peg --no-ibvs --workdir /tmp/servo_peg --episodes 100 --json

4,096 (current, goal) pairs rendered with ``mjx.ray`` (``peg_servo_pairs`` in ``jaxrobot.servoing.dataset``:
hole anywhere in its ±5 cm range, start = pre-insertion goal displaced by ±2 cm in x, y, up to 2 cm up and
±10° yaw, every other pair shrunk towards the goal), labelled with the eye camera's pose-based twist
λ·log(T_cur⁻¹ T_goal), λ = 1/s (roll and pitch labels are 0: the gripper cannot tilt). ``twist_scale`` is the
labels' standard deviation on this pool (the two zero components floored at 1e-3). The closed-loop numbers
come from ``python -m jaxrobot.servoing.peg --deep`` (same data and net, its own small trainer).
"""

from jaxrobot.models.servo import ServoConfig
from jaxrobot.servoing.dataset import PegServoPairsConfig
from jaxrobot.train.config import ExperimentConfig, OptimizerConfig, TrainConfig

TWIST_STD = (0.0094, 0.0105, 0.0057, 0.001, 0.001, 0.0815)  # measured: `peg --deep` training info


def get_config() -> ExperimentConfig:
    return ExperimentConfig(
        name="servo_peg",
        model=ServoConfig(conv_features=(16, 32, 64), hidden=(128,), twist_scale=TWIST_STD, loss="mse"),
        data=PegServoPairsConfig(num_pairs=4096, image_size=64),
        optimizer=OptimizerConfig(lr=1e-3, warmup_steps=50, weight_decay=1e-4, grad_clip=1.0),
        train=TrainConfig(steps=3000, batch_size=64, log_every=250, checkpoint_every=3000, seed=0),
        description="Deep visual servo net on MJX-rendered peg_servo pairs (pose-based twist labels).",
    )
