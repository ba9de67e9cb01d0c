"""Pose-error estimators for peg insertion by servoing (``peg_servo``, 4-DoF gripper): IBVS on the marker
centroids and the deep servo net.

An estimator maps one environment's visual observation (:func:`~jaxrobot.skills.servoing.evaluate_peg.
visual_obs`: ``proprio``, ``image_eye``, ``depth_eye``) and the goal view to the camera twist that would reach
the goal view in one second (λ = 1/s, i.e. an estimate of the pose error) and a validity flag::

    estimator(obs: dict, goal: dict) -> (twist4 [vx, vy, vz, ωz] camera frame, valid)

The gripper has four DoF (x, y, z, yaw), so only the translation and the rotation about the optical axis
(parallel to the yaw axis) are estimated. Both estimators are valid only while at least three of the four
markers are visible (``min_pixels`` each) in the current and the goal image, found by the same colour
segmentation; otherwise the twist is zero and the policy holds (and aborts at the end of its budget) instead
of converging on a guess.
"""

from __future__ import annotations

from collections.abc import Callable
from typing import Any

Estimator = Callable[[dict, dict], Any]


def markers_visible(obs: dict, goal: dict, min_pixels: int = 4):
    """(per-marker visibility [4], valid): a marker counts if its colour mask
    (:func:`~jaxrobot.sim.tasks.servo_target.marker_masks`) has ``min_pixels`` or more pixels in both the
    current and the goal image; the view is usable with three or more."""
    import jax.numpy as jnp

    from jaxrobot.sim.tasks.servo_target import marker_masks

    ok = ((marker_masks(obs["image_eye"]).sum((1, 2)) >= min_pixels)
          & (marker_masks(goal["image"]).sum((1, 2)) >= min_pixels))
    return ok, jnp.sum(ok) >= 3


def ibvs_estimator(env, min_pixels: int = 4) -> Estimator:
    """4-DoF IBVS (Chaumette & Hutchinson 2006, :mod:`jaxrobot.vision.ibvs`) on the marker centroids.

    Features: colour-mask centroids and mean depths of the four markers
    (:func:`~jaxrobot.sim.tasks.servo_target.marker_features`) in the current and goal RGB-D images; the
    interaction matrix at the current features and depths keeps the columns of (vx, vy, vz, ωz), and the
    twist is ``-L̂⁺ e`` (λ = 1). A marker with fewer than ``min_pixels`` pixels in either image is dropped
    from the law; with fewer than three left the estimate is invalid and the twist zero.
    """
    import jax.numpy as jnp

    from jaxrobot.sim.tasks.servo_target import marker_features
    from jaxrobot.vision.ibvs import interaction_matrix

    k = env.intrinsics
    cols = jnp.array([0, 1, 2, 5])

    def estimator(obs, goal):
        s, z, n = marker_features(obs["image_eye"], obs["depth_eye"], k)
        s_star, _, n_star = marker_features(goal["image"], goal["depth"], k)
        ok = (n >= min_pixels) & (n_star >= min_pixels)
        valid = jnp.sum(ok) >= 3
        lhat = interaction_matrix(s, jnp.where(ok, z, 1.0))[:, cols]
        w = jnp.repeat(ok.astype(jnp.float32), 2)
        e = (s - s_star).reshape(-1) * w
        return jnp.where(valid, -jnp.linalg.pinv(lhat * w[:, None]) @ e, 0.0), valid

    return estimator


def deep_estimator(model, params, min_pixels: int = 4) -> Estimator:
    """The deep servo net (:class:`~jaxrobot.models.servo.ServoModel`) on (current, goal) eye images; trained
    on pose-based labels ``log(T_cur⁻¹ T_goal)`` (λ = 1/s), its twist estimates the pose error itself.

    The net always outputs *some* twist, so validity comes from the images: as for IBVS, at least three
    markers must be visible (``min_pixels`` each) in both the current and the goal image
    (:func:`markers_visible`); otherwise the estimate is invalid and the twist zero, so the policy never
    converges and descends on a view without markers.
    """
    import jax.numpy as jnp

    def estimator(obs, goal):
        batch = {"observation/image": obs["image_eye"][None], "observation/goal_image": goal["image"][None]}
        t = model.predict(params, batch)[0][jnp.array([0, 1, 2, 5])]
        _, valid = markers_visible(obs, goal, min_pixels)
        return jnp.where(valid, t, 0.0), valid

    return estimator
