"""The Face record and its helpers: area, keypoint replacement, 5 points from 68, strict RGB input."""

from __future__ import annotations

import numpy as np
import pytest

from reliableswap.faces.face import ALIGNED_BOX_SCORE, Face, FaceAnalyzer, check_rgb, five_from_68, largest_first


def _face(box: tuple[float, float, float, float], score: float = 0.9) -> Face:
    return Face(np.array(box, np.float64), score, np.zeros((5, 2)))


def test_area_and_with_kps() -> None:
    face = _face((10, 20, 50, 100))
    assert face.area == 40 * 80
    assert _face((10, 10, 5, 50)).area == 0.0  # degenerate box
    moved = face.with_kps(np.arange(10))
    assert moved.kps.shape == (5, 2) and moved.kps.dtype == np.float64 and moved.kps[4, 1] == 9
    assert moved.box is face.box and moved.score == face.score and moved.landmarks68 is None


def test_largest_first_then_by_score() -> None:
    small, big, big_sure = _face((0, 0, 10, 10)), _face((0, 0, 20, 20), 0.5), _face((5, 5, 25, 25), 0.8)
    assert largest_first([small, big, big_sure]) == [big_sure, big, small]


def test_five_from_68_takes_eye_centres_nose_tip_and_mouth_corners() -> None:
    lm = np.zeros((68, 2), np.float32)
    lm[36:42] = (10, 20)
    lm[42:48] = (30, 20)
    lm[30] = (20, 30)
    lm[48], lm[54] = (12, 40), (28, 40)
    np.testing.assert_array_equal(five_from_68(lm), [[10, 20], [30, 20], [20, 30], [12, 40], [28, 40]])
    assert five_from_68(lm).dtype == np.float64


@pytest.mark.parametrize(
    "bad", [np.zeros((8, 8), np.uint8), np.zeros((8, 8, 4), np.uint8), np.zeros((8, 8, 3), np.float32)]
)
def test_check_rgb_rejects_everything_but_uint8_rgb(bad: np.ndarray) -> None:
    with pytest.raises(ValueError, match="uint8 RGB"):
        check_rgb(bad)


def test_check_rgb_returns_contiguous() -> None:
    view = np.zeros((8, 8, 3), np.uint8)[:, ::-1]
    assert check_rgb(view).flags["C_CONTIGUOUS"]


def test_protocol_and_fallback_score() -> None:
    class Stub:
        name = "stub"
        landmarks68 = False

        def detect(self, rgb: np.ndarray) -> list[Face]:
            return []

    assert isinstance(Stub(), FaceAnalyzer)
    assert ALIGNED_BOX_SCORE == -1.0
