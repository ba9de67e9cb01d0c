"""Checkpoints verify themselves: sealed after orbax finishes, refused when any file is damaged, skipped
(and moved aside) on resume, orphaned temp folders removed. Real orbax checkpoints written by Checkpointer."""

import os
import pathlib
import shutil
import subprocess
import sys
import time

import jax
import jax.numpy as jnp
import numpy as np
import pytest

from jaxrobot.train import checkpoint as ckpt_lib
from jaxrobot.train.checkpoint import CheckpointIntegrityError

ROOT = pathlib.Path(__file__).resolve().parents[2]


def make_state(step: int) -> dict:
    rng = np.random.default_rng(step)
    return {"params": {"w": jnp.asarray(rng.normal(size=(64, 64)).astype(np.float32)),
                       "b": jnp.asarray(rng.normal(size=(64,)).astype(np.float32))},
            "step": jnp.asarray(step, jnp.int32)}


def save_steps(workdir, steps, keep=3, async_save=True) -> ckpt_lib.Checkpointer:
    ck = ckpt_lib.Checkpointer(workdir, keep=keep, async_save=async_save)
    for s in steps:
        ck.save(s, make_state(s), {"position": 10 * s}, {"config": {"name": "t"}, "step_was": s},
                {"observation/state": np.full((2, 3), s, np.float32)})
    return ck


@pytest.fixture(scope="module")
def pristine(tmp_path_factory):
    """Steps 1 and 2, sealed (async saves, then close)."""
    workdir = tmp_path_factory.mktemp("pristine")
    save_steps(workdir, [1, 2]).close()
    return workdir


@pytest.fixture
def workdir(pristine, tmp_path):
    dst = tmp_path / "w"
    shutil.copytree(pristine, dst)
    return dst


def step_dir(workdir, step) -> pathlib.Path:
    return ckpt_lib.checkpoint_dir(workdir) / str(step)


def biggest_state_file(workdir, step) -> pathlib.Path:
    files = [p for p in (step_dir(workdir, step) / "state").rglob("*") if p.is_file()]
    return max(files, key=lambda p: p.stat().st_size)


