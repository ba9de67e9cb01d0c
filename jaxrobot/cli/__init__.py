"""The ``jaxrobot`` command: one module per command group, each parsing arguments and calling the library.

Each group module exposes ``register(subparsers)`` and imports the library lazily inside its handlers, so
``jaxrobot --help`` stays fast. No library module imports this package. Before a handler runs,
:mod:`jaxrobot.catalog` is imported so every config kind is known and a checkpoint's saved config rebuilds
(``data`` needs none; ``train`` imports it after ``jax.distributed.initialize``).
"""

from __future__ import annotations

import argparse
import sys

from jaxrobot.cli import data, eval, export, grasp, model, pose, servo, sim, train
from jaxrobot.cli.errors import CliError

__all__ = ["CliError", "build_parser", "main"]

# The command groups, in the order --help shows them (train.register adds both `train` and `ckpt`).
GROUPS = (train, model, data, sim, eval, export, grasp, pose, servo)
# Groups that do not import the catalog before their handler runs: `data` needs no model or task; `train`
# imports it itself, after jax.distributed.initialize (which must come before anything starts the XLA backend).
_NO_CATALOG = {"data", "train"}


def build_parser() -> argparse.ArgumentParser:
    parser = argparse.ArgumentParser(prog="jaxrobot", description="JAX training framework for robot learning.")
    sub = parser.add_subparsers(dest="command", required=True)
    for group in GROUPS:
        group.register(sub)
    return parser


def main(argv: list[str] | None = None) -> int:
    from jaxrobot import platform

    platform.configure()
    parser = build_parser()
    args = parser.parse_args(argv)
    try:
        if args.command not in _NO_CATALOG:
            import jaxrobot.catalog  # noqa: F401  (every config kind, for configs saved in checkpoints)
        return int(args.func(args) or 0)
    except CliError as e:
        print(f"error: {e}", file=sys.stderr)
        return 2
    except KeyboardInterrupt:
        return 130
    except Exception as e:  # library errors that already explain themselves
        from jaxrobot.config import ConfigError
        from jaxrobot.data.base import DataError

        if isinstance(e, (ConfigError, DataError, FileNotFoundError)):
            print(f"error: {e}", file=sys.stderr)
            return 2
        raise


if __name__ == "__main__":
    sys.exit(main())
