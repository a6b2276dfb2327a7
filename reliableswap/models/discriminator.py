"""pix2pixHD multi-scale PatchGAN discriminator (3 scales, 3 layers, intermediate features).

Key names (``scale{i}_layer{j}``) match the released checkpoints
(``multiscale_patch_discriminator`` manifest). As in pix2pixHD, the sub-network named
``scale{num_scales-1}`` sees the full-resolution image and ``scale0`` the coarsest one.
"""

from __future__ import annotations

import math

import torch.nn.functional as F
from torch import Tensor, nn


class MultiScalePatchDiscriminator(nn.Module):
    """Returns, per scale, the list of intermediate features; the last entry is the patch logit map."""

    def __init__(
        self, in_channels: int = 3, base_channels: int = 64, num_layers: int = 3, num_scales: int = 3
    ) -> None:
        super().__init__()
        self.num_layers = num_layers
        self.num_scales = num_scales
        pad = int(math.ceil((4 - 1.0) / 2))
        for scale in range(num_scales):
            blocks: list[nn.Sequential] = [
                nn.Sequential(
                    nn.Conv2d(in_channels, base_channels, 4, stride=2, padding=pad),
                    nn.LeakyReLU(0.2, inplace=True),
                )
            ]
            ch = base_channels
            for layer in range(1, num_layers + 1):
                out = min(ch * 2, 512 * base_channels // 64)
                stride = 2 if layer < num_layers else 1
                blocks.append(
                    nn.Sequential(
                        nn.Conv2d(ch, out, 4, stride=stride, padding=pad),
                        nn.BatchNorm2d(out),
                        nn.LeakyReLU(0.2, inplace=True),
                    )
                )
                ch = out
            blocks.append(nn.Sequential(nn.Conv2d(ch, 1, 4, stride=1, padding=pad)))
            for j, block in enumerate(blocks):
                self.add_module(f"scale{scale}_layer{j}", block)

    def _single_scale(self, scale: int, x: Tensor) -> list[Tensor]:
        feats = []
        for j in range(self.num_layers + 2):
            x = getattr(self, f"scale{scale}_layer{j}")(x)
            feats.append(x)
        return feats

    def forward(self, x: Tensor) -> list[list[Tensor]]:
        outputs = []
        for i in range(self.num_scales):
            outputs.append(self._single_scale(self.num_scales - 1 - i, x))
            if i != self.num_scales - 1:
                x = F.avg_pool2d(x, 3, stride=2, padding=1, count_include_pad=False)
        return outputs
