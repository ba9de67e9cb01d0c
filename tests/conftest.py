"""Test-wide set-up: 8 fake CPU devices and jaxrobot's XLA flags, before anything imports jax."""

import os
import sys

from jaxrobot import platform

if "jax" not in sys.modules:
    platform.set_cpu_device_count(8)
os.environ.setdefault("JAXROBOT_CACHE", os.path.join(os.path.dirname(__file__), "..", ".cache", "jaxrobot"))
platform.configure()
