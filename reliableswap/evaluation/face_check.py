"""Is there a face? An independent check of evaluation inputs and swap results.

Metrics read fixed aligned boxes, so without a check a swapper that returns noise still gets pose
and expression numbers. This module asks a detector that no metric and no swapper uses -- dlib's
HOG frontal-face detector (compiled into dlib: no weight file, offline) -- whether an image holds a
face:

- :func:`screen_inputs` drops input crops that are unreadable, smaller than ``min_size`` pixels
  (shorter side), not square, or faceless, before any pair is drawn (the protocol reports them);
- :class:`FaceCheck` gives the per-sample face mask of a batch of swap results
  (:attr:`~reliableswap.evaluation.metrics.base.SwapBatch.swap_face`), from which the runner
  reports the face-detection rate and pose/expression metrics pick the samples they score.

Every image is resized to :data:`DETECT_SIZE` before detection, so the answer does not depend
on the swapper's output size (aligned FFHQ crops then hold a ~130 px face, well above HOG's
~80 px minimum). The SVM threshold is lowered to :data:`HOG_THRESHOLD` so that occluded and
turned faces count: with it 997 of the 1,000 shared CelebAMask-HQ crops are found (at the default
0, 991: faces behind sunglasses, a blindfold, in profile), and uniform or blurred noise never.
The same check decides for inputs and results, so a copy of an accepted target is found again.
"""

from __future__ import annotations

import logging
import os
from collections.abc import Sequence
from functools import lru_cache
from pathlib import Path
from typing import Any

import cv2
import numpy as np

log = logging.getLogger(__name__)

__all__ = ["DETECT_SIZE", "HOG_THRESHOLD", "MIN_INPUT_SIZE", "FaceCheck", "face_check", "screen_inputs"]

#: Side (px) every image is resized to before detection.
DETECT_SIZE = 256
#: HOG SVM threshold shift (dlib's default is 0; negative = more detections).
HOG_THRESHOLD = -0.5
#: Default smallest accepted input crop (px, shorter side): below it a crop holds too little face.
MIN_INPUT_SIZE = 64


class FaceCheck:
    """dlib HOG face detection on aligned crops resized to :data:`DETECT_SIZE` (no upsampling,
    threshold :data:`HOG_THRESHOLD`).

    Raises:
        ImportError: dlib is not installed (the ``faces`` extra).
    """

    name = "dlib_hog"

    def __init__(self) -> None:
        from reliableswap.faces.dlib_detector import DlibDetector

        self._detector = DlibDetector("hog", upsample=0, max_side=None, threshold=HOG_THRESHOLD)

    def has_face(self, rgb: np.ndarray) -> bool:
        """Whether an ``HxWx3`` RGB ``uint8`` image holds at least one face."""
        interp = cv2.INTER_AREA if max(rgb.shape[:2]) > DETECT_SIZE else cv2.INTER_LINEAR
        img = cv2.resize(np.ascontiguousarray(rgb), (DETECT_SIZE, DETECT_SIZE), interpolation=interp)
        return bool(self._detector.detect(img))

    def mask(self, images: Sequence[np.ndarray]) -> np.ndarray:
        """(N,) bool: which of ``images`` (RGB ``uint8``) hold a face."""
        return np.array([self.has_face(im) for im in images], dtype=bool)

    def describe(self) -> dict[str, Any]:
        """What decided (written next to the face-detection rate)."""
        from reliableswap.evaluation.metrics.base import package_version

        return {"backend": self.name, "detector": "dlib HOG frontal face, upsample 0",
                "threshold": HOG_THRESHOLD,
                "size": DETECT_SIZE, "dlib": package_version("dlib-bin")}


@lru_cache(maxsize=None)
def face_check() -> FaceCheck:
    """The shared :class:`FaceCheck` (built once per process)."""
    return FaceCheck()


def _reject_reason(path: Path, min_size: int, check: FaceCheck | None) -> str | None:
    """Why ``path`` cannot be an evaluation input, or ``None`` when it can."""
    from reliableswap.io.images import read_rgb

    try:
        img = read_rgb(path)
    except Exception as exc:  # noqa: BLE001 - any read failure drops the file (the reason is kept)
        return f"unreadable: {str(exc).splitlines()[0] if str(exc) else type(exc).__name__}"
    h, w = img.shape[:2]
    if min(h, w) < min_size:
        return f"tiny: {w}x{h} < min_size {min_size}"
    if h != w:
        return f"not square: {w}x{h} (aligned crops are square)"
    if check is not None and not check.has_face(img):
        return f"no face found ({check.name})"
    return None


def screen_inputs(root: str | os.PathLike[str], keys: Sequence[str], min_size: int = MIN_INPUT_SIZE,
                  check_faces: bool = True) -> tuple[list[int], list[tuple[str, str]]]:
    """Split input crops ``root / key`` into usable and dropped ones.

    Returns ``(kept, dropped)``: indices into ``keys`` of usable crops, and ``(key, reason)`` of
    each dropped one (reasons start with ``unreadable``, ``tiny``, ``not square`` or ``no face``).
    Each dropped file is logged once.

    Raises:
        ImportError: ``check_faces`` without dlib.
    """
    try:
        check = face_check() if check_faces else None
    except ImportError as exc:
        raise ImportError(f"{exc}; or skip the input face check with eval.face_check=false") from exc
    kept: list[int] = []
    dropped: list[tuple[str, str]] = []
    for i, key in enumerate(keys):
        reason = _reject_reason(Path(root) / key, int(min_size), check)
        if reason is None:
            kept.append(i)
        else:
            dropped.append((key, reason))
            log.warning("evaluation input dropped: %s (%s)", key, reason)
    return kept, dropped
