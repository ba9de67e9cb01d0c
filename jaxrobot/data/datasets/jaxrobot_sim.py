"""jaxrobot's own simulation demos (``jaxrobot_sim``), written by ``data_pipelines/jaxrobot_sim``.

Layout (defined here; the simulation package writes exactly this):

- ``steps/observation/state``          float32[S]   robot proprioception (joint positions, gripper)
- ``steps/observation/image_<cam>``    JPEG [H,W,3] one key per rendered camera (any names)
- ``steps/action``                     float32[A]   the commanded action
- ``steps/language_instruction``       string       task description ('' if none)
- ``steps/is_first/is_last/is_terminal`` bool, ``steps/reward``, ``steps/discount`` float32
- ``episode_metadata/success`` bool, ``episode_metadata/env`` string, ``episode_metadata/seed`` int64

Cameras are discovered from the ``steps/observation/image_`` prefix, so any camera set works.
"""

from jaxrobot.data.datasets.entry import DatasetEntry

JAXROBOT_SIM = DatasetEntry(
    name="jaxrobot_sim",
    cameras=(),
    camera_prefix="steps/observation/image_",
    state_keys=("steps/observation/state",),
    state_encoding="joint",
    action_keys=("steps/action",),
    action_encoding="joint_pos",
    gripper_convention="none",
    language_key="steps/language_instruction",
    control_hz=20.0,
)
