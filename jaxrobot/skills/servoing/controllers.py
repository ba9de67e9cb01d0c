"""Camera-twist controllers for the ``servo_target`` loop (6-DoF camera): IBVS on the marker centroids and the
deep servo net.

A *controller* maps one environment's observation and goal view to a camera twist [6] (camera frame)::

    controller(obs: dict, goal: dict) -> twist      # goal = {"image": uint8 [S,S,3], "depth": [S,S]}

and is vmapped over environments by :func:`jaxrobot.skills.servoing.evaluate.rollout`.
"""

from __future__ import annotations

from collections.abc import Callable
from typing import Any

Controller = Callable[[dict, dict], Any]


def ibvs_controller(env, lam: float = 1.0, mode: str = "current") -> Controller:
    """IBVS on the four colour-marker centroids (:func:`~jaxrobot.sim.tasks.servo_target.marker_features`).

    Depths come from the depth image (mean over each marker's mask); the goal features and depths from the
    goal image. A marker missing from either image is dropped from the law (its rows zeroed).
    """
    import jax.numpy as jnp

    from jaxrobot.sim.tasks.servo_target import marker_features
    from jaxrobot.vision.ibvs import interaction_matrix

    k = env.intrinsics

    def controller(obs, goal):
        s, z, n = marker_features(obs["image_eye"], obs["depth_eye"], k)
        s_star, z_star, n_star = marker_features(goal["image"], goal["depth"], k)
        ok = (n > 0) & (n_star > 0)
        z = jnp.where(ok, z, 1.0)
        z_star = jnp.where(ok, z_star, 1.0)
        if mode == "current":
            lhat = interaction_matrix(s, z)
        elif mode == "desired":
            lhat = interaction_matrix(s_star, z_star)
        else:
            lhat = 0.5 * (interaction_matrix(s, z) + interaction_matrix(s_star, z_star))
        w = jnp.repeat(ok.astype(jnp.float32), 2)
        e = (s - s_star).reshape(-1) * w
        return -lam * jnp.linalg.pinv(lhat * w[:, None]) @ e

    return controller


def deep_controller(model, params) -> Controller:
    """The deep servo network (:class:`~jaxrobot.models.servo.ServoModel`) on (current, goal) images."""

    def controller(obs, goal):
        batch = {"observation/image": obs["image_eye"][None], "observation/goal_image": goal["image"][None]}
        return model.predict(params, batch)[0]

    return controller
