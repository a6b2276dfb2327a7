"""VGG19 feature (perceptual) L1 loss, used by the cycle term and, later, the triplet term.

The ImageNet VGG19 weights come from torchvision's download into the torch hub cache (registry
entry ``vgg19_imagenet``). They cannot be downloaded here, so configs disable this loss by default
offline; enabling it without the file raises :class:`~reliableswap.weights.MissingWeightsError`
naming the expected path, never a silent random network.
"""

from __future__ import annotations

import os

import torch
from torch import Tensor, nn

from reliableswap import weights

# relu1_1, relu2_1, relu3_1, relu4_1, relu5_1 in torchvision's vgg19().features, with the
# pix2pixHD layer weights (coarser layers matter more).
_LAYER_ENDS = (2, 7, 12, 21, 30)
_LAYER_WEIGHTS = (1 / 32, 1 / 16, 1 / 8, 1 / 4, 1.0)


class VGGFeatureLoss(nn.Module):
    """Per-sample weighted L1 between VGG19 features of two image batches in [-1, 1], shape (B,)."""

    def __init__(self, weights_path: str | os.PathLike[str] | None = None, pretrained: bool = True) -> None:
        super().__init__()
        from torchvision.models import vgg19

        net = vgg19()
        if pretrained:
            path = weights.resolve("vgg19_imagenet", weights_path)
            weights.load_into(net, weights.load_state_dict(path), source=str(path))
        features = net.features[: _LAYER_ENDS[-1]]
        self.slices = nn.ModuleList(
            features[start:end] for start, end in zip((0,) + _LAYER_ENDS[:-1], _LAYER_ENDS, strict=True)
        )
        self.register_buffer("mean", torch.tensor([0.485, 0.456, 0.406]).view(1, 3, 1, 1), persistent=False)
        self.register_buffer("std", torch.tensor([0.229, 0.224, 0.225]).view(1, 3, 1, 1), persistent=False)
        self.requires_grad_(False)
        self.eval()

    def train(self, mode: bool = True) -> VGGFeatureLoss:  # frozen feature extractor: stay in eval
        return super().train(False)

    def forward(self, x: Tensor, y: Tensor) -> Tensor:
        h_x = ((x + 1) / 2 - self.mean) / self.std
        h_y = ((y + 1) / 2 - self.mean) / self.std
        total = x.new_zeros(x.shape[0])
        for block, weight in zip(self.slices, _LAYER_WEIGHTS, strict=True):
            h_x, h_y = block(h_x), block(h_y)
            total = total + weight * (h_x - h_y.detach()).abs().flatten(1).mean(dim=1)
        return total
