"""InsightFace SCRFD face detector with 5 keypoints (the ArcFace landmarks), offline.

Why a wrapper: SCRFD's five keypoints are exactly the points of the ArcFace 112 template, so it is
the detector that aligns wild photos (``estimate_arcface_matrix``) and that measured the FFHQ
template (``scripts/derive_ffhq_template.py``). One quirk is handled here once: on a tight crop
whose face fills the frame (an FFHQ crop), SCRFD misses about half of the faces; adding a black
border (``pad``, a fraction of the image size) before detection fixes it, and the keypoints are
shifted back to the original image.

Weights: registry name ``scrfd_500m_kps`` (``detection/scrfd_500m_kps.onnx``); needs the
``onnx`` extra (insightface, onnxruntime).
"""

from __future__ import annotations

import os
from dataclasses import dataclass

import cv2
import numpy as np

from reliableswap import weights


@dataclass(frozen=True)
class Detection:
    """One face: box (x0, y0, x1, y1), score, and 5 keypoints (5, 2) in pixel coordinates."""

    box: np.ndarray
    score: float
    keypoints: np.ndarray

    @property
    def area(self) -> float:
        return float(max(0.0, self.box[2] - self.box[0]) * max(0.0, self.box[3] - self.box[1]))


class ScrfdDetector:
    """SCRFD on CPU/ONNX Runtime; inputs are BGR ``uint8`` images (OpenCV convention)."""

    def __init__(
        self,
        weights_path: str | os.PathLike[str] | None = None,
        det_size: int = 640,
        threshold: float = 0.5,
        pad: float = 0.25,
    ) -> None:
        from insightface.model_zoo import get_model

        path = weights.resolve("scrfd_500m_kps", weights_path)
        self.model = get_model(str(path))
        self.model.prepare(ctx_id=-1, input_size=(det_size, det_size), det_thresh=threshold)
        self.pad = pad

    def detect(self, bgr: np.ndarray) -> list[Detection]:
        """All faces, largest first."""
        if bgr.ndim != 3 or bgr.shape[2] != 3:
            raise ValueError(f"expected an HxWx3 BGR image, got shape {bgr.shape}")
        pad = int(round(self.pad * max(bgr.shape[:2])))
        if pad:
            bgr = cv2.copyMakeBorder(bgr, pad, pad, pad, pad, cv2.BORDER_CONSTANT, value=(0, 0, 0))
        boxes, kps = self.model.detect(bgr)
        if boxes is None or len(boxes) == 0:
            return []
        found = [
            Detection(box=b[:4].astype(np.float64) - pad, score=float(b[4]), keypoints=k.astype(np.float64) - pad)
            for b, k in zip(boxes, kps)
        ]
        return sorted(found, key=lambda d: d.area, reverse=True)

    def largest(self, bgr: np.ndarray) -> Detection | None:
        """The largest face, or ``None``."""
        faces = self.detect(bgr)
        return faces[0] if faces else None
