"""Domain randomisation: a batch of ``mjx.Model`` s made by ``vmap`` over a task's model fields.

A task implements ``randomize_model(model, rng) -> model`` for one environment and lists the fields it
changes in ``randomized_fields``. :func:`randomize_models` vmaps it over keys; only the listed fields get a
batch axis (:func:`model_axes`), so every other field stays shared and the batched step vmaps over
``(model, state, action)`` with those ``in_axes``. Only jax-array fields may change (friction, mass, sizes,
colours, camera poses): numpy fields of ``mjx.Model`` are static and changing them recompiles.

Camera pose jitter (:class:`CameraJitter`, :func:`jitter_cameras`) moves the model's ``cam_pos`` /
``cam_quat``; forward kinematics (``mjx.forward`` / ``mjx.step``, ``smooth.camlight``) turns them into
``data.cam_xpos`` / ``data.cam_xmat``, which both the ``mjx.ray`` renderer and the reported extrinsics
(:func:`jaxrobot.sim.render.extrinsics`) read, so images and extrinsics stay consistent per environment.

Design after MuJoCo Playground's ``randomize`` functions (e.g. ``mujoco_playground/_src/manipulation/
franka_emika_panda/randomize_vision.py``), which return the batched model and its ``in_axes``.
"""

from __future__ import annotations

import dataclasses
import functools
import math
from collections.abc import Sequence
from typing import Any, ClassVar

import jax
import jax.numpy as jnp

from jaxrobot.config import Config, require
from jaxrobot.sim.env import Env
from jaxrobot.sim.geometry import quat_mul

#: Model fields :func:`jitter_cameras` changes (add them to a task's ``randomized_fields``).
CAMERA_FIELDS = ("cam_pos", "cam_quat")


def check_scale_ranges(cfg: Config, names: Sequence[str] = ("friction_scale", "mass_scale", "size_scale")) -> None:
    """Validate multiplicative randomisation ranges ``(lo, hi)`` of a task's randomisation config (names the
    field on failure): every task's friction / mass / size scales obey the same rule."""
    for name in names:
        lo, hi = getattr(cfg, name)
        require(0 < lo <= hi, name, f"needs 0 < lo <= hi, got {(lo, hi)}")


@dataclasses.dataclass(frozen=True)
class CameraJitter(Config):
    """Random perturbation of each observation camera's pose (per environment, seeded).

    position: each coordinate of the camera position moves by uniform(-position, position) metres.
    rotation: the camera turns about its own centre by an angle uniform in [0, rotation] radians about a
      uniformly random axis, so its optical axis moves by at most ``rotation``.
    Zero for both reproduces the nominal cameras exactly.
    """

    kind: ClassVar[str] = "sim.camera_jitter"
    position: float = 0.0
    rotation: float = 0.0

    def check(self) -> None:
        require(0 <= self.position <= 0.2, "position", f"must be in [0, 0.2] m, got {self.position}")
        require(0 <= self.rotation <= math.pi / 4, "rotation",
                f"must be in [0, pi/4] rad, got {self.rotation}")


def jitter_cameras(model: Any, cameras: Sequence[int], jitter: CameraJitter, rng: jax.Array) -> Any:
    """``model`` with the poses of ``cameras`` (ids) perturbed by ``jitter`` (one environment; vmappable).

    The rotation is applied in the camera's parent-body frame (``q' = dq * q``) and leaves the camera
    position where the position jitter put it. Cameras not listed keep their pose; zero jitter returns the
    model unchanged (bit-identical nominal cameras).
    """
    if not cameras or (jitter.position == 0 and jitter.rotation == 0):
        return model
    ids = jnp.asarray(cameras, jnp.int32)
    n = len(cameras)
    k_pos, k_axis, k_angle = jax.random.split(rng, 3)
    dpos = jax.random.uniform(k_pos, (n, 3), minval=-jitter.position, maxval=jitter.position)
    axis = jax.random.normal(k_axis, (n, 3))
    axis = axis / jnp.maximum(jnp.linalg.norm(axis, axis=-1, keepdims=True), 1e-9)
    angle = jax.random.uniform(k_angle, (n,), minval=0.0, maxval=jitter.rotation)
    dq = jnp.concatenate([jnp.cos(angle / 2)[:, None], jnp.sin(angle / 2)[:, None] * axis], axis=-1)
    quat = quat_mul(dq, model.cam_quat[ids])  # unit: a product of unit quaternions
    return model.tree_replace({
        "cam_pos": model.cam_pos.at[ids].add(dpos),
        "cam_quat": model.cam_quat.at[ids].set(quat),
    })


def observation_camera_ids(env: Env) -> tuple[int, ...]:
    """Ids of the cameras named in ``env.config.cameras`` (jittered whether or not images are rendered)."""
    from jaxrobot.sim import render

    return tuple(render.camera_id(env.mj_model, c) for c in env.config.cameras)


def model_axes(env: Env) -> Any:
    """``in_axes`` tree for a randomised model batch: 0 on ``env.randomized_fields``, None elsewhere."""
    fields = getattr(env, "randomized_fields", ())
    if not fields:
        raise NotImplementedError(f"{type(env).__name__} defines no randomized_fields")
    axes = jax.tree.map(lambda _: None, env.mjx_model)
    return axes.tree_replace({name: 0 for name in fields})


@functools.lru_cache(maxsize=8)
def _batched_randomizer(env: Env):
    axes = model_axes(env)
    return jax.jit(jax.vmap(env.randomize_model, in_axes=(None, 0), out_axes=axes))


def randomize_models(env: Env, keys: jax.Array) -> Any:
    """One randomised model per key (batched along ``model_axes(env)``), deterministic given the keys."""
    return _batched_randomizer(env)(env.mjx_model, keys)
