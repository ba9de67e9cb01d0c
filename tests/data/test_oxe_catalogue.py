"""The Open X-Embodiment catalogue: every entry on a fixture with its dataset's own feature layout, the named
mixtures, the ``data.mixture`` config path end to end, and ``jaxrobot data datasets --json``.

The layouts below are transcribed from the datasets' published feature specs (TFDS catalogue pages,
tensorflow.org/datasets/catalog/<name>; for Octo's own builds, from Octo's transforms), independently of the
entries: keys, per-step shapes, dtypes and encodings. Images are scaled down to 6 x 8 (and depth maps with
them) to keep the fixtures small; vector widths are the real ones. Each dataset is written with jaxrobot's own
RLDS writer into a session-wide data_dir and read back through the normal reader.

Fixture deviation: ``berkeley_autolab_ur5``'s ``image_with_depth`` is a TFDS float32 Image (PNG of the
float bytes) in the real data; it is written here as a float32 tensor, which jaxrobot's writer supports.
"""

from __future__ import annotations

import argparse
import dataclasses
import json
import shutil

import numpy as np
import pytest

from jaxrobot.config import ConfigError, override, validate
from jaxrobot.data.base import DataError
from jaxrobot.data.datasets import (
    MIXTURES,
    get_entry,
    list_entries,
    mixture_entry_name,
    mixture_weights,
    parse_key,
)
from jaxrobot.data.datasets.entry import parse_constant
from jaxrobot.data.datasets.oxe_catalogue import CATALOGUE
from jaxrobot.data.rlds.reader import RldsDataset
from jaxrobot.data.rlds.writer import write_rlds
from jaxrobot.data.standardize import quat_to_euler, rel2abs_gripper, standardize

EMB = "language_instruction:str language_embedding:f32[512]"
RTX_LANG = "natural_language_instruction:str natural_language_embedding:f32[512]"
RTX_ACT = "action/world_vector:f32[3] action/rotation_delta:f32[3] action/terminate_episode:f32"

