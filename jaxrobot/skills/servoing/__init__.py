"""Visual servoing closed loop in MJX, one module per job:

- ``dataset``: the ``servo_target_pairs`` / ``peg_servo_pairs`` data sources (rendered pairs, ranges from the
  task configs); ``synthetic``: analytic 4-point pairs;
- ``controllers``: camera-twist controllers for ``servo_target`` (IBVS, deep net); ``evaluate``: their batched
  closed-loop evaluation;
- ``estimators``: pose-error estimators for ``peg_servo`` (IBVS, deep net); ``policies``: servo-then-insert
  and the ground-truth reference; ``evaluate_peg``: batched insertion evaluation and the expert reference;
- ``train``: the quick deep-servo trainer and loading a trained net;
- ``peg``: the former single module, re-exporting the peg names for existing imports.

The control laws and the servo network are pure (``jaxrobot.vision.ibvs``, ``jaxrobot.models.servo``); this
package joins them to the simulator, as ``jaxrobot.skills.grasping`` does for grasp networks.
"""
