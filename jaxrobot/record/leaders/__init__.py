"""Leader devices for recording (:class:`~jaxrobot.record.leaders.base.Leader`); :func:`make_leader` by name.

==============  ===============================================================  ==========================
``--leader``    what                                                             module
==============  ===============================================================  ==========================
``sim``         scripted operator with human timing (tests, demos, benchmarks)   :mod:`.scripted`
``keyboard``    end-effector teleoperation from keys (pygame window)             :mod:`.teleop`
``gamepad``     end-effector teleoperation from a game controller (pygame)       :mod:`.teleop`
``spacemouse``  6-DoF end-effector teleoperation from a 3Dconnexion SpaceMouse  :mod:`.teleop`
``arm``         bilateral joint mirroring from a Dynamixel / Feetech servo arm   :mod:`.arm`
==============  ===============================================================  ==========================
"""

from __future__ import annotations

from typing import Any

from jaxrobot.record.leaders.base import Leader, LeaderError


def make_leader(name: str, env: Any, *, seed: int = 0, operator: str | None = None,
                calibration: str | None = None) -> Leader:
    """The leader called ``name`` for task ``env`` (device leaders open their device here)."""
    if name == "sim":
        from jaxrobot.record.leaders.scripted import ScriptedOperator

        leader: Leader = ScriptedOperator(env, seed=seed)
    elif name in ("keyboard", "gamepad", "spacemouse"):
        from jaxrobot.record.leaders import teleop

        cls = {"keyboard": teleop.KeyboardLeader, "gamepad": teleop.GamepadLeader,
               "spacemouse": teleop.SpaceMouseLeader}[name]
        leader = cls(env)
    elif name == "arm":
        if not calibration:
            raise LeaderError("--leader arm needs --calibration FILE (bus, port, servo IDs, offsets; see "
                              "jaxrobot.record.leaders.arm)")
        from jaxrobot.record.leaders.arm import ArmLeader, load_calibration
        from jaxrobot.record.leaders.teleop import KEYBOARD_HELP, KeyboardLeader

        cal = load_calibration(calibration)
        try:  # the arm has no buttons: episode keys (start, accept, discard, re-record, quit) from a key window
            keys = KeyboardLeader(env)
        except LeaderError as e:
            raise LeaderError(f"--leader arm takes its episode keys from a keyboard window ({KEYBOARD_HELP}); "
                              f"{e}") from e
        try:
            leader = ArmLeader(env, cal, events=lambda: keys.command("record").events, on_close=keys.close)
        except BaseException:
            keys.close()
            raise
    else:
        raise LeaderError(f"unknown leader {name!r}; choose sim, keyboard, gamepad, spacemouse or arm")
    if operator:
        leader.operator = operator
    return leader
