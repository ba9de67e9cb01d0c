"""Pure, ``jit``/``vmap``-able MJX environments (MuJoCo Playground style).

An :class:`Env` owns a host ``mujoco.MjModel`` and its device copy (``mjx.Model``). Its two verbs are
pure functions of their arguments::

    state = env.reset(rng)              # State
    state = env.step(state, action)     # State, ``n_substeps`` physics steps inside a lax.scan

Both are written for a single environment; batch them with ``jax.vmap``. Domain randomisation swaps
the model: ``reset_with(model, rng)`` / ``step_with(model, state, action)`` take the ``mjx.Model``
explicitly so a batch of randomised models can be vmapped alongside the states
(:mod:`jaxrobot.sim.randomize`).

Conventions shared by every task:

- ``State.obs`` is a dict; ``obs["state"]`` is a float32 vector of ``Env.state_dim`` (each task's docstring
  names its parts). With ``config.image_size > 0`` every camera in ``config.cameras`` adds
  ``obs["image_<cam>"]`` (uint8 RGB, rendered by ``mjx.ray``, :mod:`jaxrobot.sim.render`) and, for tasks with
  ``depth_observation``, ``obs["depth_<cam>"]`` (float32 z-depth in metres).
- Actions are float32 vectors of ``Env.action_size`` in physical units inside
  ``[Env.action_low, Env.action_high]`` (so a dataset's statistics normalise them); ``step`` clips them.
  By default an action is the actuator controls plus ``Env.ctrl_offset`` (position actuators whose joint
  origin is not the world origin), and the bounds are the actuators' ``ctrlrange`` plus that offset.
- ``State.success`` is the task's predicate at this step; ``State.done`` is success, failure or the time
  limit (``info["step"] >= episode_steps``). Stepping a done state keeps simulating; callers mask.
- ``info`` holds ``step`` (int32 control step, counted after the step) plus task bookkeeping.

Reference design: google-deepmind/mujoco_playground ``mujoco_playground/_src/mjx_env.py`` (State as a
``flax.struct.dataclass``, ``reset``/``step`` pure, ``n_substeps`` physics steps per control step).
"""

from __future__ import annotations

import abc
import dataclasses
from typing import Any, ClassVar

import jax
import jax.numpy as jnp
import mujoco
import numpy as np
from flax import struct

from jaxrobot.config import Config, require, validate
from jaxrobot.sim import render
from jaxrobot.sim._mjx import mjx


@struct.dataclass
class State:
    """One environment's full state; every leaf is a jax array (batched under vmap)."""

    data: Any  # mjx.Data
    obs: dict[str, jax.Array]
    reward: jax.Array
    done: jax.Array
    success: jax.Array
    metrics: dict[str, jax.Array]
    info: dict[str, Any]


@dataclasses.dataclass(frozen=True)
class EnvConfig(Config):
    """Fields every task config has (tasks subclass this and set their own ``kind``).

    ctrl_dt: seconds per control step (the policy rate is ``1 / ctrl_dt``).
    sim_dt: physics timestep; ``ctrl_dt / sim_dt`` physics substeps run inside each ``step``.
    episode_steps: time limit in control steps.
    image_size: side of rendered camera images in the observation (0: state observation only).
    cameras: camera names rendered when ``image_size > 0``.
    """

    ctrl_dt: float = 0.05
    sim_dt: float = 0.005
    episode_steps: int = 80
    image_size: int = 0
    cameras: tuple[str, ...] = ()

    def check(self) -> None:
        require(self.sim_dt > 0, "sim_dt", f"must be > 0, got {self.sim_dt}")
        require(self.ctrl_dt >= self.sim_dt, "ctrl_dt", f"must be >= sim_dt ({self.sim_dt}), got {self.ctrl_dt}")
        ratio = self.ctrl_dt / self.sim_dt
        require(abs(ratio - round(ratio)) < 1e-6, "ctrl_dt",
                f"must be a whole multiple of sim_dt ({self.sim_dt}), got {self.ctrl_dt}")
        require(self.episode_steps > 0, "episode_steps", f"must be > 0, got {self.episode_steps}")
        require(self.image_size >= 0, "image_size", f"must be >= 0, got {self.image_size}")


