"""Pixel L1 per sample, shared by the reconstruction and cycle losses."""

from __future__ import annotations

from torch import Tensor, nn


def per_sample_l1(a: Tensor, b: Tensor) -> Tensor:
    """Mean absolute difference per sample, shape (B,)."""
    if a.shape != b.shape:
        raise ValueError(f"image shapes differ: {tuple(a.shape)} vs {tuple(b.shape)}")
    return (a - b).abs().flatten(1).mean(dim=1)


class ReconstructionLoss(nn.Module):
    """``L1(result, target)`` per sample: the pixel ground truth of same-identity pairs."""

    def forward(self, result: Tensor, target: Tensor) -> Tensor:
        return per_sample_l1(result, target)


class CycleLoss(nn.Module):
    """``L1(target, G(target, result.detach()))`` per sample.

    The caller runs the generator (source = the original target, attributes from the detached
    result) and passes the cycled image; swapping the target's identity back must give the
    target again.
    """

    def forward(self, cycled: Tensor, target: Tensor) -> Tensor:
        return per_sample_l1(cycled, target)
