"""Model registry: a model config's ``kind`` → the class that implements the model protocol.

An explicit dict (not module-path string rewriting); entries are imported lazily so building a BC
model does not import the transformer code.
"""

from __future__ import annotations

import importlib

from jaxrobot.config import Config, ConfigError
from jaxrobot.models.base import Model

# kind -> "module:Class"
MODELS = {
    "bc": "jaxrobot.models.bc:BCModel",
    "act": "jaxrobot.models.act:ACTModel",
    "diffusion": "jaxrobot.models.diffusion:DiffusionModel",
    "grasp_maps": "jaxrobot.models.grasp:GraspMapModel",
    "grasp_candidates": "jaxrobot.models.grasp:GraspCandidateModel",
    "servo": "jaxrobot.models.servo:ServoModel",
    "pose": "jaxrobot.models.pose:PoseModel",
}


def build_model(cfg: Config) -> Model:
    kind = type(cfg).kind
    if kind not in MODELS:
        raise ConfigError(f"config field 'model': unknown model kind {kind!r}; known: {sorted(MODELS)}")
    module_name, cls_name = MODELS[kind].split(":")
    return getattr(importlib.import_module(module_name), cls_name)(cfg)
