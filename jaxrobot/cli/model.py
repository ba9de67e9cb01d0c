"""``jaxrobot model``: facts about a model config without training it."""

from __future__ import annotations


def register(sub) -> None:
    p = sub.add_parser("model", help="model utilities")
    msub = p.add_subparsers(dest="model_command", required=True)
    q = msub.add_parser("params", help="print params=<N> (trainable parameters) for a config")
    q.add_argument("--config", required=True)
    q.add_argument("--set", action="append", default=[], metavar="KEY=VALUE")
    q.set_defaults(func=run_params)


def run_params(args) -> int:
    from jaxrobot.config import load_experiment
    from jaxrobot.models.params import count_params

    cfg = load_experiment(args.config, args.set)
    print(f"params={count_params(cfg)}")
    return 0
