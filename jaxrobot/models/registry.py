"""The model table: a model config's ``kind`` → (config class, model class).

One explicit table of objects (no module-path strings): a new model is its own module plus one line in
:data:`_ENTRIES` (and its experiment and tests). The model class owns everything about the model: ``init``,
``loss``, ``predict`` and its ``export_plan`` (see :mod:`jaxrobot.models.base`).
"""

from __future__ import annotations

from jaxrobot.config import Config, ConfigError
from jaxrobot.models.act import ACTConfig, ACTModel
from jaxrobot.models.base import Model
from jaxrobot.models.bc import BCConfig, BCModel
from jaxrobot.models.diffusion import DiffusionConfig, DiffusionModel
from jaxrobot.models.grasp import GraspCandidateConfig, GraspCandidateModel, GraspMapConfig, GraspMapModel
from jaxrobot.models.pose import PoseConfig, PoseModel
from jaxrobot.models.servo import ServoConfig, ServoModel

_ENTRIES: tuple[tuple[type[Config], type], ...] = (
    (BCConfig, BCModel),
    (ACTConfig, ACTModel),
    (DiffusionConfig, DiffusionModel),
    (GraspMapConfig, GraspMapModel),
    (GraspCandidateConfig, GraspCandidateModel),
    (ServoConfig, ServoModel),
    (PoseConfig, PoseModel),
)
#: kind -> model class
MODELS: dict[str, type] = {cfg.kind: model for cfg, model in _ENTRIES}
#: kind -> config class
CONFIGS: dict[str, type[Config]] = {cfg.kind: cfg for cfg, _ in _ENTRIES}


def build_model(cfg: Config) -> Model:
    kind = type(cfg).kind
    if kind not in MODELS:
        raise ConfigError(f"config field 'model': unknown model kind {kind!r}; known: {sorted(MODELS)}")
    return MODELS[kind](cfg)
