"""The ``arm`` leader: a hand-moved servo arm (Koch, SO-100 / SO-101 leader) mirrored joint by joint on the Panda.

Bilateral teleoperation as ALOHA / LeRobot record it: the operator moves a small kinematic replica whose servos
have torque off; every tick its joint angles are read (:class:`~jaxrobot.record.devices.servo_bus.ServoBus`,
one SYNC_READ) and become the follower's joint targets. The replica is not a scaled Panda (6 joints on the
SO-100, different zero positions and senses of rotation), so an :class:`ArmCalibration` (a JSON file) says, per
follower joint, which servo drives it (or a constant, for the joint a 6-joint leader lacks), its offset and its
direction: ``q = direction * servo_angle + offset``. :func:`calibrate` builds the offsets from one reading taken
with the leader held in the follower's home pose. The gripper servo's raw position maps linearly from
``gripper_closed`` .. ``gripper_open`` onto width 0 .. fully open.

A servo reading jumps by one turn where it crosses its 0 / 4095 wrap; mapped angles are therefore taken modulo
2 pi into the turn centred on the follower joint's range (every Panda joint's range is shorter than a turn), then
clipped to the limits. ``joint_pos`` tasks get those joints directly; other action spaces get the TCP pose of
the joints (forward kinematics) through the task's ``action_for``.
"""

from __future__ import annotations

import dataclasses
import json
import math
import os
import pathlib
import sys
import time
from collections.abc import Callable, Iterable, Mapping, Sequence
from typing import Any

import numpy as np

from jaxrobot.record.devices.servo_bus import BUS_KINDS, ServoBus, ticks_to_radians
from jaxrobot.record.leaders.base import Leader, LeaderError, LeaderInput
from jaxrobot.sim.panda import HOME_Q

N_JOINTS = 7
_VERSION = 1


class CalibrationError(LeaderError):
    """An arm calibration is invalid; ``field`` names the offending entry, the message also names the file."""

    def __init__(self, field: str, message: str, source: str | None = None):
        self.field, self.detail, self.source = field, message, source
        where = f"{source}: " if source else ""
        super().__init__(f"{where}arm calibration field '{field}': {message}")


def _is_int(v: Any) -> bool:
    return isinstance(v, int | np.integer) and not isinstance(v, bool)


def _is_number(v: Any) -> bool:
    return isinstance(v, int | float | np.integer | np.floating) and not isinstance(v, bool) and math.isfinite(v)


def _servo_id(v: Any) -> bool:
    return _is_int(v) and 0 <= v <= 252


