"""End-effector teleoperation: keyboard and gamepad (pygame) and a 3Dconnexion SpaceMouse (HID).

Each device is read once per tick and its state mapped to a TCP velocity by a pure function
(:func:`keyboard_command`, :func:`gamepad_command`, :func:`spacemouse_command`: testable without the device);
the leader integrates it into an absolute target with :class:`~jaxrobot.record.leaders.base.EndEffectorTarget`
(reset at each episode's start), which turns it into the task's action.

Frames: velocities are in the task's world frame, for an operator standing behind the robot and looking the way it
faces (world +x): forward is +x, left is +y, up is +z; yaw turns about world z. Speeds at scale 1 (0.1 m/s,
0.8 rad/s) move the target 2 mm / 0.9 degrees per 50 Hz tick; "faster" / "slower" scale them by 1.5 within
[0.25, 4]. The gripper toggles between open and closed; until the operator first toggles it, the width the
follower has is held.

Episode flow (the recorder's, :mod:`jaxrobot.record.recorder`): after :meth:`begin` nothing moves until the
operator raises ``start``; the first action goes out once the operator commands something (until then the follower
holds); when the task ends an episode, :meth:`decide` waits for accept / discard / re-record.
"""

from __future__ import annotations

import abc
import dataclasses
import os
import sys
import time
from collections.abc import Collection, Mapping, Sequence
from typing import Any

import numpy as np

from jaxrobot.record.devices.spacemouse import SpaceMouseDevice, SpaceMouseState
from jaxrobot.record.leaders.base import EndEffectorTarget, Leader, LeaderError, LeaderInput

#: Events that end an episode or answer :meth:`Leader.decide`, in priority order.
DECISIONS = ("quit", "discard", "rerecord", "accept")


@dataclasses.dataclass(frozen=True)
class TeleopSpeeds:
    """Velocities at full command and speed scale 1, and how the scale steps.

    linear: m/s; angular: rad/s; scale_step: factor per "faster" / "slower"; min_scale / max_scale: its range;
    open_width: the gripper width "open" commands (m).
    """

    linear: float = 0.1
    angular: float = 0.8
    scale_step: float = 1.5
    min_scale: float = 0.25
    max_scale: float = 4.0
    open_width: float = 0.08


@dataclasses.dataclass(frozen=True)
class TeleopState:
    """What a mapping carries from tick to tick: gripper closed (None: not toggled yet) and the speed scale."""

    closed: bool | None = None
    scale: float = 1.0


@dataclasses.dataclass(frozen=True)
class TeleopCommand:
    """One tick's command: TCP velocity (world frame), gripper width (None: hold), events, the next state."""

    linear: np.ndarray
    angular: np.ndarray
    width: float | None
    events: frozenset[str]
    state: TeleopState

    @property
    def moves(self) -> bool:
        return bool(np.any(self.linear) or np.any(self.angular) or self.width is not None)


def _command(twist: np.ndarray, actions: Collection[str], state: TeleopState, speeds: TeleopSpeeds,
             closed_at_start: bool | None = None) -> TeleopCommand:
    """Shared tail of the mappings: apply gripper / speed actions, scale a unit twist [6], collect events."""
    closed, scale = state.closed, state.scale
    for a in actions:
        if a == "gripper":
            closed = not (closed if closed is not None else bool(closed_at_start))
        elif a == "faster":
            scale = min(scale * speeds.scale_step, speeds.max_scale)
        elif a == "slower":
            scale = max(scale / speeds.scale_step, speeds.min_scale)
    twist = np.clip(np.asarray(twist, np.float32), -1.0, 1.0)
    width = None if closed is None else (0.0 if closed else speeds.open_width)
    return TeleopCommand(linear=twist[:3] * np.float32(speeds.linear * scale),
                         angular=twist[3:] * np.float32(speeds.angular * scale), width=width,
                         events=frozenset(a for a in actions if a in ("start",) + DECISIONS),
                         state=TeleopState(closed=closed, scale=scale))


