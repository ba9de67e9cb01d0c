"""The exporters' view of a model: its :class:`~jaxrobot.models.export_plan.ExportPlan`, completed for the robot.

Each model owns its plan (``export_plan`` in its own module; the types are in
:mod:`jaxrobot.models.export_plan`). For policies (runtime kinds ``chunk_policy`` and ``diffusion_policy``)
this module adds the run-time loop parameters, read off the JAX run-time wrapper built for the checkpoint
(:class:`~jaxrobot.policies.runner.PolicyRunner`), so the bundle stays in step with the JAX contract whenever
that wrapper changes.
"""

from __future__ import annotations

from typing import Any

import numpy as np

from jaxrobot.export.errors import ExportError
from jaxrobot.models.export_plan import ExportFunction, ExportPlan, TensorSpec

__all__ = ["ExportFunction", "ExportPlan", "TensorSpec", "export_plan", "policy_runtime"]

POLICY_RUNTIMES = ("chunk_policy", "diffusion_policy")


def policy_runtime(meta: dict[str, Any]) -> dict[str, Any]:
    """The run-time loop parameters, taken from the JAX policy wrapper built for this checkpoint (cheap:
    nothing compiles)."""
    from jaxrobot.policies.evaluation import runner_from_meta

    runner = runner_from_meta(meta, params={})
    spec = meta["data_spec"]
    m = runner.ensembler.m if runner.ensembler is not None else None
    return {
        "n_obs_steps": int(runner.n_obs_steps),
        "horizon": int(runner.horizon),
        "n_action_steps": int(runner.n_action_steps),
        "action_offset": int(getattr(runner, "action_offset", 0)),
        "temporal_ensemble_coeff": None if m is None else float(m),
        "state_dim": None if runner.state_dim is None else int(runner.state_dim),
        "state_slices": [list(t) for t in runner.state_slices] if runner.state_slices else None,
        "normalization": runner.mode,
        "cameras": list(spec.get("cameras", [])),
        "action_dim": int(spec.get("action_dim", 0)) or None,
    }


def export_plan(model: Any, params: Any, meta: dict[str, Any], example_batch: dict[str, np.ndarray]) -> ExportPlan:
    """The model's own :class:`ExportPlan`, with the policy loop parameters added for policies."""
    own = getattr(model, "export_plan", None)
    if not callable(own):
        kind = meta["config"]["model"]["kind"]
        raise ExportError(f"model kind {kind!r} has no export functions: give the model an "
                          "export_plan(params, meta, example_batch) method (see jaxrobot/models/export_plan.py)")
    plan = own(params, meta, example_batch)
    if plan.runtime.get("kind") in POLICY_RUNTIMES:
        plan.runtime = {**plan.runtime, **policy_runtime(meta)}
    return plan
