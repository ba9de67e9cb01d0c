"""Teleoperation leaders: the pure device -> command mappings, the SpaceMouse driver on emulated HID reports, and
the leaders end to end on ``panda_pick_cube`` (keyboard through pygame's dummy video driver, gamepad and
SpaceMouse through stand-ins for the device).

One env per action space, built once (the ``joint_pos`` one reuses the ``ee_pose`` one's start state: same scene).
"""

from __future__ import annotations

import os
import types

import jax
import numpy as np
import pytest

from jaxrobot.record.devices.spacemouse import (
    EmulatedHidDevice,
    SpaceMouseDevice,
    SpaceMouseEmulator,
    SpaceMouseState,
    parse_report,
)
from jaxrobot.record.leaders.base import LeaderError
from jaxrobot.record.leaders.teleop import (
    GamepadLeader,
    KeyboardLeader,
    SpaceMouseLeader,
    TeleopLeader,
    TeleopSpeeds,
    TeleopState,
    dead_zone,
    gamepad_command,
    keyboard_command,
    spacemouse_command,
)
from jaxrobot.sim import registry

DT = 0.02
V, W = TeleopSpeeds().linear, TeleopSpeeds().angular


# ---------------------------------------------------------------- pure mappings


def test_keys_map_to_world_velocities():
    np.testing.assert_allclose(keyboard_command({"w"}).linear, [V, 0, 0])
    np.testing.assert_allclose(keyboard_command({"a", "e"}).linear, [0, V, V])
    np.testing.assert_allclose(keyboard_command({"down", "right", "page down"}).linear, [-V, -V, -V])
    np.testing.assert_allclose(keyboard_command({"w", "s"}).linear, [0, 0, 0])  # opposite keys cancel
    np.testing.assert_allclose(keyboard_command({"w", "up"}).linear, [V, 0, 0])  # same axis twice: still full speed
    np.testing.assert_allclose(keyboard_command({"j"}).angular, [0, 0, W])
    np.testing.assert_allclose(keyboard_command({"i", "u"}).angular, [W, -W, 0])
    idle = keyboard_command({"x", "left shift"})
    assert not idle.moves and idle.events == frozenset() and idle.width is None
    np.testing.assert_allclose(keyboard_command(set(), {"d"}).linear, [0, -V, 0])  # a tap moves one tick


def test_keys_raise_episode_events():
    for key, event in [("space", "start"), ("return", "accept"), ("enter", "accept"), ("backspace", "discard"),
                       ("r", "rerecord"), ("escape", "quit")]:
        assert keyboard_command(set(), {key}).events == {event}
        assert keyboard_command({key}, set()).events == frozenset()  # held, not newly pressed: no event


def test_gripper_toggles_and_speed_steps():
    c = keyboard_command(set(), {"g"})
    assert c.width == 0.0 and c.state.closed  # first toggle from an open gripper closes it
    c = keyboard_command(set(), {"g"}, c.state)
    assert c.width == pytest.approx(0.08) and c.state.closed is False
    assert keyboard_command(set(), set(), c.state).width == pytest.approx(0.08)  # held between toggles
    assert keyboard_command(set(), {"g"}, closed_at_start=True).width == pytest.approx(0.08)
    s = TeleopState()
    for _ in range(2):
        s = keyboard_command(set(), {"="}, s).state
    assert s.scale == pytest.approx(2.25)
    np.testing.assert_allclose(keyboard_command({"w"}, set(), s).linear, [2.25 * V, 0, 0], rtol=1e-6)
    for _ in range(10):
        s = keyboard_command(set(), {"+"}, s).state
    assert s.scale == 4.0
    for _ in range(20):
        s = keyboard_command(set(), {"-"}, s).state
    assert s.scale == 0.25


