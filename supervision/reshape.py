"""Face reshaping: make the blended face's outline follow A's jaw and cheeks, not B's.

Step 4 of the cycle-triplet synthesis (spec §1). After A's inner face is blended into B, the face
*contour* is still B's wherever B's face is wider than A's (B's jaw/cheek extends past A's
outline): the identity signal of face shape would leak from the target. That band is dropped
(dilated by a few pixels so the old contour and the blend seam go with it) and inpainted from the
surroundings, so the outline retreats to A's.

Decisions (spec: "decide it deliberately"):

* **A wider than B** (A' extends beyond B's face): nothing is dropped. The blend mask
  (:func:`supervision.blend.blend_masks`) already takes A's inner face wherever A' has it, also
  outside B's face, so A's wider outline is kept as A' pixels. Only B's hair overrides it.
* **Only the lower face is reshaped.** The drop region is B-face minus A-face restricted to a band
  from about the eye line down (``band_start`` of the face's vertical extent, or an explicit
  ``band`` mask, e.g. from landmarks). Above it, face-mask differences are mostly hairline and
  forehead parsing noise, which reshaping would smear into the hair; the identity-relevant
  outline is the jaw and cheeks.
* Slivers thinner than ``min_width_px`` (parser jitter along an otherwise shared contour) are
  removed by a morphological opening before dilation, so a matching outline is not eaten away.
"""

from __future__ import annotations

import logging

import torch
from torch import Tensor

from reliableswap.faces.parsing.labels import INNER_FACE, region_mask
from supervision.blend import dilate_mask, erode_mask
from supervision.protocols import Inpainter

log = logging.getLogger(__name__)


def face_region_mask(labels: Tensor) -> Tensor:
    """(B, S, S) labels -> (B, 1, S, S) face region bounded by the face outline (jaw, cheeks).

    The union of the inner-face classes (skin, nose, eyes, brows, mouth, lips, eyeglasses): the
    skin class reaches the jaw line, so the union's border is the face contour. Ears, neck and
    hair are outside it.
    """
    return region_mask(labels, INNER_FACE)


def lower_face_band(face_mask_a: Tensor, face_mask_b: Tensor, band_start: float = 0.45) -> Tensor:
    """(B, 1, S, S) mask of the rows below ``band_start`` of the union face's vertical extent.

    0.45 of the forehead-to-chin height is about the eye line in FFHQ-aligned crops; everything
    below it (cheeks, jaw, chin) is eligible for reshaping.
    """
    union = (face_mask_a > 0.5) | (face_mask_b > 0.5)
    rows_any = union.any(dim=-1, keepdim=True)  # (B, 1, H, 1)
    height = union.shape[-2]
    idx = torch.arange(height, device=union.device).view(1, 1, -1, 1)
    top = torch.where(rows_any, idx, height).amin(dim=-2, keepdim=True)
    bottom = torch.where(rows_any, idx, -1).amax(dim=-2, keepdim=True)
    start = top.float() + band_start * (bottom - top + 1).clamp_min(0).float()
    band = (idx.float() >= start) & (idx <= bottom)
    return band.expand_as(union).to(face_mask_a.dtype)


def reshape_drop_mask(
    face_mask_a: Tensor,
    face_mask_b: Tensor,
    dilate_px: int = 5,
    band: Tensor | None = None,
    band_start: float = 0.45,
    min_width_px: int = 1,
) -> Tensor:
    """The region to drop and inpaint: (B-face minus A-face) in the lower-face band, dilated.

    Args:
        face_mask_a: (B, 1, S, S) face region of the reenacted A' (see :func:`face_region_mask`).
        face_mask_b: (B, 1, S, S) face region of B.
        dilate_px: grow the region by this many pixels (octagonal element), so B's old contour and
            the blend seam along A's outline are removed too.
        band: optional (B, 1, S, S) mask restricting where B-minus-A counts; default
            :func:`lower_face_band` with ``band_start``.
        min_width_px: opening radius removing slivers of B-minus-A up to ~2x this wide; 0 keeps all.

    Returns:
        (B, 1, S, S) float mask in {0, 1}; all zeros where A's face contains B's.
    """
    a = (face_mask_a > 0.5).to(face_mask_b.dtype)
    b = (face_mask_b > 0.5).to(face_mask_b.dtype)
    extra = b * (1.0 - a)
    if band is None:
        band = lower_face_band(face_mask_a, face_mask_b, band_start)
    extra = extra * (band > 0.5).to(extra.dtype)
    if min_width_px > 0:
        extra = dilate_mask(erode_mask(extra, min_width_px), min_width_px) * extra
    return (dilate_mask(extra, dilate_px) > 0.5).to(face_mask_b.dtype)


def reshape_face(
    blended: Tensor,
    face_mask_a: Tensor,
    face_mask_b: Tensor,
    inpainter: Inpainter,
    dilate_px: int = 5,
    band: Tensor | None = None,
    band_start: float = 0.45,
    min_width_px: int = 1,
) -> tuple[Tensor, Tensor]:
    """Drop B's face where it is wider than A's (lower face) and inpaint it.

    Args:
        blended: (B, 3, S, S) blended (and colour-corrected) AB in [-1, 1].
        face_mask_a, face_mask_b, dilate_px, band, band_start, min_width_px: see
            :func:`reshape_drop_mask`.
        inpainter: any :class:`supervision.protocols.Inpainter`.

    Returns:
        ``(image, drop_mask)``: the reshaped image and the (B, 1, S, S) region that was filled.
        Images with nothing to drop are returned unchanged (the inpainter is not called at all
        when no image in the batch needs it).
    """
    drop = reshape_drop_mask(face_mask_a, face_mask_b, dilate_px, band, band_start, min_width_px)
    if not bool(drop.any()):
        return blended.clone(), drop
    log.debug("reshape_face: dropping %.0f px per image on average", float(drop.sum()) / drop.shape[0])
    return inpainter.inpaint(blended, drop), drop
