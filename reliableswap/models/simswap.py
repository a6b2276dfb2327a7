"""SimSwap's generator (``Generator_Adain_Upsample``): an encoder-bottleneck-decoder whose nine
residual bottleneck blocks are modulated by the source identity through AdaIN.

SimSwap injects identity only at the bottleneck (ID Injection Module); attributes survive
because the encoder/decoder is a plain image-to-image network trained with reconstruction and
(weak) feature matching. The layout follows the released generator key for key (manifests
``simswap_generator_latent512`` / ``_latent640``), so official weights load strictly at
``width=1.0`` and ``size`` 224 or 256. Two knobs extend it without changing that layout:

- ``width`` scales every feature width (64/128/256/512 at 1.0), not the identity dimension, for
  tiny test/demo models;
- ``size`` sets the input resolution. Below 512 there are three stride-2 convolutions (the
  released 224/256 model); at 512 and above a fourth one (``down4``/``up4``), as in SimSwap-512,
  whose weights therefore do not load into the 224/256 layout and vice versa.

The released state dict also carries a ``trans_matrix`` buffer (1, 2, 3): the affine warp the
original training code used to cut the ArcFace crop out of its input. Here alignment belongs to
the identity encoder (one fixed warp, :mod:`reliableswap.faces.alignment`), so the buffer is kept
only for checkpoint compatibility and is never used in ``forward``. It is initialised to this
project's FFHQ -> ArcFace pixel matrix for ``size``, so our own checkpoints document the crop.
"""

from __future__ import annotations

import logging

import torch
from torch import Tensor, nn

from reliableswap.faces.alignment import arcface_matrix

log = logging.getLogger(__name__)

BOTTLENECK_BLOCKS = 9
DEEP_SIZE = 512  # from this size on, the SimSwap-512 layout with a fourth down/up-sampling stage


def _scaled(channels: int, width: float) -> int:
    return max(4, int(round(channels * width)))


class InstanceNorm(nn.Module):
    """Parameter-free instance normalisation, SimSwap's version (``eps`` inside the rsqrt).

    Computed in float32: under fp16 autocast ``eps=1e-8`` underflows and a constant channel
    would give ``rsqrt(0) = inf``.
    """

    def __init__(self, eps: float = 1e-8) -> None:
        super().__init__()
        self.eps = eps

    def forward(self, x: Tensor) -> Tensor:
        x32 = x.float()
        x32 = x32 - x32.mean(dim=(2, 3), keepdim=True)
        x32 = x32 * torch.rsqrt(x32.pow(2).mean(dim=(2, 3), keepdim=True) + self.eps)
        return x32.to(x.dtype)


class ApplyStyle(nn.Module):
    """AdaIN modulation from the identity latent: ``x * (1 + scale) + bias`` per channel.

    The ``1 +`` keeps a freshly initialised block close to the identity map, so training starts
    from an attribute-preserving autoencoder and identity is added gradually.
    """

    def __init__(self, latent_dim: int, channels: int) -> None:
        super().__init__()
        self.linear = nn.Linear(latent_dim, channels * 2)

    def forward(self, x: Tensor, latent: Tensor) -> Tensor:
        style = self.linear(latent).view(-1, 2, x.shape[1], 1, 1).to(x.dtype)
        return x * (style[:, 0] + 1.0) + style[:, 1]


class AdaINResBlock(nn.Module):
    """Two reflection-padded 3x3 convs, each instance-normalised then identity-modulated, plus a
    residual path (``ResnetBlock_Adain``; keys ``conv1.1``, ``style1.linear``, ...)."""

    def __init__(self, channels: int, latent_dim: int) -> None:
        super().__init__()
        self.conv1 = nn.Sequential(nn.ReflectionPad2d(1), nn.Conv2d(channels, channels, 3), InstanceNorm())
        self.style1 = ApplyStyle(latent_dim, channels)
        self.act1 = nn.ReLU(inplace=True)
        self.conv2 = nn.Sequential(nn.ReflectionPad2d(1), nn.Conv2d(channels, channels, 3), InstanceNorm())
        self.style2 = ApplyStyle(latent_dim, channels)

    def forward(self, x: Tensor, latent: Tensor) -> Tensor:
        y = self.act1(self.style1(self.conv1(x), latent))
        y = self.style2(self.conv2(y), latent)
        return x + y


class _Bottleneck(nn.ModuleList):
    """The AdaIN blocks (keys ``BottleNeck.{i}.*``); a ModuleList because each block takes the latent."""

    def forward(self, x: Tensor, latent: Tensor) -> Tensor:
        for block in self:
            x = block(x, latent)
        return x


