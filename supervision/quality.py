"""Image-level checks that reject a synthesized triplet before it is trained on.

Step 5 of the cycle-triplet synthesis drops failures. Identity distance (ArcFace) is checked by
the builder with an identity encoder; this module holds the *pixel* checks, which need no network:

* :func:`is_near_copy` — users of the original reported synthesized AB coming out identical to
  the target B (the blend mask or reenactment silently failed, so B was pasted onto itself).
  Training on such a triplet teaches "output = target", the exact failure the method fights, so
  it is detected by the face region barely differing from B.
* :func:`image_collapsed` — NaN/inf, flat or saturated images from a failed stage.

All checks are batched and return one boolean per image, ``True`` meaning *reject*.
"""

from __future__ import annotations

import logging

import torch
from torch import Tensor

log = logging.getLogger(__name__)


def masked_mean_abs_diff(result: Tensor, reference: Tensor, mask: Tensor | None = None) -> Tensor:
    """(B,) mean absolute difference over the masked pixels (all channels), [-1, 1] units.

    With ``mask=None`` the whole image counts. An empty mask gives +inf (no evidence of a copy).
    """
    if result.shape != reference.shape:
        raise ValueError(f"result {tuple(result.shape)} and reference {tuple(reference.shape)} differ")
    diff = (result.float() - reference.float()).abs().mean(dim=1, keepdim=True)  # (B, 1, H, W)
    if mask is None:
        return diff.flatten(1).mean(dim=1)
    w = mask.float()
    total = w.flatten(1).sum(dim=1)
    value = (diff * w).flatten(1).sum(dim=1) / total.clamp_min(1e-12)
    return torch.where(total > 0, value, torch.full_like(value, float("inf")))


def is_near_copy(result: Tensor, reference: Tensor, mask: Tensor | None = None, threshold: float = 0.02) -> Tensor:
    """(B,) bool: ``result`` is practically ``reference`` inside ``mask`` (reject the triplet).

    Args:
        result: (B, 3, S, S) synthesized image, e.g. AB.
        reference: (B, 3, S, S) image it must *not* equal, e.g. the target B.
        mask: (B, 1, S, S) region to compare — the face region where AB must carry A's face
            (e.g. the blend mask); ``None`` compares whole images.
        threshold: mean absolute difference in [-1, 1] units below which it is a copy. The default
            0.02 (about 2.5 grey levels of 255) sits above JPEG re-encoding noise (~0.005-0.01) and
            far below a real face swap of a different person (typically > 0.1 in the face).

    NaN results are not reported as copies (``image_collapsed`` catches them).
    """
    distance = masked_mean_abs_diff(result, reference, mask)
    copied = distance < threshold
    if bool(copied.any()):
        log.info(
            "is_near_copy: %d of %d image(s) within %.3g of the reference", int(copied.sum()), copied.numel(), threshold
        )
    return copied


def image_collapsed(result: Tensor, min_std: float = 0.02, max_saturated: float = 0.5) -> Tensor:
    """(B,) bool: non-finite values, a near-constant image, or mostly saturated pixels.

    Args:
        result: (B, C, H, W) image in [-1, 1].
        min_std: per-image standard deviation (over all pixels and channels) below which the image
            is treated as flat; a real face crop has a std of ~0.3-0.5.
        max_saturated: reject when more than this fraction of values sit at the clip limits
            (|x| >= 0.999), the mark of a blown-up colour transfer or a diverged network.
    """
    x = result.float().flatten(1)
    nonfinite = ~torch.isfinite(x).all(dim=1)
    clean = torch.nan_to_num(x, nan=0.0, posinf=0.0, neginf=0.0)
    flat = clean.std(dim=1) < min_std
    saturated = (clean.abs() >= 0.999).float().mean(dim=1) > max_saturated
    return nonfinite | flat | saturated
