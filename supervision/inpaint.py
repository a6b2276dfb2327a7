"""Inpainting backends behind :class:`supervision.protocols.Inpainter` (fill ``mask`` = 1).

Used by the reshaping stage (step 4 of the cycle triplets) to fill the thin band where B's jaw or
cheek extended beyond A's outline. The original used DeepFill v2 (:class:`DeepFillV2Inpainter`, a
PyTorch port of the official network that needs the converted release weights); two classical
backends work without any weights.

Contract shared by all backends: pixels with ``mask <= 0.5`` come back bit-identical (the fill is
composited with the binarised mask), the output has the input's shape, dtype and device, and
images are RGB in [-1, 1].
"""

from __future__ import annotations

import logging
import os
import pickle
from typing import Literal

import cv2
import numpy as np
import torch
import torch.nn.functional as F
from torch import Tensor

from reliableswap.data.transforms import images_to_uint8, uint8_to_images
from reliableswap import weights as weight_registry

log = logging.getLogger(__name__)


def _check(images: Tensor, mask: Tensor) -> Tensor:
    """Validate shapes; return the boolean hole (B, 1, H, W)."""
    if images.dim() != 4 or mask.dim() != 4 or mask.shape[1] != 1:
        raise ValueError(
            f"expected images (B, C, H, W) and mask (B, 1, H, W), got {tuple(images.shape)}, {tuple(mask.shape)}"
        )
    if mask.shape[0] != images.shape[0] or mask.shape[-2:] != images.shape[-2:]:
        raise ValueError(f"mask {tuple(mask.shape)} does not match images {tuple(images.shape)}")
    return mask > 0.5


class OpenCVInpainter:
    """``cv2.inpaint`` (Telea's fast marching or Navier-Stokes), one image at a time on CPU.

    The per-image loop and the host round trip are acceptable here: the reshaping holes are
    thin bands of a few thousand pixels, and ``cv2.inpaint`` only visits pixels near the hole,
    so it costs milliseconds per 256x256 face — small against reenactment and parsing. The
    8-bit quantisation of OpenCV's 3-channel path only affects filled pixels (known pixels are
    restored from the float input).

    Args:
        method: ``"telea"`` (default; smooth fill from the boundary inwards) or ``"ns"``.
        radius: neighbourhood radius in pixels that each filled pixel looks at.
    """

    _FLAGS = {"telea": cv2.INPAINT_TELEA, "ns": cv2.INPAINT_NS}

    def __init__(self, method: Literal["telea", "ns"] = "telea", radius: float = 5.0) -> None:
        if method not in self._FLAGS:
            raise ValueError(f"unknown cv2 inpainting method {method!r}; use one of {sorted(self._FLAGS)}")
        self.method = method
        self.radius = float(radius)

    def inpaint(self, images: Tensor, mask: Tensor) -> Tensor:
        hole = _check(images, mask)
        if not bool(hole.any()):
            return images.clone()
        rgb = images_to_uint8(images)
        holes = hole[:, 0].to(torch.uint8).cpu().numpy()
        filled = np.empty_like(rgb)
        for i in range(rgb.shape[0]):
            if holes[i].any():
                filled[i] = cv2.inpaint(np.ascontiguousarray(rgb[i]), holes[i], self.radius, self._FLAGS[self.method])
            else:
                filled[i] = rgb[i]
        out = uint8_to_images(filled, images.device).to(images.dtype)
        return torch.where(hole, out, images)


class DiffusionInpainter:
    """Harmonic (membrane) fill solved coarse-to-fine in batched torch: runs on GPU as well.

    The hole is filled with the smooth surface that interpolates its boundary (Laplace's
    equation with the known pixels as Dirichlet data). Jacobi iterations alone would need
    O(width^2) sweeps for a wide hole, so the solve starts on a pull-push pyramid (box averages of
    the known pixels, normalised by their coverage), then refines with ``iterations`` Jacobi
    sweeps per level from coarse to fine. Linear gradients are reproduced exactly in the limit;
    texture is not synthesised — for the thin reshaping bands a smooth fill from the background is
    what is wanted.

    Args:
        iterations: Jacobi sweeps per pyramid level.
        min_size: stop coarsening when a side would drop below this many pixels.
    """

    def __init__(self, iterations: int = 40, min_size: int = 4) -> None:
        if iterations < 0:
            raise ValueError("iterations must be >= 0")
        self.iterations = int(iterations)
        self.min_size = max(1, int(min_size))

    @staticmethod
    def _neighbour_mean(u: Tensor) -> Tensor:
        p = F.pad(u, (1, 1, 1, 1), mode="replicate")
        return 0.25 * (p[..., :-2, 1:-1] + p[..., 2:, 1:-1] + p[..., 1:-1, :-2] + p[..., 1:-1, 2:])

    def _relax(self, u: Tensor, value: Tensor, fixed: Tensor) -> Tensor:
        u = torch.where(fixed, value, u)
        for _ in range(self.iterations):
            u = torch.where(fixed, value, self._neighbour_mean(u))
        return u

    def inpaint(self, images: Tensor, mask: Tensor) -> Tensor:
        hole = _check(images, mask)
        if not bool(hole.any()):
            return images.clone()
        work = torch.float64 if images.dtype == torch.float64 else torch.float32
        x = images.to(work)
        known = (~hole).to(work)

        # Pull: premultiplied box pyramid of the known pixels.
        pyramid = [(x * known, known)]
        while min(pyramid[-1][1].shape[-2:]) >= 2 * self.min_size:
            p, w = pyramid[-1]
            pyramid.append((F.avg_pool2d(p, 2, ceil_mode=True), F.avg_pool2d(w, 2, ceil_mode=True)))

        # Coarsest level: coverage-normalised averages; pixels with no known content start from
        # the image's mean known colour (or 0 when the whole image is masked).
        p, w = pyramid[-1]
        total = known.sum(dim=(2, 3), keepdim=True)
        global_mean = (x * known).sum(dim=(2, 3), keepdim=True) / total.clamp_min(1.0)
        covered = w > 0
        value = torch.where(covered, p / w.clamp_min(1e-12), global_mean)
        u = self._relax(value, value, covered)

        # Push: upsample the solution as the initial guess, relax with this level's known pixels.
        for p, w in reversed(pyramid[:-1]):
            u = F.interpolate(u, size=p.shape[-2:], mode="bilinear", align_corners=False)
            fixed = w > 0.5
            value = p / w.clamp_min(1e-12)
            u = self._relax(u, value, fixed)

        out = torch.where(hole, u.to(images.dtype), images)
        empty = total.view(-1) == 0
        if bool(empty.any()):
            log.warning("DiffusionInpainter: %d image(s) fully masked; left unchanged", int(empty.sum()))
            out = torch.where(empty.view(-1, 1, 1, 1), images, out)
        return out


