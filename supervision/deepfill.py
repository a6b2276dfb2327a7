"""DeepFill v2 (gated convolution + contextual attention) generator in plain PyTorch.

A re-implementation of the inference path of the official TensorFlow 1 release
(JiahuiYu/generative_inpainting, branch ``v2.0.0``: ``InpaintCAModel.build_inpaint_net`` and
the ``gen_conv`` / ``gen_deconv`` / ``contextual_attention`` ops), written from its public
definition so that a converted official checkpoint loads one to one:

- TF variable ``inpaint_net/<layer>/kernel`` ``[k, k, cin, cout]`` -> ``<layer>.weight``
  ``[cout, cin, k, k]``; ``.../bias`` -> ``<layer>.bias``. The upsampling layers live in their own
  variable scope, so ``inpaint_net/conv13_upsample/conv13_upsample_conv/kernel`` ->
  ``conv13_upsample.conv13_upsample_conv.weight``. See :func:`tf_to_torch_state_dict`.
- A gated conv is ONE convolution with ``cnum`` output channels whose first half is the feature
  (ELU, or ReLU for ``pmconv6``) and second half the gate (sigmoid); it therefore emits
  ``cnum // 2`` channels. The two output convolutions (``conv17``, ``allconv17``, 3 channels)
  are not gated.
- TF ``'SAME'`` padding is reproduced exactly (asymmetric for the stride-2 layers: nothing before,
  one pixel after), and the nearest-neighbour resizes use TF1's ``align_corners=True`` index rule
  (neuralgym's ``resize`` default), not PyTorch's ``floor`` rule.

Contextual attention follows the official op (3x3 matching patches on the x1/2 downsampled
features, cosine scores, the 3x3 diagonal "fuse" propagation in both scan orders, masked softmax
with scale 10, pasting of 4x4 raw patches by a stride-2 transposed convolution divided by 4),
batched with grouped convolutions. Deliberate differences: the hole mask that excludes background
patches is taken per sample (the official op uses the first mask of the batch; identical for
batch size 1 or a shared mask), and the optical-flow visualisation of the offsets is not computed.

Shapes: the generator takes images ``(B, 3, H, W)`` in [-1, 1] and a mask ``(B, 1, H, W)`` with
1 = hole; H and W must be multiples of 8 (the release was trained at 256x256).
"""

from __future__ import annotations

import logging
import math
import re
from collections.abc import Callable, Mapping

import numpy as np
import torch
import torch.nn.functional as F
from torch import Tensor, nn

log = logging.getLogger(__name__)

TF_SCOPE = "inpaint_net"


# --------------------------------------------------------------------------------------------
# TF-compatible primitives
# --------------------------------------------------------------------------------------------

def tf_same_padding(size: int, kernel: int, stride: int, dilation: int = 1) -> tuple[int, int]:
    """(before, after) zero padding of TF's ``'SAME'`` mode along one axis of ``size`` pixels."""
    effective = (kernel - 1) * dilation + 1
    out = math.ceil(size / stride)
    total = max((out - 1) * stride + effective - size, 0)
    return total // 2, total - total // 2


def _pad_same(x: Tensor, kernel: int, stride: int, dilation: int = 1) -> Tensor:
    top, bottom = tf_same_padding(x.shape[-2], kernel, stride, dilation)
    left, right = tf_same_padding(x.shape[-1], kernel, stride, dilation)
    if top or bottom or left or right:
        x = F.pad(x, (left, right, top, bottom))
    return x


def _tf_nearest_index(n_in: int, n_out: int, align_corners: bool, device: torch.device) -> Tensor:
    """Source indices of TF1 ``resize_nearest_neighbor`` (legacy, no half-pixel centres)."""
    i = torch.arange(n_out, device=device, dtype=torch.float32)
    if align_corners and n_out > 1:
        scale = torch.tensor((n_in - 1) / (n_out - 1), dtype=torch.float32)
        idx = torch.floor(i * scale + 0.5)  # roundf on non-negative values
    else:
        idx = torch.floor(i * torch.tensor(n_in / n_out, dtype=torch.float32))
    return idx.clamp_(max=n_in - 1).long()


def tf_resize_nearest(x: Tensor, size: tuple[int, int], align_corners: bool = True) -> Tensor:
    """Nearest-neighbour resize of ``(B, C, H, W)`` to ``size`` with TF1's index rule."""
    rows = _tf_nearest_index(x.shape[-2], size[0], align_corners, x.device)
    cols = _tf_nearest_index(x.shape[-1], size[1], align_corners, x.device)
    return x.index_select(-2, rows).index_select(-1, cols)


