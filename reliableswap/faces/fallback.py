"""The FFHQ aligned-box fallback shared by the analyzers: an assumed face, logged and counted.

Only for inputs known to be FFHQ-aligned crops (the triplet builder's): when the detector finds
nothing in a square image, the face is assumed at :func:`~reliableswap.faces.calibration.ffhq_face_box`
and recorded with ``score == ALIGNED_BOX_SCORE`` (-1) so downstream code can tell (and count) it.
Off by default everywhere else: on wild photos "no face" must stay "no face".
"""

from __future__ import annotations

import logging

import numpy as np

from reliableswap.faces.calibration import ffhq_face_box
from reliableswap.faces.face import ALIGNED_BOX_SCORE

__all__ = ["AlignedBoxFallback"]

log = logging.getLogger(__name__)


class AlignedBoxFallback:
    """Decides and records the fallback; ``count`` is how many images used it (run summaries)."""

    def __init__(self) -> None:
        self.count = 0

    def box(self, rgb: np.ndarray) -> np.ndarray | None:
        """The assumed face box (4,) float64 of a square crop, or ``None`` (logged) for other shapes."""
        h, w = rgb.shape[:2]
        if h != w:
            log.warning("no face detected and image is not square (%dx%d): not an FFHQ crop, "
                        "no aligned-box fallback", w, h)
            return None
        self.count += 1
        log.warning("no face detected in %dx%d crop: assuming FFHQ alignment and predicting "
                    "landmarks on the template box (score=%s; fallback #%d)",
                    w, h, ALIGNED_BOX_SCORE, self.count)
        return ffhq_face_box(w)
