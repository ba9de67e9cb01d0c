"""ALOHA-style bimanual episodes, as ``data_pipelines/hdf5_episodes`` writes them from HDF5.

Layout (mirrors the ALOHA/ACT HDF5 files): ``steps/observation/qpos`` float32[14] (per arm 6 joints +
1 gripper, left then right), ``steps/observation/images/<cam>`` JPEG for cam_high / cam_low /
cam_left_wrist / cam_right_wrist (any subset; missing views are padded), ``steps/action`` float32[14]
(absolute joint targets, same order), ``steps/language_instruction``. 50 Hz (Zhao et al. 2023, ACT).
Grippers are dims 6 and 13, normalised 0 = closed .. 1 = open in ALOHA's recordings.
"""

from jaxrobot.data.datasets.entry import DatasetEntry

ALOHA = DatasetEntry(
    name="aloha",
    cameras=(("primary", "steps/observation/images/cam_high"), ("secondary", "steps/observation/images/cam_low"),
             ("left_wrist", "steps/observation/images/cam_left_wrist"),
             ("right_wrist", "steps/observation/images/cam_right_wrist")),
    optional_cameras=True,
    state_keys=("steps/observation/qpos",),
    state_encoding="joint_bimanual",
    action_keys=("steps/action",),
    action_encoding="joint_pos_bimanual",
    gripper_convention="open_is_1",
    gripper_dims=(6, 13),
    language_key="steps/language_instruction",
    control_hz=50.0,
    state_dim=14,
    action_dim=14,
)
