"""LeRobot policy checkpoints (ACT, Diffusion Policy) as jaxrobot models: configs, weights and statistics.

Reads a LeRobot 0.4.x ``save_pretrained`` folder and maps it, tensor by tensor, onto jaxrobot's own ACT
(:mod:`jaxrobot.models.act`) or Diffusion Policy (:mod:`jaxrobot.models.diffusion`), which follow LeRobot
0.4.4's mathematics (``policies/act/modeling_act.py``, ``policies/diffusion/modeling_diffusion.py``):

- ``config.json``: the policy config. Every field is either mapped to a jaxrobot config field, checked to hold
  a value jaxrobot's model reproduces, or known to matter only for training (optimiser presets, devices, hub
  metadata); an unknown field or an unsupported value is refused by name.
- ``model.safetensors``: the weights. Every LeRobot tensor is mapped explicitly (PyTorch ``[out, in]``
  matrices transposed, attention ``in_proj`` split into query / key / value, convolutions to HWIO or
  ``[k, in, out]``, frozen BatchNorm statistics into the ``"frozen"`` collection) or checked and dropped (fixed
  position tables, BatchNorm counters). Unmapped LeRobot tensors, missing ones and any difference between
  the mapped tree and the one jaxrobot's model initialises are errors that list the keys: never a partial
  import.
- the normalisation statistics: since LeRobot 0.4 in ``policy_preprocessor*.json`` /
  ``policy_postprocessor*.json`` with their normaliser ``.safetensors`` (``"<feature>.<stat>"``); older
  checkpoints keep them in the model as ``normalize_inputs.buffer_<feature>.<stat>`` (and
  ``unnormalize_outputs`` / ``normalize_targets``) buffers. LeRobot normalises ``(x - mean) / (std + eps)``
  (MEAN_STD), ``2 (x - min) / (max - min) - 1`` (MIN_MAX, QUANTILES, QUANTILE10 with their own bounds) or not
  at all (IDENTITY), per feature type. State and action become jaxrobot's ``stats`` (one mode for both:
  ``mean_std`` when that reproduces LeRobot exactly, else ``min_max`` bounds ``center -/+ scale`` of the same
  affine map); camera statistics become the model's ``image_norm`` / ``image_stats``.

Observation names: LeRobot's ``observation.state`` is ``state``, ``observation.images.<camera>`` is
``image_<camera>`` and ``observation.environment_state`` is ``environment_state`` (batch keys
``observation/<name>``), so the robot-side runtime takes the same names the LeRobot policy did.

Nothing here writes files; :mod:`jaxrobot.train.lerobot_checkpoint` writes the checkpoint folder.
"""

from __future__ import annotations

import dataclasses
import hashlib
import json
import pathlib
import re
from collections.abc import Iterable, Mapping
from typing import Any

import numpy as np

from jaxrobot.config import Config, ConfigError, validate
from jaxrobot.data.normalize import RANGE_EPS, STD_FLOOR
from jaxrobot.models.act import ACTConfig, ACTModel
from jaxrobot.models.diffusion import DiffusionConfig, DiffusionModel
from jaxrobot.models.policy_batch import ENV_STATE_KEY
from jaxrobot.nn.backbones import IMAGENET_MEAN, IMAGENET_STD
from jaxrobot.nn.resnet_convert import convert_resnet18, read_safetensors, torchvision_resnet18_keys
from jaxrobot.nn.spatial_softmax import keypoint_grid
from jaxrobot.nn.transformer import sinusoid_1d

#: The LeRobot release these mappings were written against and are tested with.
LEROBOT_VERSION = "0.4.4"
POLICY_TYPES = ("act", "diffusion")

OBS_STATE, OBS_ENV_STATE, ACTION = "observation.state", "observation.environment_state", "action"
MAX_LISTED = 12  # keys named in one error message


class LeRobotImportError(ConfigError):
    """The LeRobot folder cannot be imported exactly; the message says which file, field or tensors, and why."""


# ------------------------------------------------------------------------------------------ reading the folder


@dataclasses.dataclass
class LeRobotFolder:
    """What a LeRobot ``save_pretrained`` folder holds, read but not interpreted.

    ``tensors``: the model weights (normalisation buffers removed); ``stats``: feature → stat → array (the
    pre-processor's, with the post-processor's for ``action``); ``normalizer``: how the pre-processor's
    normaliser is configured (``norm_map`` by feature type, ``features`` → type, ``eps``, ``keys`` it is
    restricted to or None), ``unnormalizer`` the same for actions; ``stats_source`` says where statistics
    came from; ``files`` the sha256 of every file read.
    """

    path: pathlib.Path
    config: dict[str, Any]
    tensors: dict[str, np.ndarray]
    stats: dict[str, dict[str, np.ndarray]]
    normalizer: dict[str, Any]
    unnormalizer: dict[str, Any]
    stats_source: str
    files: dict[str, str]
    notes: list[str]


def _sha256(path: pathlib.Path) -> str:
    return hashlib.sha256(path.read_bytes()).hexdigest()


def _listing(keys: Iterable[str]) -> str:
    keys = sorted(keys)
    more = f" ... and {len(keys) - MAX_LISTED} more" if len(keys) > MAX_LISTED else ""
    return ", ".join(keys[:MAX_LISTED]) + more


def _read_json(path: pathlib.Path) -> dict[str, Any]:
    try:
        value = json.loads(path.read_text())
    except (OSError, UnicodeDecodeError, json.JSONDecodeError) as e:
        raise LeRobotImportError(f"{path}: not readable JSON ({e})") from None
    if not isinstance(value, dict):
        raise LeRobotImportError(f"{path}: expected a JSON object")
    return value


def _one_file(folder: pathlib.Path, pattern: str) -> pathlib.Path | None:
    found = sorted(folder.glob(pattern))
    if len(found) > 1:
        raise LeRobotImportError(f"{folder}: several {pattern} files ({', '.join(p.name for p in found)}); keep "
                                 f"the one pipeline the policy was saved with")
    return found[0] if found else None


# Pre/post-processor steps that do not change values (batching, device moves, key renames).
_PASSIVE_STEPS = ("rename_observations_processor", "to_batch_processor", "device_processor")


def _read_pipeline(folder: pathlib.Path, path: pathlib.Path, step_name: str, files: dict[str, str],
                   notes: list[str]) -> tuple[dict[str, Any], dict[str, np.ndarray]]:
    """The (un)normaliser step of one processor pipeline: its config and its flat ``"<feature>.<stat>"`` arrays."""
    pipeline = _read_json(path)
    files[path.name] = _sha256(path)
    steps = pipeline.get("steps")
    if not isinstance(steps, list):
        raise LeRobotImportError(f"{path}: no 'steps' list (not a LeRobot processor pipeline)")
    found = None
    for step in steps:
        name = step.get("registry_name")
        if name == step_name:
            if found is not None:
                raise LeRobotImportError(f"{path}: two {step_name} steps")
            found = step
        elif name == "rename_observations_processor":
            rename = (step.get("config") or {}).get("rename_map") or {}
            if rename:
                notes.append(f"{path.name} renames robot observation keys before the policy ({rename}); the "
                             f"jaxrobot policy takes the policy's own names")
        elif name not in _PASSIVE_STEPS:
            raise LeRobotImportError(f"{path}: processor step {name!r} is not supported (known: {step_name}, "
                                     f"{', '.join(_PASSIVE_STEPS)}): it may change values jaxrobot's policy "
                                     f"would not reproduce")
    if found is None:
        raise LeRobotImportError(f"{path}: no {step_name} step")
    config = found.get("config") or {}
    arrays: dict[str, np.ndarray] = {}
    state_file = found.get("state_file")
    if state_file:
        sp = folder / state_file
        if not sp.is_file():
            raise LeRobotImportError(f"{path}: its statistics file {state_file} is missing from {folder}")
        arrays = read_safetensors(sp)
        files[sp.name] = _sha256(sp)
    return config, arrays