def dead_zone(value: float, width: float) -> float:
    """0 within ``width`` of the centre, then linear so that full deflection still gives 1 (no jump at the edge)."""
    v = float(value)
    if abs(v) <= width:
        return 0.0
    return float(np.sign(v)) * min(1.0, (abs(v) - width) / (1.0 - width))


# ---------------------------------------------------------------- keyboard

#: Held keys (pygame key names) -> (twist component [vx vy vz wx wy wz], sign). i/k and u/o tilt the tool tip
#: forward / back and left / right (for a tool pointing down: rotation about world -y / +y, +x / -x).
KEY_MOTION: dict[str, tuple[int, float]] = {
    "w": (0, 1.0), "s": (0, -1.0), "up": (0, 1.0), "down": (0, -1.0),
    "a": (1, 1.0), "d": (1, -1.0), "left": (1, 1.0), "right": (1, -1.0),
    "e": (2, 1.0), "q": (2, -1.0), "page up": (2, 1.0), "page down": (2, -1.0),
    "u": (3, 1.0), "o": (3, -1.0), "k": (4, 1.0), "i": (4, -1.0), "j": (5, 1.0), "l": (5, -1.0),
}
#: Pressed keys -> actions: episode events, gripper toggle, speed scale.
KEY_ACTIONS: dict[str, str] = {
    "space": "start", "return": "accept", "enter": "accept", "backspace": "discard", "r": "rerecord",
    "escape": "quit", "g": "gripper", "=": "faster", "+": "faster", "[+]": "faster", "-": "slower", "[-]": "slower",
}
KEYBOARD_HELP = ("w/s a/d e/q (or arrows, page up/down): move x y z | j/l: yaw | i/k u/o: tilt | g: gripper | "
                 "+/-: speed | space: start | enter: accept | backspace: discard | r: re-record | esc: quit")


def _add_motion(twist: np.ndarray, inputs: Collection, table: dict) -> np.ndarray:
    """``twist`` plus one unit along (component, sign) for every input (key or button) in ``table``."""
    for x in inputs:
        if x in table:
            i, sign = table[x]
            twist[i] += sign
    return twist


def keyboard_command(held: Collection[str], pressed: Collection[str] = (), state: TeleopState = TeleopState(),
                     speeds: TeleopSpeeds = TeleopSpeeds(), closed_at_start: bool | None = None) -> TeleopCommand:
    """The command for keys ``held`` (motion) and keys ``pressed`` since the last tick (toggles, events).

    Keys are pygame key names (``pygame.key.name``). A key tapped within one tick counts as held for it, so a tap
    moves one tick's worth. Opposite keys cancel. ``closed_at_start``: whether the gripper counts as closed for
    the first toggle (the follower's width).
    """
    twist = _add_motion(np.zeros(6, np.float32), set(held) | set(pressed), KEY_MOTION)
    actions = [KEY_ACTIONS[k] for k in pressed if k in KEY_ACTIONS]
    return _command(twist, actions, state, speeds, closed_at_start)


# ---------------------------------------------------------------- gamepad

#: SDL game-controller axes (``pygame.CONTROLLER_AXIS_*``): the same layout for every pad SDL knows.
AXIS_LEFTX, AXIS_LEFTY, AXIS_RIGHTX, AXIS_RIGHTY = 0, 1, 2, 3
#: SDL game-controller buttons (``pygame.CONTROLLER_BUTTON_*``) -> actions. Xbox names; on a PlayStation pad
#: A/B/X/Y are cross/circle/square/triangle, back/start are share/options.
GAMEPAD_ACTIONS: dict[int, str] = {
    0: "gripper",  # A
    1: "discard",  # B
    2: "rerecord",  # X
    3: "accept",  # Y
    4: "quit",  # back
    6: "start",  # start
    9: "slower",  # left shoulder
    10: "faster",  # right shoulder
}
#: Held D-pad buttons -> (twist component, sign): tilt the tool tip forward / back / left / right.
GAMEPAD_MOTION: dict[int, tuple[int, float]] = {11: (4, -1.0), 12: (4, 1.0), 13: (3, 1.0), 14: (3, -1.0)}
GAMEPAD_HELP = ("left stick: move x y | right stick: up/down z, left/right yaw | d-pad: tilt | A: gripper | "
                "shoulders: speed | start: start | Y: accept | B: discard | X: re-record | back: quit")


