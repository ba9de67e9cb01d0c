"""``jaxrobot export``: a checkpoint to an ONNX / TFLite bundle with its parity report.

    jaxrobot export --workdir DIR --out BUNDLE --format onnx,tflite [--precision fp32,fp16,int8]

Exit status 0 when every artifact was written and passed its parity check, 2 with one ``error:`` line
(the op that cannot convert and where it comes from, or the parity numbers) otherwise.
"""

from __future__ import annotations

import argparse
import json


def _csv(text: str) -> list[str]:
    return [t.strip() for t in text.split(",") if t.strip()]


def register(subparsers) -> None:
    p = subparsers.add_parser("export", help="export a checkpoint to ONNX / TFLite with parity checks",
                              description=__doc__, formatter_class=argparse.RawDescriptionHelpFormatter)
    p.add_argument("--workdir", required=True, help="training run folder (holds checkpoints/)")
    p.add_argument("--out", required=True, help="bundle folder to write (atomically)")
    p.add_argument("--format", default="onnx", type=_csv, help="comma list of onnx, tflite (default onnx)")
    p.add_argument("--precision", default="fp32", type=_csv,
                   help="comma list of fp32, fp16, int8 (dynamic range), int8_full (calibrated); applies to "
                        "TFLite, ONNX is always fp32 (default fp32)")
    p.add_argument("--opset", type=int, default=20, help="ONNX opset: 20 (TensorRT 10, JetPack 6) or 17 (JetPack 5)")
    p.add_argument("--step", type=int, default=None, help="checkpoint step (default: latest)")
    p.add_argument("--no-ema", action="store_true", help="export the raw params even if EMA params exist")
    p.add_argument("--parity-batch", type=int, default=8, help="the larger parity batch size (default 8)")
    p.add_argument("--overwrite", action="store_true", help="replace an existing bundle")
    p.add_argument("--json", action="store_true", help="print the parity report as JSON")
    p.set_defaults(func=_export)


def _export(args) -> int:
    from jaxrobot.cli.errors import CliError
    from jaxrobot.export.bundle import export_checkpoint
    from jaxrobot.export.errors import ExportError

    try:
        report = export_checkpoint(args.workdir, args.out, formats=args.format, precisions=args.precision,
                                   opset=args.opset, step=args.step, use_ema=not args.no_ema,
                                   parity_batch=args.parity_batch, overwrite=args.overwrite)
    except ExportError as e:
        raise CliError(str(e)) from None
    if args.json:
        print(json.dumps(report, sort_keys=True))
    else:
        worst = max((v["max_abs_err"] for v in report.values() if v["precision"] == "fp32"), default=float("nan"))
        print(f"EXPORT_SUMMARY {json.dumps({'out': args.out, 'artifacts': len(report), 'fp32_max_abs_err': worst})}")
    return 0
