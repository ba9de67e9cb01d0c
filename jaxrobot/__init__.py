"""jaxrobot."""
