"""Built-in tasks; importing this package registers them with :mod:`jaxrobot.sim.registry`."""

from jaxrobot.sim.registry import register
from jaxrobot.sim.tasks.pick_cube import PickCube, PickCubeConfig

register("pick_cube", PickCube, PickCubeConfig())
