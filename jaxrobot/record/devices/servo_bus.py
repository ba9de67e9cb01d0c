"""Present positions of a chain of hobby servos (a leader arm moved by hand), through the vendors' SDKs.

Two buses, the ones low-cost leader arms are built from:

- ``dynamixel``: ROBOTIS Dynamixel X series (XL330 / XL430, Koch arm) on Protocol 2.0, through ``dynamixel_sdk``
  (PyPI ``dynamixel-sdk``). Present position: address 132, 4 bytes, two's complement; torque enable: 64.
- ``feetech``: Feetech STS3215 (SO-100 / SO-101) through ``scservo_sdk`` (PyPI ``feetech-servo-sdk``).
  Present position: address 56, 2 bytes little-endian with the sign in bit 15; torque enable: 40.

(Addresses from the vendors' control tables, as in LeRobot's ``src/lerobot/motors/{dynamixel,feetech}/tables.py``.)
Both servos count 4096 ticks per turn with 2048 at the centre of their range. A leader arm is back-drivable only
with torque off, so :meth:`ServoBus.open` switches torque off on every servo (which also checks each answers).
Each read is one SYNC_READ of all servos; on failure the servos are read one by one to name the culprit.
"""

from __future__ import annotations

import dataclasses
import math
from collections.abc import Sequence
from typing import Any

import numpy as np

from jaxrobot.record.errors import LeaderError

TICKS_PER_TURN = 4096
CENTRE_TICKS = 2048


@dataclasses.dataclass(frozen=True)
class BusKind:
    """What differs between the two vendors' buses."""

    sdk: str  # the SDK module
    pip: str  # its PyPI package
    position_address: int
    position_bytes: int
    torque_address: int
    sign_bit: int | None  # sign-magnitude sign bit (Feetech); None: two's complement (Dynamixel)


BUS_KINDS: dict[str, BusKind] = {
    "dynamixel": BusKind("dynamixel_sdk", "dynamixel-sdk", position_address=132, position_bytes=4,
                         torque_address=64, sign_bit=None),
    "feetech": BusKind("scservo_sdk", "feetech-servo-sdk", position_address=56, position_bytes=2,
                       torque_address=40, sign_bit=15),
}


def ticks_to_radians(ticks: Any) -> np.ndarray:
    """Raw position ticks -> radians from the servo's centre (4096 ticks per turn, centre 2048)."""
    return (np.asarray(ticks, np.float64) - CENTRE_TICKS) * (2 * math.pi / TICKS_PER_TURN)


def radians_to_ticks(rad: Any) -> np.ndarray:
    """Inverse of :func:`ticks_to_radians`, rounded to whole ticks."""
    return np.rint(np.asarray(rad, np.float64) * (TICKS_PER_TURN / (2 * math.pi)) + CENTRE_TICKS).astype(np.int64)


def decode_position(raw: int, kind: BusKind) -> int:
    """A present-position register value (unsigned, as the SDK returns it) as signed ticks."""
    if kind.sign_bit is not None:
        sign = 1 << kind.sign_bit
        return -(raw & (sign - 1)) if raw & sign else raw & (sign - 1)
    bits = 8 * kind.position_bytes
    return raw - (1 << bits) if raw & (1 << (bits - 1)) else raw


def _port_class(base: type) -> type:
    """The SDK's PortHandler with two fixes that matter on a shared bus.

    - ``clearPort`` also drops unread input: the Feetech SDK's only drains output, so a late reply to a request
      that timed out would be read as the answer to the next one.
    - ``setPacketTimeout`` honours a floor (``min_timeout_ms``): the SDKs assume a USB adapter with a 16 ms
      latency timer (timeout 2 x 16 + 2 ms); a slower adapter or a loaded host needs more.
    """

    class Port(base):
        min_timeout_ms = 0.0

        def clearPort(self):  # noqa: N802 - SDK method name
            super().clearPort()
            self.ser.reset_input_buffer()

        def setPacketTimeout(self, packet_length):  # noqa: N802 - SDK method name
            super().setPacketTimeout(packet_length)
            self.packet_timeout = max(self.packet_timeout, self.min_timeout_ms)

    return Port


def _import_sdk(module: str):
    """The vendor SDK (imported only when a bus of its kind opens; both are optional dependencies)."""
    if module == "dynamixel_sdk":
        import dynamixel_sdk

        return dynamixel_sdk
    if module == "scservo_sdk":
        import scservo_sdk

        return scservo_sdk
    raise ImportError(f"unknown servo SDK module {module!r}")