def gamepad_command(axes: Sequence[float], held: Collection[int] = (), pressed: Collection[int] = (),
                    state: TeleopState = TeleopState(), speeds: TeleopSpeeds = TeleopSpeeds(),
                    dead: float = 0.15, closed_at_start: bool | None = None) -> TeleopCommand:
    """The command for a game controller: ``axes`` in [-1, 1] in SDL game-controller order (left x, left y,
    right x, right y, ...; y positive down, as SDL reports), buttons ``held`` now and ``pressed`` since the last
    tick (SDL game-controller indices).

    Left stick pushed forward moves forward (+x), to the right moves right (-y); right stick forward raises
    (+z), to the right turns clockwise seen from above (-yaw). Each axis has a dead zone ``dead`` (sticks
    rarely rest at exactly 0).
    """
    lx, ly, rx, ry = (dead_zone(axes[i], dead) if i < len(axes) else 0.0
                      for i in (AXIS_LEFTX, AXIS_LEFTY, AXIS_RIGHTX, AXIS_RIGHTY))
    twist = _add_motion(np.array([-ly, -lx, -ry, 0.0, 0.0, -rx], np.float32), set(held) | set(pressed),
                        GAMEPAD_MOTION)
    actions = [GAMEPAD_ACTIONS[b] for b in pressed if b in GAMEPAD_ACTIONS]
    return _command(twist, actions, state, speeds, closed_at_start)


# ---------------------------------------------------------------- spacemouse

#: HID frame (+x right, +y towards the user, +z down) -> world, for the operator behind the robot: pushing the
#: puck away moves forward (+x), right moves right (-y), lifting it raises (+z). A proper rotation, so it maps
#: rotations (about the same axes) too.
HID_TO_WORLD = np.array([[0.0, -1.0, 0.0], [-1.0, 0.0, 0.0], [0.0, 0.0, -1.0]], np.float32)
#: SpaceMouse buttons -> actions. ``go`` is ``start`` while waiting for an episode, ``accept`` otherwise; when
#: an episode has ended (:meth:`Leader.decide`) ``gripper`` answers ``discard``. Left / right on 2-button
#: models; on the Pro / Enterprise buttons have other bits (PySpaceMouse's devices.toml lists them).
SPACEMOUSE_ACTIONS: dict[int, str] = {0: "gripper", 1: "go"}
SPACEMOUSE_HELP = ("push / lift / twist the cap: move | left button: gripper (after an episode: discard) | "
                   "right button: start, then accept")


def spacemouse_command(reading: SpaceMouseState, pressed: Collection[int] = (), state: TeleopState = TeleopState(),
                       speeds: TeleopSpeeds = TeleopSpeeds(), *, phase: str = "record",
                       actions: Mapping[int, str] = SPACEMOUSE_ACTIONS, dead: float = 0.1,
                       frame: np.ndarray = HID_TO_WORLD, closed_at_start: bool | None = None) -> TeleopCommand:
    """The command for a SpaceMouse ``reading`` and the buttons ``pressed`` since the last tick.

    ``phase`` is where the episode is (``wait`` for start, ``record``, ``decide`` after the task ended it), which
    the two buttons of small models need to cover every event. Full deflection commands full speed; each axis has
    a dead zone ``dead`` (the cap rarely rests at exactly 0, and it keeps small cross-talk between axes out).
    """
    t = np.array([dead_zone(v, dead) for v in reading.translation], np.float32)
    r = np.array([dead_zone(v, dead) for v in reading.rotation], np.float32)
    twist = np.concatenate([frame @ t, frame @ r])
    names = []
    for b in sorted(set(pressed)):
        a = actions.get(b)
        if a == "go":
            a = "start" if phase == "wait" else "accept"
        elif a == "gripper" and phase == "decide":
            a = "discard"
        if a:
            names.append(a)
    return _command(twist, names, state, speeds, closed_at_start)


