"""Find faces in full photos/frames and cut FFHQ-aligned crops out of them (and the inverse).

The swap models were trained on FFHQ-style aligned crops, so inference must produce exactly that
crop: the similarity transform that maps the face's 5 ArcFace landmarks (eye centres, nose tip,
mouth corners) onto :func:`reliableswap.faces.alignment.ffhq_template` at the model's size. The
same 2x3 matrix, inverted, pastes the result back (:mod:`reliableswap.inference.paste`).

Face analysers (``detect(rgb) -> list[Face]``, largest first) come in two offline backends:

- :class:`ScrfdFaceAnalyzer`: SCRFD-500M (ONNX) gives the 5 points directly (preferred);
- :class:`DlibFaceAnalyzer`: dlib HOG + 68-point predictor, the 5 points derived from the 68
  (eye centres = mean of each eye contour, nose tip = 30, mouth corners = 48/54). Also provides
  the 68 points, which the landmark face parser needs.

:func:`build_face_analyzer` with ``backend="auto"`` takes SCRFD when its weights and
``insightface`` are present and otherwise falls back to dlib *with a warning*: the choice is
always logged and recorded in the report (``analyzer.name``).
"""

from __future__ import annotations

import logging
import os
from dataclasses import dataclass
from typing import Any, Protocol, runtime_checkable

import cv2
import numpy as np

from reliableswap import weights
from reliableswap.faces.alignment import ffhq_template, similarity_transform

log = logging.getLogger(__name__)


@dataclass(frozen=True)
class Face:
    """One detected face in pixel coordinates of its image."""

    box: np.ndarray  # (4,) x0, y0, x1, y1
    score: float
    kps: np.ndarray  # (5, 2) ArcFace order: left eye, right eye, nose, left/right mouth corner
    landmarks68: np.ndarray | None = None  # (68, 2) iBUG, when the backend provides them

    @property
    def area(self) -> float:
        x0, y0, x1, y1 = (float(v) for v in self.box)
        return max(0.0, x1 - x0) * max(0.0, y1 - y0)

    def with_kps(self, kps: np.ndarray) -> Face:
        """The same face with (e.g. temporally smoothed) keypoints."""
        return Face(self.box, self.score, np.asarray(kps, np.float64).reshape(5, 2), self.landmarks68)


@runtime_checkable
class FaceAnalyzer(Protocol):
    """``detect(rgb uint8 HxWx3) -> faces, largest first`` (empty list when none)."""

    name: str

    def detect(self, rgb: np.ndarray) -> list[Face]: ...


def five_from_68(lm68: np.ndarray) -> np.ndarray:
    """The 5 ArcFace points from 68 iBUG landmarks (same convention as SCRFD's keypoints)."""
    p = np.asarray(lm68, np.float64).reshape(68, 2)
    return np.stack([p[36:42].mean(0), p[42:48].mean(0), p[30], p[48], p[54]])


class ScrfdFaceAnalyzer:
    """SCRFD-500M boxes + 5 keypoints (registry weight ``scrfd_500m_kps``)."""

    name = "scrfd_500m_kps"

    def __init__(self, weights_path: str | os.PathLike[str] | None = None, det_size: int = 640,
                 threshold: float = 0.5, pad: float = 0.25, min_size: float = 0.0) -> None:
        from reliableswap.faces.scrfd import ScrfdDetector

        self._det = ScrfdDetector(weights_path=weights_path, det_size=det_size, threshold=threshold, pad=pad)
        self.min_size = float(min_size)

    def detect(self, rgb: np.ndarray) -> list[Face]:
        dets = self._det.detect(np.ascontiguousarray(rgb[:, :, ::-1]))
        faces = [Face(np.asarray(d.box, np.float64), float(d.score), np.asarray(d.keypoints, np.float64)) for d in dets]
        return [f for f in faces if min(f.box[2] - f.box[0], f.box[3] - f.box[1]) >= self.min_size]


class DlibFaceAnalyzer:
    """dlib HOG (or CNN) detector + 68-point predictor (``supervision.analysis.DlibAnalyzer``)."""

    name = "dlib"

    def __init__(self, detector: str = "hog", upsample: int = 1, detect_max_side: int | None = 1024,
                 threshold: float = 0.0) -> None:
        from supervision.analysis import DlibAnalyzer

        # assume_aligned_box=False: wild photos are not FFHQ crops; "no face" must stay "no face".
        self._analyzer = DlibAnalyzer(detector=detector, upsample=upsample, detect_max_side=detect_max_side,
                                      threshold=threshold, assume_aligned_box=False)
        self.name = f"dlib_{detector}"

    def detect(self, rgb: np.ndarray) -> list[Face]:
        return [
            Face(np.asarray(f.box, np.float64), float(f.score), five_from_68(f.landmarks68),
                 np.asarray(f.landmarks68, np.float64))
            for f in self._analyzer.analyze(np.ascontiguousarray(rgb))
        ]


