"""The small protocols every triplet-synthesis stage implements, so backends are swappable by config.

Conventions shared by all stages:

- images are RGB float tensors (B, 3, S, S) in [-1, 1] on the pipeline's device; all faces are
  FFHQ-style aligned square crops at the pipeline's working size S;
- landmarks are the 68-point iBUG layout, float tensors (B, 68, 2) in pixel coordinates (x, y) of
  the same S x S crop;
- masks are float tensors (B, 1, S, S) in [0, 1] (1 = inside);
- label maps are int64 tensors (B, S, S) in the canonical label set of
  :mod:`reliableswap.faces.parsing.labels` (the CelebAMask-HQ order of the shared masks).

Image processing inside a stage is batched torch, so the pipeline runs on GPU and CPU alike.
Face analysis (detection + landmarks) is per image on numpy arrays because its offline
backends (dlib, MediaPipe, ONNX detectors) are CPU libraries.
"""

from __future__ import annotations

from dataclasses import dataclass
from typing import Protocol, runtime_checkable

import numpy as np
from torch import Tensor


@dataclass(frozen=True)
class DetectedFace:
    """One face found in an image (pixel coordinates of that image)."""

    box: np.ndarray  # (4,) float32: x0, y0, x1, y1
    score: float
    landmarks68: np.ndarray  # (68, 2) float32, iBUG order

    @property
    def area(self) -> float:
        x0, y0, x1, y1 = self.box
        return float(max(0.0, x1 - x0) * max(0.0, y1 - y0))


@runtime_checkable
class FaceAnalyzer(Protocol):
    """Detection + 68-point landmarks. Returns faces largest first; empty list when none."""

    def analyze(self, rgb: np.ndarray) -> list[DetectedFace]: ...


@dataclass
class Reenacted:
    """Output of a reenactor: A driven by B's pose and expression, keeping A's identity/shape."""

    image: Tensor  # (B, 3, S, S)
    landmarks: Tensor  # (B, 68, 2): where A's landmarks ended up in ``image``
    valid: Tensor  # (B, 1, S, S): 1 where ``image`` holds real warped content (0 = holes/outside)


@runtime_checkable
class Reenactor(Protocol):
    def reenact(self, source: Tensor, driving: Tensor, source_landmarks: Tensor, driving_landmarks: Tensor) -> Reenacted: ...


@runtime_checkable
class Inpainter(Protocol):
    """Fill ``mask`` (1 = drop) in ``images`` from the surrounding content."""

    def inpaint(self, images: Tensor, mask: Tensor) -> Tensor: ...


@runtime_checkable
class Enhancer(Protocol):
    """Optional face restoration of synthesized images (e.g. GPEN)."""

    def enhance(self, images: Tensor) -> Tensor: ...