# ---------------------------------------------------------------- leaders


class TeleopLeader(Leader):
    """What the three teleoperation leaders share: the target, the episode phases, :meth:`decide`.

    Subclasses implement :meth:`command` (read the device, map it with the pure function).
    """

    needs_start = True
    help = ""

    def __init__(self, env: Any, operator: str = "", speeds: TeleopSpeeds | None = None):
        self.env, self.operator = env, operator
        self.target = EndEffectorTarget(env)
        self.speeds = speeds or TeleopSpeeds(open_width=float(env.action_high[-1]))
        self.state = TeleopState()
        self.started = self.moved = False

    @abc.abstractmethod
    def command(self, phase: str) -> TeleopCommand:
        """Read the device and map it (with :attr:`state`); ``phase``: ``wait``, ``record`` or ``decide``."""

    def _closed_at_start(self) -> bool:
        return self.target.width < 0.5 * self.speeds.open_width

    def status(self, text: str) -> None:
        """Tell the operator what the leader waits for (the keyboard shows it in its window)."""
        print(f"jaxrobot record ({self.name}): {text}", file=sys.stderr, flush=True)  # stdout ends in the path

    def begin(self, state: Any, episode: int) -> None:
        self.target.reset(state)
        self.state = TeleopState(scale=self.state.scale)  # the speed carries over, the gripper starts untouched
        self.started = not self.needs_start
        self.moved = False
        self.status(f"episode {episode}: press start when ready")

    def warm_up(self, state: Any) -> None:
        self.target.reset(state)  # begin() resets it again
        self.target.action(state)

    def read(self, state: Any) -> LeaderInput:
        if self.target.pos is None:
            self.target.reset(state)
        phase = "record" if self.started else "wait"
        cmd = self.command(phase)
        self.state = cmd.state
        if not self.started:
            self.started = "start" in cmd.events
            if self.started:
                self.status("recording")
            return LeaderInput(None, cmd.events)
        self.moved = self.moved or cmd.moves
        if not self.moved:
            return LeaderInput(None, cmd.events)
        self.target.move(cmd.linear, cmd.angular, cmd.width)
        return LeaderInput(self.target.action(state), cmd.events)

    def decide(self, success: bool) -> str:
        """Wait for the operator's accept / discard / re-record (or quit) after the task ended the episode."""
        self.status(f"episode ended ({'success' if success else 'failure'}): accept, discard or re-record?")
        while True:
            ev = self.command("decide").events
            for e in DECISIONS:
                if e in ev:
                    return e
            time.sleep(self.target.dt)


def _pygame(display: bool):
    """pygame with its video subsystem up (the event queue needs it, even without a window)."""
    os.environ.setdefault("PYGAME_HIDE_SUPPORT_PROMPT", "1")
    # a gamepad keeps working while another window (the viewer, the terminal) has the focus
    os.environ.setdefault("SDL_JOYSTICK_ALLOW_BACKGROUND_EVENTS", "1")
    try:
        import pygame
    except ImportError as e:
        raise LeaderError("keyboard and gamepad leaders need pygame: pip install pygame") from e
    try:
        pygame.display.init()
    except pygame.error as e:
        raise LeaderError(f"pygame cannot start its video subsystem ({e})" +
                          (": run where a display exists (a desktop session, or ssh -X)" if display else "")) from e
    return pygame


