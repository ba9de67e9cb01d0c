"""The follower: the robot that executes the leader's commands while the episode is recorded.

:class:`Follower` is the interface the recording loop drives; a real robot's driver implements it (reset to a
start pose, send one command, read the observation). :class:`SimFollower` is a task's MuJoCo simulation run in
real time: MuJoCo's C engine steps the physics (``mj_step``, microseconds per step, no batch to fill), while
the task's own jitted JAX code computes everything around it, the control law before the physics
(``env.command``: IK, gravity feed-forward) and the reward, success and observation after it (``env.settle``),
so a recorded observation is exactly what the MJX environment produces from the same physical state and a
policy trained on recordings is evaluated on the same definitions. C and MJX physics differ in floating point
detail (float64 vs float32, solver iterations); ``jaxrobot replay`` measures the drift.
"""

from __future__ import annotations

import abc
import os
import sys
import time
from typing import Any

import jax
import mujoco
import numpy as np

from jaxrobot.sim._mjx import mjx
from jaxrobot.sim.batch import episode_keys
from jaxrobot.sim.env import Env, State


class Follower(abc.ABC):
    """A robot under command. ``control_dt`` is its control period in seconds.

    The contract the recorder relies on: :meth:`reset` and :meth:`step` return a state with ``obs`` (the task's
    observation dict, recorded as is), ``reward``, ``success``, ``done`` and ``info["q_cmd"]`` (the last joint
    command; end-effector leaders start from its pose), i.e. the fields of :class:`jaxrobot.sim.env.State` a
    real robot can report (the task's evaluation code computes reward and success from them); :meth:`qpos`
    gives what the episode video renders. The recorder steps the follower once, holding still, before the first
    take (the warm-up tick), then resets it.
    """

    control_dt: float
    #: ``time.perf_counter()`` when the last command reached the robot (set by :meth:`step`), for the loop's
    #: leader-to-follower latency; None if the driver cannot tell.
    commanded_at: float | None = None

    @abc.abstractmethod
    def reset(self, seed: int, episode: int) -> State:
        """Bring the robot to the start of episode ``episode`` of run ``seed``; returns the first state."""

    @abc.abstractmethod
    def step(self, action: np.ndarray) -> State:
        """Send one command and return the state after one control period."""

    def qpos(self) -> np.ndarray:
        """Joint positions for video and replay (the simulation's full ``qpos``)."""
        raise NotImplementedError

    def close(self) -> None:  # noqa: B027 - optional hook
        """Release the robot (and its viewer)."""


class FollowerError(RuntimeError):
    """The follower cannot run this task (e.g. the task has no split control law); the message says why."""


class SimFollower(Follower):
    """A task's simulation stepped by MuJoCo's C engine, one control period per :meth:`step`.

    Args:
        env: the task (its ``command`` / ``settle`` split the MJX step around the physics; Panda tasks have it).
        view: open MuJoCo's passive viewer (needs a display); None opens it when ``$DISPLAY`` is set.
    """

    def __init__(self, env: Env, view: bool | None = None):
        if not (hasattr(env, "command") and hasattr(env, "settle")):
            raise FollowerError(f"task {type(env).__name__} cannot be recorded in real time: it does not split "
                                "its step into command / physics / settle (the Panda tasks do)")
        self.env = env
        self.control_dt = float(env.config.ctrl_dt)
        self.m = env.mj_model
        self.d = mujoco.MjData(self.m)
        self._reset = jax.jit(env.reset)
        self._command = jax.jit(env.command)
        self._settle = jax.jit(env.settle)
        self.state: State | None = None
        self.viewer = None
        self._viewer_threads: list = []
        if view is None:
            view = bool(os.environ.get("DISPLAY"))
        if view:
            try:
                import threading

                from mujoco import viewer as mj_viewer

                before = set(threading.enumerate())
                self.viewer = mj_viewer.launch_passive(self.m, self.d)
                self._viewer_threads = [t for t in threading.enumerate() if t not in before]
            except Exception as e:  # no display server, no GL: record without the view
                print(f"jaxrobot record: no live view ({type(e).__name__}: {e})", file=sys.stderr, flush=True)

    def _sync(self, info: dict[str, Any]) -> State:
        self.state = self._settle(self.env.mjx_model, mjx.put_data(self.m, self.d), info)
        if self.viewer is not None:
            self.viewer.sync()
        return self.state

    def reset(self, seed: int, episode: int) -> State:
        """The task's own reset for (seed, episode) (``jaxrobot.sim.batch.episode_keys``: the same start as
        scripted demos and evaluation of that index), copied into the C simulation."""
        k_reset = episode_keys(seed, episode, 1)[0][0]
        first = self._reset(k_reset)
        mujoco.mj_resetData(self.m, self.d)
        mjx.get_data_into(self.d, self.m, first.data)
        mujoco.mj_forward(self.m, self.d)
        return self._sync(first.info)

    def step(self, action: np.ndarray) -> State:
        if self.state is None:
            raise RuntimeError("SimFollower.step before reset")
        ctrl, info = self._command(self.state, np.asarray(action, np.float32))
        self.d.ctrl[:] = np.asarray(ctrl)
        self.commanded_at = time.perf_counter()
        for _ in range(self.env.n_substeps):
            mujoco.mj_step(self.m, self.d)
        return self._sync(info)

    def qpos(self) -> np.ndarray:
        return self.d.qpos.copy()

    def close(self) -> None:
        if self.viewer is not None:
            self.viewer.close()
            # Let the viewer's thread destroy its window before the interpreter terminates GLFW (exiting while
            # it still runs hangs or crashes in glfw.terminate, seen under Xvfb).
            for t in self._viewer_threads:
                t.join(timeout=5.0)
            self.viewer = None
