"""Attribute loss: how far the result's multi-level attributes are from the target's."""

from __future__ import annotations

import torch
from torch import Tensor, nn


class AttributeLoss(nn.Module):
    """Per sample, the sum over attribute levels of the mean squared feature difference, shape (B,).

    The spec's definition (sum of per-level MSE). The target's attributes are treated as
    constants: gradients flow only through the result's attributes.
    """

    def forward(self, result_attrs: list[Tensor], target_attrs: list[Tensor]) -> Tensor:
        if len(result_attrs) != len(target_attrs):
            raise ValueError(f"attribute level count differs: {len(result_attrs)} vs {len(target_attrs)}")
        per_level = [
            (r - t.detach()).pow(2).flatten(1).mean(dim=1) for r, t in zip(result_attrs, target_attrs, strict=True)
        ]
        return torch.stack(per_level, dim=0).sum(dim=0)
