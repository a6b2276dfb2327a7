"""MobileFaceNet (foamliu/MobileFaceNet flavour), 128-d ArcFace-trained face recogniser.

Small (about 1M parameters) and shipped offline in ``../shared/weights``, so it is the default
identity encoder for demos and tests. Module names match the released state dict
(``recognition/mobilefacenet_arcface.pt``, 307 tensors) key for key. The architecture was read
off that state dict and the ONNX export of the same weights (``mobilefacenet_arcface.onnx``):
it is MobileNetV2-style, with ReLU6 everywhere except the plain ReLU of the depthwise-separable
stem block:

- ``conv1``: 3x3 conv stride 2 -> BN -> ReLU6 (64 ch, 112 -> 56);
- ``dw_conv``: depthwise 3x3 -> BN -> ReLU -> pointwise 1x1 -> BN -> ReLU;
- ``features``: 15 inverted residual blocks, (expansion t, channels c, repeats n, stride s) =
  (2, 64, 5, 2), (4, 128, 1, 2), (2, 128, 6, 1), (4, 128, 1, 2), (2, 128, 2, 1); residual when the
  stride is 1 and the width is unchanged; 56 -> 28 -> 14 -> 7;
- ``conv2``: 1x1 -> BN -> ReLU6 (512 ch); ``gdconv``: global depthwise 7x7 -> BN (7 -> 1);
- ``conv3`` (1x1, 128, with bias) -> ``bn`` -> flatten: 128-d (not normalised).

Input: 112x112 RGB ArcFace crop normalised with the ImageNet mean/std (the repository's
``data_gen.py`` transform; checked empirically: it separates identities on the shared photos
better than [-1, 1] input).
"""

from __future__ import annotations

import torch
from torch import nn

#: Input normalisation of the released weights, in [0, 1] units (RGB).
MOBILEFACENET_MEAN = (0.485, 0.456, 0.406)
MOBILEFACENET_STD = (0.229, 0.224, 0.225)

#: (expansion, out channels, repeats, first stride) of the inverted residual stages.
_STAGES = ((2, 64, 5, 2), (4, 128, 1, 2), (2, 128, 6, 1), (4, 128, 1, 2), (2, 128, 2, 1))


def _conv_bn_relu6(cin: int, cout: int, kernel: int = 3, stride: int = 1, groups: int = 1) -> nn.Sequential:
    # Sequential indices 0 (conv), 1 (bn), 2 (act) give the released key names "x.0.*", "x.1.*".
    return nn.Sequential(
        nn.Conv2d(cin, cout, kernel, stride, (kernel - 1) // 2, groups=groups, bias=False),
        nn.BatchNorm2d(cout),
        nn.ReLU6(inplace=True),
    )


class DepthwiseSeparable(nn.Module):
    """Depthwise 3x3 -> BN -> ReLU -> pointwise 1x1 -> BN -> ReLU."""

    def __init__(self, channels: int, out_channels: int) -> None:
        super().__init__()
        self.depthwise = nn.Conv2d(channels, channels, 3, padding=1, groups=channels, bias=False)
        self.pointwise = nn.Conv2d(channels, out_channels, 1, bias=False)
        self.bn1 = nn.BatchNorm2d(channels)
        self.bn2 = nn.BatchNorm2d(out_channels)
        self.relu = nn.ReLU(inplace=True)

    def forward(self, x: torch.Tensor) -> torch.Tensor:
        x = self.relu(self.bn1(self.depthwise(x)))
        return self.relu(self.bn2(self.pointwise(x)))


class GlobalDepthwise(nn.Module):
    """Global depthwise conv (kernel = feature map size) -> BN: a learnt, per-channel pooling."""

    def __init__(self, channels: int, kernel: int = 7) -> None:
        super().__init__()
        self.depthwise = nn.Conv2d(channels, channels, kernel, groups=channels, bias=False)
        self.bn = nn.BatchNorm2d(channels)

    def forward(self, x: torch.Tensor) -> torch.Tensor:
        return self.bn(self.depthwise(x))


class InvertedResidual(nn.Module):
    """MobileNetV2 block: 1x1 expand -> depthwise 3x3 -> 1x1 project (linear), optional residual."""

    def __init__(self, cin: int, cout: int, stride: int, expansion: int) -> None:
        super().__init__()
        hidden = cin * expansion
        self.use_residual = stride == 1 and cin == cout
        self.conv = nn.Sequential(
            _conv_bn_relu6(cin, hidden, kernel=1),
            _conv_bn_relu6(hidden, hidden, stride=stride, groups=hidden),
            nn.Conv2d(hidden, cout, 1, bias=False),
            nn.BatchNorm2d(cout),
        )

    def forward(self, x: torch.Tensor) -> torch.Tensor:
        out = self.conv(x)
        return x + out if self.use_residual else out


class MobileFaceNet(nn.Module):
    """MobileFaceNet backbone: 112x112 normalised RGB -> (B, 128) raw embedding."""

    def __init__(self, embedding_dim: int = 128) -> None:
        super().__init__()
        self.embedding_dim = embedding_dim
        self.conv1 = _conv_bn_relu6(3, 64, stride=2)
        self.dw_conv = DepthwiseSeparable(64, 64)
        blocks: list[nn.Module] = []
        cin = 64
        for expansion, cout, repeats, stride in _STAGES:
            for i in range(repeats):
                blocks.append(InvertedResidual(cin, cout, stride if i == 0 else 1, expansion))
                cin = cout
        self.features = nn.Sequential(*blocks)
        self.conv2 = _conv_bn_relu6(cin, 512, kernel=1)
        self.gdconv = GlobalDepthwise(512, kernel=7)
        self.conv3 = nn.Conv2d(512, embedding_dim, 1)
        self.bn = nn.BatchNorm2d(embedding_dim)

    def forward(self, x: torch.Tensor) -> torch.Tensor:
        x = self.features(self.dw_conv(self.conv1(x)))
        x = self.bn(self.conv3(self.gdconv(self.conv2(x))))
        return torch.flatten(x, 1)
