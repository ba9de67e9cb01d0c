"""Per-dataset standardisation table: one typed :class:`DatasetEntry` per dataset, and named mixtures.

An entry says where a dataset keeps what jaxrobot needs (cameras, state, action, language) and how to read
it (see :mod:`jaxrobot.data.datasets.entry`). The table holds:

- the hand-written entries, one module each (``aloha``, ``berkeley_autolab_ur5``, ``bridge``, ``fractal``,
  ``jaxrobot_sim``), which keep the dataset's raw action;
- the Open X-Embodiment catalogue (:mod:`~jaxrobot.data.datasets.oxe_catalogue`): every dataset Octo
  configures, under Octo's names, standardised as Octo's transforms do. For the three names that also have a
  hand-written entry, the catalogue's version is ``<name>@octo``;
- named mixtures (:mod:`~jaxrobot.data.datasets.mixtures`): Octo's ``bridge``, ``rtx``, ``rtx_franka``,
  ``oxe_magic_soup``, ``oxe_flex_act_soup``.

Adding a dataset: its module here defining one ``DatasetEntry`` constant plus one line in :data:`_BUILTIN`,
or one row in the catalogue. Users add their own at run time with :func:`register_entry`.
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
from jaxrobot.data.datasets.mixtures import MIXTURES, list_mixtures, mixture_weights
from jaxrobot.data.datasets.oxe_catalogue import CATALOGUE, OCTO_SUFFIX

__all__ = ["MIXTURES", "ActionEncoding", "DatasetEntry", "GripperConvention", "StateEncoding", "get_entry",
           "list_entries", "list_mixtures", "mixture_entry_name", "mixture_weights", "parse_key", "register_entry"]

_BUILTIN = (aloha.ALOHA, berkeley_autolab_ur5.UR5, bridge.BRIDGE, fractal.FRACTAL, jaxrobot_sim.JAXROBOT_SIM)


def _table() -> dict[str, DatasetEntry]:
    table = {e.name: e for e in _BUILTIN}
    for name, entry in CATALOGUE.items():
        if name in table:  # a hand-written entry keeps the name; the catalogue's is <name>@octo
            name = name + OCTO_SUFFIX
            entry = entry.replace(name=name)
        table[name] = entry
    return {name: validate(entry) for name, entry in table.items()}


_ENTRIES: dict[str, DatasetEntry] = _table()


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


def mixture_entry_name(dataset: str) -> str:
    """The entry a named mixture reads ``dataset`` with: its Octo-standardised one (``<name>@octo`` where a
    hand-written entry keeps the plain name), so every member's action means the same thing."""
    return dataset + OCTO_SUFFIX if dataset + OCTO_SUFFIX in _ENTRIES else dataset
