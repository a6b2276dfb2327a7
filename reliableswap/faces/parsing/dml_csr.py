"""DML-CSR face parser (CVPR 2022, insightface ``parsing/dml_csr``), as a :class:`FaceParser`.

ReliableSwap's original pipeline parses its faces with the DML-CSR CelebAMask-HQ release
``dml_csr_celebA.pth`` (19 classes, already in the canonical CelebAMask-HQ order). This module
re-implements the inference network in plain PyTorch so that file loads strictly: module names and
shapes match manifest ``tests/manifests/dml_csr_celeba.json`` key for key (68,060,213 parameters).

Layout (as the checkpoint's keys describe it; the release is the ``trained=False`` variant, so the
training-only edge branch ``edge_layer`` is absent):

- deep stem (three 3x3 convs, 3 -> 64 -> 64 -> 128, stride 2) + max-pool: stride 4;
- ResNet-101 bottleneck stages ``layer1..4`` (3/4/23/3 blocks; strides 1/2/1/1, layer4 dilated
  by 2): stride-4 features ``x2`` (256 ch) and stride-8 features (2048 ch);
- ``context``: dual graph-convolution head (:class:`DualGCNHead`) on the stride-8 features;
- ``layer6``: decoder fusing the context (512 ch) with ``x2`` and classifying at stride 4.

Normalisation layers. The official code uses ``InPlaceABN`` (batch norm fused with an activation;
default ``leaky_relu`` slope 0.01, and every ``abn(...)`` call in the network uses the default).
:class:`ActivatedBatchNorm` is a ``BatchNorm2d`` followed by that activation, so its parameters
and buffers (``weight``, ``bias``, ``running_mean``, ``running_var``, ``num_batches_tracked``) have
the ABN names. Note the quirks kept for fidelity: the bottleneck's last BN and the shortcut's BN
apply leaky-ReLU *before* the residual sum, and the stem applies ReLU after the leaky-ReLU.

``num_batches_tracked``: inplace_abn >= 1.1 registers it (like ``nn.BatchNorm2d``); files saved
with inplace_abn 1.0.x lack it on the ABN layers. Our modules always register it (the manifest
includes it) and :func:`normalize_checkpoint` adds a zero entry where a file lacks it; the value
is unused at inference (it only matters for ``momentum=None`` training).

Input (official ``test.py``): 473x473 crops read with OpenCV, i.e. **BGR** channel order,
normalised with the ImageNet mean/std (given in RGB order, applied to BGR data as the official
code does). ReliableSwap instead fed its [-1, 1] RGB tensors directly at 256x256
(``preprocess="reliableswap"``).
"""

from __future__ import annotations

import logging
import os
from collections.abc import Mapping

import torch
import torch.nn.functional as F
from torch import Tensor, nn

from reliableswap import weights
from reliableswap.faces.parsing.labels import DML_CSR_TO_CANONICAL
from reliableswap.faces.parsing.protocol import parse_in_chunks

__all__ = ["DMLCSR", "ActivatedBatchNorm", "DMLCSRParser", "normalize_checkpoint"]

log = logging.getLogger(__name__)

_IMAGENET_MEAN = (0.485, 0.456, 0.406)
_IMAGENET_STD = (0.229, 0.224, 0.225)
PREPROCESS = ("official", "reliableswap")


class ActivatedBatchNorm(nn.BatchNorm2d):
    """``BatchNorm2d`` + activation with InPlaceABN's state-dict layout (not in place).

    Args:
        num_features: channels C of the (B, C, H, W) input.
        activation: ``"leaky_relu"`` (InPlaceABN's default, slope ``slope``) or ``"identity"``.
    """

    def __init__(self, num_features: int, affine: bool = True, activation: str = "leaky_relu",
                 slope: float = 0.01) -> None:
        super().__init__(num_features, affine=affine)
        if activation not in ("leaky_relu", "identity"):
            raise ValueError(f"unsupported activation {activation!r}")
        self.activation = activation
        self.slope = slope

    def forward(self, x: Tensor) -> Tensor:
        x = super().forward(x)
        return F.leaky_relu(x, self.slope) if self.activation == "leaky_relu" else x


def _conv_abn(cin: int, cout: int, kernel: int, bias: bool = False, **kw: int) -> nn.Sequential:
    """``[conv, ABN]`` as the official ``nn.Sequential(nn.Conv2d(...), abn(...))`` (keys ``0``/``1``)."""
    return nn.Sequential(nn.Conv2d(cin, cout, kernel, bias=bias, **kw), ActivatedBatchNorm(cout))


