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
Face analysis (detection + landmarks) and face parsing are the face layer's protocols
(:class:`reliableswap.faces.face.FaceAnalyzer`, per image on numpy arrays because its offline
backends are CPU libraries; :class:`reliableswap.faces.parsing.protocol.FaceParser`).
"""

from __future__ import annotations

from dataclasses import dataclass
from typing import Protocol, runtime_checkable

from torch import Tensor


@dataclass
class Reenacted:
    """Output of a reenactor: A driven by B's pose and expression, keeping A's identity/shape."""

    image: Tensor  # (B, 3, S, S)
    landmarks: Tensor  # (B, 68, 2): where A's landmarks ended up in ``image``
    valid: Tensor  # (B, 1, S, S): 1 where ``image`` holds real warped content (0 = holes/outside)
    #: (B, S, S, 2) for each pixel of ``image`` the source pixel (x, y) of A it was sampled from,
    #: when the reenactor is a pixel warp (the landmark/TPS reenactor); ``None`` for generators
    #: (LIA) that have no such map. The quality filter's fold check and the artifact metrics use it.
    grid: Tensor | None = None


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
