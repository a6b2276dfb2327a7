"""The face-parser protocol every parsing backend implements (so backends swap by config)."""

from __future__ import annotations

from collections.abc import Callable
from typing import Protocol, runtime_checkable

import torch
import torch.nn.functional as F
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


def parse_in_chunks(images: Tensor, batch_size: int, device: torch.device,
                    labels_of: Callable[[Tensor], Tensor]) -> Tensor:
    """The network parsers' loop: ``labels_of`` on ``batch_size`` images at a time, moved to ``device``.

    ``images``: (B, 3, H, W) (``ValueError`` otherwise); ``labels_of`` maps a chunk on ``device`` to
    its (b, H, W) int64 labels. Returns (B, H, W) on ``images.device``.
    """
    if images.ndim != 4 or images.shape[1] != 3:
        raise ValueError(f"expected images (B, 3, H, W), got {tuple(images.shape)}")
    return torch.cat([labels_of(chunk.to(device)) for chunk in images.split(batch_size)]).to(images.device)


def resize_square(images: Tensor, side: int) -> Tensor:
    """``images`` resized to ``side`` x ``side`` (bilinear, antialiased) unless they already are."""
    if tuple(images.shape[-2:]) == (side, side):
        return images
    return F.interpolate(images, size=(side, side), mode="bilinear", align_corners=False, antialias=True)
