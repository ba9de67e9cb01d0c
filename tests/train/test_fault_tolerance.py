"""What holds when runs collide, are refused, interrupted, damaged or run out of disk (real subprocesses)."""

import json
import os
import pathlib
import signal
import socket
import subprocess
import sys
import time

import pytest

from jaxrobot import config as C
from jaxrobot.train import checkpoint as ckpt_lib
from jaxrobot.train.loop import train
from jaxrobot.train.workdir_lock import LOCK_NAME, WorkdirLock, WorkdirLocked

ROOT = pathlib.Path(__file__).resolve().parents[2]
EXPERIMENT = str(ROOT / "experiments" / "bc_synthetic.py")
JAXROBOT = [sys.executable, "-m", "jaxrobot.cli"]
LONG = ["--config", EXPERIMENT, "--steps", "1000000", "--checkpoint-every", "100000", "--no-progress",
        "--set", "train.log_every=50"]


def env():
    return {**os.environ, "PYTHONUNBUFFERED": "1", "XLA_FLAGS": "--xla_force_host_platform_device_count=1"}


def assert_short_error(res, *needles):
    """The fixed interface: exit != 0 and != 3, <= 20 lines, no traceback, the message says what and where."""
    text = res.stdout + res.stderr
    assert res.returncode not in (0, 3), text
    assert len(text.strip().splitlines()) <= 20, text
    assert "Traceback (most recent call last):" not in text, text
    for n in needles:
        assert n in text, text


def wait_for(pred, proc, timeout=120):
    t0 = time.time()
    while time.time() - t0 < timeout:
        if pred():
            return
        assert proc.poll() is None, proc.communicate()
        time.sleep(0.05)
    raise TimeoutError


def lock_holder(workdir):
    try:
        return json.loads((workdir / LOCK_NAME).read_text() or "{}").get("pid")
    except (OSError, ValueError):
        return None


def files(workdir):
    return {str(p.relative_to(workdir)): p.read_bytes() for p in sorted(workdir.rglob("*"))
            if p.is_file() and p.name != LOCK_NAME}


def test_lock_is_exclusive_and_released_by_kill_9(tmp_path):
    holder = subprocess.Popen([sys.executable, "-c", (
        "import sys, time; from jaxrobot.train.workdir_lock import WorkdirLock; "
        f"WorkdirLock({str(tmp_path)!r}).acquire(); print('held', flush=True); time.sleep(600)")],
        stdout=subprocess.PIPE, text=True)
    assert holder.stdout.readline().strip() == "held"
    with pytest.raises(WorkdirLocked, match=rf"PID {holder.pid} on host {socket.gethostname()}"):
        WorkdirLock(tmp_path).acquire()
    holder.kill()
    holder.wait()
    with WorkdirLock(tmp_path):  # the OS released it: never a stale lock
        with pytest.raises(WorkdirLocked, match=f"PID {os.getpid()}"):  # one holder even within a process
            WorkdirLock(tmp_path).acquire()
    WorkdirLock(tmp_path).acquire().release()


def test_second_trainer_fails_at_once_and_ctrl_c_saves(tmp_path):
    first = subprocess.Popen(JAXROBOT + ["train", "--workdir", str(tmp_path), *LONG], env=env(),
                             stdout=subprocess.PIPE, stderr=subprocess.PIPE, text=True)
    try:
        wait_for(lambda: lock_holder(tmp_path) == first.pid and (tmp_path / "metrics.jsonl").exists(), first)
        metrics_before = (tmp_path / "metrics.jsonl").read_text()
        second = subprocess.run(JAXROBOT + ["train", "--workdir", str(tmp_path), *LONG], env=env(),
                                capture_output=True, text=True, timeout=300)
        assert_short_error(second, f"PID {first.pid}", socket.gethostname(), str(tmp_path))
        assert (tmp_path / "metrics.jsonl").read_text().startswith(metrics_before)

        first.send_signal(signal.SIGINT)
        out, err = first.communicate(timeout=120)
    finally:
        first.kill()
    assert first.returncode == 0, err
    assert "interrupted (Ctrl-C)" in out and "Traceback" not in out + err
    step = int(out.split("preempted: saved checkpoint at step ")[1].split()[0])
    assert 0 < step < 1000000
    assert ckpt_lib.complete_steps(tmp_path) == [step]
    ckpt_lib.verify(tmp_path, step)


def test_second_ctrl_c_aborts_at_once(tmp_path):
    proc = subprocess.Popen(JAXROBOT + ["train", "--workdir", str(tmp_path), *LONG], env=env(),
                            stdout=subprocess.PIPE, stderr=subprocess.PIPE, text=True)
    try:
        wait_for(lambda: (tmp_path / "metrics.jsonl").exists(), proc)
        proc.send_signal(signal.SIGINT)
        assert "interrupted (Ctrl-C)" in proc.stdout.readline()
        proc.send_signal(signal.SIGINT)
        out, err = proc.communicate(timeout=60)
    finally:
        proc.kill()
    assert proc.returncode == 130, out + err
    assert "aborted (second Ctrl-C)" in err and "Traceback" not in out + err


