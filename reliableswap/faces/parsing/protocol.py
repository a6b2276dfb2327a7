"""The face-parser protocol every parsing backend implements (so backends swap by config)."""

from __future__ import annotations

from typing import Protocol, runtime_checkable

from torch import Tensor


@runtime_checkable
class FaceParser(Protocol):
    """Per-pixel face-part labels in the canonical label set of :mod:`.labels`.

    ``parse(images, landmarks)``: images (B, 3, S, S) float in [-1, 1]; landmarks (B, 68, 2) iBUG
    points in pixel coordinates of the same crops (backends that do not need them accept
    ``None``); returns int64 labels (B, S, S). ``needs_landmarks68`` says whether ``landmarks``
    must be given (a caller checks it against :attr:`FaceAnalyzer.landmarks68` before running).
    """

    needs_landmarks68: bool

    def parse(self, images: Tensor, landmarks: Tensor) -> Tensor: ...
