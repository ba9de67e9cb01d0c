"""The ``jaxrobot`` command: one module per command group, each parsing arguments and calling the library.

Each group module exposes ``register(subparsers)`` and imports the library lazily inside its handlers, so
``jaxrobot --help`` stays fast. No library module imports this package. Before a handler runs,
:mod:`jaxrobot.catalog` is imported so every config kind is known and a checkpoint's saved config rebuilds
(``data`` needs none; ``train`` imports it after ``jax.distributed.initialize``).
"""

from __future__ import annotations

import argparse
import os
import sys

from jaxrobot.cli import data, errors, eval, export, grasp, model, plot, pose, record, rl, servo, sim, train
from jaxrobot.cli.errors import CliError

__all__ = ["CliError", "build_parser", "main"]

# The command groups, in the order --help shows them (train.register adds both `train` and `ckpt`).
GROUPS = (train, model, data, sim, record, eval, rl, export, grasp, pose, servo, plot)
# Groups that do not import the catalog before their handler runs: `data` and `plot` need no model or task;
# `train` imports it itself, after jax.distributed.initialize (which must come before anything starts the XLA backend).
_NO_CATALOG = {"data", "train", "plot"}


def build_parser() -> argparse.ArgumentParser:
    parser = argparse.ArgumentParser(prog="jaxrobot", description="JAX training framework for robot learning.",
                                     epilog="Errors print one short message; --debug (anywhere on the line) or "
                                            "JAXROBOT_DEBUG=1 shows the Python traceback instead.")
    parser.add_argument("--debug", action="store_true", help="show Python tracebacks of errors")
    sub = parser.add_subparsers(dest="command", required=True)
    for group in GROUPS:
        group.register(sub)
    return parser


def main(argv: list[str] | None = None) -> int:
    from jaxrobot import platform

    if argv is None:  # started as a program (not called from Python): the allocator setting needs a fresh start
        platform.reexec_with_fast_allocator()
    argv = list(sys.argv[1:] if argv is None else argv)
    debug = "--debug" in argv or os.environ.get("JAXROBOT_DEBUG", "") not in ("", "0")
    argv = [a for a in argv if a != "--debug"]
    platform.configure()
    if not debug:
        errors.quiet_library_logs()
    args = build_parser().parse_args(argv)
    try:
        if args.command not in _NO_CATALOG:
            import jaxrobot.catalog  # noqa: F401  (every config kind, for configs saved in checkpoints)
        return int(args.func(args) or 0)
    except BrokenPipeError:  # `jaxrobot data inspect ... | head`: the reader left; leave quietly, as `cat` does
        os.dup2(os.open(os.devnull, os.O_WRONLY), sys.stdout.fileno())
        return 141
    except BaseException as e:  # noqa: BLE001 - every failure becomes a short message unless --debug
        if debug or isinstance(e, SystemExit):
            raise
        message, code = errors.describe(e)
        print(message, file=sys.stderr)
        return code


if __name__ == "__main__":
    sys.exit(main())
