"""Rotated-rectangle IoU and the rectangle metric against hand-computed cases."""

import numpy as np
import pytest

from jaxrobot.skills.grasping.metrics import (
    grasp_matches,
    image_wise_split,
    object_wise_split,
    polygon_iou,
    rectangle_accuracy,
    top1_correct,
)
from jaxrobot.vision.grasp_repr import grasp_corners, make_grasps


def rect(cx, cy, angle_deg, width, jaw):
    return np.asarray(grasp_corners(make_grasps([[cx, cy]], [np.deg2rad(angle_deg)], [width], [jaw])))[0]


def test_identical_rectangles_iou_one():
    assert polygon_iou(rect(5, 5, 17, 4, 2), rect(5, 5, 17, 4, 2)) == pytest.approx(1.0)


def test_half_overlap():
    a = rect(1, 1, 0, 2, 2)  # [0, 2] x [0, 2]
    b = rect(2, 1, 0, 2, 2)  # [1, 3] x [0, 2]: intersection 2, union 6
    assert polygon_iou(a, b) == pytest.approx(1 / 3)
    assert polygon_iou(a, rect(10, 10, 0, 2, 2)) == 0.0


def test_rotated_90_degrees():
    assert polygon_iou(rect(0, 0, 0, 2, 2), rect(0, 0, 90, 2, 2)) == pytest.approx(1.0)
    # a 4 x 2 rectangle and itself turned by 90°: intersection 2 x 2 = 4, union 8 + 8 - 4
    assert polygon_iou(rect(0, 0, 0, 4, 2), rect(0, 0, 90, 4, 2)) == pytest.approx(1 / 3)


def test_square_and_diamond_octagon():
    # square |x|,|y| <= 1 vs. the same square turned 45°: regular octagon, IoU = 1/sqrt(2)
    assert polygon_iou(rect(0, 0, 0, 2, 2), rect(0, 0, 45, 2, 2)) == pytest.approx(1 / np.sqrt(2))


def test_angle_threshold_and_wrap_around_pi():
    gt = rect(20, 20, -89, 20, 10)[None]
    assert grasp_matches(rect(20, 20, 89, 20, 10), gt)       # 2° apart modulo 180°
    assert grasp_matches(rect(20, 20, 91, 20, 10), gt)       # same grasp written past 90°
    assert not grasp_matches(rect(20, 20, 55, 20, 10), gt)   # 36° apart
    # 29° apart with enough overlap passes; IoU below 0.25 fails even at the same angle
    assert grasp_matches(rect(20, 20, -60, 20, 10), gt)
    assert not grasp_matches(rect(36, 20, -89, 20, 10), gt)


def test_top1_uses_highest_quality_and_accuracy():
    gt = make_grasps([[20.0, 20.0]], [0.0], [20.0], [10.0])
    good = make_grasps([[20.0, 20.0], [5.0, 5.0]], [0.1, 0.0], [20.0, 20.0], quality=[0.9, 0.5])
    bad = make_grasps([[20.0, 20.0], [5.0, 5.0]], [0.1, 0.0], [20.0, 20.0], quality=[0.4, 0.5])
    assert top1_correct(good, gt) and not top1_correct(bad, gt)
    none = make_grasps([[20.0, 20.0]], [0.0], [20.0], valid=[False])
    assert rectangle_accuracy([good, bad, none], [gt, gt, gt]) == pytest.approx(1 / 3)


def test_splits():
    tr, te = image_wise_split(10, 0.3, seed=1)
    assert len(te) == 3 and set(tr) | set(te) == set(range(10)) and not set(tr) & set(te)
    ids = np.array([0, 0, 1, 1, 2, 2, 3, 3, 4, 4])
    tr, te = object_wise_split(ids, 0.4, seed=0)
    assert not set(ids[tr]) & set(ids[te]) and len(set(ids[te])) == 2
