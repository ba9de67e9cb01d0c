"""A 3Dconnexion SpaceMouse read over raw HID (``hidapi``), and an emulator of its reports for tests.

A SpaceMouse is a 6-DoF puck: it reports how far it is pushed (translation) and twisted (rotation), not where
it is, so a leader integrates it as a velocity. Its HID input reports (first byte: the report ID):

- report 1: translation, three little-endian int16 (x, y, z); newer devices (SpaceMouse Wireless, Pro Wireless,
  Enterprise, the Universal Receiver) send rotation in the same report: 13 bytes, six int16 (x, y, z, rx, ry, rz);
- report 2: rotation, three int16 (rx, ry, rz), on devices that split them (SpaceNavigator, Compact, Pro);
- report 3: buttons, a little-endian bitmask (bit i = button i; 2-button models: bit 0 left, bit 1 right).

Axes follow the HID convention (USB HID Usage Tables, generic desktop X/Y/Z/Rx/Ry/Rz): +x right, +y towards the
user, +z down, rotations right-handed about those axes. The descriptor's logical range is -350..350 (devices
overshoot a little; readings are clipped).

Sources of these facts (read for them; the code here is written from the facts, not from theirs):
PySpaceMouse (github.com/JakubAndrysek/PySpaceMouse, ``pyspacemouse/devices.toml``: vendor / product IDs, which
models combine report 1, byte offsets, button bits, ``axis_scale = 350``); spacenavd (github.com/FreeSpacenav/
spacenavd, ``src/dev.c``: the 0x046d products, and "any device with the new 3Dconnexion vendor ID 0x256f"); the
USB captures in github.com/AndunHH/spacemouse (``SpaceMouseWireless.md``: the Wireless's HID report descriptor, a
multi-axis controller, usage page 0x01 / usage 0x08, report 1 = six int16 in -350..350, report 3 = 2 button bits
padded to 16, report 0x17 = battery; ``SpaceNavigator.md``: button reports such as ``03 01 00``); the wireless
products' cable / receiver IDs as Open CASCADE's ``WNT_HIDSpaceMouse.cxx`` lists them (0xc62e / 0xc62f,
0xc631 / 0xc632).
"""

from __future__ import annotations

import collections
import dataclasses
import struct
from collections.abc import Iterable, Sequence
from typing import Any

from jaxrobot.record.errors import LeaderError

#: Logitech's vendor ID, under which 3Dconnexion's older devices shipped.
VENDOR_LOGITECH = 0x046D
#: 3Dconnexion's own vendor ID (its newer devices).
VENDOR_3DCONNEXION = 0x256F

#: Known devices, (vendor, product) -> name. Any 0x256f device is accepted as well (spacenavd does the same);
#: 0x046d is Logitech at large (its mice and keyboards too), so only the listed products count there.
KNOWN_DEVICES: dict[tuple[int, int], str] = {
    (VENDOR_LOGITECH, 0xC626): "SpaceNavigator",
    (VENDOR_LOGITECH, 0xC627): "SpaceExplorer",
    (VENDOR_LOGITECH, 0xC628): "SpaceNavigator for Notebooks",
    (VENDOR_LOGITECH, 0xC625): "SpacePilot",
    (VENDOR_LOGITECH, 0xC629): "SpacePilot Pro",
    (VENDOR_LOGITECH, 0xC62B): "SpaceMouse Pro",
    (VENDOR_3DCONNEXION, 0xC62E): "SpaceMouse Wireless (cable)",
    (VENDOR_3DCONNEXION, 0xC62F): "SpaceMouse Wireless (receiver)",
    (VENDOR_3DCONNEXION, 0xC631): "SpaceMouse Pro Wireless (cable)",
    (VENDOR_3DCONNEXION, 0xC632): "SpaceMouse Pro Wireless (receiver)",
    (VENDOR_3DCONNEXION, 0xC633): "SpaceMouse Enterprise",
    (VENDOR_3DCONNEXION, 0xC635): "SpaceMouse Compact",
    (VENDOR_3DCONNEXION, 0xC638): "SpaceMouse Pro Wireless (Bluetooth)",
    (VENDOR_3DCONNEXION, 0xC63A): "SpaceMouse Wireless",
    (VENDOR_3DCONNEXION, 0xC641): "SpaceMouse (USB)",
    (VENDOR_3DCONNEXION, 0xC652): "3Dconnexion Universal Receiver",
}

