"""BiSeNet face parser (the official 19-class CelebAMask-HQ model), as a :class:`FaceParser`.

The original pipeline parses A' and B with the BiSeNet release ``79999_iter.pth``
(zllrunning/face-parsing.PyTorch). This module re-implements that network so the released file
loads strictly: module names and shapes match manifest ``bisenet_faceparsing_19`` key for key
(13,300,416 parameters). Layout, as the checkpoint's keys describe it:

- ``cp.resnet``: ResNet-18 trunk (no fc); its stride-8 features (layer2, 128 ch) are the
  *spatial path* (the release has no separate spatial-path convs);
- ``cp``: context path with attention refinement modules on layer3/layer4 (``arm16``/``arm32``),
  a global-context branch (``conv_avg``) and two 3x3 heads; returns stride-8 and stride-16
  context features;
- ``ffm``: feature fusion of spatial (128) + context (128) features with channel attention;
- ``conv_out`` (main, 256 -> 19) and the auxiliary heads ``conv_out16``/``conv_out32`` (training
  only; kept so the state dict loads strictly).

Input: RGB 512x512, ImageNet-normalised. Output classes are in BiSeNet's order and are mapped to
the canonical CelebAMask-HQ order with :data:`BISENET_TO_CANONICAL`.
"""

from __future__ import annotations

import logging
import os

import torch
import torch.nn.functional as F
from torch import Tensor, nn

from reliableswap import weights
from reliableswap.faces.parsing.labels import BISENET_TO_CANONICAL
from reliableswap.faces.parsing.protocol import parse_in_chunks, resize_square

__all__ = ["BiSeNet", "BiSeNetParser"]

log = logging.getLogger(__name__)

_IMAGENET_MEAN = (0.485, 0.456, 0.406)
_IMAGENET_STD = (0.229, 0.224, 0.225)


class ConvBNReLU(nn.Sequential):
    """conv (no bias) -> BN -> ReLU, with the release's attribute names ``conv``/``bn``."""

    def __init__(self, cin: int, cout: int, kernel: int = 3, stride: int = 1, padding: int = 1) -> None:
        super().__init__()
        self.conv = nn.Conv2d(cin, cout, kernel, stride, padding, bias=False)
        self.bn = nn.BatchNorm2d(cout)
        self.relu = nn.ReLU(inplace=True)


class BasicBlock(nn.Module):
    """ResNet basic block; ``downsample`` (1x1 conv + BN) when the shape changes."""

    def __init__(self, cin: int, cout: int, stride: int = 1) -> None:
        super().__init__()
        self.conv1 = nn.Conv2d(cin, cout, 3, stride, 1, bias=False)
        self.bn1 = nn.BatchNorm2d(cout)
        self.conv2 = nn.Conv2d(cout, cout, 3, 1, 1, bias=False)
        self.bn2 = nn.BatchNorm2d(cout)
        self.downsample: nn.Module | None = None
        if cin != cout or stride != 1:
            self.downsample = nn.Sequential(nn.Conv2d(cin, cout, 1, stride, bias=False), nn.BatchNorm2d(cout))

    def forward(self, x: Tensor) -> Tensor:
        out = F.relu(self.bn1(self.conv1(x)), inplace=True)
        out = self.bn2(self.conv2(out))
        shortcut = x if self.downsample is None else self.downsample(x)
        return F.relu(out + shortcut, inplace=True)


class ResNet18Trunk(nn.Module):
    """ResNet-18 without pooling head; returns stride 8, 16 and 32 features (128/256/512 ch)."""

    def __init__(self) -> None:
        super().__init__()
        self.conv1 = nn.Conv2d(3, 64, 7, 2, 3, bias=False)
        self.bn1 = nn.BatchNorm2d(64)
        self.maxpool = nn.MaxPool2d(3, 2, 1)
        self.layer1 = nn.Sequential(BasicBlock(64, 64), BasicBlock(64, 64))
        self.layer2 = nn.Sequential(BasicBlock(64, 128, 2), BasicBlock(128, 128))
        self.layer3 = nn.Sequential(BasicBlock(128, 256, 2), BasicBlock(256, 256))
        self.layer4 = nn.Sequential(BasicBlock(256, 512, 2), BasicBlock(512, 512))

    def forward(self, x: Tensor) -> tuple[Tensor, Tensor, Tensor]:
        x = self.maxpool(F.relu(self.bn1(self.conv1(x)), inplace=True))
        feat8 = self.layer2(self.layer1(x))
        feat16 = self.layer3(feat8)
        feat32 = self.layer4(feat16)
        return feat8, feat16, feat32


