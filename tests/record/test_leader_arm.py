"""The ``arm`` leader against servo buses emulated on a pty: the vendors' SDKs exchange real bytes with the emulator
(:mod:`jaxrobot.record.devices.bus_emulator`), which checks and logs every packet."""

from __future__ import annotations

import json
import math
import os
import re

import numpy as np
import pytest
import serial

from jaxrobot.record.devices.bus_emulator import (
    BROADCAST,
    PING,
    SYNC_READ,
    WRITE,
    BusEmulator,
    Request,
    crc16,
    feetech_checksum,
)
from jaxrobot.record.devices.servo_bus import ServoBus, ticks_to_radians
from jaxrobot.record.leaders.arm import (
    ArmCalibration,
    ArmLeader,
    CalibrationError,
    calibrate,
    load_calibration,
    save_calibration,
)
from jaxrobot.record.leaders.base import LeaderError
from jaxrobot.sim.panda import HOME_Q

PROTOCOLS = ("dynamixel", "feetech")
POSITION = {"dynamixel": (132, 4), "feetech": (56, 2)}  # present position: address, bytes
TORQUE = {"dynamixel": 64, "feetech": 40}
# The SDKs wait 34 ms for a reply; a server thread on a loaded 2-core test machine gets more slack.
TIMEOUT_MS = 150
TICK = 2 * math.pi / 4096

# A 6-joint leader (follower joint 3 held constant) plus a gripper servo; home reading and build directions.
SERVO_IDS = (1, 2, None, 3, 4, 5, 6)
GRIPPER = 7
HOME_TICKS = {1: 2048, 2: 1500, 3: 3000, 4: 2100, 5: 4000, 6: 700}
DIRECTIONS = (1, -1, 1, 1, -1, 1, 1)
GRIP_OPEN, GRIP_CLOSED = 2600, 2000


@pytest.fixture(scope="module")
def envs():
    """The follower task in its two action spaces and one reset state (the compile is shared by the module)."""
    import jax

    from jaxrobot.sim import registry

    ee = registry.load("panda_pick_cube")
    joint = registry.load("panda_pick_cube", overrides={"action_space": "joint_pos"})
    return {"ee_pose": ee, "joint_pos": joint}, jax.jit(ee.reset)(jax.random.key(0))


def _bus(emu: BusEmulator, ids) -> ServoBus:
    return ServoBus(emu.protocol, emu.port, ids, timeout_ms=TIMEOUT_MS).open()


def _calibration(protocol: str, port: str) -> ArmCalibration:
    return calibrate(protocol, port, SERVO_IDS, HOME_TICKS, GRIPPER, GRIP_OPEN, GRIP_CLOSED, directions=DIRECTIONS)


def _set(emu: BusEmulator, ticks: dict[int, int]) -> None:
    for sid, t in ticks.items():
        emu.set_position(sid, t)


# ---------------------------------------------------------------------------------------------------- wire level


def test_checksums_match_the_protocol_manuals():
    # ROBOTIS e-manual, Protocol 2.0 examples: PING ID 1 and READ ID 1 address 132 length 4.
    assert crc16(bytes.fromhex("FFFFFD0001030001")) == 0x4E19
    assert crc16(bytes.fromhex("FFFFFD000107000284000400")) == 0x151D
    # Protocol 1.0 framing (Feetech): PING ID 1 = FF FF 01 02 01 FB; READ ID 1 address 0x2B length 1 ... CC.
    assert feetech_checksum(bytes.fromhex("010201")) == 0xFB
    assert feetech_checksum(bytes.fromhex("0104022B01")) == 0xCC


@pytest.mark.parametrize("protocol", PROTOCOLS)
def test_sync_read_round_trip_and_bytes_on_the_wire(protocol):
    ids = [1, 2, 3, 4]
    ticks = [0, 1024, 2048, 4095]
    if protocol == "dynamixel":
        ticks[0] = 0xFDFFFF  # multi-turn value whose bytes FF FF FD need byte stuffing in the status packet
    else:
        ticks[0] = -300  # STS sign-magnitude (bit 15)
    with BusEmulator(protocol, ids) as emu:
        assert all(emu.torque_enabled(i) for i in ids)
        _set(emu, dict(zip(ids, ticks, strict=True)))
        with _bus(emu, ids) as bus:
            assert not any(emu.torque_enabled(i) for i in ids)
            np.testing.assert_array_equal(bus.read_ticks(), ticks)
            emu.set_position(3, 3000)
            np.testing.assert_allclose(bus.read_positions(), ticks_to_radians([ticks[0], 1024, 3000, 4095]))
        address, nbytes = POSITION[protocol]
        torque_off = [Request(WRITE, i, TORQUE[protocol], 1, data=b"\x00") for i in ids]
        sync = Request(SYNC_READ, BROADCAST, address, nbytes, ids=tuple(ids))
        assert emu.requests == [*torque_off, sync, sync]
        assert emu.malformed == []