#: HID usage of the puck's interface: generic desktop page, multi-axis controller.
PUCK_USAGE = (0x01, 0x08)
#: Counts at full deflection (PySpaceMouse's ``axis_scale``); readings are divided by it and clipped to [-1, 1].
FULL_SCALE = 350.0
#: Longest report read at once (the combined motion report is 13 bytes; button reports are shorter).
MAX_REPORT = 64

UDEV_HINT = ("on Linux the hidraw node must be readable by you: add a udev rule, e.g. "
             "/etc/udev/rules.d/99-spacemouse.rules with the line\n"
             '  KERNEL=="hidraw*", ATTRS{idVendor}=="256f", MODE="0660", TAG+="uaccess"\n'
             '(and one with idVendor "046d" for older models), run `sudo udevadm control --reload-rules && '
             "sudo udevadm trigger`, and re-plug the device; also stop spacenavd if it holds the device")


@dataclasses.dataclass(frozen=True)
class SpaceMouseState:
    """The latest reading: translation and rotation in [-1, 1] (HID frame, see the module docstring) and the
    button bitmask (bit i = button i)."""

    translation: tuple[float, float, float] = (0.0, 0.0, 0.0)
    rotation: tuple[float, float, float] = (0.0, 0.0, 0.0)
    buttons: int = 0

    def button(self, i: int) -> bool:
        return bool(self.buttons >> i & 1)


def _axes(report: bytes, offset: int, full_scale: float) -> tuple[float, float, float]:
    raw = struct.unpack_from("<3h", report, offset)
    return tuple(max(-1.0, min(1.0, v / full_scale)) for v in raw)  # type: ignore[return-value]


def parse_report(report: bytes | Sequence[int], state: SpaceMouseState = SpaceMouseState(),
                 full_scale: float = FULL_SCALE) -> SpaceMouseState:
    """The state after one HID input report (``report[0]`` its ID). Unknown or short reports (battery level,
    LEDs) leave it unchanged: they are not motion."""
    data = bytes(report)
    if not data:
        return state
    rid = data[0]
    if rid == 1 and len(data) >= 13:
        return dataclasses.replace(state, translation=_axes(data, 1, full_scale), rotation=_axes(data, 7, full_scale))
    if rid == 1 and len(data) >= 7:
        return dataclasses.replace(state, translation=_axes(data, 1, full_scale))
    if rid == 2 and len(data) >= 7:
        return dataclasses.replace(state, rotation=_axes(data, 1, full_scale))
    if rid == 3 and len(data) >= 2:
        return dataclasses.replace(state, buttons=int.from_bytes(data[1:], "little"))
    return state


def device_name(info: dict[str, Any]) -> str:
    """``vvvv:pppp name`` of an ``hid.enumerate()`` entry."""
    vid, pid = int(info.get("vendor_id", 0)), int(info.get("product_id", 0))
    name = KNOWN_DEVICES.get((vid, pid)) or " ".join(
        s for s in (info.get("manufacturer_string"), info.get("product_string")) if s) or "unnamed"
    return f"{vid:04x}:{pid:04x} {name}"