def test_refused_resume_writes_nothing_and_changes_are_logged(tmp_path):
    cfg = C.load_experiment(EXPERIMENT, ["train.steps=2", "train.log_every=1"])
    train(cfg, tmp_path, progress=False, log=lambda s: None)
    before = files(tmp_path)
    assert "config.json" in before and ckpt_lib.complete_steps(tmp_path) == [2]

    with pytest.raises(C.ConfigError, match=r"differs from the checkpoint.*model\.hidden: \[256, 256\] -> \[32\]"):
        train(C.override(cfg, "model.hidden=(32,)"), tmp_path, steps=4, progress=False, log=lambda s: None)
    assert files(tmp_path) == before

    bad = subprocess.run(JAXROBOT + ["train", "--workdir", str(tmp_path), "--config", EXPERIMENT, "--steps", "4",
                                     "--no-progress", "--set", "data.num_episodes=0"],
                         env=env(), capture_output=True, text=True, timeout=300)
    assert_short_error(bad, "data.num_episodes")
    assert files(tmp_path) == before

    logs = []
    train(C.override(cfg, "optimizer.lr=0.0005"), tmp_path, steps=4, progress=False, log=logs.append)
    assert "resume: config changed since step 2: optimizer.lr: 0.001 -> 0.0005" in logs
    assert "resume: config changed since step 2: train.steps: 2 -> 4" in logs
    assert json.loads((tmp_path / "config.json").read_text())["optimizer"]["lr"] == 0.0005


def flip_byte_in_array_data(step_dir: pathlib.Path) -> pathlib.Path:
    """Flip one byte in the middle of the largest file of the step's train state (array data)."""
    target = max((p for p in (step_dir / "state").rglob("*") if p.is_file()), key=lambda p: p.stat().st_size)
    data = bytearray(target.read_bytes())
    data[len(data) // 2] ^= 0xFF
    target.write_bytes(bytes(data))
    return target


def test_resume_skips_a_damaged_checkpoint_and_stays_exact(tmp_path):
    cfg = C.load_experiment(EXPERIMENT, ["train.steps=6", "train.checkpoint_every=2", "train.log_every=1",
                                         "train.keep_checkpoints=3"])
    straight = tmp_path / "straight"
    train(cfg, straight, progress=False, log=lambda s: None)

    damaged = tmp_path / "damaged"
    train(cfg, damaged, steps=4, progress=False, log=lambda s: None)
    assert ckpt_lib.complete_steps(damaged) == [2, 4]
    flip_byte_in_array_data(damaged / "checkpoints" / "4")

    for command in (["ckpt", "digest", "--workdir", str(damaged)],
                    ["export", "--workdir", str(damaged), "--out", str(tmp_path / "bundle")],
                    ["eval", "--workdir", str(damaged), "--task", "pick_cube", "--episodes", "2"]):
        res = subprocess.run(JAXROBOT + command, env=env(), capture_output=True, text=True, timeout=300)
        assert_short_error(res, "checkpoint step 4", "failed verification", "sha256 mismatch",
                           "older steps that verify: 2")
    assert not (tmp_path / "bundle").exists()

    with pytest.raises(C.ConfigError, match="differs from the checkpoint"):  # refused: nothing is moved either
        train(C.override(cfg, "model.hidden=(32,)"), damaged, progress=False, log=lambda s: None)
    assert (damaged / "checkpoints" / "4").is_dir() and not (damaged / "checkpoints_damaged").exists()

    logs = []
    result = train(cfg, damaged, progress=False, log=logs.append)
    assert result.resumed_from == 2 and result.step == 6
    assert any("step 4" in line and "verification" in line for line in logs), logs
    assert list((damaged / "checkpoints_damaged").iterdir())  # kept aside for a post-mortem, out of the way
    _, a = ckpt_lib.restore_arrays(straight)
    _, b = ckpt_lib.restore_arrays(damaged)
    assert ckpt_lib.digest(a) == ckpt_lib.digest(b)


@pytest.fixture
def small_tmpfs(tmp_path):
    mount = tmp_path / "tmpfs"
    mount.mkdir()
    res = subprocess.run(["mount", "-t", "tmpfs", "-o", "size=400k", "tmpfs", str(mount)], capture_output=True)
    if res.returncode != 0:
        pytest.skip(f"cannot mount a tmpfs here: {res.stderr.decode().strip()}")
    try:
        yield mount
    finally:
        subprocess.run(["umount", "-l", str(mount)], check=False)


def test_disk_full_while_checkpointing_is_a_short_error(small_tmpfs):
    """The BC model's train state (~1 MB with Adam's moments) cannot fit a 400 kB disk."""
    workdir = small_tmpfs / "run"
    res = subprocess.run(JAXROBOT + ["train", "--workdir", str(workdir), "--config", EXPERIMENT, "--steps", "2",
                                     "--no-progress"], env=env(), capture_output=True, text=True, timeout=300)
    assert_short_error(res, "no space left on device")
    assert not [s for s in ckpt_lib.complete_steps(workdir) if _verifies(workdir, s)]


def _verifies(workdir, step) -> bool:
    try:
        ckpt_lib.verify(workdir, step)
        return True
    except ckpt_lib.CheckpointIntegrityError:
        return False

