"""6-DoF object pose in MJX: rendered known-object scenes, PoseCNN-style estimation, evaluation, and
picking by pose (``jaxrobot pose eval``)."""