def _nest(flat: Mapping[str, np.ndarray], where: str) -> dict[str, dict[str, np.ndarray]]:
    out: dict[str, dict[str, np.ndarray]] = {}
    for key, value in flat.items():
        if "." not in key:
            raise LeRobotImportError(f"{where}: statistic {key!r} is not named <feature>.<stat>")
        feature, stat = key.rsplit(".", 1)
        out.setdefault(feature, {})[stat] = np.asarray(value, np.float64)
    return out


_BUFFER_PREFIXES = ("normalize_inputs.", "normalize_targets.", "unnormalize_outputs.")


def _normalizer_config(config: Mapping[str, Any], where: str) -> dict[str, Any]:
    features = {k: (v or {}).get("type") for k, v in (config.get("features") or {}).items()}
    keys = config.get("normalize_observation_keys")
    return {"norm_map": dict(config.get("norm_map") or {}), "features": features,
            "eps": float(config.get("eps", 1e-8)), "keys": None if keys is None else set(keys), "where": where}


def _model_buffer_stats(tensors: dict[str, np.ndarray], config: Mapping[str, Any]) -> dict[str, Any]:
    """Statistics kept in the model by LeRobot < 0.4 (``normalize_inputs.buffer_<feature with _ for .>.<stat>``),
    removed from ``tensors``. Returns ``{"inputs": stats, "outputs": stats}``; a buffer that names no feature of
    the config is an error."""
    features = {**(config.get("input_features") or {}), **(config.get("output_features") or {})}
    by_buffer = {"buffer_" + k.replace(".", "_"): k for k in features}
    found: dict[str, dict[str, dict[str, np.ndarray]]] = {"inputs": {}, "targets": {}, "outputs": {}}
    unknown = []
    for key in [k for k in tensors if k.startswith(_BUFFER_PREFIXES)]:
        prefix, rest = key.split(".", 1)
        buffer, _, stat = rest.rpartition(".")
        value = tensors.pop(key)
        if buffer not in by_buffer or not stat:
            unknown.append(key)
            continue
        which = {"normalize_inputs": "inputs", "normalize_targets": "targets", "unnormalize_outputs": "outputs"}[prefix]
        found[which].setdefault(by_buffer[buffer], {})[stat] = np.asarray(value, np.float64)
    if unknown:
        raise LeRobotImportError(f"model.safetensors: normalisation buffers that name no feature of config.json: "
                                 f"{_listing(unknown)}")
    outputs = found["outputs"] or found["targets"]
    return {"inputs": found["inputs"], "outputs": outputs}


def read_folder(path: str | pathlib.Path) -> LeRobotFolder:
    """Read a LeRobot policy folder (``config.json``, ``model.safetensors`` and the processors, if any)."""
    folder = pathlib.Path(path)
    if not folder.is_dir():
        raise LeRobotImportError(f"{folder}: not a folder (expected a LeRobot save_pretrained folder)")
    files: dict[str, str] = {}
    notes: list[str] = []
    cfg_path, weights_path = folder / "config.json", folder / "model.safetensors"
    for p in (cfg_path, weights_path):
        if not p.is_file():
            present = sorted(x.name for x in folder.iterdir())
            raise LeRobotImportError(f"{folder}: no {p.name} (a LeRobot save_pretrained folder has config.json and "
                                     f"model.safetensors; found {present})")
    config = _read_json(cfg_path)
    files["config.json"] = _sha256(cfg_path)
    tensors = read_safetensors(weights_path)
    files["model.safetensors"] = _sha256(weights_path)
    widened = sorted({str(v.dtype) for v in tensors.values() if v.dtype != np.float32 and v.dtype.kind == "f"})
    if widened:
        notes.append(f"model.safetensors stores {', '.join(widened)} tensors; they were converted to float32")
    buffers = _model_buffer_stats(tensors, config) if any(k.startswith(_BUFFER_PREFIXES) for k in tensors) else None

    pre_path = _one_file(folder, "policy_preprocessor*.json")
    post_path = _one_file(folder, "policy_postprocessor*.json")
    mapping = config.get("normalization_mapping") or {}
    if pre_path is not None or post_path is not None:
        if pre_path is None or post_path is None:
            missing = "policy_preprocessor*.json" if pre_path is None else "policy_postprocessor*.json"
            raise LeRobotImportError(f"{folder}: {missing} is missing (LeRobot 0.4 saves both processors)")
        pre_cfg, pre_arrays = _read_pipeline(folder, pre_path, "normalizer_processor", files, notes)
        post_cfg, post_arrays = _read_pipeline(folder, post_path, "unnormalizer_processor", files, notes)
        stats = _nest(pre_arrays, pre_path.name)
        post_stats = _nest(post_arrays, post_path.name)
        if ACTION in post_stats:
            stats[ACTION] = post_stats[ACTION]
        else:
            stats.pop(ACTION, None)
        normalizer = _normalizer_config(pre_cfg, pre_path.name)
        unnormalizer = _normalizer_config(post_cfg, post_path.name)
        source = f"processors ({pre_path.name}, {post_path.name})"
        if buffers is not None:
            _check_same_stats(buffers, stats, folder)
            notes.append("model.safetensors also holds normalisation buffers; they agree with the processors")
    elif buffers is not None:
        stats = dict(buffers["inputs"])
        if ACTION in buffers["outputs"]:
            stats[ACTION] = buffers["outputs"][ACTION]
        features = {k: (v or {}).get("type") for k, v in
                    {**(config.get("input_features") or {}), **(config.get("output_features") or {})}.items()}
        normalizer = {"norm_map": dict(mapping), "features": features, "eps": 1e-8, "keys": None,
                      "where": "model.safetensors buffers"}
        unnormalizer = dict(normalizer)
        for feature, values in stats.items():
            for stat, arr in values.items():
                if not np.all(np.isfinite(arr)):
                    raise LeRobotImportError(f"model.safetensors: normalisation buffer {feature}.{stat} is not finite "
                                             f"(LeRobot < 0.4 leaves statistics it was never given at inf)")
        source = "model.safetensors normalisation buffers (LeRobot < 0.4)"
    else:
        stats = {}
        normalizer = {"norm_map": dict(mapping), "features": {}, "eps": 1e-8, "keys": None, "where": "none"}
        unnormalizer = dict(normalizer)
        source = "none"
        notes.append("no processors and no normalisation buffers: observations and actions are used as they are")
    return LeRobotFolder(folder, config, tensors, stats, normalizer, unnormalizer, source, files, notes)