class Bottleneck(nn.Module):
    """ResNet bottleneck (1x1, 3x3 dilated, 1x1 x4) with ABN layers; ``downsample`` on the shortcut."""

    def __init__(self, cin: int, planes: int, stride: int = 1, dilation: int = 1,
                 downsample: nn.Module | None = None) -> None:
        super().__init__()
        self.conv1 = nn.Conv2d(cin, planes, 1, bias=False)
        self.bn1 = ActivatedBatchNorm(planes)
        self.conv2 = nn.Conv2d(planes, planes, 3, stride, padding=dilation, dilation=dilation, bias=False)
        self.bn2 = ActivatedBatchNorm(planes)
        self.conv3 = nn.Conv2d(planes, planes * 4, 1, bias=False)
        self.bn3 = ActivatedBatchNorm(planes * 4)
        self.downsample = downsample

    def forward(self, x: Tensor) -> Tensor:
        out = F.relu(self.bn1(self.conv1(x)))
        out = F.relu(self.bn2(self.conv2(out)))
        out = self.bn3(self.conv3(out))
        shortcut = x if self.downsample is None else self.downsample(x)
        return F.relu(out + shortcut)


def _stage(cin: int, planes: int, blocks: int, stride: int, dilation: int) -> nn.Sequential:
    """``blocks`` bottlenecks; the first has a 1x1 conv + ABN shortcut (width or stride changes)."""
    down = nn.Sequential(nn.Conv2d(cin, planes * 4, 1, stride, bias=False), ActivatedBatchNorm(planes * 4))
    layers = [Bottleneck(cin, planes, stride, dilation, down)]
    layers += [Bottleneck(planes * 4, planes, 1, dilation) for _ in range(blocks - 1)]
    return nn.Sequential(*layers)


class SpatialGCN(nn.Module):
    """Graph reasoning over spatial nodes: (B, C, h, w) -> (B, C, h, w), residual scaled by ``gamma``."""

    def __init__(self, planes: int) -> None:
        super().__init__()
        inter = planes // 2
        self.node_k = nn.Conv2d(planes, inter, 1)
        self.node_v = nn.Conv2d(planes, inter, 1)
        self.node_q = nn.Conv2d(planes, inter, 1)
        self.conv_wg = nn.Conv1d(inter, inter, 1, bias=False)
        self.bn_wg = nn.BatchNorm1d(inter)
        self.out = _conv_abn(inter, planes, 1, bias=True)
        self.gamma = nn.Parameter(torch.zeros(1))

    def forward(self, x: Tensor) -> Tensor:
        key, value, query = self.node_k(x), self.node_v(x), self.node_q(x)
        b, c, h, w = key.shape
        # channel affinity (B, c, c) from queries and values, then propagated to every position
        affinity = torch.softmax(torch.bmm(query.flatten(2), value.flatten(2).transpose(1, 2)), dim=2)
        mixed = torch.bmm(key.flatten(2).transpose(1, 2), affinity).transpose(1, 2)  # (B, c, hw)
        mixed = self.bn_wg(self.conv_wg(mixed)).view(b, c, h, w)
        return self.gamma * self.out(mixed) + x


class DualGCN(nn.Module):
    """Dual graph convolution on (B, P, H, W): a local (3x strided depthwise + spatial GCN) branch
    and a projected feature-space GCN, concatenated and fused back to P channels."""

    def __init__(self, planes: int, ratio: int = 4) -> None:
        super().__init__()
        wide, narrow = planes // ratio * 2, planes // ratio
        self.phi = nn.Conv2d(planes, wide, 1, bias=False)
        self.bn_phi = ActivatedBatchNorm(wide)
        self.theta = nn.Conv2d(planes, narrow, 1, bias=False)
        self.bn_theta = ActivatedBatchNorm(narrow)
        self.conv_adj = nn.Conv1d(narrow, narrow, 1, bias=False)
        self.bn_adj = nn.BatchNorm1d(narrow)
        self.conv_wg = nn.Conv1d(wide, wide, 1, bias=False)
        self.bn_wg = nn.BatchNorm1d(wide)
        self.conv3 = nn.Conv2d(wide, planes, 1, bias=False)
        self.bn3 = ActivatedBatchNorm(planes)
        local: list[nn.Module] = []
        for _ in range(3):
            local += [nn.Conv2d(planes, planes, 3, 2, 1, groups=planes, bias=False), ActivatedBatchNorm(planes)]
        self.local = nn.Sequential(*local)
        self.gcn_local_attention = SpatialGCN(planes)
        self.final = _conv_abn(planes * 2, planes, 1)
        self.gamma1 = nn.Parameter(torch.zeros(1))

    def forward(self, x: Tensor) -> Tensor:
        n, _, h, w = x.shape
        local = self.gcn_local_attention(self.local(x))
        local = F.interpolate(local, size=(h, w), mode="bilinear", align_corners=True)
        spatial = x * local + x
        proj = self.bn_phi(self.phi(x)).flatten(2)  # (N, wide, HW)
        basis = self.bn_theta(self.theta(x)).flatten(2)  # (N, narrow, HW)
        nodes = torch.matmul(proj, basis.transpose(1, 2))  # (N, wide, narrow)
        z = self.bn_adj(self.conv_adj(nodes.transpose(1, 2))).transpose(1, 2) + nodes
        z = self.bn_wg(self.conv_wg(z))
        y = self.bn3(self.conv3(torch.matmul(z, basis).view(n, -1, h, w)))
        return self.final(torch.cat([spatial, self.gamma1 * y + x], dim=1))


