"""Grasping in simulation: the physics-labelled grasp dataset source, MJX grasp evaluation, `jaxrobot grasp`.

Kept apart from :mod:`jaxrobot.vision` (pure image-space code) because it ties vision models to the MJX
``grasp_objects`` task, the data layer and checkpoints.
"""
