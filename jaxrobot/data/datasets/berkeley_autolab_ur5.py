"""Berkeley Autolab UR5 (``berkeley_autolab_ur5`` in Open X-Embodiment).

Layout: ``steps/observation/image`` and ``steps/observation/hand_image`` 480x640 JPEG,
``steps/observation/robot_state`` float32[15] (6 joints, EEF xyz (3), quaternion (4), gripper (1),
action-blocked flag (1)), ``steps/observation/natural_language_instruction``, and an RT-1-style
action dict (``world_vector``, ``rotation_delta``, ``gripper_closedness_action``). State is
``robot_state[6:14]`` (pos + quat + gripper), as Octo's ``berkeley_autolab_ur5_dataset_transform``
takes it. 5 Hz.
"""

from jaxrobot.data.datasets.entry import DatasetEntry

UR5 = DatasetEntry(
    name="berkeley_autolab_ur5",
    cameras=(("primary", "steps/observation/image"), ("secondary", None),
             ("wrist", "steps/observation/hand_image")),
    state_keys=("steps/observation/robot_state[6:14]",),
    state_encoding="pos_quat",
    action_keys=("steps/action/world_vector", "steps/action/rotation_delta",
                 "steps/action/gripper_closedness_action"),
    action_encoding="eef_delta",
    gripper_convention="relative_pm1",
    language_key="steps/observation/natural_language_instruction",
    language_embedding_key="steps/observation/natural_language_embedding",
    control_hz=5.0,
    state_dim=8,
    action_dim=7,
)
