"""Image-level checks that reject a synthesized triplet before it is trained on.

Step 5 of the cycle-triplet synthesis drops failures. Identity distance (ArcFace) is checked by
the builder with an identity encoder; this module holds the *pixel* checks, which need no network:

* :func:`is_near_copy` — users of the original reported synthesized AB coming out identical to
  the target B (the blend mask or reenactment silently failed, so B was pasted onto itself).
  Training on such a triplet teaches "output = target", the exact failure the method fights, so
  it is detected by the face region barely differing from B.
* :func:`image_collapsed` — NaN/inf, flat or saturated images from a failed stage.

All checks are batched and return one boolean per image, ``True`` meaning *reject*.

Artifact measures of the synthesis stages (pure torch, no network, batched, (B, ...) in and one
number per image out, so the builder can threshold each and record which one failed):

* :func:`warp_fold_stats` — the reenactment warp folds over (a mirrored band of A) or stretches
  very non-uniformly (compressed folds, smeared strips);
* :func:`occlusion_fraction` — hair, hands, a mask etc. cover much of the face hull;
* :func:`boundary_colour_step` — a visible colour seam along the blend-mask boundary;
* :func:`mouth_consistency` — A''s mouth does not sit on B's (the source of wavy lips).
"""

from __future__ import annotations

import logging

import torch
import torch.nn.functional as F
from torch import Tensor

from reliableswap.faces.parsing.labels import ID, NAMES
from supervision.blend import dilate_mask
from supervision.reenact.warp import jacobian_det

log = logging.getLogger(__name__)

# Labels that are the face itself; anything else inside the face hull occludes it (hair, hat,
# eyeglasses, hands labelled background, cloth, ...). Same set as the pipeline's face outline.
FACE_PARTS: tuple[str, ...] = ("skin", "nose", "l_eye", "r_eye", "l_brow", "r_brow", "u_lip", "l_lip", "mouth")
MOUTH_PARTS: tuple[str, ...] = ("u_lip", "l_lip", "mouth")

GREY_LEVELS_PER_UNIT = 127.5  # [-1, 1] image units -> 8-bit grey levels
_MIN_SIDE_WEIGHT = 0.1  # boundary_colour_step: least normalised band weight on each side of a site


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


# --------------------------------------------------------------------------------------------
# Artifact measures (one float per image)
# --------------------------------------------------------------------------------------------


def masked_quantile(values: Tensor, keep: Tensor, q: float) -> Tensor:
    """(B,) ``q``-quantile of each row of ``values`` (B, N) over the entries where ``keep`` is True.

    Linear interpolation between order statistics (``torch.quantile``'s default); NaN for a row
    with nothing kept. Uses a partial sort (``topk``) from the nearer end, so the 1st/99th
    percentile of a 256 x 256 map costs a fraction of a full sort.
    """
    if values.shape != keep.shape or values.dim() != 2:
        raise ValueError(f"values {tuple(values.shape)} and keep {tuple(keep.shape)} must both be (B, N)")
    if not 0.0 <= q <= 1.0:
        raise ValueError(f"q must be in [0, 1], got {q}")
    if values.shape[0] == 0 or values.shape[1] == 0:
        return torch.full(values.shape[:1], float("nan"), dtype=values.dtype, device=values.device)
    if q > 0.5:  # the upper tail: mirror, so topk stays short
        return 0.0 - masked_quantile(-values, keep, 1.0 - q)  # 0.0 - x: no -0.0 for x = 0
    count = keep.sum(dim=1)
    pos = q * (count - 1).clamp_min(0).to(values.dtype)
    lo = pos.floor().long()
    frac = pos - lo.to(values.dtype)
    hi = torch.minimum(lo + 1, (count - 1).clamp_min(0))
    k = min(int(hi.max()) + 1, values.shape[1])
    filled = torch.where(keep, values, torch.full_like(values, float("inf")))
    smallest = filled.topk(k, dim=1, largest=False, sorted=True).values
    lo_v = smallest.gather(1, lo[:, None])[:, 0]
    hi_v = smallest.gather(1, hi[:, None])[:, 0]
    out = lo_v + frac * (hi_v - lo_v)
    return torch.where(count > 0, out, torch.full_like(out, float("nan")))


