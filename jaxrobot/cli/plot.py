"""``jaxrobot plot``: PNG plots of runs and studies.

    jaxrobot plot curves W1 [W2 ...] [--label L1 ...] [--metric eval/success_rate] --out curves.png
    jaxrobot plot points results.json --out study.png

``curves`` draws a logged metric against training steps for one or more run folders (success rates with their
Wilson band). ``points`` draws a study, e.g. success against the number of demonstrations, from a JSON file
``{"xlabel": ..., "ylabel": ..., "title": ..., "logx": bool, "goal": float, "series": [{"label": ..., "x": [...],
"y": [...], "lo": [...], "hi": [...]}]}`` (``lo``/``hi``, ``logx``, ``goal``, ``title`` optional).
"""

from __future__ import annotations

import json


def register(sub) -> None:
    p = sub.add_parser("plot", help="PNG plots: learning curves of runs, studies from a JSON table")
    psub = p.add_subparsers(dest="plot_command", required=True)
    c = psub.add_parser("curves", help="a logged metric against training steps, one line per run folder")
    c.add_argument("workdirs", nargs="+", help="training run folders (their metrics.jsonl)")
    c.add_argument("--label", action="append", default=None, help="legend label per run folder (in order)")
    c.add_argument("--metric", default="eval/success_rate", help="metrics.jsonl key (default eval/success_rate)")
    c.add_argument("--title", default="")
    c.add_argument("--out", required=True, help="PNG file to write")
    c.set_defaults(func=cmd_curves)
    pt = psub.add_parser("points", help="a study (y against x, per series) from a JSON file")
    pt.add_argument("table", help="JSON file: {xlabel, ylabel, series: [{label, x, y, lo?, hi?}], ...}")
    pt.add_argument("--out", required=True, help="PNG file to write")
    pt.set_defaults(func=cmd_points)


def cmd_curves(args) -> int:
    from jaxrobot.cli.errors import CliError
    from jaxrobot.plots import read_curve, save_line_plot

    labels = args.label or []
    if labels and len(labels) != len(args.workdirs):
        raise CliError(f"--label given {len(labels)} times for {len(args.workdirs)} run folders")
    try:
        series = [read_curve(w, args.metric, labels[i] if labels else None) for i, w in enumerate(args.workdirs)]
    except ValueError as e:
        raise CliError(str(e)) from None
    success = args.metric == "eval/success_rate"
    out = save_line_plot(args.out, series, xlabel="training step", ylabel=args.metric, title=args.title,
                         ylim=(-0.02, 1.02) if success else None)
    print(out)
    return 0


def cmd_points(args) -> int:
    from jaxrobot.cli.errors import CliError
    from jaxrobot.plots import Series, save_line_plot

    try:
        with open(args.table) as f:
            table = json.load(f)
        series = [Series(s["label"], s["x"], s["y"], s.get("lo"), s.get("hi")) for s in table["series"]]
        xlabel, ylabel = table["xlabel"], table["ylabel"]
    except FileNotFoundError:
        raise CliError(f"{args.table}: no such file") from None
    except (json.JSONDecodeError, KeyError, TypeError, ValueError) as e:
        raise CliError(f"{args.table}: not a plot table ({type(e).__name__}: {e}); expected "
                       '{"xlabel", "ylabel", "series": [{"label", "x", "y"}]}') from None
    out = save_line_plot(args.out, series, xlabel=xlabel, ylabel=ylabel, title=table.get("title", ""),
                         logx=bool(table.get("logx", False)), hline=table.get("goal"),
                         ylim=tuple(table["ylim"]) if "ylim" in table else None)
    print(out)
    return 0