def _check_same_stats(buffers: dict[str, Any], stats: dict[str, dict[str, np.ndarray]], folder: pathlib.Path) -> None:
    for group in ("inputs", "outputs"):
        for feature, values in buffers[group].items():
            for stat, arr in values.items():
                other = stats.get(feature, {}).get(stat)
                if other is None or other.shape != arr.shape or not np.allclose(other, arr, rtol=1e-6, atol=1e-7):
                    raise LeRobotImportError(
                        f"{folder}: model.safetensors buffer {feature}.{stat} disagrees with the processors' "
                        f"statistics (LeRobot 0.4 uses the processors; remove the stale buffers or the processors)")


# ------------------------------------------------------------------------------------------ normalisation


def _affine(values: Mapping[str, np.ndarray] | None, mode: str, eps: float, dim: int, what: str,
            *, inverse: bool) -> tuple[np.ndarray, np.ndarray, str | None]:
    """LeRobot's normalisation of one feature as ``normalised = (x - center) / scale`` (float64 [dim] each).

    ``inverse``: the map LeRobot's unnormaliser inverts (MEAN_STD unnormalises with ``std``, without eps).
    Returns (center, scale, note or None).
    """
    if mode == "IDENTITY" or values is None:
        return np.zeros(dim), np.ones(dim), None
    bounds = {"MIN_MAX": ("min", "max"), "QUANTILES": ("q01", "q99"), "QUANTILE10": ("q10", "q90")}
    if mode == "MEAN_STD":
        needed = ("mean", "std")
    elif mode in bounds:
        needed = bounds[mode]
    else:
        raise LeRobotImportError(f"{what}: normalisation mode {mode!r} is not supported (known: IDENTITY, MEAN_STD, "
                                 f"MIN_MAX, QUANTILES, QUANTILE10)")
    missing = [s for s in needed if s not in values]
    if missing:
        raise LeRobotImportError(f"{what}: {mode} normalisation needs statistics {missing}, which are missing")
    arrays = [np.asarray(values[s], np.float64).reshape(-1) for s in needed]
    for s, a in zip(needed, arrays, strict=True):
        if a.shape != (dim,):
            raise LeRobotImportError(f"{what}: statistic {s} has {a.size} values, the feature has {dim}")
    if mode == "MEAN_STD":
        mean, std = arrays
        return mean, (std if inverse else std + eps), None
    lo, hi = arrays
    denom = hi - lo
    flat = denom == 0
    denom = np.where(flat, eps, denom)
    center, scale = lo + denom / 2, denom / 2
    note = None
    if flat.any() and not inverse:
        # LeRobot maps x = min to -1 with slope 2 / eps; keep -1 at x = min with a representable slope.
        center, scale = np.where(flat, lo + 1.0, center), np.where(flat, 1.0, scale)
        note = (f"{what}: dimensions {np.flatnonzero(flat).tolist()} have {needed[0]} == {needed[1]}; they map to -1 "
                f"at that value as in LeRobot (with slope 1 instead of 2/eps elsewhere)")
    return center, scale, note


def _mode_for(normalizer: Mapping[str, Any], key: str, feature_type: str, stats: Mapping[str, Any],
              observation: bool) -> str:
    """The mode LeRobot's (un)normaliser applies to ``key`` ("IDENTITY" when it leaves it as it is)."""
    if observation:
        if normalizer["features"] and key not in normalizer["features"]:
            return "IDENTITY"
        if normalizer["keys"] is not None and key not in normalizer["keys"]:
            return "IDENTITY"
        feature_type = normalizer["features"].get(key) or feature_type
    mode = str(normalizer["norm_map"].get(feature_type, "IDENTITY"))
    return mode if key in stats else "IDENTITY"


def _policy_stats(folder: LeRobotFolder, state_dim: int, action_dim: int) -> tuple[dict[str, Any], list[str]]:
    """jaxrobot ``stats`` (state and action) reproducing LeRobot's normaliser and unnormaliser."""
    notes = []
    s_mode = _mode_for(folder.normalizer, OBS_STATE, "STATE", folder.stats, observation=True)
    a_mode = _mode_for(folder.unnormalizer, ACTION, "ACTION", folder.stats, observation=False)
    s_center, s_scale, n1 = _affine(folder.stats.get(OBS_STATE), s_mode, folder.normalizer["eps"], state_dim,
                                    OBS_STATE, inverse=False)
    a_center, a_scale, n2 = _affine(folder.stats.get(ACTION), a_mode, folder.unnormalizer["eps"], action_dim,
                                    ACTION, inverse=True)
    notes += [n for n in (n1, n2) if n]
    # (x - mean) / max(std, STD_FLOOR) is LeRobot's MEAN_STD exactly while every scale is above the floor;
    # otherwise the same affine maps as min_max bounds: 2 (x - lo) / (hi - lo) - 1 with lo, hi = center -/+ scale.
    natural_mean_std = (s_mode in ("MEAN_STD", "IDENTITY") and a_mode in ("MEAN_STD", "IDENTITY")
                        and s_scale.min(initial=np.inf) >= STD_FLOOR and a_scale.min(initial=np.inf) >= STD_FLOOR)
    if natural_mean_std:
        stats = {"mode": "mean_std",
                 "state": {"mean": s_center.tolist(), "std": s_scale.tolist()},
                 "action": {"mean": a_center.tolist(), "std": a_scale.tolist()}}
    else:
        tiny = np.concatenate([s_scale, a_scale])
        if np.any(2 * tiny <= RANGE_EPS):
            notes.append("some normalisation ranges are below 1e-8: those dimensions are mapped to 0 and back to their "
                         "centre, not divided by LeRobot's eps")
        stats = {"mode": "min_max",
                 "state": {"min": (s_center - s_scale).tolist(), "max": (s_center + s_scale).tolist()},
                 "action": {"min": (a_center - a_scale).tolist(), "max": (a_center + a_scale).tolist()}}
    stats["lerobot_modes"] = {"state": s_mode, "action": a_mode}  # what LeRobot applied (for the reader)
    return stats, notes


