"""A compact U-Net face parser trained by this project on CelebAMask-HQ (``experiment=face_parser``).

The offline default parser for the triplet builder and for ``test.py``'s paste mask. Unlike the
landmark parser it *sees* the pixels, so hair over the forehead, hat brims, hands and glasses
are labelled as what they are instead of as skin.

Network (:class:`FaceParsingUNet`, ~1.9 M parameters at the default widths): an encoder of
residual 3x3 blocks at strides 2, 4, 8, 16 and 32 with a global-context vector added at the
bottom, and a decoder that upsamples (bilinear) and fuses the skip of each level; the 19-class
logits come out at stride 2 and are resized bilinearly to the input size before the argmax.
Input: RGB in [-1, 1] (the project's image convention), any size divisible by 32; trained at
256x256 on FFHQ-aligned crops.

:class:`LearnedFaceParser` wraps the shipped weights (registry ``face_parser_unet``, in the repo
with a sha256) as a :class:`~reliableswap.faces.parsing.protocol.FaceParser`.
"""

from __future__ import annotations

import logging
import os
from collections.abc import Sequence

import torch
import torch.nn.functional as F
from torch import Tensor, nn

from reliableswap import weights
from reliableswap.faces.parsing.labels import NAMES
from reliableswap.faces.parsing.protocol import parse_in_chunks, resize_square

__all__ = ["FaceParsingUNet", "LearnedFaceParser"]

log = logging.getLogger(__name__)


def _conv_bn_relu(cin: int, cout: int, stride: int = 1) -> nn.Sequential:
    return nn.Sequential(nn.Conv2d(cin, cout, 3, stride, 1, bias=False), nn.BatchNorm2d(cout), nn.ReLU(inplace=True))


class ResidualBlock(nn.Module):
    """Two 3x3 conv-BN layers with an identity (or strided 1x1) shortcut."""

    def __init__(self, cin: int, cout: int, stride: int = 1) -> None:
        super().__init__()
        self.conv1 = _conv_bn_relu(cin, cout, stride)
        self.conv2 = nn.Sequential(nn.Conv2d(cout, cout, 3, 1, 1, bias=False), nn.BatchNorm2d(cout))
        self.shortcut: nn.Module = nn.Identity()
        if stride != 1 or cin != cout:
            self.shortcut = nn.Sequential(nn.Conv2d(cin, cout, 1, stride, bias=False), nn.BatchNorm2d(cout))

    def forward(self, x: Tensor) -> Tensor:
        return F.relu(self.conv2(self.conv1(x)) + self.shortcut(x), inplace=True)


class FaceParsingUNet(nn.Module):
    """Compact U-Net: (B, 3, H, W) in [-1, 1] -> (B, n_classes, H/2, W/2) logits.

    Args:
        widths: channels at strides 2, 4, 8, 16, 32 (five levels).
        n_classes: output classes (19 = the canonical CelebAMask-HQ labels of :mod:`.labels`).
    """

    def __init__(self, widths: Sequence[int] = (24, 48, 96, 144, 192), n_classes: int = len(NAMES)) -> None:
        super().__init__()
        if len(widths) != 5:
            raise ValueError(f"widths needs 5 entries (strides 2..32), got {list(widths)}")
        w = [int(c) for c in widths]
        self.widths = tuple(w)
        self.n_classes = int(n_classes)
        self.stem = nn.Sequential(_conv_bn_relu(3, w[0], 2), _conv_bn_relu(w[0], w[0]))
        self.down = nn.ModuleList([ResidualBlock(w[i], w[i + 1], 2) for i in range(4)])
        self.context = nn.Sequential(nn.AdaptiveAvgPool2d(1), nn.Conv2d(w[4], w[4], 1), nn.ReLU(inplace=True))
        self.up = nn.ModuleList([_conv_bn_relu(w[i + 1] + w[i], w[i]) for i in range(3, -1, -1)])
        self.head = nn.Conv2d(w[0], self.n_classes, 1)

    def forward(self, x: Tensor) -> Tensor:
        skips = [self.stem(x)]
        for block in self.down:
            skips.append(block(skips[-1]))
        y = skips.pop()
        y = y + self.context(y)
        for fuse in self.up:
            skip = skips.pop()
            y = F.interpolate(y, size=skip.shape[-2:], mode="bilinear", align_corners=False)
            y = fuse(torch.cat([y, skip], dim=1))
        return self.head(y)

    def predict_logits(self, x: Tensor) -> Tensor:
        """Logits resized to the input's size (what IoU and the argmax use)."""
        return F.interpolate(self(x), size=x.shape[-2:], mode="bilinear", align_corners=False)