def test_dead_zone():
    assert dead_zone(0.1, 0.15) == 0.0 and dead_zone(-0.15, 0.15) == 0.0
    assert dead_zone(0.575, 0.15) == pytest.approx(0.5) and dead_zone(-1.0, 0.15) == -1.0
    assert dead_zone(1.3, 0.15) == 1.0


def test_gamepad_sticks_buttons_and_dead_zone():
    assert not gamepad_command([0.1, -0.12, 0.05, 0.14]).moves  # resting sticks inside the dead zone
    np.testing.assert_allclose(gamepad_command([0, -1, 0, 0]).linear, [V, 0, 0])  # left stick forward (y < 0)
    np.testing.assert_allclose(gamepad_command([1, 0, 0, 0]).linear, [0, -V, 0])  # left stick right
    np.testing.assert_allclose(gamepad_command([0, 0.575, 0, 0]).linear, [-0.5 * V, 0, 0], rtol=1e-6)
    c = gamepad_command([0, 0, 1, -1])  # right stick forward and right: up, clockwise from above
    np.testing.assert_allclose(c.linear, [0, 0, V])
    np.testing.assert_allclose(c.angular, [0, 0, -W])
    np.testing.assert_allclose(gamepad_command([0, 0, 0, 0], held={11}).angular, [0, -W, 0])  # d-pad up: tilt
    assert gamepad_command([0] * 4, pressed={6}).events == {"start"}
    assert gamepad_command([0] * 4, pressed={3, 1}).events == {"accept", "discard"}
    assert gamepad_command([0] * 4, pressed={0}).width == 0.0
    assert gamepad_command([0] * 4, pressed={10}).state.scale == 1.5


def test_spacemouse_mapping_and_phases():
    def cmd(t=(0, 0, 0), r=(0, 0, 0), **kw):
        return spacemouse_command(SpaceMouseState(translation=t, rotation=r), **kw)

    np.testing.assert_allclose(cmd(t=(0, -1, 0)).linear, [V, 0, 0])  # pushed away from the user (HID -y)
    np.testing.assert_allclose(cmd(t=(1, 0, 0)).linear, [0, -V, 0])  # right
    np.testing.assert_allclose(cmd(t=(0, 0, -1)).linear, [0, 0, V])  # lifted (HID z points down)
    np.testing.assert_allclose(cmd(r=(0, 0, -1)).angular, [0, 0, W])  # twisted anticlockwise seen from above
    assert not cmd(t=(0.05, -0.08, 0.02), r=(0.09, 0, 0)).moves  # the dead zone
    assert cmd(pressed={1}, phase="wait").events == {"start"}
    assert cmd(pressed={1}, phase="record").events == {"accept"}
    assert cmd(pressed={1}, phase="decide").events == {"accept"}
    assert cmd(pressed={0}, phase="decide").events == {"discard"}
    c = cmd(pressed={0}, phase="record")
    assert c.events == frozenset() and c.width == 0.0


# ---------------------------------------------------------------- SpaceMouse wire protocol and driver


def test_report_parser_on_known_bytes():
    # 350 counts = full scale; 0xfea2 = -350; 0x00af = 175
    s = parse_report(bytes([1, 0x5E, 0x01, 0xA2, 0xFE, 0xAF, 0x00]))
    assert s.translation == (1.0, -1.0, 0.5) and s.rotation == (0.0, 0.0, 0.0)
    s = parse_report(bytes([2, 0xAF, 0x00, 0, 0, 0x51, 0xFF]), s)  # 0xff51 = -175
    assert s.translation == (1.0, -1.0, 0.5) and s.rotation == (0.5, 0.0, -0.5)
    assert parse_report(bytes([1, 0x00, 0x10, 0, 0, 0, 0])).translation[0] == 1.0  # 4096 counts: clipped
    assert parse_report(bytes([0x17, 0x64]), s) == s  # battery level: not motion
    assert parse_report(b"", s) == s


