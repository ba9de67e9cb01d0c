"""A servo bus emulated at the wire-protocol level on a pseudo-terminal, so drivers are tested without hardware.

The emulator owns the master side of a pty and answers on it like a chain of servos on a half-duplex TTL bus;
a driver opens the slave's path (:attr:`BusEmulator.port`) with the vendor SDK exactly as it opens
``/dev/ttyUSB0``. It parses the bytes, so a malformed request shows up (:attr:`BusEmulator.malformed`) instead
of being answered, and it logs every request it understood (:attr:`BusEmulator.requests`) so tests can check
what went over the wire. Two protocols:

- ``dynamixel``: ROBOTIS Dynamixel Protocol 2.0 (X series such as the XL330 / XL430 of the Koch arm): header
  ``FF FF FD 00``, 16-bit length, byte stuffing, CRC-16 (polynomial 0x8005). Status packets are instruction
  0x55 with an error byte. https://emanual.robotis.com/docs/en/dxl/protocol2/
- ``feetech``: Feetech SCS/STS protocol (STS3215 of the SO-100 / SO-101; Dynamixel Protocol 1.0 framing):
  header ``FF FF``, 8-bit length, checksum ``~(id + length + instruction + params) & 0xFF``, little-endian
  registers with the sign in bit 15 (STS series).

Both answer PING, READ, WRITE, SYNC_READ (each addressed servo answers with its own status packet, in the order
of the request's ID list) and SYNC_WRITE; broadcast (ID 0xFE) writes are executed without a reply. Control-table
addresses are the vendors' (also listed in LeRobot's ``src/lerobot/motors/{dynamixel,feetech}/tables.py``).

Fault injection: IDs in :attr:`BusEmulator.silent` act as unplugged servos (no execution, no reply); IDs in
:attr:`BusEmulator.corrupt` answer with a wrong checksum / CRC.

pyserial on a pty: the SDKs open the port at 1,000,000 baud with ``serial.Serial``; Linux has the standard
``B1000000`` speed constant, and the pty driver stores any speed in its termios without complaint, so no
workaround is needed (the speed has no effect on a pty: bytes arrive as fast as they are written).
"""

from __future__ import annotations

import dataclasses
import os
import select
import threading
import tty
from collections.abc import Iterable

BROADCAST = 0xFE
PING, READ, WRITE, SYNC_READ, SYNC_WRITE = 0x01, 0x02, 0x03, 0x82, 0x83


@dataclasses.dataclass(frozen=True)
class Request:
    """One instruction packet the emulator received (``address`` / ``length`` are None where they do not apply;
    ``ids`` lists a sync instruction's servos, ``data`` holds the bytes a write carries)."""

    instruction: int
    id: int
    address: int | None = None
    length: int | None = None
    ids: tuple[int, ...] = ()
    data: bytes = b""


@dataclasses.dataclass(frozen=True)
class _Table:
    """Where a protocol's servos keep their registers (vendor control tables)."""

    size: int
    model_address: int
    model_number: int
    id_address: int
    torque_address: int
    position_address: int
    position_bytes: int


# XL330-M288 (model 1200): model number 0 (2 B), ID 7, torque enable 64, present position 132 (4 B, signed).
_DXL_TABLE = _Table(size=700, model_address=0, model_number=1200, id_address=7, torque_address=64,
                    position_address=132, position_bytes=4)
# STS3215 (model 777): model number 3 (2 B), ID 5, torque enable 40, present position 56 (2 B, sign bit 15).
_FT_TABLE = _Table(size=256, model_address=3, model_number=777, id_address=5, torque_address=40,
                   position_address=56, position_bytes=2)

# Dynamixel 2.0 status error numbers.
_ERR_INSTRUCTION, _ERR_CRC, _ERR_LENGTH, _ERR_ACCESS = 0x02, 0x03, 0x05, 0x07


def _crc16_table() -> list[int]:
    table = []
    for i in range(256):
        crc = i << 8
        for _ in range(8):
            crc = ((crc << 1) ^ 0x8005) if crc & 0x8000 else crc << 1
        table.append(crc & 0xFFFF)
    return table


_CRC_TABLE = _crc16_table()


def crc16(data: bytes | bytearray) -> int:
    """Dynamixel Protocol 2.0 CRC-16 (polynomial 0x8005, initial value 0, not reflected)."""
    crc = 0
    for b in data:
        crc = ((crc << 8) ^ _CRC_TABLE[((crc >> 8) ^ b) & 0xFF]) & 0xFFFF
    return crc


