"""FaceShifter's AEI-Net: a multi-level attribute encoder and an AAD generator.

The layout follows the released FaceShifter/ReliableSwap generators key for key (see the
``faceshifter_aei_net_cid512``/``_cid640`` manifests), so official weights load strictly at
``width=1.0, size=256``. Two knobs extend it without changing that layout:

- ``width`` scales every feature width (not the identity dimension), for tiny test/demo models;
- ``size`` sets the input resolution. The encoder always downsamples to a 2x2 bottleneck, so it
  has ``log2(size) - 1`` levels (7 at 256, 6 at 128, 8 at 512) and the generator one AAD block per
  attribute level (levels + 1, the last at full resolution). The 512 model is therefore one level
  deeper than the 256 one; 256 weights do not load into it.
"""

from __future__ import annotations

import math
from typing import Literal

import torch
import torch.nn.functional as F
from torch import Tensor, nn

MAX_CHANNELS = 1024

IdentityInit = Literal["faceshifter", "unit"]
#: ``faceshifter``: the paper's N(0, 0.001) identity projections (the identity branch starts ~1e-3
#: of the attribute branch); ``unit``: N(0, 1) weights, so with a unit-norm identity vector every
#: projected gamma/beta starts at the scale of the normalised features it modulates.
IDENTITY_INITS: tuple[str, ...] = ("faceshifter", "unit")


def _scaled(channels: int, width: float) -> int:
    return max(4, int(round(channels * width)))


def _levels_for(size: int) -> int:
    levels = math.log2(size) - 1
    if size < 32 or not levels.is_integer():
        raise ValueError(f"AEI-Net needs a power-of-two input size >= 32, got {size}")
    return int(levels)


class _DownBlock(nn.Sequential):
    """4x4 stride-2 conv + BN + LeakyReLU(0.1) (keys ``0.weight``, ``1.*``)."""

    def __init__(self, in_channels: int, out_channels: int) -> None:
        super().__init__(
            nn.Conv2d(in_channels, out_channels, 4, stride=2, padding=1, bias=False),
            nn.BatchNorm2d(out_channels),
            nn.LeakyReLU(0.1, inplace=True),
        )


class _UpBlock(nn.Module):
    """4x4 stride-2 transposed conv + BN + LeakyReLU(0.1), then concatenation with the skip."""

    def __init__(self, in_channels: int, out_channels: int) -> None:
        super().__init__()
        self.deconv = nn.ConvTranspose2d(in_channels, out_channels, 4, stride=2, padding=1, bias=False)
        self.bn = nn.BatchNorm2d(out_channels)
        self.act = nn.LeakyReLU(0.1, inplace=True)

    def forward(self, x: Tensor, skip: Tensor) -> Tensor:
        return torch.cat([self.act(self.bn(self.deconv(x))), skip], dim=1)


class MultiLevelAttributeEncoder(nn.Module):
    """U-Net-like encoder whose decoder outputs are the multi-level attributes z_att^1..n+1.

    Returns a list ordered from the 2x2 bottleneck to full resolution; the last level is the
    bilinear upsampling of the previous one (FaceShifter has no full-resolution conv).
    """

    def __init__(self, size: int = 256, width: float = 1.0) -> None:
        super().__init__()
        self.levels = _levels_for(size)
        n = self.levels
        ch = [_scaled(min(32 * 2**i, MAX_CHANNELS), width) for i in range(n)]
        for i in range(n):
            self.add_module(f"conv{i + 1}", _DownBlock(3 if i == 0 else ch[i - 1], ch[i]))
        for j in range(1, n):
            in_ch = ch[n - 1] if j == 1 else 2 * ch[n - j]
            self.add_module(f"deconv{j}", _UpBlock(in_ch, ch[n - 1 - j]))
        self.channels = [ch[n - 1]] + [2 * ch[n - 1 - k] for k in range(1, n)] + [2 * ch[0]]

    def forward(self, x: Tensor) -> list[Tensor]:
        feats = []
        h = x
        for i in range(self.levels):
            h = getattr(self, f"conv{i + 1}")(h)
            feats.append(h)
        attrs = [feats[-1]]
        for j in range(1, self.levels):
            attrs.append(getattr(self, f"deconv{j}")(attrs[-1], feats[self.levels - 1 - j]))
        attrs.append(F.interpolate(attrs[-1], scale_factor=2.0, mode="bilinear", align_corners=True))
        return attrs


class AADLayer(nn.Module):
    """Adaptive Attentional Denormalization: blend attribute- and identity-modulated features
    with a learned per-pixel mask, so the generator decides where identity matters."""

    def __init__(self, channels: int, attr_channels: int, id_dim: int) -> None:
        super().__init__()
        self.norm = nn.InstanceNorm2d(channels, affine=False)
        self.conv1 = nn.Conv2d(attr_channels, channels, 1)  # attribute gamma
        self.conv2 = nn.Conv2d(attr_channels, channels, 1)  # attribute beta
        self.fc1 = nn.Linear(id_dim, channels)  # identity gamma
        self.fc2 = nn.Linear(id_dim, channels)  # identity beta
        self.conv_h = nn.Conv2d(channels, 1, 1)  # attention mask

    def forward(self, h: Tensor, z_attr: Tensor, z_id: Tensor) -> Tensor:
        h = self.norm(h)
        attr_out = self.conv1(z_attr) * h + self.conv2(z_attr)
        gamma_id = self.fc1(z_id)[:, :, None, None]
        beta_id = self.fc2(z_id)[:, :, None, None]
        id_out = gamma_id * h + beta_id
        mask = torch.sigmoid(self.conv_h(h))
        return (1 - mask) * attr_out + mask * id_out


