"""Write a LeRobot policy (ACT, Diffusion Policy) as a jaxrobot checkpoint folder: ``jaxrobot ckpt import-lerobot``.

The mapping itself is :mod:`jaxrobot.models.lerobot_import`; this module writes what it returns in the layout
``jaxrobot train`` writes (:mod:`jaxrobot.train.checkpoint`), so ``jaxrobot eval`` and ``jaxrobot export``
take it as they take a trained run:

- ``<workdir>/config.json``: the experiment config (the mapped model config; the data config is
  :class:`LeRobotCheckpointData`, which names the source and cannot be trained on);
- ``<workdir>/checkpoints/0/``: a sealed step with ``state`` (the mapped params; no optimiser state, no EMA),
  ``meta`` (config, data spec, normalisation statistics, and ``lerobot_import``: the source folder, the sha256
  of every file read, LeRobot's config and statistics, the input-name mapping), ``data_state`` and
  ``example_batch`` (two examples shaped like the policy's inputs, for export).

Atomic: everything is written into a hidden sibling folder that is renamed to ``workdir`` only once the step
is sealed and verified; a failure removes it, so no half-written workdir ever looks complete.
"""

from __future__ import annotations

import dataclasses
import os
import pathlib
import shutil
from collections.abc import Callable
from typing import Any, ClassVar

import jax
import numpy as np

from jaxrobot import config as config_lib
from jaxrobot.config import Config
from jaxrobot.data.base import DataError
from jaxrobot.models.lerobot_import import ImportedPolicy, LeRobotImportError, import_folder
from jaxrobot.models.params import trainable_count
from jaxrobot.train import checkpoint as ckpt_lib
from jaxrobot.train.config import ExperimentConfig

STEP = 0


@dataclasses.dataclass(frozen=True)
class LeRobotCheckpointData(Config):
    """The ``data`` of an imported LeRobot policy: where it came from; there is no jaxrobot data to train on.

    Fields:
      source: the LeRobot ``save_pretrained`` folder that was imported.
      policy: LeRobot's policy type (``act`` or ``diffusion``).
    """

    kind: ClassVar[str] = "lerobot_checkpoint"
    source: str = ""
    policy: str = ""

    def build_source(self, **kw):
        raise DataError(f"this checkpoint was imported from the LeRobot policy {self.source!r}; it has no jaxrobot "
                        f"data source (train on a dataset with a new experiment config)")


def experiment_config(imported: ImportedPolicy) -> ExperimentConfig:
    """The experiment config recorded with an imported policy."""
    prov = imported.provenance
    return config_lib.validate(ExperimentConfig(
        name=f"lerobot_{prov['policy']}", model=imported.config,
        data=LeRobotCheckpointData(source=prov["source"], policy=prov["policy"]),
        description=f"imported from LeRobot {prov['lerobot_version']} checkpoint {prov['source']}"))


def write_checkpoint(imported: ImportedPolicy, workdir: str | os.PathLike) -> pathlib.Path:
    """Write ``imported`` as a jaxrobot workdir (atomically; refuses an existing ``workdir``). Returns its path."""
    out = pathlib.Path(workdir).absolute()
    if out.exists():
        raise LeRobotImportError(f"{out} already exists; choose a new --out (an import never overwrites a workdir)")
    cfg = experiment_config(imported)
    meta = {
        "config": config_lib.to_dict(cfg),
        "model": {"kind": type(cfg.model).kind, "param_count": trainable_count(imported.variables)},
        "data_spec": imported.spec,
        "stats": imported.stats,
        "mesh": {"data": 1, "fsdp": 1},
        "process_count": 1,
        "lerobot_import": {**imported.provenance, "notes": list(imported.notes)},
    }
    cpu = jax.local_devices(backend="cpu")[0]
    params = jax.tree.map(lambda x: jax.device_put(np.asarray(x), cpu), imported.variables)
    state = {"step": jax.device_put(np.int32(STEP), cpu), "params": params, "opt_state": None,
             "ema_params": None, "rng": jax.device_put(np.zeros(2, np.uint32), cpu)}
    example = {k: jax.device_put(v, cpu) for k, v in imported.example_batch.items()}

    out.parent.mkdir(parents=True, exist_ok=True)
    tmp = out.parent / f".{out.name}.import-tmp-{os.getpid()}"
    shutil.rmtree(tmp, ignore_errors=True)
    try:
        tmp.mkdir()
        (tmp / "config.json").write_text(config_lib.to_json(cfg))
        ckpt = ckpt_lib.Checkpointer(tmp, keep=1, async_save=False)
        try:
            ckpt.save(STEP, state, {}, meta, example)
        finally:
            ckpt.close()
        ckpt_lib.verify(tmp, STEP)
        os.rename(tmp, out)  # the workdir appears only now, complete and sealed
        fd = os.open(out.parent, os.O_RDONLY)
        try:
            os.fsync(fd)
        finally:
            os.close(fd)
    except BaseException:
        shutil.rmtree(tmp, ignore_errors=True)
        raise
    return out


def import_lerobot(source: str | os.PathLike, workdir: str | os.PathLike, *, sampler: str | None = None,
                   num_inference_steps: int | None = None, log: Callable[[str], None] = print) -> dict[str, Any]:
    """Import the LeRobot policy folder ``source`` into the new jaxrobot workdir ``workdir``; returns a summary."""
    out = pathlib.Path(workdir).absolute()
    if out.exists():  # before the (slow) mapping
        raise LeRobotImportError(f"{out} already exists; choose a new --out (an import never overwrites a workdir)")
    imported = import_folder(source, sampler=sampler, num_inference_steps=num_inference_steps)
    path = write_checkpoint(imported, out)
    summary = {"workdir": str(path), "step": STEP, "policy": imported.provenance["policy"],
               "model": type(imported.config).kind, "params": trainable_count(imported.variables),
               "inputs": imported.inputs, "normalization": imported.stats["mode"],
               "statistics": imported.provenance["statistics"], "notes": imported.notes}
    log(f"import-lerobot: {summary['policy']} from {source} -> {path} (step {STEP}, {summary['params']:,} params, "
        f"inputs {', '.join(f'{k} -> {v}' for k, v in imported.inputs.items())})")
    for note in imported.notes:
        log(f"import-lerobot: note: {note}")
    return summary
