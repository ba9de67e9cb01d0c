"""The type of a standardisation entry: :class:`DatasetEntry`, one per dataset.

An entry says where a dataset keeps what jaxrobot needs (cameras, state, action, language) and how to
read it (channel order, gripper convention, control rate), so :func:`jaxrobot.data.standardize.standardize`
turns any episode into the same layout. The shape follows Octo's ``OXE_DATASET_CONFIGS``
(octo-models/octo ``octo/data/oxe/oxe_dataset_configs.py``): standard camera names mapped to dataset
keys, ``None`` for a view the dataset lacks (padded with black frames).

Keys are the flat RLDS keys (``steps/observation/image_0``). A key may end in a slice, ``key[6:14]``,
to take part of the last axis; ``zeros(N)`` / ``ones(N)`` stand for N constant columns (Octo pads
missing action dims this way). This module holds the entry type; the hand-written entries live one per
module (``bridge.py``, ``fractal.py``, ...), the Open X-Embodiment catalogue as one table
(``oxe_catalogue.py``), and :mod:`jaxrobot.data.datasets` is their registry.
"""

from __future__ import annotations

import dataclasses
import re
from typing import ClassVar, Literal

from jaxrobot.config import Config, fail, require

# What ``state`` holds (Octo's ProprioEncoding, plus ``pos_xy`` for planar pushers whose state is the
# end-effector x, y only, and ``other`` for state that fits none of them):
StateEncoding = Literal["pos_euler", "pos_quat", "pos_xy", "pos_nav", "joint", "joint_bimanual", "other", "none"]
# What ``action`` holds (Octo's ActionEncoding, with its EEF_POS split by what the data say):
#   eef_delta: end-effector displacement (xyz, rotation) + gripper (Octo's EEF_POS)
#   eef_pos:   absolute end-effector target pose + gripper
#   eef_velocity: end-effector linear/angular velocity + gripper
#   joint_pos / joint_delta: absolute joint targets / joint displacements + gripper (Octo's JOINT_POS)
#   joint_pos_bimanual: 2 x (6 joints + gripper) (Octo's JOINT_POS_BIMANUAL)
#   joint_pos_bimanual_nav: that + base linear and angular velocity (Octo's JOINT_POS_BIMANUAL_NAV)
#   nav_2d: a 2-D waypoint (Octo's NAV_2D)
ActionEncoding = Literal["eef_delta", "eef_pos", "eef_velocity", "joint_pos", "joint_delta", "joint_pos_bimanual",
                         "joint_pos_bimanual_nav", "nav_2d"]
# How the gripper dims of the action are stored in the dataset:
#   open_is_1:      absolute, [0, 1], 1 = open (Bridge)
#   close_is_1:     absolute, [0, 1], 1 = closed
#   pm1_open_is_1:  absolute, [-1, 1], +1 = open, -1 = closed (CALVIN, ManiSkill)
#   pm1_close_is_1: absolute, [-1, 1], +1 = closed, -1 = open (robosuite-style teleoperation)
#   relative_pm1:   relative, +1 close, -1 open, 0 keep (RT-1 ``gripper_closedness_action``)
#   unspecified:    a gripper dim whose sign the published spec does not state (kept as stored)
#   none:           no gripper dim / not applicable
GripperConvention = Literal["open_is_1", "close_is_1", "pm1_open_is_1", "pm1_close_is_1", "relative_pm1",
                            "unspecified", "none"]

_SLICE = re.compile(r"^(?P<key>.+?)\[(?P<lo>-?\d*):(?P<hi>-?\d*)\]$")
_CONSTANT = re.compile(r"^(?P<kind>zeros|ones)\((?P<n>\d+)\)$")


def parse_key(spec: str) -> tuple[str, slice]:
    """``"a/b[6:14]"`` -> ``("a/b", slice(6, 14))``; a plain key takes the whole last axis."""
    m = _SLICE.match(spec)
    if not m:
        return spec, slice(None)
    lo, hi = m["lo"], m["hi"]
    return m["key"], slice(int(lo) if lo else None, int(hi) if hi else None)


