"""The one FFHQ-crop calibration: where dlib's face box lies in an FFHQ-aligned crop.

dlib's 5- and 68-point shape predictors were trained on boxes of dlib's own HOG detector, so
every other source of boxes must imitate them: the known face position in an FFHQ-aligned crop
(the analyzers' fallback when nothing is detected, the dlib descriptor's ``box_mode="aligned"``)
and a box built around another detector's 5 keypoints (SCRFD). Both come from one measurement,
:data:`FFHQ_FACE_BOX`; the keypoint geometry (:data:`BOX_CENTER_ALONG`, :data:`BOX_SIDE`) is that
box expressed relative to the FFHQ 5-point template, so the two can never drift apart.

Coordinates: :data:`FFHQ_FACE_BOX` is in *corner* fractions of the crop side ((0, 0) top-left
corner, (1, 1) bottom-right corner), which times the crop size is an exclusive pixel box
(``x1``/``y1`` exclusive, the convention of every box in :mod:`reliableswap.faces`).
"""

from __future__ import annotations

import numpy as np

from reliableswap.faces.alignment import FFHQ_TEMPLATE_5PT

__all__ = ["BOX_CENTER_ALONG", "BOX_SIDE", "FFHQ_FACE_BOX", "dlib_box_from_five_points", "ffhq_face_box"]

#: Face box (x0, y0, x1, y1) of an FFHQ-style aligned crop as corner fractions of the crop side.
#: Mean dlib HOG box (upsample 0, crops resized to 256) over 296 detections on 300 shared
#: CelebAMask-HQ crops: centre (0.496, 0.596), side 0.575 (std of the side 0.07, which is mostly
#: the HOG pyramid's scale quantisation); centred horizontally so mirroring is symmetric.
#: (A second measurement on 196 crops, relative to the 5-point template, agreed within 0.4% of
#: the side; dlib's descriptor moves by ~0.04 for such a 1 px change, so evaluation numbers depend
#: on this exact box: it is the one kept.)
FFHQ_FACE_BOX: tuple[float, float, float, float] = (0.2125, 0.3085, 0.7875, 0.8835)


def _template_geometry() -> tuple[float, float]:
    """(along, side) of :data:`FFHQ_FACE_BOX` relative to the FFHQ template's eye/mouth centres."""
    eyes = FFHQ_TEMPLATE_5PT[:2].mean(0)
    mouth = FFHQ_TEMPLATE_5PT[3:].mean(0)
    x0, y0, x1, y1 = FFHQ_FACE_BOX
    axis = mouth - eyes
    d2 = float(axis @ axis)
    centre = np.array([(x0 + x1) / 2, (y0 + y1) / 2])
    along = float((centre - eyes) @ axis) / d2
    side = 0.5 * ((x1 - x0) + (y1 - y0)) / np.sqrt(d2)
    return along, float(side)


#: Geometry of dlib's HOG face box relative to the 5 ArcFace points, in units of the eye-centre to
#: mouth-centre distance d: box centre = eye centre + BOX_CENTER_ALONG * (mouth centre - eye
#: centre), side = BOX_SIDE * d. Derived from :data:`FFHQ_FACE_BOX` and the FFHQ template
#: (about 0.467 and 2.26; the sideways offset, 0.002 of the crop, is ignored).
BOX_CENTER_ALONG, BOX_SIDE = _template_geometry()


def ffhq_face_box(width: int, height: int | None = None) -> np.ndarray:
    """dlib's face box (4,) float64 ``x0, y0, x1, y1`` of an FFHQ-aligned ``width x height`` crop.

    Pixel coordinates (exclusive ``x1``/``y1``) of :data:`FFHQ_FACE_BOX`; ``height`` defaults to
    ``width`` (aligned crops are square). Only meaningful for FFHQ-aligned crops.
    """
    h = width if height is None else height
    x0, y0, x1, y1 = FFHQ_FACE_BOX
    return np.array([x0 * width, y0 * h, x1 * width, y1 * h], np.float64)


def dlib_box_from_five_points(points5: np.ndarray) -> np.ndarray:
    """A dlib-HOG-like square box (4,) float64 ``x0, y0, x1, y1`` from 5 ArcFace-order points.

    ``points5``: (5, 2) pixel coordinates (pixel centres at integers). Built from the eye centre
    and mouth centre only, so it works for any detector's keypoints; it is axis-aligned (the
    shape predictor tolerates moderate roll). On the FFHQ template it reproduces
    :data:`FFHQ_FACE_BOX` up to the ignored sideways offset.
    """
    p = np.asarray(points5, dtype=np.float64).reshape(5, 2) + 0.5  # pixel centres -> corner coordinates
    eyes = p[:2].mean(0)
    mouth = p[3:].mean(0)
    d = float(np.linalg.norm(mouth - eyes))
    centre = eyes + BOX_CENTER_ALONG * (mouth - eyes)
    half = 0.5 * BOX_SIDE * d
    return np.array([centre[0] - half, centre[1] - half, centre[0] + half, centre[1] + half], np.float64)
