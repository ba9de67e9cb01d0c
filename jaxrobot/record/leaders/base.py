"""The one interface every leader device implements, and the end-effector target most of them steer.

A leader is read once per control tick by the recording loop (:mod:`jaxrobot.record.recorder`). It sees the
follower's current :class:`~jaxrobot.sim.env.State` (a real robot's follower provides the same fields: ``obs``
and ``info["q_cmd"]``) and answers with a :class:`LeaderInput`: the action to command, in the task's action
space, and any episode-control events the operator triggered (keys, buttons, or the scripted operator's
decisions). Leaders never step the follower themselves, so every leader runs under the same fixed-rate loop.
"""

from __future__ import annotations

import abc
import dataclasses
from typing import Any

import numpy as np

from jaxrobot.record.errors import LeaderError

__all__ = ["EVENTS", "EndEffectorTarget", "Leader", "LeaderError", "LeaderInput"]

#: Episode-control events a leader may raise (keys or buttons on a real device).
EVENTS = ("start", "accept", "discard", "rerecord", "quit")


@dataclasses.dataclass(frozen=True)
class LeaderInput:
    """What the operator commands at one tick.

    action: float32 action in the follower task's action space, or None to hold the last command (e.g. before
        the operator has moved anything).
    events: episode-control events raised at this tick (subset of :data:`EVENTS`).
    """

    action: np.ndarray | None
    events: frozenset[str] = frozenset()

    def __post_init__(self):
        bad = set(self.events) - set(EVENTS)
        if bad:
            raise ValueError(f"unknown leader events {sorted(bad)}; known: {EVENTS}")


class Leader(abc.ABC):
    """A device (or scripted operator) that commands the follower, one :meth:`read` per control tick.

    Attributes:
        name: the ``--leader`` name (``sim``, ``keyboard``, ``gamepad``, ``spacemouse``, ``arm``).
        operator: who operates it, recorded in each episode's metadata (e.g. ``scripted-seed3``, a user name).
    """

    name: str = ""
    operator: str = ""

    def begin(self, state: Any, episode: int) -> None:  # noqa: B027 - optional hook
        """A new episode starts from follower ``state`` (its index in the dataset is ``episode``)."""

    def warm_up(self, state: Any) -> None:  # noqa: B027 - optional hook
        """Compile (or load) the leader's jitted functions on ``state`` before the first take, so the first
        recorded tick is not late; must leave no trace in the next take."""

    @abc.abstractmethod
    def read(self, state: Any) -> LeaderInput:
        """The command for this tick given the follower's current state (must not block for long)."""

    #: The recorder waits for a ``start`` event before each episode (an operator at a keyboard needs time to
    #: get ready); scripted leaders start at once.
    needs_start: bool = False

    def decide(self, success: bool) -> str:
        """After an episode ended by itself (task success, failure or time limit): ``"accept"``, ``"discard"``
        or ``"rerecord"``. Interactive leaders override this to wait for the operator's key; the default keeps
        successes."""
        return "accept" if success else "discard"

    def close(self) -> None:  # noqa: B027 - optional hook
        """Release the device."""

    def __enter__(self):
        return self

    def __exit__(self, *exc):
        self.close()


class EndEffectorTarget:
    """A TCP target (position, rotation, gripper width) moved by velocity commands and turned into actions.

    The keyboard, gamepad and spacemouse leaders command velocities; this integrates them into an absolute
    target that starts at the follower's commanded pose (``fk(info["q_cmd"])``), stays inside the task's
    workspace, and is expressed in the task's action space through the task's own ``action_for`` (IK for
    ``joint_pos``). ``env`` is a Panda task (:class:`jaxrobot.sim.panda_arm.PandaTask`).
    """

    def __init__(self, env: Any):
        import jax

        self.env = env
        cfg = env.config
        self.low = np.asarray(cfg.workspace_low, np.float32)
        self.high = np.asarray(cfg.workspace_high, np.float32)
        self.dt = float(cfg.ctrl_dt)
        self._fk = jax.jit(env.kin.fk_matrix)
        self._action_for = jax.jit(env.action_for)
        self.pos = self.rot = None
        self.width = 0.0

    def reset(self, state: Any) -> None:
        """Start from the follower's commanded pose and its measured gripper width."""
        pos, rot = self._fk(state.info["q_cmd"])
        self.pos, self.rot = np.asarray(pos, np.float32), np.asarray(rot, np.float32)
        self.width = float(np.asarray(state.obs["state"])[21])

    def move(self, linear: np.ndarray, angular: np.ndarray, width: float | None = None) -> None:
        """Advance one tick: ``linear`` m/s and ``angular`` rad/s (world frame), absolute ``width`` if given."""
        from scipy.spatial.transform import Rotation

        if self.pos is None:
            raise RuntimeError("EndEffectorTarget.move before reset")
        self.pos = np.clip(self.pos + np.asarray(linear, np.float32) * self.dt, self.low, self.high)
        turn = Rotation.from_rotvec(np.asarray(angular, np.float64) * self.dt).as_matrix()
        self.rot = (turn @ self.rot).astype(np.float32)
        if width is not None:
            self.width = float(np.clip(width, 0.0, float(self.env.action_high[-1])))

    def action(self, state: Any) -> np.ndarray:
        """The current target as an action of the task's action space."""
        import jax.numpy as jnp

        a = self._action_for(state, jnp.asarray(self.pos), jnp.asarray(self.rot), jnp.float32(self.width))
        return np.asarray(a, np.float32)
