"""Visual servoing closed loop in MJX: the ``servo_target`` / ``peg_servo`` pair datasets, controller evaluation
(``evaluate``) and peg insertion by servoing (``peg``).

The control laws and the servo network are pure (``jaxrobot.vision.ibvs``, ``jaxrobot.models.servo``); this
package joins them to the simulator, as ``jaxrobot.grasping`` does for grasp networks.
"""
