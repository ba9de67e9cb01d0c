"""What gets exported: each model's pure inference functions, with array inputs and outputs only.

A model opts in to export by providing an :class:`ExportPlan`: a list of :class:`ExportFunction` (name,
pure function with the parameters closed over, input specs with a ``None`` batch dimension, output names)
plus the run-time description the robot-side runtime needs (how to drive those functions). Noise is an
input, never drawn inside a graph; normalisation layers run in inference mode (``train=False``).

Plans come from, in order:

1. the model object itself, if it defines ``export_plan(params, meta) -> ExportPlan`` (new models opt in
   there, next to their code);
2. :data:`ADAPTERS` here, keyed by the model config's ``kind``, for the models that exist today:

   - ``bc``, ``act``: one ``policy(observation arrays) -> normalised chunk [B, horizon, A]`` (ACT with
     z = 0; ``ACTModel.predict`` already does that);
   - ``diffusion``: ``encode(observation arrays) -> conditioning`` and
     ``denoise_step(x, t, t_prev, conditioning) -> x`` (one DDIM update, eta = 0, with the schedule's
     alpha-bar table baked in as a constant); the timesteps are written to the bundle and the loop is run
     by the runtime, like ``DiffusionModel.predict`` runs it in JAX;
   - ``grasp_maps``: ``maps(observation arrays) -> maps [B, H, W, 4]`` (no policy state);
   - ``grasp_candidates``: ``score(crops [B, S, S], grip_depth [B]) -> logit [B], probability [B]``
     (the GQ-CNN-style scorer; crops are cut outside the graph);
   - ``servo``: ``servo(image, goal_image) -> twist [B, 6], twist_normalized [B, 6]``.

Graph inputs are named after the observation key without its ``observation/`` prefix (``state``,
``image_wrist``): the same names the runtime receives from the robot, so no mapping table is needed.
"""

from __future__ import annotations

import dataclasses
from collections.abc import Callable
from typing import Any

import numpy as np

from jaxrobot.export.errors import ExportError


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
    """

    name: str
    fn: Callable[..., Any]
    inputs: tuple[TensorSpec, ...]
    outputs: tuple[str, ...]
    full_int8: bool = True

    def describe(self) -> dict[str, Any]:
        return {"inputs": [s.to_json() for s in self.inputs], "outputs": list(self.outputs)}


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


# ---------------------------------------------------------------- helpers shared by the adapters


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


def _as_obs(specs: tuple[TensorSpec, ...], arrays) -> dict[str, Any]:
    return {f"observation/{s.name}": a for s, a in zip(specs, arrays, strict=True)}


def _policy_runtime(meta: dict[str, Any], cfg_model: Any) -> dict[str, Any]:
    """The run-time loop parameters, taken from the JAX policy wrapper built for this checkpoint.

    Building the real :class:`~jaxrobot.policies.runner.PolicyRunner` (cheap: nothing compiles) keeps the
    bundle in step with the JAX contract whenever that wrapper changes.
    """
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


# ---------------------------------------------------------------- adapters for today's models


def chunk_policy_plan(model: Any, params: Any, meta: dict[str, Any], example_batch) -> ExportPlan:
    """BC and ACT: ``policy(obs...) -> chunk`` via the model's own ``predict`` (inference mode)."""
    specs = observation_specs(example_batch)

    def policy(*obs):
        return model.predict(params, _as_obs(specs, obs), None)

    def sample(batch, rng):
        return {"policy": observation_inputs(batch, specs)}

    fn = ExportFunction("policy", policy, specs, ("action",))
    runtime = dict(kind="chunk_policy", **_policy_runtime(meta, model.config))
    return ExportPlan([fn], runtime, sample)