def _image_norm(folder: LeRobotFolder, cameras: Mapping[str, str]) -> tuple[dict[str, Any], list[str]]:
    """``image_norm`` / ``image_stats`` config fields reproducing LeRobot's per-camera image normalisation."""
    per_camera = {}
    for key, name in cameras.items():
        mode = _mode_for(folder.normalizer, key, "VISUAL", folder.stats, observation=True)
        values = folder.stats.get(key)
        if values is not None and mode != "IDENTITY":
            shapes = {s: np.asarray(v).shape for s, v in values.items()}
            bad = {s: sh for s, sh in shapes.items() if int(np.prod(sh)) != 3}
            if bad:
                raise LeRobotImportError(f"{key}: image statistics must be per channel (3 values), got shapes {bad}")
        center, scale, note = _affine(values, mode, folder.normalizer["eps"], 3, key, inverse=False)
        if note:
            raise LeRobotImportError(f"{key}: a colour channel has a zero range in its statistics ({note})")
        per_camera[name] = (center, scale)
    if not per_camera:
        return {}, []
    if all(np.allclose(c, 0) and np.allclose(s, 1) for c, s in per_camera.values()):
        return {"image_norm": "unit"}, []
    if all(np.allclose(c, IMAGENET_MEAN, atol=1e-6) and np.allclose(s, IMAGENET_STD, atol=1e-6)
           for c, s in per_camera.values()):
        return {"image_norm": "imagenet"}, []
    stats = tuple((name, tuple(float(x) for x in c), tuple(float(x) for x in s))
                  for name, (c, s) in sorted(per_camera.items()))
    return {"image_norm": "stats", "image_stats": stats}, []


# ------------------------------------------------------------------------------------------ config mapping

# Fields that only configure training, devices or the hub: no effect on the policy's outputs.
_COMMON_IGNORED = ("device", "use_amp", "push_to_hub", "repo_id", "private", "tags", "license", "pretrained_path",
                   "type")
_ACT_IGNORED = ("optimizer_lr", "optimizer_weight_decay", "optimizer_lr_backbone", "pretrained_backbone_weights")
_DP_IGNORED = ("optimizer_lr", "optimizer_betas", "optimizer_eps", "optimizer_weight_decay", "scheduler_name",
               "scheduler_warmup_steps", "compile_model", "compile_mode", "drop_n_last_frames",
               "pretrained_backbone_weights")


def _unsupported(field: str, value: Any, why: str) -> LeRobotImportError:
    return LeRobotImportError(f"LeRobot config field {field!r} = {value!r} is not supported: {why}")


def _check_fields(cfg: Mapping[str, Any], known: Iterable[str], policy: str) -> None:
    unknown = sorted(set(cfg) - set(known))
    if unknown:
        raise LeRobotImportError(f"config.json: unknown {policy} config field(s) {unknown}; this importer knows "
                                 f"LeRobot {LEROBOT_VERSION}'s fields and will not guess what new ones mean")


def _features(cfg: Mapping[str, Any]) -> dict[str, Any]:
    """Parse input/output features: the state, environment state, cameras (LeRobot key → jaxrobot name) and action."""
    if "input_shapes" in cfg and "input_features" not in cfg:
        raise LeRobotImportError("config.json uses LeRobot < 0.2's input_shapes; load and save the policy with a "
                                 "newer LeRobot first (this importer reads input_features)")
    inputs = cfg.get("input_features") or {}
    outputs = cfg.get("output_features") or {}
    if ACTION not in outputs or (outputs[ACTION] or {}).get("type") != "ACTION":
        raise LeRobotImportError(f"config.json: output_features has no 'action' of type ACTION ({sorted(outputs)})")
    extra_out = sorted(set(outputs) - {ACTION})
    if extra_out:
        raise LeRobotImportError(f"config.json: output features {extra_out} besides 'action' are not supported")
    action_shape = list(outputs[ACTION]["shape"])
    if len(action_shape) != 1:
        raise LeRobotImportError(f"config.json: action shape {action_shape} is not one-dimensional")
    out: dict[str, Any] = {"action_dim": int(action_shape[0]), "cameras": {}, "camera_shapes": {}, "ignored": []}
    names = set()
    for key, ft in inputs.items():
        kind, shape = (ft or {}).get("type"), list((ft or {}).get("shape") or [])
        if kind == "STATE" and key == OBS_STATE:
            if len(shape) != 1:
                raise LeRobotImportError(f"config.json: {key} shape {shape} is not one-dimensional")
            out["state_dim"] = int(shape[0])
        elif kind == "ENV":
            if key != OBS_ENV_STATE:
                raise LeRobotImportError(f"config.json: ENV feature {key!r}: LeRobot's policies read only "
                                         f"{OBS_ENV_STATE!r}")
            if len(shape) != 1:
                raise LeRobotImportError(f"config.json: {key} shape {shape} is not one-dimensional")
            out["env_dim"] = int(shape[0])
        elif kind == "VISUAL":
            if len(shape) != 3 or shape[0] != 3:
                raise LeRobotImportError(f"config.json: camera {key} has shape {shape}; jaxrobot's policies take "
                                         f"RGB images (3, H, W)")
            name = re.sub(r"[^A-Za-z0-9_-]", "_", key.removeprefix("observation.").removeprefix("images."))
            if name in names:
                raise LeRobotImportError(f"config.json: cameras {key!r} and another one both map to image_{name}")
            names.add(name)
            out["cameras"][key] = name
            out["camera_shapes"][key] = (int(shape[1]), int(shape[2]))
        else:
            out["ignored"].append(key)
    if "state_dim" not in out:
        raise LeRobotImportError(f"config.json: no {OBS_STATE} input (STATE); jaxrobot's ACT and Diffusion Policy "
                                 f"condition on a robot state")
    return out


def _resnet18_only(cfg: Mapping[str, Any]) -> None:
    if cfg.get("vision_backbone", "resnet18") != "resnet18":
        raise _unsupported("vision_backbone", cfg.get("vision_backbone"), "jaxrobot's backbone is ResNet-18")


def act_config(cfg: Mapping[str, Any], features: Mapping[str, Any], image_fields: Mapping[str, Any]) -> ACTConfig:
    """jaxrobot :class:`ACTConfig` for a LeRobot ACT ``config.json``; unsupported values are refused."""
    mapped = ("chunk_size", "n_action_steps", "temporal_ensemble_coeff", "pre_norm", "dim_model", "n_heads",
              "dim_feedforward", "n_encoder_layers", "n_decoder_layers", "use_vae", "latent_dim",
              "n_vae_encoder_layers", "dropout", "kl_weight")
    checked = ("n_obs_steps", "input_features", "output_features", "normalization_mapping", "vision_backbone",
               "replace_final_stride_with_dilation", "feedforward_activation", "use_peft")
    _check_fields(cfg, (*mapped, *checked, *_COMMON_IGNORED, *_ACT_IGNORED), "ACT")
    if int(cfg.get("n_obs_steps", 1)) != 1:
        raise _unsupported("n_obs_steps", cfg.get("n_obs_steps"), "ACT conditions on one frame")
    _resnet18_only(cfg)
    if cfg.get("replace_final_stride_with_dilation"):
        raise _unsupported("replace_final_stride_with_dilation", cfg["replace_final_stride_with_dilation"],
                           "torchvision's ResNet-18 refuses dilation")
    activation = cfg.get("feedforward_activation", "relu")
    if activation not in ("relu", "gelu"):
        raise _unsupported("feedforward_activation", activation,
                           "known: relu, gelu (LeRobot also accepts glu in its config, but glu halves the "
                           "feed-forward width and its own forward pass fails on the shapes)")
    if cfg.get("use_peft"):
        raise _unsupported("use_peft", True, "PEFT adapters are not mapped; merge them into the weights first")
    if not features["cameras"] and "env_dim" not in features:
        raise LeRobotImportError("config.json: ACT needs a camera or an environment state (LeRobot refuses it too)")
    fields = {k: cfg[k] for k in mapped if k in cfg}
    return validate(ACTConfig(action_dim=features["action_dim"], backbone="resnet18", backbone_norm="frozen_bn",
                              backbone_width=64, backbone_output_stride=32, feedforward_activation=activation,
                              pretrained_backbone="", random_shift=0, **image_fields, **fields))


