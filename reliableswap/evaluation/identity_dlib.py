"""dlib's 128-d ResNet face descriptor, an *evaluation-only* identity judge.

Why dlib: the swap training uses ArcFace (iresnet) / MobileFaceNet embeddings for its identity
loss and the triplet builder filters with them, so measuring a swap's identity with the same
family of networks would grade the model with its own teacher. dlib's descriptor (a ResNet-29
trained with a metric loss on ~3M faces, 99.38% on LFW) is a different network, different
training data and a different alignment (dlib's 5-point chip, 150x150), and it is available
offline from PyPI (``face_recognition_models``). dlib's rule of thumb: Euclidean distance < 0.6
means the same person (:data:`SAME_PERSON_THRESHOLD`). Descriptors are *not* unit vectors (norm
~1.4); use Euclidean distance, not cosine. Cost: ~80 ms per face on one CPU core (the ResNet on
dlib's 150x150 chip dominates; detection of a 256 crop adds a few ms).

Pipeline per image: find the face box (dlib HOG detector, or a fixed box for aligned crops, see
below), fit dlib's 5-point shape predictor in the box, and let dlib align a 150x150 chip from
those points and compute the descriptor.

Boxes for FFHQ-style aligned crops (``box_mode="aligned"``): the HOG detector misses about 1-2%
of aligned crops (and more of synthesised or blurry faces), and in a benchmark a dropped sample
biases the statistics towards easy faces. Since the crops are aligned, the face box is nearly the
same for all of them; the face layer's one FFHQ-crop calibration
(:data:`reliableswap.faces.calibration.FFHQ_FACE_BOX`, the mean HOG box measured on the shared
CelebAMask-HQ crops) gives it, and the 5-point predictor still adapts to the actual face inside it. Use this mode only
on aligned crops; on unaligned photos it describes whatever lies in the middle of the image.
"""

from __future__ import annotations

import logging
import os
from collections.abc import Sequence
from typing import Literal

import numpy as np

from reliableswap.faces.calibration import ffhq_face_box

log = logging.getLogger(__name__)

__all__ = ["DESCRIPTOR_DIM", "SAME_PERSON_THRESHOLD", "DlibFaceDescriptor", "face_distance"]

DESCRIPTOR_DIM = 128

#: dlib's documented decision threshold on the Euclidean descriptor distance.
SAME_PERSON_THRESHOLD = 0.6

BoxMode = Literal["detect", "aligned"]

_MISSING = (
    "DlibFaceDescriptor needs dlib and face_recognition_models (and setuptools<80, which "
    "face_recognition_models imports): pip install 'reliableswap[faces]'"
)


def face_distance(a: np.ndarray, b: np.ndarray) -> np.ndarray | float:
    """Euclidean distance between descriptors ``(..., 128)``, broadcasting; NaN rows give NaN.

    A float for two single descriptors, else an array of the broadcast leading shape.
    """
    d = np.linalg.norm(np.asarray(a, dtype=np.float64) - np.asarray(b, dtype=np.float64), axis=-1)
    return float(d) if np.ndim(d) == 0 else d