def extract_patches_same(x: Tensor, kernel: int, stride: int) -> Tensor:
    """TF ``extract_image_patches`` (``'SAME'``, rate 1) as ``(B, L, C, k, k)``, L in row-major order."""
    b, c = x.shape[:2]
    cols = F.unfold(_pad_same(x, kernel, stride), kernel, stride=stride)  # (B, C*k*k, L)
    return cols.view(b, c, kernel, kernel, -1).permute(0, 4, 1, 2, 3)


# --------------------------------------------------------------------------------------------
# Layers
# --------------------------------------------------------------------------------------------

class GatedConv(nn.Conv2d):
    """``gen_conv``: one conv with TF 'SAME' padding; output split into feature x sigmoid(gate).

    ``out_channels`` is the TF ``cnum`` (conv width); the layer emits ``cnum // 2`` channels when
    gated (``activation`` not ``None``), ``cnum`` otherwise.
    """

    def __init__(self, cin: int, cnum: int, ksize: int, stride: int = 1, rate: int = 1,
                 activation: Callable[[Tensor], Tensor] | None = F.elu) -> None:
        super().__init__(cin, cnum, ksize, stride=stride, dilation=rate, padding=0)
        self.activation = activation
        self.gated = activation is not None and cnum != 3

    @property
    def out_features(self) -> int:
        return self.out_channels // 2 if self.gated else self.out_channels

    def forward(self, x: Tensor) -> Tensor:  # type: ignore[override]
        x = super().forward(_pad_same(x, self.kernel_size[0], self.stride[0], self.dilation[0]))
        if not self.gated:
            return x
        feature, gate = x.chunk(2, dim=1)
        return self.activation(feature) * torch.sigmoid(gate)


class GatedDeconv(nn.Module):
    """``gen_deconv``: x2 nearest upsample (TF align_corners rule) then a 3x3 gated conv.

    The conv is registered as ``<name>_conv`` to mirror the TF scope ``<name>/<name>_conv``.
    """

    def __init__(self, name: str, cin: int, cnum: int) -> None:
        super().__init__()
        self.conv_name = f"{name}_conv"
        self.add_module(self.conv_name, GatedConv(cin, cnum, 3))

    @property
    def out_features(self) -> int:
        return getattr(self, self.conv_name).out_features

    def forward(self, x: Tensor) -> Tensor:
        x = tf_resize_nearest(x, (x.shape[-2] * 2, x.shape[-1] * 2))
        return getattr(self, self.conv_name)(x)


# (name, tf cnum multiple of base cnum as (num, den), ksize, stride, rate, kind)
# kind: "conv" (ELU gate), "relu" (ReLU gate), "out" (plain conv, 3 channels), "up" (deconv)
_Spec = tuple[str, tuple[int, int], int, int, int, str]

_STAGE1: list[_Spec] = [
    ("conv1", (1, 1), 5, 1, 1, "conv"),
    ("conv2_downsample", (2, 1), 3, 2, 1, "conv"),
    ("conv3", (2, 1), 3, 1, 1, "conv"),
    ("conv4_downsample", (4, 1), 3, 2, 1, "conv"),
    ("conv5", (4, 1), 3, 1, 1, "conv"),
    ("conv6", (4, 1), 3, 1, 1, "conv"),
    ("conv7_atrous", (4, 1), 3, 1, 2, "conv"),
    ("conv8_atrous", (4, 1), 3, 1, 4, "conv"),
    ("conv9_atrous", (4, 1), 3, 1, 8, "conv"),
    ("conv10_atrous", (4, 1), 3, 1, 16, "conv"),
    ("conv11", (4, 1), 3, 1, 1, "conv"),
    ("conv12", (4, 1), 3, 1, 1, "conv"),
    ("conv13_upsample", (2, 1), 3, 1, 1, "up"),
    ("conv14", (2, 1), 3, 1, 1, "conv"),
    ("conv15_upsample", (1, 1), 3, 1, 1, "up"),
    ("conv16", (1, 2), 3, 1, 1, "conv"),
    ("conv17", (0, 1), 3, 1, 1, "out"),
]
_HALLUCINATION: list[_Spec] = [
    ("xconv1", (1, 1), 5, 1, 1, "conv"),
    ("xconv2_downsample", (1, 1), 3, 2, 1, "conv"),
    ("xconv3", (2, 1), 3, 1, 1, "conv"),
    ("xconv4_downsample", (2, 1), 3, 2, 1, "conv"),
    ("xconv5", (4, 1), 3, 1, 1, "conv"),
    ("xconv6", (4, 1), 3, 1, 1, "conv"),
    ("xconv7_atrous", (4, 1), 3, 1, 2, "conv"),
    ("xconv8_atrous", (4, 1), 3, 1, 4, "conv"),
    ("xconv9_atrous", (4, 1), 3, 1, 8, "conv"),
    ("xconv10_atrous", (4, 1), 3, 1, 16, "conv"),
]
_ATTENTION_IN: list[_Spec] = [
    ("pmconv1", (1, 1), 5, 1, 1, "conv"),
    ("pmconv2_downsample", (1, 1), 3, 2, 1, "conv"),
    ("pmconv3", (2, 1), 3, 1, 1, "conv"),
    ("pmconv4_downsample", (4, 1), 3, 2, 1, "conv"),
    ("pmconv5", (4, 1), 3, 1, 1, "conv"),
    ("pmconv6", (4, 1), 3, 1, 1, "relu"),
]
_ATTENTION_OUT: list[_Spec] = [
    ("pmconv9", (4, 1), 3, 1, 1, "conv"),
    ("pmconv10", (4, 1), 3, 1, 1, "conv"),
]
_MERGE: list[_Spec] = [
    ("allconv11", (4, 1), 3, 1, 1, "conv"),
    ("allconv12", (4, 1), 3, 1, 1, "conv"),
    ("allconv13_upsample", (2, 1), 3, 1, 1, "up"),
    ("allconv14", (2, 1), 3, 1, 1, "conv"),
    ("allconv15_upsample", (1, 1), 3, 1, 1, "up"),
    ("allconv16", (1, 2), 3, 1, 1, "conv"),
    ("allconv17", (0, 1), 3, 1, 1, "out"),
]