class Env(abc.ABC):
    """Base class: builds the model from the config, runs physics substeps, renders camera observations.

    Subclasses implement :meth:`_build_mj_model`, :meth:`reset_with`, :meth:`step_with`, set
    :attr:`state_dim` (or override :meth:`observation_spec`) and usually :meth:`expert`. Action bounds
    come from the actuators' ``ctrlrange`` shifted by :attr:`ctrl_offset`; override :attr:`action_low` /
    :attr:`action_high` when actions are not (offset) actuator controls.
    """

    #: Natural-language instruction stored with demonstrations.
    language_instruction: str = ""
    #: Length of ``obs["state"]``.
    state_dim: ClassVar[int] = 0
    #: Names of the scripted expert's strategies, when it has several (a multimodal expert): the task draws one
    #: per episode at reset into ``info["strategy"]`` (an index here; policies never see it) and demos record it
    #: as ``episode_metadata/expert_strategy``. Empty: one strategy.
    expert_strategies: ClassVar[tuple[str, ...]] = ()
    #: Added to actuator controls to give actions (``action = ctrl + ctrl_offset``); None: zeros.
    ctrl_offset: ClassVar[tuple[float, ...] | None] = None
    #: Also put each camera's z-depth image (``depth_<cam>``) in the observation.
    depth_observation: ClassVar[bool] = False
    #: Geom groups visible to the observation cameras (``mjx.ray``'s ``geomgroup``); None: all.
    render_geomgroup: ClassVar[tuple[int, ...] | None] = None

    def __init__(self, config: EnvConfig):
        self.config = validate(config)
        self.mj_model = self._build_mj_model()
        self.mj_model.opt.timestep = config.sim_dt
        self.mjx_model = mjx.put_model(self.mj_model)
        self._data0 = mjx.make_data(self.mj_model)
        m = self.mj_model
        offset = np.zeros(m.nu, np.float32)
        if self.ctrl_offset is not None:
            offset = np.asarray(self.ctrl_offset, np.float32)
        if offset.shape != (m.nu,):
            raise ValueError(f"{type(self).__name__}.ctrl_offset has {offset.size} entries, "
                             f"the model {m.nu} actuators")
        self._ctrl_offset = jnp.asarray(offset)
        self._ctrl_limited = bool(np.all(m.actuator_ctrllimited))
        lo, hi = m.actuator_ctrlrange[:, 0], m.actuator_ctrlrange[:, 1]
        self._low = (lo + offset).astype(np.float32)
        self._high = (hi + offset).astype(np.float32)
        size = config.image_size
        #: (name, camera id, 3x3 intrinsics at image_size) of every observation camera.
        self._cams = [(name, render.camera_id(m, name), render.intrinsics(m, name, size, size))
                      for name in (config.cameras if size else ())]

    # ------------------------------------------------------------------ to implement

    @abc.abstractmethod
    def _build_mj_model(self) -> mujoco.MjModel:
        """The host model (the config may change static fields such as sizes or solver options)."""

    @abc.abstractmethod
    def reset_with(self, model: Any, rng: jax.Array) -> State:
        """Reset one environment using ``model`` (an ``mjx.Model``, possibly randomised)."""

    @abc.abstractmethod
    def step_with(self, model: Any, state: State, action: jax.Array) -> State:
        """Advance one control step using ``model``."""

    # ------------------------------------------------------------------ observations and actions

    def observation_spec(self) -> dict[str, tuple[tuple[int, ...], str]]:
        """Observation key -> (shape, dtype) of one environment's ``State.obs``."""
        if self.state_dim <= 0:
            raise NotImplementedError(f"{type(self).__name__} sets no state_dim "
                                      "(or overrides observation_spec)")
        return {"state": ((self.state_dim,), "float32"), **self.image_spec()}

    def image_spec(self) -> dict[str, tuple[tuple[int, ...], str]]:
        """The camera part of :meth:`observation_spec` (empty when ``image_size`` is 0)."""
        spec = {}
        s = self.config.image_size
        for name, _, _ in self._cams:
            spec[f"image_{name}"] = ((s, s, 3), "uint8")
            if self.depth_observation:
                spec[f"depth_{name}"] = ((s, s), "float32")
        return spec

    def render_observation(self, model: Any, data: Any) -> dict[str, jax.Array]:
        """The camera observations of one environment (keys as in :meth:`image_spec`)."""
        obs = {}
        s = self.config.image_size
        for name, cam, k in self._cams:
            depth, obs[f"image_{name}"] = render.render_rgbd(model, data, cam, k, s, s,
                                                             geomgroup=self.render_geomgroup)
            if self.depth_observation:
                obs[f"depth_{name}"] = depth
        return obs

    def camera_intrinsics(self, camera: str | int, size: int | None = None) -> np.ndarray:
        """3x3 intrinsics of ``camera`` rendered at ``size`` (default ``image_size``) pixels square.

        Extrinsics live in the physics data: ``render.extrinsics(state.data, render.camera_id(...))``
        (they follow the model's camera pose, so randomised cameras report their jittered pose).
        """
        s = self.config.image_size if size is None else size
        return render.intrinsics(self.mj_model, camera, s, s)

    @property
    def action_low(self) -> np.ndarray:
        """Lower action bounds: actuator ``ctrlrange`` + :attr:`ctrl_offset` (float32 [action_size])."""
        self._require_ctrl_limits()
        return self._low

    @property
    def action_high(self) -> np.ndarray:
        """Upper action bounds: actuator ``ctrlrange`` + :attr:`ctrl_offset` (float32 [action_size])."""
        self._require_ctrl_limits()
        return self._high

    def _require_ctrl_limits(self) -> None:
        if not self._ctrl_limited:
            raise NotImplementedError(f"{type(self).__name__}: an actuator has no ctrlrange; "
                                      "override action_low/action_high")

    def expert(self, state: State, rng: jax.Array) -> tuple[jax.Array, jax.Array]:
        """Scripted expert: ``(label, executed)`` actions; ``executed`` = ``label`` + injected noise."""
        raise NotImplementedError(f"{type(self).__name__} has no scripted expert")

    # ------------------------------------------------------------------ provided

    def reset(self, rng: jax.Array) -> State:
        return self.reset_with(self.mjx_model, rng)

    def step(self, state: State, action: jax.Array) -> State:
        return self.step_with(self.mjx_model, state, action)

    @property
    def action_size(self) -> int:
        return int(self.action_low.shape[0])

    @property
    def n_substeps(self) -> int:
        return int(round(self.config.ctrl_dt / self.config.sim_dt))

    @property
    def dt(self) -> float:
        return float(self.config.ctrl_dt)

    def physics(self, model: Any, data: Any, ctrl: jax.Array) -> Any:
        """Hold ``ctrl`` for ``n_substeps`` physics steps (one ``lax.scan``)."""
        data = data.replace(ctrl=ctrl)

        def body(d, _):
            return mjx.step(model, d), None

        data, _ = jax.lax.scan(body, data, None, length=self.n_substeps)
        return data

    def init_data(self, model: Any, qpos: jax.Array, qvel: jax.Array | None = None,
                  ctrl: jax.Array | None = None) -> Any:
        """Fresh ``mjx.Data`` at ``qpos`` with kinematics computed (``mjx.forward``)."""
        data = self._data0.replace(
            qpos=jnp.asarray(qpos, jnp.float32),
            qvel=jnp.zeros(self.mj_model.nv, jnp.float32) if qvel is None else qvel,
            ctrl=jnp.zeros(self.mj_model.nu, jnp.float32) if ctrl is None else ctrl,
        )
        return mjx.forward(model, data)

    def clip_action(self, action: jax.Array) -> jax.Array:
        return jnp.clip(jnp.asarray(action, jnp.float32), self.action_low, self.action_high)