def diffusion_config(cfg: Mapping[str, Any], features: Mapping[str, Any], image_fields: Mapping[str, Any],
                     sampler: str | None = None, num_inference_steps: int | None = None) -> DiffusionConfig:
    """jaxrobot :class:`DiffusionConfig` for a LeRobot Diffusion Policy ``config.json``.

    ``sampler`` / ``num_inference_steps`` replace LeRobot's ``noise_scheduler_type`` / ``num_inference_steps``
    (e.g. DDIM for export); None keeps LeRobot's.
    """
    mapped = ("horizon", "n_action_steps", "n_obs_steps", "crop_is_random", "use_separate_rgb_encoder_per_camera",
              "spatial_softmax_num_keypoints", "kernel_size", "n_groups", "diffusion_step_embed_dim",
              "use_film_scale_modulation", "num_train_timesteps", "beta_start", "beta_end", "prediction_type",
              "clip_sample", "clip_sample_range", "do_mask_loss_for_padding")
    checked = ("input_features", "output_features", "normalization_mapping", "vision_backbone", "resize_shape",
               "crop_ratio", "crop_shape", "use_group_norm", "down_dims", "noise_scheduler_type", "beta_schedule",
               "num_inference_steps", "use_peft")
    _check_fields(cfg, (*mapped, *checked, *_COMMON_IGNORED, *_DP_IGNORED), "Diffusion Policy")
    _resnet18_only(cfg)
    if cfg.get("resize_shape") is not None:
        raise _unsupported("resize_shape", cfg["resize_shape"], "jaxrobot's Diffusion Policy does not resize images "
                           "(torchvision's antialiased resize is not reproduced); resize on the robot side instead")
    if cfg.get("use_peft"):
        raise _unsupported("use_peft", True, "PEFT adapters are not mapped; merge them into the weights first")
    schedule = cfg.get("beta_schedule", "squaredcos_cap_v2")
    if schedule not in ("squaredcos_cap_v2", "linear"):
        raise _unsupported("beta_schedule", schedule, "jaxrobot has squaredcos_cap_v2 and linear")
    if cfg.get("prediction_type", "epsilon") not in ("epsilon", "sample"):
        raise _unsupported("prediction_type", cfg.get("prediction_type"), "known: epsilon, sample")
    kind = cfg.get("noise_scheduler_type", "DDPM")
    if kind not in ("DDPM", "DDIM"):
        raise _unsupported("noise_scheduler_type", kind, "known: DDPM, DDIM")
    if not features["cameras"] and "env_dim" not in features:
        raise LeRobotImportError("config.json: Diffusion Policy needs a camera or an environment state (LeRobot "
                                 "refuses it too)")
    shapes = set(features["camera_shapes"].values())
    if len(shapes) > 1:
        raise LeRobotImportError(f"config.json: Diffusion Policy cameras differ in size {sorted(shapes)} (LeRobot "
                                 f"requires one size)")
    fields = {k: cfg[k] for k in mapped if k in cfg}
    n_train = int(cfg.get("num_train_timesteps", 100))
    steps = cfg.get("num_inference_steps")
    n_obs = int(cfg.get("n_obs_steps", 2))
    crop = cfg.get("crop_shape")
    return validate(DiffusionConfig(
        action_dim=features["action_dim"], backbone="resnet18",
        backbone_norm="group_norm" if cfg.get("use_group_norm", True) else "frozen_bn", backbone_width=64,
        backbone_output_stride=32, crop_shape=None if crop is None else (int(crop[0]), int(crop[1])),
        down_dims=tuple(int(d) for d in cfg.get("down_dims", (512, 1024, 2048))), beta_schedule=schedule,
        sampler=sampler or kind.lower(),
        num_inference_steps=int(num_inference_steps or (n_train if steps is None else steps)),
        action_offset=n_obs - 1, **image_fields, **fields))


# ------------------------------------------------------------------------------------------ weight mapping


