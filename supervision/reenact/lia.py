"""LIA (Latent Image Animator, Wang et al. ICLR 2022) generator: the official reenactor of
ReliableSwap's step 1, loading the released ``vox.pt`` (generator under ``'gen'``).

Why a from-scratch module: the released checkpoint is loaded strictly, so every submodule here
is named and shaped to match manifest ``lia_generator_vox256`` key for key (185 tensors,
45,116,317 parameters). Architecture, as implied by the keys:

- ``enc.net_app``: StyleGAN2-style encoder, 256 -> 4 with residual down blocks (FIR blur before
  stride-2 convs, equalised-lr convs, fused leaky ReLU), then a 4x4 conv to the 512-d appearance
  code ``w_a``; the intermediate maps (8..256) are kept as warping features.
- ``enc.fc``: 5 equalised linear layers (no activation) mapping the driving image's code to the
  20 motion magnitudes ``alpha``.
- ``dec.direction``: the learned motion dictionary (512x20), orthogonalised by QR on every call;
  the latent is ``w_a + Q @ alpha``.
- ``dec``: a StyleGAN2 synthesis network (modulated convs, noise injection) whose ``to_flows``
  heads predict, per resolution, a flow field + occlusion mask that warps the source's encoder
  features; ``to_rgbs`` turn the warped features into the image (``to_rgb1`` exists in the
  checkpoint but the original forward never uses it).

Simplifications vs. the CUDA original: ``upfirdn2d`` is a plain zero-insertion + depthwise FIR
conv (same arithmetic), fused leaky ReLU is ``leaky_relu(x + b, 0.2) * sqrt(2)``.

LIA produces **no landmarks**: :class:`LIAReenactor` returns NaN landmarks, and the pipeline must
re-run face analysis on the output before parsing/blending.
"""

from __future__ import annotations

import logging
import math
import os

import torch
import torch.nn.functional as F
from torch import Tensor, nn

from reliableswap import weights
from supervision.protocols import Reenacted
from supervision.stylegan_ops import upfirdn2d

log = logging.getLogger(__name__)

__all__ = ["LIAGenerator", "LIAReenactor", "load_lia_generator"]

_BLUR = (1, 3, 3, 1)
_CHANNELS = {4: 512, 8: 512, 16: 512, 32: 512, 64: 256, 128: 128, 256: 64, 512: 32, 1024: 16}


# ----------------------------------------------------------------------------- primitives
def _make_kernel(k: tuple[int, ...]) -> Tensor:
    t = torch.tensor(k, dtype=torch.float32)
    t = t[None] * t[:, None]
    return t / t.sum()


class FusedLeakyReLU(nn.Module):
    def __init__(self, channels: int) -> None:
        super().__init__()
        self.bias = nn.Parameter(torch.zeros(1, channels, 1, 1))

    def forward(self, x: Tensor) -> Tensor:
        return F.leaky_relu(x + self.bias, 0.2) * math.sqrt(2)


class Blur(nn.Module):
    def __init__(self, pad: tuple[int, int], upsample_factor: int = 1) -> None:
        super().__init__()
        self.register_buffer("kernel", _make_kernel(_BLUR) * upsample_factor ** 2)
        self.pad = pad

    def forward(self, x: Tensor) -> Tensor:
        return upfirdn2d(x, self.kernel, pad=self.pad)