def network_from_state(state: dict[str, Tensor]) -> FaceParsingUNet:
    """Build the network whose widths the state dict implies (stem and encoder channels)."""
    widths = [int(state["stem.0.0.weight"].shape[0])]
    widths += [int(state[f"down.{i}.conv1.0.weight"].shape[0]) for i in range(4)]
    return FaceParsingUNet(widths=widths, n_classes=int(state["head.weight"].shape[0]))


def _parser_weights(weights_path: str | os.PathLike[str] | None) -> os.PathLike[str]:
    """The weights file: an explicit path or ``RELIABLESWAP_WEIGHT_FACE_PARSER_UNET`` (your own
    export, used as is), else the shipped file, whose sha256 is checked."""
    entry = weights.get("face_parser_unet")
    if weights_path is not None or os.environ.get(entry.env_var):
        path = weights.resolve(entry.name, weights_path)
        log.info("face parser weights from %s (not the shipped file: no checksum)", path)
        return path
    try:
        return weights.verify(entry.name)
    except weights.ChecksumError as exc:
        raise weights.ChecksumError(
            f"{exc}. A parser you trained yourself goes in with parser.weights_path=FILE or "
            f"{entry.env_var}=FILE, not over the shipped file") from None


class LearnedFaceParser:
    """:class:`~reliableswap.faces.parsing.protocol.FaceParser` running this project's trained U-Net.

    Images (B, 3, S, S) in [-1, 1] are resized to ``input_size`` (trained at 256) and parsed in
    chunks of ``batch_size``; logits are resized back to S before the argmax. Landmarks are not
    used (``needs_landmarks68 = False``).

    Args:
        weights_path: explicit weights file (a state dict saved by
            ``scripts/export_face_parser.py``, e.g. a parser you trained); ``None`` = the
            ``RELIABLESWAP_WEIGHT_FACE_PARSER_UNET`` file when set, else the shipped
            ``assets/face_parser_unet.pt`` (sha256-checked: ``ChecksumError`` if it was replaced).
            Missing -> ``MissingWeightsError`` naming the path.
        device: where the network runs; ``None`` = the device of the images it is given.
        input_size: side the images are resized to (must be divisible by 32).
        batch_size: images per forward pass.
    """

    needs_landmarks68 = False

    def __init__(
        self,
        weights_path: str | os.PathLike[str] | None = None,
        device: str | torch.device | None = None,
        input_size: int = 256,
        batch_size: int = 16,
    ) -> None:
        if input_size % 32:
            raise ValueError(f"input_size must be divisible by 32, got {input_size}")
        path = _parser_weights(weights_path)
        state = {k: v.float() for k, v in weights.load_state_dict(path).items()}
        self.net = network_from_state(state)
        weights.load_into(self.net, state, source=str(path))
        self.net.eval().requires_grad_(False)
        self.device = torch.device(device) if device is not None else None
        self.input_size = int(input_size)
        self.batch_size = int(batch_size)
        self._on = torch.device("cpu")
        log.info("learned face parser loaded from %s", path)

    @torch.no_grad()
    def parse(self, images: Tensor, landmarks: Tensor | None = None) -> Tensor:
        """(B, 3, S, S) in [-1, 1] -> (B, S, S) int64 canonical labels (on ``images.device``)."""
        size = tuple(images.shape[-2:])
        device = self.device or images.device
        if device != self._on:
            self.net.to(device)
            self._on = device

        def labels_of(chunk: Tensor) -> Tensor:
            logits = self.net(resize_square(chunk.float(), self.input_size))
            return F.interpolate(logits, size=size, mode="bilinear", align_corners=False).argmax(1)

        return parse_in_chunks(images, self.batch_size, device, labels_of)

    __call__ = parse