@pytest.mark.parametrize("combined", [False, True])
def test_report_parser_on_emulated_reports(combined):
    em = SpaceMouseEmulator(combined=combined)
    reports = em.motion((0.5, -0.25, 1.0), (0.1, 0.2, -0.3))
    assert [len(r) for r in reports] == ([13] if combined else [7, 7])
    s = SpaceMouseState()
    for r in reports:
        s = parse_report(r, s)
    np.testing.assert_allclose(s.translation, (0.5, -0.25, 1.0), atol=0.5 / 350)
    np.testing.assert_allclose(s.rotation, (0.1, 0.2, -0.3), atol=0.5 / 350)


def test_button_bits():
    s = parse_report(SpaceMouseEmulator().buttons({0, 1}))
    assert s.buttons == 3 and s.button(0) and s.button(1)
    pro = SpaceMouseEmulator(combined=True, button_bytes=4)
    s = parse_report(pro.buttons({12, 30}))  # the Pro's "1" key: byte 2, bit 4
    assert s.buttons == (1 << 12) | (1 << 30) and s.button(12) and not s.button(0)
    assert parse_report(pro.buttons(0), s).buttons == 0


def test_device_drains_reports_without_blocking():
    em, hid_dev = SpaceMouseEmulator(), EmulatedHidDevice()
    dev = SpaceMouseDevice(hid_dev)
    assert hid_dev.nonblocking
    assert dev.poll() == SpaceMouseState()  # nothing pending: returns at once (the emulator raises on a blocking read)
    hid_dev.feed(em.motion((0.2, 0, 0)), em.motion((0.4, 0, 0)), em.motion((0.6, 0, -0.5), (0, 0, 0.3)))
    s = dev.poll()
    assert not hid_dev.queue and s.translation == pytest.approx((0.6, 0, -0.5), abs=1e-3)
    assert s.rotation == pytest.approx((0, 0, 0.3), abs=1e-3)
    assert dev.poll() == s  # the latest reading is kept
    hid_dev.feed(em.buttons({1}), em.buttons(0))  # a click shorter than a tick
    assert dev.poll().buttons == 0 and dev.pressed == 0b10
    assert dev.poll() and dev.pressed == 0
    hid_dev.unplug()
    with pytest.raises(LeaderError, match="stopped answering"):
        dev.poll()


def _fake_hid(infos, open_error=None):
    class Handle(EmulatedHidDevice):
        def open_path(self, path):
            if open_error:
                raise OSError(open_error)
            self.path = path

    return types.SimpleNamespace(enumerate=lambda: infos, device=Handle)


def _info(vid, pid, product, usage_page=1, usage=8):
    return {"path": f"/dev/hidraw-{pid:x}".encode(), "vendor_id": vid, "product_id": pid, "usage_page": usage_page,
            "usage": usage, "manufacturer_string": "Logitech", "product_string": product}


def test_open_finds_the_puck_and_explains_failures():
    keyboard = _info(0x046D, 0xC52B, "USB Receiver", usage=6)
    with pytest.raises(LeaderError, match=r"no 3Dconnexion SpaceMouse found; HID devices seen: 046d:c52b"):
        SpaceMouseDevice.open(hid_module=_fake_hid([keyboard]))
    with pytest.raises(LeaderError, match="HID devices seen: none.*udev"):
        SpaceMouseDevice.open(hid_module=_fake_hid([]))
    compact = _info(0x256F, 0xC635, "SpaceMouse Compact")
    kbd_iface = _info(0x256F, 0xC652, "Universal Receiver", usage=6)  # a receiver's keyboard interface: not the puck
    with pytest.raises(LeaderError, match=r"cannot open 256f:c635 SpaceMouse Compact.*udev"):
        SpaceMouseDevice.open(hid_module=_fake_hid([kbd_iface, compact], open_error="open failed"))
    dev = SpaceMouseDevice.open(hid_module=_fake_hid([keyboard, kbd_iface, compact]))
    assert dev.name == "256f:c635 SpaceMouse Compact" and dev.handle.path == compact["path"]