def warp_fold_stats(grid: Tensor, region: Tensor) -> tuple[Tensor, Tensor]:
    """How badly a backward warp folds and how non-uniformly it scales inside ``region``.

    Args:
        grid: (B, H, W, 2) source pixel coordinates (x, y) sampled for each output pixel
            (``WarpResult.grid`` of :func:`supervision.reenact.warp.warp_tps`).
        region: (B, 1, H, W) where to look (pixels > 0.5 count), e.g. the reenacted face.

    Returns:
        ``(fold_fraction, stretch)``, each (B,) float:

        * ``fold_fraction`` in [0, 1]: share of region pixels whose Jacobian determinant
          (:func:`~supervision.reenact.warp.jacobian_det`) is <= 0, i.e. the output shows a mirrored
          band of the source there. 0 for an empty region.
        * ``stretch`` >= 1: 99th / 1st percentile of the determinant over the region pixels with a
          positive determinant (dimensionless ratio of area scale factors). 1 = uniform area change
          (identity, rigid, similarity and affine maps); 10 = some part of the face is squeezed or
          smeared ten times more than another. 1 for an empty region (or one that is all folded).
          Near-folds (determinant -> 0+) make it very large.

    Raises:
        ValueError: on mismatched shapes.
    """
    if grid.dim() != 4 or grid.shape[-1] != 2:
        raise ValueError(f"grid must be (B, H, W, 2), got {tuple(grid.shape)}")
    b, h, w, _ = grid.shape
    if region.shape != (b, 1, h, w):
        raise ValueError(f"region must be {(b, 1, h, w)} for grid {tuple(grid.shape)}, got {tuple(region.shape)}")
    det = jacobian_det(grid).flatten(1)
    inside = (region > 0.5).flatten(1)
    total = inside.sum(dim=1)
    folded = (inside & (det <= 0)).sum(dim=1)
    fold = torch.where(total > 0, folded / total.clamp_min(1), torch.zeros_like(total, dtype=det.dtype))
    positive = inside & (det > 0)
    high = masked_quantile(det, positive, 0.99)
    low = masked_quantile(det, positive, 0.01)
    tiny = torch.finfo(det.dtype).tiny
    stretch = high / low.clamp_min(tiny)
    stretch = torch.where(torch.isnan(stretch), torch.ones_like(stretch), stretch).clamp_min(1.0)
    return fold.to(det.dtype), stretch


def _check_labels(labels: Tensor, name: str) -> None:
    if labels.dim() != 3 or labels.dtype.is_floating_point:
        raise ValueError(f"{name} must be an integer (B, S, S) label map, got {labels.dtype} {tuple(labels.shape)}")


def _in_classes(labels: Tensor, names: tuple[str, ...]) -> Tensor:
    """(B, S, S) bool: label in ``names``, by a lookup table (~5x faster than ``torch.isin``).

    Ids outside the canonical range (e.g. a negative or 255 "ignore" label) are in no class.
    """
    if labels.numel() == 0:
        return torch.zeros(labels.shape, dtype=torch.bool, device=labels.device)
    low, high = (int(v) for v in torch.aminmax(labels))
    lut = torch.zeros(max(len(NAMES), high + 1) + 1, dtype=torch.bool, device=labels.device)
    lut[torch.tensor([ID[n] for n in names], device=labels.device)] = True
    return lut.take(labels if low >= 0 else torch.where(labels < 0, lut.numel() - 1, labels))