def flip_byte(path: pathlib.Path) -> None:
    with open(path, "r+b") as f:
        f.seek(path.stat().st_size // 2)
        b = f.read(1)
        f.seek(-1, os.SEEK_CUR)
        f.write(bytes([b[0] ^ 0x40]))


def rel(workdir, step, path) -> str:
    return path.relative_to(step_dir(workdir, step)).as_posix()


# ------------------------------------------------------------------------------------------- good path


def test_untouched_checkpoint_verifies_and_restores(pristine):
    assert ckpt_lib.complete_steps(pristine) == [1, 2]
    for s in (1, 2):
        ckpt_lib.verify(pristine, s)
        record = (step_dir(pristine, s) / ckpt_lib.INTEGRITY_FILE).read_text()
        assert '"_CHECKPOINT_METADATA"' in record and '"state/_METADATA"' in record
    step, meta = ckpt_lib.read_meta(pristine)
    assert step == 2 and meta["step_was"] == 2
    step, tree = ckpt_lib.restore_arrays(pristine, 1)
    want = make_state(1)
    np.testing.assert_array_equal(tree["params"]["w"], np.asarray(want["params"]["w"]))
    assert int(tree["step"]) == 1
    # The trainer's path: Checkpointer.restore onto explicit shardings, after the record is in the folder.
    ck = ckpt_lib.Checkpointer(pristine)
    cpu = jax.sharding.SingleDeviceSharding(jax.devices()[0])
    abstract = jax.tree.map(lambda a: jax.ShapeDtypeStruct(a.shape, a.dtype, sharding=cpu), make_state(2))
    state, data_state, meta = ck.restore(2, abstract)
    ck.close()
    assert data_state == {"position": 20} and meta["step_was"] == 2
    np.testing.assert_array_equal(np.asarray(state["params"]["b"]), np.asarray(make_state(2)["params"]["b"]))


def test_async_saves_then_close_leave_every_step_sealed(tmp_path):
    ck = save_steps(tmp_path, [1, 2, 3, 4, 5], keep=3)
    ck.close()
    assert ckpt_lib.complete_steps(tmp_path) == [3, 4, 5]
    for s in (3, 4, 5):
        assert (step_dir(tmp_path, s) / ckpt_lib.INTEGRITY_FILE).is_file()
        ckpt_lib.verify(tmp_path, s)
    assert not list(ckpt_lib.checkpoint_dir(tmp_path).glob(f".{ckpt_lib.INTEGRITY_FILE}*"))


def test_a_step_is_sealed_soon_after_orbax_finishes_without_wait(tmp_path):
    """The watcher seals as soon as the folder appears: a run killed later keeps that step usable."""
    ck = save_steps(tmp_path, [7])
    try:
        record = step_dir(tmp_path, 7) / ckpt_lib.INTEGRITY_FILE
        t0 = time.time()
        while not record.exists() and time.time() - t0 < 30:
            time.sleep(0.02)
        assert record.exists()
        ckpt_lib.verify(tmp_path, 7)
    finally:
        ck.close()


def test_sync_saves_are_sealed_too(tmp_path):
    ck = save_steps(tmp_path, [1, 2], async_save=False)
    ck.close()
    for s in (1, 2):
        ckpt_lib.verify(tmp_path, s)


# ----------------------------------------------------------------------------------------- damage


def damage(workdir, kind: str) -> str:
    """Damage step 2 and return the file (relative to the step folder) the error must name."""
    d = step_dir(workdir, 2)
    if kind == "flipped":
        p = biggest_state_file(workdir, 2)
        flip_byte(p)
        return rel(workdir, 2, p)
    if kind == "deleted":
        p = biggest_state_file(workdir, 2)
        p.unlink()
        return rel(workdir, 2, p)
    if kind == "truncated":
        p = biggest_state_file(workdir, 2)
        with open(p, "r+b") as f:
            f.truncate(p.stat().st_size // 2)
        return rel(workdir, 2, p)
    if kind == "no_metadata":
        (d / "state" / "_METADATA").unlink()
        return "state/_METADATA"
    if kind == "no_checkpoint_metadata":
        (d / "_CHECKPOINT_METADATA").unlink()
        return "_CHECKPOINT_METADATA"
    if kind == "added":
        (d / "state" / "extra").write_bytes(b"x")
        return "state/extra"
    if kind == "no_record":
        (d / ckpt_lib.INTEGRITY_FILE).unlink()
        return ckpt_lib.INTEGRITY_FILE
    if kind == "bad_record":
        (d / ckpt_lib.INTEGRITY_FILE).write_text("{not json")
        return ckpt_lib.INTEGRITY_FILE
    raise ValueError(kind)


PROBLEM = {"flipped": "sha256 mismatch (file altered)", "deleted": "is missing", "truncated": "is truncated",
           "no_metadata": "is missing", "no_checkpoint_metadata": "is missing", "added": "file added",
           "no_record": "has no integrity record", "bad_record": "is damaged"}


def readers(workdir):
    def checkpointer_restore():
        ck = ckpt_lib.Checkpointer(workdir)
        try:
            cpu = jax.sharding.SingleDeviceSharding(jax.devices()[0])
            ck.restore(2, jax.tree.map(lambda a: jax.ShapeDtypeStruct(a.shape, a.dtype, sharding=cpu),
                                       make_state(2)))
        finally:
            ck.close()

    return {"verify": lambda: ckpt_lib.verify(workdir, 2),
            "read_meta": lambda: ckpt_lib.read_meta(workdir, 2),
            "restore_arrays": lambda: ckpt_lib.restore_arrays(workdir, 2),
            "restore_example_batch": lambda: ckpt_lib.restore_arrays(workdir, 2, item="example_batch"),
            "checkpointer_restore": checkpointer_restore}


@pytest.mark.parametrize("kind", sorted(PROBLEM))
def test_damaged_checkpoint_is_refused_naming_step_and_file(workdir, kind):
    name = damage(workdir, kind)
    for reader_name, read in readers(workdir).items():
        with pytest.raises(CheckpointIntegrityError) as info:
            read()
        msg = str(info.value)
        assert msg.startswith(f"checkpoint step 2 in {ckpt_lib.checkpoint_dir(workdir)} failed verification: "), msg
        assert name in msg and PROBLEM[kind] in msg, (reader_name, msg)
        assert "\n" not in msg and len(msg) < 400
        assert info.value.step == 2 and info.value.file == name
    ckpt_lib.verify(workdir, 1)  # the other step is untouched


def test_flipped_byte_loads_silently_without_verification(workdir):
    """Why the record exists: orbax/tensorstore read the altered array back without complaint."""
    flip_byte(biggest_state_file(workdir, 2))
    _, tree = ckpt_lib.restore_arrays(workdir, 2, verify=False)
    want = make_state(2)
    changed = [not np.array_equal(a, np.asarray(b)) for a, b in zip(jax.tree.leaves(tree), jax.tree.leaves(want),
                                                                    strict=True)]
    assert any(changed)


def test_damage_after_a_cached_verification_is_still_caught(workdir):
    ckpt_lib.verify(workdir, 2)
    ckpt_lib.verify(workdir, 2)  # cached
    name = damage(workdir, "flipped")
    with pytest.raises(CheckpointIntegrityError, match=name):
        ckpt_lib.verify(workdir, 2)


def test_latest_step_damaged_is_refused_listing_older_verified_steps(workdir):
    damage(workdir, "flipped")
    for read in (lambda: ckpt_lib.read_meta(workdir), lambda: ckpt_lib.restore_arrays(workdir)):
        with pytest.raises(CheckpointIntegrityError) as info:
            read()
        msg = str(info.value)
        assert "checkpoint step 2 " in msg and "older steps that verify: 1" in msg and "--step N" in msg
    assert ckpt_lib.read_meta(workdir, 1)[0] == 1
    with pytest.raises(FileNotFoundError, match="complete steps"):
        ckpt_lib.read_meta(workdir, 5)


# ------------------------------------------------------------------------------------------ resume


def test_latest_verified_step_falls_back_and_logs(workdir):
    lines = []
    assert ckpt_lib.latest_verified_step(workdir, log=lines.append) == 2
    assert lines == []
    name = damage(workdir, "flipped")
    assert ckpt_lib.latest_verified_step(workdir, log=lines.append) == 1
    assert len(lines) == 1 and "step 2" in lines[0] and name in lines[0] and "failed verification" in lines[0]
    assert "skipped" in lines[0]
    assert ckpt_lib.complete_steps(workdir) == [1, 2]  # without quarantine nothing moves


def test_quarantine_moves_damaged_steps_and_the_step_can_be_saved_again(workdir):
    damage(workdir, "no_record")  # the run was killed between orbax's rename and the seal
    lines = []
    assert ckpt_lib.latest_verified_step(workdir, log=lines.append, quarantine=True) == 1
    moved = list((workdir / ckpt_lib.DAMAGED_DIR).iterdir())
    assert len(moved) == 1 and moved[0].name.startswith("2-") and (moved[0] / "state").is_dir()
    assert str(moved[0]) in lines[0] and "no integrity record" in lines[0]
    assert ckpt_lib.complete_steps(workdir) == [1]
    # A new Checkpointer (the resumed trainer's) writes step 2 again; it verifies and restores.
    ck = ckpt_lib.Checkpointer(workdir)
    assert ck.latest_step() == 1
    ck.save(2, make_state(22), {"position": 220}, {"config": {}, "step_was": 22}, {"x": np.zeros((2, 1))})
    ck.close()
    ckpt_lib.verify(workdir, 2)
    _, meta = ckpt_lib.read_meta(workdir)
    assert meta["step_was"] == 22


def test_nothing_verifies(workdir):
    damage(workdir, "flipped")
    (step_dir(workdir, 1) / ckpt_lib.INTEGRITY_FILE).unlink()
    lines = []
    assert ckpt_lib.latest_verified_step(workdir, log=lines.append, quarantine=True) is None
    assert len(lines) == 2 and ckpt_lib.complete_steps(workdir) == []
    with pytest.raises(FileNotFoundError, match="no complete checkpoint"):
        ckpt_lib.read_meta(workdir)


def test_orphaned_temp_folders_are_removed_on_open(workdir):
    root = ckpt_lib.checkpoint_dir(workdir)
    orphan = root / "3.orbax-checkpoint-tmp-1700000000000000"
    (orphan / "state").mkdir(parents=True)
    (orphan / "state" / "partial").write_bytes(b"\0" * 100)
    ckpt_lib.Checkpointer(workdir).close()
    assert not orphan.exists()
    assert ckpt_lib.complete_steps(workdir) == [1, 2]
    ckpt_lib.verify(workdir, 2)


# ------------------------------------------------------------------------------------ command line


def test_cli_digest_refuses_a_tampered_training_checkpoint(tmp_path):
    from jaxrobot import config as C
    from jaxrobot.train.loop import train

    cfg = C.load_experiment(str(ROOT / "experiments" / "bc_synthetic.py"),
                            ["train.log_every=2", "model.hidden=(32,)"])
    train(cfg, tmp_path, steps=4, checkpoint_every=2, progress=False, log=lambda s: None)
    assert ckpt_lib.complete_steps(tmp_path) == [2, 4]
    p = biggest_state_file(tmp_path, 4)
    flip_byte(p)
    name = rel(tmp_path, 4, p)

    env = dict(os.environ, XLA_FLAGS="--xla_force_host_platform_device_count=2")
    env.pop("JAXROBOT_DEBUG", None)
    cmd = [sys.executable, "-m", "jaxrobot.cli", "ckpt", "digest", "--workdir", str(tmp_path)]
    res = subprocess.run(cmd, capture_output=True, text=True, env=env, timeout=120)
    out = res.stdout + res.stderr
    assert res.returncode not in (0, 3), out
    assert "Traceback (most recent call last):" not in out, "CLI wrapper: unknown exception not caught\n" + out
    assert len(out.splitlines()) <= 20, out
    assert "step 4" in out and name in out and "verification" in out and "--step N" in out, out
    res = subprocess.run(cmd + ["--step", "2"], capture_output=True, text=True, env=env, timeout=120)
    assert res.returncode == 0 and res.stdout.startswith("step=2 sha256="), res.stdout + res.stderr