class _Mapping:
    """Builds the jaxrobot variable tree from LeRobot tensors, remembering which tensors were used.

    ``take`` records a missing key instead of raising, so one error lists every missing tensor.
    """

    def __init__(self, tensors: Mapping[str, np.ndarray]):
        self.tensors = tensors
        self.used: set[str] = set()
        self.missing: list[str] = []
        self.tree: dict[str, Any] = {}

    def take(self, key: str, ndim: int | None = None) -> np.ndarray | None:
        if key not in self.tensors:
            self.missing.append(key)
            return None
        self.used.add(key)
        value = np.asarray(self.tensors[key], np.float32)
        if ndim is not None and value.ndim != ndim:
            raise LeRobotImportError(f"model.safetensors: {key} has shape {value.shape}, expected {ndim} dimensions")
        return value

    def drop(self, key: str) -> np.ndarray | None:
        """Mark a tensor as accounted for without mapping it (checked by the caller)."""
        if key in self.tensors:
            self.used.add(key)
            return np.asarray(self.tensors[key])
        return None

    def put(self, path: tuple[str, ...], value: np.ndarray | None) -> None:
        if value is None:
            return
        node = self.tree
        for p in path[:-1]:
            node = node.setdefault(p, {})
        if path[-1] in node:
            raise AssertionError(f"jaxrobot parameter {'/'.join(path)} mapped twice")
        node[path[-1]] = np.ascontiguousarray(value, np.float32)

    # ---- layer kinds (torch layout → jaxrobot layout)

    def linear(self, key: str, path: tuple[str, ...], rows: np.ndarray | None = None) -> None:
        """torch Linear ``weight [out, in]`` → Dense ``kernel [in, out]``; ``rows`` reorders the input features."""
        w = self.take(f"{key}.weight", 2)
        if w is not None:
            if rows is not None and w.shape[1] != len(rows):
                raise LeRobotImportError(f"model.safetensors: {key}.weight has shape {w.shape}: {w.shape[1]} inputs, "
                                         f"but the config's features give {len(rows)} conditioning values")
            kernel = w.T if rows is None else w.T[rows]
            self.put((*path, "kernel"), kernel)
        self.put((*path, "bias"), self.take(f"{key}.bias", 1))

    def conv1x1(self, key: str, path: tuple[str, ...]) -> None:
        """torch Conv2d 1x1 ``[out, in, 1, 1]`` → Dense ``kernel [in, out]`` (the model applies it as a Dense)."""
        w = self.take(f"{key}.weight", 4)
        if w is not None:
            if w.shape[2:] != (1, 1):
                raise LeRobotImportError(f"model.safetensors: {key}.weight is a {w.shape[2:]} kernel, expected 1x1")
            self.put((*path, "kernel"), w[:, :, 0, 0].T)
        self.put((*path, "bias"), self.take(f"{key}.bias", 1))

    def conv1d(self, key: str, path: tuple[str, ...]) -> None:
        """torch Conv1d ``[out, in, k]`` → ``kernel [k, in, out]``."""
        w = self.take(f"{key}.weight", 3)
        self.put((*path, "kernel"), None if w is None else np.transpose(w, (2, 1, 0)))
        self.put((*path, "bias"), self.take(f"{key}.bias", 1))

    def conv_transpose1d(self, key: str, path: tuple[str, ...]) -> None:
        """torch ConvTranspose1d ``[in, out, 4]`` → :class:`~jaxrobot.nn.unet1d.Upsample1d` ``kernel [4, in, out]``."""
        w = self.take(f"{key}.weight", 3)
        self.put((*path, "kernel"), None if w is None else np.transpose(w, (2, 0, 1)))
        self.put((*path, "bias"), self.take(f"{key}.bias", 1))

    def norm(self, key: str, path: tuple[str, ...]) -> None:
        """LayerNorm / GroupNorm ``weight, bias`` → ``scale, bias``."""
        self.put((*path, "scale"), self.take(f"{key}.weight", 1))
        self.put((*path, "bias"), self.take(f"{key}.bias", 1))

    def embedding(self, key: str, path: tuple[str, ...]) -> None:
        self.put(path, self.take(f"{key}.weight", 2))

    def attention(self, key: str, path: tuple[str, ...]) -> None:
        """torch MultiheadAttention (packed ``in_proj`` rows q; k; v) → query / key / value / out Dense layers."""
        w = self.take(f"{key}.in_proj_weight", 2)
        b = self.take(f"{key}.in_proj_bias", 1)
        if w is not None and b is not None:
            d = w.shape[1]
            if w.shape[0] != 3 * d or b.shape[0] != 3 * d:
                raise LeRobotImportError(f"model.safetensors: {key}.in_proj_* is not a packed q/k/v projection")
            for i, name in enumerate(("query", "key", "value")):
                self.put((*path, name, "kernel"), w[i * d:(i + 1) * d].T)
                self.put((*path, name, "bias"), b[i * d:(i + 1) * d])
        self.linear(f"{key}.out_proj", (*path, "out"))

    def resnet18(self, prefix: str, rename: Mapping[str, str], path: tuple[str, ...], norm: str) -> None:
        """A torchvision ResNet-18 under ``prefix`` (module names rewritten by ``rename``, e.g. Diffusion Policy's
        ``nn.Sequential`` indices) through :func:`jaxrobot.nn.resnet_convert.convert_resnet18`."""
        state: dict[str, np.ndarray] = {}
        stats = ("weight", "bias", "running_mean", "running_var") if norm == "frozen_bn" else ("weight", "bias")
        for tv_prefix, kind in torchvision_resnet18_keys():
            head, _, tail = tv_prefix.partition(".")
            ours = f"{prefix}{rename.get(head, head)}{'.' + tail if tail else ''}"
            for leaf in (("weight",) if kind == "conv" else stats):
                value = self.take(f"{ours}.{leaf}")
                if value is not None:
                    state[f"{tv_prefix}.{leaf}"] = value
            if kind == "norm" and norm == "frozen_bn":
                self.drop(f"{ours}.num_batches_tracked")
        if self.missing:
            return
        for collection, tree in convert_resnet18(state, norm).items():
            self._graft((collection, *path), tree)

    def _graft(self, path: tuple[str, ...], tree: Mapping[str, Any]) -> None:
        for k, v in tree.items():
            if isinstance(v, Mapping):
                self._graft((*path, k), v)
            else:
                self.put((*path, k), v)

    def finish(self, where: str) -> dict[str, Any]:
        unused = sorted(set(self.tensors) - self.used)
        if self.missing:
            raise LeRobotImportError(f"{where}: tensors the mapping needs are missing from model.safetensors: "
                                     f"{_listing(self.missing)}")
        if unused:
            raise LeRobotImportError(f"{where}: model.safetensors tensors with no jaxrobot counterpart (refusing a "
                                     f"partial import): {_listing(unused)}")
        return self.tree


def _transformer_layer(m: _Mapping, key: str, path: tuple[str, ...], decoder: bool) -> None:
    m.attention(f"{key}.self_attn", (*path, "self_attn"))
    if decoder:
        m.attention(f"{key}.multihead_attn", (*path, "cross_attn"))
    m.linear(f"{key}.linear1", (*path, "linear1"))
    m.linear(f"{key}.linear2", (*path, "linear2"))
    for i in (1, 2, 3) if decoder else (1, 2):
        m.norm(f"{key}.norm{i}", (*path, f"norm{i}"))


def act_variables(tensors: Mapping[str, np.ndarray], c: ACTConfig, has_cameras: bool, has_env: bool) -> dict:
    """LeRobot ACT weights (``model.*``) → jaxrobot ACT variables ``{"params": ..., "frozen": ...}``."""
    m = _Mapping(tensors)
    p = ("params",)
    for i in range(c.n_encoder_layers):
        _transformer_layer(m, f"model.encoder.layers.{i}", (*p, "encoder", f"layers_{i}"), decoder=False)
    if c.pre_norm:
        m.norm("model.encoder.norm", (*p, "encoder", "norm"))
    for i in range(c.n_decoder_layers):
        _transformer_layer(m, f"model.decoder.layers.{i}", (*p, "decoder", f"layers_{i}"), decoder=True)
    m.norm("model.decoder.norm", (*p, "decoder", "norm"))
    if c.use_vae:
        for i in range(c.n_vae_encoder_layers):
            _transformer_layer(m, f"model.vae_encoder.layers.{i}", (*p, "vae_encoder", f"layers_{i}"), decoder=False)
        if c.pre_norm:
            m.norm("model.vae_encoder.norm", (*p, "vae_encoder", "norm"))
        m.embedding("model.vae_encoder_cls_embed", (*p, "vae_encoder_cls_embed"))
        for name in ("vae_encoder_robot_state_input_proj", "vae_encoder_action_input_proj",
                     "vae_encoder_latent_output_proj"):
            m.linear(f"model.{name}", (*p, name))
        table = m.drop("model.vae_encoder_pos_enc")  # a fixed table jaxrobot recomputes: check it is the same one
        want = sinusoid_1d(c.chunk_size + 2, c.dim_model)[None]
        if table is None or table.shape != want.shape or not np.allclose(table, want, atol=1e-5):
            raise LeRobotImportError("model.safetensors: model.vae_encoder_pos_enc is not the sinusoidal table of "
                                     f"{c.chunk_size + 2} tokens x {c.dim_model} jaxrobot computes")
    if has_cameras:
        m.resnet18("model.backbone.", {}, (*p[1:], "backbone"), "frozen_bn")
        m.conv1x1("model.encoder_img_feat_input_proj", (*p, "encoder_img_feat_input_proj"))
    m.linear("model.encoder_robot_state_input_proj", (*p, "encoder_robot_state_input_proj"))
    if has_env:
        m.linear("model.encoder_env_state_input_proj", (*p, "encoder_env_state_input_proj"))
    m.linear("model.encoder_latent_input_proj", (*p, "encoder_latent_input_proj"))
    m.embedding("model.encoder_1d_feature_pos_embed", (*p, "encoder_1d_feature_pos_embed"))
    m.embedding("model.decoder_pos_embed", (*p, "decoder_pos_embed"))
    m.linear("model.action_head", (*p, "action_head"))
    return m.finish("ACT")


