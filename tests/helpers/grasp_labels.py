"""A grasp-labelled dataset made by hand (no physics), for tests of the grasping pipeline's data path."""

from __future__ import annotations

import numpy as np

SIZE = 32


def synthetic_labels(n: int = 6, k: int = 4) -> dict:
    """A labelled dataset without physics: a raised square per image; grasps 0 and 1 (positives) across it,
    grasp 2 (a negative) on top of grasp 0, grasp 3 a negative in empty space."""
    from jaxrobot.vision.camera import camera_from_fovy, look_at

    rng = np.random.default_rng(0)
    depth = np.full((n, SIZE, SIZE), 0.5, np.float32)
    center = np.zeros((n, k, 2), np.float32)
    for i in range(n):
        u, v = rng.integers(10, 22, size=2)
        depth[i, v - 4 : v + 5, u - 4 : u + 5] = 0.45
        center[i] = [[u, v], [u, v + 3], [u, v], [3, 3]]
    angle = np.tile(np.array([0.0, 0.3, 0.0, 1.0], np.float32), (n, 1))
    width = np.full((n, k), 12.0, np.float32)
    success = np.tile(np.array([True, True, False, False]), (n, 1))
    cam = camera_from_fovy(30.0, SIZE, SIZE, look_at((0.5, 0.0, 0.9), (0.5, 0.0, 0.4), up=(1.0, 0.0, 0.0)))
    return {
        "depth": depth,
        "rgb": np.zeros((n, SIZE, SIZE, 3), np.uint8),
        "center": center,
        "angle": angle,
        "width": width,
        "plans": np.zeros((n, k, 5), np.float32),
        "success": success,
        "height": np.zeros((n, k), np.float32),
        "source": np.zeros((n, k), np.int32),
        "on_handle": np.zeros((n, k), bool),
        "categories": np.arange(n) % 3,
        "instance_ids": np.arange(n),
        "qpos": np.zeros((n, 7), np.float32),
        "camera": cam,
        "stats": {"scenes": n, "candidates": k, "success_rate": 0.5},
        "split": "train",
        "seed": 0,
    }