def test_ticks_to_radians():
    np.testing.assert_allclose(ticks_to_radians([2048, 3072, 1024, 0]), [0, math.pi / 2, -math.pi / 2, -math.pi])


@pytest.mark.parametrize("protocol", PROTOCOLS)
def test_emulator_answers_sdk_ping_and_flags_a_bad_checksum(protocol):
    import dynamixel_sdk
    import scservo_sdk

    sdk = dynamixel_sdk if protocol == "dynamixel" else scservo_sdk
    with BusEmulator(protocol, [5]) as emu:
        port = sdk.PortHandler(emu.port)
        assert port.openPort()
        ph = sdk.PacketHandler(2.0 if protocol == "dynamixel" else 0)
        model, result, error = ph.ping(port, 5)
        assert (result, error, model) == (sdk.COMM_SUCCESS, 0, 1200 if protocol == "dynamixel" else 777)
        port.closePort()
        with serial.Serial(emu.port, 1_000_000, timeout=0.2) as raw:
            if protocol == "dynamixel":  # PING ID 5 with a wrong CRC: the servo answers error 3 (CRC error)
                raw.write(bytes.fromhex("FFFFFD0005030001") + b"\x00\x00")
                status = raw.read(11)
                assert status[:9] == bytes.fromhex("FFFFFD0005040055") + b"\x03"
            else:  # Feetech servos ignore a packet with a wrong checksum
                raw.write(bytes.fromhex("FFFF05020100"))
                assert raw.read(6) == b""
        assert any("mismatch" in m for m in emu.malformed)
        assert emu.requests[0] == Request(PING, 5)


# ---------------------------------------------------------------------------------------------------- faults


@pytest.mark.parametrize("protocol", PROTOCOLS)
def test_silent_servo_is_named(protocol):
    with BusEmulator(protocol, [1, 2, 3]) as emu:
        emu.silent.add(3)
        with pytest.raises(LeaderError, match=rf"servo 3 on {emu.port}: no answer while writing torque"):
            _bus(emu, [1, 2, 3])
        emu.silent.clear()
        with _bus(emu, [1, 2, 3]) as bus:
            emu.silent.add(2)
            with pytest.raises(LeaderError, match=rf"servo 2 on {emu.port}: no answer while reading"):
                bus.read_ticks()
            emu.silent.clear()
            assert bus.read_ticks().shape == (3,)  # the bus recovers once the servo is back


@pytest.mark.parametrize("protocol", PROTOCOLS)
def test_corrupt_reply_is_an_error(protocol):
    with BusEmulator(protocol, [1, 2, 3]) as emu, _bus(emu, [1, 2, 3]) as bus:
        emu.corrupt.add(2)
        with pytest.raises(LeaderError, match=r"servo 2 .*corrupt reply"):
            bus.read_ticks()


def test_port_that_cannot_be_opened():
    with pytest.raises(LeaderError, match=r"cannot open the feetech servo bus at /dev/no-such-port"):
        ServoBus("feetech", "/dev/no-such-port", [1]).open()
    with pytest.raises(LeaderError, match=r"unknown servo bus kind 'herkulex'"):
        ServoBus("herkulex", "/dev/ttyUSB0", [1])


# ---------------------------------------------------------------------------------------------------- calibration


def test_calibration_file_round_trip(tmp_path):
    cal = _calibration("feetech", "/dev/ttyACM0")
    assert cal.servo_ids == SERVO_IDS and cal.bus_ids == (1, 2, 3, 4, 5, 6, 7)
    # The home reading maps onto the follower's home pose.
    home = cal.joints([HOME_TICKS[i] for i in (1, 2, 3, 4, 5, 6)] + [GRIP_OPEN])
    np.testing.assert_allclose(home, HOME_Q, atol=1e-6)
    path = save_calibration(cal, tmp_path / "arm.json")
    assert json.loads(path.read_text())["servo_ids"][2] is None
    assert load_calibration(path) == cal