class KeyboardLeader(TeleopLeader):
    """Keys of a small pygame window (it must have the keyboard focus); :data:`KEYBOARD_HELP` lists them.

    Keys are tracked from KEYDOWN / KEYUP events rather than ``pygame.key.get_pressed`` (which misses taps
    shorter than a tick); losing the focus releases every key, so a key held while the focus moves away does not
    keep the arm moving.
    """

    name = "keyboard"
    help = KEYBOARD_HELP
    _font = _screen = None
    _text = ""

    def __init__(self, env: Any, operator: str = "", speeds: TeleopSpeeds | None = None,
                 window: tuple[int, int] = (760, 140)):
        super().__init__(env, operator, speeds)
        pg = _pygame(display=True)
        driver, asked = pg.display.get_driver(), os.environ.get("SDL_VIDEODRIVER", "")
        if driver in ("offscreen", "dummy") and driver not in asked:
            pg.display.quit()
            raise LeaderError("the keyboard leader reads keys from a window, and there is no display (SDL fell back "
                              f"to its {driver!r} driver): run where a display exists (a desktop session, or "
                              "ssh -X), or use --leader gamepad / spacemouse")
        self._pg = pg
        self._screen = pg.display.set_mode(window)
        pg.display.set_caption("jaxrobot record: keyboard (keep this window focused)")
        try:
            pg.font.init()
            self._font = pg.font.Font(None, 20)
        except Exception:  # noqa: BLE001 - a build without SDL_ttf: no text, the keys still work
            self._font = None
        self.held: set[str] = set()
        self.status("focus the pygame window; " + KEYBOARD_HELP)

    def status(self, text: str) -> None:
        super().status(text)
        self._text = text
        self._render()

    def _render(self) -> None:
        if self._font is None or self._screen is None:
            return
        self._screen.fill((24, 24, 24))
        lines = [self._text, f"speed x{self.state.scale:g}", *KEYBOARD_HELP.split(" | ")]
        for i, line in enumerate(lines):
            self._screen.blit(self._font.render(line, True, (230, 230, 230)), (8 + 380 * (i >= 7), 8 + 18 * (i % 7)))
        self._pg.display.flip()

    def poll(self) -> set[str]:
        """Drain the window's events into :attr:`held`; the keys pressed since the last poll."""
        pg, pressed = self._pg, set()
        for ev in pg.event.get():
            if ev.type == pg.KEYDOWN:
                name = pg.key.name(ev.key)
                pressed.add(name)
                self.held.add(name)
            elif ev.type == pg.KEYUP:
                self.held.discard(pg.key.name(ev.key))
            elif ev.type == pg.WINDOWFOCUSLOST:
                self.held.clear()
            elif ev.type == pg.QUIT:
                pressed.add("escape")
        return pressed

    def command(self, phase: str) -> TeleopCommand:
        pressed = self.poll()
        cmd = keyboard_command(self.held, pressed, self.state, self.speeds, self._closed_at_start())
        if cmd.state.scale != self.state.scale:
            self.state = cmd.state
            self._render()
        return cmd

    def close(self) -> None:
        if self._screen is not None:
            self._screen = None
            self._pg.display.quit()


