"""Self-describing orbax checkpoints that verify themselves: ``<workdir>/checkpoints/<step>/``.

Each step folder holds four items, so anything downstream (resume, eval, export) needs only the folder:
- ``state``: the train state (params, optimiser state, EMA params, step, RNG), sharded arrays;
- ``data_state``: the data iterator's integers (exact resume);
- ``meta``: config JSON, model and data spec, normalisation statistics, jaxrobot version;
- ``example_batch``: two examples of a real training batch (shapes for export and tests);

and, once sealed, ``jaxrobot_integrity.json``: the size and sha256 of every other file in the folder.

orbax writes into ``<step>.orbax-checkpoint-tmp-*`` and renames when complete, so a step folder appears
only once whole; :func:`complete_steps` ignores anything else. Neither orbax nor tensorstore checks the bytes
it reads back (a flipped bit in an array file loads silently), hence the integrity record: the
:class:`Checkpointer` seals each step it wrote as soon as orbax has renamed it (process 0 only), and every
reader (:func:`read_meta`, :func:`restore_arrays`, :meth:`Checkpointer.restore`) verifies a step before
using it. A step without a record is not good: the run stopped between orbax's rename and the seal, or an
older jaxrobot wrote it. A resume takes the newest step that verifies (:func:`latest_verified_step`) and moves
damaged newer ones to ``<workdir>/checkpoints_damaged/`` so the step can be written again.
"""

from __future__ import annotations

import contextlib
import hashlib
import json
import os
import pathlib
import re
import threading
import time
from collections.abc import Callable
from typing import Any, NamedTuple

import jax
import numpy as np
import orbax.checkpoint as ocp

ITEMS = ("state", "data_state", "meta", "example_batch")
INTEGRITY_FILE = "jaxrobot_integrity.json"
DAMAGED_DIR = "checkpoints_damaged"
_INTEGRITY_FORMAT = 1
_STEP_DIR = re.compile(r"^\d+$")
_ORBAX_DONE = "_CHECKPOINT_METADATA"  # orbax writes it before the rename that makes a step folder appear
_BLOCK = 1 << 20
_NO_RECORD = (f"the step has no integrity record ({INTEGRITY_FILE}): the run stopped before sealing it, or an "
              f"older jaxrobot wrote it")


class CheckpointIntegrityError(Exception):
    """A checkpoint step whose files do not match its integrity record, or that has none.

    The message is one line naming the step, the checkpoint folder, the file (relative to the step folder)
    and what is wrong with it. Attributes: ``step``, ``directory`` (the ``checkpoints`` folder), ``file``,
    ``problem``.
    """

    def __init__(self, step: int, directory: str | os.PathLike, file: str, problem: str):
        self.step, self.directory, self.file, self.problem = step, str(directory), file, problem
        super().__init__(f"checkpoint step {step} in {directory} failed verification: {problem}")


def checkpoint_dir(workdir: str | pathlib.Path) -> pathlib.Path:
    return pathlib.Path(workdir).absolute() / "checkpoints"


def _step_dirs(workdir: str | pathlib.Path) -> dict[int, pathlib.Path]:
    root = checkpoint_dir(workdir)
    if not root.is_dir():
        return {}
    return {int(p.name): p for p in root.iterdir() if _STEP_DIR.match(p.name) and p.is_dir()}


def complete_steps(workdir: str | pathlib.Path) -> list[int]:
    """Steps with a finished checkpoint (read-only: safe while training runs); not necessarily verified.

    A step counts once orbax has renamed its folder into place (it then holds ``_CHECKPOINT_METADATA``) or
    once it was sealed (so a sealed step that lost ``_CHECKPOINT_METADATA`` is reported damaged, not ignored).
    """
    return sorted(s for s, p in _step_dirs(workdir).items()
                  if (p / _ORBAX_DONE).exists() or (p / INTEGRITY_FILE).exists())


# ---------------------------------------------------------------------------------------------- integrity


