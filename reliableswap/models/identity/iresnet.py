"""ArcFace IResNet backbones (InsightFace ``arcface_torch``): iresnet18 / 50 / 100.

The module and parameter names follow the released ``backbone.pth`` files key for key (checked
against ``checkpoint_manifests.json``), so the official checkpoints load strictly with no key
remapping. Architecture (Deng et al., ArcFace; "improved" pre-activation residual unit):

- stem: 3x3 conv (stride 1) -> BN -> PReLU on the 112x112 input;
- four stages of ``IBasicBlock`` (64, 128, 256, 512 channels), each starting with stride 2:
  112 -> 56 -> 28 -> 14 -> 7;
- block: BN -> 3x3 conv -> BN -> PReLU -> 3x3 conv (stride here) -> BN, plus a 1x1-conv+BN
  shortcut when the shape changes;
- head: BN -> flatten (512*7*7) -> dropout (0 at inference) -> fc (512) -> BatchNorm1d
  (``features``; its scale is frozen to 1 in the original training).

Input: 112x112 RGB ArcFace crop in [-1, 1] (``(pixel / 255 - 0.5) / 0.5``). Output: 512-d,
*not* normalised (the :class:`~reliableswap.models.identity.base.IdentityEncoder` wrapper
normalises).
"""

from __future__ import annotations

import torch
from torch import nn

#: Blocks per stage of each released depth.
IRESNET_LAYERS: dict[str, tuple[int, int, int, int]] = {
    "r18": (2, 2, 2, 2),
    "r34": (3, 4, 6, 3),
    "r50": (3, 4, 14, 3),
    "r100": (3, 13, 30, 3),
}

#: Registry weight name of each architecture's official checkpoint.
ARCFACE_WEIGHT_NAMES: dict[str, str] = {
    "r18": "arcface_iresnet18",
    "r50": "arcface_iresnet50",
    "r100": "arcface_iresnet100",
}

_BN_EPS = 1e-5


def _conv3x3(cin: int, cout: int, stride: int = 1) -> nn.Conv2d:
    return nn.Conv2d(cin, cout, kernel_size=3, stride=stride, padding=1, bias=False)


class IBasicBlock(nn.Module):
    """Pre-activation residual unit of IResNet (BN-conv-BN-PReLU-conv-BN + shortcut)."""

    def __init__(self, cin: int, cout: int, stride: int = 1) -> None:
        super().__init__()
        self.bn1 = nn.BatchNorm2d(cin, eps=_BN_EPS)
        self.conv1 = _conv3x3(cin, cout)
        self.bn2 = nn.BatchNorm2d(cout, eps=_BN_EPS)
        self.prelu = nn.PReLU(cout)
        self.conv2 = _conv3x3(cout, cout, stride)
        self.bn3 = nn.BatchNorm2d(cout, eps=_BN_EPS)
        self.downsample: nn.Module | None = None
        if stride != 1 or cin != cout:
            self.downsample = nn.Sequential(
                nn.Conv2d(cin, cout, kernel_size=1, stride=stride, bias=False),
                nn.BatchNorm2d(cout, eps=_BN_EPS),
            )

    def forward(self, x: torch.Tensor) -> torch.Tensor:
        out = self.bn3(self.conv2(self.prelu(self.bn2(self.conv1(self.bn1(x))))))
        shortcut = x if self.downsample is None else self.downsample(x)
        return out + shortcut


class IResNet(nn.Module):
    """IResNet backbone; ``layers`` gives the number of blocks per stage."""

    fc_spatial = 7  # 112 / 2**4

    def __init__(self, layers: tuple[int, int, int, int], embedding_dim: int = 512, dropout: float = 0.0) -> None:
        super().__init__()
        self.embedding_dim = embedding_dim
        self.conv1 = _conv3x3(3, 64)
        self.bn1 = nn.BatchNorm2d(64, eps=_BN_EPS)
        self.prelu = nn.PReLU(64)
        cin = 64
        for i, (blocks, cout) in enumerate(zip(layers, (64, 128, 256, 512)), start=1):
            stage = [IBasicBlock(cin, cout, stride=2)] + [IBasicBlock(cout, cout) for _ in range(blocks - 1)]
            self.add_module(f"layer{i}", nn.Sequential(*stage))
            cin = cout
        self.bn2 = nn.BatchNorm2d(512, eps=_BN_EPS)
        self.dropout = nn.Dropout(p=dropout)
        self.fc = nn.Linear(512 * self.fc_spatial**2, embedding_dim)
        self.features = nn.BatchNorm1d(embedding_dim, eps=_BN_EPS)
        # As in the original: the embedding BN keeps a unit scale (only its shift is learnt).
        nn.init.constant_(self.features.weight, 1.0)
        self.features.weight.requires_grad_(False)
        for m in self.modules():
            if isinstance(m, nn.Conv2d):
                nn.init.normal_(m.weight, 0.0, 0.1)

    def forward(self, x: torch.Tensor) -> torch.Tensor:
        x = self.prelu(self.bn1(self.conv1(x)))
        x = self.layer4(self.layer3(self.layer2(self.layer1(x))))
        x = self.bn2(x)
        x = torch.flatten(x, 1)
        x = self.dropout(x)
        return self.features(self.fc(x))


def iresnet(arch: str, embedding_dim: int = 512) -> IResNet:
    """Build ``r18``/``r34``/``r50``/``r100`` (randomly initialised)."""
    try:
        layers = IRESNET_LAYERS[arch]
    except KeyError:
        raise ValueError(f"unknown IResNet arch '{arch}'; known: {', '.join(IRESNET_LAYERS)}") from None
    return IResNet(layers, embedding_dim=embedding_dim)
