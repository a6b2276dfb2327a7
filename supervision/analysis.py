"""Face analysis backends (detection + 68-point landmarks) behind :class:`FaceAnalyzer`.

Triplet synthesis needs, per aligned crop, the 68 iBUG landmarks (reenactment drives with them,
the landmark parser draws the face parts from them, reshaping compares face outlines). Two
offline backends are provided:

- :class:`DlibAnalyzer` (default): dlib's HOG (or CNN "mmod") detector and dlib's 68-point
  shape predictor from ``face_recognition_models``. No weight file outside PyPI packages.
- :class:`ScrfdAnalyzer`: SCRFD-500M (ONNX, registry ``scrfd_500m_kps``) for detection, with
  better recall on tight crops and rotated faces, and the same dlib predictor for landmarks.

The dlib shape predictor was trained on boxes of dlib's own detector, so every other source of
boxes (SCRFD, or the known face position in an FFHQ-aligned crop) is first converted to a
*dlib-like* box with :func:`dlib_box_from_five_points`; feeding a detector's raw box (SCRFD boxes
include the forehead) would bias the landmarks.

Input contract (checked; ``ValueError`` otherwise): ``uint8`` RGB ``H x W x 3`` arrays. Converting
RGBA/grayscale/BGR is the caller's job (e.g. ``reliableswap.io.images.read_rgb``), because
only the caller knows how its file was decoded.
"""

from __future__ import annotations

import logging
import os
from functools import lru_cache
from typing import Any, Literal

import cv2
import numpy as np

from reliableswap.faces.alignment import FFHQ_TEMPLATE_5PT
from supervision.protocols import DetectedFace

__all__ = [
    "DlibAnalyzer",
    "ScrfdAnalyzer",
    "ALIGNED_BOX_SCORE",
    "dlib_box_from_five_points",
    "ffhq_face_box",
]

log = logging.getLogger(__name__)

#: Score recorded on a face whose box was *assumed* (FFHQ-aligned crop fallback), not detected.
ALIGNED_BOX_SCORE = -1.0

# Geometry of dlib's HOG face box relative to the 5 ArcFace points, in units of the eye-centre to
# mouth-centre distance d: box centre = eye centre + BOX_CENTER_ALONG * (mouth centre - eye
# centre), side = BOX_SIDE * d. Measured on 196 CelebAMask-HQ crops (dlib HOG at 256 px, mean
# box vs FFHQ_TEMPLATE_5PT): centre 0.464 d below the eyes (0.02 d sideways, ignored), side
# 2.27 d wide and 2.28 d tall.
BOX_CENTER_ALONG = 0.464
BOX_SIDE = 2.27

_EXTRA_HINT = "pip install 'reliableswap[faces]'"


def _check_rgb(rgb: Any) -> np.ndarray:
    img = np.asarray(rgb)
    if img.dtype != np.uint8 or img.ndim != 3 or img.shape[2] != 3:
        raise ValueError(
            f"expected a uint8 RGB image of shape HxWx3, got {img.dtype} {img.shape}; convert "
            "RGBA/grayscale/BGR before analysis (e.g. reliableswap.io.images.read_rgb)"
        )
    return np.ascontiguousarray(img)


def _import_dlib() -> tuple[Any, Any]:
    """dlib and face_recognition_models, or an ImportError naming the pip extra."""
    try:
        import dlib
        import face_recognition_models
    except ImportError as exc:  # pragma: no cover - depends on the environment
        raise ImportError(
            f"dlib face analysis needs the 'faces' extra ({_EXTRA_HINT}): {exc}"
        ) from exc
    return dlib, face_recognition_models


def dlib_box_from_five_points(points5: np.ndarray) -> np.ndarray:
    """A dlib-HOG-like square box (x0, y0, x1, y1) from 5 ArcFace-order points (pixels).

    Built from the eye centre and mouth centre only, so it works for any detector's keypoints
    and for the FFHQ template; it is axis-aligned (the shape predictor tolerates moderate roll).
    """
    p = np.asarray(points5, dtype=np.float64).reshape(5, 2)
    eyes = p[:2].mean(0)
    mouth = p[3:].mean(0)
    d = float(np.linalg.norm(mouth - eyes))
    centre = eyes + BOX_CENTER_ALONG * (mouth - eyes)
    half = 0.5 * BOX_SIDE * d
    return np.array([centre[0] - half, centre[1] - half, centre[0] + half, centre[1] + half], np.float32)


