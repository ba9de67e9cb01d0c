"""Standardisation registry: every entry on a fixture with its dataset's feature layout, plus failures."""

from __future__ import annotations

import dataclasses

import numpy as np
import pytest

from jaxrobot.data.base import DataError
from jaxrobot.data.datasets import DatasetEntry, get_entry, list_entries, parse_key
from jaxrobot.data.sources.rlds import open_rlds
from jaxrobot.data.standardize import standardize
from tests.helpers.rlds_fixtures import layout_episodes, write_layout, write_rlds_fixture

BRIDGE_SAMPLE = "tests/testdata/bridge_dataset_octo_debug/bridge_dataset/1.0.0"
NAMES = ["bridge_dataset", "fractal20220817_data", "berkeley_autolab_ur5", "aloha", "jaxrobot_sim"]


@pytest.fixture(scope="module")
def layouts(tmp_path_factory):
    root = tmp_path_factory.mktemp("layouts")
    return {n: write_layout(root, n) for n in NAMES}


def _steps(ep, key):
    """Reference: pull a nested step value out of the episodes we wrote."""
    out = []
    for s in ep["steps"]:
        v = s
        for p in key.split("/"):
            v = v[p]
        out.append(np.atleast_1d(np.asarray(v, np.float32)))
    return np.stack(out)


# reference action/state concatenations, written out per dataset
EXPECTED = {
    "bridge_dataset": (["action"], ["observation/state"]),
    "fractal20220817_data": (["action/world_vector", "action/rotation_delta", "action/gripper_closedness_action"],
                             ["observation/base_pose_tool_reached", "observation/gripper_closed"]),
    "berkeley_autolab_ur5": (["action/world_vector", "action/rotation_delta", "action/gripper_closedness_action"],
                             [("observation/robot_state", slice(6, 14))]),
    "aloha": (["action"], ["observation/qpos"]),
    "jaxrobot_sim": (["action"], ["observation/state"]),
}
CAMERAS = {
    "bridge_dataset": {"primary": "image_0", "secondary": "image_1", "wrist": None},
    "fractal20220817_data": {"primary": "image", "secondary": None, "wrist": None},
    "berkeley_autolab_ur5": {"primary": "image", "secondary": None, "wrist": "hand_image"},
    "aloha": {"primary": "images/cam_high", "secondary": None, "left_wrist": "images/cam_left_wrist",
              "right_wrist": None},
    "jaxrobot_sim": {"front": "image_front", "wrist": "image_wrist"},
}


def test_registry_lists_every_entry():
    assert set(NAMES) <= set(list_entries())
    assert parse_key("a/b[6:14]") == ("a/b", slice(6, 14))
    with pytest.raises(DataError, match="known:.*bridge_dataset"):
        get_entry("no_such_dataset")


@pytest.mark.parametrize("name", NAMES)
def test_entry_on_its_layout(layouts, name):
    path, episodes = layouts[name]
    ds = open_rlds(path, "train")
    assert ds.name == name and len(ds) == len(episodes)
    entry = get_entry(name)
    act_keys, state_keys = EXPECTED[name]
    for i, ref in enumerate(episodes):
        ep = standardize(ds.episode(i), entry, episode_id=i, decode_images=True)
        T = len(ref["steps"])
        want_a = np.concatenate([_steps(ref, k) for k in act_keys], -1)
        want_s = np.concatenate([_steps(ref, k[0])[:, k[1]] if isinstance(k, tuple) else _steps(ref, k)
                                 for k in state_keys], -1)
        np.testing.assert_array_equal(ep["action"], want_a)
        np.testing.assert_array_equal(ep["state"], want_s)
        assert ep["length"] == T and ep["is_first"].tolist() == [True] + [False] * (T - 1)
        assert list(ep["images"]) == list(CAMERAS[name])
        for cam, src in CAMERAS[name].items():
            frames = ep["images"][cam]
            assert frames.dtype == np.uint8 and frames.shape[0] == T and frames.shape[-1] == 3
            if src is None:
                assert not frames.any()  # padded view
            else:
                ref_img = _steps(ref, "observation/" + src).reshape(frames.shape)
                # JPEG round trip of a smooth image: close to what was written
                assert np.abs(frames.astype(int) - ref_img.astype(int)).mean() < 4
        assert ep["language"] is not None and ep["language"].startswith(f"task {i}")


def test_real_bridge_sample():
    ds = open_rlds(BRIDGE_SAMPLE, "train")
    ep = standardize(ds.episode(0), get_entry("bridge_dataset"), decode_images=True)
    raw = ds.episode(0)
    np.testing.assert_array_equal(ep["action"], raw["steps/action"])  # raw 7-D action, every step
    assert ep["state"].shape == (10, 7) and ep["images"]["primary"].shape == (10, 64, 64, 3)
    assert not ep["images"]["wrist"].any() and ep["images"]["primary"].any()
    assert ep["language_embedding"].shape == (10, 512) and isinstance(ep["language"], str)


