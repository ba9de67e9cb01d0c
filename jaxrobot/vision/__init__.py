"""Vision for manipulation: camera geometry, planar grasp representation/decoding/metrics, GQ-CNN-style
candidates, IBVS, and synthetic scenes for tests.

Modules: ``camera`` (pinhole model, OpenCV conventions), ``grasp_repr`` (planar grasps and training
maps), ``grasp_decode`` (maps → top-k grasps → 3-D gripper poses), ``grasp_metrics`` (rectangle metric),
``grasp_candidates`` (aligned crops, antipodal sampling, best-of-N, CEM), ``ibvs`` (control law and
kinematic simulator), ``synthetic`` (box scenes and servo image pairs). Networks live in
``jaxrobot.models.grasp`` and ``jaxrobot.models.servo``.
"""
