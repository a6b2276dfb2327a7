"""Augmentations for FFHQ-style aligned face crops.

Training faces are aligned: eyes, nose and mouth sit at fixed positions, and the identity
encoder's 112x112 ArcFace crop is derived from that layout by a fixed warp. So only
alignment-preserving augmentations are used: horizontal flip (the alignment template is
left/right symmetric) and mild photometric colour jitter. No rotation, scaling, cropping or
perspective: those would move the landmarks away from where the identity warp expects them.

Implementation notes (the data loader is often the bottleneck on CPU-light GPU nodes):
the image is resized as ``uint8`` with ``cv2.INTER_AREA`` (proper anti-aliasing, fastest on
small data), flipped as a numpy view, and only then converted to float; jitter uses a few
vectorised torch ops. All randomness comes from an explicit ``numpy.random.Generator`` so the
pair dataset can make every sample reproducible from a per-sample seed.
"""

from __future__ import annotations

from dataclasses import dataclass

import cv2
import numpy as np
import torch

__all__ = ["FaceTransform", "center_square", "jpeg_reduce_factor", "resize_uint8", "to_tensor"]

# ITU-R BT.601 luma weights, as torchvision uses for grayscale/saturation.
_LUMA = (0.299, 0.587, 0.114)


def jpeg_reduce_factor(width: int | None, height: int | None, size: int) -> int:
    """Largest JPEG decode reduction (1, 2, 4, 8) that still yields at least ``size`` pixels.

    Decoding a 512px JPEG straight at 128px (factor 4) skips most of the IDCT work; we never go
    below the training size, so the final resize is still a downscale with anti-aliasing.
    """
    if not width or not height:
        return 1
    short = min(width, height)
    for factor in (8, 4, 2):
        if short // factor >= size:
            return factor
    return 1


def center_square(img: np.ndarray) -> np.ndarray:
    """Centre square crop (a view). Aligned datasets are square already, making this a no-op."""
    h, w = img.shape[:2]
    if h == w:
        return img
    side = min(h, w)
    top, left = (h - side) // 2, (w - side) // 2
    return img[top : top + side, left : left + side]


def resize_uint8(img: np.ndarray, size: int) -> np.ndarray:
    """Square-resize a ``uint8`` image: area averaging when shrinking, bicubic when enlarging."""
    img = center_square(img)
    if img.shape[0] == size:
        return img
    interp = cv2.INTER_AREA if img.shape[0] > size else cv2.INTER_CUBIC
    return cv2.resize(np.ascontiguousarray(img), (size, size), interpolation=interp)


def to_tensor(img: np.ndarray) -> torch.Tensor:
    """``HxWx3`` uint8 -> ``3xHxW`` float32 in [-1, 1]."""
    tensor = torch.from_numpy(np.ascontiguousarray(img)).permute(2, 0, 1).float()
    return tensor.div_(127.5).sub_(1.0)


def uint8_to_images(array: np.ndarray, device: torch.device | str = "cpu") -> torch.Tensor:
    """``(N, H, W, 3)`` uint8 RGB -> ``(N, 3, H, W)`` float32 in [-1, 1] on ``device``.

    The one batch conversion between decoded pixels and network tensors (the uint8 array moves
    to the device first: a quarter of the bytes of the float tensor).
    """
    t = torch.from_numpy(np.ascontiguousarray(array)).to(device)
    return t.permute(0, 3, 1, 2).float().div_(127.5).sub_(1.0)


def images_to_uint8(images: torch.Tensor) -> np.ndarray:
    """``(N, 3, H, W)`` in [-1, 1] -> contiguous ``(N, H, W, 3)`` uint8 RGB on the CPU (rounded)."""
    x = ((images.detach().float().clamp(-1, 1) + 1.0) * 127.5).round().to(torch.uint8)
    return np.ascontiguousarray(x.permute(0, 2, 3, 1).cpu().numpy())


def _gray(x: torch.Tensor) -> torch.Tensor:
    r, g, b = x[0], x[1], x[2]
    return (_LUMA[0] * r + _LUMA[1] * g + _LUMA[2] * b).unsqueeze(0)


@dataclass
class FaceTransform:
    """Resize + optional flip + optional colour jitter + conversion to a [-1, 1] tensor.

    Jitter strengths follow torchvision's convention: a factor drawn uniformly from
    ``[1 - s, 1 + s]`` for brightness/contrast/saturation and a hue shift from ``[-h, h]``
    (fraction of the colour wheel, at most 0.5). Defaults are deliberately mild: colour
    is part of what the generator must carry over from the target, so strong jitter would
    teach it wrong skin tones. ``augment=False`` (evaluation) keeps only resize + conversion.
    """

    size: int = 256
    hflip_p: float = 0.5
    brightness: float = 0.1
    contrast: float = 0.1
    saturation: float = 0.1
    hue: float = 0.0
    augment: bool = True

    def __post_init__(self) -> None:
        if self.size <= 0:
            raise ValueError(f"size must be positive, got {self.size}")
        if not 0.0 <= self.hflip_p <= 1.0:
            raise ValueError(f"hflip_p must be in [0, 1], got {self.hflip_p}")
        for name in ("brightness", "contrast", "saturation"):
            if not 0.0 <= getattr(self, name) < 1.0:
                raise ValueError(f"{name} must be in [0, 1), got {getattr(self, name)}")
        if not 0.0 <= self.hue <= 0.5:
            raise ValueError(f"hue must be in [0, 0.5], got {self.hue}")

    @property
    def jitter_enabled(self) -> bool:
        return self.augment and any(v > 0 for v in (self.brightness, self.contrast, self.saturation, self.hue))

    def __call__(self, img: np.ndarray, rng: np.random.Generator | None = None) -> torch.Tensor:
        """Transform one ``HxWx3`` uint8 RGB image; ``rng`` drives every random choice."""
        if rng is None:
            rng = np.random.default_rng()
        out = resize_uint8(img, self.size)
        if self.augment and self.hflip_p > 0 and rng.random() < self.hflip_p:
            out = out[:, ::-1]
        tensor = to_tensor(out)
        if self.jitter_enabled:
            tensor = self._jitter(tensor, rng)
        return tensor

    def _jitter(self, x: torch.Tensor, rng: np.random.Generator) -> torch.Tensor:
        """Colour jitter on a [-1, 1] tensor (works in [0, 1], clamps after each op)."""
        x = x.add(1.0).mul_(0.5)
        # Always draw all four numbers so the random stream does not depend on which are on.
        b, c, s = (float(rng.uniform(1.0 - v, 1.0 + v)) for v in (self.brightness, self.contrast, self.saturation))
        h = float(rng.uniform(-self.hue, self.hue))
        if self.brightness > 0:
            x.mul_(b).clamp_(0.0, 1.0)
        if self.contrast > 0:
            mean = _gray(x).mean()
            x.sub_(mean).mul_(c).add_(mean).clamp_(0.0, 1.0)
        if self.saturation > 0:
            gray = _gray(x)
            x.sub_(gray).mul_(s).add_(gray).clamp_(0.0, 1.0)
        if self.hue > 0:
            from torchvision.transforms.v2 import functional as TF

            x = TF.adjust_hue(x, h)
        return x.mul_(2.0).sub_(1.0)
