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

- ``State.obs`` is a dict; ``obs["state"]`` is a float32 vector (``Env.observation_spec`` names its parts).
- Actions are float32 vectors of ``Env.action_size`` in physical units inside
  ``[Env.action_low, Env.action_high]`` (so a dataset's statistics normalise them); ``step`` clips them.
- ``State.success`` is the task's predicate at this step; ``State.done`` is success, failure or the time
  limit (``info["step"] >= episode_steps``). Stepping a done state keeps simulating; callers mask.
- ``info`` holds ``step`` (int32 control step, counted after the step) plus task bookkeeping.

Reference design: google-deepmind/mujoco_playground ``mujoco_playground/_src/mjx_env.py`` (State as a
``flax.struct.dataclass``, ``reset``/``step`` pure, ``n_substeps`` physics steps per control step).
"""

from __future__ import annotations

import abc
import dataclasses
from typing import Any

import jax
import jax.numpy as jnp
import mujoco
import numpy as np
from flax import struct

from jaxrobot.config import Config, require, validate
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
    """Base class: builds the model from the config and runs physics substeps.

    Subclasses implement :meth:`_build_mj_model`, :meth:`reset_with`, :meth:`step_with`,
    :meth:`observation_spec`, the action bounds, and usually :meth:`expert`.
    """

    #: Natural-language instruction stored with demonstrations.
    language_instruction: str = ""

    def __init__(self, config: EnvConfig):
        self.config = validate(config)
        self.mj_model = self._build_mj_model()
        self.mj_model.opt.timestep = config.sim_dt
        self.mjx_model = mjx.put_model(self.mj_model)
        self._data0 = mjx.make_data(self.mj_model)

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

    @abc.abstractmethod
    def observation_spec(self) -> dict[str, tuple[tuple[int, ...], str]]:
        """Observation key -> (shape, dtype) of one environment's ``State.obs``."""

    @property
    @abc.abstractmethod
    def action_low(self) -> np.ndarray: ...

    @property
    @abc.abstractmethod
    def action_high(self) -> np.ndarray: ...

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