def _files(step_dir: pathlib.Path) -> list[str]:
    """Every regular file under ``step_dir`` (relative POSIX paths, sorted), except the record itself."""
    out = []
    for root, dirs, names in os.walk(step_dir):
        dirs.sort()
        rel_root = pathlib.Path(root).relative_to(step_dir)
        for name in names:
            if rel_root == pathlib.Path(".") and (name == INTEGRITY_FILE or name.startswith(f".{INTEGRITY_FILE}")):
                continue
            out.append((rel_root / name).as_posix())
    return sorted(out)


def _sha256(path: pathlib.Path) -> tuple[int, str]:
    """``(size, sha256 hex)`` of a file, read in 1 MiB blocks (~1.2 GB/s here: hashlib releases the GIL)."""
    h = hashlib.sha256()
    buf = bytearray(_BLOCK)
    view = memoryview(buf)
    size = 0
    with open(path, "rb", buffering=0) as f:
        while n := f.readinto(buf):
            h.update(view[:n])
            size += n
    return size, h.hexdigest()


def _fsync_dir(path: pathlib.Path) -> None:
    fd = os.open(path, os.O_RDONLY)
    try:
        os.fsync(fd)
    finally:
        os.close(fd)


def seal(step_dir: str | os.PathLike) -> None:
    """Write ``<step_dir>/jaxrobot_integrity.json`` (size + sha256 of every other file), atomically.

    Call it only on a step folder orbax has finished (renamed into place); :class:`Checkpointer` does.
    """
    step_dir = pathlib.Path(step_dir)
    files = {}
    for rel in _files(step_dir):
        size, digest_hex = _sha256(step_dir / rel)
        files[rel] = {"size": size, "sha256": digest_hex}
    record = {"format": _INTEGRITY_FORMAT, "algorithm": "sha256", "step": int(step_dir.name),
              "sealed_unix": round(time.time(), 3), "files": files}
    tmp = step_dir / f".{INTEGRITY_FILE}.tmp-{os.getpid()}-{threading.get_ident()}"
    try:
        with open(tmp, "w") as f:
            json.dump(record, f, indent=1, sort_keys=True)
            f.flush()
            os.fsync(f.fileno())
        os.replace(tmp, step_dir / INTEGRITY_FILE)
    finally:
        tmp.unlink(missing_ok=True)
    _fsync_dir(step_dir)


def _fingerprint(step_dir: pathlib.Path) -> tuple:
    """Cheap identity of a folder's files (stat only): a change to any byte changes some file's ctime."""
    out = []
    for rel in [*_files(step_dir), INTEGRITY_FILE]:
        try:
            st = (step_dir / rel).stat()
        except FileNotFoundError:
            out.append((rel, None))
            continue
        out.append((rel, st.st_size, st.st_mtime_ns, st.st_ctime_ns, st.st_ino))
    return tuple(out)


# step folder -> fingerprint when it last verified in this process (verifying hashes ~1 GB/s, so a reader that
# checks the step and then restores two items does not hash it three times).
_VERIFIED: dict[str, tuple] = {}
_VERIFIED_LOCK = threading.Lock()


def _check(step_dir: pathlib.Path, step: int) -> None:
    def fail(file: str, problem: str) -> CheckpointIntegrityError:
        return CheckpointIntegrityError(step, step_dir.parent, file, problem)

    record_path = step_dir / INTEGRITY_FILE
    if not record_path.is_file():
        raise fail(INTEGRITY_FILE, _NO_RECORD)
    try:
        record = json.loads(record_path.read_text())
        files = record["files"]
        fmt, algorithm, recorded_step = record["format"], record["algorithm"], record["step"]
        if not isinstance(files, dict):
            raise TypeError("files")
    except (ValueError, KeyError, TypeError, UnicodeDecodeError) as e:
        raise fail(INTEGRITY_FILE, f"{INTEGRITY_FILE} is damaged ({type(e).__name__})") from None
    if fmt != _INTEGRITY_FORMAT or algorithm != "sha256":
        raise fail(INTEGRITY_FILE, f"{INTEGRITY_FILE} has format {fmt!r} / {algorithm!r}, which this jaxrobot "
                                   f"cannot check (a newer jaxrobot wrote it?)")
    if recorded_step != step:
        raise fail(INTEGRITY_FILE, f"{INTEGRITY_FILE} belongs to step {recorded_step} (folder renamed or copied)")

    problems: list[tuple[str, str]] = []
    present = set(_files(step_dir))
    for rel, entry in sorted(files.items()):
        if rel not in present:
            problems.append((rel, f"{rel} is missing"))
            continue
        size, expected = (step_dir / rel).stat().st_size, int(entry["size"])
        if size < expected:
            problems.append((rel, f"{rel} is truncated ({size} of {expected} bytes)"))
        elif size > expected:
            problems.append((rel, f"{rel} has {size} bytes, {expected} when sealed (file altered)"))
    problems += [(rel, f"{rel} is not in the integrity record (file added)") for rel in sorted(present - set(files))]
    if problems:
        more = f" (and {len(problems) - 1} more damaged files)" if len(problems) > 1 else ""
        raise fail(problems[0][0], problems[0][1] + more)
    # Smallest first: metadata damage shows without hashing the big array files.
    for rel in sorted(files, key=lambda r: (int(files[r]["size"]), r)):
        if _sha256(step_dir / rel)[1] != files[rel]["sha256"]:
            raise fail(rel, f"{rel} sha256 mismatch (file altered)")


