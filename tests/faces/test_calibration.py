"""The one FFHQ-crop calibration: the aligned box and the 5-point box geometry agree."""

from __future__ import annotations

import numpy as np
import pytest

from reliableswap.faces.alignment import ffhq_template
from reliableswap.faces.calibration import (
    BOX_CENTER_ALONG,
    BOX_SIDE,
    FFHQ_FACE_BOX,
    dlib_box_from_five_points,
    ffhq_face_box,
)


def test_ffhq_face_box_is_the_calibration_in_pixels() -> None:
    np.testing.assert_allclose(ffhq_face_box(256), np.array(FFHQ_FACE_BOX) * 256)
    np.testing.assert_allclose(ffhq_face_box(200, 100), np.array(FFHQ_FACE_BOX) * [200, 100, 200, 100])
    x0, _, x1, _ = FFHQ_FACE_BOX
    assert x0 + x1 == pytest.approx(1.0)  # centred: mirroring is symmetric


@pytest.mark.parametrize("size", [128, 256, 512])
def test_box_from_template_points_reproduces_the_aligned_box(size: int) -> None:
    """The keypoint geometry is derived from the aligned box: on the template they coincide
    (up to the template's 0.2% sideways asymmetry, which the geometry ignores)."""
    box = dlib_box_from_five_points(ffhq_template(size))
    np.testing.assert_allclose(box, ffhq_face_box(size), atol=0.003 * size)
    np.testing.assert_allclose(box[[1, 3]], ffhq_face_box(size)[[1, 3]], atol=1e-3 * size)


def test_geometry_matches_the_earlier_measurement() -> None:
    """A second HOG measurement (196 crops vs the template) gave 0.464 / 2.27: within 0.5%."""
    assert BOX_CENTER_ALONG == pytest.approx(0.464, abs=0.005)
    assert BOX_SIDE == pytest.approx(2.27, rel=0.005)


def test_box_follows_the_keypoints() -> None:
    pts = ffhq_template(256)
    shifted = dlib_box_from_five_points(pts * 2 + 10)
    base = dlib_box_from_five_points(pts)
    assert shifted[2] - shifted[0] == pytest.approx(2 * (base[2] - base[0]))
    assert shifted[2] - shifted[0] == pytest.approx(shifted[3] - shifted[1])  # square
