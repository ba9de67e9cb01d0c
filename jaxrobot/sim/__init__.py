"""MJX simulation: pure vmappable tasks, scripted experts, RLDS demo generation, batched evaluation.

Public entry points (import the submodules; this package itself stays light so the CLI starts fast):
``jaxrobot.sim.registry`` (``load``, ``tasks``), ``jaxrobot.sim.env`` (``Env``, ``State``),
``jaxrobot.sim.demos`` (``generate``), ``jaxrobot.sim.evaluate`` (``evaluate``).
"""
