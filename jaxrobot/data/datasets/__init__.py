"""Per-dataset standardisation table: one typed :class:`DatasetEntry` per dataset, one module each.

An entry says where a dataset keeps what jaxrobot needs (cameras, state, action, language) and how to read
it (see :mod:`jaxrobot.data.datasets.entry`). Adding a dataset: its module here defining one
``DatasetEntry`` constant, plus one line in :data:`_BUILTIN`. Users add their own at run time with
:func:`register_entry`.
"""

from __future__ import annotations

from jaxrobot.config import validate
from jaxrobot.data.base import DataError
from jaxrobot.data.datasets import aloha, berkeley_autolab_ur5, bridge, fractal, jaxrobot_sim
from jaxrobot.data.datasets.entry import (
    ActionEncoding,
    DatasetEntry,
    GripperConvention,
    StateEncoding,
    parse_key,
)

__all__ = ["ActionEncoding", "DatasetEntry", "GripperConvention", "StateEncoding", "get_entry", "list_entries",
           "parse_key", "register_entry"]

_BUILTIN = (aloha.ALOHA, berkeley_autolab_ur5.UR5, bridge.BRIDGE, fractal.FRACTAL, jaxrobot_sim.JAXROBOT_SIM)
_ENTRIES: dict[str, DatasetEntry] = {e.name: validate(e) for e in _BUILTIN}


def register_entry(entry: DatasetEntry) -> DatasetEntry:
    """Add ``entry`` under ``entry.name`` (replacing one of the same name)."""
    validate(entry)
    _ENTRIES[entry.name] = entry
    return entry


def get_entry(name: str) -> DatasetEntry:
    """The registered entry for dataset ``name``; DataError listing the known names otherwise."""
    if name not in _ENTRIES and name.startswith("jaxrobot_sim_"):
        # jaxrobot's own sim datasets are named jaxrobot_sim_<task> and share one layout.
        return _ENTRIES["jaxrobot_sim"]
    try:
        return _ENTRIES[name]
    except KeyError:
        raise DataError(f"no standardisation entry for dataset {name!r}; known: {sorted(_ENTRIES)} "
                        "(pass --dataset NAME / dataset=NAME, or register_entry a new one)") from None


def list_entries() -> list[str]:
    return sorted(_ENTRIES)
