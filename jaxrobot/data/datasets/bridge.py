"""BridgeData V2 as built by ``rlds_dataset_builder`` (``bridge_dataset``; Octo's debug sample).

Layout: ``steps/observation/image_0..3`` 64-256 px JPEG (``image_3`` is often black padding),
``steps/observation/state`` float32[7] (EEF xyz, rpy, gripper), ``steps/action`` float32[7] (xyz delta,
rpy delta, gripper: 1 = open), ``steps/language_instruction``, ``steps/language_embedding`` float32[512].
Cameras follow Octo (primary = image_0, secondary = image_1, no wrist view); 5 Hz control
(Walke et al. 2023, BridgeData V2).
"""

from jaxrobot.data.datasets.entry import DatasetEntry

BRIDGE = DatasetEntry(
    name="bridge_dataset",
    cameras=(("primary", "steps/observation/image_0"), ("secondary", "steps/observation/image_1"),
             ("wrist", None)),
    state_keys=("steps/observation/state",),
    state_encoding="pos_euler",
    action_keys=("steps/action",),
    action_encoding="eef_delta",
    gripper_convention="open_is_1",
    language_key="steps/language_instruction",
    language_embedding_key="steps/language_embedding",
    control_hz=5.0,
    state_dim=7,
    action_dim=7,
)
