"""``python -m jaxrobot.cli ...`` is the ``jaxrobot`` command."""

import sys

from jaxrobot.cli import main

sys.exit(main())