@dataclasses.dataclass(frozen=True)
class ArmCalibration:
    """How a leader arm's servos map onto the follower's 7 joints and gripper.

    bus, port, baudrate: the servo bus (``dynamixel`` / ``feetech``), its serial device and baud rate.
    servo_ids: per follower joint, the leader servo driving it, or None for a joint held at ``constants[j]``.
    offsets, directions: per follower joint, ``q = direction * servo_angle + offset`` (radians; +1 / -1).
    constants: values of the joints without a servo (default: the follower's home pose).
    gripper_id, gripper_open, gripper_closed: the gripper servo and its raw positions (ticks) fully open / closed.
    """

    bus: str
    port: str
    servo_ids: tuple[int | None, ...]
    gripper_id: int
    gripper_open: int
    gripper_closed: int
    offsets: tuple[float, ...] = (0.0,) * N_JOINTS
    directions: tuple[int, ...] = (1,) * N_JOINTS
    constants: tuple[float, ...] = tuple(float(x) for x in HOME_Q)
    baudrate: int = 1_000_000

    def __post_init__(self):
        for name in ("servo_ids", "offsets", "directions", "constants"):
            value = getattr(self, name)
            if isinstance(value, list | np.ndarray):
                object.__setattr__(self, name, tuple(value.tolist() if isinstance(value, np.ndarray) else value))
        self._check()

    def _check(self) -> None:
        if self.bus not in BUS_KINDS:
            raise CalibrationError("bus", f"unknown servo bus {self.bus!r}; known: {sorted(BUS_KINDS)}")
        if not isinstance(self.port, str) or not self.port:
            raise CalibrationError("port", f"needs a serial device path, got {self.port!r}")
        if not _is_int(self.baudrate) or self.baudrate <= 0:
            raise CalibrationError("baudrate", f"needs a positive integer, got {self.baudrate!r}")
        for name in ("servo_ids", "offsets", "directions", "constants"):
            value = getattr(self, name)
            if not isinstance(value, tuple) or len(value) != N_JOINTS:
                raise CalibrationError(name, f"needs one entry per follower joint ({N_JOINTS}), got {value!r}")
        for j, sid in enumerate(self.servo_ids):
            if sid is not None and not _servo_id(sid):
                raise CalibrationError("servo_ids", f"joint {j + 1}: needs a servo ID 0..252 or null, got {sid!r}")
        if all(sid is None for sid in self.servo_ids):
            raise CalibrationError("servo_ids", "no follower joint has a leader servo")
        if not _servo_id(self.gripper_id):
            raise CalibrationError("gripper_id", f"needs a servo ID 0..252, got {self.gripper_id!r}")
        used = [sid for sid in self.servo_ids if sid is not None] + [self.gripper_id]
        dup = sorted({sid for sid in used if used.count(sid) > 1})
        if dup:
            raise CalibrationError("servo_ids", f"servo IDs {dup} used twice (joints and gripper_id must differ)")
        for name in ("offsets", "constants"):
            bad = [j + 1 for j, v in enumerate(getattr(self, name)) if not _is_number(v)]
            if bad:
                raise CalibrationError(name, f"joints {bad}: need finite numbers (radians)")
        bad = [j + 1 for j, d in enumerate(self.directions) if not _is_int(d) or d not in (1, -1)]
        if bad:
            raise CalibrationError("directions", f"joints {bad}: need +1 or -1, got {list(self.directions)}")
        for name in ("gripper_open", "gripper_closed"):
            if not _is_int(getattr(self, name)):
                raise CalibrationError(name, f"needs raw servo ticks (an integer), got {getattr(self, name)!r}")
        if self.gripper_open == self.gripper_closed:
            raise CalibrationError("gripper_open", f"equals gripper_closed ({self.gripper_closed}): take the two "
                                                   "readings with the gripper fully open and fully closed")

    @property
    def bus_ids(self) -> tuple[int, ...]:
        """The servos read each tick: the joints' (in follower-joint order), then the gripper's."""
        return tuple(sid for sid in self.servo_ids if sid is not None) + (self.gripper_id,)

    def joints(self, ticks: Sequence[int]) -> np.ndarray:
        """Follower joint angles (float64[7], not yet wrapped or clipped) from raw ticks in :attr:`bus_ids` order."""
        angles = iter(ticks_to_radians(np.asarray(ticks)[:-1]))
        return np.array([c if sid is None else d * next(angles) + o for sid, o, d, c in
                         zip(self.servo_ids, self.offsets, self.directions, self.constants, strict=True)])

    def width_fraction(self, gripper_ticks: int) -> float:
        """How open the gripper is, 0 (closed) .. 1 (open), from its raw position (clipped)."""
        f = (gripper_ticks - self.gripper_closed) / (self.gripper_open - self.gripper_closed)
        return float(np.clip(f, 0.0, 1.0))

    def to_dict(self) -> dict[str, Any]:
        d = dataclasses.asdict(self)
        return {"version": _VERSION, **{k: list(v) if isinstance(v, tuple) else v for k, v in d.items()}}

    @classmethod
    def from_dict(cls, data: Any, source: str = "<dict>") -> ArmCalibration:
        """Build and validate; errors name the field and ``source`` (the file)."""
        if not isinstance(data, dict):
            raise CalibrationError("<top level>", f"needs a JSON object, got {type(data).__name__}", source)
        data = dict(data)
        version = data.pop("version", _VERSION)
        if version != _VERSION:
            raise CalibrationError("version", f"unsupported version {version!r} (this jaxrobot reads {_VERSION})",
                                   source)
        fields = {f.name: f for f in dataclasses.fields(cls)}
        unknown = sorted(set(data) - set(fields))
        if unknown:
            raise CalibrationError(unknown[0], f"unknown field; fields: {sorted(fields)}", source)
        missing = [n for n, f in fields.items() if f.default is dataclasses.MISSING and n not in data]
        if missing:
            raise CalibrationError(missing[0], "missing", source)
        try:
            return cls(**data)
        except CalibrationError as e:
            raise CalibrationError(e.field, e.detail, source) from None


def load_calibration(path: str | os.PathLike) -> ArmCalibration:
    """Read and validate an arm calibration JSON file."""
    path = pathlib.Path(path)
    try:
        text = path.read_text()
    except OSError as e:
        raise LeaderError(f"cannot read arm calibration {path}: {e.strerror}") from e
    try:
        data = json.loads(text)
    except json.JSONDecodeError as e:
        raise CalibrationError("<json>", f"not valid JSON (line {e.lineno}, column {e.colno}: {e.msg})",
                               str(path)) from None
    return ArmCalibration.from_dict(data, str(path))


def save_calibration(calibration: ArmCalibration, path: str | os.PathLike) -> pathlib.Path:
    """Write ``calibration`` as JSON (atomically: a crash never leaves half a file)."""
    path = pathlib.Path(path)
    path.parent.mkdir(parents=True, exist_ok=True)
    tmp = path.with_name(path.name + ".tmp")
    tmp.write_text(json.dumps(calibration.to_dict(), indent=2) + "\n")
    os.replace(tmp, path)
    return path


