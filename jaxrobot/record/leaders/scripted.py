"""The ``sim`` leader: a scripted operator with a human's timing, for tests, demos and benchmarks.

It knows what to do (the task's scripted expert plan, ``env.expert_plan``) but does it like a person at a
teleoperation rig rather than a controller (figures are the usual ranges for human teleoperation; they are
parameters, not measurements):

- reaction delay: it starts moving, and presses the gripper button, ``reaction_s`` after the moment calls for
  it (0.15-0.30 s per episode, visual reaction time);
- pace: it moves at 60-90 % of the expert's speed (a per-episode draw) with a slow sway of +-25 %;
- pauses: now and then (``pauses_per_s``) it holds still for 0.2-0.6 s (re-grip, a look at the scene);
- noisy paths: its hand wanders (a random walk of ``wander_m`` per tick away from contact), which the plan
  steers back;
- corrections: in a fraction of episodes it overshoots once by 1.5-3 cm during the approach and corrects.

Everything is drawn from ``(seed, episode)``, so a recording is reproducible. Its episodes end when the task
does; it accepts successes and discards failures (:meth:`Leader.decide`).
"""

from __future__ import annotations

import collections
import dataclasses
from typing import Any

import jax
import jax.numpy as jnp
import numpy as np

from jaxrobot.config import Config, require, validate
from jaxrobot.record.leaders.base import Leader, LeaderError, LeaderInput


@dataclasses.dataclass(frozen=True)
class HumanTiming(Config):
    """How the scripted operator deviates from the expert (see the module docstring)."""

    kind = "human_timing"

    reaction_s: tuple[float, float] = (0.15, 0.30)
    pace: tuple[float, float] = (0.6, 0.9)
    sway: float = 0.25
    pauses_per_s: float = 0.3
    pause_s: tuple[float, float] = (0.2, 0.6)
    wander_m: float = 0.0008
    correction_prob: float = 0.3
    correction_m: tuple[float, float] = (0.015, 0.03)

    def check(self) -> None:
        for name in ("reaction_s", "pace", "pause_s", "correction_m"):
            lo, hi = getattr(self, name)
            require(0 <= lo <= hi, name, f"needs 0 <= low <= high, got {(lo, hi)}")
        require(self.pace[1] > 0, "pace", "must allow motion (high > 0)")
        require(0 <= self.correction_prob <= 1, "correction_prob", f"must be in [0, 1], got {self.correction_prob}")


class ScriptedOperator(Leader):
    """The task's expert plan executed with human timing. ``env`` needs ``expert_plan`` (the Panda tasks)."""

    name = "sim"

    def __init__(self, env: Any, seed: int = 0, timing: HumanTiming | None = None):
        if not hasattr(env, "expert_plan"):
            raise LeaderError(f"the sim leader needs a task with a scripted expert plan; {type(env).__name__} has "
                              "none (use panda_pick_cube or panda_peg_insertion)")
        self.env, self.seed = env, int(seed)
        self.timing = timing or HumanTiming()
        validate(self.timing)
        self.operator = f"scripted-seed{self.seed}"
        self.dt = float(env.config.ctrl_dt)
        self._plan = jax.jit(env.expert_plan)
        self._fk = jax.jit(env.kin.fk_matrix)
        self._action_for = jax.jit(env.action_for)

    def begin(self, state: Any, episode: int) -> None:
        t = self.timing
        self.rng = np.random.default_rng([self.seed, int(episode), 0x5C12])
        self.delay = int(round(self.rng.uniform(*t.reaction_s) / self.dt))
        self.grips: collections.deque = collections.deque(maxlen=self.delay + 1)
        self.pace = self.rng.uniform(*t.pace)
        self.phase = self.rng.uniform(0, 2 * np.pi)
        self.pause_left = self.delay  # the operator reacts to "go" after a reaction time
        self.tick = 0
        self.correct_at = (int(self.rng.integers(int(0.3 / self.dt), int(1.0 / self.dt)))
                           if self.rng.random() < t.correction_prob else -1)

    def warm_up(self, state: Any) -> None:
        self.begin(state, 0)  # begin() draws everything afresh at the next take
        self.read(state)

    def read(self, state: Any) -> LeaderInput:
        t = self.timing
        pos, rot, width, quiet = (np.asarray(x) for x in self._plan(state))
        # The gripper button is pressed a reaction time after the moment calls for it.
        self.grips.append(float(width))
        width = self.grips[0]
        ref_pos, ref_rot = (np.asarray(x) for x in self._fk(state.info["q_cmd"]))
        if self.pause_left > 0:
            self.pause_left -= 1
            speed = 0.0
        else:
            if self.rng.random() < t.pauses_per_s * self.dt:
                self.pause_left = int(round(self.rng.uniform(*t.pause_s) / self.dt))
            speed = self.pace * (1.0 + t.sway * np.sin(self.phase + 2 * np.pi * 0.5 * self.tick * self.dt))
        pos = ref_pos + speed * (pos - ref_pos)
        rot = _blend(ref_rot, rot, min(speed, 1.0))
        if not bool(quiet):
            pos = pos + self.rng.normal(0.0, t.wander_m, 3)
            if self.tick == self.correct_at:
                d = self.rng.normal(size=2)
                pos = pos + np.append(d / np.linalg.norm(d) * self.rng.uniform(*t.correction_m), 0.0)
        self.tick += 1
        action = self._action_for(state, jnp.asarray(pos, jnp.float32), jnp.asarray(rot, jnp.float32),
                                  jnp.float32(width))
        return LeaderInput(np.asarray(action, np.float32))


def _blend(r0: np.ndarray, r1: np.ndarray, s: float) -> np.ndarray:
    """Rotation a fraction ``s`` of the way from ``r0`` to ``r1`` (along the geodesic)."""
    from scipy.spatial.transform import Rotation

    rel = Rotation.from_matrix(r1 @ r0.T).as_rotvec()
    return (Rotation.from_rotvec(s * rel).as_matrix() @ r0).astype(np.float32)
