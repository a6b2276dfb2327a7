"""Put swapped crops back into the full image: blend mask, colour matching, inverse warp.

Why each step:

- *mask*: the generator redraws the whole crop (background, hair, neck), but only the face should
  change; outside it the original pixels must survive exactly. The default mask is an ellipse
  built from the FFHQ 5-point template (the aligned crop puts every face's landmarks there), so
  it needs no extra model. With a face parser configured (``parser=bisenet`` or
  ``parser=landmarks``), the mask is the parsed *inner face* of the target crop (skin, brows,
  eyes, nose, lips; not hair, not ears), so a fringe or a hand in front of the face stays.
  Either mask is feathered (Gaussian) so the seam is invisible.
- *colour*: a lightly trained model (or a different camera) shifts the skin tone; matching the
  swapped face's masked mean/std per channel to the target's keeps the paste-back consistent.
  Per-channel RGB statistics cannot remove colour a gray target never had (blue eyes, pink lips
  in a black-and-white photo), so chroma is handled from the target's chroma statistics: a
  (near-)monochrome target face (chroma spread below :data:`MONOCHROME_CHROMA`) gets a face of
  the swapped luminance and the target's constant tint (none for gray, the tone for sepia), in
  every colour mode.
- *inverse warp*: the crop and its mask are warped with the inverse of the alignment similarity
  into only the face's bounding region of the image, then alpha-blended there.

Crops are processed as batched torch tensors on the swap device; the final per-image warp is
OpenCV on CPU because full frames of different sizes do not batch.
"""

from __future__ import annotations

import logging
from typing import Literal

import cv2
import numpy as np
import torch
import torch.nn.functional as F
from torch import Tensor

from reliableswap.faces.alignment import FFHQ_TEMPLATE_5PT
from reliableswap.faces.cropping import crop_region

log = logging.getLogger(__name__)

ColorMode = Literal["mean_std", "linear", "none"]

#: A target face whose chroma spread (root of the summed masked variances of B-Y and R-Y, in
#: units of the full 0..255 range) is below this counts as monochrome (gray, sepia, toned
#: prints); 0.02 is 5/255, below what any colour face photo shows (lips vs skin vs eyes) and
#: above the chroma noise of a gray photo saved as colour JPEG.
MONOCHROME_CHROMA: float = 0.02
_LUMA = (0.299, 0.587, 0.114)  # BT.601


def ellipse_mask(size: int, feather: float = 0.04, scale: float = 1.0) -> np.ndarray:
    """(size, size) float32 mask of the face in an FFHQ crop, from the 5-point template.

    The ellipse is centred between the eyes and the mouth; its half-width is 1.15 x the eye
    distance (cheek to cheek) and its half-height 1.25 x the eye-to-mouth distance (brows to
    chin); ``scale`` grows or shrinks it; ``feather`` is the Gaussian sigma as a fraction of ``size``. The mask is shrunk by
    the feather width so the blurred edge stays inside the face instead of spilling onto hair.
    """
    t = FFHQ_TEMPLATE_5PT * size
    eyes, mouth = t[:2].mean(0), t[3:].mean(0)
    eye_dist = float(np.linalg.norm(t[1] - t[0]))
    em = float(np.linalg.norm(mouth - eyes))
    centre = eyes + 0.45 * (mouth - eyes)
    sigma = max(0.5, feather * size)
    axes = (scale * 1.15 * eye_dist - sigma, scale * 1.25 * em - sigma)
    mask = np.zeros((size, size), np.float32)
    cv2.ellipse(mask, (int(round(centre[0] * 16)), int(round(centre[1] * 16))),
                (int(round(max(1.0, axes[0]) * 16)), int(round(max(1.0, axes[1]) * 16))),
                0, 0, 360, 1.0, -1, cv2.LINE_AA, 4)
    return cv2.GaussianBlur(mask, (0, 0), sigma)