# name: (observation features, other step features, action dim, state dim, views, depth views, language kept)
# views/depth: letters of the standard views the standardised episode must hold (p primary, s secondary, w wrist).
LAYOUTS: dict[str, tuple[str, str, int, int, str, str, bool]] = {
    "fractal20220817_data": (f"image:img base_pose_tool_reached:f32[7] gripper_closed:f32[1] {RTX_LANG}",
                             "action/world_vector:f32[3] action/rotation_delta:f32[3] "
                             "action/gripper_closedness_action:f32[1] action/terminate_episode:i32[3] "
                             "action/base_displacement_vector:f32[2]", 7, 8, "p", "", True),
    "kuka": (f"image:img clip_function_input/base_pose_tool_reached:z:f32[7] gripper_closed:z:f32[1] {RTX_LANG}",
             "action/world_vector:f32[3] action/rotation_delta:f32[3] action/gripper_closedness_action:f32[1] "
             "action/terminate_episode:i32[3]", 7, 8, "p", "", False),
    "bridge_dataset": ("image_0:img image_1:img image_2:img image_3:img state:f32[7]",
                       f"action:f32[7] {EMB} discount:f32", 7, 7, "ps", "", True),
    "taco_play": ("rgb_static:img rgb_gripper:img depth_static:f32[6,8] depth_gripper:f32[6,8] robot_obs:f32[15] "
                  f"{RTX_LANG} structured_language_instruction:str",
                  "action/actions:f32[7] action/rel_actions_gripper:f32[7] action/rel_actions_world:f32[7] "
                  "action/terminate_episode:f32", 7, 7, "pw", "pw", True),
    "jaco_play": ("image:img image_wrist:img end_effector_cartesian_pos:f32[7] end_effector_cartesian_velocity:f32[6] "
                  f"joint_pos:f32[8] {RTX_LANG}", "action/gripper_closedness_action:f32[1] "
                  "action/terminate_episode:i32[3] action/world_vector:f32[3]", 7, 7, "pw", "", True),
    "berkeley_cable_routing": (f"image:img top_image:img wrist45_image:img wrist225_image:img robot_state:f32[7] "
                               f"{RTX_LANG}", RTX_ACT, 7, 7, "psw", "", False),
    "roboturk": (f"front_rgb:img {RTX_LANG}", f"{RTX_ACT} action/gripper_closedness_action:f32[1]",
                 7, 0, "p", "", False),
    "nyu_door_opening_surprising_effectiveness": (f"image:img {RTX_LANG}",
                                                  f"{RTX_ACT} action/gripper_closedness_action:f32[1]",
                                                  7, 0, "w", "", False),
    "viola": (f"agentview_rgb:img eye_in_hand_rgb:img ee_states:f32[16] gripper_states:f32[1] joint_states:f32[7] "
              f"{RTX_LANG}", f"{RTX_ACT} action/gripper_closedness_action:f32", 7, 8, "pw", "", False),
    "berkeley_autolab_ur5": (f"image:img hand_image:img image_with_depth:f32[6,8,1] robot_state:f32[15] {RTX_LANG}",
                             f"{RTX_ACT} action/gripper_closedness_action:f32", 7, 8, "pw", "p", True),
    "toto": (f"image:img state:f32[7] {RTX_LANG}", f"{RTX_ACT} action/open_gripper:bool", 7, 7, "p", "", False),
    "language_table": ("rgb:img effector_translation:f32[2] effector_target_translation:f32[2] instruction:i32[512]",
                       "action:f32[2]", 7, 2, "p", "", True),
    "columbia_cairlab_pusht_real": (f"image:img wrist_image:img robot_state:f32[2] {RTX_LANG}",
                                    f"{RTX_ACT} action/gripper_closedness_action:f32", 7, 2, "pw", "", True),
    "stanford_kuka_multimodal_dataset_converted_externally_to_rlds": (
        "image:img depth_image:f32[6,8,1] ee_position:f32[3] ee_orientation:f32[4] ee_vel:f32[3] joint_pos:f32[7] "
        "state:f32[8] contact:f32[50]", f"action:f32[4] {EMB} discount:f32", 7, 7, "p", "p", True),
    "nyu_rot_dataset_converted_externally_to_rlds": ("image:img state:f32[7]", f"action:f32[7] {EMB}",
                                                     7, 7, "p", "", True),
    "stanford_hydra_dataset_converted_externally_to_rlds": ("image:img wrist_image:img state:f32[27]",
                                                            f"action:f32[7] is_dense:bool {EMB}", 7, 7, "pw", "",
                                                            False),
    "austin_buds_dataset_converted_externally_to_rlds": ("image:img wrist_image:img state:f32[24]",
                                                         f"action:f32[7] {EMB}", 7, 8, "pw", "", False),
    "nyu_franka_play_dataset_converted_externally_to_rlds": (
        "image:img image_additional_view:img depth:i32[6,8,1] depth_additional_view:i32[6,8,1] state:f32[13]",
        f"action:f32[15] {EMB}", 7, 6, "ps", "ps", False),
    "maniskill_dataset_converted_externally_to_rlds": (
        "image:img wrist_image:img depth:png16 wrist_depth:png16 state:f32[18] tcp_pose:f32[7] base_pose:f32[7] "
        "main_camera_intrinsic_cv:f32[3,3]", f"action:f32[7] {EMB}", 7, 8, "pw", "pw", True),
    "furniture_bench_dataset_converted_externally_to_rlds": ("image:img wrist_image:img state:f32[35]",
                                                             f"action:f32[8] {EMB}", 7, 8, "pw", "", True),
    "cmu_franka_exploration_dataset_converted_externally_to_rlds": (
        "highres_image:img image:img", f"action:f32[8] structured_action:f32[8] {EMB}", 7, 0, "p", "", True),
    "ucsd_kitchen_dataset_converted_externally_to_rlds": ("image:img state:f32[21]", f"action:f32[8] {EMB}",
                                                          7, 7, "p", "", True),
    "ucsd_pick_and_place_dataset_converted_externally_to_rlds": ("image:img state:f32[7]", f"action:f32[4] {EMB}",
                                                                 7, 7, "p", "", True),
    "austin_sailor_dataset_converted_externally_to_rlds": (
        "image:img wrist_image:img state:f32[8] state_ee:f32[16] state_gripper:f32[1] state_joint:f32[7]",
        f"action:f32[7] {EMB}", 7, 8, "pw", "", False),
    "austin_sirius_dataset_converted_externally_to_rlds": (
        "image:img wrist_image:img state:f32[8] state_ee:f32[16] state_gripper:f32[1] state_joint:f32[7]",
        f"action:f32[7] action_mode:f32[1] intv_label:f32[1] {EMB}", 7, 8, "pw", "", False),
    "bc_z": (f"image:img {RTX_LANG} present/xyz:f32[3] present/axis_angle:f32[3] present/sensed_close:f32[1] "
             "present/autonomous:i64 episode_success:f32", "action/future/xyz_residual:f32[30] "
             "action/future/axis_angle_residual:f32[30] action/future/target_close:i64[10]", 7, 7, "p", "", True),
    "utokyo_pr2_opening_fridge_converted_externally_to_rlds": ("image:img state:f32[7]", f"action:f32[8] {EMB}",
                                                               7, 7, "p", "", True),
    "utokyo_pr2_tabletop_manipulation_converted_externally_to_rlds": ("image:img state:f32[7]",
                                                                      f"action:f32[8] {EMB}", 7, 7, "p", "", True),
    "utokyo_xarm_pick_and_place_converted_externally_to_rlds": (
        "image:img image2:img hand_image:img end_effector_pose:f32[6] joint_state:f32[14] joint_trajectory:f32[21]",
        f"action:f32[7] {EMB}", 7, 6, "psw", "", True),
    "utokyo_xarm_bimanual_converted_externally_to_rlds": (
        "image:img action_l:f32[7] action_r:f32[7] pose_l:f32[6] pose_r:f32[6]", f"action:f32[14] {EMB}",
        7, 6, "p", "", True),
    "robo_net": ("image:img image1:img image2:img state:f32[5]", f"action:f32[5] {EMB}", 7, 7, "ps", "", True),
    "berkeley_mvp_converted_externally_to_rlds": ("hand_image:img gripper:bool joint_pos:f32[7] pose:f32[7]",
                                                  f"action:f32[8] {EMB}", 8, 8, "w", "", True),
    "berkeley_rpt_converted_externally_to_rlds": ("hand_image:img gripper:bool joint_pos:f32[7]",
                                                  f"action:f32[8] {EMB}", 8, 8, "w", "", True),
    "kaist_nonprehensile_converted_externally_to_rlds": ("image:img partial_pointcloud:f32[512,3] state:f32[21]",
                                                         f"action:f32[20] {EMB}", 7, 7, "p", "", True),
    "stanford_mask_vit_converted_externally_to_rlds": (
        "image:img end_effector_pose:f32[5] finger_sensors:f32[1] high_bound:f32[5] low_bound:f32[5] state:f32[15]",
        f"action:f32[5] {EMB}", 7, 7, "p", "", True),
    "tokyo_u_lsmo_converted_externally_to_rlds": ("image:img state:f32[13]", f"action:f32[7] {EMB}",
                                                  7, 7, "p", "", True),
    "dlr_sara_pour_converted_externally_to_rlds": ("image:img state:f32[6]", f"action:f32[7] {EMB}",
                                                   7, 6, "p", "", True),
    "dlr_sara_grid_clamp_converted_externally_to_rlds": ("image:img state:f32[12]", f"action:f32[7] {EMB}",
                                                         7, 6, "p", "", True),
    "dlr_edan_shared_control_converted_externally_to_rlds": ("image:img state:f32[7]", f"action:f32[7] {EMB}",
                                                             7, 7, "p", "", True),
    "asu_table_top_converted_externally_to_rlds": (
        "image:img state:f32[7] state_vel:f32[7]", f"action:f32[7] action_delta:f32[7] action_inst:str "
        f"goal_object:str ground_truth_states/EE:f32[6] ground_truth_states/cube:f32[6] {EMB}", 7, 7, "p", "", True),
    "stanford_robocook_converted_externally_to_rlds": (
        "image_1:img image_2:img image_3:img image_4:img depth_1:f32[6,8] depth_2:f32[6,8] depth_3:f32[6,8] "
        "depth_4:f32[6,8] state:f32[7]", f"action:f32[7] {EMB}", 7, 7, "ps", "ps", True),
    "imperialcollege_sawyer_wrist_cam": ("image:img wrist_image:img state:f32[1]", f"action:f32[8] {EMB}",
                                         7, 0, "pw", "", True),
    "iamlab_cmu_pickup_insert_converted_externally_to_rlds": ("image:img wrist_image:img state:f32[20]",
                                                              f"action:f32[8] {EMB}", 7, 8, "pw", "", True),
    "uiuc_d3field": ("image_1:img image_2:img image_3:img image_4:img depth_1:png16 depth_2:png16 depth_3:png16 "
                     "depth_4:png16 state:f32[4,4]", f"action:f32[3] {EMB}", 7, 0, "ps", "ps", True),
    "utaustin_mutex": ("image:img wrist_image:img state:f32[24]", f"action:f32[7] {EMB}", 7, 8, "pw", "", False),
    "berkeley_fanuc_manipulation": ("image:img wrist_image:img end_effector_state:f32[7] state:f32[13]",
                                    f"action:f32[6] {EMB}", 7, 7, "pw", "", True),
    "cmu_playing_with_food": ("image:img finger_vision_1:img state:f32[7]", f"action:f32[8] {EMB}",
                              7, 7, "pw", "", True),
    "cmu_play_fusion": ("image:img state:f32[8]", f"action:f32[9] {EMB}", 7, 8, "p", "", True),
    "cmu_stretch": ("image:img state:f32[4]", f"action:f32[8] {EMB}", 7, 7, "p", "", True),
    "gnm_dataset": ("image:img state:f32[3] position:f32[2] yaw:f32[1]", "action:f32[2] language_instruction:str",
                    2, 3, "p", "", True),
    "aloha_static_dataset": ("cam_high:img cam_low:img cam_left_wrist:img cam_right_wrist:img state:f32[14]",
                             "action:f32[14] language_instruction:str", 14, 14, "psw", "", True),
    "aloha_dagger_dataset": ("cam_high:img cam_low:img cam_left_wrist:img cam_right_wrist:img state:f32[14]",
                             "action:f32[14] language_instruction:str", 14, 14, "psw", "", True),
    "aloha_mobile_dataset": ("cam_high:img cam_left_wrist:img cam_right_wrist:img state:f32[14]",
                             "action:f32[16] language_instruction:str", 16, 14, "pw", "", True),
    "fmb_dataset": ("image_side_1:img image_side_2:img image_wrist_1:img image_wrist_2:img image_side_1_depth:png16 "
                    "image_side_2_depth:png16 image_wrist_1_depth:png16 image_wrist_2_depth:png16 eef_pose:f32[7] "
                    "state_gripper_pose:f32", "action:f32[7] language_instruction:str", 7, 8, "psw", "psw", True),
    "dobbe": ("wrist_image:img state:f32[7]", "action:f32[7] language_instruction:str", 7, 7, "w", "", True),
    "roboset": ("image_left:img image_right:img image_wrist:img state:f32[8]", "action:f32[8] language_instruction:str",
                8, 8, "psw", "", True),
    "rh20t": ("image_front:img image_side_right:img image_wrist:img tcp_base:f32[6] gripper_width:f32",
              "action/tcp_base:f32[6] action/gripper:f32 language_instruction:str", 7, 7, "psw", "", True),
    "mujoco_manip": ("image:img", "action:f32[7] language_instruction:str", 7, 0, "p", "", True),
}
LENGTHS = (7, 5)
VIEWS = {"p": "primary", "s": "secondary", "w": "wrist"}


