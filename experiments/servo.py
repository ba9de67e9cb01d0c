"""Deep visual servo net: (current, goal) image pairs -> camera twist; variants ``synthetic`` (default: 4-point
target, IBVS labels), ``target`` (MJX ``servo_target`` scene) and ``peg`` (MJX ``peg_servo`` insertion).

    jaxrobot train --config experiments/servo.py:synthetic --workdir /tmp/servo_synthetic
    jaxrobot export --workdir /tmp/servo_synthetic --out /tmp/servo_bundle --format onnx,tflite

    jaxrobot train --config experiments/servo.py:target --workdir /tmp/servo_target
    jaxrobot servo target --no-ibvs --workdir /tmp/servo_target

    jaxrobot train --config experiments/servo.py:peg --workdir /tmp/servo_peg
    jaxrobot servo peg --no-ibvs --workdir /tmp/servo_peg --episodes 100 --json

Results: bench/RESULTS.md ("Synthetic vision recipes" for ``synthetic``; "Visual servoing closed loop in MJX"
for ``target`` and ``peg``, measured with these checkpoints and with ``jaxrobot servo target|peg --deep``, which
trains the same data and net with its own small trainer).

``twist_scale`` is the labels' standard deviation on each variant's pool, so the network regresses O(1) targets.

- ``synthetic``: 4,096 kinematically generated 32x32 pairs (``jaxrobot.skills.servoing.synthetic.servo_pairs``:
  the current camera is the goal displaced by up to 4 cm and 0.25 rad per axis; the label is the IBVS law on the
  true features and depths); label std 0.023 m/s translation, 0.14 rad/s rotation.
- ``target``: 2,048 64x64 RGB pairs of the four-marker ``servo_target`` scene rendered with ``mjx.ray``
  (``jaxrobot.skills.servoing.dataset``; start = goal displaced by ±3 cm and ±10° per axis, every other pair
  shrunk towards the goal), labelled with the pose-based twist λ·log(T_cur⁻¹ T_goal), λ = 1/s.
- ``peg``: 4,096 64x64 RGB eye-in-hand pairs for peg insertion (``peg_servo_pairs`` in
  ``jaxrobot.skills.servoing.dataset``: hole anywhere in its ±5 cm range, start = pre-insertion goal displaced by
  ±2 cm in x, y, up to 2 cm up and ±10° yaw, every other pair shrunk towards the goal), labelled with the eye
  camera's pose-based twist (roll and pitch labels are 0: the gripper cannot tilt; their std floored at 1e-3).
"""

from jaxrobot.config import ConfigError
from jaxrobot.models.servo import ServoConfig
from jaxrobot.skills.servoing.dataset import PegServoPairsConfig, ServoTargetPairsConfig
from jaxrobot.skills.servoing.synthetic import SyntheticServoConfig
from jaxrobot.train.config import ExperimentConfig, OptimizerConfig, TrainConfig

VARIANTS = ("synthetic", "target", "peg")
NET = dict(conv_features=(16, 32, 64), hidden=(128,), loss="mse")


def get_config(arg: str | None = None) -> ExperimentConfig:
    variant = arg or VARIANTS[0]
    optimizer = OptimizerConfig(lr=1e-3, warmup_steps=50, weight_decay=1e-4, grad_clip=1.0)
    if variant == "synthetic":
        return ExperimentConfig(
            name="servo_synthetic",
            model=ServoConfig(**NET, twist_scale=(0.023, 0.023, 0.023, 0.14, 0.14, 0.14)),
            data=SyntheticServoConfig(num_pairs=4096, image_size=32, max_translation=0.04, max_rotation=0.25),
            optimizer=OptimizerConfig(lr=2e-3, warmup_steps=50, weight_decay=1e-4, grad_clip=1.0),
            train=TrainConfig(steps=2000, batch_size=64, log_every=100, checkpoint_every=500, seed=0),
            description="Deep visual servo net on synthetic IBVS-labelled image pairs; export smoke run.",
        )
    if variant == "target":
        return ExperimentConfig(
            name="servo_target",
            model=ServoConfig(**NET, twist_scale=(0.0143, 0.0142, 0.0141, 0.081, 0.082, 0.082)),
            data=ServoTargetPairsConfig(num_pairs=2048, image_size=64),
            optimizer=optimizer,
            train=TrainConfig(steps=1500, batch_size=64, log_every=250, checkpoint_every=1500, seed=0),
            description="Deep visual servo net on MJX-rendered servo_target pairs (pose-based twist labels).",
        )
    if variant == "peg":
        return ExperimentConfig(
            name="servo_peg",
            # twist std measured: `jaxrobot servo peg --deep` training info
            model=ServoConfig(**NET, twist_scale=(0.0094, 0.0105, 0.0057, 0.001, 0.001, 0.0815)),
            data=PegServoPairsConfig(num_pairs=4096, image_size=64),
            optimizer=optimizer,
            train=TrainConfig(steps=3000, batch_size=64, log_every=250, checkpoint_every=3000, seed=0),
            description="Deep visual servo net on MJX-rendered peg_servo pairs (pose-based twist labels).",
        )
    raise ConfigError(f"servo.py: unknown variant {arg!r}; known: {', '.join(VARIANTS)}")
