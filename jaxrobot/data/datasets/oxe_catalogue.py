"""The Open X-Embodiment catalogue: one row per dataset Octo configures, under Octo's names (58 datasets).

Each row becomes a :class:`~jaxrobot.data.datasets.entry.DatasetEntry` whose ``standardize`` output is what
Octo's standardisation transform produces for that dataset (octo-models/octo @ 241fb35,
``octo/data/oxe/oxe_dataset_configs.py`` for cameras and encodings, ``oxe_standardization_transforms.py``
for state, action, gripper and language), except where the dataset's published feature spec says otherwise:
then the row follows the spec and its comment (and the entry's ``notes``) says what Octo does instead.

Sources, cited per row in the entry's ``source``:

- Layouts (keys, shapes, dtypes, the meaning of each dim): the TFDS catalogue pages of the OXE datasets,
  https://www.tensorflow.org/datasets/catalog/<name> (their text is tensorflow/datasets
  ``docs/catalog/<name>.md``). Datasets that Octo converted itself (``bridge_dataset``, the ``aloha_*``,
  ``gnm_dataset``, ``fmb_dataset``, ``dobbe``, ``roboset``, ``rh20t``, ``mujoco_manip``) and the few whose
  page was not at hand (``language_table``, ``furniture_bench``, ``robo_net``, ``cmu_playing_with_food``)
  take their layout from Octo's transform, and say so.
- Control rates: the OXE dataset spreadsheet, as copied into huggingface/lerobot
  ``lerobot/common/datasets/push_dataset_to_hub/openx/configs.yaml`` (``fps``); ALOHA 50 Hz from
  Zhao et al. 2023; 0 where no source gives one.
- Gripper conventions: the spec's words where it states them; otherwise what Octo's transform assumes
  (``clip to [0, 1] then 1 - g`` is ``close_is_1``, reproduced exactly).

Rows give keys relative to ``steps/observation/`` (cameras, depth, state) and ``steps/`` (action, language);
a key already starting with ``steps/`` is taken as it is. ``zeros(N)``/``ones(N)`` are constant columns
(Octo pads missing action dims with them). Cameras are ``"primary secondary wrist"``, ``-`` for a view the
dataset lacks. The normalisation mask follows Octo's ``make_oxe_dataset_kwargs``: for end-effector actions
the last (gripper) dim is left unnormalised, for joint actions the 8th, for bimanual ones each arm's 7th.

Three datasets already had hand-written entries that keep the raw action (``bridge_dataset``,
``fractal20220817_data``, ``berkeley_autolab_ur5``, see their modules); their Octo-standardised rows here are
registered as ``<name>@octo`` (:data:`OCTO_SUFFIX`), which is what the named mixtures use.
"""

from __future__ import annotations

from typing import Any

from jaxrobot.data.datasets.entry import DatasetEntry

OCTO_SUFFIX = "@octo"
_OCTO = "octo-models/octo@241fb35 octo/data/oxe/oxe_standardization_transforms.py"
_RATE = "rate: OXE sheet via huggingface/lerobot openx/configs.yaml"
_CONVERTIBLE = ("close_is_1", "pm1_open_is_1", "pm1_close_is_1", "relative_pm1")


def _key(base: str, k: str) -> str:
    if k.startswith("steps/") or k.startswith(("zeros(", "ones(")):
        return k
    return base + k


def _views(spec: str) -> tuple[tuple[str, str | None], ...]:
    if not spec:
        return ()
    keys = spec.split()
    if len(keys) != 3:
        raise ValueError(f"camera spec {spec!r}: expected 'primary secondary wrist'")
    return tuple((cam, None if k == "-" else _key("steps/observation/", k))
                 for cam, k in zip(("primary", "secondary", "wrist"), keys, strict=True))


def _norm_mask(action_encoding: str, action_dim: int) -> tuple[bool, ...]:
    """Octo's ``action_normalization_mask`` for an action encoding (octo/data/oxe/__init__.py @ 241fb35)."""
    if not action_dim:
        return ()
    if action_encoding == "joint_pos_bimanual":
        return (True,) * 6 + (False,) + (True,) * 6 + (False,)
    if action_encoding == "joint_pos_bimanual_nav":
        return (True,) * 6 + (False,) + (True,) * 6 + (False,) + (True,) * 2
    if action_encoding == "nav_2d":
        return (True,) * action_dim
    return (True,) * (action_dim - 1) + (False,)