def ffhq_face_box(size: int) -> np.ndarray:
    """The dlib-like face box of an FFHQ-aligned S x S crop, from ``FFHQ_TEMPLATE_5PT``."""
    return dlib_box_from_five_points(FFHQ_TEMPLATE_5PT * float(size) - 0.5)


@lru_cache(maxsize=2)
def _load_predictor(path: str) -> Any:
    """The 68-point model (~100 MB, ~1 s to load) is read once per process and shared."""
    dlib, _ = _import_dlib()
    log.info("loading dlib 68-point shape predictor from %s", path)
    return dlib.shape_predictor(path)


class _ShapePredictor:
    """dlib's 68-point predictor on float boxes (pixel coordinates of the full image)."""

    def __init__(self, predictor_path: str | os.PathLike[str] | None) -> None:
        dlib, frm = _import_dlib()
        path = str(predictor_path) if predictor_path else frm.pose_predictor_model_location()
        if not os.path.isfile(path):
            raise FileNotFoundError(f"dlib 68-point shape predictor not found at {path} ({_EXTRA_HINT})")
        self._dlib = dlib
        self._predictor = _load_predictor(path)

    def __call__(self, rgb: np.ndarray, box: np.ndarray) -> np.ndarray:
        x0, y0, x1, y1 = (int(round(float(v))) for v in box)
        # dlib rectangles are inclusive; our boxes have exclusive x1/y1.
        shape = self._predictor(rgb, self._dlib.rectangle(x0, y0, x1 - 1, y1 - 1))
        return np.array([[pt.x, pt.y] for pt in shape.parts()], dtype=np.float32)


class _AnalyzerBase:
    """Shared tail of every backend: landmarks on boxes, FFHQ fallback, largest-first order."""

    def __init__(self, predictor_path: str | os.PathLike[str] | None, assume_aligned_box: bool) -> None:
        self._predict = _ShapePredictor(predictor_path)
        self.assume_aligned_box = bool(assume_aligned_box)
        self.num_assumed = 0  # how many images fell back to the FFHQ box (for run summaries)

    def _boxes(self, rgb: np.ndarray) -> list[tuple[np.ndarray, float]]:
        raise NotImplementedError

    def analyze(self, rgb: np.ndarray) -> list[DetectedFace]:
        """All faces in a uint8 RGB HxWx3 image, largest first; ``[]`` when none.

        With ``assume_aligned_box`` and no detection, a square image is treated as an
        FFHQ-aligned crop: landmarks are predicted on the template box and the face is returned
        with ``score == ALIGNED_BOX_SCORE`` (-1) so downstream code can tell (and count) it.
        """
        img = _check_rgb(rgb)
        boxes = self._boxes(img)
        if not boxes and self.assume_aligned_box:
            h, w = img.shape[:2]
            if h != w:
                log.warning("no face detected and image is not square (%dx%d): not an FFHQ crop, "
                            "no aligned-box fallback", w, h)
            else:
                self.num_assumed += 1
                log.warning("no face detected in %dx%d crop: assuming FFHQ alignment and predicting "
                            "landmarks on the template box (score=%s; fallback #%d)",
                            w, h, ALIGNED_BOX_SCORE, self.num_assumed)
                boxes = [(ffhq_face_box(w), ALIGNED_BOX_SCORE)]
        faces = [
            DetectedFace(box=np.asarray(box, np.float32), score=float(score), landmarks68=self._predict(img, box))
            for box, score in boxes
        ]
        return sorted(faces, key=lambda f: (-f.area, -f.score))

    __call__ = analyze


