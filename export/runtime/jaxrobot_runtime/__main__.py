import sys

from jaxrobot_runtime.cli import main

sys.exit(main())