class AttentionRefinement(nn.Module):
    """3x3 ConvBNReLU, re-weighted per channel by a sigmoid of its global average."""

    def __init__(self, cin: int, cout: int) -> None:
        super().__init__()
        self.conv = ConvBNReLU(cin, cout)
        self.conv_atten = nn.Conv2d(cout, cout, 1, bias=False)
        self.bn_atten = nn.BatchNorm2d(cout)

    def forward(self, x: Tensor) -> Tensor:
        feat = self.conv(x)
        atten = torch.sigmoid(self.bn_atten(self.conv_atten(feat.mean(dim=(2, 3), keepdim=True))))
        return feat * atten


class ContextPath(nn.Module):
    """ResNet-18 + ARMs + global context; returns (stride-8 trunk, stride-8 ctx, stride-16 ctx)."""

    def __init__(self) -> None:
        super().__init__()
        self.resnet = ResNet18Trunk()
        self.arm16 = AttentionRefinement(256, 128)
        self.arm32 = AttentionRefinement(512, 128)
        self.conv_head32 = ConvBNReLU(128, 128)
        self.conv_head16 = ConvBNReLU(128, 128)
        self.conv_avg = ConvBNReLU(512, 128, kernel=1, padding=0)

    def forward(self, x: Tensor) -> tuple[Tensor, Tensor, Tensor]:
        feat8, feat16, feat32 = self.resnet(x)
        context = self.conv_avg(feat32.mean(dim=(2, 3), keepdim=True))
        feat32_sum = self.arm32(feat32) + context  # broadcast == nearest upsampling of a 1x1 map
        feat32_up = self.conv_head32(F.interpolate(feat32_sum, size=feat16.shape[2:], mode="nearest"))
        feat16_sum = self.arm16(feat16) + feat32_up
        feat16_up = self.conv_head16(F.interpolate(feat16_sum, size=feat8.shape[2:], mode="nearest"))
        return feat8, feat16_up, feat32_up


