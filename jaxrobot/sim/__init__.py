"""MJX simulation: pure vmappable tasks, scripted experts, RLDS demo generation, batched evaluation.

Public entry points (import the submodules; this package itself stays light so the CLI starts fast):
``jaxrobot.sim.registry`` (``load``, ``tasks``), ``jaxrobot.sim.env`` (``Env``, ``State``),
``jaxrobot.sim.demos`` (``generate``), ``jaxrobot.sim.evaluate`` (``evaluate``).

Shared by the tasks (which never import each other's helpers): ``jaxrobot.sim.gantry`` (the Cartesian
gripper gantry's constants), ``jaxrobot.sim.geometry`` (rotation and pose maths), ``jaxrobot.sim.expert_noise``
(the experts' DART noise: config check and draw), ``jaxrobot.sim.randomize`` (domain randomisation).
"""
