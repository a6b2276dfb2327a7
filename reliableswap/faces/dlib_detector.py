"""Offline face detection with dlib's built-in HOG frontal-face detector.

Why this one: ``dlib.get_frontal_face_detector()`` is compiled into dlib, so it needs no weight
file and no download, which makes it usable in tests, in CI and on offline clusters (e.g. by
``scripts/build_index.py --check-faces``). It finds roughly frontal faces of at least ~80 px
(40 px with one upsampling); it is not a landmark model. The ``face_recognition_models``
package ships dlib's heavier models (CNN "mmod" detector, 5/68-point landmark predictors,
128-d face descriptor) for when alignment or better recall is needed; those live elsewhere.

Scores are the HOG SVM margins (higher = more face-like; 0 is the default threshold). They are
not probabilities and are not comparable with other detectors' scores.
"""

from __future__ import annotations

from dataclasses import dataclass

import cv2
import numpy as np

__all__ = ["DlibFaceDetector", "FaceBox"]


@dataclass(frozen=True)
class FaceBox:
    """A detected face in pixel coordinates of the input image (``x1``/``y1`` exclusive)."""

    x0: float
    y0: float
    x1: float
    y1: float
    score: float

    @property
    def area(self) -> float:
        return max(0.0, self.x1 - self.x0) * max(0.0, self.y1 - self.y0)


class DlibFaceDetector:
    """Detect faces in RGB ``uint8`` images; results are sorted largest face first.

    ``upsample`` doubles the image that many times before detection (finds smaller faces,
    ~4x slower per step). ``max_side`` shrinks large photos first (HOG time grows with pixel
    count and faces in multi-megapixel photos are large anyway); boxes are mapped back to the
    input's coordinates. ``threshold`` shifts the SVM decision threshold (negative = more
    detections, more false positives).
    """

    def __init__(self, upsample: int = 0, max_side: int | None = 1024, threshold: float = 0.0) -> None:
        import dlib  # imported lazily: dlib is an optional dependency (extra "faces")

        if upsample < 0:
            raise ValueError(f"upsample must be >= 0, got {upsample}")
        self._detector = dlib.get_frontal_face_detector()
        self.upsample = int(upsample)
        self.max_side = max_side
        self.threshold = float(threshold)

    def detect(self, rgb: np.ndarray) -> list[FaceBox]:
        """Faces in an ``HxWx3`` (or ``HxW`` gray) uint8 image, largest first."""
        img = np.asarray(rgb)
        if img.dtype != np.uint8 or img.ndim not in (2, 3) or (img.ndim == 3 and img.shape[2] != 3):
            raise ValueError(f"expected HxWx3 or HxW uint8 image, got {img.dtype} {img.shape}")
        scale = 1.0
        if self.max_side is not None and max(img.shape[:2]) > self.max_side:
            scale = self.max_side / max(img.shape[:2])
            new_w = max(1, round(img.shape[1] * scale))
            new_h = max(1, round(img.shape[0] * scale))
            img = cv2.resize(img, (new_w, new_h), interpolation=cv2.INTER_AREA)
        rects, scores, _ = self._detector.run(np.ascontiguousarray(img), self.upsample, self.threshold)
        boxes = [
            FaceBox(r.left() / scale, r.top() / scale, (r.right() + 1) / scale, (r.bottom() + 1) / scale, float(s))
            for r, s in zip(rects, scores)
        ]
        return sorted(boxes, key=lambda b: (-b.area, -b.score))

    __call__ = detect
