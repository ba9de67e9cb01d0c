"""The Franka Emika Panda: where its model lives and the names and numbers every arm task and the IK share.

Model: ``jaxrobot/sim/assets/franka_panda/`` (mesh-free, derived from MuJoCo Menagerie's ``mjx_panda.xml``;
see its README for the changes and the license). The first 7 entries of ``qpos`` in ``panda_primitive.xml``
(and in the scenes that include it) are the arm joints ``joint1`` ... ``joint7``; then the two finger slides.
Actuators 1-7 are joint position servos, actuator 8 drives both fingers (0 = closed, 0.04 m = open per
finger). Numbers here are read off the XML, as MuJoCo Playground keeps a robot's numbers in
``<robot>_constants.py`` (``mujoco_playground/_src/manipulation/franka_emika_panda/panda.py``).

On XLA:CPU this arm needs ``--xla_cpu_use_fusion_emitters=false`` (``jaxrobot.platform.configure``).
"""

from __future__ import annotations

import pathlib

import mujoco
import numpy as np

ASSET_DIR = pathlib.Path(__file__).resolve().parent / "assets" / "franka_panda"
#: The arm and hand alone (what ``jaxrobot sim ik-check`` reports as ``model_xml``).
ARM_XML = ASSET_DIR / "panda_primitive.xml"
#: Floor, the arm and a 4 x 4 x 6 cm cube; keyframes ``home`` and ``pickup``.
SCENE_PICK_CUBE_XML = ASSET_DIR / "scene_pick_cube.xml"
#: Floor (no contacts), the arm and a hole fixture (mocap body ``hole``); keyframe ``start``. The peg is
#: added to the hand by ``jaxrobot.sim.tasks.panda_peg_insertion``.
SCENE_PEG_INSERTION_XML = ASSET_DIR / "scene_peg_insertion.xml"

#: Arm joints in kinematic order (``qpos[:7]``).
JOINTS = tuple(f"joint{i}" for i in range(1, 8))
#: Tool centre point: between the finger tips, 0.1 m along the hand's z axis from the flange.
TCP_SITE = "gripper"
#: The ``home`` keyframe's arm configuration (radians): TCP at ~(0.68, 0, 0.38), pointing down (7° tilted).
HOME_Q = np.array([0.0, 0.3, 0.0, -1.57079, 0.0, 2.0, -0.7853], np.float32)
#: Finger opening when fully open (one finger's slide, metres); actuator 8's range is [0, OPEN].
OPEN = 0.04

#: Gripper width (distance between the finger pads) when fully open: both finger slides at ``OPEN``. Arm
#: tasks observe and command the *width*; actuator 8's control is one finger's slide, ``width / 2``.
WIDTH_OPEN = 2 * OPEN

# ---------------------------------------------------------------- cameras (added to the scenes by MjSpec)

#: Observation cameras of the arm tasks, in the order tasks list them.
CAMERAS = ("scene", "wrist")
#: Third-person camera on a fixed mount in front of the robot and to its left (+y), looking down at the cube's
#: nominal position (0.5, 0): the oblique view of the external cameras of typical tabletop setups, close
#: enough that a 64 px image resolves
#: the 4 cm cube (~5 px) and the fingers. MuJoCo Playground's ``mjx_single_cube_camera.xml`` "front" camera
#: (pos 1.2 0 1, fovy 58) sees the whole arm but leaves the cube ~2 px wide at 64 px.
SCENE_CAMERA_POS = (0.9, 0.3, 0.35)
SCENE_CAMERA_TARGET = (0.48, 0.0, 0.08)
SCENE_CAMERA_FOVY = 50.0
#: Wrist camera on the ``hand`` body (hand frame: z along the fingers, fingers open along y), mounted 6 cm
#: to the side of the finger plane and 2 cm below the flange, looking along the gripper at a point 6 cm
#: beyond the fingertips, so both fingers and what lies between them are in view (typical real setups mount a
#: small RGB(-D) camera beside the Franka hand; fovy 60° is in the range of such cameras' vertical fields).
WRIST_CAMERA_POS = (0.06, 0.0, 0.02)
WRIST_CAMERA_TARGET = (0.0, 0.0, 0.16)
WRIST_CAMERA_FOVY = 60.0
#: Geom groups the observation cameras see: the floor, objects and the visual robot geoms (group 2);
#: collision geoms (group 3) and markers moved to group 5 stay hidden.
RENDER_GEOMGROUP = (1, 1, 1, 0, 0, 0)


def look_at_quat(pos, target, up) -> np.ndarray:
    """MuJoCo camera orientation (w, x, y, z; the camera looks along its -z, y up) that looks from ``pos``
    at ``target`` with ``up`` (in the same frame) upwards in the image."""
    pos, target, up = (np.asarray(a, np.float64) for a in (pos, target, up))
    back = pos - target
    z = back / np.linalg.norm(back)
    x = np.cross(up, z)
    x /= np.linalg.norm(x)
    y = np.cross(z, x)
    quat = np.zeros(4)
    mujoco.mju_mat2Quat(quat, np.stack([x, y, z], axis=1).reshape(-1))
    return quat


def add_cameras(spec: mujoco.MjSpec) -> mujoco.MjSpec:
    """Add the ``scene`` (world) and ``wrist`` (on ``hand``) cameras to an arm scene's spec (in place).

    The wrist camera's image is upright when the hand points down with its x axis along world +y (the
    ``home`` pose): image up is the hand's +x (the side the camera is mounted on).
    """
    spec.worldbody.add_camera(name="scene", pos=list(SCENE_CAMERA_POS), fovy=SCENE_CAMERA_FOVY,
                              quat=list(look_at_quat(SCENE_CAMERA_POS, SCENE_CAMERA_TARGET, (0, 0, 1))))
    spec.body("hand").add_camera(name="wrist", pos=list(WRIST_CAMERA_POS), fovy=WRIST_CAMERA_FOVY,
                                 quat=list(look_at_quat(WRIST_CAMERA_POS, WRIST_CAMERA_TARGET, (1, 0, 0))))
    return spec


def hide_markers(spec: mujoco.MjSpec, bodies=("mocap_target",)) -> mujoco.MjSpec:
    """Move the (non-colliding) geoms of marker bodies to group 5, which observation cameras do not see."""
    for name in bodies:
        for geom in spec.body(name).geoms:
            geom.group = 5
    return spec