def _make_layer(spec: _Spec, cin: int, cnum: int) -> GatedConv | GatedDeconv:
    name, (num, den), ksize, stride, rate, kind = spec
    width = 3 if kind == "out" else cnum * num // den
    if kind == "up":
        return GatedDeconv(name, cin, width)
    activation = {"conv": F.elu, "relu": F.relu, "out": None}[kind]
    return GatedConv(cin, width, ksize, stride, rate, activation)


class DeepFillV2Generator(nn.Module):
    """``build_inpaint_net`` of DeepFill v2 (coarse net + two-branch refinement net).

    Args:
        cnum: base conv width of the release (48). Smaller values only serve tests.
        softmax_scale: contextual attention softmax temperature (10 in the release).
    """

    def __init__(self, cnum: int = 48, softmax_scale: float = 10.0) -> None:
        super().__init__()
        self.cnum = cnum
        self.softmax_scale = softmax_scale
        self._stage1 = self._build(_STAGE1, 5, cnum)
        self._hallu = self._build(_HALLUCINATION, 3, cnum)
        self._att_in = self._build(_ATTENTION_IN, 3, cnum)
        self._att_out = self._build(_ATTENTION_OUT, self._width(self._att_in[-1]), cnum)
        merge_in = self._width(self._hallu[-1]) + self._width(self._att_out[-1])
        self._merge = self._build(_MERGE, merge_in, cnum)

    def _width(self, name: str) -> int:
        return self._layer(name).out_features  # type: ignore[return-value]

    def _build(self, specs: list[_Spec], cin: int, cnum: int) -> list[str]:
        names = []
        for spec in specs:
            layer = _make_layer(spec, cin, cnum)
            self.add_module(spec[0], layer)
            cin = layer.out_features
            names.append(spec[0])
        return names

    def _layer(self, name: str) -> nn.Module:
        return getattr(self, name)

    def _run(self, names: list[str], x: Tensor) -> Tensor:
        for name in names:
            x = self._layer(name)(x)
        return x

    def forward(self, image: Tensor, mask: Tensor) -> tuple[Tensor, Tensor]:
        """Return the coarse and refined predictions, both ``(B, 3, H, W)`` in [-1, 1].

        Args:
            image: ``(B, 3, H, W)`` in [-1, 1]; hole pixels are zeroed here as in the release.
            mask: ``(B, 1, H, W)`` in {0, 1}, 1 = hole. H, W multiples of 8.
        """
        if image.shape[-1] % 8 or image.shape[-2] % 8:
            raise ValueError(f"DeepFill v2 needs H and W divisible by 8, got {tuple(image.shape[-2:])}")
        mask = mask.to(image.dtype)
        xin = image * (1.0 - mask)
        ones = torch.ones_like(xin[:, :1])
        x = torch.cat([xin, ones, ones * mask], dim=1)
        x = self._run(self._stage1[:6], x)  # up to conv6
        mask_s = tf_resize_nearest(mask, (x.shape[-2], x.shape[-1]))
        x = self._run(self._stage1[6:], x)
        x_stage1 = torch.tanh(x)

        xnow = x_stage1 * mask + xin * (1.0 - mask)
        hallu = self._run(self._hallu, xnow)
        pm = self._run(self._att_in, xnow)
        pm = contextual_attention(pm, pm, mask_s, ksize=3, stride=1, rate=2, softmax_scale=self.softmax_scale)
        pm = self._run(self._att_out, pm)
        x = self._run(self._merge, torch.cat([hallu, pm], dim=1))
        return x_stage1, torch.tanh(x)