class ServoBus:
    """N servos on one serial port: torque off at :meth:`open`, present positions per :meth:`read_ticks`.

    Args:
        kind: ``dynamixel`` or ``feetech``.
        port: serial device (``/dev/ttyACM0``, ``/dev/serial/by-id/...``).
        ids: servo IDs, in the order readings are returned.
        baudrate: the servos' baud rate (both vendors ship at 1,000,000).
        timeout_ms: floor on the SDK's reply timeout (0: the SDK's own, ~34 ms).
        retries: extra sync-read attempts before a read fails (a dropped byte on a long cable).
    """

    def __init__(self, kind: str, port: str, ids: Sequence[int], baudrate: int = 1_000_000, *,
                 timeout_ms: float = 0.0, retries: int = 1):
        if kind not in BUS_KINDS:
            raise LeaderError(f"unknown servo bus kind {kind!r}; known: {sorted(BUS_KINDS)}")
        if len(set(ids)) != len(ids) or not ids:
            raise LeaderError(f"servo IDs on {port} must be distinct and non-empty, got {list(ids)}")
        self.kind_name, self.kind = kind, BUS_KINDS[kind]
        self.port_name, self.ids, self.baudrate = port, tuple(int(i) for i in ids), int(baudrate)
        self.timeout_ms, self.retries = float(timeout_ms), int(retries)
        self._port = self._ph = self._sync = self._sdk = None

    # ------------------------------------------------------------------ lifetime

    def open(self) -> ServoBus:
        """Open the port, set up the sync read and switch every servo's torque off."""
        try:
            sdk = _import_sdk(self.kind.sdk)
        except ImportError as e:
            raise LeaderError(f"the {self.kind_name} bus needs the vendor SDK: pip install {self.kind.pip}") from e
        self._sdk = sdk
        port = _port_class(sdk.PortHandler)(self.port_name)
        port.min_timeout_ms = self.timeout_ms
        try:
            ok = port.setBaudRate(self.baudrate)  # opens the port
        except Exception as e:  # noqa: BLE001 - pyserial raises SerialException / OSError / ValueError
            raise LeaderError(f"cannot open the {self.kind_name} servo bus at {self.port_name}: {e}") from e
        if not ok:
            raise LeaderError(f"cannot open the {self.kind_name} servo bus at {self.port_name}: the SDK does not "
                              f"support baud rate {self.baudrate}")
        self._port = port
        # Dynamixel: PacketHandler(protocol version); Feetech: PacketHandler(byte order), 0 = little-endian (STS).
        self._ph = sdk.PacketHandler(2.0 if self.kind_name == "dynamixel" else 0)
        self._sync = sdk.GroupSyncRead(port, self._ph, self.kind.position_address, self.kind.position_bytes)
        for sid in self.ids:
            self._sync.addParam(sid)
        try:
            self.disable_torque()
        except LeaderError:
            self.close()
            raise
        return self

    def close(self) -> None:
        """Close the port (torque stays off: the arm stays back-drivable)."""
        if self._port is not None and self._port.is_open:
            self._port.closePort()
        self._port = None

    def __enter__(self) -> ServoBus:
        return self.open() if self._port is None else self

    def __exit__(self, *exc) -> None:
        self.close()

    # ------------------------------------------------------------------ I/O

    def _require_open(self):
        if self._port is None:
            raise LeaderError(f"the {self.kind_name} servo bus at {self.port_name} is not open")
        return self._port, self._ph, self._sdk

    def _failure(self, sid: int, result: int, action: str) -> LeaderError:
        sdk = self._sdk
        if result == sdk.COMM_RX_TIMEOUT:
            what, hint = "no answer", "check its ID, wiring, power and baud rate"
        elif result == sdk.COMM_RX_CORRUPT:
            what, hint = "corrupt reply (bad checksum or truncated packet)", "check wiring and baud rate"
        else:
            what, hint = self._ph.getTxRxResult(result) or f"SDK result {result}", "check the port"
        return LeaderError(f"{self.kind_name} servo {sid} on {self.port_name}: {what} while {action}; {hint}")

    def disable_torque(self) -> None:
        """Torque off on every servo, so the arm can be moved by hand."""
        port, ph, sdk = self._require_open()
        for sid in self.ids:
            result, error = ph.write1ByteTxRx(port, sid, self.kind.torque_address, 0)
            if result != sdk.COMM_SUCCESS:
                raise self._failure(sid, result, "writing torque enable = 0")
            if error:
                raise LeaderError(f"{self.kind_name} servo {sid} on {self.port_name} refused torque off: "
                                  f"{ph.getRxPacketError(error) or f'error 0x{error:02x}'}")

    def read_ticks(self) -> np.ndarray:
        """Present positions (signed raw ticks, int64[len(ids)]) of all servos, by one SYNC_READ."""
        port, _, sdk = self._require_open()
        addr, nbytes = self.kind.position_address, self.kind.position_bytes
        for _ in range(self.retries + 1):
            result = self._sync.txRxPacket()
            if result == sdk.COMM_SUCCESS and all(len(self._sync.data_dict[i]) >= nbytes for i in self.ids):
                return np.array([decode_position(self._sync.getData(i, addr, nbytes), self.kind) for i in self.ids],
                                np.int64)
        self._diagnose()
        raise LeaderError(f"sync read of {self.kind_name} servos {list(self.ids)} on {self.port_name} failed "
                          f"({self._ph.getTxRxResult(result) or 'short reply'}), but each servo answers alone")

    def read_positions(self) -> np.ndarray:
        """Present positions in radians from each servo's centre (float64[len(ids)])."""
        return ticks_to_radians(self.read_ticks())

    def _diagnose(self) -> None:
        """Read each servo alone and raise for the first that fails (names its ID)."""
        port, ph, sdk = self._require_open()
        read = ph.read4ByteTxRx if self.kind.position_bytes == 4 else ph.read2ByteTxRx
        for sid in self.ids:
            _, result, _ = read(port, sid, self.kind.position_address)
            if result != sdk.COMM_SUCCESS:
                raise self._failure(sid, result, "reading present position")