def occlusion_fraction(labels: Tensor, hull: Tensor, face_parts: tuple[str, ...] = FACE_PARTS) -> Tensor:
    """(B,) share in [0, 1] of the face hull that is *not* labelled as a face part.

    Args:
        labels: (B, S, S) int64 canonical label map (:mod:`reliableswap.faces.parsing.labels`).
        hull: (B, 1, S, S) where the whole face would be if nothing covered it (pixels > 0.5
            count), e.g. the filled convex hull of the 68 landmarks or of the parsed face parts.
        face_parts: label names that are the face itself (default :data:`FACE_PARTS`: skin,
            nose, eyes, brows, lips, mouth). Everything else inside the hull is an occluder: hair
            or a hat over the face, eyeglasses, hands or a mask (parsed as background / cloth).

    Returns:
        0 = fully visible face; ~0.5 = half the hull covered. An empty hull gives 0.

    Raises:
        ValueError: on a non-integer label map or mismatched shapes.
    """
    _check_labels(labels, "labels")
    if hull.shape != (labels.shape[0], 1, *labels.shape[1:]):
        raise ValueError(f"hull must be (B, 1, S, S) matching labels {tuple(labels.shape)}, got {tuple(hull.shape)}")
    inside = (hull[:, 0] > 0.5).flatten(1)
    face = _in_classes(labels, face_parts).flatten(1)
    total = inside.sum(dim=1)
    covered = (inside & ~face).sum(dim=1)
    return torch.where(total > 0, covered / total.clamp_min(1), torch.zeros(total.shape, device=labels.device))


def mouth_consistency(labels_a: Tensor, labels_b: Tensor) -> Tensor:
    """(B,) intersection over union in [0, 1] of the mouth regions (upper lip, lower lip, mouth).

    Args:
        labels_a: (B, S, S) int64 labels of the reenacted A'.
        labels_b: (B, S, S) int64 labels of the target B.

    Returns:
        1 = A''s mouth sits exactly on B's; low = the warp put lips where B has none (the blend
        then mixes two mouths: wavy / zig-zag lips). Both mouths absent gives 1, one absent 0.
    """
    _check_labels(labels_a, "labels_a")
    _check_labels(labels_b, "labels_b")
    if labels_a.shape != labels_b.shape:
        raise ValueError(f"labels_a {tuple(labels_a.shape)} and labels_b {tuple(labels_b.shape)} differ")
    a = _in_classes(labels_a, MOUTH_PARTS).flatten(1)
    b = _in_classes(labels_b, MOUTH_PARTS).flatten(1)
    inter = (a & b).sum(dim=1)
    union = (a | b).sum(dim=1)
    return torch.where(union > 0, inter / union.clamp_min(1), torch.ones(union.shape, device=labels_a.device))


def _cells(x: Tensor, cell: int) -> Tensor:
    """Mean over ``cell`` x ``cell`` blocks (the last partial block averages what it has)."""
    if cell == 1:
        return x
    return F.avg_pool2d(x, kernel_size=cell, stride=cell, ceil_mode=True)


def _blur_one_cell(x: Tensor) -> Tensor:
    """Separable Gaussian, sigma 1, 5 taps, zero padding (for normalised convolution)."""
    t = torch.arange(-2, 3, dtype=x.dtype, device=x.device)
    g = torch.exp(-0.5 * t * t)
    g = g / g.sum()
    c = x.shape[1]
    x = F.conv2d(x, g.view(1, 1, 1, 5).expand(c, 1, 1, 5), padding=(0, 2), groups=c)
    return F.conv2d(x, g.view(1, 1, 5, 1).expand(c, 1, 5, 1), padding=(2, 0), groups=c)