def calibrate(bus: str, port: str, servo_ids: Sequence[int | None], home_ticks: Mapping[int, int],
              gripper_id: int, gripper_open: int, gripper_closed: int, *,
              directions: Sequence[int] = (1,) * N_JOINTS, constants: Sequence[float] | None = None,
              home_q: Sequence[float] = tuple(HOME_Q), baudrate: int = 1_000_000) -> ArmCalibration:
    """The calibration whose offsets map ``home_ticks`` (servo ID -> raw ticks, read with the leader held in the
    follower's home pose ``home_q``) onto ``home_q``; ``directions`` come from the arm's build (+1 where the
    servo turns with the follower joint). Unmapped joints default to ``home_q``."""
    servo_ids = tuple(servo_ids)
    if len(servo_ids) != N_JOINTS or len(home_q) != N_JOINTS or len(directions) != N_JOINTS:
        raise CalibrationError("servo_ids", f"calibrate needs {N_JOINTS} servo IDs, home angles and directions")
    missing = [sid for sid in servo_ids if sid is not None and sid not in home_ticks]
    if missing:
        raise CalibrationError("home_ticks", f"no home reading for servos {missing}")
    offsets = tuple(0.0 if sid is None else float(q - d * ticks_to_radians(home_ticks[sid]))
                    for sid, q, d in zip(servo_ids, home_q, directions, strict=True))
    return ArmCalibration(bus=bus, port=port, baudrate=int(baudrate), servo_ids=servo_ids,
                          gripper_id=int(gripper_id), gripper_open=int(gripper_open),
                          gripper_closed=int(gripper_closed), offsets=offsets,
                          directions=tuple(int(d) for d in directions),
                          constants=tuple(float(c) for c in (home_q if constants is None else constants)))


class ArmLeader(Leader):
    """A leader arm on a servo bus, mirrored onto a Panda task (``env``: :class:`jaxrobot.sim.panda_arm.PandaTask`).

    Args:
        env: the follower task (its action space, joint limits, kinematics and ``action_for``).
        calibration: an :class:`ArmCalibration` or the path of its JSON file.
        operator: recorded in each episode's metadata.
        events: called once per tick for episode-control events (e.g. a keyboard's); a leader arm has no keys.
        timeout_ms, retries: passed to :class:`ServoBus` (reply timeout floor, sync-read retries).
    """

    name = "arm"

    def __init__(self, env: Any, calibration: ArmCalibration | str | os.PathLike, *, operator: str = "",
                 events: Callable[[], Iterable[str]] | None = None, timeout_ms: float = 0.0, retries: int = 1,
                 on_close: Callable[[], None] | None = None):
        import jax
        import jax.numpy as jnp

        if not isinstance(calibration, ArmCalibration):
            calibration = load_calibration(calibration)
        self.env, self.calibration, self.operator, self.events = env, calibration, operator, events
        # With an event source (keys) the operator starts each take and judges it; without one (the Python
        # API driving a headless session) takes start at once and successes are kept.
        self.needs_start = events is not None
        self._on_close = on_close
        lower, upper = np.asarray(env.kin.lower, np.float64), np.asarray(env.kin.upper, np.float64)
        self._mid = 0.5 * (lower + upper)
        self.max_width = float(env.action_high[-1])
        kin = env.kin
        if env.config.action_space == "joint_pos":  # the joints themselves; no need for the follower's state
            joint_action = jax.jit(lambda q, width: jnp.concatenate([kin.clip(q), width[None]]))
            self._to_action = lambda state, q, width: joint_action(q, width)
        else:
            def to_action(state, q, width):
                pos, rot = kin.fk_matrix(kin.clip(q))
                return env.action_for(state, pos, rot, width)
            self._to_action = jax.jit(to_action)
        cal = calibration
        self.bus = ServoBus(cal.bus, cal.port, cal.bus_ids, cal.baudrate, timeout_ms=timeout_ms, retries=retries)
        self.bus.open()

    def joints(self, ticks: Sequence[int]) -> np.ndarray:
        """Follower joint angles (float64[7], wrapped into the turn centred on each joint's range; not clipped)."""
        q = self.calibration.joints(ticks)
        return self._mid + np.mod(q - self._mid + math.pi, 2 * math.pi) - math.pi

    def warm_up(self, state: Any) -> None:
        self._to_action(state, np.asarray(state.obs["state"][0:7], np.float32), np.float32(0.0))

    def read(self, state: Any) -> LeaderInput:
        ticks = self.bus.read_ticks()
        q = self.joints(ticks)
        width = self.calibration.width_fraction(int(ticks[-1])) * self.max_width
        action = np.asarray(self._to_action(state, np.asarray(q, np.float32), np.float32(width)), np.float32)
        events = frozenset(self.events()) if self.events is not None else frozenset()
        return LeaderInput(action, events)

    def decide(self, success: bool) -> str:
        """Wait for the operator's accept / discard / re-record / quit key (the default without keys)."""
        if self.events is None:
            return super().decide(success)
        print(f"jaxrobot record (arm): episode ended ({'success' if success else 'failure'}): enter accept, "
              "backspace discard, r re-record, esc quit", file=sys.stderr, flush=True)
        while True:
            ev = set(self.events())
            for e in ("quit", "discard", "rerecord", "accept"):
                if e in ev:
                    return e
            time.sleep(0.02)

    def close(self) -> None:
        try:
            self.bus.close()
        finally:
            if self._on_close is not None:
                self._on_close()
