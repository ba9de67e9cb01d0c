"""The rectangle metric for planar grasps, with exact rotated-rectangle IoU (numpy, host side).

Rectangle metric (Jiang, Moseson & Saxena, ICRA 2011; used by GG-CNN and GR-ConvNet on Cornell and
Jacquard): a predicted grasp is correct if, for at least one ground-truth *positive* rectangle, the
angle difference (modulo π) is below 30° and the IoU of the two rectangles exceeds 0.25. Evaluation
takes the top-1 (highest-quality) prediction per image. The IoU is computed exactly by clipping one
convex polygon against the other (Sutherland–Hodgman) and the shoelace area.

Splits: *image-wise* holds out random images; *object-wise* holds out all images of random objects,
which measures generalisation to unseen objects (the harder, more honest number).
"""

from __future__ import annotations

import numpy as np

from jaxrobot.vision.grasp_repr import PlanarGrasps, grasp_corners


def polygon_area(poly: np.ndarray) -> float:
    """Absolute area of a simple polygon [N, 2] (shoelace)."""
    if len(poly) < 3:
        return 0.0
    x, y = poly[:, 0], poly[:, 1]
    return 0.5 * abs(float(np.dot(x, np.roll(y, -1)) - np.dot(y, np.roll(x, -1))))


def _ccw(poly: np.ndarray) -> np.ndarray:
    x, y = poly[:, 0], poly[:, 1]
    signed = np.dot(x, np.roll(y, -1)) - np.dot(y, np.roll(x, -1))
    return poly if signed >= 0 else poly[::-1]


def clip_convex(subject: np.ndarray, clip: np.ndarray) -> np.ndarray:
    """Intersection polygon of convex polygons [N, 2] and [M, 2] (Sutherland–Hodgman)."""
    out = [np.asarray(p, np.float64) for p in _ccw(np.asarray(subject, np.float64))]
    clip = _ccw(np.asarray(clip, np.float64))
    for i in range(len(clip)):
        a, b = clip[i], clip[(i + 1) % len(clip)]
        edge = b - a

        def inside(p, a=a, edge=edge):
            return edge[0] * (p[1] - a[1]) - edge[1] * (p[0] - a[0]) >= -1e-12

        def cross_point(p, q, a=a, edge=edge):
            d = q - p
            denom = edge[0] * d[1] - edge[1] * d[0]
            t = (edge[1] * (p[0] - a[0]) - edge[0] * (p[1] - a[1])) / denom
            return p + t * d

        src, out = out, []
        if not src:
            break
        for j in range(len(src)):
            p, q = src[j - 1], src[j]
            if inside(q):
                if not inside(p):
                    out.append(cross_point(p, q))
                out.append(q)
            elif inside(p):
                out.append(cross_point(p, q))
    return np.array(out, np.float64).reshape(-1, 2)


def polygon_iou(a: np.ndarray, b: np.ndarray) -> float:
    """IoU of two convex polygons [N, 2], [M, 2]."""
    inter = polygon_area(clip_convex(a, b))
    union = polygon_area(np.asarray(a, np.float64)) + polygon_area(np.asarray(b, np.float64)) - inter
    return inter / union if union > 0 else 0.0


def _angle_diff(a: float, b: float) -> float:
    d = abs((a - b + np.pi / 2) % np.pi - np.pi / 2)
    return min(d, np.pi - d)


def _rect_angle(corners: np.ndarray) -> float:
    e = corners[1] - corners[0]
    return float(np.arctan2(e[1], e[0]))


def grasp_matches(pred_corners: np.ndarray, gt_corners: np.ndarray, iou_threshold: float = 0.25,
                  angle_threshold_deg: float = 30.0) -> bool:
    """Rectangle metric for one prediction [4, 2] against ground-truth positives [M, 4, 2] (Cornell
    corner order, edge 0→1 along the closing axis, so its direction is the grasp angle)."""
    gt_corners = np.asarray(gt_corners, np.float64).reshape(-1, 4, 2)
    pa = _rect_angle(np.asarray(pred_corners, np.float64))
    limit = np.deg2rad(angle_threshold_deg)
    for g in gt_corners:
        if _angle_diff(pa, _rect_angle(g)) < limit and polygon_iou(pred_corners, g) > iou_threshold:
            return True
    return False


def top1_correct(pred: PlanarGrasps, gt: PlanarGrasps, **kw) -> bool:
    """Rectangle metric for the highest-quality valid prediction of one image (``pred`` [K]) against
    the valid positives of ``gt`` [M]. An image with no valid prediction counts as wrong."""
    valid = np.asarray(pred.valid)
    if not valid.any():
        return False
    q = np.where(valid, np.asarray(pred.quality), -np.inf)
    i = int(np.argmax(q))
    pc = np.asarray(grasp_corners(pred))[i]
    gc = np.asarray(grasp_corners(gt))[np.asarray(gt.valid)]
    return grasp_matches(pc, gc, **kw)


def rectangle_accuracy(preds: list[PlanarGrasps], gts: list[PlanarGrasps], **kw) -> float:
    """Share of images whose top-1 prediction satisfies the rectangle metric."""
    if len(preds) != len(gts):
        raise ValueError(f"{len(preds)} predictions for {len(gts)} images")
    return float(np.mean([top1_correct(p, g, **kw) for p, g in zip(preds, gts, strict=True)]))


def image_wise_split(num_images: int, test_fraction: float = 0.2, seed: int = 0) -> tuple[np.ndarray, np.ndarray]:
    """(train, test) image indices: a random share of images held out."""
    perm = np.random.default_rng(seed).permutation(num_images)
    n_test = int(round(test_fraction * num_images))
    return np.sort(perm[n_test:]), np.sort(perm[:n_test])


def object_wise_split(object_ids, test_fraction: float = 0.2, seed: int = 0) -> tuple[np.ndarray, np.ndarray]:
    """(train, test) image indices such that no object appears in both: objects are held out whole."""
    object_ids = np.asarray(object_ids)
    objects = np.unique(object_ids)
    perm = np.random.default_rng(seed).permutation(objects)
    held = perm[:int(round(test_fraction * len(objects)))]
    test = np.isin(object_ids, held)
    return np.nonzero(~test)[0], np.nonzero(test)[0]