class DlibFaceDescriptor:
    """128-d dlib face descriptors of RGB ``uint8`` images.

    ``box_mode="detect"`` (default) finds the largest face with dlib's HOG detector; no face
    gives ``None``. HOG finds faces of >= ~80 px; ``upsample=1`` halves that (for small faces in
    photos) at ~4x the detection time, so the default 0 suits 256/512 crops and portraits.
    Photos larger than ``max_side`` are shrunk for detection only (the landmarks and the
    descriptor use the full image). ``box_mode="aligned"`` skips detection and uses
    :func:`~reliableswap.faces.calibration.ffhq_face_box` (never ``None``; for FFHQ-style aligned crops only, see module doc).
    ``num_jitters`` > 0 averages descriptors of randomly jittered chips (dlib's option; more
    stable, that many times slower). Model paths default to the ``face_recognition_models``
    package files.
    """

    def __init__(
        self,
        box_mode: BoxMode = "detect",
        upsample: int = 0,
        max_side: int | None = 1024,
        num_jitters: int = 0,
        recognition_model: str | os.PathLike[str] | None = None,
        shape_predictor: str | os.PathLike[str] | None = None,
    ) -> None:
        if box_mode not in ("detect", "aligned"):
            raise ValueError(f"box_mode must be 'detect' or 'aligned', got {box_mode!r}")
        try:
            import dlib
            if recognition_model is None or shape_predictor is None:
                import face_recognition_models as frm
        except ImportError as e:
            raise ImportError(_MISSING) from e
        rec_path = str(recognition_model or frm.face_recognition_model_location())
        sp_path = str(shape_predictor or frm.pose_predictor_five_point_model_location())
        self._dlib = dlib
        self._encoder = dlib.face_recognition_model_v1(rec_path)
        self._predictor = dlib.shape_predictor(sp_path)
        self._detector = None
        if box_mode == "detect":
            from reliableswap.faces.dlib_detector import DlibDetector

            self._detector = DlibDetector(upsample=upsample, max_side=max_side)
        self.box_mode = box_mode
        self.num_jitters = int(num_jitters)
        log.debug("dlib descriptor %s, 5-point predictor %s, box_mode=%s", rec_path, sp_path, box_mode)

    def face_box(self, rgb: np.ndarray) -> tuple[float, float, float, float] | None:
        """The box the descriptor will use: largest HOG face, or the fixed aligned box."""
        h, w = rgb.shape[:2]
        if self._detector is None:
            x0, y0, x1, y1 = (float(v) for v in ffhq_face_box(w, h))
            return (x0, y0, x1, y1)
        boxes = self._detector.detect(rgb)
        if not boxes:
            return None
        x0, y0, x1, y1 = (float(v) for v in boxes[0][0])
        return (x0, y0, x1, y1)

    def describe(self, rgb: np.ndarray, box: Sequence[float] | None = None) -> np.ndarray | None:
        """Descriptor ``(128,)`` float64 of the (largest) face, or ``None`` when none is found.

        ``box`` (x0, y0, x1, y1), when given, overrides the detector / aligned box.
        """
        img = _as_rgb(rgb)
        face = tuple(box) if box is not None else self.face_box(img)
        if face is None:
            log.debug("no face found in a %dx%d image", img.shape[1], img.shape[0])
            return None
        x0, y0, x1, y1 = face
        # dlib rectangles are inclusive integer pixel boxes.
        rect = self._dlib.rectangle(int(round(x0)), int(round(y0)), int(round(x1)) - 1, int(round(y1)) - 1)
        shape = self._predictor(img, rect)
        desc = self._encoder.compute_face_descriptor(img, shape, self.num_jitters)
        return np.asarray(desc, dtype=np.float64)

    def describe_batch(self, images: Sequence[np.ndarray]) -> np.ndarray:
        """``(N, 128)`` descriptors; rows of images without a face are NaN (so the index of every
        input is kept and distances involving them are NaN, to be counted, not silently dropped)."""
        out = np.full((len(images), DESCRIPTOR_DIM), np.nan, dtype=np.float64)
        for i, img in enumerate(images):
            d = self.describe(img)
            if d is not None:
                out[i] = d
        missing = int(np.isnan(out[:, 0]).sum())
        if missing:
            log.info("dlib descriptor: no face in %d of %d images", missing, len(images))
        return out

    @staticmethod
    def distance(a: np.ndarray, b: np.ndarray) -> np.ndarray | float:
        """Euclidean descriptor distance (< :data:`SAME_PERSON_THRESHOLD` = same person)."""
        return face_distance(a, b)


def _as_rgb(rgb: np.ndarray) -> np.ndarray:
    img = np.asarray(rgb)
    if img.dtype != np.uint8 or img.ndim != 3 or img.shape[2] != 3:
        raise ValueError(f"expected an HxWx3 RGB uint8 image, got {img.dtype} {img.shape}")
    return np.ascontiguousarray(img)