def _row(name: str, *, hz: float, cams: str, state: str = "", action: str = "action",
         enc: tuple[str, str] = ("pos_euler", "eef_delta"), grip: str = "unspecified", adim: int = 7,
         sdim: int = 0, lang: str = "language_instruction", emb: str | None = "auto", drop_lang: bool = False,
         depth: str = "", layout: str = "tfds", notes: str = "", clip: bool = False, **extra: Any) -> DatasetEntry:
    """One catalogue row -> its entry (see the module docstring for the key conventions)."""
    if emb == "auto":
        emb = {"language_instruction": "language_embedding",
               "observation/natural_language_instruction": "observation/natural_language_embedding"}.get(lang)
    state_enc, action_enc = enc
    if layout == "tfds":
        where = f"layout: tensorflow.org/datasets/catalog/{name}"
    else:
        where = f"layout: {layout}"
    rate = extra.pop("hz_source", _RATE) if hz else "rate: not published in the sources used"
    return DatasetEntry(
        name=name,
        cameras=_views(cams),
        depth_cameras=_views(depth),
        state_keys=tuple(_key("steps/observation/", k) for k in state.split()),
        state_encoding=state_enc,  # type: ignore[arg-type]
        action_keys=tuple(_key("steps/", k) for k in action.split()),
        action_encoding=action_enc,  # type: ignore[arg-type]
        gripper_convention=grip,  # type: ignore[arg-type]
        gripper_to_open_is_1=grip in _CONVERTIBLE or (clip and grip == "open_is_1"),
        integrate_relative_gripper=grip == "relative_pm1",
        language_key=_key("steps/", lang) if lang else None,
        language_embedding_key=_key("steps/", emb) if emb else None,
        drop_language=drop_lang,
        control_hz=float(hz),
        state_dim=sdim,
        action_dim=adim,
        action_norm_mask=_norm_mask(action_enc, adim),
        source=f"{where}; transform: {_OCTO}; {rate}",
        notes=notes,
        **extra,
    )


