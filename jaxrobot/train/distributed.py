"""Multi-host start-up with ``jax.distributed``.

Explicit flags win (coordinator address, process count and id); otherwise, when the environment shows a
cluster (SLURM with more than one task, Open MPI, a TPU pod, or JAX_COORDINATOR_ADDRESS), call
``jax.distributed.initialize()`` with no arguments and let JAX auto-detect it. A single-process run is
left alone. Must run before anything touches the JAX backend.
"""

from __future__ import annotations

import dataclasses
import os

import jax


@dataclasses.dataclass(frozen=True)
class DistributedArgs:
    coordinator: str | None = None
    num_processes: int | None = None
    process_id: int | None = None
    local_device_ids: tuple[int, ...] | None = None


def cluster_detected(env=None) -> str | None:
    """Name of the cluster environment JAX would auto-detect, or None for a plain single process."""
    env = os.environ if env is None else env
    if env.get("JAX_COORDINATOR_ADDRESS"):
        return "env"
    if int(env.get("SLURM_NTASKS", "1") or 1) > 1 and "SLURM_JOB_ID" in env:
        return "slurm"
    if int(env.get("OMPI_COMM_WORLD_SIZE", "1") or 1) > 1:
        return "openmpi"
    if env.get("TPU_WORKER_HOSTNAMES") and "," in env.get("TPU_WORKER_HOSTNAMES", ""):
        return "tpu"
    return None


def initialize(args: DistributedArgs | None = None) -> bool:
    """Start ``jax.distributed`` if asked or if a cluster is detected. Returns True when started."""
    args = args or DistributedArgs()
    if args.coordinator:
        if args.num_processes is None or args.process_id is None:
            raise ValueError("--coordinator needs --num-processes and --process-id")
        jax.distributed.initialize(
            coordinator_address=args.coordinator, num_processes=args.num_processes,
            process_id=args.process_id,
            local_device_ids=list(args.local_device_ids) if args.local_device_ids is not None else None)
        return True
    if cluster_detected() is not None:
        kwargs = {}
        if args.local_device_ids is not None:
            kwargs["local_device_ids"] = list(args.local_device_ids)
        jax.distributed.initialize(**kwargs)
        return True
    return False
