"""The one face record and the one analyzer protocol shared by every stage.

A :class:`Face` is what any detector of the face layer returns, whether it runs in the triplet
builder, in ``test.py`` or in an evaluation protocol: a box, a score, the 5 ArcFace keypoints
(which the FFHQ alignment needs) and, when the analyzer was asked for them, the 68 iBUG
landmarks (which reenactment and the landmark face parser need).

Coordinates are pixel coordinates of the analysed image (pixel centres at integers; boxes have
exclusive ``x1``/``y1``). Analyzers take ``uint8`` RGB ``H x W x 3`` arrays (checked with
:func:`check_rgb`) and return faces largest first.
"""

from __future__ import annotations

from collections.abc import Iterable
from dataclasses import dataclass
from typing import Any, Protocol, runtime_checkable

import numpy as np

__all__ = ["ALIGNED_BOX_SCORE", "Face", "FaceAnalyzer", "check_rgb", "five_from_68", "largest_first"]

#: Score recorded on a face whose box was *assumed* (FFHQ-aligned crop fallback), not detected.
ALIGNED_BOX_SCORE = -1.0


@dataclass(frozen=True)
class Face:
    """One face in pixel coordinates of its image.

    Attributes:
        box: (4,) float64 ``x0, y0, x1, y1`` (``x1``/``y1`` exclusive).
        score: detector confidence (SCRFD: probability; dlib HOG: SVM margin; dlib CNN: mmod
            confidence; :data:`ALIGNED_BOX_SCORE` when the box was assumed, not detected). Not
            comparable across detectors.
        kps: (5, 2) float64, ArcFace order: left eye, right eye (as seen in the image), nose tip,
            left and right mouth corner.
        landmarks68: (68, 2) float32 iBUG landmarks, or ``None`` when not predicted.
    """

    box: np.ndarray
    score: float
    kps: np.ndarray
    landmarks68: np.ndarray | None = None

    @property
    def area(self) -> float:
        """Box area in square pixels (0 for a degenerate box)."""
        x0, y0, x1, y1 = (float(v) for v in self.box)
        return max(0.0, x1 - x0) * max(0.0, y1 - y0)

    def with_kps(self, kps: np.ndarray) -> Face:
        """The same face with (e.g. temporally smoothed) keypoints, reshaped to (5, 2) float64."""
        return Face(self.box, self.score, np.asarray(kps, np.float64).reshape(5, 2), self.landmarks68)


@runtime_checkable
class FaceAnalyzer(Protocol):
    """``detect(rgb uint8 HxWx3) -> faces, largest first`` (empty list when none).

    ``name`` identifies the backend in run reports (e.g. ``scrfd_500m_kps``, ``dlib_hog``);
    ``landmarks68`` says whether the faces it returns carry 68 iBUG landmarks.
    """

    name: str
    landmarks68: bool

    def detect(self, rgb: np.ndarray) -> list[Face]: ...


def check_rgb(rgb: Any) -> np.ndarray:
    """``rgb`` as a C-contiguous uint8 ``H x W x 3`` array; ``ValueError`` for anything else.

    Converting RGBA/grayscale/BGR is the caller's job (e.g. ``reliableswap.io.images.read_rgb``),
    because only the caller knows how its file was decoded.
    """
    img = np.asarray(rgb)
    if img.dtype != np.uint8 or img.ndim != 3 or img.shape[2] != 3:
        raise ValueError(
            f"expected a uint8 RGB image of shape HxWx3, got {img.dtype} {img.shape}; convert "
            "RGBA/grayscale/BGR before analysis (e.g. reliableswap.io.images.read_rgb)"
        )
    return np.ascontiguousarray(img)


def five_from_68(lm68: np.ndarray) -> np.ndarray:
    """The 5 ArcFace points (5, 2) float64 from 68 iBUG landmarks (SCRFD's keypoint convention).

    Eye centres are the means of the eye contours (36-41, 42-47); nose tip is point 30; mouth
    corners are points 48 and 54.
    """
    p = np.asarray(lm68, np.float64).reshape(68, 2)
    return np.stack([p[36:42].mean(0), p[42:48].mean(0), p[30], p[48], p[54]])


def largest_first(faces: Iterable[Face]) -> list[Face]:
    """Faces sorted by decreasing box area, ties by decreasing score."""
    return sorted(faces, key=lambda f: (-f.area, -f.score))