class DeepFillV2Inpainter:
    """DeepFill v2 (gated convolutions + contextual attention) at its training size, batched.

    Images are resized to ``size`` x ``size`` (bilinear, antialiased when shrinking), the hole is
    resized conservatively (any hole pixel in a cell marks the cell when shrinking, nearest when
    enlarging), the network's refined output is resized back (bilinear) and composited into the
    binarised hole only. Runs under ``torch.no_grad`` on the images' device in chunks of
    ``batch_size``.

    Args:
        net: a :class:`supervision.deepfill.DeepFillV2Generator` with loaded weights.
        size: working resolution (256 for the CelebA-HQ release; a multiple of 8).
        batch_size: images per forward pass.
    """

    def __init__(self, net: torch.nn.Module, size: int = 256, batch_size: int = 8) -> None:
        if size % 8:
            raise ValueError(f"DeepFill v2 needs a size divisible by 8, got {size}")
        self.net = net.eval()
        self.size = int(size)
        self.batch_size = max(1, int(batch_size))

    def _to_work(self, images: Tensor, hole: Tensor) -> tuple[Tensor, Tensor]:
        s = self.size
        h, w = images.shape[-2:]
        if (h, w) == (s, s):
            return images, hole.to(images.dtype)
        shrink = h > s or w > s
        x = F.interpolate(images, size=(s, s), mode="bilinear", align_corners=False, antialias=shrink)
        m = hole.to(images.dtype)
        m = F.adaptive_max_pool2d(m, (s, s)) if h >= s and w >= s else F.interpolate(m, size=(s, s), mode="nearest")
        return x.clamp(-1.0, 1.0), m

    @torch.no_grad()
    def inpaint(self, images: Tensor, mask: Tensor) -> Tensor:
        hole = _check(images, mask)
        if not bool(hole.any()):
            return images.clone()
        if images.shape[1] != 3:
            raise ValueError(f"DeepFill v2 expects RGB images (B, 3, H, W), got {tuple(images.shape)}")
        param = next(self.net.parameters())
        if param.device != images.device:
            self.net.to(images.device)
        x, m = self._to_work(images.to(param.dtype), hole)
        outs = []
        for start in range(0, x.shape[0], self.batch_size):
            _, refined = self.net(x[start:start + self.batch_size], m[start:start + self.batch_size])
            outs.append(refined)
        out = torch.cat(outs)
        if out.shape[-2:] != images.shape[-2:]:
            out = F.interpolate(out, size=images.shape[-2:], mode="bilinear", align_corners=False)
        return torch.where(hole, out.to(images.dtype), images)


def build_deepfill_v2(weights_path: str | os.PathLike[str] | None = None, size: int = 256,
                      batch_size: int = 8, device: str | None = None) -> DeepFillV2Inpainter:
    """Config target: the DeepFill v2 inpainter with the converted release weights.

    Args:
        weights_path: converted state dict (``scripts/convert_deepfill_tf.py``); ``None`` = the
            registry location of ``deepfill_v2`` (env override ``RELIABLESWAP_WEIGHT_DEEPFILL_V2``).
        size, batch_size: see :class:`DeepFillV2Inpainter`.
        device: where the network starts (it follows the images' device at call time).

    Raises:
        MissingWeightsError: the file is absent (message: where it goes, where it comes from).
        ValueError: the file is not a readable state dict, or its keys/shapes differ from the
            network (strict load).
    """
    from supervision.deepfill import DeepFillV2Generator

    path = weight_registry.resolve("deepfill_v2", weights_path)
    try:
        state = weight_registry.load_state_dict(path)
    except (pickle.UnpicklingError, RuntimeError, EOFError) as exc:
        raise ValueError(f"{path}: not a readable PyTorch state dict ({str(exc).splitlines()[0]})") from exc
    net = DeepFillV2Generator()
    weight_registry.load_into(net, state, source=str(path))
    if device is not None:
        net.to(device)
    log.info("DeepFill v2 loaded from %s", path)
    return DeepFillV2Inpainter(net, size=size, batch_size=batch_size)