# DiffusionRgbEncoder's backbone is ``nn.Sequential(*resnet18.children()[:-2])``: indices for torchvision's names.
_DP_BACKBONE_NAMES = {"conv1": "0", "bn1": "1", "layer1": "4", "layer2": "5", "layer3": "6", "layer4": "7"}


def _rgb_encoder(m: _Mapping, prefix: str, path: tuple[str, ...], c: DiffusionConfig,
                 feature_hw: tuple[int, int]) -> None:
    m.resnet18(f"{prefix}.backbone.", _DP_BACKBONE_NAMES, (*path, "backbone"), c.backbone_norm)
    m.conv1x1(f"{prefix}.pool.nets", ("params", *path, "pool", "nets"))
    grid = m.drop(f"{prefix}.pool.pos_grid")  # fixed soft-argmax coordinates: check them
    want = keypoint_grid(*feature_hw)
    if grid is None or grid.shape != want.shape or not np.allclose(grid, want, atol=1e-6):
        raise LeRobotImportError(f"model.safetensors: {prefix}.pool.pos_grid is not the "
                                 f"{feature_hw[0]}x{feature_hw[1]} keypoint grid jaxrobot computes for these images")
    m.linear(f"{prefix}.out", ("params", *path, "out"))


def _residual_block(m: _Mapping, key: str, path: tuple[str, ...], cond_rows: np.ndarray) -> None:
    for conv in ("conv1", "conv2"):
        m.conv1d(f"{key}.{conv}.block.0", (*path, conv, "conv"))
        m.norm(f"{key}.{conv}.block.1", (*path, conv, "norm"))
    m.linear(f"{key}.cond_encoder.1", (*path, "cond_encoder"), rows=cond_rows)
    if f"{key}.residual_conv.weight" in m.tensors:
        m.conv1d(f"{key}.residual_conv", (*path, "residual_conv"))


def diffusion_variables(tensors: Mapping[str, np.ndarray], c: DiffusionConfig, lerobot_cameras: list[str],
                        camera_names: Mapping[str, str], feature_hw: tuple[int, int] | None, state_dim: int,
                        env_dim: int) -> dict:
    """LeRobot Diffusion Policy weights (``diffusion.*``) → jaxrobot Diffusion Policy variables.

    jaxrobot orders cameras by name, LeRobot by its config; the global conditioning (per frame: state, each
    camera's features, environment state) is laid out in jaxrobot's order, so the rows of every FiLM projection
    that read it are permuted, and separate per-camera encoders are renumbered.
    """
    m = _Mapping(tensors)
    ours = sorted(lerobot_cameras, key=lambda k: camera_names[k])  # jaxrobot's camera order, as LeRobot keys
    feat = 2 * c.spatial_softmax_num_keypoints
    per_frame = state_dim + feat * len(ours) + env_dim

    def lerobot_column(j: int) -> int:  # our global-conditioning column j → LeRobot's
        frame, col = divmod(j, per_frame)
        if state_dim <= col < state_dim + feat * len(ours):
            cam, f = divmod(col - state_dim, feat)
            col = state_dim + lerobot_cameras.index(ours[cam]) * feat + f
        return frame * per_frame + col

    e = c.diffusion_step_embed_dim
    global_dim = per_frame * c.n_obs_steps
    cond_rows = np.concatenate([np.arange(e), e + np.array([lerobot_column(j) for j in range(global_dim)], int)])

    if ours:
        if c.use_separate_rgb_encoder_per_camera:
            for i, key in enumerate(ours):
                _rgb_encoder(m, f"diffusion.rgb_encoder.{lerobot_cameras.index(key)}", ("obs_encoder",
                             f"rgb_encoder_{i}"), c, feature_hw)
        else:
            _rgb_encoder(m, "diffusion.rgb_encoder", ("obs_encoder", "rgb_encoder"), c, feature_hw)
    u, p = "diffusion.unet", ("params", "unet")
    m.linear(f"{u}.diffusion_step_encoder.1", (*p, "diffusion_step_encoder_1"))
    m.linear(f"{u}.diffusion_step_encoder.3", (*p, "diffusion_step_encoder_3"))
    n = len(c.down_dims)
    for i in range(n):
        for j in (0, 1):
            _residual_block(m, f"{u}.down_modules.{i}.{j}", (*p, f"down_{i}_{j}"), cond_rows)
        if i < n - 1:
            m.conv1d(f"{u}.down_modules.{i}.2", (*p, f"down_{i}_2"))
    for j in (0, 1):
        _residual_block(m, f"{u}.mid_modules.{j}", (*p, f"mid_{j}"), cond_rows)
    for i in range(n - 1):
        for j in (0, 1):
            _residual_block(m, f"{u}.up_modules.{i}.{j}", (*p, f"up_{i}_{j}"), cond_rows)
        m.conv_transpose1d(f"{u}.up_modules.{i}.2", (*p, f"up_{i}_2"))
    m.conv1d(f"{u}.final_conv.0.block.0", (*p, "final_conv_0", "conv"))
    m.norm(f"{u}.final_conv.0.block.1", (*p, "final_conv_0", "norm"))
    m.conv1d(f"{u}.final_conv.1", (*p, "final_conv_1"))
    return m.finish("Diffusion Policy")


# ------------------------------------------------------------------------------------------ the whole import


@dataclasses.dataclass
class ImportedPolicy:
    """A LeRobot policy as a jaxrobot model.

    ``config``: the model config; ``variables``: numpy ``{"params": ..., ("frozen": ...)}``; ``stats``: state and
    action statistics (jaxrobot's format); ``spec``: the data spec a checkpoint records; ``example_batch``: two
    examples shaped like the policy's inputs; ``inputs``: LeRobot feature → jaxrobot run-time input name;
    ``provenance``: where it came from (JSON-able); ``notes``: what the user should know.
    """

    config: Config
    variables: dict[str, Any]
    stats: dict[str, Any]
    spec: dict[str, Any]
    example_batch: dict[str, np.ndarray]
    inputs: dict[str, str]
    provenance: dict[str, Any]
    notes: list[str]


def _resnet_map_size(h: int, w: int) -> tuple[int, int]:
    """Spatial size of ResNet-18's ``layer4`` map for an h x w input (stride-2 conv 7, max-pool, 3 stride-2 stages)."""
    def down(n: int, k: int, pad: int) -> int:
        return (n + 2 * pad - k) // 2 + 1

    h, w = down(h, 7, 3), down(w, 7, 3)  # conv1
    h, w = down(h, 3, 1), down(w, 3, 1)  # max-pool
    for _ in range(3):
        h, w = down(h, 3, 1), down(w, 3, 1)
    return h, w


