"""Helpers shared by the export tests (kept out of conftest so test modules can import them)."""

import os
import pathlib
import subprocess
import sys

REPO = pathlib.Path(__file__).resolve().parents[2]


def train_small(experiment: str, workdir: pathlib.Path, steps: int = 2, *overrides: str) -> pathlib.Path:
    """``jaxrobot train`` in its own process on one CPU device (as a user runs it)."""
    env = dict(os.environ)
    env["XLA_FLAGS"] = " ".join(f for f in env.get("XLA_FLAGS", "").split()
                                if not f.startswith("--xla_force_host_platform_device_count"))
    spec = experiment if ".py" in experiment else f"{experiment}.py"  # a recipe variant: "file.py:variant"
    cmd = [sys.executable, "-m", "jaxrobot.cli", "train", "--config", str(REPO / "experiments" / spec),
           "--workdir", str(workdir), "--steps", str(steps), "--checkpoint-every", str(steps), "--no-progress"]
    for o in overrides:
        cmd += ["--set", o]
    proc = subprocess.run(cmd, capture_output=True, text=True, timeout=900, env=env, cwd=REPO)
    assert proc.returncode == 0, proc.stderr[-3000:]
    return workdir