def is_spacemouse(info: dict[str, Any]) -> bool:
    """Whether an ``hid.enumerate()`` entry is a SpaceMouse's puck interface."""
    vid, pid = int(info.get("vendor_id", 0)), int(info.get("product_id", 0))
    if not ((vid, pid) in KNOWN_DEVICES or vid == VENDOR_3DCONNEXION):
        return False
    page, usage = int(info.get("usage_page") or 0), int(info.get("usage") or 0)
    return page == 0 or (page, usage) == PUCK_USAGE  # 0: the platform did not report a usage


def find_spacemice(infos: Iterable[dict[str, Any]], vendor_id: int | None = None,
                   product_id: int | None = None) -> list[dict[str, Any]]:
    """The SpaceMouse entries among ``hid.enumerate()``'s, or those matching the given IDs."""
    out = []
    for info in infos:
        if vendor_id is not None or product_id is not None:
            ok = (vendor_id in (None, info.get("vendor_id"))) and (product_id in (None, info.get("product_id")))
        else:
            ok = is_spacemouse(info)
        if ok:
            out.append(info)
    return out


def _import_hid():
    try:
        import hid
    except ImportError as e:
        raise LeaderError("the SpaceMouse needs the hidapi package: pip install hidapi") from e
    return hid


class SpaceMouseDevice:
    """An open SpaceMouse: :meth:`poll` drains its pending reports without blocking and keeps the latest state.

    The device sends a report whenever a reading changes (tens per second while touched), so a control loop
    reading once per tick must drain them all and keep the last; button presses shorter than a tick are kept in
    :attr:`pressed` (rising edges seen during the last poll).

    Args:
        handle: an open ``hid.device`` (or anything with its ``read(n, timeout_ms)`` surface, e.g.
            :class:`EmulatedHidDevice`); :meth:`open` finds and opens a real one.
        name: for messages.
        full_scale: counts at full deflection.
        max_reports: most reports drained per poll (a bound on the time a poll can take).
    """

    def __init__(self, handle: Any, name: str = "SpaceMouse", full_scale: float = FULL_SCALE,
                 max_reports: int = 256):
        self.handle, self.name = handle, name
        self.full_scale, self.max_reports = float(full_scale), int(max_reports)
        self.state = SpaceMouseState()
        self.pressed = 0
        if hasattr(handle, "set_nonblocking"):
            handle.set_nonblocking(1)

    @classmethod
    def open(cls, vendor_id: int | None = None, product_id: int | None = None, *,
             hid_module: Any = None, **kwargs) -> SpaceMouseDevice:
        """Find (by known IDs and usage, or the given IDs) and open the first SpaceMouse; :class:`LeaderError`
        naming the HID devices seen when there is none, or how to get permission when it cannot be opened."""
        hid = hid_module if hid_module is not None else _import_hid()
        infos = list(hid.enumerate())
        found = find_spacemice(infos, vendor_id, product_id)
        if not found:
            seen = sorted({device_name(i) for i in infos})
            wanted = ("3Dconnexion SpaceMouse" if vendor_id is None and product_id is None
                      else f"HID device {vendor_id or 0:04x}:{product_id or 0:04x}")
            raise LeaderError(f"no {wanted} found; HID devices seen: {', '.join(seen) if seen else 'none'}. "
                              "Plug it in (a wireless one: its receiver, and switch it on)" +
                              ("; if it is plugged in, " + UDEV_HINT if not seen else ""))
        info = found[0]
        handle = hid.device()
        try:
            handle.open_path(info["path"])
        except OSError as e:
            path = info["path"].decode(errors="replace") if isinstance(info["path"], bytes) else info["path"]
            raise LeaderError(f"cannot open {device_name(info)} at {path} ({e}): {UDEV_HINT}") from e
        return cls(handle, name=device_name(info), **kwargs)

    def poll(self) -> SpaceMouseState:
        """Apply every pending report; the latest state (unchanged if none came)."""
        before, pressed = self.state.buttons, 0
        for _ in range(self.max_reports):
            try:
                report = self.handle.read(MAX_REPORT, 0)
            except (OSError, ValueError) as e:  # hidapi: OSError on a read error, ValueError once closed
                raise LeaderError(f"{self.name} stopped answering ({e}): unplugged, or its receiver lost it") from e
            if not report:
                break
            self.state = parse_report(report, self.state, self.full_scale)
            pressed |= self.state.buttons & ~before
            before = self.state.buttons
        self.pressed = pressed
        return self.state

    def close(self) -> None:
        if self.handle is not None:
            self.handle.close()
            self.handle = None


