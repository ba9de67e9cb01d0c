"""The robot every manipulation task drives: a Cartesian parallel-gripper gantry over a box table.

Slide x / y / z and a yaw hinge carry the gripper base; two coupled finger slides (0 = closed, ``OPEN`` =
open) carry box pads; position actuators drive all of them. The constants are read from
``jaxrobot/sim/assets/gripper_cube/gripper_cube.xml``; the ``peg_insertion``, ``peg_servo`` and
``grasp_objects`` scenes copy that gripper and table, so every task takes its numbers from here (as MuJoCo
Playground keeps a robot's numbers in ``<robot>_constants.py``, e.g.
``mujoco_playground/_src/manipulation/aloha/aloha_constants.py``).
"""

from __future__ import annotations

import numpy as np

#: Gripper base body position at joint zero.
BASE_POS = np.array([0.5, 0.0, 0.75], np.float32)
#: z of the tcp site (between the finger tips) relative to the base.
TCP_OFFSET = -0.075
#: How far the tcp sits below the base (``-TCP_OFFSET``).
TCP_BELOW_BASE = -TCP_OFFSET
#: tcp position at joint zero (the ``home`` keyframe).
HOME_TCP = np.array([0.5, 0.0, 0.75 + TCP_OFFSET], np.float32)
#: Actions are tcp targets in the world frame: actuator controls (joint offsets from the base) + this
#: (x, y, z, yaw, finger opening).
GRIPPER_CTRL_OFFSET = (float(BASE_POS[0]), float(BASE_POS[1]), float(BASE_POS[2] + TCP_OFFSET), 0.0, 0.0)

#: Height of the table top (world z, metres) and the table's centre (x, y).
TABLE_TOP = 0.40
TABLE_CENTER = (0.5, 0.0)

#: Finger opening when fully open (one finger's slide, metres).
OPEN = 0.04
#: A finger pad's inner face sits at |y| = PAD_INNER + opening from the gripper axis.
PAD_INNER = 0.008
#: Finger pad box half sizes (gripper frame) and the height of their centres above the tcp.
PAD_HALF = np.array([0.01, 0.004, 0.035], np.float32)
PAD_CENTRE_Z = 0.025
#: Lowest pad point below the tcp when the gripper is vertical (1 cm).
PAD_BELOW_TCP = PAD_HALF[2] - PAD_CENTRE_Z
