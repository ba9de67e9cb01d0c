"""What a model exports: its pure inference functions, with array inputs and outputs only.

A model owns its export: its ``export_plan(params, meta, example_batch)`` method returns an
:class:`ExportPlan`: a list of :class:`ExportFunction` (name, pure function with the parameters closed over,
input specs with a ``None`` batch dimension, output names) plus the run-time description the robot-side
runtime needs (how to drive those functions). Noise is an input, never drawn inside a graph; normalisation
layers run in inference mode (``train=False``). The exporters (:mod:`jaxrobot.export`) convert the functions
and, for policies (runtime kinds ``chunk_policy`` / ``diffusion_policy``), add the loop parameters of the
run-time policy wrapper.

Graph inputs are named after the observation key without its ``observation/`` prefix (``state``,
``image_wrist``): the same names the runtime receives from the robot, so no mapping table is needed.
"""

from __future__ import annotations

import dataclasses
from collections.abc import Callable
from typing import Any

import numpy as np


class ExportError(RuntimeError):
    """Conversion failed (the message names the op and where it comes from in the model), a graph uses an op
    TensorRT does not support, or an artifact does not match ``jax.jit`` (the message gives the numbers)."""


@dataclasses.dataclass(frozen=True)
class TensorSpec:
    """One graph input: ``shape[0] is None`` marks the batch dimension."""

    name: str
    shape: tuple[int | None, ...]
    dtype: str

    def to_json(self) -> dict[str, Any]:
        return {"name": self.name, "shape": list(self.shape), "dtype": self.dtype}


@dataclasses.dataclass(frozen=True)
class ExportFunction:
    """A pure function of arrays (params closed over) and its input/output names.

    ``fn(*inputs)`` returns one array or a tuple of arrays, in the order of ``outputs``.
    ``full_int8`` is False where full-integer quantisation is known to be meaningless (diffusion steps).
    ``fp32_only``: why the function is exported in fp32 only (its lower-precision TFLite artifacts are skipped
    with this reason and the runtime runs the fp32 one at any requested precision); empty: every precision.
    """

    name: str
    fn: Callable[..., Any]
    inputs: tuple[TensorSpec, ...]
    outputs: tuple[str, ...]
    full_int8: bool = True
    fp32_only: str = ""

    def describe(self) -> dict[str, Any]:
        out = {"inputs": [s.to_json() for s in self.inputs], "outputs": list(self.outputs)}
        return {**out, "fp32_only": self.fp32_only} if self.fp32_only else out


@dataclasses.dataclass
class ExportPlan:
    """The functions of one model plus what the runtime needs to drive them.

    ``runtime["kind"]``: ``"chunk_policy"`` (one ``policy`` call per plan), ``"diffusion_policy"``
    (``encode`` then the DDIM loop over ``denoise_step``), or a stateless vision model run through
    ``Bundle.runner``: ``"maps"`` (grasp maps), ``"grasp_scorer"`` (candidate scorer), ``"servo"``.
    ``sample_inputs(batch, rng)`` builds every function's inputs from a jaxrobot batch (observation
    keys ``observation/<name>``) so parity runs on real data; ``rng`` is a numpy Generator for noise.
    """

    functions: list[ExportFunction]
    runtime: dict[str, Any]
    sample_inputs: Callable[[dict[str, np.ndarray], np.random.Generator], dict[str, dict[str, np.ndarray]]]
    schedule: dict[str, Any] | None = None


# ---------------------------------------------------------------- helpers for the models' plans


def observation_specs(example_batch: dict[str, np.ndarray]) -> tuple[TensorSpec, ...]:
    """Specs of the model's observation inputs (every ``observation/*`` key but the pad mask), sorted."""
    specs = []
    for key in sorted(example_batch):
        if not key.startswith("observation/") or key == "observation/pad_mask":
            continue
        arr = np.asarray(example_batch[key])
        specs.append(TensorSpec(key.split("/", 1)[1], (None, *arr.shape[1:]), str(arr.dtype)))
    if not specs:
        raise ExportError("the checkpoint's example batch has no observation/* arrays to export a policy from")
    return tuple(specs)


def observation_inputs(batch: dict[str, np.ndarray], specs: tuple[TensorSpec, ...]) -> dict[str, np.ndarray]:
    return {s.name: np.asarray(batch[f"observation/{s.name}"]).astype(s.dtype) for s in specs}


def as_obs(specs: tuple[TensorSpec, ...], arrays) -> dict[str, Any]:
    return {f"observation/{s.name}": a for s, a in zip(specs, arrays, strict=True)}


def chunk_policy_plan(model: Any, params: Any, meta: dict[str, Any], example_batch) -> ExportPlan:
    """The plan of a chunk policy (BC, ACT): ``policy(obs...) -> normalised chunk [B, horizon, A]`` via the model's
    own ``predict`` (inference mode; ACT with z = 0). The exporter adds the run-time loop parameters."""
    specs = observation_specs(example_batch)

    def policy(*obs):
        return model.predict(params, as_obs(specs, obs), None)

    def sample(batch, rng):
        return {"policy": observation_inputs(batch, specs)}

    fn = ExportFunction("policy", policy, specs, ("action",))
    return ExportPlan([fn], {"kind": "chunk_policy"}, sample)


def eval_shape(fn, *args):
    import jax

    return jax.eval_shape(fn, *args).shape