# --------------------------------------------------------------------------------------------
# Contextual attention
# --------------------------------------------------------------------------------------------

def _fuse(scores: Tensor, fh: int, fw: int, bh: int, bw: int, k: int) -> Tensor:
    """Official "fuse" step: add scores along the diagonal (foreground and background shifted
    together) with a k x k identity kernel, first in row-major then in column-major order.

    ``scores`` is ``(B, fh*fw, bh*bw)``; returns the same shape.
    """
    b = scores.shape[0]
    eye = torch.eye(k, dtype=scores.dtype, device=scores.device).view(1, 1, k, k)
    y = F.conv2d(_pad_same(scores.unsqueeze(1), k, 1), eye)
    y = y.view(b, fh, fw, bh, bw).permute(0, 2, 1, 4, 3).reshape(b, 1, fw * fh, bw * bh)
    y = F.conv2d(_pad_same(y, k, 1), eye)
    return y.view(b, fw, fh, bw, bh).permute(0, 2, 1, 4, 3).reshape(b, fh * fw, bh * bw)


def contextual_attention(f: Tensor, b: Tensor, mask: Tensor | None = None, ksize: int = 3, stride: int = 1,
                         rate: int = 2, fuse_k: int = 3, softmax_scale: float = 10.0, fuse: bool = True) -> Tensor:
    """Fill ``f`` with background patches of ``b`` weighted by their (fused) cosine similarity.

    Args:
        f: foreground features ``(B, C, H, W)``.
        b: background features, same shape as ``f`` (DeepFill passes the same tensor).
        mask: ``(B, 1, H, W)`` 1 = hole; background patches touching the hole are not used.
        ksize, stride: matching patch size / stride on the x1/rate grid.
        rate: downsampling factor for matching; pasted patches are ``2*rate`` wide at full res.
    Returns:
        ``(B, C, H, W)`` reconstructed features.
    """
    n, c, h, w = b.shape
    kernel = 2 * rate
    raw_w = extract_patches_same(b, kernel, rate * stride)  # (B, L, C, 2r, 2r)
    f_s = tf_resize_nearest(f, (int(f.shape[-2] / rate), int(f.shape[-1] / rate)))
    b_s = tf_resize_nearest(b, (int(h / rate), int(w / rate)))
    fh, fw = f_s.shape[-2:]
    bh, bw = b_s.shape[-2:]
    if mask is None:
        mask = torch.zeros(n, 1, h, w, dtype=b.dtype, device=b.device)
    m_s = tf_resize_nearest(mask.to(b.dtype), (int(mask.shape[-2] / rate), int(mask.shape[-1] / rate)))

    wpatch = extract_patches_same(b_s, ksize, stride)  # (B, L, C, k, k)
    num = wpatch.shape[1]
    if raw_w.shape[1] != num:
        raise ValueError(f"contextual attention: {raw_w.shape[1]} raw patches vs {num} matching patches")
    norm = wpatch.pow(2).sum(dim=(2, 3, 4), keepdim=True).sqrt().clamp_min(1e-4)
    kernels = (wpatch / norm).reshape(n * num, c, ksize, ksize)
    f_pad = _pad_same(f_s, ksize, 1)
    scores = F.conv2d(f_pad.reshape(1, n * c, *f_pad.shape[-2:]), kernels, groups=n)  # (1, B*L, fh, fw)
    scores = scores.view(n, num, fh * fw).transpose(1, 2)  # (B, fh*fw, L)
    if fuse:
        scores = _fuse(scores, fh, fw, bh, bw, fuse_k)

    valid = (extract_patches_same(m_s, ksize, stride).mean(dim=(2, 3, 4)) == 0).to(scores.dtype)  # (B, L)
    valid = valid.unsqueeze(1)
    attn = torch.softmax(scores * valid * softmax_scale, dim=-1) * valid  # (B, fh*fw, L)

    attn = attn.transpose(1, 2).reshape(1, n * num, fh, fw)
    out = F.conv_transpose2d(attn, raw_w.reshape(n * num, c, kernel, kernel), stride=rate, groups=n) / 4.0
    top, _ = tf_same_padding(h, kernel, rate)
    left, _ = tf_same_padding(w, kernel, rate)
    out = out[..., top:top + f.shape[-2], left:left + f.shape[-1]]
    return out.reshape(n, c, f.shape[-2], f.shape[-1])