class AADResBlock(nn.Module):
    """Two AAD-ReLU-Conv units with a residual path (itself AAD-ReLU-Conv when widths differ)."""

    def __init__(self, in_channels: int, out_channels: int, attr_channels: int, id_dim: int) -> None:
        super().__init__()
        self.AAD1 = AADLayer(in_channels, attr_channels, id_dim)
        self.conv1 = nn.Conv2d(in_channels, in_channels, 3, padding=1, bias=False)
        self.AAD2 = AADLayer(in_channels, attr_channels, id_dim)
        self.conv2 = nn.Conv2d(in_channels, out_channels, 3, padding=1, bias=False)
        self.learned_shortcut = in_channels != out_channels
        if self.learned_shortcut:
            self.AAD3 = AADLayer(in_channels, attr_channels, id_dim)
            self.conv3 = nn.Conv2d(in_channels, out_channels, 3, padding=1, bias=False)

    def forward(self, h: Tensor, z_attr: Tensor, z_id: Tensor) -> Tensor:
        x = self.conv1(F.relu(self.AAD1(h, z_attr, z_id)))
        x = self.conv2(F.relu(self.AAD2(x, z_attr, z_id)))
        if self.learned_shortcut:
            h = self.conv3(F.relu(self.AAD3(h, z_attr, z_id)))
        return x + h


class AADGenerator(nn.Module):
    """Decodes an identity vector, injected at every level, on top of the attribute pyramid."""

    def __init__(self, attr_channels: list[int], id_dim: int = 512, width: float = 1.0) -> None:
        super().__init__()
        n = len(attr_channels) - 1  # encoder levels
        out_ch = [_scaled(min(MAX_CHANNELS, 64 * 2 ** (n - 1 - k)), width) for k in range(n)] + [3]
        in_ch = [_scaled(MAX_CHANNELS, width)] + out_ch[:-1]
        self.up1 = nn.ConvTranspose2d(id_dim, in_ch[0], kernel_size=2, stride=1, padding=0)
        self.num_blocks = n + 1
        for k in range(n + 1):
            self.add_module(f"AADBlk{k + 1}", AADResBlock(in_ch[k], out_ch[k], attr_channels[k], id_dim))

    def forward(self, z_attr: list[Tensor], z_id: Tensor) -> Tensor:
        if len(z_attr) != self.num_blocks:
            raise ValueError(f"expected {self.num_blocks} attribute levels, got {len(z_attr)}")
        m = self.up1(z_id[:, :, None, None])
        for k in range(self.num_blocks):
            m = getattr(self, f"AADBlk{k + 1}")(m, z_attr[k], z_id)
            if k < self.num_blocks - 1:
                m = F.interpolate(m, scale_factor=2.0, mode="bilinear", align_corners=True)
        return torch.tanh(m)


class AEINet(nn.Module):
    """``AEINet(target, z_id) -> (result, target_attributes)``.

    ``z_id`` is the (B, id_dim) identity vector of the source: 512 for ArcFace, 640 with the
    FixerNet embedding appended, or whatever the configured identity encoder produces.
    """

    def __init__(
        self, id_dim: int = 512, size: int = 256, width: float = 1.0, identity_init: IdentityInit = "faceshifter"
    ) -> None:
        super().__init__()
        if identity_init not in IDENTITY_INITS:
            raise ValueError(f"identity_init must be one of {IDENTITY_INITS}, got {identity_init!r}")
        self.id_dim = id_dim
        self.size = size
        self.identity_init = identity_init
        self.encoder = MultiLevelAttributeEncoder(size=size, width=width)
        self.generator = AADGenerator(self.encoder.channels, id_dim=id_dim, width=width)
        self.apply(_init_weights)
        if identity_init == "unit":
            for layer in self.identity_layers():
                if isinstance(layer, nn.Linear):
                    # unit-norm z_id: each projected channel starts with variance ~1, the scale of
                    # the instance-normalised features it modulates
                    nn.init.normal_(layer.weight, 0.0, 1.0)

    def identity_layers(self) -> list[nn.Module]:
        """The layers that read ``z_id``: every AAD identity projection (fc1, fc2) and ``up1``."""
        layers: list[nn.Module] = [self.generator.up1]
        for module in self.generator.modules():
            if isinstance(module, AADLayer):
                layers += [module.fc1, module.fc2]
        return layers

    def identity_parameters(self) -> list[nn.Parameter]:
        """Parameters of :meth:`identity_layers` (for a separate learning rate)."""
        return [p for layer in self.identity_layers() for p in layer.parameters()]

    def forward(self, target: Tensor, z_id: Tensor) -> tuple[Tensor, list[Tensor]]:
        if target.shape[-1] != self.size or target.shape[-2] != self.size:
            raise ValueError(f"AEINet was built for {self.size}x{self.size} inputs, got {tuple(target.shape[-2:])}")
        if z_id.shape[-1] != self.id_dim:
            raise ValueError(f"AEINet expects {self.id_dim}-d identity vectors, got {z_id.shape[-1]}")
        attrs = self.encoder(target)
        return self.generator(attrs, z_id), attrs

    def attributes(self, images: Tensor) -> list[Tensor]:
        """The multi-level attributes of ``images`` (used by the attribute loss)."""
        return self.encoder(images)


def _init_weights(module: nn.Module) -> None:
    # FaceShifter's initialisation: small identity projections keep the early AAD masks balanced.
    if isinstance(module, nn.Linear):
        nn.init.normal_(module.weight, 0.0, 0.001)
        nn.init.zeros_(module.bias)
    elif isinstance(module, (nn.Conv2d, nn.ConvTranspose2d)):
        nn.init.xavier_normal_(module.weight)