def build_face_analyzer(backend: str = "auto", scrfd: dict[str, Any] | None = None,
                        dlib: dict[str, Any] | None = None) -> FaceAnalyzer:
    """``scrfd`` | ``dlib`` | ``auto`` (SCRFD when available, else dlib, with a warning)."""
    scrfd, dlib = dict(scrfd or {}), dict(dlib or {})
    if backend == "scrfd":
        return ScrfdFaceAnalyzer(**scrfd)
    if backend == "dlib":
        return DlibFaceAnalyzer(**dlib)
    if backend != "auto":
        raise ValueError(f"unknown face analyzer backend '{backend}'; known: auto, scrfd, dlib")
    reason = None
    if not weights.is_available("scrfd_500m_kps", scrfd.get("weights_path")):
        reason = f"SCRFD weights missing ({weights.get('scrfd_500m_kps').default_path()})"
    else:
        try:
            import insightface  # noqa: F401
        except ImportError as exc:
            reason = f"insightface not importable ({exc})"
    if reason is None:
        log.info("face analyzer: SCRFD-500M (5 keypoints)")
        return ScrfdFaceAnalyzer(**scrfd)
    log.warning("face analyzer: falling back to dlib HOG + 68 landmarks because %s; "
                "set face_analyzer=scrfd to make this an error", reason)
    return DlibFaceAnalyzer(**dlib)


def alignment_matrix(kps: np.ndarray, size: int) -> np.ndarray:
    """2x3 similarity: image pixel coordinates -> the ``size`` FFHQ crop (5-point least squares)."""
    return similarity_transform(np.asarray(kps, np.float64).reshape(5, 2), ffhq_template(size))


def matrix_scale(matrix: np.ndarray) -> float:
    """Uniform scale of a similarity matrix (crop pixels per image pixel)."""
    return float(np.sqrt(abs(np.linalg.det(np.asarray(matrix)[:, :2]))))


def crop_region(matrix: np.ndarray, size: int, height: int, width: int, margin: int = 2) -> tuple[int, int, int, int]:
    """Bounding box (x0, y0, x1, y1), clipped to the image, of where the crop lies in the image."""
    inv = cv2.invertAffineTransform(np.asarray(matrix, np.float64))
    corners = np.array([[-0.5, -0.5], [size - 0.5, -0.5], [-0.5, size - 0.5], [size - 0.5, size - 0.5]])
    pts = corners @ inv[:, :2].T + inv[:, 2]
    x0, y0 = np.floor(pts.min(0)).astype(int) - margin
    x1, y1 = np.ceil(pts.max(0)).astype(int) + margin + 1
    return max(0, x0), max(0, y0), min(width, x1), min(height, y1)


def align_face(rgb: np.ndarray, kps: np.ndarray, size: int) -> tuple[np.ndarray, np.ndarray]:
    """Cut the ``size`` x ``size`` FFHQ-aligned crop of one face; returns (crop uint8, matrix).

    Only the face's region of the image is touched (fast on 4K frames). When the crop is much
    smaller than the face (a 1,000 px face into a 64 px crop), the region is first shrunk with
    area averaging, because ``warpAffine``'s bilinear sampling would alias.
    """
    matrix = alignment_matrix(kps, size)
    h, w = rgb.shape[:2]
    x0, y0, x1, y1 = crop_region(matrix, size, h, w)
    if x1 <= x0 or y1 <= y0:  # face entirely outside the frame (can happen with smoothed points)
        return np.zeros((size, size, 3), np.uint8), matrix
    roi = rgb[y0:y1, x0:x1]
    scale = matrix_scale(matrix)
    r = min(1.0, 1.5 * scale)
    if r < 1.0:
        rw, rh = max(1, round((x1 - x0) * r)), max(1, round((y1 - y0) * r))
        roi = cv2.resize(roi, (rw, rh), interpolation=cv2.INTER_AREA)
        rx, ry = rw / (x1 - x0), rh / (y1 - y0)
        # roi pixel q -> image pixel p = (q + 0.5) / r - 0.5 + offset (pixel-centre convention)
        back = np.array([[1 / rx, 0, 0.5 / rx - 0.5 + x0], [0, 1 / ry, 0.5 / ry - 0.5 + y0], [0, 0, 1]])
    else:
        back = np.array([[1, 0, x0], [0, 1, y0], [0, 0, 1]], np.float64)
    local = (np.vstack([matrix, [0, 0, 1]]) @ back)[:2]
    crop = cv2.warpAffine(roi, local, (size, size), flags=cv2.INTER_LINEAR, borderMode=cv2.BORDER_REPLICATE)
    return crop, matrix


def align_faces(rgb: np.ndarray, faces: list[Face], size: int) -> tuple[np.ndarray, np.ndarray]:
    """All faces of one image: crops (N, size, size, 3) uint8 and matrices (N, 2, 3)."""
    if not faces:
        return np.zeros((0, size, size, 3), np.uint8), np.zeros((0, 2, 3))
    pairs = [align_face(rgb, f.kps, size) for f in faces]
    return np.stack([c for c, _ in pairs]), np.stack([m for _, m in pairs])
