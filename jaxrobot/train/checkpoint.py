"""Self-describing orbax checkpoints: ``<workdir>/checkpoints/<step>/``.

Each step folder holds four items, so anything downstream (resume, eval, export) needs only the folder:
- ``state``: the train state (params, optimiser state, EMA params, step, RNG), sharded arrays;
- ``data_state``: the data iterator's integers (exact resume);
- ``meta``: config JSON, model and data spec, normalisation statistics, jaxrobot version;
- ``example_batch``: two examples of a real training batch (shapes for export and tests).

orbax writes into ``<step>.orbax-checkpoint-tmp-*`` and renames when complete, so a step folder appears
only once whole; :func:`complete_steps` ignores anything else.
"""

from __future__ import annotations

import contextlib
import hashlib
import pathlib
import re
from typing import Any, NamedTuple

import jax
import numpy as np
import orbax.checkpoint as ocp

ITEMS = ("state", "data_state", "meta", "example_batch")
_STEP_DIR = re.compile(r"^\d+$")


def checkpoint_dir(workdir: str | pathlib.Path) -> pathlib.Path:
    return pathlib.Path(workdir).absolute() / "checkpoints"


def complete_steps(workdir: str | pathlib.Path) -> list[int]:
    """Steps with a finished checkpoint (read-only: safe while training runs)."""
    root = checkpoint_dir(workdir)
    if not root.is_dir():
        return []
    steps = []
    for p in root.iterdir():
        if p.is_dir() and _STEP_DIR.match(p.name) and (p / "_CHECKPOINT_METADATA").exists():
            steps.append(int(p.name))
    return sorted(steps)


class Checkpointer:
    """orbax ``CheckpointManager`` with async saves and a retention policy."""

    def __init__(self, workdir: str | pathlib.Path, keep: int = 3, async_save: bool = True):
        self.directory = checkpoint_dir(workdir)
        options = ocp.CheckpointManagerOptions(
            enable_async_checkpointing=async_save,
            preservation_policy=ocp.checkpoint_managers.LatestN(keep),
            create=True,
        )
        self.manager = ocp.CheckpointManager(self.directory, item_names=ITEMS, options=options)

    def latest_step(self) -> int | None:
        return self.manager.latest_step()

    def save(self, step: int, state, data_state: dict, meta: dict, example_batch) -> None:
        args = ocp.args.Composite(
            state=ocp.args.StandardSave(state),
            data_state=ocp.args.JsonSave(data_state),
            meta=ocp.args.JsonSave(meta),
            example_batch=ocp.args.StandardSave(example_batch),
        )
        self.manager.save(step, args=args, force=True)

    def restore(self, step: int, abstract_state) -> tuple[Any, dict, dict]:
        """Restore onto the shardings in ``abstract_state`` (any mesh: 8 devices → 4 works)."""
        out = self.manager.restore(step, args=ocp.args.Composite(
            state=ocp.args.StandardRestore(abstract_state),
            data_state=ocp.args.JsonRestore(),
            meta=ocp.args.JsonRestore(),
        ))
        return out["state"], out["data_state"], out["meta"]

    def wait(self) -> None:
        self.manager.wait_until_finished()

    def close(self) -> None:
        self.manager.wait_until_finished()
        self.manager.close()


def abstract_with_shardings(abstract_state, shardings):
    return jax.tree.map(lambda a, s: jax.ShapeDtypeStruct(a.shape, a.dtype, sharding=s), abstract_state, shardings)


def read_meta(workdir: str | pathlib.Path, step: int | None = None) -> tuple[int, dict]:
    """Metadata (config, stats, spec) of a complete checkpoint, without JAX devices or the model."""
    steps = complete_steps(workdir)
    if not steps:
        raise FileNotFoundError(f"no complete checkpoint under {checkpoint_dir(workdir)}")
    step = steps[-1] if step is None else step
    if step not in steps:
        raise FileNotFoundError(f"no complete checkpoint for step {step} under {checkpoint_dir(workdir)} "
                                f"(complete steps: {steps})")
    import json

    path = checkpoint_dir(workdir) / str(step) / "meta" / "metadata"
    return step, json.loads(path.read_text())