class DlibAnalyzer(_AnalyzerBase):
    """dlib detector (HOG or CNN) + dlib 68-point shape predictor; the offline default.

    Args:
        detector: ``"hog"`` (fast, frontal faces) or ``"cnn"`` (dlib mmod from
            ``face_recognition_models``: better recall, ~1 s per 512 image on one CPU core).
        upsample: times the (downscaled) image is doubled before detection (finds small faces).
        detect_max_side: detection runs on a copy whose longest side is at most this (speed:
            HOG time grows with pixel count, and faces in aligned crops are large); boxes are
            mapped back and landmarks are predicted on the full-resolution image. ``None`` = off.
        threshold: HOG SVM threshold shift (negative = more detections); ignored for CNN.
        assume_aligned_box: on no detection, fall back to the FFHQ template box (logged and
            recorded as score -1); only for inputs known to be FFHQ-aligned crops.
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
        super().__init__(predictor_path, assume_aligned_box)
        dlib, frm = _import_dlib()
        if detector not in ("hog", "cnn"):
            raise ValueError(f"detector must be 'hog' or 'cnn', got {detector!r}")
        if upsample < 0:
            raise ValueError(f"upsample must be >= 0, got {upsample}")
        self.detector = detector
        self.upsample = int(upsample)
        self.detect_max_side = detect_max_side
        self.threshold = float(threshold)
        if detector == "cnn":
            path = str(cnn_path) if cnn_path else frm.cnn_face_detector_model_location()
            self._detect = dlib.cnn_face_detection_model_v1(path)
        else:
            self._detect = dlib.get_frontal_face_detector()

    def _boxes(self, rgb: np.ndarray) -> list[tuple[np.ndarray, float]]:
        scale = 1.0
        img = rgb
        if self.detect_max_side is not None and max(rgb.shape[:2]) > self.detect_max_side:
            scale = self.detect_max_side / max(rgb.shape[:2])
            size = (max(1, round(rgb.shape[1] * scale)), max(1, round(rgb.shape[0] * scale)))
            img = np.ascontiguousarray(cv2.resize(rgb, size, interpolation=cv2.INTER_AREA))
        if self.detector == "cnn":
            found = [(d.rect, float(d.confidence)) for d in self._detect(img, self.upsample)]
        else:
            rects, scores, _ = self._detect.run(img, self.upsample, self.threshold)
            found = list(zip(rects, (float(s) for s in scores)))
        # Rectangle corners -> exclusive pixel box in the input's coordinates.
        return [
            (np.array([r.left(), r.top(), r.right() + 1, r.bottom() + 1], np.float32) / scale, s)
            for r, s in found
        ]


class ScrfdAnalyzer(_AnalyzerBase):
    """SCRFD-500M boxes/keypoints (ONNX) + dlib 68-point landmarks on a dlib-like box.

    The 68 landmarks are predicted on :func:`dlib_box_from_five_points` of SCRFD's keypoints
    (not on SCRFD's own, taller box) so the predictor sees the box geometry it was trained on;
    the returned ``box`` is SCRFD's box and ``score`` its confidence.
    Needs the ``onnx`` extra (insightface, onnxruntime) and the ``faces`` extra.
    """

    def __init__(
        self,
        weights_path: str | os.PathLike[str] | None = None,
        det_size: int = 640,
        threshold: float = 0.5,
        pad: float = 0.25,
        assume_aligned_box: bool = False,
        predictor_path: str | os.PathLike[str] | None = None,
    ) -> None:
        super().__init__(predictor_path, assume_aligned_box)
        from reliableswap.faces.scrfd import ScrfdDetector

        self._scrfd = ScrfdDetector(weights_path=weights_path, det_size=det_size, threshold=threshold, pad=pad)

    def _boxes(self, rgb: np.ndarray) -> list[tuple[np.ndarray, float]]:
        return []  # analyze() detects itself; the base class only runs the aligned-box fallback

    def analyze(self, rgb: np.ndarray) -> list[DetectedFace]:
        img = _check_rgb(rgb)
        dets = self._scrfd.detect(np.ascontiguousarray(img[:, :, ::-1]))
        if not dets:
            return super().analyze(img) if self.assume_aligned_box else []
        faces = [
            DetectedFace(
                box=np.asarray(d.box, np.float32),
                score=float(d.score),
                landmarks68=self._predict(img, dlib_box_from_five_points(d.keypoints)),
            )
            for d in dets
        ]
        return sorted(faces, key=lambda f: (-f.area, -f.score))

    __call__ = analyze
