"""Built-in tasks; importing this package registers them with :mod:`jaxrobot.sim.registry`."""

from jaxrobot.sim.registry import register
from jaxrobot.sim.tasks import grasp_objects  # noqa: E402,F401  (registers itself)
from jaxrobot.sim.tasks.peg_insertion import PegInsertion, PegInsertionConfig
from jaxrobot.sim.tasks.pick_cube import PickCube, PickCubeConfig
from jaxrobot.sim.tasks.push_t import PushT, PushTConfig

register("pick_cube", PickCube, PickCubeConfig())
register("push_t", PushT, PushTConfig())
register("peg_insertion", PegInsertion, PegInsertionConfig())
