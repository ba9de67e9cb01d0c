"""RT-1 robot data (``fractal20220817_data`` in Open X-Embodiment).

Layout: ``steps/observation/image`` 256x320 JPEG, ``steps/observation/base_pose_tool_reached``
float32[7] (xyz + quaternion), ``steps/observation/gripper_closed`` float32[1],
``steps/observation/natural_language_instruction`` string, and an action dict
``steps/action/{world_vector[3], rotation_delta[3], gripper_closedness_action[1], terminate_episode[3], ...}``.
The standard action is ``[world_vector, rotation_delta, gripper_closedness_action]`` (7-D, every
step kept); the gripper is relative (+1 close, -1 open). 3 Hz, as in Octo's OXE config.
"""

from jaxrobot.data.datasets.entry import DatasetEntry

FRACTAL = DatasetEntry(
    name="fractal20220817_data",
    cameras=(("primary", "steps/observation/image"), ("secondary", None), ("wrist", None)),
    state_keys=("steps/observation/base_pose_tool_reached", "steps/observation/gripper_closed"),
    state_encoding="pos_quat",
    action_keys=("steps/action/world_vector", "steps/action/rotation_delta",
                 "steps/action/gripper_closedness_action"),
    action_encoding="eef_delta",
    gripper_convention="relative_pm1",
    language_key="steps/observation/natural_language_instruction",
    language_embedding_key="steps/observation/natural_language_embedding",
    control_hz=3.0,
    state_dim=8,
    action_dim=7,
)
