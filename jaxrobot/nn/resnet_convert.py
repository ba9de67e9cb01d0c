"""Convert a torchvision ResNet-18 ``state_dict`` into our backbone's variables.

ImageNet weights cannot be downloaded at run time; users save them once elsewhere, e.g.
``np.savez("r18.npz", **{k: v.numpy() for k, v in resnet18(weights="IMAGENET1K_V1").state_dict().items()})``
or ``safetensors.torch.save_file(model.state_dict(), "r18.safetensors")``, and point
``pretrained_backbone`` (ACT) at the file. Names map one to one because ``backbones.ResNet18`` mirrors
torchvision's (``layer1.0.conv1.weight`` → ``layer1_0/conv1/kernel``); conv kernels are transposed from
OIHW to HWIO. BatchNorm's ``weight, bias, running_mean, running_var`` become the ``"frozen"`` collection's
``scale, bias, mean, var`` (frozen_bn) or GroupNorm's trainable ``scale, bias`` (group_norm: only the
affine terms carry over; statistics cannot). ``fc.*`` and ``num_batches_tracked`` are ignored.
"""

from __future__ import annotations

import json
import pathlib
import struct
from collections.abc import Mapping, Sequence
from typing import Any

import numpy as np

from jaxrobot.config import ConfigError

_SAFETENSORS_DTYPES = {
    "F32": np.float32,
    "F16": np.float16,
    "F64": np.float64,
    "BF16": None,
    "I64": np.int64,
    "I32": np.int32,
    "U8": np.uint8,
    "I8": np.int8,
    "BOOL": np.bool_,
}


def read_safetensors(path: str | pathlib.Path) -> dict[str, np.ndarray]:
    """Read a ``.safetensors`` file (8-byte little-endian header size, JSON header, raw tensors)."""
    path = pathlib.Path(path)
    data = path.read_bytes()
    if len(data) < 8:
        raise ConfigError(f"{path}: not a safetensors file (too short)")
    (n,) = struct.unpack("<Q", data[:8])
    try:
        header = json.loads(data[8 : 8 + n])
    except (UnicodeDecodeError, json.JSONDecodeError) as e:
        raise ConfigError(f"{path}: not a safetensors file ({e})") from None
    base = 8 + n
    out = {}
    for name, info in header.items():
        if name == "__metadata__":
            continue
        begin, end = info["data_offsets"]
        raw = data[base + begin : base + end]
        if info["dtype"] == "BF16":  # widen bfloat16 to float32 by shifting into the high half
            arr = (np.frombuffer(raw, np.uint16).astype(np.uint32) << 16).view(np.float32)
        elif info["dtype"] in _SAFETENSORS_DTYPES:
            arr = np.frombuffer(raw, _SAFETENSORS_DTYPES[info["dtype"]])
        else:
            raise ConfigError(f"{path}: tensor {name!r} has unsupported dtype {info['dtype']}")
        out[name] = arr.reshape(info["shape"]).copy()
    return out


def load_state_dict(path: str | pathlib.Path) -> dict[str, np.ndarray]:
    """Named arrays from a ``.npz`` or ``.safetensors`` file."""
    path = pathlib.Path(path)
    if not path.is_file():
        raise ConfigError(f"pretrained backbone file {path} does not exist")
    if path.suffix == ".safetensors":
        return read_safetensors(path)
    if path.suffix == ".npz":
        with np.load(path) as f:
            return {k: f[k] for k in f.files}
    raise ConfigError(f"{path}: expected a .npz or .safetensors state_dict")


def _norm_names(prefix: str) -> list[str]:
    return [f"{prefix}.weight", f"{prefix}.bias", f"{prefix}.running_mean", f"{prefix}.running_var"]


def torchvision_resnet18_keys() -> list[tuple[str, str]]:
    """(conv or norm prefix, kind) for every layer of torchvision's ResNet-18 up to layer4."""
    layers = [("conv1", "conv"), ("bn1", "norm")]
    for li in range(1, 5):
        for b in range(2):
            p = f"layer{li}.{b}"
            layers += [
                (f"{p}.conv1", "conv"),
                (f"{p}.bn1", "norm"),
                (f"{p}.conv2", "conv"),
                (f"{p}.bn2", "norm"),
            ]
            if li > 1 and b == 0:
                layers += [(f"{p}.downsample.0", "conv"), (f"{p}.downsample.1", "norm")]
    return layers


