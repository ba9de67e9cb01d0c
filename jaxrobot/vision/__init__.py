"""Geometric vision below the models: the camera model, IBVS, and the representations the skill networks
decode into.

Modules: ``camera`` (pinhole model, OpenCV conventions, point projection), ``ibvs`` (control law and kinematic
simulator), ``grasp_repr`` (planar grasps and training maps), ``grasp_decode`` (maps → top-k grasps → 3-D
gripper poses), ``grasp_candidates`` (aligned crops, antipodal sampling, best-of-N, CEM), ``pose_voting``
(keypoint Hough voting) and ``pose_metrics`` (ADD/ADD-S, Kabsch). They sit here rather than in
``jaxrobot.skills`` because the networks in ``jaxrobot.models`` (``grasp``, ``pose``) decode with them and
models sit below skills; each skill's data, labelling, metrics and evaluation live in ``jaxrobot.skills``.
"""