def feather_masks(masks: Tensor, sigma: float) -> Tensor:
    """Gaussian-blur (B, 1, S, S) masks after eroding by ~sigma (keeps the seam inside the region)."""
    if sigma <= 0:
        return masks
    k = int(2 * round(sigma) + 1)
    eroded = -F.max_pool2d(-masks, kernel_size=k, stride=1, padding=k // 2)
    radius = int(3 * sigma)
    x = torch.arange(-radius, radius + 1, dtype=masks.dtype, device=masks.device)
    g = torch.exp(-(x**2) / (2 * sigma**2))
    g = g / g.sum()
    out = F.conv2d(F.pad(eroded, (radius, radius, 0, 0), mode="replicate"), g.view(1, 1, 1, -1))
    return F.conv2d(F.pad(out, (0, 0, radius, radius), mode="replicate"), g.view(1, 1, -1, 1))


def parsed_face_masks(parser: object, targets: Tensor, landmarks68: Tensor | None, feather: float) -> Tensor:
    """Inner-face masks (B, 1, S, S) of target crops in [-1, 1] from a FaceParser."""
    from reliableswap.faces.parsing import INNER_FACE, region_mask

    labels = parser.parse(targets, landmarks68)  # type: ignore[attr-defined]
    masks = region_mask(labels, INNER_FACE).to(targets.dtype)
    return feather_masks(masks, feather * targets.shape[-1])


def _luma_chroma(x: Tensor) -> tuple[Tensor, Tensor, Tensor]:
    """(B, 3, S, S) RGB -> luma Y and colour differences B-Y, R-Y, each (B, 1, S, S)."""
    r, g, b = x[:, 0:1], x[:, 1:2], x[:, 2:3]
    y = _LUMA[0] * r + _LUMA[1] * g + _LUMA[2] * b
    return y, b - y, r - y


def keep_monochrome(swapped: Tensor, target: Tensor, mask: Tensor,
                    threshold: float = MONOCHROME_CHROMA) -> Tensor:
    """Give swapped crops of (near-)monochrome targets the target's chroma: luma kept, tint constant.

    Per crop, the target's masked chroma (B-Y, R-Y) mean and spread are measured; when the spread
    is below ``threshold`` (fraction of the full range) the swapped crop's chroma is replaced by
    the target's mean chroma, so a gray target gets an exactly gray face. Colour targets are
    returned unchanged. All (B, 3, S, S) in [-1, 1]; mask (B, 1, S, S).
    """
    w = mask.sum(dim=(2, 3), keepdim=True).clamp_min(1.0)
    _, tcb, tcr = _luma_chroma(target.float())
    mcb = (tcb * mask).sum(dim=(2, 3), keepdim=True) / w
    mcr = (tcr * mask).sum(dim=(2, 3), keepdim=True) / w
    var = (((tcb - mcb) ** 2 + (tcr - mcr) ** 2) * mask).sum(dim=(2, 3), keepdim=True) / w
    mono = var.sqrt() < 2.0 * threshold  # [-1, 1] spans twice the 0..1 range
    if not bool(mono.any()):
        return swapped
    y, _, _ = _luma_chroma(swapped)
    blue, red = y + mcb, y + mcr
    green = (y - _LUMA[0] * red - _LUMA[2] * blue) / _LUMA[1]
    gray = torch.cat([red, green, blue], dim=1).clamp(-1, 1).to(swapped.dtype)
    return torch.where(mono, gray, swapped)


def match_color(swapped: Tensor, target: Tensor, mask: Tensor, mode: ColorMode = "mean_std") -> Tensor:
    """Match the swapped crops' colour statistics inside ``mask`` to the target crops'.

    ``mean_std``: per channel mean and standard deviation (robust, never rotates colours);
    ``linear``: full mean + covariance transfer (``reliableswap.faces.color.linear_color_transfer``);
    ``none``: colours unchanged. In every mode a (near-)monochrome target gets a monochrome face
    (:func:`keep_monochrome`). All (B, 3, S, S) in [-1, 1]; mask (B, 1, S, S).
    """
    if mode == "none":
        return keep_monochrome(swapped, target, mask)
    if mode == "linear":
        from reliableswap.faces.color import linear_color_transfer

        return keep_monochrome(linear_color_transfer(swapped, target, mask, mask), target, mask)
    if mode != "mean_std":
        raise ValueError(f"unknown colour mode '{mode}'; known: mean_std, linear, none")
    w = mask.sum(dim=(2, 3), keepdim=True).clamp_min(1.0)

    def stats(x: Tensor) -> tuple[Tensor, Tensor]:
        mean = (x * mask).sum(dim=(2, 3), keepdim=True) / w
        var = ((x - mean) ** 2 * mask).sum(dim=(2, 3), keepdim=True) / w
        return mean, var.clamp_min(1e-6).sqrt()

    ms, ss = stats(swapped)
    mt, st = stats(target)
    gain = (st / ss).clamp(0.5, 2.0)  # a guard against a flat (failed) swap exploding the contrast
    return keep_monochrome(((swapped - ms) * gain + mt).clamp(-1, 1), target, mask)


def paste_back(image: np.ndarray, crop: np.ndarray, matrix: np.ndarray, mask: np.ndarray) -> np.ndarray:
    """Blend one aligned crop back into ``image`` (uint8 HxWx3, modified copy returned).

    ``crop``: (S, S, 3) uint8 swapped face; ``matrix``: the 2x3 image -> crop alignment; ``mask``:
    (S, S) float in [0, 1]. Only the crop's bounding region of the image is warped and blended.
    """
    size = crop.shape[0]
    h, w = image.shape[:2]
    x0, y0, x1, y1 = crop_region(matrix, size, h, w)
    out = image.copy()
    if x1 <= x0 or y1 <= y0:
        return out
    inv = cv2.invertAffineTransform(np.asarray(matrix, np.float64))
    inv[:, 2] -= (x0, y0)  # into the region's coordinates
    dsize = (x1 - x0, y1 - y0)
    face = cv2.warpAffine(crop, inv, dsize, flags=cv2.INTER_LINEAR, borderMode=cv2.BORDER_REPLICATE)
    alpha = cv2.warpAffine(mask.astype(np.float32), inv, dsize, flags=cv2.INTER_LINEAR,
                           borderMode=cv2.BORDER_CONSTANT, borderValue=0.0)[..., None]
    region = out[y0:y1, x0:x1].astype(np.float32)
    blended = alpha * face.astype(np.float32) + (1.0 - alpha) * region
    out[y0:y1, x0:x1] = np.clip(np.rint(blended), 0, 255).astype(np.uint8)
    return out