def boundary_colour_step(
    result: Tensor, reference: Tensor, mask: Tensor, allowed: Tensor | None = None, width_px: int = 4
) -> Tensor:
    """(B,) colour jump across the blend-mask boundary in ``result`` beyond what ``reference`` shows.

    Args:
        result: (B, 3, S, S) blended image in [-1, 1] (e.g. AB).
        reference: (B, 3, S, S) image the result was pasted into (B itself), same range.
        mask: (B, 1, S, S) blend mask; its boundary is the 0.5 level (pixels > 0.5 are inside).
        allowed: optional (B, 1, S, S) where seams are judged (> 0.5), e.g. B's skin: local means
            use only allowed pixels, so a seam running along B's hair or background edge (no skin
            on one side) is not counted. ``None`` judges the whole boundary.
        width_px: depth of the inner and outer bands in pixels (>= 1); also the scale of the local
            means, so a transition blended over much more than ``width_px`` reads as small.

    Returns:
        Colour step in 8-bit grey levels (0-255 scale), >= 0: the 90th percentile over boundary
        sites of the Euclidean RGB length of ``J(result) - J(reference)``, where ``J`` is the mean
        colour just inside minus the mean colour just outside the boundary. A hard paste with a
        cast of +d grey levels in one channel gives d; +d in all three channels d*sqrt(3). 0 when
        ``result`` equals ``reference`` or when no boundary site is judged.

    Why the jump *difference* per site (rather than the brief's first idea, the 90th percentile of
    |J(result)| minus that of |J(reference)|): a face has its own edges at the seam (jaw shading,
    skin against hair), and a cast adds to them in quadrature, so the difference of magnitudes
    read only 10-24 for a +30 red cast pasted into real CelebAMask-HQ faces; the vector difference
    reads 30 whatever the face does, and is 0 where ``result`` continues ``reference``'s own edge.

    Method: the images, the mask and ``allowed`` are averaged over ``width_px`` x ``width_px``
    cells; cells fully inside / outside the mask next to the other side form the inner / outer
    band (cells straddling the boundary belong to neither, so a half-covered cell does not dilute
    the step); local band means are a normalised convolution (Gaussian, sigma = one cell =
    ``width_px``); a site is any cell in ``allowed`` with at least :data:`_MIN_SIDE_WEIGHT` of
    band weight on each side. Working on cells keeps the check at one pass over the full-size
    images (a batch of 16 at 256 px: ~20 ms on one CPU thread).

    Raises:
        ValueError: on mismatched shapes or ``width_px`` < 1.
    """
    if result.shape != reference.shape or result.dim() != 4 or result.shape[1] != 3:
        raise ValueError(f"result {tuple(result.shape)} and reference {tuple(reference.shape)} must both be (B, 3, S, S)")
    expected = (result.shape[0], 1, *result.shape[2:])
    for name, m in (("mask", mask), ("allowed", allowed)):
        if m is not None and m.shape != expected:
            raise ValueError(f"{name} must be {expected}, got {tuple(m.shape)}")
    if width_px < 1:
        raise ValueError(f"width_px must be >= 1, got {width_px}")
    dtype = result.dtype if result.dtype in (torch.float32, torch.float64) else torch.float32
    cell = int(width_px)
    inside_share = _cells((mask > 0.5).to(dtype), cell)
    inside = (inside_share > 0.999).to(dtype)
    outside = (inside_share < 0.001).to(dtype)
    if allowed is None:
        usable = torch.ones_like(inside)
        site_ok = torch.ones_like(inside, dtype=torch.bool)
    else:
        allowed_share = _cells((allowed > 0.5).to(dtype), cell)
        usable = (allowed_share > 0.999).to(dtype)
        site_ok = allowed_share > 0.5
    inner = inside * dilate_mask(1.0 - inside, 1) * usable
    outer = outside * dilate_mask(1.0 - outside, 1) * usable

    # Cell means are linear, so the difference image is formed after pooling (cheaper).
    diff = _cells(result.to(dtype), cell) - _cells(reference.to(dtype), cell)
    sums = _blur_one_cell(torch.cat([diff * inner, diff * outer, inner, outer], 1))
    w_in, w_out = sums[:, 6:7], sums[:, 7:8]
    sites = (site_ok & (w_in >= _MIN_SIDE_WEIGHT) & (w_out >= _MIN_SIDE_WEIGHT)).flatten(1)
    jump = sums[:, 0:3] / w_in.clamp_min(1e-6) - sums[:, 3:6] / w_out.clamp_min(1e-6)
    step = jump.square().sum(dim=1).sqrt().flatten(1) * GREY_LEVELS_PER_UNIT
    return torch.nan_to_num(masked_quantile(step, sites, 0.9), nan=0.0)
