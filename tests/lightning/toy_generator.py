"""A toy third generator for the pluggability test: a masking generator with an extra output.

``ToyMaskGenerator(target, z_id) -> (result, mask)``: it predicts a soft mask (B, 1, S, S) in
[0, 1] from the target and paints an identity-dependent colour into the masked region. It has no
``attributes`` method and must not be run a second time per step unless its own objective
(``toy_loss.ToyMaskLoss``) asks: ``calls`` counts its passes so the test can tell.
"""

from __future__ import annotations

import torch
from torch import Tensor, nn


class ToyMaskGenerator(nn.Module):
    """``(target (B, 3, S, S) in [-1, 1], z_id (B, D)) -> (result (B, 3, S, S) in [-1, 1], mask (B, 1, S, S))``."""

    def __init__(self, id_dim: int, size: int = 16) -> None:
        super().__init__()
        self.size = size
        self.mask_head = nn.Sequential(nn.Conv2d(3, 4, 3, padding=1), nn.BatchNorm2d(4), nn.ReLU(), nn.Conv2d(4, 1, 1))
        self.paint = nn.Linear(id_dim, 3)
        self.calls = {"forward": 0, "mask": 0}

    def predict_mask(self, images: Tensor) -> Tensor:
        """(B, 1, S, S) soft mask in [0, 1] of images (B, 3, S, S)."""
        self.calls["mask"] += 1
        return torch.sigmoid(self.mask_head(images))

    def forward(self, target: Tensor, z_id: Tensor) -> tuple[Tensor, Tensor]:
        self.calls["forward"] += 1
        mask = torch.sigmoid(self.mask_head(target))
        colour = torch.tanh(self.paint(z_id))[:, :, None, None]
        return mask * colour + (1 - mask) * target, mask


class ToyIdentity(nn.Module):
    """Frozen unit-vector embedding of a 4x4 average-pooled image (stands in for ArcFace)."""

    embedding_dim = 8

    def __init__(self) -> None:
        super().__init__()
        torch.manual_seed(0)
        self.proj = nn.Linear(3 * 4 * 4, self.embedding_dim)
        self.requires_grad_(False)

    def forward(self, images: Tensor) -> Tensor:
        x = nn.functional.adaptive_avg_pool2d(images, 4).flatten(1)
        return nn.functional.normalize(self.proj(x), dim=1)