def feetech_checksum(body: bytes | bytearray) -> int:
    """Feetech / Dynamixel 1.0 checksum over ID, length, instruction and parameters."""
    return ~sum(body) & 0xFF


def _stuff(body: bytes) -> bytes:
    """Dynamixel 2.0 byte stuffing: ``FF FF FD`` inside a packet becomes ``FF FF FD FD``."""
    out = bytearray()
    for b in body:
        out.append(b)
        if out[-3:] == b"\xff\xff\xfd":
            out.append(0xFD)
    return bytes(out)


def _unstuff(body: bytes) -> bytes:
    out, i = bytearray(), 0
    while i < len(body):
        out.append(body[i])
        if out[-3:] == b"\xff\xff\xfd" and i + 1 < len(body) and body[i + 1] == 0xFD:
            i += 1
        i += 1
    return bytes(out)


class _Dynamixel2:
    """Framing and parameter layout of Dynamixel Protocol 2.0."""

    table = _DXL_TABLE
    addr_bytes = 2  # address and length fields are 16-bit

    @staticmethod
    def extract(buf: bytearray, malformed: list[str]) -> tuple[int, int, bytes] | None:
        """Remove and return the next whole packet (id, instruction, params) from ``buf``; None if incomplete."""
        while True:
            start = buf.find(b"\xff\xff\xfd\x00")
            if start < 0:
                del buf[:max(0, len(buf) - 3)]  # keep a possible partial header
                return None
            if start:
                malformed.append(f"{start} stray bytes before a header: {bytes(buf[:start]).hex(' ')}")
                del buf[:start]
            if len(buf) < 7:
                return None
            length = buf[5] | buf[6] << 8
            if length < 3 or length > 1024:
                malformed.append(f"bad length field {length}")
                del buf[:1]
                continue
            if len(buf) < 7 + length:
                return None
            packet = bytes(buf[:7 + length])
            del buf[:7 + length]
            crc = packet[-2] | packet[-1] << 8
            if crc16(packet[:-2]) != crc:
                malformed.append(f"CRC mismatch in {packet.hex(' ')}")
                return packet[4], -1, b""  # the servo answers with a CRC error
            body = _unstuff(packet[7:-2])
            return packet[4], body[0], body[1:]

    @staticmethod
    def status(sid: int, error: int, params: bytes, corrupt: bool) -> bytes:
        body = _stuff(bytes([0x55, error]) + params)
        head = bytes([0xFF, 0xFF, 0xFD, 0x00, sid]) + (len(body) + 2).to_bytes(2, "little")
        crc = crc16(head + body) ^ (0xFFFF if corrupt else 0)
        return head + body + crc.to_bytes(2, "little")

    @staticmethod
    def ping_params(memory: bytearray) -> bytes:
        """PING answers model number (2 B) and firmware version (address 6)."""
        return bytes(memory[0:2]) + bytes(memory[6:7])


class _Feetech:
    """Framing and parameter layout of the Feetech SCS/STS protocol (Dynamixel 1.0 framing)."""

    table = _FT_TABLE
    addr_bytes = 1

    @staticmethod
    def extract(buf: bytearray, malformed: list[str]) -> tuple[int, int, bytes] | None:
        while True:
            start = buf.find(b"\xff\xff")
            if start < 0:
                del buf[:max(0, len(buf) - 1)]
                return None
            if start:
                malformed.append(f"{start} stray bytes before a header: {bytes(buf[:start]).hex(' ')}")
                del buf[:start]
            if len(buf) < 4:
                return None
            if buf[2] == 0xFF:  # a third FF: the header starts one byte later
                del buf[:1]
                continue
            length = buf[3]
            if length < 2:
                malformed.append(f"bad length field {length}")
                del buf[:2]
                continue
            if len(buf) < 4 + length:
                return None
            packet = bytes(buf[:4 + length])
            del buf[:4 + length]
            if feetech_checksum(packet[2:-1]) != packet[-1]:
                malformed.append(f"checksum mismatch in {packet.hex(' ')}")  # servos ignore such packets
                continue
            return packet[2], packet[4], packet[5:-1]

    @staticmethod
    def status(sid: int, error: int, params: bytes, corrupt: bool) -> bytes:
        body = bytes([sid, len(params) + 2, error]) + params
        return b"\xff\xff" + body + bytes([feetech_checksum(body) ^ (0xFF if corrupt else 0)])

    @staticmethod
    def ping_params(memory: bytearray) -> bytes:
        return b""  # Feetech PING answers an empty status packet (the SDK then READs the model number)


