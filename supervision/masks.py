"""Occluder-aware blend masks: which pixels of the reenacted A' are pasted into B.

:func:`supervision.blend.blend_masks` (the legacy rule, kept for before/after comparisons) pastes
A''s inner face minus B's hair. That misses everything else that sits *in front of* B's face — a
hand, a microphone, a hat, glasses — and it pastes A''s own glasses and A''s squeezed teeth.
:func:`face_blend_mask` states the rule in full:

    mask = A'-face  x  (1 - B-occluders)  x  (1 - mouths)  x  valid_a,  then erode, then feather

* **A'-face** — A''s :data:`FACE_PARTS` (skin, nose, eyes, brows, lips) plus A''s inner
  mouth (removed again below when ``mouth_from_b``). Never A''s hair, hat, ears, neck, hands,
  background: those are not face parts, so they are simply not in the set.
* **B-occluders** — what lies in front of B's face and must stay B's:

  - every B pixel labelled one of :data:`OCCLUDERS` (hair, hat, eyeglasses, earring, necklace,
    cloth), wherever it is: a fringe over A''s forehead, a collar over A''s chin;
  - every B pixel *inside* ``hull_b`` (B's face outline from its landmarks, see
    :func:`face_hull_mask`) whose label is neither a face part nor ``mouth``. This is how hands,
    microphones, cups over B's face show up: the parser does not call them face (they come out
    as background or cloth), but the landmarks say a face is there.

  *Outside* ``hull_b`` B's background, neck and skin are **not** occluders: where A''s face is
  wider than B's, A' pixels stay (see :mod:`supervision.reshape`).
* **Mouths** (``mouth_from_b=True``) — the inner mouth of A' *or* B, dilated by
  ``mouth_dilate_px``, is B's: B's teeth and mouth cavity are kept, and the reenactor's squeezed,
  often smeared teeth of A' are never pasted. Lips still come from A'. Only "mouth" labels
  within ``mouth_region`` (the inner-lip polygons from the landmarks, grown) count: the parser
  labels some moustaches "mouth", and B's moustache must not be kept.
* **valid_a** — pixels where the reenactor produced real content; warp holes are never pasted.

Eyeglasses (``eyeglasses=``):

* ``"occluder"`` (default): glasses are neither pasted from A' (they are not a face part) nor
  pasted over on B (they are one of B's occluders). Glasses are an accessory, not identity: pasting
  A''s glasses teaches the swapper to transfer accessories, and pasting A''s eye region over B's
  frames cuts the frames apart at the mask edge and leaves fragments floating on the face. With
  this rule B's frames stay whole and A''s eyes show through B's lenses only where the parser
  labels the eyes themselves.
* ``"face"``: the legacy behaviour — A''s glasses are pasted as part of A''s face and B's glasses
  are not an occluder (neither via :data:`OCCLUDERS` nor via the hull clause).

Everything is batched torch on (B, S, S) label maps in the canonical ids of
:mod:`reliableswap.faces.parsing.labels`.
"""

from __future__ import annotations

import logging
from typing import Literal

import torch
from torch import Tensor

from reliableswap.faces.parsing.labels import region_mask
from reliableswap.faces.parsing.landmark_parser import face_hull_polygon, fill_polygons
from supervision.blend import dilate_mask, erode_mask, feather_mask

log = logging.getLogger(__name__)

__all__ = ["FACE_PARTS", "OCCLUDERS", "face_blend_mask", "face_hull_mask", "inner_mouth_region"]

FACE_PARTS: tuple[str, ...] = ("skin", "nose", "l_eye", "r_eye", "l_brow", "r_brow", "u_lip", "l_lip")
OCCLUDERS: tuple[str, ...] = ("hair", "hat", "eyeglasses", "earring", "necklace", "cloth")

_EYEGLASSES_RULES = ("occluder", "face")


def face_hull_mask(landmarks: Tensor, size: int, forehead: float = 0.35) -> Tensor:
    """The face region enclosed by the jaw line and the lifted brows, as (B, 1, S, S) float {0, 1}.

    Args:
        landmarks: (B, 68, 2) iBUG points in pixel coordinates (x, y) of the S x S image.
        size: S.
        forehead: the brow points 17..26 are lifted along the face's vertical axis by this
            fraction of the eye-centre-to-chin distance to close the region at the top — the same
            polygon the landmark parser fills as skin
            (:func:`reliableswap.faces.parsing.landmark_parser.face_hull_polygon`).

    Raises:
        ValueError: landmarks not (B, 68, 2) or size < 1.
    """
    if landmarks.ndim != 3 or tuple(landmarks.shape[1:]) != (68, 2):
        raise ValueError(f"expected landmarks (B, 68, 2), got {tuple(landmarks.shape)}")
    if size < 1:
        raise ValueError(f"size must be >= 1, got {size}")
    hull = fill_polygons(face_hull_polygon(landmarks, forehead), size, size)
    return hull.unsqueeze(1).float()