def parse_constant(spec: str) -> tuple[float, int] | None:
    """``"zeros(3)"`` -> ``(0.0, 3)``, ``"ones(1)"`` -> ``(1.0, 1)``; ``None`` for a dataset key."""
    m = _CONSTANT.match(spec)
    if not m:
        return None
    return (0.0 if m["kind"] == "zeros" else 1.0), int(m["n"])


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
      depth_cameras: ``(standard_name, flat_key_or_None)`` pairs of depth views (Octo's
        ``depth_obs_keys``); emitted only by ``standardize(..., depth=True)``.
      state_keys: flat keys (optionally sliced, or constants) concatenated on the last axis into ``state``;
        empty means the dataset has no proprioception (``state`` is then ``[T, 0]``).
      state_encoding: what ``state`` means (documentation and mixture checks).
      action_keys: flat keys (optionally sliced, or constants) concatenated into ``action``.
      action_encoding, gripper_convention: what ``action`` means and how its gripper dims are stored.
        ``gripper_dims`` lists the action dims holding the gripper (default: the last one).
      language_key: flat key of the per-step instruction (a string, or Unicode code points padded with 0
        as Language-Table stores them), or ``None``.
      language_embedding_key: flat key of a per-step instruction embedding (or ``None``).
      drop_language: the dataset has an instruction, but it is uninformative (one fixed sentence for every
        episode); ``language`` comes out ``None``, as Octo blanks it.
      channel_order: ``"bgr"`` for datasets that stored BGR pixels in their JPEGs (decoded to RGB).
      control_hz: control rate of the recorded actions (after ``subsample``); 0 = not published.
      state_dim, action_dim: expected sizes of the standardised output (0 = do not check); a mismatch is a
        DataError.
      action_norm_mask: per standardised action dim, whether normalisation statistics apply to it (Octo's
        ``action_normalization_mask``: absolute gripper dims are left as they are); ``()`` = every dim.
      drop_first_step: opt-in; drop step 0 (some datasets record a no-op first action).
      subsample: keep every ``subsample``-th step (Octo resamples ALOHA's 50 Hz to 10 Hz this way).
      relabel_action_from: a flat key (optionally sliced) of a state quantity; the first ``n`` action dims
        (``n`` = its width) are replaced by its forward difference ``x[t+1] - x[t]`` and the last step is
        dropped (Octo's ``relabel_actions`` for Bridge, its joint-delta relabelling for RPT).
      action_quat_to_euler: index of an ``(x, y, z, w)`` quaternion in the action, replaced by the three
        Euler angles (roll, pitch, yaw; R = Rz Ry Rx) that Octo computes with tensorflow_graphics; -1 = off.
      binarize_gripper: opt-in; make the gripper dims {0, 1}. ``binarize_mode`` ``"threshold"``: at 0.5
        (relative_pm1 without conversion: > 0 -> 1); ``"hysteresis"``: Octo's ``binarize_gripper_actions``
        (> 0.95 open, < 0.05 closed, values in between take the next decided value).
      gripper_to_open_is_1: opt-in; convert the gripper dims to "absolute, 1 = open, 0 = closed", clipping
        to the convention's range first (as Octo's transforms clip): ``close_is_1`` -> ``1 - g``,
        ``pm1_open_is_1`` -> ``(1 + g) / 2``, ``pm1_close_is_1`` -> ``(1 - g) / 2``; ``relative_pm1`` ->
        ``(1 - g) / 2`` per step, or with ``integrate_relative_gripper`` Octo's ``rel2abs_gripper_actions``
        (each open/close command holds until the next; before the first one the gripper is in the state
        opposite to it, open if there is none). ``gripper_scale`` divides the stored value first (a gripper
        stored in 0..255).
      unsupported_transforms: what the dataset's Octo standardisation does that this entry does not
        reproduce, in words (so a reader of the entry or of ``jaxrobot data datasets`` can tell).
      source: where the facts of this entry come from (published feature spec, papers, Octo's files).
      notes: disagreements between sources and how they were resolved.
    """

    kind: ClassVar[str] = "dataset_entry"

    name: str = ""
    cameras: tuple[tuple[str, str | None], ...] = ()
    camera_prefix: str = "steps/observation/image_"
    optional_cameras: bool = False
    depth_cameras: tuple[tuple[str, str | None], ...] = ()
    state_keys: tuple[str, ...] = ()
    state_encoding: StateEncoding = "none"
    action_keys: tuple[str, ...] = ("steps/action",)
    action_encoding: ActionEncoding = "eef_delta"
    gripper_convention: GripperConvention = "none"
    gripper_dims: tuple[int, ...] = (-1,)
    language_key: str | None = "steps/language_instruction"
    language_embedding_key: str | None = None
    drop_language: bool = False
    channel_order: Literal["rgb", "bgr"] = "rgb"
    control_hz: float = 10.0
    state_dim: int = 0
    action_dim: int = 0
    action_norm_mask: tuple[bool, ...] = ()
    drop_first_step: bool = False
    subsample: int = 1
    relabel_action_from: str | None = None
    action_quat_to_euler: int = -1
    binarize_gripper: bool = False
    binarize_mode: Literal["threshold", "hysteresis"] = "threshold"
    gripper_to_open_is_1: bool = False
    integrate_relative_gripper: bool = False
    gripper_scale: float = 1.0
    unsupported_transforms: tuple[str, ...] = ()
    source: str = ""
    notes: str = ""

    def check(self) -> None:
        require(bool(self.name), "name", "must be set")
        names = [c for c, _ in self.cameras]
        require(len(set(names)) == len(names), "cameras", f"duplicate camera names {names}")
        depth = [c for c, _ in self.depth_cameras]
        require(len(set(depth)) == len(depth), "depth_cameras", f"duplicate camera names {depth}")
        require(bool(self.action_keys), "action_keys", "needs at least one key")
        require(self.control_hz >= 0, "control_hz", "must be >= 0 (0 = not published)")
        require(self.subsample >= 1, "subsample", "must be >= 1")
        require(self.gripper_scale > 0, "gripper_scale", "must be > 0")
        require(self.action_quat_to_euler >= -1, "action_quat_to_euler", "must be an action index or -1")
        if self.action_norm_mask and self.action_dim:
            require(len(self.action_norm_mask) == self.action_dim, "action_norm_mask",
                    f"has {len(self.action_norm_mask)} entries for action_dim {self.action_dim}")
        if self.gripper_to_open_is_1 and self.gripper_convention in ("none", "unspecified"):
            fail("gripper_to_open_is_1", f"gripper convention {self.gripper_convention!r} cannot be converted")
        if self.integrate_relative_gripper:
            require(self.gripper_convention == "relative_pm1" and self.gripper_to_open_is_1,
                    "integrate_relative_gripper", "needs gripper_convention 'relative_pm1' and gripper_to_open_is_1")
        if self.relabel_action_from is not None:
            require(parse_constant(self.relabel_action_from) is None, "relabel_action_from",
                    "must name a dataset key")