def diffusion_plan(model: Any, params: Any, meta: dict[str, Any], example_batch) -> ExportPlan:
    """Diffusion Policy: ``encode`` + one DDIM ``denoise_step``; the runtime loops over the timesteps."""
    import jax.numpy as jnp

    from jaxrobot.models.diffusion import DiffusionNet
    from jaxrobot.models.diffusion_schedule import ddim_step, inference_timesteps

    c = model.config
    if c.sampler != "ddim":
        raise ExportError(f"config field 'model.sampler': {c.sampler!r} is not exportable; export runs the "
                          f"deterministic DDIM loop (set model.sampler=ddim)")
    specs = observation_specs(example_batch)
    obs_only = {k: v for k, v in example_batch.items() if k.startswith("observation/") and k != "observation/pad_mask"}
    cond_dim = int(np.asarray(_eval_shape(
        lambda o: model.net.apply(params, o, train=False, method=DiffusionNet.encode), obs_only)[-1]))
    ac = np.asarray(model.alphas_cumprod, np.float32)
    timesteps = inference_timesteps(c.num_train_timesteps, c.num_inference_steps)
    ratio = c.num_train_timesteps // c.num_inference_steps
    kw = dict(prediction_type=c.prediction_type, clip_sample=c.clip_sample, clip_range=c.clip_sample_range)

    def encode(*obs):
        return model.net.apply(params, _as_obs(specs, obs), train=False, method=DiffusionNet.encode)

    def denoise_step(x, t, t_prev, cond):
        # t for every batch element, written without the (symbolic) batch size as a constant shape.
        t_batch = jnp.zeros_like(x[:, 0, 0], dtype=jnp.int32) + t
        out = model.net.apply(params, x, t_batch, cond, method=DiffusionNet.denoise)
        return ddim_step(ac, out, t, t_prev, x, **kw)

    x_spec = TensorSpec("x", (None, c.horizon, c.action_dim), "float32")
    cond_spec = TensorSpec("conditioning", (None, cond_dim), "float32")
    t_spec, tp_spec = TensorSpec("t", (), "int32"), TensorSpec("t_prev", (), "int32")

    def sample(batch, rng):
        import jax

        obs = observation_inputs(batch, specs)
        cond = np.asarray(jax.jit(encode)(*obs.values()))
        b = cond.shape[0]
        x = rng.standard_normal((b, c.horizon, c.action_dim)).astype(np.float32)
        # A mid-trajectory step, where the sample is neither pure noise nor final.
        i = len(timesteps) // 2
        return {"encode": obs,
                "denoise_step": {"x": x, "t": np.asarray(timesteps[i], np.int32),
                                 "t_prev": np.asarray(timesteps[i] - ratio, np.int32), "conditioning": cond}}

    functions = [ExportFunction("encode", encode, specs, ("conditioning",)),
                 ExportFunction("denoise_step", denoise_step, (x_spec, t_spec, tp_spec, cond_spec), ("x_prev",),
                                full_int8=False)]
    schedule = {"sampler": "ddim", "eta": 0.0, "timesteps": [int(t) for t in timesteps], "step_ratio": int(ratio),
                "num_train_timesteps": int(c.num_train_timesteps), "alphas_cumprod": ac.tolist(),
                "prediction_type": c.prediction_type, "clip_sample": bool(c.clip_sample),
                "clip_sample_range": float(c.clip_sample_range), "noise_shape": [c.horizon, c.action_dim],
                "noise": "standard normal [B, horizon, action_dim], drawn by the caller"}
    runtime = dict(kind="diffusion_policy", **_policy_runtime(meta, c))
    return ExportPlan(functions, runtime, sample, schedule)


def maps_plan(model: Any, params: Any, meta: dict[str, Any], example_batch) -> ExportPlan:
    """Stateless vision models (grasp maps): ``maps(obs...) -> maps``."""
    specs = observation_specs(example_batch)

    def maps(*obs):
        return model.predict(params, _as_obs(specs, obs), None)

    def sample(batch, rng):
        return {"maps": observation_inputs(batch, specs)}

    runtime = {"kind": "maps", "outputs": {"maps": ["quality", "cos2", "sin2", "width"]},
               "max_width": float(model.config.max_width)}
    return ExportPlan([ExportFunction("maps", maps, specs, ("maps",))], runtime, sample)


