"""torchvision ResNet-18 state_dict → our backbone: names, layouts, file formats, and the forward pass.

The state_dict is random arrays under torchvision's names and shapes (``_torch_reference``); the forward
pass is checked against an independent NumPy implementation of torchvision's ResNet-18.
"""

import json
import struct

import jax
import jax.numpy as jnp
import numpy as np
import pytest

from jaxrobot.config import ConfigError
from jaxrobot.models.act import ACTModel
from jaxrobot.nn.backbones import make_backbone
from jaxrobot.nn.resnet_convert import convert_resnet18, load_into, load_state_dict, read_safetensors
from tests.helpers.model_fixtures import act_batch, default_act_config
from tests.helpers.torch_reference import resnet18_features, resnet18_state_dict


def _write_safetensors(path, arrays):
    header, blobs, offset = {}, [], 0
    for name, a in arrays.items():
        a = np.ascontiguousarray(a)
        dtype = {np.dtype(np.float32): "F32", np.dtype(np.int64): "I64"}[a.dtype]
        header[name] = {"dtype": dtype, "shape": list(a.shape), "data_offsets": [offset, offset + a.nbytes]}
        blobs.append(a.tobytes())
        offset += a.nbytes
    header["__metadata__"] = {"format": "pt"}
    h = json.dumps(header).encode()
    path.write_bytes(struct.pack("<Q", len(h)) + h + b"".join(blobs))


def _zero_backbone():
    m = make_backbone("resnet18", "frozen_bn")
    shapes = jax.eval_shape(m.init, jax.random.PRNGKey(0), jax.ShapeDtypeStruct((1, 32, 32, 3), jnp.float32))
    return jax.tree.map(lambda s: np.zeros(s.shape, s.dtype), shapes)


@pytest.fixture(scope="module")
def state_dict():
    return resnet18_state_dict(np.random.default_rng(0))


def test_converted_tree_matches_the_model_and_the_source(state_dict):
    conv = convert_resnet18(state_dict, "frozen_bn")
    m = make_backbone("resnet18", "frozen_bn")
    shapes = jax.eval_shape(m.init, jax.random.PRNGKey(0), jax.ShapeDtypeStruct((1, 64, 64, 3), jnp.float32))
    for col in ("params", "frozen"):
        assert jax.tree.structure(conv[col]) == jax.tree.structure(shapes[col])
        assert jax.tree.map(np.shape, conv[col]) == jax.tree.map(lambda s: s.shape, shapes[col])
    np.testing.assert_array_equal(
        conv["params"]["layer2_0"]["downsample_0"]["kernel"],
        state_dict["layer2.0.downsample.0.weight"].transpose(2, 3, 1, 0),
    )
    np.testing.assert_array_equal(
        conv["frozen"]["layer3_1"]["bn2"]["var"], state_dict["layer3.1.bn2.running_var"]
    )


def test_forward_matches_numpy_torchvision_reference(state_dict):
    x = np.random.default_rng(1).normal(size=(2, 3, 64, 64)).astype(np.float32)
    want = resnet18_features(state_dict, x.astype(np.float64))
    m = make_backbone("resnet18", "frozen_bn")
    got = m.apply(convert_resnet18(state_dict, "frozen_bn"), jnp.asarray(x.transpose(0, 2, 3, 1)))
    np.testing.assert_allclose(
        np.asarray(got).transpose(0, 3, 1, 2), want, rtol=2e-3, atol=2e-3 * np.abs(want).max()
    )


def test_group_norm_keeps_only_affine_terms(state_dict):
    conv = convert_resnet18(state_dict, "group_norm")
    assert set(conv) == {"params"}
    np.testing.assert_array_equal(conv["params"]["bn1"]["scale"], state_dict["bn1.weight"])


def test_npz_and_safetensors_round_trip(state_dict, tmp_path):
    np.savez(tmp_path / "r18.npz", **state_dict)
    _write_safetensors(tmp_path / "r18.safetensors", state_dict)
    a = load_state_dict(tmp_path / "r18.npz")
    b = read_safetensors(tmp_path / "r18.safetensors")
    assert set(a) == set(b) == set(state_dict)
    for k in state_dict:
        np.testing.assert_array_equal(a[k], state_dict[k])
        np.testing.assert_array_equal(b[k], state_dict[k])


def test_load_into_replaces_only_the_backbone(state_dict, tmp_path):
    np.savez(tmp_path / "r18.npz", **state_dict)
    inner = _zero_backbone()
    variables = {
        "params": {"backbone": inner["params"], "head": {"kernel": jnp.ones((2, 2))}},
        "frozen": {"backbone": inner["frozen"]},
    }
    out = load_into(variables, tmp_path / "r18.npz", "frozen_bn")
    np.testing.assert_array_equal(out["params"]["head"]["kernel"], 1.0)
    np.testing.assert_array_equal(
        out["params"]["backbone"]["conv1"]["kernel"], state_dict["conv1.weight"].transpose(2, 3, 1, 0)
    )
    np.testing.assert_array_equal(out["frozen"]["backbone"]["bn1"]["mean"], state_dict["bn1.running_mean"])


def test_act_init_loads_the_file(state_dict, tmp_path):
    np.savez(tmp_path / "r18.npz", **state_dict)
    model = ACTModel(default_act_config(pretrained_backbone=str(tmp_path / "r18.npz")))
    shapes = jax.eval_shape(model.init, jax.random.PRNGKey(0), act_batch(image=True))
    assert shapes["params"]["backbone"]["conv1"]["kernel"].shape == (7, 7, 3, 64)


def test_errors_name_the_key(state_dict, tmp_path):
    broken = dict(state_dict)
    del broken["layer3.0.downsample.0.weight"]
    with pytest.raises(ConfigError, match="layer3.0.downsample.0.weight"):
        convert_resnet18(broken)
    np.savez(tmp_path / "small.npz", **{**state_dict, "conv1.weight": np.zeros((32, 3, 7, 7), np.float32)})
    inner = _zero_backbone()
    with pytest.raises(ConfigError, match="conv1/kernel"):
        load_into(
            {"params": {"backbone": inner["params"]}, "frozen": {"backbone": inner["frozen"]}},
            tmp_path / "small.npz",
            "frozen_bn",
        )
    with pytest.raises(ConfigError, match="does not exist"):
        load_state_dict(tmp_path / "missing.npz")
    (tmp_path / "w.pt").write_bytes(b"x")
    with pytest.raises(ConfigError, match=".npz or .safetensors"):
        load_state_dict(tmp_path / "w.pt")
