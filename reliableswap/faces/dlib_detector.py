"""dlib face detection (HOG or CNN) with the downscaled-detection logic written once.

Why dlib: ``dlib.get_frontal_face_detector()`` (HOG) is compiled into dlib, so it needs no weight
file and no download, which makes it usable in tests, in CI and on offline clusters (e.g. by
``scripts/build_index.py --check-faces``). It finds roughly frontal faces of at least ~80 px
(40 px with one upsampling). The CNN "mmod" detector (``face_recognition_models``) has better
recall at ~1 s per 512 image on one CPU core.

Scores are the HOG SVM margins (higher = more face-like; 0 is the default threshold) or the CNN's
confidence. They are not probabilities and are not comparable with other detectors' scores.

This module finds boxes only; :class:`reliableswap.faces.dlib_analyzer.DlibAnalyzer` adds the
68-point landmarks and returns :class:`~reliableswap.faces.face.Face` records.
"""

from __future__ import annotations

import os
from typing import Any, Literal

import cv2
import numpy as np

__all__ = ["EXTRA_HINT", "DlibDetector", "ScoredBox", "import_dlib", "import_face_models"]

#: A detected box (4,) float64 ``x0, y0, x1, y1`` (exclusive ``x1``/``y1``) and its score.
ScoredBox = tuple[np.ndarray, float]

EXTRA_HINT = "pip install 'reliableswap[faces]'"


def import_dlib() -> Any:
    """The ``dlib`` module, or an ImportError naming the pip extra."""
    try:
        import dlib
    except ImportError as exc:  # pragma: no cover - depends on the environment
        raise ImportError(f"dlib face analysis needs the 'faces' extra ({EXTRA_HINT}): {exc}") from exc
    return dlib


def import_face_models() -> Any:
    """The ``face_recognition_models`` module (dlib's model files), or an ImportError naming the extra."""
    try:
        import face_recognition_models
    except ImportError as exc:  # pragma: no cover - depends on the environment
        raise ImportError(f"dlib's model files need the 'faces' extra ({EXTRA_HINT}): {exc}") from exc
    return face_recognition_models


class DlibDetector:
    """Face boxes in ``uint8`` RGB (or gray) images, largest first.

    Args:
        detector: ``"hog"`` (fast, frontal faces, no model file) or ``"cnn"`` (dlib mmod from
            ``face_recognition_models``: better recall, much slower).
        upsample: times the (downscaled) image is doubled before detection (finds smaller faces,
            ~4x slower per step).
        max_side: detection runs on a copy whose longest side is at most this (HOG time grows
            with pixel count and faces in large photos are large anyway); boxes are mapped back
            to the input's coordinates. ``None`` = off.
        threshold: HOG SVM threshold shift (negative = more detections, more false positives);
            ignored by the CNN.
        cnn_path: explicit mmod model file (default: ``face_recognition_models``'s).
    """

    def __init__(
        self,
        detector: Literal["hog", "cnn"] = "hog",
        upsample: int = 0,
        max_side: int | None = 1024,
        threshold: float = 0.0,
        cnn_path: str | os.PathLike[str] | None = None,
    ) -> None:
        dlib = import_dlib()
        if detector not in ("hog", "cnn"):
            raise ValueError(f"detector must be 'hog' or 'cnn', got {detector!r}")
        if upsample < 0:
            raise ValueError(f"upsample must be >= 0, got {upsample}")
        self.detector = detector
        self.upsample = int(upsample)
        self.max_side = max_side
        self.threshold = float(threshold)
        if detector == "cnn":
            path = str(cnn_path) if cnn_path else import_face_models().cnn_face_detector_model_location()
            self._detect = dlib.cnn_face_detection_model_v1(path)
        else:
            self._detect = dlib.get_frontal_face_detector()

    def detect(self, rgb: np.ndarray) -> list[ScoredBox]:
        """Boxes of the faces in an ``HxWx3`` (or ``HxW`` gray) uint8 image, largest first.

        Raises ``ValueError`` for other dtypes or shapes.
        """
        img = np.asarray(rgb)
        if img.dtype != np.uint8 or img.ndim not in (2, 3) or (img.ndim == 3 and img.shape[2] != 3):
            raise ValueError(f"expected HxWx3 or HxW uint8 image, got {img.dtype} {img.shape}")
        scale = 1.0
        if self.max_side is not None and max(img.shape[:2]) > self.max_side:
            scale = self.max_side / max(img.shape[:2])
            size = (max(1, round(img.shape[1] * scale)), max(1, round(img.shape[0] * scale)))
            img = cv2.resize(img, size, interpolation=cv2.INTER_AREA)
        img = np.ascontiguousarray(img)
        if self.detector == "cnn":
            found = [(d.rect, float(d.confidence)) for d in self._detect(img, self.upsample)]
        else:
            rects, scores, _ = self._detect.run(img, self.upsample, self.threshold)
            found = list(zip(rects, (float(s) for s in scores)))
        # dlib rectangle corners are inclusive -> exclusive pixel box in the input's coordinates.
        boxes = [
            (np.array([r.left(), r.top(), r.right() + 1, r.bottom() + 1], np.float64) / scale, s)
            for r, s in found
        ]
        return sorted(boxes, key=lambda b: (-_area(b[0]), -b[1]))

    __call__ = detect


def _area(box: np.ndarray) -> float:
    return float(max(0.0, box[2] - box[0]) * max(0.0, box[3] - box[1]))
