"""dlib's 68-point (iBUG) shape predictor on float boxes, loaded once per process.

The predictor was trained on boxes of dlib's HOG detector; boxes from anywhere else should first
be made dlib-like (:mod:`reliableswap.faces.calibration`). Model file: ``face_recognition_models``'
``shape_predictor_68_face_landmarks.dat`` (~100 MB, ~1 s to load), or an explicit path.
"""

from __future__ import annotations

import logging
import os
from functools import lru_cache
from typing import Any

import numpy as np

from reliableswap.faces.dlib_detector import EXTRA_HINT, import_dlib, import_face_models

__all__ = ["ShapePredictor"]

log = logging.getLogger(__name__)


@lru_cache(maxsize=2)
def _load_predictor(path: str) -> Any:
    """The 68-point model is read once per process and shared by every analyzer."""
    log.info("loading dlib 68-point shape predictor from %s", path)
    return import_dlib().shape_predictor(path)


class ShapePredictor:
    """68 landmarks of the face in a box of an RGB uint8 image.

    ``predictor_path``: explicit model file; ``None`` = ``face_recognition_models``' file.
    Raises ``FileNotFoundError`` when the file is missing, ``ImportError`` without the extra.
    """

    def __init__(self, predictor_path: str | os.PathLike[str] | None = None) -> None:
        self._dlib = import_dlib()
        path = str(predictor_path) if predictor_path else import_face_models().pose_predictor_model_location()
        if not os.path.isfile(path):
            raise FileNotFoundError(f"dlib 68-point shape predictor not found at {path} ({EXTRA_HINT})")
        self._predictor = _load_predictor(path)

    def __call__(self, rgb: np.ndarray, box: np.ndarray) -> np.ndarray:
        """(68, 2) float32 iBUG landmarks (pixel coordinates) for ``box`` (x0, y0, x1, y1 exclusive)."""
        x0, y0, x1, y1 = (int(round(float(v))) for v in box)
        # dlib rectangles are inclusive; our boxes have exclusive x1/y1.
        shape = self._predictor(rgb, self._dlib.rectangle(x0, y0, x1 - 1, y1 - 1))
        return np.array([[pt.x, pt.y] for pt in shape.parts()], dtype=np.float32)
