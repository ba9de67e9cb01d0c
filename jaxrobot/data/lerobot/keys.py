"""How LeRobot feature names and RLDS keys correspond, for the converters of both directions.

LeRobot (``info.json`` features)           RLDS (flat keys of :mod:`jaxrobot.data.rlds`)
``observation.state``                      ``steps/observation/state``
``action``                                 ``steps/action``
``observation.images.<cam>`` (video/image) ``steps/observation/image_<cam>`` (JPEG or PNG)
``next.reward`` / ``next.done``            ``steps/reward`` / ``steps/is_terminal``
the frame's task (``task_index``)          ``steps/language_instruction``
any other ``a.b.c``                        ``steps/a/b/c``

So a converted LeRobot dataset reads like jaxrobot's own demonstrations (the ``jaxrobot_sim`` registry entry:
``steps/observation/state``, cameras under ``steps/observation/image_``, ``steps/language_instruction``). The
LeRobot to RLDS converter records the exact correspondence, the LeRobot feature table, fps and robot type in
the RLDS ``metadata.json`` under ``"lerobot"``; the way back follows that record when it is there, else the
rules above read backwards.
"""

from __future__ import annotations

from jaxrobot.data.lerobot.meta import CAMERA_DTYPES, camera_name

LANGUAGE_KEY = "steps/language_instruction"
METADATA_KEY = "lerobot"  # where the LeRobot -> RLDS converter keeps its record in metadata.json
_SPECIAL = {"action": "steps/action", "next.reward": "steps/reward", "next.done": "steps/is_terminal"}
_SPECIAL_BACK = {v: k for k, v in _SPECIAL.items()}
# Per-step RLDS bookkeeping that LeRobot keeps implicitly (frame order, episode ends, no discounting).
RLDS_ONLY = ("steps/is_first", "steps/is_last", "steps/discount")


def to_rlds_key(key: str, feature: dict) -> str:
    """The RLDS key of LeRobot feature ``key``."""
    if feature.get("dtype") in CAMERA_DTYPES:
        return f"steps/observation/image_{camera_name(key)}"
    return _SPECIAL.get(key, "steps/" + key.replace(".", "/"))


def to_lerobot_key(key: str, *, image: bool) -> str | None:
    """The LeRobot feature name of per-step RLDS key ``key`` (None for RLDS-only bookkeeping and language)."""
    if key in RLDS_ONLY or key == LANGUAGE_KEY or not key.startswith("steps/"):
        return None
    if key in _SPECIAL_BACK:
        return _SPECIAL_BACK[key]
    rest = key[len("steps/"):]
    if image:
        name = rest[len("observation/"):] if rest.startswith("observation/") else rest
        for prefix in ("image_", "images/"):
            if name.startswith(prefix) and len(name) > len(prefix):
                name = name[len(prefix):]
                break
        return "observation.images." + name.replace("/", "_").replace(".", "_")
    return rest.replace("/", ".")