def verify(workdir: str | pathlib.Path, step: int) -> None:
    """Check every file of checkpoint ``step`` against its integrity record.

    Raises :class:`CheckpointIntegrityError` (naming step, folder, file and problem) on any missing,
    truncated, altered or added file, or when the step has no record; ``FileNotFoundError`` when there is no
    folder for ``step`` at all. A step that verified once in this process is not hashed again unless one of
    its files changed (size, mtime, ctime or inode).
    """
    step_dir = checkpoint_dir(workdir) / str(int(step))
    if not step_dir.is_dir():
        raise FileNotFoundError(f"no checkpoint for step {step} under {step_dir.parent} "
                                f"(complete steps: {complete_steps(workdir)})")
    key = str(step_dir)
    fingerprint = _fingerprint(step_dir)
    with _VERIFIED_LOCK:
        if _VERIFIED.get(key) == fingerprint:
            return
    _check(step_dir, int(step))
    with _VERIFIED_LOCK:
        _VERIFIED[key] = fingerprint


_verify_step = verify  # for functions whose ``verify`` flag shadows the name


def _verifies(workdir: str | pathlib.Path, step: int) -> bool:
    try:
        verify(workdir, step)
        return True
    except (CheckpointIntegrityError, FileNotFoundError):
        return False


def latest_verified_step(workdir: str | pathlib.Path, log: Callable[[str], None] = print,
                         quarantine: bool = False) -> int | None:
    """The newest checkpoint step that verifies, or None; logs one line for each newer step it skips.

    ``quarantine=True`` (only for the process that owns the workdir: the resuming trainer, holding the workdir
    lock, process 0 of a multi-process run) moves every skipped step folder to
    ``<workdir>/checkpoints_damaged/<step>-<unix time>/``: out of orbax's namespace, so the resumed run can save
    that step again (orbax refuses to write a step whose folder exists), and kept for inspection.
    """
    dirs = _step_dirs(workdir)
    for step in sorted(dirs, reverse=True):
        try:
            verify(workdir, step)
            return step
        except CheckpointIntegrityError as e:
            reason = str(e)
        if not (dirs[step] / _ORBAX_DONE).exists() and not (dirs[step] / INTEGRITY_FILE).exists():
            reason = f"checkpoint step {step} in {dirs[step].parent} is incomplete (never finalized)"
        if quarantine:
            log(f"{reason}; skipped it and moved it to {_quarantine(workdir, step)}")
        else:
            log(f"{reason}; skipped it")
    return None


def _quarantine(workdir: str | pathlib.Path, step: int) -> pathlib.Path:
    src = checkpoint_dir(workdir) / str(step)
    root = pathlib.Path(workdir).absolute() / DAMAGED_DIR
    root.mkdir(parents=True, exist_ok=True)
    dest = root / f"{step}-{int(time.time())}"
    n = 1
    while dest.exists():
        n += 1
        dest = root / f"{step}-{int(time.time())}-{n}"
    os.rename(src, dest)
    _fsync_dir(src.parent)
    with _VERIFIED_LOCK:
        _VERIFIED.pop(str(src), None)
    return dest


