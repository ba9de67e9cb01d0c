"""Recording demonstrations: a leader device drives a follower robot at a fixed rate into RLDS.

``jaxrobot record`` (:mod:`jaxrobot.cli.record`) wires four parts, one module each:

- :mod:`~jaxrobot.record.leaders`: what the operator holds, behind one interface (:class:`~.leaders.base.Leader`):
  the scripted ``sim`` operator, ``keyboard`` / ``gamepad`` / ``spacemouse`` end-effector teleoperation, and a
  servo ``arm`` for bilateral joint mirroring. Device I/O (servo buses, HID) lives in :mod:`~.devices`.
- :mod:`~jaxrobot.record.follower`: the robot that obeys; :class:`~.follower.SimFollower` is a task's MuJoCo
  simulation stepped by MuJoCo's C engine in real time (a real robot's driver implements the same interface).
- :mod:`~jaxrobot.record.loop`: the fixed-rate control loop and its timing statistics.
- :mod:`~jaxrobot.record.recorder`: episode control (start / accept / discard / re-record) and the atomic, appending
  RLDS store (:mod:`jaxrobot.data.rlds.appender`).
"""
