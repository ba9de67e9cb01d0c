"""Synthetic top-down depth scenes with analytic grasp labels (numpy), for tests and benchmarks.

Boxes of random size and yaw stand on a table seen straight down; the label of each box is the grasp
across its short side (centre = box centre, closing axis along the short side, opening = short side
plus a margin, jaw = a third of the long side). Not a substitute for physics-labelled grasps from
simulation; it gives the map networks something learnable with a known answer.
"""

from __future__ import annotations

import numpy as np

from jaxrobot.vision.grasp_repr import PlanarGrasps, make_grasps, pad_grasps


def box_scene(rng: np.random.Generator, height: int = 32, width: int = 32, num_boxes: int = 1,
              table_depth: float = 0.6, size_range: tuple[float, float] = (4.0, 10.0),
              box_height: tuple[float, float] = (0.03, 0.08), margin: float = 2.0,
              max_grasps: int | None = None) -> tuple[np.ndarray, PlanarGrasps]:
    """One scene: depth [H, W] float32 (m) and its grasps [max_grasps or num_boxes] (padded).

    Boxes are placed left to right in equal vertical strips, so they do not overlap.
    """
    v, u = np.mgrid[0:height, 0:width].astype(np.float32)
    depth = np.full((height, width), table_depth, np.float32)
    centers, angles, widths, jaws = [], [], [], []
    strip = width / num_boxes
    for i in range(num_boxes):
        half_long = rng.uniform(*size_range)
        half_short = rng.uniform(size_range[0] * 0.5, min(half_long, size_range[0] * 0.5 + 3))
        yaw = rng.uniform(-np.pi / 2, np.pi / 2)
        reach = half_long + 1
        cu = rng.uniform(i * strip + min(reach, strip / 2), (i + 1) * strip - min(reach, strip / 2))
        cv = rng.uniform(min(reach, height / 2), height - min(reach, height / 2))
        du, dv = u - cu, v - cv
        long_axis = np.array([np.cos(yaw), np.sin(yaw)])
        a = du * long_axis[0] + dv * long_axis[1]
        b = -du * long_axis[1] + dv * long_axis[0]
        inside = (np.abs(a) <= half_long) & (np.abs(b) <= half_short)
        depth[inside] = table_depth - rng.uniform(*box_height)
        centers.append([cu, cv])
        angles.append(yaw + np.pi / 2)  # close across the short side
        widths.append(2 * half_short + 2 * margin)
        jaws.append(2 * half_long / 3)
    grasps = make_grasps(np.array(centers, np.float32), np.array(angles, np.float32),
                         np.array(widths, np.float32), np.array(jaws, np.float32))
    if max_grasps is not None:
        grasps = pad_grasps(grasps, max_grasps)
    return depth, grasps


# ---------------------------------------------------------------- visual-servoing pairs

# Four coloured target points (red, green, blue, white) so the image pair has no symmetry ambiguity.
POINT_COLOURS = np.array([[255, 0, 0], [0, 255, 0], [0, 0, 255], [255, 255, 255]], np.float32)


def render_points(uv: np.ndarray, height: int, width: int, sigma: float = 0.8,
                  colours: np.ndarray = POINT_COLOURS) -> np.ndarray:
    """uint8 [..., H, W, 3] images of points uv [..., N, 2] drawn as Gaussian dots of the given colours."""
    uv = np.asarray(uv, np.float32)
    v, u = np.mgrid[0:height, 0:width].astype(np.float32)
    du = u - uv[..., 0, None, None]  # [..., N, H, W]
    dv = v - uv[..., 1, None, None]
    dots = np.exp(-(du**2 + dv**2) / (2 * sigma**2))
    img = np.einsum("...nhw,nc->...hwc", dots, colours[: uv.shape[-2]])
    return np.clip(img, 0, 255).astype(np.uint8)


def servo_pairs(rng: np.random.Generator, n: int, size: int = 32, focal: float = 40.0, half_side: float = 0.1,
                distance: float = 0.5, max_translation: float = 0.04, max_rotation: float = 0.25,
                lam: float = 1.0, mode: str = "mean") -> dict[str, np.ndarray]:
    """``n`` (current, goal) image pairs of a 4-point planar target with IBVS twist labels.

    The goal camera looks at the target from ``distance`` m with a random roll; the current camera is
    the goal displaced by a uniform random body twist (translation ≤ ``max_translation`` m, rotation
    ≤ ``max_rotation`` rad per axis). The label is ``ibvs_velocity`` with true depths in ``mode``.
    Returns the servo batch layout of :mod:`jaxrobot.models.servo` (numpy).
    """
    import jax
    import jax.numpy as jnp

    from jaxrobot.vision import camera as cam_lib
    from jaxrobot.vision.ibvs import ibvs_velocity, project_normalized, se3_exp

    cam = cam_lib.make_camera(focal, focal, (size - 1) / 2, (size - 1) / 2)
    pts = jnp.array([[-1, -1, 0], [1, -1, 0], [1, 1, 0], [-1, 1, 0]], jnp.float32) * half_side
    base = cam_lib.look_at((0.0, 0.0, distance), (0.0, 0.0, 0.0), up=(0.0, 1.0, 0.0))
    roll = rng.uniform(-np.pi / 4, np.pi / 4, n)
    xi = np.concatenate([rng.uniform(-max_translation, max_translation, (n, 3)),
                         rng.uniform(-max_rotation, max_rotation, (n, 3))], 1)

    def one(roll, xi):
        goal = base @ se3_exp(jnp.zeros(6).at[5].set(roll))
        cur = goal @ se3_exp(xi)
        s, z = project_normalized(cur, pts)
        s_star, z_star = project_normalized(goal, pts)
        v, _ = ibvs_velocity(s, s_star, z, z_star, lam, mode)
        return cam_lib.normalized_to_pixel(cam, s), cam_lib.normalized_to_pixel(cam, s_star), v

    uv, uv_star, twist = jax.jit(jax.vmap(one))(jnp.asarray(roll, jnp.float32), jnp.asarray(xi, jnp.float32))
    uv, uv_star = np.asarray(uv), np.asarray(uv_star)
    return {"observation/image": render_points(uv, size, size),
            "observation/goal_image": render_points(uv_star, size, size),
            "servo/twist": np.asarray(twist, np.float32)}
