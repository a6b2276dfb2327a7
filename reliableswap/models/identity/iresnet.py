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

The same network is reused on other crop sizes (FixerNet: the 56x56 lower-face crop, fc in
512*4*4 = 8192 features, 128-d, as ReliableSwap's ``fc_scale``): ``input_size`` sets the fc
input from the spatial size after the four stride-2 stages (``ceil(n / 16)``), and ``widths``
allows narrow variants for CPU smoke runs. Defaults give the released ArcFace layout unchanged.

Input: 112x112 RGB ArcFace crop in [-1, 1] (``(pixel / 255 - 0.5) / 0.5``). Output: 512-d,
*not* normalised (the :class:`~reliableswap.models.identity.base.IdentityEncoder` wrapper
normalises).
"""

from __future__ import annotations

from collections.abc import Sequence

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


#: Channels of the stem/stage 1..4 of the released networks.
IRESNET_WIDTHS: tuple[int, int, int, int] = (64, 128, 256, 512)


def iresnet_output_size(input_size: int) -> int:
    """Spatial size after the four stride-2 stages (3x3, padding 1): ``ceil(n / 16)``; 112 -> 7, 56 -> 4."""
    n = int(input_size)
    for _ in range(4):
        n = (n - 1) // 2 + 1
    return n


def _pair(size: int | Sequence[int]) -> tuple[int, int]:
    if isinstance(size, int):
        return size, size
    h, w = (int(v) for v in size)
    return h, w


class IResNet(nn.Module):
    """IResNet backbone; ``layers`` gives the number of blocks per stage.

    ``input_size`` (int or (H, W)) only sets the fc input size; ``widths`` the stage channels.
    """

    def __init__(
        self,
        layers: tuple[int, int, int, int],
        embedding_dim: int = 512,
        dropout: float = 0.0,
        input_size: int | Sequence[int] = 112,
        widths: Sequence[int] = IRESNET_WIDTHS,
    ) -> None:
        super().__init__()
        widths = tuple(int(w) for w in widths)
        if len(widths) != 4 or min(widths) <= 0:
            raise ValueError(f"widths needs 4 positive channel counts, got {widths}")
        self.embedding_dim = embedding_dim
        self.input_size = _pair(input_size)
        self.fc_spatial = tuple(iresnet_output_size(n) for n in self.input_size)
        self.conv1 = _conv3x3(3, widths[0])
        self.bn1 = nn.BatchNorm2d(widths[0], eps=_BN_EPS)
        self.prelu = nn.PReLU(widths[0])
        cin = widths[0]
        for i, (blocks, cout) in enumerate(zip(layers, widths), start=1):
            stage = [IBasicBlock(cin, cout, stride=2)] + [IBasicBlock(cout, cout) for _ in range(blocks - 1)]
            self.add_module(f"layer{i}", nn.Sequential(*stage))
            cin = cout
        self.bn2 = nn.BatchNorm2d(cin, eps=_BN_EPS)
        self.dropout = nn.Dropout(p=dropout)
        self.fc = nn.Linear(cin * self.fc_spatial[0] * self.fc_spatial[1], embedding_dim)
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


def iresnet(
    arch: str,
    embedding_dim: int = 512,
    input_size: int | Sequence[int] = 112,
    widths: Sequence[int] = IRESNET_WIDTHS,
) -> IResNet:
    """Build ``r18``/``r34``/``r50``/``r100`` (randomly initialised); see :class:`IResNet`."""
    try:
        layers = IRESNET_LAYERS[arch]
    except KeyError:
        raise ValueError(f"unknown IResNet arch '{arch}'; known: {', '.join(IRESNET_LAYERS)}") from None
    return IResNet(layers, embedding_dim=embedding_dim, input_size=input_size, widths=widths)
