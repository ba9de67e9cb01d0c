"""The ``jaxrobot`` command. Each subcommand parses arguments and calls library functions.

Subcommand groups live next to the code they drive (``jaxrobot/<package>/commands.py``) and each
exposes ``register(subparsers)``; they are imported lazily so ``jaxrobot --help`` stays fast.
"""

from __future__ import annotations

import argparse
import importlib
import sys

# name -> module providing register(subparsers). Order is the order shown in --help.
COMMAND_MODULES = {
    "train": "jaxrobot.train.commands",
    "ckpt": "jaxrobot.train.commands",
    "model": "jaxrobot.models.commands",
    "data": "jaxrobot.data.commands",
    "sim": "jaxrobot.sim.commands",
    "eval": "jaxrobot.policies.commands",
    "export": "jaxrobot.export.commands",
    "grasp": "jaxrobot.grasping.commands",
    "pose": "jaxrobot.pose.commands",
}


class CliError(Exception):
    """A user-facing error: printed as one line ``error: ...`` with exit status 2."""


def build_parser() -> argparse.ArgumentParser:
    parser = argparse.ArgumentParser(prog="jaxrobot", description="JAX training framework for robot learning.")
    sub = parser.add_subparsers(dest="command", required=True)
    seen = set()
    for module_name in dict.fromkeys(COMMAND_MODULES.values()):
        try:
            module = importlib.import_module(module_name)
        except ModuleNotFoundError as e:
            if e.name == module_name:
                continue  # that part of jaxrobot is not built yet
            raise
        if module_name not in seen:
            module.register(sub)
            seen.add(module_name)
    return parser


def main(argv: list[str] | None = None) -> int:
    from jaxrobot import platform

    platform.configure()
    parser = build_parser()
    args = parser.parse_args(argv)
    try:
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
