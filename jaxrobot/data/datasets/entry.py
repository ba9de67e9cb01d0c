"""The type of a standardisation entry: :class:`DatasetEntry`, one per dataset.

An entry says where a dataset keeps what jaxrobot needs (cameras, state, action, language) and how to
read it (channel order, gripper convention, control rate), so :func:`jaxrobot.data.standardize.standardize`
turns any episode into the same layout. The shape follows Octo's ``OXE_DATASET_CONFIGS``
(octo-models/octo ``octo/data/oxe/oxe_dataset_configs.py``): standard camera names mapped to dataset
keys, ``None`` for a view the dataset lacks (padded with black frames).

Keys are the flat RLDS keys (``steps/observation/image_0``). A key may end in a slice, ``key[6:14]``,
to take part of the last axis. This module holds the entry type; the entries live one per module
(``bridge.py``, ``fractal.py``, ...) and :mod:`jaxrobot.data.datasets` is their table.
"""

from __future__ import annotations

import dataclasses
import re
from typing import ClassVar, Literal

from jaxrobot.config import Config, fail, require

StateEncoding = Literal["pos_euler", "pos_quat", "joint", "joint_bimanual", "none"]
ActionEncoding = Literal["eef_delta", "eef_pos", "joint_pos", "joint_delta", "joint_pos_bimanual"]
# How the last action dim (or the gripper dims) encodes the gripper, as stored in the dataset:
#   open_is_1:    continuous in [0, 1], 1 = open (Bridge)
#   close_is_1:   continuous in [0, 1], 1 = closed
#   relative_pm1: +1 close, -1 open, 0 keep (RT-1 ``gripper_closedness_action``)
#   none:         no gripper dim / not applicable
GripperConvention = Literal["open_is_1", "close_is_1", "relative_pm1", "none"]

_SLICE = re.compile(r"^(?P<key>.+?)\[(?P<lo>-?\d*):(?P<hi>-?\d*)\]$")


def parse_key(spec: str) -> tuple[str, slice]:
    """``"a/b[6:14]"`` -> ``("a/b", slice(6, 14))``; a plain key takes the whole last axis."""
    m = _SLICE.match(spec)
    if not m:
        return spec, slice(None)
    lo, hi = m["lo"], m["hi"]
    return m["key"], slice(int(lo) if lo else None, int(hi) if hi else None)


@dataclasses.dataclass(frozen=True)
class DatasetEntry(Config):
    """Where one dataset keeps cameras, state, action and language, and how to read them.

    Fields:
      name: the dataset name as in ``dataset_info.json`` (the registry key).
      cameras: ``(standard_name, flat_key_or_None)`` pairs, in output order; ``None`` pads the view
        with black frames. Empty means "discover": every key starting with ``camera_prefix``.
      camera_prefix: used when ``cameras`` is empty; the camera name is the rest of the key.
      optional_cameras: a camera key absent from the data is padded instead of failing (rigs whose
        camera set varies, e.g. ALOHA); otherwise a missing camera key is a DataError.
      state_keys: flat keys (optionally sliced) concatenated on the last axis into ``state``; empty means
        the dataset has no proprioception (``state`` is then ``[T, 0]``).
      state_encoding: what ``state`` means (documentation and mixture checks).
      action_keys: flat keys concatenated into ``action``.
      action_encoding, gripper_convention: what ``action`` means. ``gripper_dims`` lists the action dims
        holding the gripper (default: the last one).
      language_key: flat key of the per-step instruction string (or ``None``).
      language_embedding_key: flat key of a per-step instruction embedding (or ``None``).
      channel_order: ``"bgr"`` for datasets that stored BGR pixels in their JPEGs (decoded to RGB).
      control_hz: control rate of the recorded actions.
      state_dim, action_dim: expected sizes (0 = do not check); a mismatch is a DataError.
      drop_first_step: opt-in; drop step 0 (some datasets record a no-op first action).
      binarize_gripper: opt-in; threshold the gripper dims to {0, 1} (relative_pm1: > 0 -> 1).
      gripper_to_open_is_1: opt-in; convert the gripper dims to "1 = open" where that is well defined
        (``close_is_1`` -> ``1 - g``; ``relative_pm1`` -> ``(1 - g) / 2`` per step, Octo's
        ``invert_gripper_actions`` without the relative-to-absolute integration).
    """

    kind: ClassVar[str] = "dataset_entry"

    name: str = ""
    cameras: tuple[tuple[str, str | None], ...] = ()
    camera_prefix: str = "steps/observation/image_"
    optional_cameras: bool = False
    state_keys: tuple[str, ...] = ()
    state_encoding: StateEncoding = "none"
    action_keys: tuple[str, ...] = ("steps/action",)
    action_encoding: ActionEncoding = "eef_delta"
    gripper_convention: GripperConvention = "none"
    gripper_dims: tuple[int, ...] = (-1,)
    language_key: str | None = "steps/language_instruction"
    language_embedding_key: str | None = None
    channel_order: Literal["rgb", "bgr"] = "rgb"
    control_hz: float = 10.0
    state_dim: int = 0
    action_dim: int = 0
    drop_first_step: bool = False
    binarize_gripper: bool = False
    gripper_to_open_is_1: bool = False

    def check(self) -> None:
        require(bool(self.name), "name", "must be set")
        names = [c for c, _ in self.cameras]
        require(len(set(names)) == len(names), "cameras", f"duplicate camera names {names}")
        require(bool(self.action_keys), "action_keys", "needs at least one key")
        require(self.control_hz > 0, "control_hz", "must be > 0")
        if self.gripper_to_open_is_1 and self.gripper_convention == "none":
            fail("gripper_to_open_is_1", "the entry has no gripper convention to convert")
