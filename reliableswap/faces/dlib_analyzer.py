"""dlib face analysis: HOG/CNN boxes + the 68-point predictor, 5 keypoints derived from the 68.

The offline analyzer (no weight file outside PyPI packages): the triplet builder's default
(68 landmarks drive reenactment and the landmark face parser) and ``test.py``'s fallback when
SCRFD is unavailable. The 5 ArcFace keypoints are :func:`~reliableswap.faces.face.five_from_68`
of the landmarks, so FFHQ alignment works with either backend.

Input contract (checked; ``ValueError`` otherwise): ``uint8`` RGB ``H x W x 3`` arrays.
"""

from __future__ import annotations

import os
from typing import Literal

import numpy as np

from reliableswap.faces.dlib_detector import DlibDetector
from reliableswap.faces.dlib_landmarks import ShapePredictor
from reliableswap.faces.face import ALIGNED_BOX_SCORE, Face, check_rgb, five_from_68, largest_first
from reliableswap.faces.fallback import AlignedBoxFallback

__all__ = ["DlibAnalyzer"]


class DlibAnalyzer:
    """dlib detector (HOG or CNN) + dlib 68-point shape predictor; implements ``FaceAnalyzer``.

    Every face it returns carries 68 landmarks (``landmarks68`` is always true).

    Args:
        detector: ``"hog"`` (fast, frontal faces) or ``"cnn"`` (dlib mmod from
            ``face_recognition_models``: better recall, ~1 s per 512 image on one CPU core).
        upsample: times the (downscaled) image is doubled before detection (finds small faces).
        detect_max_side: detection runs on a copy whose longest side is at most this (speed:
            HOG time grows with pixel count, and faces in aligned crops are large); boxes are
            mapped back and landmarks are predicted on the full-resolution image. ``None`` = off.
        threshold: HOG SVM threshold shift (negative = more detections); ignored for CNN.
        assume_aligned_box: on no detection, fall back to the FFHQ box
            (:mod:`reliableswap.faces.fallback`, score -1); only for inputs known to be
            FFHQ-aligned crops.
        predictor_path / cnn_path: explicit model files (default: ``face_recognition_models``).
    """

    def __init__(
        self,
        detector: Literal["hog", "cnn"] = "hog",
        upsample: int = 0,
        detect_max_side: int | None = 1024,
        threshold: float = 0.0,
        assume_aligned_box: bool = False,
        predictor_path: str | os.PathLike[str] | None = None,
        cnn_path: str | os.PathLike[str] | None = None,
    ) -> None:
        self.landmarks68 = True
        self._predict = ShapePredictor(predictor_path)
        self._detector = DlibDetector(detector, upsample=upsample, max_side=detect_max_side,
                                      threshold=threshold, cnn_path=cnn_path)
        self.assume_aligned_box = bool(assume_aligned_box)
        self._fallback = AlignedBoxFallback()
        self.name = f"dlib_{detector}"

    @property
    def num_assumed(self) -> int:
        """How many images fell back to the FFHQ box (for run summaries)."""
        return self._fallback.count

    def detect(self, rgb: np.ndarray) -> list[Face]:
        """All faces in a uint8 RGB HxWx3 image, largest first, with 68 landmarks; ``[]`` when none.

        With ``assume_aligned_box`` and no detection, a square image is treated as an
        FFHQ-aligned crop: landmarks are predicted on the FFHQ box and the face is returned with
        ``score == ALIGNED_BOX_SCORE`` (-1).
        """
        img = check_rgb(rgb)
        boxes = self._detector.detect(img)
        if not boxes and self.assume_aligned_box:
            box = self._fallback.box(img)
            boxes = [] if box is None else [(box, ALIGNED_BOX_SCORE)]
        faces = []
        for box, score in boxes:
            lm = self._predict(img, box)
            faces.append(Face(np.asarray(box, np.float64), float(score), five_from_68(lm), lm))
        return largest_first(faces)

    __call__ = detect
