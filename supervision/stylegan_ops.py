"""StyleGAN2's resampling op in plain torch, shared by the LIA reenactor and the GPEN enhancer.

The official repositories compile ``upfirdn2d`` as a CUDA extension; this is the same operation
(zero-insertion upsampling, padding or cropping, FIR filtering as a true convolution,
subsampling) as batched ``F.pad`` + depthwise ``F.conv2d``, so it runs on CPU and GPU unchanged.
"""

from __future__ import annotations

import torch
import torch.nn.functional as F
from torch import Tensor

__all__ = ["upfirdn2d"]


def upfirdn2d(x: Tensor, kernel: Tensor, up: int = 1, down: int = 1, pad: tuple[int, int] = (0, 0)) -> Tensor:
    """Upsample by zero insertion, pad (negative = crop), FIR-filter (true convolution), downsample."""
    b, c, h, w = x.shape
    if up > 1:
        x = x.reshape(b, c, h, 1, w, 1)
        x = F.pad(x, (0, up - 1, 0, 0, 0, up - 1))
        x = x.reshape(b, c, h * up, w * up)
    p0, p1 = pad
    x = F.pad(x, (max(p0, 0), max(p1, 0), max(p0, 0), max(p1, 0)))
    if p0 < 0 or p1 < 0:
        x = x[:, :, max(-p0, 0): x.shape[2] - max(-p1, 0), max(-p0, 0): x.shape[3] - max(-p1, 0)]
    k = torch.flip(kernel, [0, 1]).to(x)[None, None].expand(c, 1, -1, -1)
    x = F.conv2d(x, k, groups=c)
    return x[:, :, ::down, ::down]