def _flax_path(prefix: str) -> tuple[str, ...]:
    """``layer1.0.downsample.1`` → (``layer1_0``, ``downsample_1``)."""
    parts = prefix.split(".")
    out, i = [], 0
    while i < len(parts):
        if i + 1 < len(parts) and parts[i + 1].isdigit():
            out.append(f"{parts[i]}_{parts[i + 1]}")
            i += 2
        else:
            out.append(parts[i])
            i += 1
    return tuple(out)


def convert_resnet18(state_dict: Mapping[str, np.ndarray], norm: str = "frozen_bn") -> dict[str, dict]:
    """torchvision ResNet-18 arrays → ``{"params": tree, "frozen": tree}`` for ``backbones.ResNet18``.

    Raises ConfigError naming the first missing key or wrong shape.
    """
    params: dict[str, Any] = {}
    frozen: dict[str, Any] = {}

    def put(tree, path, leaf, value):
        node = tree
        for p in path:
            node = node.setdefault(p, {})
        node[leaf] = np.asarray(value, np.float32)

    def get(key, ndim):
        if key not in state_dict:
            raise ConfigError(f"ResNet-18 state_dict: missing {key!r} (is this a torchvision resnet18?)")
        v = np.asarray(state_dict[key])
        if v.ndim != ndim:
            raise ConfigError(f"ResNet-18 state_dict: {key!r} has shape {v.shape}, expected {ndim} dims")
        return v

    for prefix, kind in torchvision_resnet18_keys():
        path = _flax_path(prefix)
        if kind == "conv":
            put(params, path, "kernel", np.transpose(get(f"{prefix}.weight", 4), (2, 3, 1, 0)))
        elif norm == "frozen_bn":
            w, b, m, v = (get(k, 1) for k in _norm_names(prefix))
            for leaf, value in zip(("scale", "bias", "mean", "var"), (w, b, m, v), strict=True):
                put(frozen, path, leaf, value)
        elif norm == "group_norm":
            put(params, path, "scale", get(f"{prefix}.weight", 1))
            put(params, path, "bias", get(f"{prefix}.bias", 1))
        else:
            raise ConfigError(f"unknown backbone norm {norm!r}")
    out = {"params": params}
    if frozen:
        out["frozen"] = frozen
    return out


def _replace_subtree(tree: Mapping, prefix: Sequence[str], new: Mapping, collection: str) -> dict:
    """Copy of ``tree`` with ``tree[prefix...]`` replaced by ``new``; every leaf's shape must match."""
    tree = dict(tree)
    if not prefix:
        _check_same(tree, new, collection)
        return {k: new[k] for k in tree}
    head = prefix[0]
    if head not in tree:
        raise ConfigError(f"pretrained backbone: the model has no {collection}/{'/'.join(prefix)}")
    tree[head] = _replace_subtree(tree[head], prefix[1:], new, collection)
    return tree


def _check_same(old: Mapping, new: Mapping, where: str) -> None:
    if set(old) != set(new):
        missing, extra = sorted(set(old) - set(new)), sorted(set(new) - set(old))
        raise ConfigError(
            f"pretrained backbone: {where}: tree mismatch (missing {missing}, unexpected {extra})"
        )
    for k in old:
        if isinstance(old[k], Mapping):
            _check_same(old[k], new[k], f"{where}/{k}")
        elif tuple(old[k].shape) != tuple(new[k].shape):
            raise ConfigError(
                f"pretrained backbone: {where}/{k}: shape {tuple(new[k].shape)} in the file, "
                f"{tuple(old[k].shape)} in the model"
            )


def load_into(variables: Mapping, path: str | pathlib.Path, norm: str, prefix: Sequence[str] = ("backbone",)):
    """``variables`` with the backbone at ``prefix`` replaced by the converted torchvision weights.

    Works on concrete arrays and inside ``jax.eval_shape``/``jit`` (the weights become constants).
    """
    converted = convert_resnet18(load_state_dict(path), norm)
    out = dict(variables)
    for collection, tree in converted.items():
        if collection not in out:
            raise ConfigError(
                f"pretrained backbone: the model has no {collection!r} collection "
                f"(backbone_norm={norm!r} does not match the model)"
            )
        out[collection] = _replace_subtree(out[collection], tuple(prefix), _to_jnp(tree), collection)
    return out


def _to_jnp(tree):
    import jax.numpy as jnp

    return {k: _to_jnp(v) if isinstance(v, Mapping) else jnp.asarray(v) for k, v in tree.items()}
