"""Real multi-process training with jax.distributed on localhost (CPU collectives)."""

import os
import pathlib
import socket
import subprocess
import sys

import jax
import numpy as np
import pytest

from jaxrobot.train import checkpoint as ckpt_lib
from jaxrobot.train.distributed import cluster_detected

ROOT = pathlib.Path(__file__).resolve().parents[2]
EXPERIMENT = str(ROOT / "experiments" / "bc_synthetic.py")
COMMON = ["--config", EXPERIMENT, "--steps", "20", "--no-progress", "--set", "train.log_every=10",
          "--set", "train.batch_size=32"]


def free_port() -> int:
    with socket.socket() as s:
        s.bind(("localhost", 0))
        return s.getsockname()[1]


def env(devices: int, **extra):
    e = {k: v for k, v in os.environ.items() if not k.startswith(("SLURM_", "OMPI_"))}
    e["XLA_FLAGS"] = f"--xla_force_host_platform_device_count={devices}"
    e.update(extra)
    return e


def run_processes(cmds_envs, timeout=300):
    procs = [subprocess.Popen(c, env=e, stdout=subprocess.PIPE, stderr=subprocess.PIPE, text=True)
             for c, e in cmds_envs]
    outs = []
    for p in procs:
        try:
            out, err = p.communicate(timeout=timeout)
        except subprocess.TimeoutExpired:
            for q in procs:
                q.kill()
            raise
        assert p.returncode == 0, err[-3000:]
        outs.append(out)
    return outs


def params(workdir):
    return jax.tree.leaves(ckpt_lib.restore_arrays(workdir)[1]["params"])


@pytest.fixture(scope="module")
def single(tmp_path_factory):
    workdir = tmp_path_factory.mktemp("single")
    run_processes([([sys.executable, "-m", "jaxrobot.cli", "train", "--workdir", str(workdir), *COMMON], env(1))])
    return params(workdir)


def test_two_processes_match_one_process(single, tmp_path):
    port = free_port()
    cmds = [([sys.executable, "-m", "jaxrobot.cli", "train", "--workdir", str(tmp_path), *COMMON,
              "--coordinator", f"localhost:{port}", "--num-processes", "2", "--process-id", str(i)], env(2))
            for i in range(2)]
    outs = run_processes(cmds)
    assert "TRAIN_SUMMARY" in outs[0] and "TRAIN_SUMMARY" not in outs[1]  # process 0 reports
    for a, b in zip(params(tmp_path), single, strict=True):
        np.testing.assert_allclose(a, b, atol=1e-5, rtol=1e-5)


def test_simulated_slurm_start_up(single, tmp_path):
    """Fake SLURM_* variables: jax.distributed auto-detects the cluster, two tasks train together."""
    job = 40_000 + free_port() % 4096  # the coordinator port derives from the job id
    slurm = lambda i: {"SLURM_JOB_ID": str(job), "SLURM_NTASKS": "2", "SLURM_PROCID": str(i),
                       "SLURM_LOCALID": str(i), "SLURM_STEP_NODELIST": "localhost", "SLURM_STEP_NUM_NODES": "1"}
    assert cluster_detected(slurm(0)) == "slurm"
    assert cluster_detected({}) is None
    cmds = [([sys.executable, "-m", "jaxrobot.cli", "train", "--workdir", str(tmp_path), *COMMON],
             env(1, **slurm(i))) for i in range(2)]
    run_processes(cmds)
    for a, b in zip(params(tmp_path), single, strict=True):
        np.testing.assert_allclose(a, b, atol=1e-5, rtol=1e-5)
