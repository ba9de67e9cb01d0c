#!/bin/bash
# jaxrobot on a Cloud TPU pod slice: the SAME command on every worker; jax.distributed.initialize()
# auto-detects the pod (coordinator, process count and id come from the TPU metadata).
#
#   gcloud compute tpus tpu-vm ssh $TPU --zone $ZONE --worker=all \
#     --command="cd jaxrobot && bash launch/tpu_pod.sh experiments/bc_synthetic.py gs://bucket/runs/bc"
#
# The workdir must be visible to every worker (a gs:// bucket or a shared filesystem).
set -euo pipefail
CONFIG=${1:?config file}
WORKDIR=${2:?shared workdir}
shift 2
exec .venv/bin/jaxrobot train --config "$CONFIG" --workdir "$WORKDIR" --no-progress "$@"