def _feature(spec: str) -> dict:
    """``img`` / ``png16`` / ``str`` / ``[z:]f32[4,4]`` / ``bool`` -> a flat feature spec entry."""
    if spec == "img":
        return {"shape": (6, 8, 3), "dtype": "uint8", "encoding": "jpeg"}
    if spec == "png16":
        return {"shape": (6, 8, 1), "dtype": "uint16", "encoding": "png"}
    if spec == "str":
        return {"shape": (), "dtype": "string", "encoding": "text"}
    encoding = "tensor"
    if spec.startswith("z:"):
        encoding, spec = "tensor_zlib", spec[2:]
    dtype, _, dims = spec.partition("[")
    shape = tuple(int(d) for d in dims.rstrip("]").split(",")) if dims else ()
    dtype = {"f32": "float32", "i32": "int32", "i64": "int64", "bool": "bool"}[dtype]
    return {"shape": shape, "dtype": dtype, "encoding": encoding if shape else "scalar"}


def layout(name: str) -> dict[str, dict]:
    obs, other = LAYOUTS[name][:2]
    out = {"steps/is_first": _feature("bool"), "steps/is_last": _feature("bool"),
           "steps/is_terminal": _feature("bool"), "steps/reward": _feature("f32")}
    for prefix, part in (("steps/observation/", obs), ("steps/", other)):
        for item in part.split():
            key, spec = item.split(":", 1)
            out[prefix + key] = _feature(spec)
    return out