def inner_mouth_region(landmarks: Tensor, size: int, dilate_px: int = 6) -> Tensor:
    """(B, 68, 2) iBUG landmarks (pixels of an S x S crop) -> (B, 1, S, S) float {0, 1}: the
    inner-lip polygon (points 60-67) grown by ``dilate_px``. Rows with non-finite landmarks give
    an all-ones map (no restriction)."""
    known = torch.isfinite(landmarks).flatten(1).all(1)
    safe = torch.where(known[:, None, None], landmarks, torch.zeros_like(landmarks))
    inner = fill_polygons(safe[:, 60:68], size, size).unsqueeze(1).float()
    region = dilate_mask(inner, dilate_px)
    return torch.where(known.view(-1, 1, 1, 1), region, torch.ones_like(region))


def face_blend_mask(
    labels_a: Tensor,
    labels_b: Tensor,
    hull_b: Tensor,
    *,
    mouth_from_b: bool = True,
    mouth_dilate_px: int = 2,
    eyeglasses: Literal["occluder", "face"] = "occluder",
    erode_px: int = 0,
    feather_px: int = 0,
    valid_a: Tensor | None = None,
    mouth_region: Tensor | None = None,
) -> Tensor:
    """The mask of what A' contributes to the blend, with B's occluders kept (rule: module docstring).

    Args:
        labels_a: (B, S, S) canonical labels of the reenacted A'.
        labels_b: (B, S, S) canonical labels of B.
        hull_b: (B, 1, S, S) B's face hull (:func:`face_hull_mask` of B's landmarks), bool or float
            (> 0.5 is inside). Inside it, any B pixel that is not a face part or mouth is an
            occluder. An all-zero hull switches that clause off.
        mouth_from_b: keep B's inner mouth and never paste A''s (both mouths, dilated, are removed).
        mouth_dilate_px: dilation of the union of the two inner mouths, px.
        eyeglasses: ``"occluder"`` (default) or ``"face"`` (legacy), see the module docstring.
        erode_px: shrink the mask by this many px after the rule (parser boundary errors).
        feather_px: Gaussian softening of the edge, px (usually 0: the pyramid blend softens).
        valid_a: optional (B, 1, S, S) mask of pixels where the reenactor produced content.
        mouth_region: optional (B, 1, S, S) area where an inner mouth can be
            (:func:`inner_mouth_region` of B's and A''s landmarks); "mouth" labels outside it are
            not treated as mouths (the parser calls some moustaches "mouth": without this B's
            moustache would be kept in the swap).

    Returns:
        (B, 1, S, S) float32 in [0, 1] ({0, 1} when ``feather_px == 0``).

    Raises:
        ValueError: mismatched shapes or an unknown ``eyeglasses`` rule.
    """
    if labels_a.shape != labels_b.shape or labels_a.dim() != 3:
        raise ValueError(f"label maps must both be (B, S, S), got {tuple(labels_a.shape)} and {tuple(labels_b.shape)}")
    expected = (labels_b.shape[0], 1, *labels_b.shape[-2:])
    if tuple(hull_b.shape) != expected:
        raise ValueError(f"hull_b must be {expected}, got {tuple(hull_b.shape)}")
    if valid_a is not None and tuple(valid_a.shape) != expected:
        raise ValueError(f"valid_a must be {expected}, got {tuple(valid_a.shape)}")
    if eyeglasses not in _EYEGLASSES_RULES:
        raise ValueError(f"eyeglasses must be one of {_EYEGLASSES_RULES}, got {eyeglasses!r}")

    glasses_are_face = eyeglasses == "face"
    face = FACE_PARTS + ("mouth",) + (("eyeglasses",) if glasses_are_face else ())
    occluders = tuple(n for n in OCCLUDERS if not (glasses_are_face and n == "eyeglasses"))

    a_face = region_mask(labels_a, face)
    in_hull = (hull_b > 0.5).float()
    occluded = torch.maximum(region_mask(labels_b, occluders), in_hull * (1.0 - region_mask(labels_b, face)))
    mask = a_face * (1.0 - occluded)
    if mouth_from_b:
        mouths = torch.maximum(region_mask(labels_a, ("mouth",)), region_mask(labels_b, ("mouth",)))
        if mouth_region is not None:
            mouths = mouths * (mouth_region > 0.5).to(mouths.dtype)
        mask = mask * (1.0 - dilate_mask(mouths, mouth_dilate_px))
    if valid_a is not None:
        mask = mask * valid_a.to(mask.dtype)
    mask = erode_mask(mask, erode_px)
    return feather_mask(mask, feather_px)
