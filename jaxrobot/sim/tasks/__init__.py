"""The built-in tasks, one module each; :mod:`jaxrobot.sim.registry` is their table."""