def _values(key: str, f: dict, t: int, rng: np.random.Generator):
    if f["encoding"] == "jpeg":
        base = rng.integers(40, 200, 3)
        return np.clip(base + rng.integers(-20, 20, (t, 6, 8, 3)), 0, 255).astype(np.uint8)
    if f["encoding"] == "png":
        return rng.integers(1, 60000, (t, *f["shape"])).astype(np.uint16)
    if f["encoding"] == "text":
        return [f"pick the block {t}"] * t
    if key.endswith("is_first"):
        return np.arange(t) == 0
    if key.endswith(("is_last", "is_terminal")):
        return np.arange(t) == t - 1
    if key.endswith("instruction") and f["dtype"] == "int32":  # Language-Table: UTF-8 bytes padded with 0
        row = np.zeros(512, np.int32)
        text = b"push the red star to the left"
        row[:len(text)] = list(text)
        return np.tile(row, (t, 1))
    shape = (t, *f["shape"])
    if f["dtype"] == "bool":
        return rng.random(shape) < 0.5
    if f["dtype"].startswith("int"):
        return rng.integers(0, 2, shape).astype(f["dtype"])
    return rng.uniform(-1.5, 1.5, shape).astype(np.float32)


def make_episodes(name: str, seed: int = 0, overrides: dict | None = None) -> list[dict]:
    rng = np.random.default_rng([seed, len(name)])
    episodes = []
    for t in LENGTHS:
        ep = {k: _values(k, f, t, rng) for k, f in layout(name).items()}
        for k, fn in (overrides or {}).items():
            ep[k] = fn(t)
        episodes.append(ep)
    return episodes


def write(root, name: str, episodes: list[dict] | None = None) -> str:
    return write_rlds(str(root), name, episodes or make_episodes(name), features=layout(name), progress=False)


@pytest.fixture(scope="session")
def data_dir(tmp_path_factory):
    """Every catalogue dataset as a tiny RLDS folder under one TFDS-style data_dir."""
    root = tmp_path_factory.mktemp("oxe")
    for name in LAYOUTS:
        write(root, name)
    return root


def entry_for(name: str):
    return get_entry(mixture_entry_name(name))


def _key_specs(entry) -> list[tuple[str, str]]:
    out = [(what, k) for what, pairs in (("camera", entry.cameras), ("depth", entry.depth_cameras))
           for _, k in pairs if k is not None]
    out += [("state", k) for k in entry.state_keys] + [("action", k) for k in entry.action_keys]
    if entry.relabel_action_from:
        out.append(("relabel", entry.relabel_action_from))
    if entry.language_key:
        out.append(("language", entry.language_key))
    if entry.language_embedding_key:
        out.append(("embedding", entry.language_embedding_key))
    return [(w, k) for w, k in out if parse_constant(k) is None]


def test_catalogue_covers_octo_and_the_layouts():
    assert len(CATALOGUE) == 58 and set(CATALOGUE) == set(LAYOUTS)
    for name in CATALOGUE:
        assert mixture_entry_name(name) in list_entries()
    # the hand-written entries keep their raw action; the catalogue's are <name>@octo
    for name in ("bridge_dataset", "fractal20220817_data", "berkeley_autolab_ur5"):
        assert mixture_entry_name(name) == name + "@octo"
        assert not get_entry(name).gripper_to_open_is_1 and get_entry(name + "@octo").source
    assert mixture_entry_name("taco_play") == "taco_play"