class DualGCNHead(nn.Module):
    """(B, 2048, H, W) -> (B, 512, H, W): 3x3 reduce, :class:`DualGCN`, 3x3, fuse with the input."""

    def __init__(self, cin: int = 2048, inter: int = 512) -> None:
        super().__init__()
        self.conva = _conv_abn(cin, inter, 3, padding=1)
        self.dualgcn = DualGCN(inter)
        self.convb = _conv_abn(inter, inter, 3, padding=1)
        self.bottleneck = _conv_abn(cin + inter, inter, 3, padding=1)

    def forward(self, x: Tensor) -> Tensor:
        out = self.convb(self.dualgcn(self.conva(x)))
        return self.bottleneck(torch.cat([x, out], dim=1))


class ParsingDecoder(nn.Module):
    """Context (B, 512, h, w) + stride-4 features (B, 256, H, W) -> logits (B, n_classes, H, W)."""

    def __init__(self, n_classes: int, c_context: int = 512, c_low: int = 256) -> None:
        super().__init__()
        self.conv1 = _conv_abn(c_context, 256, 1)
        self.conv2 = _conv_abn(c_low, 48, 1)
        self.conv3 = nn.Sequential(nn.Conv2d(304, 256, 1, bias=False), ActivatedBatchNorm(256),
                                   nn.Conv2d(256, 256, 1, bias=False), ActivatedBatchNorm(256))
        self.conv4 = nn.Conv2d(256, n_classes, 1)

    def forward(self, context: Tensor, low: Tensor) -> Tensor:
        up = F.interpolate(self.conv1(context), size=low.shape[2:], mode="bilinear", align_corners=True)
        return self.conv4(self.conv3(torch.cat([up, self.conv2(low)], dim=1)))


class DMLCSR(nn.Module):
    """DML-CSR inference network. ``forward``: (B, 3, H, W) normalised image -> logits
    (B, n_classes, ceil(H/4), ceil(W/4)) (stride-4; the caller resizes)."""

    def __init__(self, n_classes: int = 19) -> None:
        super().__init__()
        self.conv1 = nn.Conv2d(3, 64, 3, 2, 1, bias=False)
        self.bn1 = ActivatedBatchNorm(64)
        self.conv2 = nn.Conv2d(64, 64, 3, 1, 1, bias=False)
        self.bn2 = ActivatedBatchNorm(64)
        self.conv3 = nn.Conv2d(64, 128, 3, 1, 1, bias=False)
        self.bn3 = ActivatedBatchNorm(128)
        self.layer1 = _stage(128, 64, 3, stride=1, dilation=1)
        self.layer2 = _stage(256, 128, 4, stride=2, dilation=1)
        self.layer3 = _stage(512, 256, 23, stride=1, dilation=1)
        self.layer4 = _stage(1024, 512, 3, stride=1, dilation=2)
        self.context = DualGCNHead(2048, 512)
        self.layer6 = ParsingDecoder(n_classes)

    def forward(self, x: Tensor) -> Tensor:
        x = F.relu(self.bn1(self.conv1(x)))
        x = F.relu(self.bn2(self.conv2(x)))
        x = F.relu(self.bn3(self.conv3(x)))
        low = self.layer1(F.max_pool2d(x, 3, 2, 1))
        deep = self.layer4(self.layer3(self.layer2(low)))
        return self.layer6(self.context(deep), low)