class Upsample(nn.Module):
    def __init__(self, factor: int = 2) -> None:
        super().__init__()
        self.factor = factor
        self.register_buffer("kernel", _make_kernel(_BLUR) * factor ** 2)
        p = self.kernel.shape[0] - factor
        self.pad = ((p + 1) // 2 + factor - 1, p // 2)

    def forward(self, x: Tensor) -> Tensor:
        return upfirdn2d(x, self.kernel, up=self.factor, pad=self.pad)


class EqualConv2d(nn.Module):
    """Conv with weights stored N(0,1) and scaled at run time (equalised learning rate)."""

    def __init__(self, cin: int, cout: int, k: int, stride: int = 1, padding: int = 0, bias: bool = True) -> None:
        super().__init__()
        self.weight = nn.Parameter(torch.randn(cout, cin, k, k))
        self.scale = 1 / math.sqrt(cin * k * k)
        self.stride, self.padding = stride, padding
        self.bias = nn.Parameter(torch.zeros(cout)) if bias else None

    def forward(self, x: Tensor) -> Tensor:
        return F.conv2d(x, self.weight * self.scale, self.bias, stride=self.stride, padding=self.padding)


class EqualLinear(nn.Module):
    def __init__(self, cin: int, cout: int, bias_init: float = 0.0) -> None:
        super().__init__()
        self.weight = nn.Parameter(torch.randn(cout, cin))
        self.bias = nn.Parameter(torch.full((cout,), float(bias_init)))
        self.scale = 1 / math.sqrt(cin)

    def forward(self, x: Tensor) -> Tensor:
        return F.linear(x, self.weight * self.scale, self.bias)


class ConvLayer(nn.Sequential):
    """[Blur] + EqualConv2d + [FusedLeakyReLU]; indices match the checkpoint's Sequential keys."""

    def __init__(self, cin: int, cout: int, k: int, downsample: bool = False, activate: bool = True) -> None:
        layers: list[nn.Module] = []
        if downsample:
            p = (len(_BLUR) - 2) + (k - 1)
            layers.append(Blur(((p + 1) // 2, p // 2)))
            stride, padding = 2, 0
        else:
            stride, padding = 1, k // 2
        layers.append(EqualConv2d(cin, cout, k, stride=stride, padding=padding, bias=False))
        if activate:
            layers.append(FusedLeakyReLU(cout))
        super().__init__(*layers)


class ResBlock(nn.Module):
    def __init__(self, cin: int, cout: int) -> None:
        super().__init__()
        self.conv1 = ConvLayer(cin, cin, 3)
        self.conv2 = ConvLayer(cin, cout, 3, downsample=True)
        self.skip = ConvLayer(cin, cout, 1, downsample=True, activate=False)

    def forward(self, x: Tensor) -> Tensor:
        return (self.conv2(self.conv1(x)) + self.skip(x)) / math.sqrt(2)


class ModulatedConv2d(nn.Module):
    def __init__(self, cin: int, cout: int, k: int, style_dim: int, demodulate: bool = True, upsample: bool = False) -> None:
        super().__init__()
        self.cin, self.cout, self.k = cin, cout, k
        self.upsample, self.demodulate = upsample, demodulate
        if upsample:
            p = (len(_BLUR) - 2) - (k - 1)
            self.blur = Blur(((p + 1) // 2 + 1, p // 2 + 1), upsample_factor=2)
        self.scale = 1 / math.sqrt(cin * k * k)
        self.padding = k // 2
        self.weight = nn.Parameter(torch.randn(1, cout, cin, k, k))
        self.modulation = EqualLinear(style_dim, cin, bias_init=1.0)

    def forward(self, x: Tensor, style: Tensor) -> Tensor:
        b, cin, h, w = x.shape
        weight = self.scale * self.weight * self.modulation(style).view(b, 1, cin, 1, 1)
        if self.demodulate:
            weight = weight * torch.rsqrt(weight.pow(2).sum([2, 3, 4]) + 1e-8).view(b, self.cout, 1, 1, 1)
        x = x.reshape(1, b * cin, h, w)
        if self.upsample:
            weight = weight.transpose(1, 2).reshape(b * cin, self.cout, self.k, self.k)
            out = F.conv_transpose2d(x, weight, padding=0, stride=2, groups=b)
            out = self.blur(out.view(b, self.cout, *out.shape[-2:]))
        else:
            out = F.conv2d(x, weight.reshape(b * self.cout, cin, self.k, self.k), padding=self.padding, groups=b)
            out = out.view(b, self.cout, *out.shape[-2:])
        return out


class NoiseInjection(nn.Module):
    def __init__(self) -> None:
        super().__init__()
        self.weight = nn.Parameter(torch.zeros(1))

    def forward(self, x: Tensor, noise: Tensor | None = None) -> Tensor:
        if noise is None:
            noise = x.new_empty(x.shape[0], 1, *x.shape[2:]).normal_()
        return x + self.weight * noise


class StyledConv(nn.Module):
    def __init__(self, cin: int, cout: int, k: int, style_dim: int, upsample: bool = False) -> None:
        super().__init__()
        self.conv = ModulatedConv2d(cin, cout, k, style_dim, upsample=upsample)
        self.noise = NoiseInjection()
        self.activate = FusedLeakyReLU(cout)

    def forward(self, x: Tensor, style: Tensor, noise_enabled: bool = True) -> Tensor:
        out = self.conv(x, style)
        out = self.noise(out) if noise_enabled else out
        return self.activate(out)


class ToRGB(nn.Module):
    def __init__(self, cin: int, upsample: bool = True) -> None:
        super().__init__()
        if upsample:
            self.upsample = Upsample()
        self.conv = ConvLayer(cin, 3, 1)
        self.bias = nn.Parameter(torch.zeros(1, 3, 1, 1))

    def forward(self, x: Tensor, skip: Tensor | None = None) -> Tensor:
        out = self.conv(x) + self.bias
        return out if skip is None else out + self.upsample(skip)


class ToFlow(nn.Module):
    """Predicts a flow (tanh offsets on the identity grid) and an occlusion mask (sigmoid), and
    uses them to warp the source features: returns (warped, warped + x*(1-mask), raw output)."""

    def __init__(self, cin: int, style_dim: int) -> None:
        super().__init__()
        self.upsample = Upsample()
        self.conv = ModulatedConv2d(cin, 3, 1, style_dim, demodulate=False)
        self.bias = nn.Parameter(torch.zeros(1, 3, 1, 1))

    def forward(self, x: Tensor, style: Tensor, feat: Tensor, skip: Tensor | None = None) -> tuple[Tensor, Tensor, Tensor]:
        out = self.conv(x, style) + self.bias
        if skip is not None:
            out = out + self.upsample(skip)
        n = x.shape[2]
        lin = torch.linspace(-1, 1, n, device=x.device, dtype=x.dtype)
        gy, gx = torch.meshgrid(lin, lin, indexing="ij")
        base = torch.stack([gx, gy], -1)[None]
        flow = torch.tanh(out[:, 0:2]).permute(0, 2, 3, 1) + base
        mask = torch.sigmoid(out[:, 2:3])
        warped = F.grid_sample(feat, flow, align_corners=False) * mask
        return warped, warped + x * (1 - mask), out


# ----------------------------------------------------------------------------- networks
class EncoderApp(nn.Module):
    def __init__(self, size: int, w_dim: int) -> None:
        super().__init__()
        log_size = int(math.log2(size))
        convs: list[nn.Module] = [ConvLayer(3, _CHANNELS[size], 1)]
        cin = _CHANNELS[size]
        for i in range(log_size, 2, -1):
            cout = _CHANNELS[2 ** (i - 1)]
            convs.append(ResBlock(cin, cout))
            cin = cout
        convs.append(EqualConv2d(cin, w_dim, 4, padding=0, bias=False))
        self.convs = nn.ModuleList(convs)

    def forward(self, x: Tensor) -> tuple[Tensor, list[Tensor]]:
        res = []
        for conv in self.convs:
            x = conv(x)
            res.append(x)
        return res[-1].flatten(1), res[::-1][2:]  # code, features 8x8 ... size x size


class Encoder(nn.Module):
    def __init__(self, size: int, dim: int, dim_motion: int) -> None:
        super().__init__()
        self.net_app = EncoderApp(size, dim)
        self.fc = nn.Sequential(*[EqualLinear(dim, dim) for _ in range(4)], EqualLinear(dim, dim_motion))

    def motion(self, x: Tensor) -> Tensor:
        return self.fc(self.net_app(x)[0])


class Direction(nn.Module):
    def __init__(self, motion_dim: int) -> None:
        super().__init__()
        self.weight = nn.Parameter(torch.randn(512, motion_dim))

    def forward(self, alpha: Tensor) -> Tensor:
        q, _ = torch.linalg.qr(self.weight + 1e-8)  # orthonormal motion basis (512, 20)
        return alpha @ q.T


class ConstantInput(nn.Module):
    def __init__(self, channels: int, size: int = 4) -> None:
        super().__init__()
        self.input = nn.Parameter(torch.randn(1, channels, size, size))

    def forward(self, batch: int) -> Tensor:
        return self.input.expand(batch, -1, -1, -1)


class Synthesis(nn.Module):
    def __init__(self, size: int, style_dim: int, motion_dim: int) -> None:
        super().__init__()
        self.direction = Direction(motion_dim)
        self.input = ConstantInput(_CHANNELS[4])
        self.conv1 = StyledConv(_CHANNELS[4], _CHANNELS[4], 3, style_dim)
        self.to_rgb1 = ToRGB(_CHANNELS[4], upsample=False)  # in the checkpoint, unused by forward
        self.log_size = int(math.log2(size))
        self.convs, self.to_rgbs, self.to_flows = nn.ModuleList(), nn.ModuleList(), nn.ModuleList()
        cin = _CHANNELS[4]
        for i in range(3, self.log_size + 1):
            cout = _CHANNELS[2 ** i]
            self.convs.append(StyledConv(cin, cout, 3, style_dim, upsample=True))
            self.convs.append(StyledConv(cout, cout, 3, style_dim))
            self.to_rgbs.append(ToRGB(cout))
            self.to_flows.append(ToFlow(cout, style_dim))
            cin = cout

    def forward(self, latent: Tensor, feats: list[Tensor], noise: bool = True) -> Tensor:
        out = self.conv1(self.input(latent.shape[0]), latent, noise)
        skip = skip_flow = None
        for conv_up, conv, to_rgb, to_flow, feat in zip(self.convs[::2], self.convs[1::2], self.to_rgbs, self.to_flows, feats):
            out = conv(conv_up(out, latent, noise), latent, noise)
            out_warp, out, skip_flow = to_flow(out, latent, feat, skip_flow)
            skip = to_rgb(out_warp, skip)
        assert skip is not None
        return skip


class LIAGenerator(nn.Module):
    """``gen`` of LIA's ``vox.pt``: ``forward(source, driving)`` -> source animated by driving.

    Images are (B, 3, size, size) in [-1, 1]. Motion is *absolute*: ``w_a(source) +
    Q alpha(driving)`` (LIA's relative mode needs a reference driving frame, which a single
    cross-identity pair does not have). ``noise=False`` drops the StyleGAN noise injection for
    deterministic outputs.
    """

    def __init__(self, size: int = 256, style_dim: int = 512, motion_dim: int = 20) -> None:
        super().__init__()
        self.size = size
        self.enc = Encoder(size, style_dim, motion_dim)
        self.dec = Synthesis(size, style_dim, motion_dim)

    def forward(self, source: Tensor, driving: Tensor, noise: bool = True) -> Tensor:
        w_a, feats = self.enc.net_app(source)
        alpha = self.enc.motion(driving)
        latent = w_a + self.dec.direction(alpha)
        return self.dec(latent, feats, noise)


def load_lia_generator(weights_path: str | os.PathLike[str] | None = None, size: int = 256) -> LIAGenerator:
    """Build the generator and strictly load ``vox.pt`` (registry ``lia_vox256``; path overrides).

    Raises :class:`reliableswap.weights.MissingWeightsError` naming the expected path.
    """
    path = weights.resolve("lia_vox256", weights_path)
    obj = torch.load(path, map_location="cpu", weights_only=True)
    state = obj["gen"] if isinstance(obj, dict) and "gen" in obj else obj
    model = LIAGenerator(size=size)
    weights.load_into(model, {k: v for k, v in state.items() if isinstance(v, Tensor)}, source=str(path))
    log.info("loaded LIA generator from %s", path)
    return model.eval()


class LIAReenactor:
    """Official reenactor backend (:class:`supervision.protocols.Reenactor`) around LIA at 256.

    Inputs of another working size are resized to 256 (antialiased) and the output back.
    LIA synthesises a whole new image and predicts **no landmarks**: ``landmarks`` is all NaN
    and the pipeline must re-run face analysis on ``image``. ``valid`` is all ones (every
    pixel is synthesised). Driving landmarks are accepted for the protocol and ignored.
    """

    def __init__(
        self,
        weights_path: str | os.PathLike[str] | None = None,
        device: str | torch.device | None = None,
        noise: bool = False,
        generator: LIAGenerator | None = None,
    ) -> None:
        self.generator = generator if generator is not None else load_lia_generator(weights_path)
        self.device = torch.device(device) if device else next(self.generator.parameters()).device
        self.generator.to(self.device).eval()
        self.noise = noise

    @torch.no_grad()
    def reenact(
        self, source: Tensor, driving: Tensor, source_landmarks: Tensor | None = None, driving_landmarks: Tensor | None = None
    ) -> Reenacted:
        size = self.generator.size
        s = source.shape[-1]
        src, drv = (_resize(t.to(self.device), size) for t in (source, driving))
        out = self.generator(src, drv, noise=self.noise).clamp(-1, 1)
        out = _resize(out, s).to(source.device, source.dtype)
        nan = torch.full((source.shape[0], 68, 2), float("nan"), device=source.device, dtype=source.dtype)
        return Reenacted(image=out, landmarks=nan, valid=torch.ones_like(out[:, :1]))


def _resize(x: Tensor, size: int) -> Tensor:
    if x.shape[-1] == size and x.shape[-2] == size:
        return x
    return F.interpolate(x, size=(size, size), mode="bilinear", align_corners=False, antialias=x.shape[-1] > size)