def _select_step(workdir: str | pathlib.Path, step: int | None, verify_it: bool) -> int:
    """The step a reader uses: ``step``, or the newest complete one; verified unless told not to.

    With ``step=None`` a damaged newest step is refused, not skipped: the user should learn that their latest
    checkpoint is damaged. The message lists the older steps that do verify.
    """
    steps = complete_steps(workdir)
    if not steps:
        raise FileNotFoundError(f"no complete checkpoint under {checkpoint_dir(workdir)}")
    if step is not None:
        if step not in steps:
            raise FileNotFoundError(f"no complete checkpoint for step {step} under {checkpoint_dir(workdir)} "
                                    f"(complete steps: {steps})")
        if verify_it:
            verify(workdir, step)
        return step
    step = steps[-1]
    if verify_it:
        try:
            verify(workdir, step)
        except CheckpointIntegrityError as e:
            older = [s for s in reversed(steps[:-1]) if _verifies(workdir, s)]
            hint = (f"; older steps that verify: {', '.join(map(str, older))} (choose one with --step N)"
                    if older else "; no older step verifies")
            raise CheckpointIntegrityError(e.step, e.directory, e.file, e.problem + hint) from None
    return step


# ------------------------------------------------------------------------------------------------ writer


class Checkpointer:
    """orbax ``CheckpointManager`` with async saves, a retention policy and sealed steps.

    Open it only as the workdir's writer (the trainer, holding the workdir lock): opening removes the
    ``<step>.orbax-checkpoint-tmp-*`` folders that killed writers left behind (orbax's own
    ``cleanup_tmp_directories``), which would break a live writer's save. Readers use :func:`read_meta` and
    :func:`restore_arrays`. Process 0 seals each step it saves as soon as orbax has renamed the folder into
    place (a watcher thread), and at the latest in :meth:`save` (before the next one), :meth:`wait` and
    :meth:`close`.
    """

    def __init__(self, workdir: str | pathlib.Path, keep: int = 3, async_save: bool = True):
        self.directory = checkpoint_dir(workdir)
        options = ocp.CheckpointManagerOptions(
            enable_async_checkpointing=async_save,
            preservation_policy=ocp.checkpoint_managers.LatestN(keep),
            create=True,
            cleanup_tmp_directories=True,
        )
        self.manager = ocp.CheckpointManager(self.directory, item_names=ITEMS, options=options)
        # orbax removes the orphans in a background thread and waits for it only before its first save;
        # finish now, so that the workdir is clean from here on whatever is called first.
        await_cleanup = getattr(self.manager, "_maybe_await_cleanup_tmp_directory", None)
        if callable(await_cleanup):
            await_cleanup()
        self._sealer = jax.process_index() == 0
        self._unsealed: list[int] = []
        self._seal_lock = threading.Lock()
        self._watcher: tuple[threading.Thread, threading.Event] | None = None
        self._closed = False

    def latest_step(self) -> int | None:
        """orbax's newest finished step (not verified: a resume uses :func:`latest_verified_step`)."""
        return self.manager.latest_step()

    def save(self, step: int, state, data_state: dict, meta: dict, example_batch) -> None:
        # orbax's save waits for the previous one anyway; waiting here first lets it be sealed now.
        self.wait()
        args = ocp.args.Composite(
            state=ocp.args.StandardSave(state),
            data_state=ocp.args.JsonSave(data_state),
            meta=ocp.args.JsonSave(meta),
            example_batch=ocp.args.StandardSave(example_batch),
        )
        self.manager.save(step, args=args, force=True)
        if self._sealer:
            self._unsealed.append(int(step))
            stop = threading.Event()
            thread = threading.Thread(target=self._watch, args=(int(step), stop), daemon=True,
                                      name=f"jaxrobot-seal-{step}")
            thread.start()
            self._watcher = (thread, stop)

    def restore(self, step: int, abstract_state, *, verify: bool = True) -> tuple[Any, dict, dict]:
        """Restore onto the shardings in ``abstract_state`` (any mesh: 8 devices → 4 works).

        ``verify``: check the step's integrity record first (raises :class:`CheckpointIntegrityError`).
        """
        if verify:
            _verify_step(self.directory.parent, step)
        out = self.manager.restore(step, args=ocp.args.Composite(
            state=ocp.args.StandardRestore(abstract_state),
            data_state=ocp.args.JsonRestore(),
            meta=ocp.args.JsonRestore(),
        ))
        return out["state"], out["data_state"], out["meta"]

    def wait(self) -> None:
        """Wait for an async save to finish, then seal every step this object saved."""
        try:
            self.manager.wait_until_finished()
        finally:  # a failed save never appears: stop watching for it either way
            if self._watcher is not None:
                thread, stop = self._watcher
                stop.set()
                thread.join()
                self._watcher = None
        for step in list(self._unsealed):
            self._seal(step, missing_ok=True)

    def close(self) -> None:
        """:meth:`wait` (finish and seal), then release orbax's threads even when that raised."""
        if self._closed:
            return
        self._closed = True
        try:
            self.wait()
        finally:
            self.manager.close()

    def _seal(self, step: int, missing_ok: bool) -> None:
        """Seal ``step`` unless done; a folder that vanished (retention, a failed save) is dropped when
        ``missing_ok``."""
        with self._seal_lock:
            if step not in self._unsealed:
                return
            step_dir = self.directory / str(step)
            if not (step_dir / _ORBAX_DONE).exists():
                if missing_ok:
                    self._unsealed.remove(step)
                    return
                raise FileNotFoundError(f"checkpoint step {step} was not written: {step_dir}")
            try:
                seal(step_dir)
            except FileNotFoundError:
                if missing_ok and not step_dir.exists():
                    self._unsealed.remove(step)
                    return
                raise
            self._unsealed.remove(step)

    def _watch(self, step: int, stop: threading.Event) -> None:
        """Seal ``step`` as soon as orbax renames its folder into place (shrinks the window in which a killed
        run leaves a finished but unsealed, hence unusable, newest step). Errors are left to :meth:`wait`,
        which seals again."""
        step_dir = self.directory / str(step)
        while True:
            stopping = stop.is_set()  # read first: one more look at the folder always follows the stop
            if (step_dir / _ORBAX_DONE).exists():
                with contextlib.suppress(Exception):
                    self._seal(step, missing_ok=False)
                return
            if stopping:
                return
            stop.wait(0.05)