@pytest.mark.parametrize("name", sorted(LAYOUTS))
def test_entry_on_its_layout(data_dir, name):
    adim, sdim, views, depth_views, lang = LAYOUTS[name][2:]
    entry = entry_for(name)
    versions = list((data_dir / name).iterdir())
    ds = RldsDataset(str(versions[0]), "train", decode_images=False)
    spec = ds.feature_spec()
    want = layout(name)
    assert set(spec) == set(want)
    for k, f in want.items():  # the written layout reads back: shapes, dtypes, encodings
        lead = (None,) if k.startswith("steps/") else ()
        assert tuple(spec[k]["shape"]) == lead + tuple(f["shape"]), k
        assert spec[k]["dtype"] == f["dtype"] and spec[k]["encoding"] == f["encoding"], k
    for what, ks in _key_specs(entry):  # every key the entry names is in the published layout, slices in range
        key, sl = parse_key(ks)
        assert key in spec, f"{name}: {what} key {key!r} not in the layout"
        f = spec[key]
        if what in ("camera",):
            assert f["encoding"] == "jpeg" and f["shape"][-1] == 3
        elif what in ("state", "action", "relabel"):
            width = f["shape"][-1] if len(f["shape"]) > 1 else 1
            assert f["dtype"] != "string" and (sl.stop or 0) <= width, (name, ks, f)
    for i, t in enumerate(LENGTHS):
        raw = ds.episode(i)
        ep = standardize(raw, entry, episode_id=i, decode_images=True, depth=True)
        n = ep["length"]
        assert n >= 1 and ep["action"].shape == (n, adim) and ep["state"].shape == (n, sdim)
        assert ep["action"].dtype == np.float32 and ep["state"].dtype == np.float32
        assert np.isfinite(ep["action"]).all() and ep["is_first"].tolist() == [True] + [False] * (n - 1)
        assert list(ep["images"]) == ["primary", "secondary", "wrist"]
        for letter, cam in VIEWS.items():
            frames = ep["images"][cam]
            assert frames.dtype == np.uint8 and frames.shape == (n, 6, 8, 3)
            assert bool(frames.any()) == (letter in views), (name, cam)
            d = ep["depth"].get(cam)
            assert (d is not None) == (letter in depth_views), (name, cam)
            if d is not None:
                assert d.dtype == np.float32 and d.shape == (n, 6, 8)
        assert (ep["language"] is not None) == lang
        if lang:
            assert ep["language"] in (f"pick the block {t}", "push the red star to the left")
        if entry.gripper_to_open_is_1:
            g = ep["action"][:, list(entry.gripper_dims)]
            assert ((g >= 0) & (g <= 1)).all()
        if entry.action_norm_mask:
            assert len(entry.action_norm_mask) == adim
            assert all(entry.action_norm_mask) == (entry.action_encoding == "nav_2d")  # grippers stay raw
        if entry.subsample == 1 and entry.relabel_action_from is None and entry.action_quat_to_euler < 0:
            _check_columns(raw, ep, entry, t)


def _check_columns(raw: dict, ep: dict, entry, t: int) -> None:
    """Untransformed action/state columns are the stored values (constants where the entry pads)."""
    for what, specs in (("action", entry.action_keys), ("state", entry.state_keys)):
        if not specs:
            continue
        cols = []
        for s in specs:
            const = parse_constant(s)
            if const is not None:
                cols.append(np.full((t, const[1]), const[0], np.float32))
                continue
            key, sl = parse_key(s)
            v = np.asarray(raw[key]).astype(np.float32)
            cols.append((v[:, None] if v.ndim == 1 else v)[..., sl])
        want = np.concatenate(cols, axis=-1)
        keep = np.ones(want.shape[1], bool)
        if what == "action" and entry.gripper_convention != "none":
            keep[list(entry.gripper_dims)] = False
        np.testing.assert_array_equal(ep[what][:, keep], want[:, keep])


# ---------------------------------------------------------------- transforms, on real read-back fixtures


def _read(tmp_path, name: str, overrides: dict, entry=None, **kw) -> list[dict]:
    path = write(tmp_path, name, make_episodes(name, overrides=overrides))
    ds = RldsDataset(path, "train", decode_images=False)
    return [standardize(ds.episode(i), entry or entry_for(name), episode_id=i, **kw) for i in range(len(ds))]


def test_relative_gripper_is_integrated_like_octo(tmp_path):
    cmd = {7: [0, 1, 0, 0, -1, 0, 1], 5: [0, 0, 0, 0, 0]}
    eps = _read(tmp_path, "fractal20220817_data",
                {"steps/action/gripper_closedness_action": lambda t: np.array(cmd[t], np.float32)[:, None]})
    # a close first: open before it; each command holds; no command at all: open throughout
    assert eps[0]["action"][:, -1].tolist() == [1, 0, 0, 0, 1, 1, 0]
    assert eps[1]["action"][:, -1].tolist() == [1] * 5
    assert rel2abs_gripper(np.array([0.0, -1.0, 0.0])).tolist() == [0.0, 1.0, 1.0]  # an open first: closed before
    raw = standardize(*_read_raw(tmp_path, "fractal20220817_data"))  # the hand-written entry keeps it raw
    assert set(np.unique(raw["action"][:, -1])) <= {-1.0, 0.0, 1.0}


