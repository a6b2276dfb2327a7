"""``build_face_analyzer``: the one entry of the ``face_analyzer`` config group (every entry point).

``backend="auto"`` takes SCRFD when its weights and ``insightface`` are present and otherwise
falls back to dlib *with a warning*: the choice is always logged, and the analyzer's ``name``
(``scrfd_500m_kps`` / ``dlib_hog``) is recorded in run reports. ``needs_landmarks68=True`` (a
parser such as ``parser=landmarks`` that draws from dlib's 68 points) makes SCRFD also predict
them, so every backend gives what the parser needs.
"""

from __future__ import annotations

import logging
from typing import Any

from reliableswap import weights
from reliableswap.faces.face import FaceAnalyzer

__all__ = ["WILD_DLIB_DEFAULTS", "build_face_analyzer"]

log = logging.getLogger(__name__)

#: dlib settings used when a caller gives none: wild photos (``test.py``), faces down to ~40 px.
WILD_DLIB_DEFAULTS: dict[str, Any] = {"upsample": 1}


def build_face_analyzer(backend: str = "auto", scrfd: dict[str, Any] | None = None,
                        dlib: dict[str, Any] | None = None, needs_landmarks68: bool = False) -> FaceAnalyzer:
    """``scrfd`` | ``dlib`` | ``auto`` (SCRFD when available, else dlib, with a warning).

    ``scrfd`` / ``dlib``: keyword arguments of :class:`~reliableswap.faces.scrfd.ScrfdAnalyzer` /
    :class:`~reliableswap.faces.dlib_analyzer.DlibAnalyzer` (dlib on top of
    :data:`WILD_DLIB_DEFAULTS`). ``needs_landmarks68``: the caller's parser needs 68 landmarks, so
    SCRFD is built with ``landmarks68=True`` (dlib always gives them). Raises ``ValueError`` for an
    unknown backend.
    """
    scrfd, dlib = dict(scrfd or {}), {**WILD_DLIB_DEFAULTS, **(dlib or {})}
    if needs_landmarks68 and not scrfd.get("landmarks68"):
        scrfd["landmarks68"] = True  # SCRFD boxes + dlib's 68-point predictor (the `faces` extra)
    if backend not in ("auto", "scrfd", "dlib"):
        raise ValueError(f"unknown face analyzer backend '{backend}'; known: auto, scrfd, dlib")
    if backend == "auto":
        reason = _scrfd_unavailable(scrfd.get("weights_path"))
        if reason is None:
            log.info("face analyzer: SCRFD-500M (5 keypoints%s)", " + dlib 68 landmarks" if scrfd.get("landmarks68") else "")
            backend = "scrfd"
        else:
            log.warning("face analyzer: falling back to dlib HOG + 68 landmarks because %s; "
                        "set face_analyzer=scrfd to make this an error", reason)
            backend = "dlib"
    if backend == "scrfd":
        from reliableswap.faces.scrfd import ScrfdAnalyzer

        return ScrfdAnalyzer(**scrfd)
    from reliableswap.faces.dlib_analyzer import DlibAnalyzer

    return DlibAnalyzer(**dlib)


def _scrfd_unavailable(weights_path: str | None) -> str | None:
    """Why SCRFD cannot run here (missing weights or insightface), or ``None`` when it can."""
    if not weights.is_available("scrfd_500m_kps", weights_path):
        return f"SCRFD weights missing ({weights.get('scrfd_500m_kps').default_path()})"
    try:
        import insightface  # noqa: F401
    except ImportError as exc:
        return f"insightface not importable ({exc})"
    return None