_ROWS = (
    # --- RT-X (Google-format) datasets: action dicts, observation/natural_language_instruction -------------
    _row("fractal20220817_data", hz=3, cams="image - -", state="base_pose_tool_reached gripper_closed",
         enc=("pos_quat", "eef_delta"), sdim=8,
         action="action/world_vector action/rotation_delta action/gripper_closedness_action",
         grip="relative_pm1", lang="observation/natural_language_instruction",
         notes="TFDS describes gripper_closedness_action as 'continuous gripper position'; RT-1's data hold "
               "relative close/open commands, which Octo integrates (rel2abs), as done here"),
    _row("kuka", hz=10, cams="image - -", state="clip_function_input/base_pose_tool_reached gripper_closed",
         enc=("pos_quat", "eef_delta"), sdim=8,
         action="action/world_vector action/rotation_delta action/gripper_closedness_action",
         grip="relative_pm1", lang="observation/natural_language_instruction", drop_lang=True,
         notes="the two state tensors are zlib-encoded; Octo decodes them by hand (it skips TFDS decoding), "
               "jaxrobot's reader decodes the encoding features.json declares"),
    # Octo's own BridgeData V2 build (rail.eecs.berkeley.edu/datasets/bridge_release/data/tfds), not OXE's.
    _row("bridge_dataset", hz=5, cams="image_0 image_1 -", state="state", sdim=7, grip="open_is_1",
         binarize_gripper=True, binarize_mode="hysteresis", relabel_action_from="steps/observation/state[0:6]",
         layout="Octo's BridgeData V2 build (as jaxrobot/data/datasets/bridge.py and tests/testdata)",
         notes="Octo binarises the gripper and replaces the movement dims by state differences "
               "(relabel_actions), dropping the last step"),
    # TFDS says the gripper dim is '-1 open, 1 close'; CALVIN's own dataset README (mees/calvin
    # dataset/README.md), whose format TACO-Play uses, says 'close = -1, open = 1', as Octo assumes.
    _row("taco_play", hz=15, cams="rgb_static - rgb_gripper", depth="depth_static - depth_gripper",
         state="robot_obs[0:7]", sdim=7, action="action/rel_actions_world", grip="pm1_open_is_1",
         lang="observation/natural_language_instruction",
         notes="gripper sign: TFDS text says -1 open, CALVIN's README and Octo say +1 open (followed); "
               "state: Octo takes robot_obs[7:8] (the first joint angle) as the gripper, here robot_obs[6] "
               "(gripper width) per the spec"),
    _row("jaco_play", hz=10, cams="image - image_wrist", state="end_effector_cartesian_pos", sdim=7,
         action="action/world_vector zeros(3) action/gripper_closedness_action", grip="relative_pm1",
         lang="observation/natural_language_instruction",
         notes="no rotation in the action (zeros, as Octo); state meaning not described by the spec, "
               "encoding as Octo"),
    _row("berkeley_cable_routing", hz=10, cams="image top_image wrist45_image", state="robot_state", sdim=7,
         enc=("joint", "eef_delta"), action="action/world_vector action/rotation_delta zeros(1)", grip="none",
         lang="observation/natural_language_instruction", drop_lang=True,
         notes="no gripper in the data: a constant 0 column as Octo"),
    _row("roboturk", hz=10, cams="front_rgb - -", enc=("none", "eef_delta"),
         action="action/world_vector action/rotation_delta action/gripper_closedness_action", grip="close_is_1",
         lang="observation/natural_language_instruction", drop_lang=True),
    _row("nyu_door_opening_surprising_effectiveness", hz=3, cams="- - image", enc=("none", "eef_delta"),
         action="action/world_vector action/rotation_delta action/gripper_closedness_action",
         grip="relative_pm1", lang="observation/natural_language_instruction", drop_lang=True),
    _row("viola", hz=20, cams="agentview_rgb - eye_in_hand_rgb", state="joint_states gripper_states", sdim=8,
         enc=("joint", "eef_delta"),
         action="action/world_vector action/rotation_delta action/gripper_closedness_action", grip="close_is_1",
         lang="observation/natural_language_instruction", drop_lang=True),
    _row("berkeley_autolab_ur5", hz=5, cams="image - hand_image", depth="image_with_depth - -",
         state="robot_state[6:14]", sdim=8, enc=("pos_quat", "eef_delta"),
         action="action/world_vector action/rotation_delta action/gripper_closedness_action",
         grip="relative_pm1", lang="observation/natural_language_instruction"),
    _row("toto", hz=30, cams="image - -", state="state", sdim=7, enc=("joint", "eef_delta"),
         action="action/world_vector action/rotation_delta action/open_gripper", grip="open_is_1",
         lang="observation/natural_language_instruction", drop_lang=True),
    # Language-Table: 2-D end-effector deltas; the instruction is int32[512] UTF-8 bytes padded with 0.
    _row("language_table", hz=10, cams="rgb - -", state="effector_translation", sdim=2,
         enc=("pos_xy", "eef_delta"), action="action zeros(4) ones(1)", grip="none",
         lang="observation/instruction", emb=None,
         layout="features.json of the OXE copy (rgb, effector_translation[2], instruction int32[512], action[2])",
         notes="gripper: constant 1 (open) as Octo; state is the 2-D effector translation (Octo calls it "
               "POS_EULER)"),
    _row("columbia_cairlab_pusht_real", hz=10, cams="image - wrist_image", state="robot_state", sdim=2,
         enc=("pos_xy", "eef_delta"),
         action="action/world_vector action/rotation_delta action/gripper_closedness_action",
         grip="relative_pm1", lang="observation/natural_language_instruction",
         notes="the spec says the gripper dim is relative (1 close, -1 open, 0 no change): integrated to an "
               "absolute 1 = open here, Octo passes it raw; state is end-effector x, y (Octo: POS_EULER)"),
    # --- datasets converted with the RLDS dataset builder: top-level language_instruction ------------------
    _row("stanford_kuka_multimodal_dataset_converted_externally_to_rlds", hz=20, cams="image - -",
         depth="depth_image - -", state="ee_position ee_orientation", sdim=7, enc=("pos_quat", "eef_delta"),
         action="action[0:3] zeros(3) action[3:4]"),
    _row("nyu_rot_dataset_converted_externally_to_rlds", hz=3, cams="image - -", state="state", sdim=7,
         action="action", grip="close_is_1",
         notes="the spec says the gripper is 0 open, 1 closed: inverted to 1 = open here, Octo passes it raw"),
    _row("stanford_hydra_dataset_converted_externally_to_rlds", hz=10, cams="image - wrist_image",
         state="state[0:3] state[7:10] state[24:25]", sdim=7, grip="close_is_1", drop_lang=True),
    _row("austin_buds_dataset_converted_externally_to_rlds", hz=20, cams="image - wrist_image",
         state="state[0:8]", sdim=8, enc=("joint", "eef_delta"), grip="close_is_1", drop_lang=True),
    _row("nyu_franka_play_dataset_converted_externally_to_rlds", hz=3, cams="image image_additional_view -",
         depth="depth depth_additional_view -", state="state[7:13]", sdim=6, action="action[7:13] action[13:14]",
         grip="open_is_1", clip=True, drop_lang=True,
         notes="gripper sign not in the spec ('gripper position'); Octo clips it to [0, 1] as 1 = open"),
    _row("maniskill_dataset_converted_externally_to_rlds", hz=20, cams="image - wrist_image",
         depth="depth - wrist_depth", state="tcp_pose state[7:8]", sdim=8, enc=("pos_quat", "eef_delta"),
         grip="pm1_open_is_1",
         notes="the spec says the gripper target is -1 close, 1 open: mapped to [0, 1] here, Octo passes it "
               "raw; tcp_pose quaternion is (w, x, y, z); the rotation action is axis-angle"),
    _row("furniture_bench_dataset_converted_externally_to_rlds", hz=10, cams="image - wrist_image",
         state="state[0:7] state[34:35]", sdim=8, enc=("pos_quat", "eef_delta"), action="action",
         action_quat_to_euler=3, grip="close_is_1", layout="Octo's transform (TFDS page not consulted); "
         "state width 35 as published by FurnitureBench"),
    _row("cmu_franka_exploration_dataset_converted_externally_to_rlds", hz=10, cams="highres_image - -",
         enc=("none", "eef_delta"), action="action[0:7]"),
    _row("ucsd_kitchen_dataset_converted_externally_to_rlds", hz=2, cams="image - -", state="state[0:7]", sdim=7,
         enc=("joint", "eef_pos"), action="action[0:7]",
         notes="the spec describes an end-effector position and orientation (absolute), Octo calls it EEF_POS"),
    _row("ucsd_pick_and_place_dataset_converted_externally_to_rlds", hz=3, cams="image - -", state="state",
         sdim=7, enc=("pos_euler", "eef_velocity"), action="action[0:3] zeros(3) action[3:4]",
         notes="action is gripper velocity + an open/close torque (sign not in the spec)"),
    _row("austin_sailor_dataset_converted_externally_to_rlds", hz=20, cams="image - wrist_image", state="state",
         sdim=8, enc=("pos_quat", "eef_delta"), grip="close_is_1", drop_lang=True),
    _row("austin_sirius_dataset_converted_externally_to_rlds", hz=20, cams="image - wrist_image", state="state",
         sdim=8, enc=("joint", "eef_delta"), grip="close_is_1", drop_lang=True,
         notes="the spec says state is 7 joint angles + gripper; Octo calls it POS_QUAT"),
    _row("bc_z", hz=10, cams="image - -", state="present/xyz present/axis_angle present/sensed_close", sdim=7,
         enc=("other", "eef_delta"),
         action="action/future/xyz_residual[0:3] action/future/axis_angle_residual[0:3] "
                "action/future/target_close[0:1]",
         grip="close_is_1", lang="observation/natural_language_instruction",
         notes="rotations are axis-angle (Octo calls the state POS_EULER); the action is the first of the 10 "
               "future actions stored per step"),
    _row("utokyo_pr2_opening_fridge_converted_externally_to_rlds", hz=10, cams="image - -", state="state", sdim=7,
         enc=("pos_euler", "eef_pos"), action="action[0:7]"),
    _row("utokyo_pr2_tabletop_manipulation_converted_externally_to_rlds", hz=10, cams="image - -", state="state",
         sdim=7, enc=("pos_euler", "eef_pos"), action="action[0:7]"),
    _row("utokyo_xarm_pick_and_place_converted_externally_to_rlds", hz=10, cams="image image2 hand_image",
         state="end_effector_pose", sdim=6, enc=("pos_euler", "eef_pos"),
         notes="Octo's transform sets no proprio; here end_effector_pose (position + yaw/pitch/roll)"),
    _row("utokyo_xarm_bimanual_converted_externally_to_rlds", hz=10, cams="image - -", state="pose_r", sdim=6,
         enc=("pos_euler", "eef_pos"), action="action[7:14]",
         notes="right arm only, as Octo; Octo reads proprio from 'end_effector_pose', which this dataset "
               "does not have: pose_r here"),
    _row("robo_net", hz=1, cams="image image1 -", state="state[0:4] zeros(2) state[4:5]", sdim=7,
         action="action[0:4] zeros(2) action[4:5]",
         layout="Octo's transform (TFDS page not consulted; 5-D state and action: x, y, z, yaw, gripper)",
         notes="Octo's proprio concat lacks its axis and fails if proprio is loaded"),
    _row("berkeley_mvp_converted_externally_to_rlds", hz=5, cams="- - hand_image", state="pose gripper", sdim=8,
         enc=("pos_quat", "joint_delta"), adim=8, grip="close_is_1"),
    _row("berkeley_rpt_converted_externally_to_rlds", hz=10, cams="- - hand_image", state="joint_pos gripper",
         sdim=8, enc=("joint", "joint_delta"), adim=8, grip="close_is_1", subsample=3,
         relabel_action_from="steps/observation/joint_pos[0:7]", hz_source="30 Hz recorded (OXE sheet via "
         "lerobot openx/configs.yaml), resampled by 3 as Octo"),
    _row("kaist_nonprehensile_converted_externally_to_rlds", hz=10, cams="image - -", state="state[14:21]",
         sdim=7, enc=("pos_quat", "eef_delta"), action="action[0:6] zeros(1)", grip="none",
         notes="no gripper: constant 0 as Octo; the state quaternion is (x, y, z, w)"),
    _row("stanford_mask_vit_converted_externally_to_rlds", hz=0, cams="image - -",
         state="end_effector_pose[0:4] zeros(2) end_effector_pose[4:5]", sdim=7,
         action="action[0:4] zeros(2) action[4:5]", grip="pm1_close_is_1",
         notes="the spec says -1 opens, 1 closes: mapped to 1 = open here, Octo passes it raw; yaw sits in "
               "dim 3 as in Octo"),
    _row("tokyo_u_lsmo_converted_externally_to_rlds", hz=10, cams="image - -", state="state[0:6] state[12:13]",
         sdim=7, enc=("pos_euler", "eef_pos")),
    _row("dlr_sara_pour_converted_externally_to_rlds", hz=10, cams="image - -", state="state", sdim=6,
         enc=("pos_euler", "eef_pos"), notes="the spec describes 6 of the 7 action dims; the 7th kept as Octo"),
    _row("dlr_sara_grid_clamp_converted_externally_to_rlds", hz=10, cams="image - -", state="state[0:6]", sdim=6,
         enc=("pos_euler", "eef_pos"), notes="the spec describes 6 of the 7 action dims; the 7th kept as Octo"),
    _row("dlr_edan_shared_control_converted_externally_to_rlds", hz=5, cams="image - -", state="state", sdim=7,
         enc=("pos_euler", "eef_pos"), grip="close_is_1"),
    _row("asu_table_top_converted_externally_to_rlds", hz=12.5, cams="image - -",
         state="steps/ground_truth_states/EE state[6:7]", sdim=7,
         notes="the spec's action text (joint and gripper velocities) does not match its 7 dims; kept as Octo"),
    _row("stanford_robocook_converted_externally_to_rlds", hz=5, cams="image_1 image_2 -", depth="depth_1 depth_2 -",
         state="state", sdim=7, enc=("pos_euler", "eef_velocity"),
         notes="the gripper dim is a velocity"),
    _row("imperialcollege_sawyer_wrist_cam", hz=10, cams="image - wrist_image", enc=("none", "eef_delta"),
         action="action[0:7]"),
    _row("iamlab_cmu_pickup_insert_converted_externally_to_rlds", hz=20, cams="image - wrist_image",
         state="state[0:8]", sdim=8, enc=("joint", "eef_pos"), action="action", action_quat_to_euler=3),
    _row("uiuc_d3field", hz=1, cams="image_1 image_2 -", depth="depth_1 depth_2 -", enc=("none", "eef_delta"),
         action="action zeros(4)", grip="none", notes="no rotation and no gripper: zeros as Octo"),
    _row("utaustin_mutex", hz=20, cams="image - wrist_image", state="state[0:8]", sdim=8, enc=("joint", "eef_delta"),
         grip="close_is_1", drop_lang=True),
    _row("berkeley_fanuc_manipulation", hz=10, cams="image - wrist_image", state="state[0:7]", sdim=7,
         enc=("joint", "eef_delta"), action="action observation/state[6:7]", grip="open_is_1",
         notes="no gripper action: the gripper state is used, as Octo; the spec calls it 'gripper open "
               "status' (1 = open, kept), Octo inverts it"),
    _row("cmu_playing_with_food", hz=10, cams="image - finger_vision_1", state="state", action="action",
         action_quat_to_euler=3, layout="Octo's transform (TFDS page not consulted; action: position, "
         "quaternion, gripper)"),
    _row("cmu_play_fusion", hz=5, cams="image - -", state="state", sdim=8, enc=("joint", "eef_delta"),
         action="action[0:8]", action_quat_to_euler=3,
         notes="Octo keeps action[:3] + action[-4:], i.e. two quaternion components, the gripper and the "
               "terminate flag; here position + Euler angles of the quaternion + gripper per the spec"),
    _row("cmu_stretch", hz=10, cams="image - -", state="state[0:3] zeros(3) state[3:4]", sdim=7,
         action="action[0:7]"),
    _row("gnm_dataset", hz=0, cams="image - -", state="state", sdim=3, enc=("pos_nav", "nav_2d"), adim=2,
         grip="none", emb=None, layout="Octo's transform (Octo's merge of the GNM datasets)",
         unsupported_transforms=("Octo resamples by 3 and recomputes the 2-D waypoint action from position "
                                 "and yaw in the robot frame with a per-episode scale; here the stored action",)),
    _row("aloha_static_dataset", hz=10, cams="cam_high cam_low cam_right_wrist", state="state", sdim=14,
         enc=("joint_bimanual", "joint_pos_bimanual"), adim=14, gripper_dims=(6, 13), grip="open_is_1",
         subsample=5, emb=None, layout="Octo's transform (Octo's own RLDS build of ALOHA)",
         hz_source="50 Hz recorded (Zhao et al. 2023), resampled by 5 as Octo"),
    _row("aloha_dagger_dataset", hz=10, cams="cam_high cam_low cam_right_wrist", state="state", sdim=14,
         enc=("joint_bimanual", "joint_pos_bimanual"), adim=14, gripper_dims=(6, 13), grip="open_is_1",
         subsample=5, emb=None, layout="Octo's transform (Octo's own RLDS build of ALOHA)",
         hz_source="50 Hz recorded (Zhao et al. 2023), resampled by 5 as Octo"),
    _row("aloha_mobile_dataset", hz=10, cams="cam_high - cam_right_wrist", state="state", sdim=14,
         enc=("joint_bimanual", "joint_pos_bimanual_nav"), adim=16, gripper_dims=(6, 13), grip="open_is_1",
         subsample=5, emb=None, layout="Octo's transform (Octo's own RLDS build of Mobile ALOHA)",
         hz_source="50 Hz recorded (Zhao et al. 2023), resampled by 5 as Octo"),
    _row("fmb_dataset", hz=10, cams="image_side_1 image_side_2 image_wrist_1",
         depth="image_side_1_depth image_side_2_depth image_wrist_1_depth", state="eef_pose state_gripper_pose",
         emb=None, layout="Octo's transform (Octo's own build of FMB)"),
    _row("dobbe", hz=3.75, cams="- - wrist_image", state="state", sdim=7, emb=None,
         layout="Octo's transform (Octo's own build of Dobb-E)"),
    _row("roboset", hz=5, cams="image_left image_right image_wrist", state="state", sdim=8,
         enc=("joint", "joint_pos"), adim=8, grip="close_is_1", emb=None,
         layout="Octo's transform (Octo's own build of RoboSet)",
         notes="Octo: the gripper is in -1..1, clipped to 0..1 and inverted (reproduced)"),
    _row("rh20t", hz=0, cams="image_front image_side_right image_wrist", state="tcp_base gripper_width",
         action="action/tcp_base action/gripper", adim=0, emb=None,
         layout="Octo's transform (Octo's own build of RH20T)"),
    _row("mujoco_manip", hz=0, cams="image - -", grip="close_is_1", gripper_scale=255.0, emb=None,
         layout="Octo's transform (an Octo-internal simulated dataset)",
         notes="the gripper is stored in 0..255 (255 = closed); Octo's transform sets no proprio"),
)

#: Every row as its Octo-standardised entry, by Octo's dataset name.
CATALOGUE: dict[str, DatasetEntry] = {e.name: e for e in _ROWS}

if len(CATALOGUE) != len(_ROWS):  # a name written twice
    raise ValueError("oxe_catalogue: duplicate dataset names")
