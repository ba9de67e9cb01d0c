"""Entry point of ``bazel run //:cli -- <args>``: the ``jaxrobot`` command from the runfiles tree.

A separate file (not ``jaxrobot/cli.py`` itself) because Bazel puts the main script's folder first on
``sys.path``, and ``jaxrobot/platform.py`` would then shadow the standard library's ``platform``.
"""

import sys

from jaxrobot.cli import main

if __name__ == "__main__":
    sys.exit(main())
