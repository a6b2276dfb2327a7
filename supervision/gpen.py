"""GPEN blind face restoration (Yang et al., CVPR 2021) in plain PyTorch.

:class:`GPENGenerator` has the parameter and buffer names of the released ``FullGenerator``
(yangxy/GPEN, ``face_model/gpen_model.py``), so the official ``GPEN-BFR-512.pth`` /
``GPEN-BFR-256.pth`` load into it strictly. The architecture: a strided conv encoder maps the
degraded face to a latent code and to one feature map per resolution; a StyleGAN2 generator
decodes the code, concatenating each encoder feature map as its "noise" input.

The StyleGAN2 custom ops are written in torch here (no compiled extension): the fused
bias + leaky ReLU (parameter ``activate.bias``, output scaled by sqrt(2)) and the FIR
up/down-sampling ``upfirdn2d`` (its 4x4 kernels are persistent buffers named ``kernel``, as in the
release, so they are part of the state dict).

Images are RGB tensors (B, 3, S, S) in [-1, 1] with S the model size (512 or 256); the raw
generator output is unclamped, :class:`GPENEnhancer` clamps it to [-1, 1].
"""

from __future__ import annotations

import logging
import math
import os
from dataclasses import dataclass

import torch
import torch.nn.functional as F
from torch import Tensor, nn

from reliableswap import weights
from supervision.stylegan_ops import upfirdn2d

log = logging.getLogger(__name__)

_BLUR_TAPS = (1.0, 3.0, 3.0, 1.0)
_LRELU_SLOPE = 0.2
_LRELU_GAIN = math.sqrt(2.0)