def _read_raw(tmp_path, name):
    path = next((tmp_path / name).iterdir())
    return RldsDataset(str(path), "train", decode_images=False).episode(0), get_entry(name)


def test_gripper_conventions(tmp_path):
    pm1 = {"steps/action/rel_actions_world": lambda t: np.tile([0, 0, 0, 0, 0, 0, -1], (t, 1)).astype(np.float32)}
    assert _read(tmp_path, "taco_play", pm1)[0]["action"][:, -1].tolist() == [0.0] * 7  # CALVIN: -1 closes
    closed = {"steps/action": lambda t: np.tile([0, 0, 0, 0, 0, 0, 1], (t, 1)).astype(np.float32)}
    assert _read(tmp_path, "nyu_rot_dataset_converted_externally_to_rlds", closed)[0]["action"][:, -1].max() == 0
    mask_vit = {"steps/action": lambda t: np.tile([0, 0, 0, 0.3, -1], (t, 1)).astype(np.float32)}
    a = _read(tmp_path, "stanford_mask_vit_converted_externally_to_rlds", mask_vit)[0]["action"]
    assert a[0].tolist() == pytest.approx([0, 0, 0, 0.3, 0, 0, 1])  # yaw in dim 3, zeros, -1 = open -> 1
    mj = {"steps/action": lambda t: np.tile([0, 0, 0, 0, 0, 0, 255], (t, 1)).astype(np.float32)}
    assert _read(tmp_path, "mujoco_manip", mj)[0]["action"][:, -1].max() == 0  # 255 = closed
    bcz = {"steps/action/future/target_close": lambda t: np.tile([1] + [0] * 9, (t, 1)).astype(np.int64)}
    assert _read(tmp_path, "bc_z", bcz)[0]["action"][:, -1].tolist() == [0.0] * 7
    fanuc = _read(tmp_path, "berkeley_fanuc_manipulation", {})[0]
    path = next((tmp_path / "berkeley_fanuc_manipulation").iterdir())
    state = RldsDataset(str(path), "train").episode(0)["steps/observation/state"]
    np.testing.assert_array_equal(fanuc["action"][:, 6], state[:, 6])  # the gripper state, as stored


def test_bridge_octo_binarises_then_relabels(tmp_path):
    grip = {7: [1.0, 0.5, 0.0, 0.3, 1.0, 0.97, 0.02], 5: [1.0] * 5}
    state = {}

    def act(t):
        a = np.zeros((t, 7), np.float32)
        a[:, -1] = grip[t]
        return a

    def st(t):
        state[t] = np.cumsum(np.arange(t * 7, dtype=np.float32).reshape(t, 7), axis=0)
        return state[t]

    eps = _read(tmp_path, "bridge_dataset", {"steps/action": act, "steps/observation/state": st})
    ep = eps[0]
    assert ep["length"] == 6  # the last step is dropped by the relabelling
    assert ep["action"][:, -1].tolist() == [1, 0, 0, 1, 1, 1]  # 0.5 takes the next decided value (0)
    np.testing.assert_allclose(ep["action"][:, :6], np.diff(state[7][:, :6], axis=0))
    np.testing.assert_array_equal(ep["state"], state[7][:-1])


def test_resample_and_relabel_joint_deltas(tmp_path):
    joints = {}

    def jp(t):
        joints[t] = np.arange(t * 7, dtype=np.float32).reshape(t, 7) ** 1.5
        return joints[t]

    eps = _read(tmp_path, "berkeley_rpt_converted_externally_to_rlds", {"steps/observation/joint_pos": jp})
    ep = eps[0]  # 7 steps -> every 3rd (0, 3, 6) -> relabelled: 2 steps
    assert ep["length"] == 2 and ep["action"].shape == (2, 8)
    np.testing.assert_allclose(ep["action"][:, :7], np.diff(joints[7][::3], axis=0), rtol=1e-6)
    aloha = _read(tmp_path, "aloha_static_dataset", {})
    assert [e["length"] for e in aloha] == [2, 1]  # 50 Hz -> 10 Hz


def test_quaternion_actions_become_euler_angles(tmp_path):
    from scipy.spatial.transform import Rotation

    q = Rotation.random(7, random_state=3).as_quat().astype(np.float32)  # (x, y, z, w)
    a = {"steps/action": lambda t: np.concatenate([np.ones((t, 3)), q[:t], np.zeros((t, 1))], -1).astype(np.float32)}
    ep = _read(tmp_path, "iamlab_cmu_pickup_insert_converted_externally_to_rlds", a)[0]
    np.testing.assert_allclose(ep["action"][:, 3:6], Rotation.from_quat(q).as_euler("xyz"), atol=1e-5)
    np.testing.assert_allclose(quat_to_euler(q), Rotation.from_quat(q).as_euler("xyz"), atol=1e-5)
    assert ep["action"].shape == (7, 7)