# ---------------------------------------------------------------- leaders on the real task


@pytest.fixture(scope="module")
def env():
    return registry.load("panda_pick_cube")


@pytest.fixture(scope="module")
def joint_env():
    return registry.load("panda_pick_cube", overrides={"action_space": "joint_pos"})


@pytest.fixture(scope="module")
def state(env):
    return jax.jit(env.reset)(jax.random.PRNGKey(0))


class Keys(KeyboardLeader):
    """KeyboardLeader without its window: the test holds / taps keys (the pure path the window feeds)."""

    def __init__(self, env, **kw):
        TeleopLeader.__init__(self, env, **kw)
        self.held, self.taps = set(), set()

    def poll(self):
        taps, self.taps = self.taps, set()
        return taps

    def status(self, text):
        pass


def _start(leader, state):
    leader.begin(state, 0)
    assert leader.read(state).action is None  # waiting for start
    leader.taps = {"space"}
    out = leader.read(state)
    assert out.events == {"start"} and out.action is None
    assert leader.read(state).action is None  # started, but nothing commanded yet: the follower holds


def test_holding_forward_moves_the_ee_pose_target(env, state):
    leader = Keys(env)
    _start(leader, state)
    p0 = np.asarray(leader.target.pos).copy()
    leader.held = {"w"}
    n = 10
    for _ in range(n):
        out = leader.read(state)
    np.testing.assert_allclose(out.action[:3], p0 + [V * DT * n, 0, 0], atol=1e-6)
    r6 = np.asarray(out.action[3:9])
    leader.held = set()
    still = leader.read(state).action
    np.testing.assert_allclose(still[:3], out.action[:3], atol=1e-7)  # released: the target stays
    np.testing.assert_allclose(still[3:9], r6, atol=1e-7)
    assert still[9] == pytest.approx(float(np.asarray(state.obs["state"])[21]))  # the measured width, held
    leader.taps = {"g"}
    assert leader.read(state).action[9] == 0.0  # close the gripper


def test_joint_pos_action_reaches_the_same_target(joint_env, state):
    leader = Keys(joint_env)
    _start(leader, state)
    leader.held = {"w", "e"}
    for _ in range(10):
        out = leader.read(state)
    assert out.action.shape == (8,)
    pos, _ = jax.jit(joint_env.kin.fk_matrix)(out.action[:7])
    assert np.linalg.norm(np.asarray(pos) - leader.target.pos) < 1e-3
    np.testing.assert_allclose(leader.target.pos - np.asarray(jax.jit(joint_env.kin.fk_matrix)(
        state.info["q_cmd"])[0]), [V * DT * 10, 0, V * DT * 10], atol=1e-5)


def test_target_stays_in_the_workspace(env, state):
    leader = Keys(env, speeds=TeleopSpeeds(linear=1.0))  # 2 cm per tick
    _start(leader, state)
    leader.held = {"e", "a"}
    for _ in range(50):
        out = leader.read(state)
    hi = np.asarray(env.config.workspace_high, np.float32)
    assert out.action[2] == pytest.approx(hi[2]) and out.action[1] == pytest.approx(hi[1])


def test_decide_waits_for_the_operator(env, state):
    leader = Keys(env)
    leader.taps = {"backspace"}
    assert leader.decide(success=True) == "discard"
    leader.taps = {"return"}
    assert leader.decide(success=False) == "accept"