_PROTOCOLS = {"dynamixel": _Dynamixel2, "feetech": _Feetech}


class BusEmulator:
    """Servos with control-table memory behind a pty, served by a background thread (a context manager).

    Args:
        protocol: ``dynamixel`` (Protocol 2.0) or ``feetech`` (SCS/STS).
        ids: the servo IDs on the bus (1..252).
        torque_enabled: initial torque-enable register (on: as left by a program that drove the arm, so a test
            sees the driver switch it off).
    """

    def __init__(self, protocol: str, ids: Iterable[int], *, torque_enabled: bool = True):
        if protocol not in _PROTOCOLS:
            raise ValueError(f"unknown protocol {protocol!r}; known: {sorted(_PROTOCOLS)}")
        self.protocol = protocol
        self._p = _PROTOCOLS[protocol]
        t = self._p.table
        self._lock = threading.Lock()
        self._memory: dict[int, bytearray] = {}
        for sid in ids:
            if not 0 <= sid <= 252:
                raise ValueError(f"servo ID {sid} outside 0..252")
            mem = bytearray(t.size)
            mem[t.model_address:t.model_address + 2] = t.model_number.to_bytes(2, "little")
            mem[t.id_address] = sid
            mem[t.torque_address] = int(torque_enabled)
            self._memory[sid] = mem
            self.set_position(sid, 2048)
        #: Every instruction packet understood, in arrival order.
        self.requests: list[Request] = []
        #: What could not be parsed (stray bytes, bad checksums, bad lengths).
        self.malformed: list[str] = []
        #: Servo IDs that act unplugged / answer with a corrupt checksum.
        self.silent: set[int] = set()
        self.corrupt: set[int] = set()
        self._master, self._slave = os.openpty()
        tty.setraw(self._slave)  # a clean byte pipe whatever the client configures (pyserial sets raw mode too)
        self.port = os.ttyname(self._slave)
        self._wake_r, self._wake_w = os.pipe()
        self._error: BaseException | None = None
        self._thread = threading.Thread(target=self._serve, name=f"bus-emulator-{protocol}", daemon=True)
        self._thread.start()

    # ------------------------------------------------------------------ test-side access

    def set_position(self, sid: int, ticks: int) -> None:
        """Set servo ``sid``'s present position register (raw ticks, encoded as the servo does)."""
        t = self._p.table
        if self.protocol == "dynamixel":
            raw = int(ticks).to_bytes(4, "little", signed=True)
        else:
            mag = abs(int(ticks))
            if mag >= 1 << 15:
                raise ValueError(f"{ticks} ticks do not fit the STS position register")
            raw = (mag | (0x8000 if ticks < 0 else 0)).to_bytes(2, "little")
        with self._lock:
            self._memory[sid][t.position_address:t.position_address + t.position_bytes] = raw

    def memory(self, sid: int, address: int, length: int) -> bytes:
        """Servo ``sid``'s control-table bytes."""
        with self._lock:
            return bytes(self._memory[sid][address:address + length])

    def torque_enabled(self, sid: int) -> bool:
        return bool(self.memory(sid, self._p.table.torque_address, 1)[0])

    # ------------------------------------------------------------------ lifetime

    def close(self) -> None:
        """Stop the server thread and close the pty; re-raise an error the server thread hit."""
        if self._thread.is_alive():
            os.write(self._wake_w, b"x")
            self._thread.join(timeout=5)
        for fd in (self._master, self._slave, self._wake_r, self._wake_w):
            try:
                os.close(fd)
            except OSError:
                pass
        self._master = self._slave = self._wake_r = self._wake_w = -1
        if self._error is not None:
            raise RuntimeError("bus emulator thread failed") from self._error

    def __enter__(self) -> BusEmulator:
        return self

    def __exit__(self, *exc) -> None:
        self.close()

    # ------------------------------------------------------------------ server

    def _serve(self) -> None:
        buf = bytearray()
        try:
            while True:
                ready, _, _ = select.select([self._master, self._wake_r], [], [])
                if self._wake_r in ready:
                    return
                buf += os.read(self._master, 4096)
                while (packet := self._p.extract(buf, self.malformed)) is not None:
                    reply = self._handle(*packet)
                    if reply:
                        os.write(self._master, reply)
        except BaseException as e:  # noqa: BLE001 - surfaced by close()
            self._error = e

    def _split(self, params: bytes, n: int) -> list[int]:
        """The first ``n`` address/length fields (1 or 2 bytes each by protocol)."""
        w = self._p.addr_bytes
        return [int.from_bytes(params[i * w:(i + 1) * w], "little") for i in range(n)]

    def _status(self, sid: int, error: int = 0, params: bytes = b"") -> bytes:
        return self._p.status(sid, error, params, sid in self.corrupt)

    def _present(self, sid: int) -> bool:
        return sid in self._memory and sid not in self.silent

    def _read(self, sid: int, address: int, length: int) -> bytes | None:
        mem = self._memory[sid]
        return bytes(mem[address:address + length]) if address + length <= len(mem) else None

    def _write(self, sid: int, address: int, data: bytes) -> bool:
        t = self._p.table
        mem = self._memory[sid]
        read_only = range(t.position_address, t.position_address + t.position_bytes)
        if address + len(data) > len(mem) or any(a in read_only for a in range(address, address + len(data))):
            return False
        mem[address:address + len(data)] = data
        return True

    def _handle(self, sid: int, inst: int, params: bytes) -> bytes:
        """Execute one instruction packet; the bytes the bus answers (possibly several status packets)."""
        dxl = self.protocol == "dynamixel"
        w = self._p.addr_bytes
        with self._lock:
            if inst < 0:  # Dynamixel packet with a bad CRC: the addressed servo reports a CRC error
                return self._status(sid, _ERR_CRC) if self._present(sid) else b""
            if inst == PING:
                self.requests.append(Request(PING, sid))
                ids = sorted(self._memory) if sid == BROADCAST and dxl else [sid]
                return b"".join(self._status(i, 0, self._p.ping_params(self._memory[i]))
                                for i in ids if self._present(i))
            if inst == READ:
                if len(params) != 2 * w:
                    self.malformed.append(f"READ with {len(params)} parameter bytes")
                    return self._status(sid, _ERR_LENGTH) if dxl and self._present(sid) else b""
                address, length = self._split(params, 2)
                self.requests.append(Request(READ, sid, address, length))
                if not self._present(sid):
                    return b""
                data = self._read(sid, address, length)
                if data is None:
                    return self._status(sid, _ERR_ACCESS) if dxl else b""
                return self._status(sid, 0, data)
            if inst == WRITE:
                if len(params) <= w:
                    self.malformed.append(f"WRITE with {len(params)} parameter bytes")
                    return self._status(sid, _ERR_LENGTH) if dxl and self._present(sid) else b""
                (address,), data = self._split(params, 1), params[w:]
                self.requests.append(Request(WRITE, sid, address, len(data), data=data))
                targets = sorted(self._memory) if sid == BROADCAST else [sid]
                ok = [self._write(i, address, data) for i in targets if self._present(i)]
                if sid == BROADCAST or not ok:
                    return b""
                return self._status(sid, 0 if ok[0] or not dxl else _ERR_ACCESS)
            if inst == SYNC_READ:
                if sid != BROADCAST or len(params) < 2 * w:
                    self.malformed.append(f"SYNC_READ to ID {sid} with {len(params)} parameter bytes")
                    return b""
                address, length = self._split(params, 2)
                ids = tuple(params[2 * w:])
                self.requests.append(Request(SYNC_READ, sid, address, length, ids=ids))
                out = b""
                for i in ids:
                    if self._present(i):
                        data = self._read(i, address, length)
                        out += self._status(i, 0, data) if data is not None else (
                            self._status(i, _ERR_ACCESS) if dxl else b"")
                return out
            if inst == SYNC_WRITE:
                address, length = self._split(params, 2)
                entries = params[2 * w:]
                if sid != BROADCAST or len(params) < 2 * w or length == 0 or len(entries) % (length + 1):
                    self.malformed.append(f"SYNC_WRITE to ID {sid} with {len(params)} parameter bytes")
                    return b""
                chunks = [entries[k:k + length + 1] for k in range(0, len(entries), length + 1)]
                self.requests.append(Request(SYNC_WRITE, sid, address, length, ids=tuple(c[0] for c in chunks),
                                             data=entries))
                for c in chunks:
                    if self._present(c[0]):
                        self._write(c[0], address, c[1:])
                return b""
            self.requests.append(Request(inst, sid))
            self.malformed.append(f"unsupported instruction 0x{inst:02x} to ID {sid}")
            return self._status(sid, _ERR_INSTRUCTION) if dxl and self._present(sid) else b""