class GamepadLeader(TeleopLeader):
    """A game controller through SDL's game-controller API (one Xbox-style layout for every pad in SDL's
    database); :data:`GAMEPAD_HELP` lists the controls. Needs no window.

    Args:
        index: which controller, when several are connected.
        dead: stick dead zone.
        pad: an open controller (anything with ``get_axis(i)`` in SDL counts, +-32767, and ``get_button(i)``)
            instead of opening one through pygame (tests).
    """

    name = "gamepad"
    help = GAMEPAD_HELP

    def __init__(self, env: Any, operator: str = "", speeds: TeleopSpeeds | None = None, index: int = 0,
                 dead: float = 0.15, pad: Any = None):
        super().__init__(env, operator, speeds)
        self.dead = float(dead)
        self._pg = None
        if pad is None:
            pad = self._open(index)
        self.pad = pad
        self.held: set[int] = set()
        self.status(GAMEPAD_HELP)

    def _open(self, index: int):
        pg = _pygame(display=False)
        from pygame._sdl2 import controller

        pg.joystick.init()
        controller.init()
        n = pg.joystick.get_count()
        if n == 0:
            raise LeaderError("no gamepad found: SDL sees no joystick. Plug one in (or pair it over Bluetooth) and "
                              "check it shows up (e.g. in /dev/input/js* or `evtest`)")
        pads = [i for i in range(n) if controller.is_controller(i)]
        if index >= len(pads):
            names = [pg.joystick.Joystick(i).get_name() for i in range(n)]
            raise LeaderError(f"no game controller #{index}: SDL knows the layout of {len(pads)} of the joysticks "
                              f"connected ({names}); add a mapping for yours to SDL_GAMECONTROLLERCONFIG "
                              "(see github.com/mdqinc/SDL_GameControllerDB)")
        self._pg = pg
        return controller.Controller(pads[index])

    def poll(self) -> tuple[list[float], set[int], set[int]]:
        """(axes in [-1, 1], buttons held, buttons pressed since the last poll)."""
        pressed: set[int] = set()
        if self._pg is not None:
            for ev in self._pg.event.get():
                if ev.type == self._pg.CONTROLLERBUTTONDOWN:
                    pressed.add(int(ev.button))
        axes = [max(-1.0, min(1.0, self.pad.get_axis(i) / 32767.0)) for i in range(4)]
        held = {b for b in range(15) if self.pad.get_button(b)}
        pressed |= held - self.held
        self.held = held
        return axes, held, pressed

    def command(self, phase: str) -> TeleopCommand:
        axes, held, pressed = self.poll()
        return gamepad_command(axes, held, pressed, self.state, self.speeds, self.dead, self._closed_at_start())

    def close(self) -> None:
        if self._pg is not None and hasattr(self.pad, "quit"):
            self.pad.quit()
        self._pg = None


class SpaceMouseLeader(TeleopLeader):
    """A 3Dconnexion SpaceMouse over HID (:mod:`jaxrobot.record.devices.spacemouse`): 6-DoF velocity from the
    cap, two buttons (:data:`SPACEMOUSE_ACTIONS`).

    Args:
        device: an open :class:`SpaceMouseDevice` (default: the first SpaceMouse found).
        actions: button index -> action (``gripper``, ``go``, ``faster``, ``slower`` or an event).
        dead: per-axis dead zone (fraction of full deflection).
        frame: HID frame -> world rotation (default: operator behind the robot).
    """

    name = "spacemouse"
    help = SPACEMOUSE_HELP

    def __init__(self, env: Any, operator: str = "", speeds: TeleopSpeeds | None = None,
                 device: SpaceMouseDevice | None = None, actions: Mapping[int, str] = SPACEMOUSE_ACTIONS,
                 dead: float = 0.1, frame: np.ndarray = HID_TO_WORLD):
        super().__init__(env, operator, speeds)
        self.device = device if device is not None else SpaceMouseDevice.open()
        self.actions, self.dead, self.frame = dict(actions), float(dead), np.asarray(frame, np.float32)
        self.status(f"{self.device.name}: {SPACEMOUSE_HELP}")

    def command(self, phase: str) -> TeleopCommand:
        reading = self.device.poll()
        pressed = {i for i in range(self.device.pressed.bit_length()) if self.device.pressed >> i & 1}
        return spacemouse_command(reading, pressed, self.state, self.speeds, phase=phase, actions=self.actions,
                                  dead=self.dead, frame=self.frame, closed_at_start=self._closed_at_start())

    def close(self) -> None:
        self.device.close()
