"""features.json / dataset_info.json parsing into flat specs and shard names."""

from __future__ import annotations

import json
import os

import pytest

from jaxrobot.data.base import DataError
from jaxrobot.data.rlds.features import (
    Feature,
    features_json,
    normalize_spec,
    parse_dataset_info,
    parse_features,
)


def _load(bridge_path, name):
    with open(os.path.join(bridge_path, name)) as f:
        return json.load(f)


def test_bridge_spec(bridge_path):
    spec = parse_features(_load(bridge_path, "features.json"))
    assert spec["steps/action"] == Feature((None, 7), "float32", "tensor", spec["steps/action"].description, True)
    assert spec["steps/observation/image_0"].shape == (None, 64, 64, 3)
    assert spec["steps/observation/image_0"].encoding == "jpeg"
    assert spec["steps/language_instruction"].as_dict() == {"shape": (None,), "dtype": "string", "encoding": "text"}
    assert spec["steps/is_last"].as_dict() == {"shape": (None,), "dtype": "bool", "encoding": "scalar"}
    assert spec["episode_metadata/episode_id"].as_dict() == {"shape": (), "dtype": "int32", "encoding": "scalar"}
    assert spec["episode_metadata/file_path"].sequence is False
    assert len(spec) == 20
    # writing the spec back as features.json and parsing it again is lossless
    assert parse_features(features_json(spec)) == spec


def test_nested_action_dict_like_fractal():
    """fractal20220817_data stores the action as a dict of tensors; keys flatten to steps/action/<name>."""
    t = lambda dims, dtype="float32": {"pythonClassName": "tensorflow_datasets.core.features.tensor_feature.Tensor",
                                       "tensor": {"shape": {"dimensions": [str(d) for d in dims]}, "dtype": dtype,
                                                  "encoding": "none"}}
    fd = lambda d: {"pythonClassName": "tensorflow_datasets.core.features.features_dict.FeaturesDict",
                    "featuresDict": {"features": d}}
    content = fd({"steps": {"pythonClassName": "tensorflow_datasets.core.features.dataset_feature.Dataset",
                            "sequence": {"feature": fd({"action": fd({"world_vector": t([3]),
                                                                      "rotation_delta": t([3]),
                                                                      "gripper_closedness_action": t([1]),
                                                                      "terminate_episode": t([3], "int32")}),
                                                        "observation": fd({"image": {
                                                            "pythonClassName": "x.Image",
                                                            "image": {"shape": {"dimensions": ["256", "320", "3"]},
                                                                      "dtype": "uint8", "encodingFormat": "jpeg"}}})}),
                                         "length": "-1"}}})
    spec = parse_features(content)
    assert sorted(spec) == ["steps/action/gripper_closedness_action", "steps/action/rotation_delta",
                            "steps/action/terminate_episode", "steps/action/world_vector", "steps/observation/image"]
    assert spec["steps/action/terminate_episode"].as_dict() == {"shape": (None, 3), "dtype": "int32",
                                                                "encoding": "tensor"}
    assert spec["steps/observation/image"].shape == (None, 256, 320, 3)
    assert parse_features(features_json(spec)) == spec


def test_unsupported_features_are_named():
    content = {"featuresDict": {"features": {"v": {"pythonClassName": "x.Video", "video": {}}}}}
    with pytest.raises(DataError, match="'v'.*Video"):
        parse_features(content, "somewhere/features.json")
    ragged = {"featuresDict": {"features": {"r": {"tensor": {"shape": {"dimensions": ["-1"]}, "dtype": "int64"}}}}}
    with pytest.raises(DataError, match="'r'.*ragged"):
        parse_features(ragged)


def test_dataset_info_and_shard_names(bridge_path):
    info = parse_dataset_info(_load(bridge_path, "dataset_info.json"))
    assert (info.name, info.version, info.file_format) == ("bridge_dataset", "1.0.0", "tfrecord")
    train = info.splits["train"]
    assert train.num_episodes == 25
    assert train.shard_names(info.name, "tfrecord") == ["bridge_dataset-train.tfrecord-00000-of-00001"]


def test_sequential_writer_template():
    """tfds's SequentialWriter names shards '-00000' with this template."""
    info = parse_dataset_info({"name": "toy", "version": "1.0.0", "fileFormat": "tfrecord", "splits": [
        {"name": "train", "filepathTemplate": "{DATASET}-{SPLIT}.{FILEFORMAT}-{SHARD_INDEX}",
         "shardLengths": ["2", "1"], "numBytes": "10"}]})
    assert info.splits["train"].shard_names("toy", "tfrecord") == ["toy-train.tfrecord-00000",
                                                                   "toy-train.tfrecord-00001"]
    # no template at all: tfds's default
    info = parse_dataset_info({"name": "toy", "splits": [{"name": "val", "shardLengths": ["3"]}]})
    assert info.splits["val"].shard_names("toy", "tfrecord") == ["toy-val.tfrecord-00000-of-00001"]


def test_normalize_spec_defaults_and_errors():
    spec = normalize_spec({
        "steps/observation/image": {"shape": (32, 32, 3), "dtype": "uint8"},
        "steps/observation/depth": {"shape": (None, 32, 32, 1), "dtype": "uint16", "encoding": "png"},
        "steps/action": {"shape": (4,), "dtype": "float32"},
        "steps/is_first": {"shape": (), "dtype": "bool"},
        "steps/language_instruction": {"shape": (), "dtype": "string"},
        "episode_metadata/seed": {"shape": (), "dtype": "int64"},
    })
    assert spec["steps/observation/image"].as_dict() == {"shape": (None, 32, 32, 3), "dtype": "uint8",
                                                         "encoding": "jpeg"}
    assert spec["steps/observation/depth"].shape == (None, 32, 32, 1)
    assert spec["steps/action"].encoding == "tensor" and spec["steps/action"].sequence
    assert spec["steps/is_first"].encoding == "scalar"
    assert spec["steps/language_instruction"].encoding == "text"
    assert not spec["episode_metadata/seed"].sequence
    with pytest.raises(DataError, match="'steps/x'.*encoding"):
        normalize_spec({"steps/x": {"shape": (), "dtype": "float32", "encoding": "mp4"}})
    with pytest.raises(DataError, match="'steps/img'.*images need"):
        normalize_spec({"steps/img": {"shape": (8, 8, 3), "dtype": "float32", "encoding": "jpeg"}})