@dataclass(frozen=True)
class GPENConfig:
    """Constructor values of one released model (``FullGenerator(size, 512, 8, cm, narrow=n)``)."""

    size: int
    channel_multiplier: int
    narrow: float
    weight_name: str
    style_dim: int = 512
    n_mlp: int = 8

    def channels(self, resolution: int) -> int:
        """Feature channels of the maps at ``resolution`` (pixels per side)."""
        wide = {4: 512, 8: 512, 16: 512, 32: 512}
        base = wide.get(resolution, 2 ** 14 * self.channel_multiplier // resolution)
        return int(base * self.narrow)


#: the released BFR models (sizes/multipliers as the GPEN demo scripts construct them)
CONFIGS: dict[int, GPENConfig] = {
    512: GPENConfig(512, channel_multiplier=2, narrow=1.0, weight_name="gpen_bfr_512"),
    256: GPENConfig(256, channel_multiplier=1, narrow=0.5, weight_name="gpen_bfr_256"),
}


# ----------------------------------------------------------------------------- custom ops in torch


def fir_kernel(scale: float = 1.0) -> Tensor:
    """Separable 4x4 binomial FIR kernel normalised to sum ``scale``: (4, 4) float32."""
    taps = torch.tensor(_BLUR_TAPS)
    k = taps[:, None] * taps[None, :]
    return k / k.sum() * scale


def fused_leaky_relu(x: Tensor, bias: Tensor) -> Tensor:
    """sqrt(2) * leaky_relu(x + bias, 0.2), ``bias`` broadcast over dim 1 of x (B, C, ...)."""
    shape = (1, -1) + (1,) * (x.ndim - 2)
    return F.leaky_relu(x + bias.view(shape), _LRELU_SLOPE) * _LRELU_GAIN


# ----------------------------------------------------------------------------- layers


class FusedLeakyReLU(nn.Module):
    """Learned per-channel bias + scaled leaky ReLU (parameter ``bias``: (C,))."""

    def __init__(self, channels: int) -> None:
        super().__init__()
        self.bias = nn.Parameter(torch.zeros(channels))

    def forward(self, x: Tensor) -> Tensor:
        return fused_leaky_relu(x, self.bias)


class Blur(nn.Module):
    """FIR filter with fixed padding (buffer ``kernel``: (4, 4)); ``up > 1``: upsample first."""

    def __init__(self, pad: tuple[int, int], kernel_scale: float = 1.0, up: int = 1, down: int = 1) -> None:
        super().__init__()
        self.register_buffer("kernel", fir_kernel(kernel_scale))
        self.pad, self.up, self.down = pad, up, down

    def forward(self, x: Tensor) -> Tensor:
        return upfirdn2d(x, self.kernel, up=self.up, down=self.down, pad=self.pad)


class EqualLinear(nn.Module):
    """Linear layer with runtime weight scaling (equalised learning rate); optional fused lrelu."""

    def __init__(self, in_dim: int, out_dim: int, lr_mul: float = 1.0, bias_init: float = 0.0, activate: bool = False) -> None:
        super().__init__()
        self.weight = nn.Parameter(torch.randn(out_dim, in_dim) / lr_mul)
        self.bias = nn.Parameter(torch.full((out_dim,), float(bias_init)))
        self.scale = lr_mul / math.sqrt(in_dim)
        self.lr_mul = lr_mul
        self.activate = activate

    def forward(self, x: Tensor) -> Tensor:
        bias = self.bias * self.lr_mul
        if self.activate:
            return fused_leaky_relu(F.linear(x, self.weight * self.scale), bias)
        return F.linear(x, self.weight * self.scale, bias)


class EqualConv2d(nn.Module):
    """Bias-free conv with runtime weight scaling (the encoder's convs; their bias is the activation's)."""

    def __init__(self, in_ch: int, out_ch: int, kernel_size: int, stride: int = 1, padding: int = 0) -> None:
        super().__init__()
        self.weight = nn.Parameter(torch.randn(out_ch, in_ch, kernel_size, kernel_size))
        self.scale = 1.0 / math.sqrt(in_ch * kernel_size**2)
        self.stride, self.padding = stride, padding

    def forward(self, x: Tensor) -> Tensor:
        return F.conv2d(x, self.weight * self.scale, stride=self.stride, padding=self.padding)


def encoder_layer(in_ch: int, out_ch: int, downsample: bool) -> nn.Sequential:
    """``ConvLayer`` of the release: [blur,] conv (3x3 stride 2 when downsampling, else 1x1), bias+lrelu."""
    if not downsample:
        return nn.Sequential(EqualConv2d(in_ch, out_ch, 1), FusedLeakyReLU(out_ch))
    return nn.Sequential(Blur(pad=(2, 2)), EqualConv2d(in_ch, out_ch, 3, stride=2), FusedLeakyReLU(out_ch))


class ModulatedConv2d(nn.Module):
    """Style-modulated conv (weight (1, out, in, k, k)); ``upsample``: stride-2 transposed conv + blur."""

    def __init__(self, in_ch: int, out_ch: int, kernel_size: int, style_dim: int, demodulate: bool = True, upsample: bool = False) -> None:
        super().__init__()
        self.weight = nn.Parameter(torch.randn(1, out_ch, in_ch, kernel_size, kernel_size))
        self.modulation = EqualLinear(style_dim, in_ch, bias_init=1.0)
        if upsample:  # transposed 3x3/2 gives 2H+1; blurring with pad (1, 1) brings it to 2H
            self.blur = Blur(pad=(1, 1), kernel_scale=4.0)
        self.scale = 1.0 / math.sqrt(in_ch * kernel_size**2)
        self.demodulate, self.upsample = demodulate, upsample
        self.in_ch, self.out_ch, self.k = in_ch, out_ch, kernel_size

    def forward(self, x: Tensor, w: Tensor) -> Tensor:
        """x: (B, in, H, W), w: (B, style_dim) -> (B, out, H', W') with H' = 2H when upsampling."""
        b, _, h, wd = x.shape
        style = self.modulation(w).view(b, 1, self.in_ch, 1, 1)
        weight = self.scale * self.weight * style  # (B, out, in, k, k)
        if self.demodulate:
            weight = weight * torch.rsqrt(weight.pow(2).sum((2, 3, 4), keepdim=True) + 1e-8)
        x = x.reshape(1, b * self.in_ch, h, wd)
        if self.upsample:
            weight = weight.transpose(1, 2).reshape(b * self.in_ch, self.out_ch, self.k, self.k)
            out = F.conv_transpose2d(x, weight, stride=2, groups=b)
            return self.blur(out.view(b, self.out_ch, *out.shape[-2:]))
        out = F.conv2d(x, weight.reshape(b * self.out_ch, self.in_ch, self.k, self.k), padding=self.k // 2, groups=b)
        return out.view(b, self.out_ch, *out.shape[-2:])


class NoiseInjection(nn.Module):
    """Concatenates ``weight * noise`` to the features (GPEN's ``isconcat``): channels double."""

    def __init__(self) -> None:
        super().__init__()
        self.weight = nn.Parameter(torch.zeros(1))

    def forward(self, x: Tensor, noise: Tensor) -> Tensor:
        return torch.cat((x, self.weight * noise), dim=1)


class StyledConv(nn.Module):
    """Modulated 3x3 conv -> concat encoder features -> bias + lrelu on 2*out channels."""

    def __init__(self, in_ch: int, out_ch: int, style_dim: int, upsample: bool = False) -> None:
        super().__init__()
        self.conv = ModulatedConv2d(in_ch, out_ch, 3, style_dim, upsample=upsample)
        self.noise = NoiseInjection()
        self.activate = FusedLeakyReLU(2 * out_ch)

    def forward(self, x: Tensor, w: Tensor, noise: Tensor) -> Tensor:
        return self.activate(self.noise(self.conv(x, w), noise))


class ToRGB(nn.Module):
    """1x1 modulated conv to RGB (no demodulation) + bias, plus the upsampled previous RGB skip."""

    def __init__(self, in_ch: int, style_dim: int, upsample: bool = True) -> None:
        super().__init__()
        if upsample:  # FIR x2 upsampling of the skip: kernel scaled by 4, pad (2, 1)
            self.upsample = Blur(pad=(2, 1), kernel_scale=4.0, up=2)
        self.conv = ModulatedConv2d(in_ch, 3, 1, style_dim, demodulate=False)
        self.bias = nn.Parameter(torch.zeros(1, 3, 1, 1))

    def forward(self, x: Tensor, w: Tensor, skip: Tensor | None = None) -> Tensor:
        out = self.conv(x, w) + self.bias
        return out if skip is None else out + self.upsample(skip)


class PixelNorm(nn.Module):
    """Normalise each latent vector to unit RMS over dim 1."""

    def forward(self, x: Tensor) -> Tensor:
        return x * torch.rsqrt(x.pow(2).mean(dim=1, keepdim=True) + 1e-8)


class ConstantInput(nn.Module):
    def __init__(self, channels: int) -> None:
        super().__init__()
        self.input = nn.Parameter(torch.randn(1, channels, 4, 4))

    def forward(self, batch: int) -> Tensor:
        return self.input.expand(batch, -1, -1, -1)


class StyleDecoder(nn.Module):
    """The StyleGAN2 generator of GPEN (attribute ``generator`` of the release's FullGenerator)."""

    def __init__(self, cfg: GPENConfig) -> None:
        super().__init__()
        sd = cfg.style_dim
        self.style = nn.Sequential(PixelNorm(), *[EqualLinear(sd, sd, lr_mul=0.01, activate=True) for _ in range(cfg.n_mlp)])
        c4 = cfg.channels(4)
        self.input = ConstantInput(c4)
        self.conv1 = StyledConv(c4, c4, sd)
        self.to_rgb1 = ToRGB(2 * c4, sd, upsample=False)
        self.convs = nn.ModuleList()
        self.to_rgbs = nn.ModuleList()
        in_ch = c4
        for level in range(3, int(math.log2(cfg.size)) + 1):
            out_ch = cfg.channels(2**level)
            self.convs.append(StyledConv(2 * in_ch, out_ch, sd, upsample=True))
            self.convs.append(StyledConv(2 * out_ch, out_ch, sd))
            self.to_rgbs.append(ToRGB(2 * out_ch, sd))
            in_ch = out_ch

    def forward(self, z: Tensor, features: list[Tensor]) -> Tensor:
        """z: (B, style_dim) code; features: encoder maps from 4x4 up to size -> image (B, 3, size, size).

        One style vector drives every layer (the release repeats the single mapped code).
        """
        w = self.style(z)
        out = self.conv1(self.input(z.shape[0]), w, features[0])
        skip = self.to_rgb1(out, w)
        for i, to_rgb in enumerate(self.to_rgbs):
            feat = features[i + 1]
            out = self.convs[2 * i](out, w, feat)
            out = self.convs[2 * i + 1](out, w, feat)
            skip = to_rgb(out, w, skip)
        return skip


class GPENGenerator(nn.Module):
    """GPEN ``FullGenerator``: encoder (``ecd0`` .. ``ecd{log2(size)-2}``, ``final_linear``) + decoder.

    forward: (B, 3, size, size) RGB in [-1, 1] -> restored (B, 3, size, size), unclamped.
    """

    def __init__(self, cfg: GPENConfig) -> None:
        super().__init__()
        self.cfg = cfg
        levels = int(math.log2(cfg.size))
        if 2**levels != cfg.size or cfg.size < 8:
            raise ValueError(f"GPEN size must be a power of two >= 8, got {cfg.size}")
        self.generator = StyleDecoder(cfg)
        self.n_encoder = levels - 1
        self.ecd0 = nn.Sequential(encoder_layer(3, cfg.channels(cfg.size), downsample=False))
        in_ch = cfg.channels(cfg.size)
        for n in range(1, self.n_encoder):
            out_ch = cfg.channels(cfg.size >> n)
            setattr(self, f"ecd{n}", nn.Sequential(encoder_layer(in_ch, out_ch, downsample=True)))
            in_ch = out_ch
        self.final_linear = nn.Sequential(EqualLinear(16 * cfg.channels(4), cfg.style_dim, activate=True))

    def forward(self, x: Tensor) -> Tensor:
        if x.shape[-2:] != (self.cfg.size, self.cfg.size):
            raise ValueError(f"GPEN-{self.cfg.size} expects (B, 3, {self.cfg.size}, {self.cfg.size}), got {tuple(x.shape)}")
        features = []
        for n in range(self.n_encoder):
            x = getattr(self, f"ecd{n}")(x)
            features.append(x)
        z = self.final_linear(x.flatten(1))
        return self.generator(z, features[::-1])


def build_gpen(size: int = 512) -> GPENGenerator:
    """Randomly initialised generator with the released constructor values for ``size`` (512 or 256)."""
    if size not in CONFIGS:
        raise ValueError(f"no released GPEN-BFR model of size {size}; choose from {sorted(CONFIGS)}")
    return GPENGenerator(CONFIGS[size])


class GPENEnhancer:
    """:class:`supervision.protocols.Enhancer` backed by the official GPEN-BFR weights.

    Args:
        weights_path: explicit checkpoint; ``None`` = the registry entry ``gpen_bfr_{size}``
            ($RELIABLESWAP_PRETRAINED/enhance/GPEN-BFR-{size}.pth).
        size: model resolution, 512 (GPEN-BFR-512) or 256 (GPEN-BFR-256).
        device: torch device; ``None`` = CUDA when available, else CPU.
        batch_size: images per forward pass.

    Raises:
        MissingWeightsError: the checkpoint is absent (names the path and the official origin).
        ValueError: the file's keys/shapes differ from the release's ``FullGenerator``.
    """

    def __init__(self, weights_path: str | os.PathLike[str] | None = None, size: int = 512,
                 device: str | torch.device | None = None, batch_size: int = 4) -> None:
        if batch_size < 1:
            raise ValueError(f"batch_size must be >= 1, got {batch_size}")
        self.model = build_gpen(size)
        path = weights.resolve(self.model.cfg.weight_name, weights_path)
        weights.load_into(self.model, weights.load_state_dict(path), source=str(path))
        self.device = torch.device(device) if device is not None else torch.device("cuda" if torch.cuda.is_available() else "cpu")
        self.model.to(self.device).eval().requires_grad_(False)
        self.size, self.batch_size = size, batch_size
        log.info("GPEN-BFR-%d loaded from %s on %s", size, path, self.device)

    @torch.no_grad()
    def enhance(self, images: Tensor) -> Tensor:
        """images: (B, 3, S, S) RGB in [-1, 1] -> restored (B, 3, S, S) in [-1, 1], same device/dtype.

        Faces are resized (bilinear, antialiased when shrinking) to the model size and back.
        """
        if images.ndim != 4 or images.shape[1] != 3:
            raise ValueError(f"expected (B, 3, S, S) images, got {tuple(images.shape)}")
        out_hw = images.shape[-2:]
        outs = []
        for chunk in images.split(self.batch_size):
            x = _resize(chunk.to(self.device, torch.float32), (self.size, self.size))
            y = self.model(x).clamp_(-1.0, 1.0)
            outs.append(_resize(y, out_hw).clamp_(-1.0, 1.0).to(images.device, images.dtype))
        return torch.cat(outs) if outs else images.clone()


def _resize(x: Tensor, hw: tuple[int, int] | torch.Size) -> Tensor:
    if tuple(x.shape[-2:]) == tuple(hw):
        return x
    shrink = hw[0] < x.shape[-2]
    return F.interpolate(x, size=tuple(hw), mode="bilinear", align_corners=False, antialias=shrink)