class FeatureFusion(nn.Module):
    """Concatenate spatial + context features, 1x1 ConvBNReLU, add a channel-attended copy."""

    def __init__(self, cin: int, cout: int) -> None:
        super().__init__()
        self.convblk = ConvBNReLU(cin, cout, kernel=1, padding=0)
        self.conv1 = nn.Conv2d(cout, cout // 4, 1, bias=False)
        self.conv2 = nn.Conv2d(cout // 4, cout, 1, bias=False)

    def forward(self, spatial: Tensor, context: Tensor) -> Tensor:
        feat = self.convblk(torch.cat([spatial, context], dim=1))
        atten = torch.sigmoid(self.conv2(F.relu(self.conv1(feat.mean(dim=(2, 3), keepdim=True)))))
        return feat + feat * atten


class OutputHead(nn.Module):
    """3x3 ConvBNReLU then a 1x1 classifier (no bias)."""

    def __init__(self, cin: int, mid: int, n_classes: int) -> None:
        super().__init__()
        self.conv = ConvBNReLU(cin, mid)
        self.conv_out = nn.Conv2d(mid, n_classes, 1, bias=False)

    def forward(self, x: Tensor) -> Tensor:
        return self.conv_out(self.conv(x))


class BiSeNet(nn.Module):
    """The face-parsing BiSeNet. ``forward`` returns main logits (B, 19, H, W) at input size;
    ``forward_all`` also returns the two auxiliary heads (used only for training)."""

    def __init__(self, n_classes: int = 19) -> None:
        super().__init__()
        self.cp = ContextPath()
        self.ffm = FeatureFusion(256, 256)
        self.conv_out = OutputHead(256, 256, n_classes)
        self.conv_out16 = OutputHead(128, 64, n_classes)
        self.conv_out32 = OutputHead(128, 64, n_classes)

    def forward_all(self, x: Tensor) -> tuple[Tensor, Tensor, Tensor]:
        size = x.shape[2:]
        feat8, ctx8, ctx16 = self.cp(x)
        outs = (self.conv_out(self.ffm(feat8, ctx8)), self.conv_out16(ctx8), self.conv_out32(ctx16))
        return tuple(F.interpolate(o, size=size, mode="bilinear", align_corners=True) for o in outs)  # type: ignore[return-value]

    def forward(self, x: Tensor) -> Tensor:
        feat8, ctx8, _ = self.cp(x)
        out = self.conv_out(self.ffm(feat8, ctx8))
        return F.interpolate(out, size=x.shape[2:], mode="bilinear", align_corners=True)


class BiSeNetParser:
    """:class:`~reliableswap.faces.parsing.protocol.FaceParser` running the official BiSeNet release.

    Images (B, 3, S, S) in [-1, 1] are resized to ``input_size`` (the release was trained at
    512), ImageNet-normalised and parsed in chunks of ``batch_size``; logits are resized back to
    S before the argmax (sharper boundaries than resizing labels). Landmarks are not used.

    Args:
        weights_path: explicit ``79999_iter.pth``; ``None`` = registry ``bisenet_faceparsing``
            (``$RELIABLESWAP_PRETRAINED/parsing/79999_iter.pth``). Missing -> ``MissingWeightsError``.
        device: where the network runs (inputs are moved there and results moved back);
            ``None`` = follow the input images' device (the pipeline's ``device``).
    """

    needs_landmarks68 = False

    def __init__(
        self,
        weights_path: str | os.PathLike[str] | None = None,
        device: str | torch.device | None = None,
        input_size: int = 512,
        batch_size: int = 8,
    ) -> None:
        path = weights.resolve("bisenet_faceparsing", weights_path)
        self.net = BiSeNet(n_classes=len(BISENET_TO_CANONICAL))
        weights.load_into(self.net, weights.load_state_dict(path), source=str(path))
        self.net.eval().requires_grad_(False)
        self.device = torch.device(device) if device is not None else None
        self.input_size = int(input_size)
        self.batch_size = int(batch_size)
        self._to_canonical = torch.tensor(BISENET_TO_CANONICAL, dtype=torch.int64)
        self._mean = torch.tensor(_IMAGENET_MEAN).view(1, 3, 1, 1)
        self._std = torch.tensor(_IMAGENET_STD).view(1, 3, 1, 1)
        self._move(self.device or torch.device("cpu"))
        log.info("BiSeNet face parser loaded from %s", path)

    def _move(self, device: torch.device) -> None:
        self.net.to(device)
        self._to_canonical = self._to_canonical.to(device)
        self._mean, self._std = self._mean.to(device), self._std.to(device)
        self._on = device

    @torch.no_grad()
    def parse(self, images: Tensor, landmarks: Tensor | None = None) -> Tensor:
        """(B, 3, S, S) in [-1, 1] -> (B, S, S) int64 canonical labels (on ``images.device``)."""
        size = images.shape[-2:]
        device = self.device or images.device
        if device != self._on:
            self._move(device)

        def labels_of(chunk: Tensor) -> Tensor:
            x = resize_square((chunk.float() + 1) / 2, self.input_size)
            logits = self.net((x - self._mean) / self._std)
            if tuple(logits.shape[-2:]) != tuple(size):
                logits = F.interpolate(logits, size=size, mode="bilinear", align_corners=False)
            return self._to_canonical[logits.argmax(1)]

        return parse_in_chunks(images, self.batch_size, device, labels_of)

    __call__ = parse
