"""``jaxrobot grasp predict`` and ``jaxrobot grasp eval``: argument parsing; the work is in grasp_eval.

Fixed interface (scripts rely on it):

- ``jaxrobot grasp predict --workdir DIR --depth FILE.npy [--rgb FILE.png] --out OUT`` writes the top grasps
  as JSON and a PNG with the grasps drawn over the image (``OUT.json`` + ``OUT.png`` when OUT ends in .json or
  .png, else ``OUT/grasps.json`` + ``OUT/grasps.png``); prints the JSON path.
- ``jaxrobot grasp eval --workdir DIR --split {novel_instances,novel_categories} --scenes N --json`` prints
  ONE JSON object on one stdout line: ``success_rate``, ``baseline_success_rate``, ``scenes``, ``ci95``,
  ``per_category`` (plus a few extra keys). Everything else goes to stderr.
"""

from __future__ import annotations

import argparse
import json
import pathlib
import sys


def register(subparsers) -> None:
    g = subparsers.add_parser("grasp", help="grasp detection: predict grasps, evaluate them in MJX")
    sub = g.add_subparsers(dest="grasp_command", required=True)

    p = sub.add_parser("predict", help="top grasps of a depth image as JSON + a PNG with the grasps drawn")
    p.add_argument("--workdir", required=True, help="training workdir with a grasp_maps checkpoint")
    p.add_argument("--depth", required=True, help="depth image .npy [H, W] or [H, W, 1], metres")
    p.add_argument("--rgb", default=None, help="optional PNG to draw on (default: the depth image)")
    p.add_argument("--out", required=True, help="OUT.json / OUT.png, or a directory")
    p.add_argument("--top-k", type=int, default=5)
    p.add_argument("--step", type=int, default=None)
    p.set_defaults(func=_predict)

    p = sub.add_parser("eval", help="grasp success executed in MJX on held-out grasp_objects scenes")
    p.add_argument("--workdir", required=True)
    p.add_argument("--split", choices=("novel_instances", "novel_categories"), default="novel_instances")
    p.add_argument("--scenes", type=int, default=100)
    p.add_argument("--seed", type=int, default=0)
    p.add_argument("--step", type=int, default=None)
    p.add_argument("--chunk", type=int, default=256, help="grasps per compiled MJX call (<= 512)")
    p.add_argument("--json", action="store_true", help="print one JSON line (else a readable summary)")
    p.set_defaults(func=_eval)


def _out_paths(out: str) -> tuple[pathlib.Path, pathlib.Path]:
    p = pathlib.Path(out)
    if p.suffix.lower() in (".json", ".png"):
        return p.with_suffix(".json"), p.with_suffix(".png")
    return p / "grasps.json", p / "grasps.png"


def _predict(args: argparse.Namespace) -> int:
    import numpy as np

    from jaxrobot.cli.errors import CliError

    depth_path = pathlib.Path(args.depth)
    if not depth_path.is_file():
        raise CliError(f"--depth {depth_path}: no such file")
    try:
        depth = np.load(depth_path)
    except ValueError as e:
        raise CliError(f"--depth {depth_path}: not a .npy array ({e})") from e
    if depth.ndim == 3 and depth.shape[-1] == 1:
        depth = depth[..., 0]
    if depth.ndim != 2:
        raise CliError(f"--depth {depth_path}: expected [H, W] or [H, W, 1], got shape {depth.shape}")
    if depth.shape[0] % 4 or depth.shape[1] % 4:
        raise CliError(f"--depth {depth_path}: H and W must be multiples of 4, got {depth.shape}")
    if args.top_k < 1:
        raise CliError(f"--top-k must be >= 1, got {args.top_k}")
    from jaxrobot.skills.grasping import evaluate as grasp_eval

    predictor = grasp_eval.load_predictor(args.workdir, args.step)
    grasps = predictor.grasps(
        depth[None].astype(np.float32),
        k=args.top_k,
        threshold=float(predictor.config.model.quality_threshold),
    )
    one = grasps.replace(
        **{f: getattr(grasps, f)[0] for f in ("center", "angle", "width", "jaw", "quality", "valid")}
    )
    if not bool(np.asarray(one.valid).any()):  # nothing above the threshold: report the best peak anyway
        grasps = predictor.grasps(depth[None].astype(np.float32), k=args.top_k)
        one = grasps.replace(
            **{f: getattr(grasps, f)[0] for f in ("center", "angle", "width", "jaw", "quality", "valid")}
        )
    camera = predictor.camera
    if camera is not None and (camera.width, camera.height) != (depth.shape[1], depth.shape[0]):
        camera = None  # another image size: pixel grasps only
    items = grasp_eval.grasps_to_json(one, depth, camera)
    if args.rgb:
        from PIL import Image

        rgb_path = pathlib.Path(args.rgb)
        if not rgb_path.is_file():
            raise CliError(f"--rgb {rgb_path}: no such file")
        image = np.asarray(Image.open(rgb_path).convert("RGB"))
        if image.shape[:2] != depth.shape:
            raise CliError(
                f"--rgb {rgb_path}: size {image.shape[:2]} differs from the depth image {depth.shape}"
            )
    else:
        image = grasp_eval.depth_to_image(depth)
    json_path, png_path = _out_paths(args.out)
    json_path.parent.mkdir(parents=True, exist_ok=True)
    json_path.write_text(
        json.dumps({"workdir": str(args.workdir), "step": predictor.step, "grasps": items}, indent=2) + "\n"
    )
    grasp_eval.draw_grasps(image, one).save(png_path)
    print(f"{len(items)} grasps; image {png_path}", file=sys.stderr)
    print(json_path)
    return 0


def _eval(args: argparse.Namespace) -> int:
    from jaxrobot.cli.errors import CliError

    if args.scenes < 1:
        raise CliError(f"--scenes must be >= 1, got {args.scenes}")
    if not 1 <= args.chunk <= 512:
        raise CliError(f"--chunk must be in [1, 512], got {args.chunk}")
    import faulthandler

    from jaxrobot.skills.grasping import evaluate as grasp_eval

    predictor = grasp_eval.load_predictor(args.workdir, args.step)
    try:
        faulthandler.dump_traceback_later(900 + 5 * args.scenes, exit=True, file=sys.__stderr__)
    except (AttributeError, ValueError, OSError):
        pass
    try:
        result = grasp_eval.evaluate_grasping(
            predictor,
            args.split,
            args.scenes,
            seed=args.seed,
            chunk=args.chunk,
            log=lambda m: print(m, file=sys.stderr),
        )
    finally:
        faulthandler.cancel_dump_traceback_later()
    if args.json:
        print(json.dumps(result))
    else:
        print(
            f"{args.split}: success {result['success_rate']:.1%} (95% CI {result['ci95'][0]:.1%}-"
            f"{result['ci95'][1]:.1%}) vs height baseline {result['baseline_success_rate']:.1%} "
            f"on {result['scenes']} scenes"
        )
        for name, c in result["per_category"].items():
            extra = (
                f", handle {c['handle_share']:.0%} / body {c['body_share']:.0%}"
                if "handle_share" in c
                else ""
            )
            print(
                f"  {name}: {c['success_rate']:.1%} vs {c['baseline_success_rate']:.1%} "
                f"({c['scenes']} scenes)"
                f"{extra}"
            )
    return 0