# --------------------------------------------------------------------------------------------
# Checkpoint conversion (no TensorFlow needed here)
# --------------------------------------------------------------------------------------------

_OPTIMIZER_PARTS = re.compile(r"(Adam|Momentum|RMSProp|ExponentialMovingAverage)", re.IGNORECASE)


def tf_name_to_torch(name: str, scope: str = TF_SCOPE) -> str | None:
    """``inpaint_net/xconv1/kernel`` -> ``xconv1.weight``; ``None`` for variables we do not load
    (other scopes such as the discriminator, optimiser slots, counters)."""
    parts = name.split("/")
    if len(parts) < 3 or parts[0] != scope or parts[-1] not in ("kernel", "bias"):
        return None
    if any(_OPTIMIZER_PARTS.search(p) for p in parts):
        return None
    return ".".join(parts[1:-1] + ["weight" if parts[-1] == "kernel" else "bias"])


def tf_to_torch_state_dict(variables: Mapping[str, np.ndarray], scope: str = TF_SCOPE) -> dict[str, Tensor]:
    """Map TF checkpoint variables (name -> numpy array) onto :class:`DeepFillV2Generator` keys.

    Conv kernels ``[k, k, cin, cout]`` become ``[cout, cin, k, k]``; biases are copied. Variables
    outside ``scope`` or of the optimiser are dropped. Raises ``ValueError`` on a kernel that is not
    4-D or a bias that is not 1-D.
    """
    state: dict[str, Tensor] = {}
    for name, value in variables.items():
        key = tf_name_to_torch(name, scope)
        if key is None:
            continue
        array = np.asarray(value, dtype=np.float32)
        if key.endswith(".weight"):
            if array.ndim != 4:
                raise ValueError(f"{name}: expected a 4-D conv kernel, got shape {array.shape}")
            array = array.transpose(3, 2, 0, 1)
        elif array.ndim != 1:
            raise ValueError(f"{name}: expected a 1-D bias, got shape {array.shape}")
        state[key] = torch.from_numpy(np.ascontiguousarray(array))
    return state


def torch_to_tf_name(key: str, scope: str = TF_SCOPE) -> str:
    """Inverse of :func:`tf_name_to_torch` (used to derive/verify the manifest)."""
    *path, leaf = key.split(".")
    return "/".join([scope, *path, "kernel" if leaf == "weight" else "bias"])


_PORT_UPSAMPLE = re.compile(r"^((?:all)?conv1[35]_upsample)\.conv\.conv\.(weight|bias)$")
_PORT_CONV = re.compile(r"^(\w+)\.conv\.(weight|bias)$")


def port_key_to_torch(key: str) -> str | None:
    """Key of the common PyTorch port layout (nipponjo/deepfillv2-pytorch ``model/networks_tf.py``:
    gated convs hold an inner ``conv``, upsampling blocks a ``conv.conv``) -> our key.

    ``conv1.conv.weight`` -> ``conv1.weight``;
    ``conv13_upsample.conv.conv.bias`` -> ``conv13_upsample.conv13_upsample_conv.bias``;
    ``None`` for anything else.
    """
    if match := _PORT_UPSAMPLE.match(key):
        name, leaf = match.groups()
        return f"{name}.{name}_conv.{leaf}"
    if match := _PORT_CONV.match(key):
        return f"{match.group(1)}.{match.group(2)}"
    return None


def port_to_torch_state_dict(state: Mapping[str, Tensor]) -> dict[str, Tensor]:
    """Rename a PyTorch-port state dict (see :func:`port_key_to_torch`) to our layout.

    A ``{"G": state_dict}`` wrapper is unwrapped. Shapes are already ``[cout, cin, k, k]``.
    Raises ``ValueError`` on keys that do not belong to the generator.
    """
    if "G" in state and isinstance(state["G"], Mapping):
        state = state["G"]
    out: dict[str, Tensor] = {}
    unknown = []
    for key, value in state.items():
        new = port_key_to_torch(key)
        if new is None:
            unknown.append(key)
        else:
            out[new] = value
    if unknown:
        raise ValueError(f"{len(unknown)} keys not in the PyTorch-port generator layout, e.g. {unknown[:3]}")
    return out