# ---------------------------------------------------------------- emulator (tests without hardware)


class SpaceMouseEmulator:
    """The HID input reports a SpaceMouse sends, for a given motion and buttons.

    Args:
        combined: send translation and rotation in one 13-byte report 1 (Wireless, Pro Wireless, Enterprise) rather
            than reports 1 and 2 (SpaceNavigator, Compact, Pro).
        button_bytes: length of the bitmask in report 3 (2 on the 2-button models; longer on models with more
            buttons; the parser takes any length).
        full_scale: counts at a reading of 1.
    """

    def __init__(self, combined: bool = False, button_bytes: int = 2, full_scale: float = FULL_SCALE):
        self.combined, self.button_bytes, self.full_scale = combined, int(button_bytes), float(full_scale)

    def _counts(self, v: Sequence[float]) -> list[int]:
        return [max(-32768, min(32767, round(float(x) * self.full_scale))) for x in v]

    def motion(self, translation: Sequence[float], rotation: Sequence[float] = (0.0, 0.0, 0.0)) -> list[bytes]:
        """Reports for a reading (HID frame, in units of full deflection; beyond 1 is allowed, as devices do)."""
        t, r = self._counts(translation), self._counts(rotation)
        if self.combined:
            return [bytes([1]) + struct.pack("<6h", *t, *r)]
        return [bytes([1]) + struct.pack("<3h", *t), bytes([2]) + struct.pack("<3h", *r)]

    def buttons(self, pressed: int | Iterable[int] = 0) -> bytes:
        """Report 3 with the given buttons down (a bitmask, or button indices)."""
        mask = pressed if isinstance(pressed, int) else sum(1 << i for i in set(pressed))
        return bytes([3]) + mask.to_bytes(self.button_bytes, "little")


class EmulatedHidDevice:
    """A stand-in for an open ``hid.device`` that serves queued reports, as hidapi does.

    ``read(n, timeout_ms)`` returns the next report (at most ``n`` bytes, as a list of ints) or ``[]`` when none is
    pending in non-blocking mode; a blocking read with nothing pending raises, since a real device would hang the
    control loop there. :meth:`unplug` makes reads fail as hidapi's do on a removed device.
    """

    def __init__(self, reports: Iterable[bytes] = ()):
        self.queue: collections.deque[bytes] = collections.deque(bytes(r) for r in reports)
        self.nonblocking = False
        self.plugged = True
        self.closed = False
        self.reads = 0

    def feed(self, *reports: bytes | Iterable[bytes]) -> None:
        """Queue reports (each a bytes, or a list of them as :meth:`SpaceMouseEmulator.motion` returns)."""
        for r in reports:
            self.queue.extend([bytes(r)] if isinstance(r, bytes | bytearray) else [bytes(x) for x in r])

    def set_nonblocking(self, v: int | bool) -> int:
        self.nonblocking = bool(v)
        return 0

    def read(self, max_length: int, timeout_ms: int = 0) -> list[int]:
        self.reads += 1
        if self.closed:
            raise ValueError("not open")
        if not self.plugged:
            raise OSError("read error")
        if self.queue:
            return list(self.queue.popleft()[:max_length])
        if not self.nonblocking and timeout_ms <= 0:
            raise RuntimeError("blocking read with no report pending: a real device would block here")
        return []

    def unplug(self) -> None:
        self.plugged = False

    def close(self) -> None:
        self.closed = True
