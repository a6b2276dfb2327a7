"""InsightFace SCRFD-500M face analysis: boxes + the 5 ArcFace keypoints, optionally 68 landmarks.

Why SCRFD: its five keypoints are exactly the points of the ArcFace 112 template, so it is the
detector that aligns wild photos (FFHQ crops for ``test.py``, ArcFace crops via
``estimate_arcface_matrix``) and that measured the FFHQ template
(``scripts/derive_ffhq_template.py``); it also has better recall than dlib HOG on rotated or
occluded faces. One quirk is handled here once: on a tight crop whose face fills the frame (an
FFHQ crop), SCRFD misses about half of the faces; adding a black border (``pad``, a fraction of
the image size) before detection fixes it, and boxes/keypoints are shifted back.

``landmarks68=True`` (the triplet builder) adds dlib's 68 iBUG landmarks, predicted on
:func:`~reliableswap.faces.calibration.dlib_box_from_five_points` of the keypoints (not on
SCRFD's own, taller box) so the predictor sees the box geometry it was trained on; the returned
``box`` stays SCRFD's and ``score`` its confidence.

Weights: registry name ``scrfd_500m_kps`` (``detection/scrfd_500m_kps.onnx``); needs the ``onnx``
extra (insightface, onnxruntime), and the ``faces`` extra for ``landmarks68``. Input contract
(checked; ``ValueError`` otherwise): ``uint8`` RGB ``H x W x 3`` arrays.
"""

from __future__ import annotations

import os

import cv2
import numpy as np

from reliableswap import weights
from reliableswap.faces.calibration import dlib_box_from_five_points
from reliableswap.faces.face import ALIGNED_BOX_SCORE, Face, check_rgb, five_from_68, largest_first
from reliableswap.faces.fallback import AlignedBoxFallback

__all__ = ["ScrfdAnalyzer"]


class ScrfdAnalyzer:
    """SCRFD on CPU/ONNX Runtime; implements ``FaceAnalyzer`` (RGB in, largest first).

    Args:
        weights_path: explicit ``.onnx``; ``None`` = registry ``scrfd_500m_kps``.
        det_size: square detector input size.
        threshold: detection score threshold in [0, 1].
        pad: black border added on each side before detection, as a fraction of the longer side.
        min_size: drop faces whose box is narrower or shorter than this (pixels).
        landmarks68: also predict dlib's 68 landmarks (needs the ``faces`` extra).
        assume_aligned_box: on no detection, fall back to the FFHQ box
            (:mod:`reliableswap.faces.fallback`, score -1; implies 68 landmarks on that box, and
            keypoints derived from them); only for FFHQ-aligned crops.
        predictor_path: explicit dlib 68-point model file.
    """

    name = "scrfd_500m_kps"

    def __init__(
        self,
        weights_path: str | os.PathLike[str] | None = None,
        det_size: int = 640,
        threshold: float = 0.5,
        pad: float = 0.25,
        min_size: float = 0.0,
        landmarks68: bool = False,
        assume_aligned_box: bool = False,
        predictor_path: str | os.PathLike[str] | None = None,
    ) -> None:
        from insightface.model_zoo import get_model

        path = weights.resolve("scrfd_500m_kps", weights_path)
        self.model = get_model(str(path))
        self.model.prepare(ctx_id=-1, input_size=(det_size, det_size), det_thresh=threshold)
        self.pad = pad
        self.min_size = float(min_size)
        self.landmarks68 = bool(landmarks68)
        self.assume_aligned_box = bool(assume_aligned_box)
        self._predict = None
        if self.landmarks68 or self.assume_aligned_box:
            from reliableswap.faces.dlib_landmarks import ShapePredictor

            self._predict = ShapePredictor(predictor_path)
        self._fallback = AlignedBoxFallback()

    @property
    def num_assumed(self) -> int:
        """How many images fell back to the FFHQ box (for run summaries)."""
        return self._fallback.count

    def detect(self, rgb: np.ndarray) -> list[Face]:
        """All faces in a uint8 RGB HxWx3 image, largest first; ``[]`` when none."""
        img = check_rgb(rgb)
        faces = [f for f in self._scrfd(img) if min(f.box[2] - f.box[0], f.box[3] - f.box[1]) >= self.min_size]
        if not faces and self.assume_aligned_box:
            box = self._fallback.box(img)
            if box is not None:
                lm = self._predict(img, box)
                faces = [Face(box, ALIGNED_BOX_SCORE, five_from_68(lm), lm)]
        elif self.landmarks68:
            faces = [Face(f.box, f.score, f.kps, self._predict(img, dlib_box_from_five_points(f.kps))) for f in faces]
        return largest_first(faces)

    __call__ = detect

    def _scrfd(self, rgb: np.ndarray) -> list[Face]:
        """Raw SCRFD detections (no landmarks) in the input's pixel coordinates."""
        bgr = np.ascontiguousarray(rgb[:, :, ::-1])  # insightface models expect OpenCV's BGR
        pad = int(round(self.pad * max(bgr.shape[:2])))
        if pad:
            bgr = cv2.copyMakeBorder(bgr, pad, pad, pad, pad, cv2.BORDER_CONSTANT, value=(0, 0, 0))
        boxes, kps = self.model.detect(bgr)
        if boxes is None or len(boxes) == 0:
            return []
        return [Face(b[:4].astype(np.float64) - pad, float(b[4]), k.astype(np.float64) - pad) for b, k in zip(boxes, kps)]