def _down(in_channels: int, out_channels: int) -> nn.Sequential:
    """3x3 stride-2 conv + BN + ReLU (keys ``0.*``, ``1.*``)."""
    return nn.Sequential(
        nn.Conv2d(in_channels, out_channels, 3, stride=2, padding=1),
        nn.BatchNorm2d(out_channels),
        nn.ReLU(inplace=True),
    )


def _up(in_channels: int, out_channels: int) -> nn.Sequential:
    """Bilinear x2 upsampling + 3x3 conv + BN + ReLU (keys ``1.*``, ``2.*``): no transposed
    convolution, which avoids its checkerboard artefacts."""
    return nn.Sequential(
        nn.Upsample(scale_factor=2, mode="bilinear", align_corners=False),
        nn.Conv2d(in_channels, out_channels, 3, padding=1),
        nn.BatchNorm2d(out_channels),
        nn.ReLU(inplace=True),
    )


class SimSwapGenerator(nn.Module):
    """``SimSwapGenerator(target, z_id) -> (result, target_features)``.

    ``z_id`` is the (B, id_dim) identity vector of the source: 512 for ArcFace, 640 with the
    FixerNet embedding appended. ``target_features`` are the encoder activations of the target
    (full resolution to the bottleneck input), the analogue of AEI-Net's attributes; SimSwap's own
    losses do not use them, but they keep the generator interchangeable with AEI-Net.

    Args:
        id_dim: identity dimension (the LightningModule passes the identity encoder's).
        size: square input size; must be divisible by 8 (16 from 512 on).
        width: channel multiplier (1.0 = the released layout).
        num_blocks: AdaIN bottleneck blocks (9 in SimSwap).
    """

    def __init__(
        self, id_dim: int = 512, size: int = 224, width: float = 1.0, num_blocks: int = BOTTLENECK_BLOCKS
    ) -> None:
        super().__init__()
        self.deep = size >= DEEP_SIZE
        stages = 4 if self.deep else 3
        if size < 2**stages * 4 or size % 2**stages:
            raise ValueError(f"SimSwapGenerator needs a size divisible by {2**stages} (>= {2**stages * 4}), got {size}")
        self.id_dim = id_dim
        self.size = size
        c64, c128, c256, c512 = (_scaled(c, width) for c in (64, 128, 256, 512))

        self.first_layer = nn.Sequential(
            nn.ReflectionPad2d(3), nn.Conv2d(3, c64, 7), nn.BatchNorm2d(c64), nn.ReLU(inplace=True)
        )
        self.down1 = _down(c64, c128)
        self.down2 = _down(c128, c256)
        self.down3 = _down(c256, c512)
        if self.deep:
            self.down4 = _down(c512, c512)
        self.BottleNeck = _Bottleneck([AdaINResBlock(c512, id_dim) for _ in range(num_blocks)])
        if self.deep:
            self.up4 = _up(c512, c512)
        self.up3 = _up(c512, c256)
        self.up2 = _up(c256, c128)
        self.up1 = _up(c128, c64)
        self.last_layer = nn.Sequential(nn.ReflectionPad2d(3), nn.Conv2d(c64, 3, 7), nn.Tanh())

        matrix = torch.tensor(arcface_matrix(size), dtype=torch.float32).unsqueeze(0)
        self.register_buffer("trans_matrix", matrix)  # checkpoint compatibility only, see module doc
        log.debug("SimSwapGenerator size=%d id_dim=%d width=%g stages=%d", size, id_dim, width, stages)

    def _encoders(self) -> list[nn.Module]:
        stages = [self.first_layer, self.down1, self.down2, self.down3]
        return stages + [self.down4] if self.deep else stages

    def attributes(self, images: Tensor) -> list[Tensor]:
        """Encoder activations of ``images``, full resolution first, bottleneck input last."""
        feats = []
        h = images
        for stage in self._encoders():
            h = stage(h)
            feats.append(h)
        return feats

    def forward(self, target: Tensor, z_id: Tensor) -> tuple[Tensor, list[Tensor]]:
        if target.shape[-2:] != (self.size, self.size):
            raise ValueError(
                f"SimSwapGenerator was built for {self.size}x{self.size} inputs, got {tuple(target.shape[-2:])}"
            )
        if z_id.dim() != 2 or z_id.shape[-1] != self.id_dim:
            raise ValueError(f"SimSwapGenerator expects (B, {self.id_dim}) identity vectors, got {tuple(z_id.shape)}")
        feats = self.attributes(target)
        h = self.BottleNeck(feats[-1], z_id)
        ups = [self.up4, self.up3, self.up2, self.up1] if self.deep else [self.up3, self.up2, self.up1]
        for up in ups:
            h = up(h)
        return self.last_layer(h), feats