def normalize_checkpoint(state: Mapping[str, Tensor]) -> dict[str, Tensor]:
    """Bring a DML-CSR file to this module's layout: strip a ``module.`` (DataParallel) prefix
    carried by every key, and add ``num_batches_tracked = 0`` next to each ``running_mean`` that
    lacks one (inplace_abn 1.0.x files). Anything else is left for the strict loader to reject."""
    out = dict(state)
    if out and all(k.startswith("module.") for k in out):
        out = {k[len("module."):]: v for k, v in out.items()}
    for key in [k for k in out if k.endswith(".running_mean")]:
        out.setdefault(key[: -len("running_mean")] + "num_batches_tracked", torch.tensor(0, dtype=torch.long))
    return out


class DMLCSRParser:
    """:class:`~reliableswap.faces.parsing.protocol.FaceParser` running the DML-CSR CelebAMask-HQ release.

    Images (B, 3, S, S) RGB in [-1, 1] are resized to ``input_size``, prepared as ``preprocess``
    says, and parsed in chunks of ``batch_size``; stride-4 logits are resized to S (bilinear,
    ``align_corners=True`` as the official script) before the argmax. Landmarks are not used.

    Args:
        weights_path: explicit ``dml_csr_celebA.pth``; ``None`` = registry ``dml_csr_celeba``
            (``$RELIABLESWAP_PRETRAINED/parsing/dml_csr_celebA.pth``). Missing -> ``MissingWeightsError``;
            a file that does not fit the network -> ``ValueError``.
        device: where the network runs; ``None`` = follow the input images' device.
        input_size: network input side in pixels (official 473; ReliableSwap used 256).
        batch_size: images per forward pass.
        preprocess: ``"official"`` (BGR, ImageNet mean/std, as ``test.py``) or ``"reliableswap"``
            (the [-1, 1] RGB tensor as given, as ReliableSwap's ``DMLImageInfer``).
    """

    needs_landmarks68 = False

    def __init__(
        self,
        weights_path: str | os.PathLike[str] | None = None,
        device: str | torch.device | None = None,
        input_size: int = 473,
        batch_size: int = 8,
        preprocess: str = "official",
    ) -> None:
        if preprocess not in PREPROCESS:
            raise ValueError(f"preprocess must be one of {PREPROCESS}, got {preprocess!r}")
        path = weights.resolve("dml_csr_celeba", weights_path)
        self.net = DMLCSR(n_classes=len(DML_CSR_TO_CANONICAL))
        weights.load_into(self.net, normalize_checkpoint(weights.load_state_dict(path)), source=str(path))
        self.net.eval().requires_grad_(False)
        self.device = torch.device(device) if device is not None else None
        self.input_size = int(input_size)
        self.batch_size = int(batch_size)
        self.preprocess = preprocess
        self._to_canonical = torch.tensor(DML_CSR_TO_CANONICAL, dtype=torch.int64)
        self._mean = torch.tensor(_IMAGENET_MEAN).view(1, 3, 1, 1)
        self._std = torch.tensor(_IMAGENET_STD).view(1, 3, 1, 1)
        self._move(self.device or torch.device("cpu"))
        log.info("DML-CSR face parser loaded from %s (%s preprocessing, %d px)", path, preprocess, self.input_size)

    def _move(self, device: torch.device) -> None:
        self.net.to(device)
        self._to_canonical = self._to_canonical.to(device)
        self._mean, self._std = self._mean.to(device), self._std.to(device)
        self._on = device

    def prepare(self, images: Tensor) -> Tensor:
        """(B, 3, H, W) RGB in [-1, 1] -> (B, 3, input_size, input_size) network input."""
        x = images.float()
        if tuple(x.shape[-2:]) != (self.input_size, self.input_size):
            x = F.interpolate(x, size=(self.input_size, self.input_size), mode="bilinear",
                              align_corners=False, antialias=True)
        if self.preprocess == "reliableswap":
            return x
        return ((x.flip(1) + 1) / 2 - self._mean) / self._std  # RGB -> BGR, then ImageNet stats

    @torch.no_grad()
    def parse(self, images: Tensor, landmarks: Tensor | None = None) -> Tensor:
        """(B, 3, S, S) in [-1, 1] -> (B, S, S) int64 canonical labels (on ``images.device``)."""
        size = tuple(images.shape[-2:])
        device = self.device or images.device
        if device != self._on:
            self._move(device)

        def labels_of(chunk: Tensor) -> Tensor:
            logits = F.interpolate(self.net(self.prepare(chunk)), size=size, mode="bilinear", align_corners=True)
            return self._to_canonical[logits.argmax(1)]

        return parse_in_chunks(images, self.batch_size, device, labels_of)

    __call__ = parse