def _example_batch(spec: Mapping[str, Any], seed: int = 0) -> dict[str, np.ndarray]:
    rng = np.random.default_rng(seed)
    out: dict[str, np.ndarray] = {}
    for key, f in spec["features"].items():
        shape = (2, *f["shape"])
        if f["dtype"] == "uint8":
            out[key] = rng.integers(0, 256, shape, dtype=np.uint8)
        elif f["dtype"] == "bool":
            out[key] = np.ones(shape, bool)
        else:
            out[key] = rng.standard_normal(shape).astype(np.float32)
    return out


def convert(folder: LeRobotFolder, *, sampler: str | None = None, num_inference_steps: int | None = None,
            check_tree: bool = True) -> ImportedPolicy:
    """Map a read LeRobot folder onto a jaxrobot model (see the module docstring).

    ``sampler`` / ``num_inference_steps``: Diffusion Policy only, replace LeRobot's sampler (recorded in
    the notes). ``check_tree``: compare the mapped tree with the one the jaxrobot model initialises (shapes
    and names, via ``jax.eval_shape``), which catches any mapping the model would not accept.
    """
    cfg = folder.config
    policy = cfg.get("type")
    if policy not in POLICY_TYPES:
        raise LeRobotImportError(f"{folder.path}/config.json: policy type {policy!r} is not supported (known: "
                                 f"{', '.join(POLICY_TYPES)})")
    if policy == "act" and (sampler or num_inference_steps):
        raise LeRobotImportError("sampler / inference steps apply to Diffusion Policy only")
    features = _features(cfg)
    cameras: dict[str, str] = features["cameras"]
    notes = list(folder.notes)
    if features["ignored"]:
        notes.append(f"inputs {features['ignored']} are not read by LeRobot's {policy} model; ignored")
    if "env_dim" in features:
        env_mode = _mode_for(folder.normalizer, OBS_ENV_STATE, "ENV", folder.stats, observation=True)
        if env_mode != "IDENTITY":
            raise LeRobotImportError(f"{OBS_ENV_STATE} is normalised ({env_mode}); jaxrobot's policies take the "
                                     f"environment state as it is (LeRobot's default leaves ENV features unnormalised)")
    image_fields, image_notes = _image_norm(folder, cameras)
    notes += image_notes
    state_dim, action_dim, env_dim = features["state_dim"], features["action_dim"], features.get("env_dim", 0)
    stats, stat_notes = _policy_stats(folder, state_dim, action_dim)
    notes += stat_notes

    if policy == "act":
        model_cfg = act_config(cfg, features, image_fields)
        n_obs, horizon = 1, model_cfg.chunk_size
        variables = act_variables(folder.tensors, model_cfg, bool(cameras), bool(env_dim))
        model = ACTModel(model_cfg)
    else:
        model_cfg = diffusion_config(cfg, features, image_fields, sampler, num_inference_steps)
        if sampler or num_inference_steps:
            notes.append(f"sampler {model_cfg.sampler} with {model_cfg.num_inference_steps} steps replaces LeRobot's "
                         f"{cfg.get('noise_scheduler_type', 'DDPM')} with {cfg.get('num_inference_steps')} steps")
        n_obs, horizon = model_cfg.n_obs_steps, model_cfg.horizon
        hw = None
        if cameras:
            h, w = next(iter(features["camera_shapes"].values()))
            hw = _resnet_map_size(*(model_cfg.crop_shape or (h, w)))
        variables = diffusion_variables(folder.tensors, model_cfg, list(cameras), cameras, hw, state_dim, env_dim)
        model = DiffusionModel(model_cfg)

    feats: dict[str, dict[str, Any]] = {
        "observation/state": {"shape": [n_obs, state_dim], "dtype": "float32"},
        "observation/pad_mask": {"shape": [n_obs], "dtype": "bool"},
        "action": {"shape": [horizon, action_dim], "dtype": "float32"},
        "action_pad_mask": {"shape": [horizon], "dtype": "bool"},
    }
    inputs = {OBS_STATE: "state"}
    if env_dim:
        feats[ENV_STATE_KEY] = {"shape": [n_obs, env_dim], "dtype": "float32"}
        inputs[OBS_ENV_STATE] = ENV_STATE_KEY.split("/", 1)[1]
    for key, name in cameras.items():
        h, w = features["camera_shapes"][key]
        feats[f"observation/image_{name}"] = {"shape": [n_obs, h, w, 3], "dtype": "uint8"}
        inputs[key] = f"image_{name}"
    sizes = {features["camera_shapes"][k] for k in cameras}
    spec = {"dataset": f"lerobot_{policy}", "cameras": sorted(cameras.values()), "state_dim": state_dim,
            "action_dim": action_dim, "n_obs_steps": n_obs, "horizon": horizon, "normalization": stats["mode"],
            "features": feats, "lerobot_inputs": inputs,
            **({"image_size": list(next(iter(sizes)))} if len(sizes) == 1 else {})}
    if env_dim:
        spec["env_state_dim"] = env_dim
    example = _example_batch(spec)
    if check_tree:
        _check_against_model(model, variables, example)
    provenance = {"lerobot_version": LEROBOT_VERSION, "policy": policy, "source": str(folder.path.absolute()),
                  "files_sha256": folder.files, "statistics": folder.stats_source,
                  "lerobot_config": folder.config, "inputs": inputs,
                  "lerobot_statistics": {k: {s: np.asarray(v).reshape(-1).tolist() for s, v in d.items()}
                                         for k, d in folder.stats.items()}}
    return ImportedPolicy(model_cfg, variables, stats, spec, example, inputs, provenance, notes)


def _paths(tree: Mapping[str, Any], prefix: tuple[str, ...] = ()) -> dict[str, tuple[int, ...]]:
    out = {}
    for k, v in tree.items():
        if isinstance(v, Mapping):
            out.update(_paths(v, (*prefix, k)))
        else:
            out["/".join((*prefix, k))] = tuple(np.shape(v))
    return out


def _check_against_model(model: Any, variables: Mapping[str, Any], example: Mapping[str, np.ndarray]) -> None:
    import jax

    want = _paths(jax.eval_shape(model.init, jax.random.PRNGKey(0), dict(example)))
    got = _paths(variables)
    missing, extra = sorted(set(want) - set(got)), sorted(set(got) - set(want))
    if missing or extra:
        raise LeRobotImportError(f"the mapped weights do not form jaxrobot's {type(model.config).kind} model: "
                                 f"not filled {_listing(missing) or '-'}; unexpected {_listing(extra) or '-'}")
    bad = [f"{k} {got[k]} (jaxrobot {want[k]})" for k in sorted(want) if want[k] != got[k]]
    if bad:
        raise LeRobotImportError(f"mapped weights with the wrong shape: {_listing(bad)}")


def import_folder(path: str | pathlib.Path, **kwargs) -> ImportedPolicy:
    """:func:`read_folder` then :func:`convert`."""
    return convert(read_folder(path), **kwargs)