@pytest.mark.parametrize("change, field, message", [
    ({"servo_ids": [1, 2, 3, 4, 5, 6]}, "servo_ids", "needs one entry per follower joint"),
    ({"servo_ids": [1, 2, None, 3, 4, 5, 7]}, "servo_ids", r"servo IDs \[7\] used twice"),
    ({"servo_ids": [1, 2, None, 3, 4, 5, 300]}, "servo_ids", "joint 7: needs a servo ID"),
    ({"directions": [1, 1, 1, 1, 1, 1, 2]}, "directions", r"joints \[7\]: need \+1 or -1"),
    ({"offsets": [0, 0, 0, 0, 0, 0, "x"]}, "offsets", r"joints \[7\]"),
    ({"gripper_open": GRIP_CLOSED}, "gripper_open", "equals gripper_closed"),
    ({"bus": "herkulex"}, "bus", "unknown servo bus"),
    ({"color": "red"}, "color", "unknown field"),
    ({"gripper_id": None}, "gripper_id", "needs a servo ID"),
    ({"version": 9}, "version", "unsupported version"),
])
def test_calibration_validation_names_field_and_file(tmp_path, change, field, message):
    data = _calibration("dynamixel", "/dev/ttyUSB0").to_dict()
    data.update(change)
    path = tmp_path / "bad.json"
    path.write_text(json.dumps(data))
    with pytest.raises(CalibrationError, match=rf"{re.escape(str(path))}: arm calibration field '{field}': {message}"
                       ) as info:
        load_calibration(path)
    assert info.value.field == field


def test_calibration_missing_field_and_bad_json(tmp_path):
    data = _calibration("dynamixel", "/dev/ttyUSB0").to_dict()
    del data["port"]
    path = tmp_path / "arm.json"
    path.write_text(json.dumps(data))
    with pytest.raises(CalibrationError, match=rf"{re.escape(str(path))}: arm calibration field 'port': missing"):
        load_calibration(path)
    path.write_text("{\n  \"bus\": ")
    with pytest.raises(CalibrationError, match=r"not valid JSON \(line 2"):
        load_calibration(path)
    with pytest.raises(CalibrationError, match="home_ticks"):
        calibrate("feetech", "/dev/x", SERVO_IDS, {1: 2048}, GRIPPER, GRIP_OPEN, GRIP_CLOSED)


# ---------------------------------------------------------------------------------------------------- the leader


def _moved() -> tuple[dict[int, int], np.ndarray]:
    """Leader servo ticks away from home (servo 5 crosses its 4095 -> 0 wrap) and the follower joints they mean."""
    delta = {1: 300, 2: -200, 3: 150, 4: 0, 5: 250, 6: -400}
    ticks = {sid: (HOME_TICKS[sid] + d) % 4096 for sid, d in delta.items()}
    q = np.asarray(HOME_Q, np.float64).copy()
    for j, sid in enumerate(SERVO_IDS):
        if sid is not None:
            q[j] += DIRECTIONS[j] * delta[sid] * TICK
    return ticks, q