def test_spacemouse_leader_end_to_end(env, state):
    em, hid_dev = SpaceMouseEmulator(combined=True), EmulatedHidDevice()
    leader = SpaceMouseLeader(env, device=SpaceMouseDevice(hid_dev))
    leader.begin(state, 0)
    hid_dev.feed(em.buttons({1}), em.buttons(0))  # right button: start
    out = leader.read(state)
    assert out.events == {"start"} and out.action is None
    p0 = np.asarray(leader.target.pos).copy()
    hid_dev.feed(em.motion((0, -1, 0)))  # pushed away, held there: the device sends no more reports
    n = 5
    for _ in range(n):
        out = leader.read(state)
    hid_dev.feed(em.motion((0, 0, 0)))
    np.testing.assert_allclose(leader.read(state).action[:3], p0 + [V * DT * n, 0, 0], atol=1e-6)
    hid_dev.feed(em.buttons({0}), em.buttons(0))  # left button after the episode ended: discard
    assert leader.decide(success=True) == "discard"
    leader.close()
    assert hid_dev.closed


class FakePad:
    """An SDL game controller's surface: axes in counts, buttons by SDL index."""

    def __init__(self):
        self.axes, self.buttons = [0, 0, 0, 0, 0, 0], set()

    def get_axis(self, i):
        return self.axes[i]

    def get_button(self, i):
        return i in self.buttons


def test_gamepad_leader_end_to_end(env, state):
    pad = FakePad()
    leader = GamepadLeader(env, pad=pad)
    leader.begin(state, 0)
    pad.buttons = {6}
    assert leader.read(state).events == {"start"}
    pad.buttons = set()
    p0 = np.asarray(leader.target.pos).copy()
    pad.axes[1] = -32768  # left stick fully forward
    for _ in range(4):
        out = leader.read(state)
    np.testing.assert_allclose(out.action[:3], p0 + [V * DT * 4, 0, 0], atol=1e-6)


def test_gamepad_without_a_controller(env, monkeypatch):
    monkeypatch.setenv("SDL_VIDEODRIVER", "dummy")
    import pygame

    pygame.display.init()
    pygame.joystick.init()
    try:
        if pygame.joystick.get_count():
            pytest.skip("a joystick is connected")
        with pytest.raises(LeaderError, match="no gamepad found"):
            GamepadLeader(env)
    finally:
        pygame.display.quit()


# ---------------------------------------------------------------- the keyboard's pygame I/O


@pytest.fixture
def dummy_video(monkeypatch):
    monkeypatch.setenv("SDL_VIDEODRIVER", "dummy")
    yield
    import pygame

    pygame.display.quit()


def test_keyboard_leader_reads_pygame_key_events(env, state, dummy_video):
    import pygame

    leader = KeyboardLeader(env)

    def key(kind, k):
        pygame.event.post(pygame.event.Event(kind, key=k, mod=0, unicode="", scancode=0))

    leader.begin(state, 0)
    key(pygame.KEYDOWN, pygame.K_SPACE)
    key(pygame.KEYUP, pygame.K_SPACE)
    assert leader.read(state).events == {"start"}
    p0 = np.asarray(leader.target.pos).copy()
    key(pygame.KEYDOWN, pygame.K_w)
    for _ in range(3):  # held across ticks: no repeat events needed
        out = leader.read(state)
    key(pygame.KEYUP, pygame.K_w)
    key(pygame.KEYDOWN, pygame.K_RETURN)
    last = leader.read(state)
    assert last.events == {"accept"}
    np.testing.assert_allclose(last.action[:3], out.action[:3])
    np.testing.assert_allclose(out.action[:3], p0 + [V * DT * 3, 0, 0], atol=1e-6)
    key(pygame.KEYDOWN, pygame.K_s)
    pygame.event.post(pygame.event.Event(pygame.WINDOWFOCUSLOST))  # focus lost with a key down: it is released
    leader.read(state)
    assert leader.held == set()
    leader.close()


def test_keyboard_without_a_display(env, monkeypatch):
    for var in ("SDL_VIDEODRIVER", "DISPLAY", "WAYLAND_DISPLAY"):
        monkeypatch.delenv(var, raising=False)
    with pytest.raises(LeaderError, match="run where a display exists"):
        KeyboardLeader(env)
    assert "SDL_VIDEODRIVER" not in os.environ