def restore_arrays(workdir: str | pathlib.Path, step: int | None = None, item: str = "state"):
    """Restore one item as host numpy arrays (no target shardings needed): for digests and export."""
    steps = complete_steps(workdir)
    if not steps:
        raise FileNotFoundError(f"no complete checkpoint under {checkpoint_dir(workdir)}")
    step = steps[-1] if step is None else step
    if step not in steps:
        raise FileNotFoundError(f"no complete checkpoint for step {step} (complete steps: {steps})")
    path = checkpoint_dir(workdir) / str(step) / item
    # Reading one item of a complete step folder directly: orbax warns that the item folder has no
    # _CHECKPOINT_METADATA of its own (the step folder has it); silence that one false alarm.
    with _quiet_absl(), ocp.StandardCheckpointer() as ckptr:
        meta = ckptr.metadata(path)
        tree = meta.item_metadata.tree if hasattr(meta, "item_metadata") else meta
        cpu = jax.sharding.SingleDeviceSharding(jax.local_devices(backend="cpu")[0])
        abstract = jax.tree.map(lambda m: jax.ShapeDtypeStruct(m.shape, m.dtype, sharding=cpu), tree)
        restored = ckptr.restore(path, abstract)
    return step, jax.tree.map(np.asarray, restored)


class LoadedModel(NamedTuple):
    """A trained model restored by :func:`load_model_checkpoint`."""

    model: Any  # the model protocol object (jaxrobot.models.registry.build_model)
    params: Any
    config: Any  # ExperimentConfig
    meta: dict
    step: int


def config_from_meta(meta: dict) -> Any:
    """The experiment config saved in a checkpoint's metadata, rebuilt by kind.

    The kinds the trainer can see (the model table, the data layer's sources, the train configs) are imported
    here; a data source that lives in a skill is known once that skill's module is imported (the skills do
    it themselves, the ``jaxrobot`` command imports :mod:`jaxrobot.catalog`).
    """
    from jaxrobot import config as config_lib
    from jaxrobot.data.sources import mixture, rlds, synthetic  # noqa: F401  (their config kinds)
    from jaxrobot.models import registry  # noqa: F401  (every model config kind)
    from jaxrobot.train import config  # noqa: F401  (experiment, optimizer, train, mesh)

    return config_lib.from_dict(meta["config"])


def load_model_checkpoint(workdir: str | pathlib.Path, step: int | None = None, *, kind: str,
                          use_ema: bool = True) -> LoadedModel:
    """The model of the latest (or ``step``) complete checkpoint in ``workdir``, for evaluation.

    ``kind``: the model kind the caller expects; any other raises ``ConfigError`` naming the one found.
    The run's data config kind must be known (see :func:`config_from_meta`).
    ``use_ema``: the EMA parameters when the state has them, else the raw ones.
    """
    from jaxrobot.config import ConfigError
    from jaxrobot.models.registry import build_model

    step, meta = read_meta(workdir, step)
    cfg = config_from_meta(meta)
    found = type(cfg.model).kind
    if found != kind:
        raise ConfigError(f"{workdir}: checkpoint model is {found!r}, not a {kind} model")
    _, state = restore_arrays(workdir, step, item="state")
    return LoadedModel(build_model(cfg.model), state[params_key(state, use_ema)], cfg, meta, step)


def params_key(state: dict, use_ema: bool = True) -> str:
    """Which parameters of a restored state to run: ``"ema_params"`` when asked for and kept, else ``"params"``."""
    return "ema_params" if use_ema and state.get("ema_params") is not None else "params"


@contextlib.contextmanager
def _quiet_absl():
    import logging

    logger = logging.getLogger("absl")
    level = logger.level
    logger.setLevel(logging.ERROR)
    try:
        yield
    finally:
        logger.setLevel(level)


def digest(tree) -> str:
    """sha256 over every leaf (path, dtype, shape, bytes) in a fixed order."""
    h = hashlib.sha256()
    leaves = jax.tree_util.tree_flatten_with_path(tree)[0]
    for path, leaf in sorted(leaves, key=lambda kv: jax.tree_util.keystr(kv[0])):
        arr = np.ascontiguousarray(np.asarray(leaf))
        h.update(jax.tree_util.keystr(path).encode())
        h.update(str(arr.dtype).encode())
        h.update(str(arr.shape).encode())
        h.update(arr.tobytes())
    return h.hexdigest()
