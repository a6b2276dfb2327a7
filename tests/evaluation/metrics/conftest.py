"""Cheap stand-in judges and batches for the metric tests (no dlib, no ONNX, no weights)."""

from __future__ import annotations

import torch
from torch import nn

from reliableswap.evaluation.metrics import SwapBatch


class MeanColour(nn.Module):
    """Toy identity encoder: the mean RGB colour (faces of one 'person' share a colour)."""

    name = "mean_colour"

    def forward(self, x: torch.Tensor) -> torch.Tensor:
        return x.mean(dim=(2, 3)) + 2.0  # keep away from 0 so cosine is defined


COLOURS = torch.tensor([[1, -1, -1], [-1, 1, -1], [-1, -1, 1], [1, 1, -1]], dtype=torch.float32)


def images(colour_idx: list[int]) -> torch.Tensor:
    """(N, 3, 8, 8) flat-colour 'faces', one colour per identity index."""
    return COLOURS[colour_idx][:, :, None, None].expand(-1, 3, 8, 8).clone()


def swap_batch(src: list[int], tgt: list[int], swap: torch.Tensor) -> SwapBatch:
    """A batch whose identities and keys follow the colour indices."""
    return SwapBatch(images(src), images(tgt), swap, [f"id{i}" for i in src], [f"id{i}" for i in tgt],
                     [f"s{i}" for i in src], [f"t{i}" for i in tgt])