def test_arm_leader_joint_pos(envs, tmp_path):
    env_by_space, state = envs
    env = env_by_space["joint_pos"]
    with BusEmulator("feetech", range(1, 8)) as emu:
        path = save_calibration(_calibration("feetech", emu.port), tmp_path / "arm.json")
        _set(emu, {**HOME_TICKS, GRIPPER: GRIP_OPEN})
        with ArmLeader(env, str(path), timeout_ms=TIMEOUT_MS) as leader:
            assert leader.name == "arm" and not any(emu.torque_enabled(i) for i in range(1, 8))
            out = leader.read(state)
            assert out.action.dtype == np.float32 and out.action.shape == (8,) and out.events == frozenset()
            np.testing.assert_allclose(out.action, [*HOME_Q, 0.08], atol=1e-5)

            ticks, q = _moved()
            _set(emu, {**ticks, GRIPPER: (GRIP_OPEN + GRIP_CLOSED) // 2})
            out = leader.read(state)
            assert ticks[5] == 154  # servo 5 crossed its wrap (4000 + 250 ticks): still a small move of joint 6
            np.testing.assert_allclose(out.action[:7], q, atol=1e-5)
            np.testing.assert_allclose(out.action[7], 0.04, atol=1e-6)

            # Beyond the follower's limits: clipped; gripper beyond its calibrated range: clipped.
            emu.set_position(3, (HOME_TICKS[3] + 1500) % 4096)
            emu.set_position(GRIPPER, GRIP_CLOSED - 300)
            out = leader.read(state)
            assert out.action[3] == pytest.approx(float(np.asarray(env.kin.upper)[3]))
            assert out.action[7] == 0.0
        assert all(r.instruction in (WRITE, SYNC_READ) for r in emu.requests) and emu.malformed == []


def test_arm_leader_ee_pose_and_events(envs):
    import jax

    env_by_space, state = envs
    env = env_by_space["ee_pose"]
    with BusEmulator("dynamixel", range(1, 8)) as emu:
        ticks, q = _moved()
        _set(emu, {**ticks, GRIPPER: GRIP_CLOSED})
        cal = _calibration("dynamixel", emu.port)
        with ArmLeader(env, cal, events=lambda: ["accept"], timeout_ms=TIMEOUT_MS) as leader:
            out = leader.read(state)
    pos, rot = jax.jit(env.kin.fk_matrix)(env.kin.clip(q.astype(np.float32)))
    rot = np.asarray(rot)
    assert out.action.shape == (10,) and out.events == frozenset({"accept"})
    np.testing.assert_allclose(out.action[:3], pos, atol=1e-5)
    np.testing.assert_allclose(out.action[3:9], np.concatenate([rot[:, 0], rot[:, 1]]), atol=1e-5)
    assert out.action[9] == 0.0


def test_arm_leader_names_a_silent_servo(envs, tmp_path):
    env_by_space, _ = envs
    with BusEmulator("feetech", range(1, 8)) as emu:
        emu.silent.add(4)
        with pytest.raises(LeaderError, match=rf"servo 4 on {emu.port}"):
            ArmLeader(env_by_space["joint_pos"], _calibration("feetech", emu.port), timeout_ms=TIMEOUT_MS)
    with pytest.raises(LeaderError, match="cannot read arm calibration"):
        ArmLeader(env_by_space["joint_pos"], os.fspath(tmp_path / "none.json"))


@pytest.mark.parametrize("protocol", PROTOCOLS)
def test_calibrate_arm_command_reads_home_and_gripper_from_the_bus(protocol, tmp_path, monkeypatch):
    """``jaxrobot calibrate-arm`` over the emulated bus: the operator's three poses become a calibration that maps
    the home reading onto HOME_Q and the gripper's open / closed readings onto the width range."""
    from jaxrobot.cli import main

    out = tmp_path / "arm.json"
    with BusEmulator(protocol, [1, 2, 3, 4, 5, 6, GRIPPER]) as emu:
        poses = [{**HOME_TICKS, GRIPPER: 2300}, {GRIPPER: GRIP_OPEN}, {GRIPPER: GRIP_CLOSED}]

        class Operator:  # moves the leader arm, then presses Enter
            def readline(self):
                for sid, ticks in poses.pop(0).items():
                    emu.set_position(sid, ticks)
                return "\n"

        monkeypatch.setattr("sys.stdin", Operator())
        ids = ",".join("-" if i is None else str(i) for i in SERVO_IDS)
        assert main(["calibrate-arm", "--bus", protocol, "--port", emu.port, "--ids", ids, "--gripper-id",
                     str(GRIPPER), "--directions", ",".join(str(d) for d in DIRECTIONS), "--out", str(out)]) == 0
    cal = load_calibration(out)
    assert cal.bus == protocol and cal.servo_ids == SERVO_IDS and cal.directions == DIRECTIONS
    ticks = [HOME_TICKS[i] for i in SERVO_IDS if i is not None] + [GRIP_OPEN]
    np.testing.assert_allclose(cal.joints(ticks), HOME_Q, atol=1e-6)
    assert cal.width_fraction(GRIP_OPEN) == 1.0 and cal.width_fraction(GRIP_CLOSED) == 0.0
