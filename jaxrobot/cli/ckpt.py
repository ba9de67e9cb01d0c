"""``jaxrobot ckpt import-lerobot``: a LeRobot policy checkpoint (ACT, Diffusion Policy) as a jaxrobot workdir.

    jaxrobot ckpt import-lerobot --in PRETRAINED_DIR --out WORKDIR [--sampler ddim --inference-steps 10] [--json]

``PRETRAINED_DIR`` is a LeRobot 0.4.x ``save_pretrained`` folder (``config.json``, ``model.safetensors`` and the
``policy_preprocessor*`` / ``policy_postprocessor*`` files, or an older one with the statistics in the model).
The new ``WORKDIR`` is what ``jaxrobot train`` writes, so ``jaxrobot eval --workdir`` and ``jaxrobot export
--workdir`` take it. The ``ckpt`` group itself is created by :mod:`jaxrobot.cli.train`.
"""

from __future__ import annotations

import json


def register(ckpt_sub) -> None:
    """Add ``import-lerobot`` to the ``jaxrobot ckpt`` sub-commands."""
    p = ckpt_sub.add_parser("import-lerobot", help="import a LeRobot ACT / Diffusion Policy checkpoint folder",
                            description=__doc__.split("\n\n", 1)[0])
    p.add_argument("--in", dest="source", required=True, help="LeRobot save_pretrained folder (pretrained_model/)")
    p.add_argument("--out", required=True, help="new jaxrobot workdir to write (must not exist)")
    p.add_argument("--sampler", choices=("ddim", "ddpm"), default=None,
                   help="Diffusion Policy: sample with this instead of LeRobot's noise_scheduler_type (export "
                        "needs ddim)")
    p.add_argument("--inference-steps", type=int, default=None,
                   help="Diffusion Policy: denoising steps instead of LeRobot's num_inference_steps")
    p.add_argument("--json", action="store_true", help="print the summary as one JSON line")
    p.set_defaults(func=run_import)


def run_import(args) -> int:
    from jaxrobot.cli.errors import CliError
    from jaxrobot.train.lerobot_checkpoint import import_lerobot

    if args.inference_steps is not None and args.inference_steps < 1:
        raise CliError(f"--inference-steps must be >= 1, got {args.inference_steps}")
    log = (lambda _msg: None) if args.json else print
    summary = import_lerobot(args.source, args.out, sampler=args.sampler, num_inference_steps=args.inference_steps,
                             log=log)
    if args.json:
        print(json.dumps(summary, sort_keys=True))
    return 0