def test_language_codes_zlib_state_and_depth(data_dir):
    ds = RldsDataset(str(next((data_dir / "language_table").iterdir())), "train", decode_images=False)
    assert standardize(ds.episode(0), get_entry("language_table"))["language"] == "push the red star to the left"
    kuka = RldsDataset(str(next((data_dir / "kuka").iterdir())), "train", decode_images=False)
    assert kuka.feature_spec()["steps/observation/gripper_closed"]["encoding"] == "tensor_zlib"
    ep = standardize(kuka.episode(0), get_entry("kuka"))
    np.testing.assert_array_equal(ep["state"][:, :7], kuka.episode(0)["steps/observation/clip_function_input/"
                                                                       "base_pose_tool_reached"])
    assert ep["language"] is None  # Octo drops kuka's uninformative instruction
    ms = RldsDataset(str(next((data_dir / "maniskill_dataset_converted_externally_to_rlds").iterdir())), "train",
                     decode_images=False)
    raw = ms.episode(0)
    enc = standardize(raw, get_entry(ms.name), depth=True)
    assert enc["depth"]["primary"].dtype == object  # left encoded unless decode_images
    dec = standardize(raw, get_entry(ms.name), depth=True, decode_images=True)["depth"]["primary"]
    decoded = RldsDataset(ms.path, "train", decode_images=True).episode(0)["steps/observation/depth"][..., 0]
    np.testing.assert_array_equal(dec, decoded.astype(np.float32))  # uint16 PNG values, exactly


def test_float_depth_png_is_decoded_bitwise():
    import io

    from PIL import Image

    from jaxrobot.data.standardize import _decode_depth

    depth = np.linspace(0.2, 3.1, 48, dtype="<f4").reshape(6, 8, 1)
    buf = io.BytesIO()
    Image.fromarray(depth.view(np.uint8).reshape(6, 8, 4), "RGBA").save(buf, format="PNG")  # as TFDS stores it
    np.testing.assert_array_equal(_decode_depth(buf.getvalue()), depth[..., 0])


# ---------------------------------------------------------------- named mixtures


def test_named_mixtures_match_octo():
    counts = {m: len(mixture_weights(m)) for m in MIXTURES}
    assert counts == {"bridge": 1, "rtx": 11, "rtx_franka": 25, "oxe_magic_soup": 25, "oxe_flex_act_soup": 32}
    assert len(MIXTURES["rtx_franka"]) == 29  # rtx + the Franka list, four datasets listed twice
    soup = mixture_weights("oxe_magic_soup")
    assert "uiuc_d3field" not in soup and soup["fractal20220817_data"] == 0.54087122203
    assert soup["kuka"] == 0.8341046294 and soup["language_table"] == 0.1 and soup["bc_z"] == 0.2
    assert soup["nyu_franka_play_dataset_converted_externally_to_rlds"] == 3.0
    assert mixture_weights("rtx")["nyu_door_opening_surprising_effectiveness"] == 5.0
    rf = mixture_weights("rtx_franka")
    assert rf["taco_play"] == 2.0 and rf["austin_buds_dataset_converted_externally_to_rlds"] == 3.0  # first wins
    assert "cmu_playing_with_food" not in rf and rf["cmu_play_fusion"] == 1.0
    with pytest.raises(DataError, match="known:.*oxe_magic_soup"):
        mixture_weights("no_such_mix")


def _experiment(data):
    from jaxrobot.models.bc import BCConfig
    from jaxrobot.train.config import ExperimentConfig

    return ExperimentConfig(name="mix", model=BCConfig(), data=data)