def _episode(**over):
    ep = {"steps/action": np.zeros((4, 7), np.float32), "steps/observation/state": np.zeros((4, 7), np.float32),
          "steps/observation/image_0": np.zeros((4, 8, 8, 3), np.uint8),
          "steps/observation/image_1": np.zeros((4, 8, 8, 3), np.uint8)}
    ep.update(over)
    return {k: v for k, v in ep.items() if v is not None}


def test_failures_name_dataset_episode_and_keys():
    entry = get_entry("bridge_dataset")
    with pytest.raises(DataError, match=r"episode 7: missing key 'steps/observation/state'; keys that exist: "
                                        r"\['steps/action'"):
        standardize(_episode(**{"steps/observation/state": None}), entry, episode_id=7)
    bad = np.zeros((4, 7), np.float32)
    bad[2, 3] = np.nan
    with pytest.raises(DataError, match="'bridge_dataset' episode 3: 1 NaN/Inf values in action .*step 2, dim 3"):
        standardize(_episode(**{"steps/action": bad}), entry, episode_id=3)
    with pytest.raises(DataError, match="NaN/Inf values in state"):
        standardize(_episode(**{"steps/observation/state": np.full((4, 7), np.inf, np.float32)}), entry)
    with pytest.raises(DataError, match="empty episode"):
        standardize(_episode(**{k: np.zeros((0, 7), np.float32) for k in
                                ("steps/action", "steps/observation/state")}), entry)
    with pytest.raises(DataError, match="action has 6 dims, entry expects 7"):
        standardize(_episode(**{"steps/action": np.zeros((4, 6), np.float32)}), entry)
    with pytest.raises(DataError, match="state has 3 steps"):
        standardize(_episode(**{"steps/observation/state": np.zeros((3, 7), np.float32)}), entry)
    with pytest.raises(DataError, match="camera 'primary'.*has 2 frames"):
        standardize(_episode(**{"steps/observation/image_0": np.zeros((2, 8, 8, 3), np.uint8)}), entry)


def test_opt_in_transforms():
    act = np.tile(np.array([0, 0, 0, 0, 0, 0, 0.8], np.float32), (4, 1))
    act[:, -1] = [0.2, 0.8, 0.4, 0.6]
    base = get_entry("bridge_dataset")
    ep = standardize(_episode(**{"steps/action": act}), base)
    np.testing.assert_array_equal(ep["action"], act)  # default: raw
    entry = dataclasses.replace(base, drop_first_step=True, binarize_gripper=True)
    ep = standardize(_episode(**{"steps/action": act}), entry)
    assert ep["length"] == 3 and ep["is_first"].tolist() == [True, False, False]
    assert ep["action"][:, -1].tolist() == [1.0, 0.0, 1.0] and ep["images"]["primary"].shape[0] == 3
    rel = dataclasses.replace(get_entry("fractal20220817_data"), gripper_to_open_is_1=True)
    raw = {"steps/action/world_vector": np.zeros((3, 3), np.float32),
           "steps/action/rotation_delta": np.zeros((3, 3), np.float32),
           "steps/action/gripper_closedness_action": np.array([[1.0], [-1.0], [0.0]], np.float32),
           "steps/observation/base_pose_tool_reached": np.zeros((3, 7), np.float32),
           "steps/observation/gripper_closed": np.zeros((3, 1), np.float32),
           "steps/observation/image": np.zeros((3, 4, 4, 3), np.uint8)}
    assert standardize(raw, rel)["action"][:, -1].tolist() == [0.0, 1.0, 0.5]


def test_bgr_entry_decodes_to_rgb(tmp_path):
    import tensorflow_datasets as tfds

    red = np.zeros((16, 16, 3), np.uint8)
    red[..., 0] = 200  # stored as if the dataset wrote BGR: channel 0 is really blue
    steps = {"observation/image_0": tfds.features.Image(shape=(16, 16, 3)),
             "action": tfds.features.Tensor(shape=(2,), dtype=np.float32)}
    eps = [{"steps": [{"observation": {"image_0": red}, "action": np.zeros(2, np.float32)}] * 2}]
    path = write_rlds_fixture(tmp_path, "bgr_set", steps, eps)
    entry = DatasetEntry(name="bgr_set", cameras=(("primary", "steps/observation/image_0"),),
                         channel_order="bgr", language_key=None)
    ep = standardize(open_rlds(path, "train").episode(0), entry, decode_images=True)
    px = ep["images"]["primary"][0, 8, 8].astype(int)
    assert px[2] > 150 and px[0] < 50  # now blue is last


def test_layout_helper_is_deterministic():
    a = layout_episodes("aloha", (2,))[2][0]["steps"][1]["action"]
    b = layout_episodes("aloha", (2,))[2][0]["steps"][1]["action"]
    np.testing.assert_array_equal(a, b)