def abstract_with_shardings(abstract_state, shardings):
    return jax.tree.map(lambda a, s: jax.ShapeDtypeStruct(a.shape, a.dtype, sharding=s), abstract_state, shardings)


# ------------------------------------------------------------------------------------------------ readers


def read_meta(workdir: str | pathlib.Path, step: int | None = None, *, verify: bool = True) -> tuple[int, dict]:
    """Metadata (config, stats, spec) of a complete checkpoint, without JAX devices or the model.

    ``step=None``: the newest complete step. ``verify``: check the step's integrity first (raises
    :class:`CheckpointIntegrityError`; a damaged newest step is refused, naming older steps that verify).
    """
    step = _select_step(workdir, step, verify)
    path = checkpoint_dir(workdir) / str(step) / "meta" / "metadata"
    return step, json.loads(path.read_text())


def restore_arrays(workdir: str | pathlib.Path, step: int | None = None, item: str = "state", *,
                   verify: bool = True, like: Any = None):
    """Restore one item as host numpy arrays (no target shardings needed): for digests and export.

    ``step`` and ``verify`` as in :func:`read_meta`. ``like``: a pytree (arrays or ``ShapeDtypeStruct``) whose
    structure the result takes (dataclasses, not the nested dicts orbax's metadata gives).
    """
    step = _select_step(workdir, step, verify)
    path = checkpoint_dir(workdir) / str(step) / item
    cpu = jax.sharding.SingleDeviceSharding(jax.local_devices(backend="cpu")[0])
    # Reading one item of a complete step folder directly: orbax warns that the item folder has no
    # _CHECKPOINT_METADATA of its own (the step folder has it); silence that one false alarm.
    with _quiet_absl(), ocp.StandardCheckpointer() as ckptr:
        if like is None:
            meta = ckptr.metadata(path)
            like = meta.item_metadata.tree if hasattr(meta, "item_metadata") else meta
        abstract = jax.tree.map(lambda m: jax.ShapeDtypeStruct(m.shape, m.dtype, sharding=cpu), like)
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