def test_mixture_from_data_dir_end_to_end(data_dir, tmp_path, capsys):
    from jaxrobot.data.sources import make_source
    from jaxrobot.data.sources.mixture import MixtureDataConfig
    from jaxrobot.data.sources.rlds import RldsDataConfig

    root = tmp_path / "oxe"
    for name in ("fractal20220817_data", "taco_play", "toto"):  # three of rtx's eleven
        shutil.copytree(data_dir / name, root / name)
    (root / "viola" / "0.1.0").mkdir(parents=True)  # a folder without dataset_info.json is not a dataset
    template = RldsDataConfig(path="unused", horizon=2, image_size=(6, 8), cameras=("primary", "wrist"),
                              stats_cache=False, prefetch=0, workers=1)
    cfg = _experiment(MixtureDataConfig(datasets=(template, template), weights=(1.0, 1.0)))
    cfg = override(override(cfg, "data.mixture=rtx"), f"data.data_dir={root}")  # what --set does
    validate(cfg)
    with pytest.raises(DataError, match=r"8 of 11 member datasets are missing: kuka, bridge_dataset, jaco_play, "
                                        r"berkeley_cable_routing, roboturk, nyu_door_opening_surprising_effectiveness"
                                        r", viola, berkeley_autolab_ur5 .*skip_missing"):
        cfg.data.build_source(global_batch_size=8)
    cfg = validate(override(cfg, "data.skip_missing=true"))
    resolved = cfg.data.resolve()
    assert [d.dataset for d in resolved.datasets] == ["fractal20220817_data@octo", "taco_play", "toto"]
    assert resolved.weights == (0.54087122203, 2.0, 1.0) and resolved.datasets[0].horizon == 2
    assert "skipping 8 missing member dataset(s): kuka, bridge_dataset" in capsys.readouterr().err
    src = cfg.data.build_source(global_batch_size=8)
    batch = next(src)
    assert batch["action"].shape == (8, 2, 7) and set(np.unique(batch["dataset_index"])) <= {0, 1, 2}
    assert batch["observation/image_primary"].shape == (8, 1, 6, 8, 3)
    assert set(src.stats()["datasets"]) == {"fractal20220817_data@octo", "taco_play", "toto"}
    assert src.spec()["datasets"] == ["fractal20220817_data@octo", "taco_play", "toto"]
    src.close()
    empty = tmp_path / "empty"
    empty.mkdir()
    with pytest.raises(DataError, match="none of its member datasets"):
        dataclasses.replace(cfg.data, data_dir=str(empty)).resolve()
    with pytest.raises(ConfigError, match="unknown mixture 'soup'"):
        validate(override(cfg, "data.mixture=soup"))
    with pytest.raises(ConfigError, match="data_dir"):
        validate(MixtureDataConfig(mixture="rtx"))
    # an experiment whose data is one RLDS dataset takes the same two --set lines, keeping its settings
    single = _experiment(template)
    for line in ("data.mixture=rtx", f"data.data_dir={root}", "data.skip_missing=true"):
        single = override(single, line)
    single = validate(single)
    mix = MixtureDataConfig.named(single.data).resolve()
    assert [d.dataset for d in mix.datasets] == ["fractal20220817_data@octo", "taco_play", "toto"]
    assert mix.datasets[1].horizon == 2 and mix.datasets[1].cameras == ("primary", "wrist")
    src = make_source(single.data, global_batch_size=8)
    assert next(src)["action"].shape == (8, 2, 7) and set(src.stats()["datasets"]) == set(mix_names := [
        d.dataset for d in mix.datasets])
    assert src.spec()["datasets"] == mix_names
    src.close()
    with pytest.raises(ConfigError, match="go with a named mixture"):
        validate(override(_experiment(template), f"data.data_dir={root}"))
    with pytest.raises(ConfigError, match="unknown mixture 'soup'"):
        validate(override(_experiment(template), "data.mixture=soup"))


# ---------------------------------------------------------------- jaxrobot data datasets


def test_cli_datasets_json(capsys):
    from jaxrobot.cli import data_catalogue

    parser = argparse.ArgumentParser()
    data_catalogue.register(parser.add_subparsers())
    args = parser.parse_args(["datasets", "--json"])
    assert args.func(args) == 0
    lines = capsys.readouterr().out.strip().splitlines()
    assert len(lines) == 1
    out = json.loads(lines[0])
    names = [d["name"] for d in out["datasets"]]
    assert set(CATALOGUE) <= set(names) and names == sorted(names)
    taco = next(d for d in out["datasets"] if d["name"] == "taco_play")
    assert taco["action_encoding"] == "eef_delta" and taco["proprio_encoding"] == "pos_euler"
    assert taco["cameras"]["wrist"] == "steps/observation/rgb_gripper" and taco["control_hz"] == 15
    assert taco["action_norm_mask"] == [True] * 6 + [False] and "tensorflow.org/datasets/catalog" in taco["source"]
    assert out["mixtures"]["oxe_magic_soup"]["bc_z"] == 0.2 and len(out["mixtures"]["oxe_magic_soup"]) == 25
    args = parser.parse_args(["datasets"])
    assert args.func(args) == 0
    text = capsys.readouterr().out
    assert "taco_play" in text and "mixture oxe_magic_soup (25 datasets)" in text


def test_unnormalised_dims_pass_through_the_reader(data_dir):
    """Octo's action_normalization_mask: the absolute gripper dim reaches the batch as stored, the others
    are normalised; the exempt dims' statistics are the identity, so unnormalising returns them unchanged."""
    from jaxrobot.data.normalize import normalize, unnormalize
    from jaxrobot.data.sources.rlds import DatasetReader, RldsDataConfig

    name = "taco_play"
    entry = entry_for(name)
    assert entry.action_norm_mask and not entry.action_norm_mask[-1] and all(entry.action_norm_mask[:-1])
    path = str(next((data_dir / name).iterdir()))
    reader = DatasetReader(RldsDataConfig(path=path, dataset=entry.name, cameras=None, stats_cache=False))
    stats = reader.stats()["action"]
    assert stats["norm_mask"] == list(entry.action_norm_mask)
    raw = RldsDataset(path, "train", decode_images=False)
    acts = np.concatenate([standardize(raw.episode(i), entry, episode_id=i)["action"] for i in range(len(raw))])
    for mode in ("mean_std", "min_max"):
        y = normalize(acts, stats, mode)
        np.testing.assert_allclose(y[:, -1], acts[:, -1], atol=1e-6)  # identity up to float32 rounding
        assert not np.allclose(y[:, 0], acts[:, 0])
        np.testing.assert_allclose(unnormalize(y, stats, mode), acts, atol=1e-5)
    np.testing.assert_allclose(stats["raw"]["mean"][-1], acts[:, -1].mean(), rtol=1e-5)