def candidates_plan(model: Any, params: Any, meta: dict[str, Any], example_batch) -> ExportPlan:
    """GQ-CNN-style scorer: ``score(crops [B, S, S], grip_depth [B]) -> logit [B], probability [B]``.

    The grasp-aligned crop stays outside the graph (a gather the robot side does once per candidate
    set); the runtime spec records how it is cut (:func:`~jaxrobot.vision.grasp_candidates.crop_aligned`).
    Parity inputs are real crops, cut by the model's own ``crops`` from the dataset's scenes.
    """
    import jax

    c = model.config
    specs = (TensorSpec("crops", (None, c.crop_size, c.crop_size), "float32"),
             TensorSpec("grip_depth", (None,), "float32"))

    def score(crops, grip_depth):
        logit = model.score_crops(params, crops, grip_depth)
        return logit, jax.nn.sigmoid(logit)

    def sample(batch, rng):
        crops = np.asarray(jax.jit(model.crops)({k: np.asarray(batch[k]) for k in
                                                 ("observation/depth", "grasp/center", "grasp/angle")}))
        return {"score": {"crops": crops.astype(np.float32),
                          "grip_depth": np.asarray(batch["grasp/depth"], np.float32)}}

    runtime = {"kind": "grasp_scorer", "crop_size": int(c.crop_size), "crop_scale": float(c.crop_scale),
               "crop": "depth image [H, W] (m) sampled bilinearly (edge clamp) at centre + a*d + b*n, "
                       "d = (cos angle, sin angle) the closing axis, n = (-sin angle, cos angle), "
                       "a = (col - (S-1)/2) * crop_scale, b = (row - (S-1)/2) * crop_scale",
               "grip_depth": "gripper depth along the optical axis (m)"}
    return ExportPlan([ExportFunction("score", score, specs, ("logit", "probability"))], runtime, sample)


def servo_plan(model: Any, params: Any, meta: dict[str, Any], example_batch) -> ExportPlan:
    """Deep visual servo: ``servo(image, goal_image) -> twist [B, 6], twist_normalized [B, 6]``.

    ``twist`` is in m/s and rad/s (camera frame, OpenCV axes); ``twist_normalized`` (= twist /
    twist_scale, the network's regression target, O(1)) is the output the parity tolerances are meant
    for: the physical twist is a few cm/s, where an absolute tolerance says little.
    """
    specs = observation_specs(example_batch)
    scale = np.asarray(model.config.twist_scale, np.float32)

    def servo(*obs):
        o = _as_obs(specs, obs)
        normalized = model.net.apply(params, o["observation/image"], o["observation/goal_image"])
        return normalized * scale, normalized

    def sample(batch, rng):
        return {"servo": observation_inputs(batch, specs)}

    runtime = {"kind": "servo", "twist_scale": [float(s) for s in model.config.twist_scale],
               "twist": "camera twist (vx, vy, vz, wx, wy, wz), camera frame with OpenCV axes, m/s and rad/s"}
    return ExportPlan([ExportFunction("servo", servo, specs, ("twist", "twist_normalized"))], runtime, sample)


def _eval_shape(fn, *args):
    import jax

    return jax.eval_shape(fn, *args).shape


PlanBuilder = Callable[[Any, Any, dict[str, Any], dict[str, np.ndarray]], ExportPlan]
ADAPTERS: dict[str, PlanBuilder] = {
    "bc": chunk_policy_plan,
    "act": chunk_policy_plan,
    "diffusion": diffusion_plan,
    "grasp_maps": maps_plan,
    "grasp_candidates": candidates_plan,
    "servo": servo_plan,
}


def export_plan(model: Any, params: Any, meta: dict[str, Any], example_batch: dict[str, np.ndarray]) -> ExportPlan:
    """The :class:`ExportPlan` of ``model`` (its own ``export_plan`` first, else the adapter for its kind)."""
    own = getattr(model, "export_plan", None)
    if callable(own):
        return own(params, meta, example_batch)
    kind = meta["config"]["model"]["kind"]
    if kind not in ADAPTERS:
        raise ExportError(f"model kind {kind!r} has no export functions: give the model an "
                          f"export_plan(params, meta, example_batch) method or add an adapter in "
                          f"jaxrobot/export/functions.py (known: {sorted(ADAPTERS)})")
    return ADAPTERS[kind](model, params, meta, example_batch)
