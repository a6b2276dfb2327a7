"""Multi-band (Laplacian pyramid) blending of A's inner face into B, and the masks it uses.

Step 2 of the cycle-triplet synthesis (spec §1): the inner face of the reenacted A' is blended into
B with a Burt & Adelson multi-band blend, so low frequencies (skin tone, shading) mix over a wide
transition while high frequencies (pores, edges) switch over a narrow one. A hard paste shows a
seam; a feathered alpha paste ghosts the fine detail — the pyramid avoids both.

Everything is batched torch (no per-image or per-pixel Python loops), so it runs on GPU in the
triplet builder and on CPU in tests. The separable 5-tap binomial kernel ``[1, 4, 6, 4, 1] / 16``
is Burt & Adelson's generating kernel; it is written here (rather than calling kornia) so the
reduce/expand pair is fully under our control: the collapse is exact by construction, whatever
the boundary handling, because the same ``_expand`` builds and collapses the pyramid.
"""

from __future__ import annotations

import logging
import math

import torch
import torch.nn.functional as F
from torch import Tensor

from reliableswap.faces.parsing.labels import HAIR, INNER_FACE, region_mask

log = logging.getLogger(__name__)

_BINOMIAL_5 = (1.0, 4.0, 6.0, 4.0, 1.0)

# Recommended ``reach_px`` as a fraction of the image side S: 16 px at S = 256, 32 px at 512
# (the transition width of pyramid level 5 at a 512 working size; levels 6-9 are the haze).
# Measured on 20 CelebAMask-HQ pairs at 256 (see tests/supervision/test_blend.py): the window
# changes the seam ring (0-3 px outside the mask) by 3.5% of the blend there and the part it removes
# has a gradient of 0.022 per px at the 99.9th percentile (~3 grey levels: no visible edge), while
# the haze 24 px out is exactly 0. 8 px cuts into the seam (13% change in the ring, 0.043 per px);
# 24 px is gentler (1.6%) but leaves no slack before 24 px; 32 px leaks beyond 24 px.
RECOMMENDED_REACH_FRACTION = 1.0 / 16.0


def _take(x: Tensor, dim: int, start: int, stop: int | None, step: int = 1) -> Tensor:
    """``x[..., start:stop:step, :]`` along ``dim`` (-2 rows, -1 columns) as a view."""
    index = [slice(None)] * x.dim()
    index[dim] = slice(start, stop, step)
    return x[tuple(index)]


def _replicate_pad(x: Tensor, dim: int, n: int) -> Tensor:
    first, last = _take(x, dim, 0, 1), _take(x, dim, -1, None)
    return torch.cat([first] * n + [x] + [last] * n, dim=dim)


def _reduce_dim(x: Tensor, dim: int) -> Tensor:
    """Blur with ``[1, 4, 6, 4, 1] / 16`` along ``dim`` evaluated only at even positions.

    Only the kept samples are computed (half the work of blur-then-subsample), as sums of
    strided views: on CPU this is several times faster than a depthwise ``conv2d``.
    Replicate borders work down to size 1, which a 10-level pyramid at 512 reaches.
    """
    m = (x.shape[dim] + 1) // 2  # odd sizes round up, like cv2.pyrDown
    p = _replicate_pad(x, dim, 2)

    def tap(j: int) -> Tensor:
        return _take(p, dim, j, j + 2 * m - 1, 2)

    return 0.375 * tap(2) + 0.25 * (tap(1) + tap(3)) + 0.0625 * (tap(0) + tap(4))


def _reduce(x: Tensor) -> Tensor:
    """Burt & Adelson REDUCE of (N, C, H, W): 5-tap binomial blur, keep every second pixel.

    Rows first: the row pass works on whole contiguous rows, and the column pass then touches
    only half the data.
    """
    return _reduce_dim(_reduce_dim(x, -2), -1)


def _expand_dim(x: Tensor, dim: int, n: int) -> Tensor:
    """Burt & Adelson EXPAND along ``dim`` to length ``n`` (replicate border).

    Zero-insertion followed by the 5-tap kernel times 2 reduces to two cheap phases: even outputs
    ``(x[k-1] + 6 x[k] + x[k+1]) / 8`` and odd outputs ``(x[k] + x[k+1]) / 2``. This matches
    :func:`_reduce`'s sampling grid (fine pixel 2k <-> coarse pixel k).
    """
    p = _replicate_pad(x, dim, 1)
    before, centre, after = _take(p, dim, 0, -2), _take(p, dim, 1, -1), _take(p, dim, 2, None)
    even = (before + 6.0 * centre + after) * 0.125
    odd = (centre + after) * 0.5
    shape = list(x.shape)
    shape[dim] = n
    out = x.new_empty(shape)
    _take(out, dim, 0, None, 2).copy_(_take(even, dim, 0, (n + 1) // 2))
    _take(out, dim, 1, None, 2).copy_(_take(odd, dim, 0, n // 2))
    return out


def _expand(x: Tensor, size: tuple[int, int]) -> Tensor:
    """EXPAND (N, C, h, w) to ``size``: the interpolator used both to build and to collapse."""
    return _expand_dim(_expand_dim(x, -1, size[1]), -2, size[0])


def _resize(x: Tensor, size: tuple[int, int]) -> Tensor:
    """Resize for the working-size round trip; exact identity when the round trip is integral.

    Integer upscales use pixel replication and integer downscales use box averaging, so
    S -> k*S -> S returns the input bit-for-bit (up to float rounding): blending at 512 then
    storing 256 does not blur A's face. Other ratios fall back to antialiased bilinear.
    """
    h, w = x.shape[-2:]
    th, tw = size
    if th % h == 0 and tw % w == 0:
        return x.repeat_interleave(th // h, dim=-2).repeat_interleave(tw // w, dim=-1)
    if h % th == 0 and w % tw == 0:
        return F.avg_pool2d(x, kernel_size=(h // th, w // tw))
    return F.interpolate(x, size=size, mode="bilinear", align_corners=False, antialias=True)


def max_pyramid_levels(height: int, width: int) -> int:
    """Most levels that still leave the coarsest level at least 1 pixel: ``floor(log2(min)) + 1``.

    ``levels`` counts the full-resolution level, so 10 levels at 512 reach a 1x1 top — the
    original method's setting (blend at 512 with 10 levels).
    """
    return int(math.floor(math.log2(max(1, min(height, width))))) + 1


def laplacian_pyramid_blend(
    foreground: Tensor,
    background: Tensor,
    mask: Tensor,
    levels: int = 10,
    working_size: int | None = 512,
    *,
    reach_px: float | None = None,
) -> Tensor:
    """Blend ``foreground`` into ``background`` where ``mask`` is 1, band by band.

    Args:
        foreground, background: (B, C, S, S) images in [-1, 1] (any square or rectangular size).
        mask: (B, 1, S, S) in [0, 1]; 1 takes the foreground. A hard 0/1 mask is expected and fine:
            its Gaussian pyramid provides the per-band transition widths.
        levels: pyramid levels including the full-resolution one; capped at
            :func:`max_pyramid_levels` of the working size (logged). ``levels=1`` is a plain
            alpha composite.
        working_size: the images are resized to this square size for blending and the result is
            resized back to S (the original blends at 512 and stores 256). ``None`` blends at S.
        reach_px: ``None`` (default) is the original, unbounded blend. A positive number bounds
            how far the blend reaches outside the mask, in pixels of the input size S (not of
            ``working_size``): (i) the difference ``F - B`` is zeroed outside the mask's support
            (``mask > 0``) and refilled there by extrapolating the difference *on* the support
            (:func:`_fill_from_support`, pull-push) before the pyramid is built, so only
            differences inside the face propagate and A's own hair/background never do;
            (ii) the collapsed difference is multiplied by :func:`reach_window` — 1 on the
            support, a raised-cosine fall-off over ``reach_px``, exactly 0 beyond — so every pixel
            farther than ``reach_px`` from the support is exactly ``background``. See "Note on
            many levels" for why, and :data:`RECOMMENDED_REACH_FRACTION` for a value.

    Returns:
        (B, C, S, S) blend, clamped to [-1, 1], same dtype and device as ``background``.

    Linearity is used to halve the work: ``blend = B + collapse(G(mask)_l * L(F - B)_l)``, which is
    algebraically the classic per-level blend of the two Laplacian pyramids (and matches
    ``cv2.pyrDown``/``cv2.pyrUp`` blending away from the image border, where we replicate instead
    of reflecting). It also means only the *difference* goes through the working-size round
    trip: B's own detail is never resampled, and integer ratios (256 -> 512 -> 256) are exact.

    Note on many levels: the top level is blended with the mask's *average* over a large area
    (at 10 levels and 512 the top is 1x1, i.e. the global mask mean), so the lowest frequencies
    — the face's overall tone — mix with B's in proportion to the mask's coverage. That is
    the original method's behaviour and a form of colour harmonisation; use fewer levels to keep
    A's tone. The flip side is a *haze*: those coarse bands, times a mask average that is never 0,
    carry the low-frequency difference (including A's background, since A' is a whole image) far
    outside the mask — at 512 and 10 levels over the whole image. ``reach_px`` removes it.
    Why refill rather than leave the zeros: a difference that drops to 0 at the support edge is a
    step *in the low frequencies*, which the mask's fine levels then switch over a few pixels — a
    hard seam (on CelebAMask-HQ pairs the low-passed seam gradient rose by ~55%, and a uniform
    difference showed a 0.75 jump between two pixels). The refilled difference is continuous, so
    the seam stays as soft as the unbounded blend's.

    Raises:
        ValueError: mismatched shapes, ``levels < 1`` or ``reach_px <= 0``.
    """
    if foreground.shape != background.shape:
        raise ValueError(f"foreground {tuple(foreground.shape)} and background {tuple(background.shape)} differ")
    expected_mask = (background.shape[0], 1, *background.shape[-2:])
    if tuple(mask.shape) != expected_mask:
        raise ValueError(f"mask must be (B, 1, H, W) matching the images, got {tuple(mask.shape)}")
    if levels < 1:
        raise ValueError(f"levels must be >= 1, got {levels}")
    if reach_px is not None and not reach_px > 0:
        raise ValueError(f"reach_px must be > 0 or None, got {reach_px}")

    out_dtype = background.dtype
    size = tuple(background.shape[-2:])
    compute_dtype = torch.float32 if out_dtype in (torch.float16, torch.bfloat16) else out_dtype
    delta = (foreground - background).to(compute_dtype)
    m = mask.to(compute_dtype).clamp(0.0, 1.0)
    support = m > 0
    if reach_px is not None:
        delta = _fill_from_support(delta, support.to(compute_dtype))

    work = size if working_size is None else (working_size, working_size)
    resized = work != size
    if resized:
        delta = _resize(delta, work)
        m = _resize(m, work)

    cap = max_pyramid_levels(*work)
    if levels > cap:
        log.debug("laplacian_pyramid_blend: %d levels capped to %d at %s", levels, cap, work)
        levels = cap

    # Gaussian pyramids of the difference and of the mask, built together (one pass over memory).
    gauss = [torch.cat([delta, m], dim=1)]
    for _ in range(levels - 1):
        gauss.append(_reduce(gauss[-1]))
    channels = delta.shape[1]

    # Collapse from the top: the top level is blended as is, each finer level adds its masked band.
    top = gauss[-1]
    out = top[:, :channels] * top[:, channels:]
    for level in range(levels - 2, -1, -1):
        g = gauss[level]
        lap = g[:, :channels] - _expand(gauss[level + 1][:, :channels], g.shape[-2:])
        out = _expand(out, g.shape[-2:]) + lap * g[:, channels:]

    if resized:
        out = _resize(out, size)
    if reach_px is not None:
        out = out * reach_window(support, reach_px).to(compute_dtype)
    return (background.to(compute_dtype) + out).clamp_(-1.0, 1.0).to(out_dtype)


def _fill_from_support(values: Tensor, support: Tensor) -> Tensor:
    """Keep ``values`` (B, C, H, W) on ``support`` (B, 1, H, W in [0, 1]) and extrapolate them outside.

    Pull-push: Gaussian pyramids of ``values * support`` (N) and of ``support`` (W) down to 1x1,
    then from the top ``F_l = N_l + (1 - W_l) * EXPAND(F_{l+1})`` — a convex mix of the local
    support-weighted mean and the coarser fill. Where ``support`` is 1, ``F_0 = values``; outside,
    ``F_0`` is a smooth continuation built only from values on the support.
    """
    levels = max_pyramid_levels(*values.shape[-2:])
    channels = values.shape[1]
    pyramid = [torch.cat([values * support, support], dim=1)]
    for _ in range(levels - 1):
        pyramid.append(_reduce(pyramid[-1]))
    top = pyramid[-1]
    filled = top[:, :channels] / top[:, channels:].clamp_min(1e-12)
    for level in range(levels - 2, -1, -1):
        p = pyramid[level]
        filled = p[:, :channels] + (1.0 - p[:, channels:]) * _expand(filled, p.shape[-2:])
    return filled


# --------------------------------------------------------------------------------------------
# Distance to a mask: the reach window and the haze metric
# --------------------------------------------------------------------------------------------


def distance_to_mask(region: Tensor, max_px: float) -> Tensor:
    """Euclidean distance (px, between pixel centres) from every pixel to the nearest ``region`` pixel.

    Args:
        region: (B, 1, H, W) bool (or 0/1) mask; distance is 0 on it.
        max_px: search radius. Distances ``<= max_px`` are exact; every pixel farther away gets
            some value ``> max_px`` (``inf`` when nothing lies within ``max_px`` along either
            axis), so thresholds up to ``max_px`` are exact. An empty region gives ``inf``.

    Returns:
        (B, 1, H, W) float32 distances.

    Exact separable transform, truncated: first the vertical distance to the region in each
    column, then ``min over |dx| <= R of dx^2 + dy(x + dx)^2`` along rows. A Python loop over the
    ``2R + 1`` offsets (not pixels), each a batched tensor op, so O(R * B * H * W).
    """
    if region.dim() != 4 or region.shape[1] != 1:
        raise ValueError(f"region must be (B, 1, H, W), got {tuple(region.shape)}")
    radius = math.floor(max_px) + 1
    inside = region.bool()
    height, width = inside.shape[-2:]
    inf = torch.tensor(float("inf"), device=inside.device)
    padded = F.pad(inside, (0, 0, radius, radius), value=False)
    dy = torch.full(inside.shape, float("inf"), device=inside.device)
    for k in range(-radius, radius + 1):
        hit = _take(padded, -2, radius + k, radius + k + height)
        dy = torch.minimum(dy, torch.where(hit, torch.tensor(float(abs(k)), device=inside.device), inf))
    dy2 = F.pad(dy * dy, (radius, radius, 0, 0), value=float("inf"))
    d2 = torch.full(inside.shape, float("inf"), device=inside.device)
    for k in range(-radius, radius + 1):
        d2 = torch.minimum(d2, _take(dy2, -1, radius + k, radius + k + width) + float(k * k))
    return d2.sqrt()


def reach_window(region: Tensor, reach_px: float) -> Tensor:
    """(B, 1, H, W) weight: 1 on ``region``, raised cosine of the distance, exactly 0 at ``>= reach_px``.

    ``w(d) = (1 + cos(pi * d / reach_px)) / 2`` for ``0 <= d < reach_px``: smooth (zero slope at
    both ends), so the limited blend fades out without a visible edge.
    """
    d = distance_to_mask(region, reach_px)
    w = 0.5 * (1.0 + torch.cos(math.pi * (d / reach_px).clamp(max=1.0)))
    return torch.where(d < reach_px, w, torch.zeros_like(w))


def leak_outside(result: Tensor, background: Tensor, mask: Tensor, distance_px: float) -> Tensor:
    """How much a blend changed the background far from the mask: the haze metric.

    Args:
        result, background: (B, C, H, W) in [-1, 1].
        mask: (B, 1, H, W); the region is ``mask > 0.5``.
        distance_px: only pixels strictly farther than this (Euclidean, px of H x W) count.

    Returns:
        (B,) float32: mean over those pixels and over channels of ``|result - background|``, in
        [-1, 1] units (so 0..2). 0 where no pixel is that far (never NaN).
    """
    if result.shape != background.shape or mask.shape != (result.shape[0], 1, *result.shape[-2:]):
        raise ValueError(f"shapes differ: result {tuple(result.shape)}, background {tuple(background.shape)}, "
                         f"mask {tuple(mask.shape)}")
    far = (distance_to_mask(mask > 0.5, distance_px) > distance_px).float()
    diff = (result.float() - background.float()).abs().mean(dim=1, keepdim=True)
    count = far.sum(dim=(1, 2, 3))
    return (diff * far).sum(dim=(1, 2, 3)) / count.clamp_min(1.0)


# --------------------------------------------------------------------------------------------
# Masks
# --------------------------------------------------------------------------------------------


def dilate_mask(mask: Tensor, radius: int) -> Tensor:
    """Grey dilation of (B, 1, H, W) by ``radius`` px with an octagonal (near-disc) element.

    Alternating 3x3 square and plus-shaped max filters grows the region by one pixel per step
    with an octagon footprint: closer to the Euclidean disc that "dilate a few pixels" means
    than a big square, and still only cheap batched max operations.
    """
    if radius <= 0:
        return mask
    out = mask
    for step in range(radius):
        if step % 2 == 0:
            out = F.max_pool2d(out, kernel_size=3, stride=1, padding=1)
        else:
            p = F.pad(out, (1, 1, 1, 1), value=float("-inf"))
            out = torch.stack(
                [p[..., 1:-1, 1:-1], p[..., :-2, 1:-1], p[..., 2:, 1:-1], p[..., 1:-1, :-2], p[..., 1:-1, 2:]]
            ).amax(dim=0)
    return out


def erode_mask(mask: Tensor, radius: int) -> Tensor:
    """Grey erosion (dual of :func:`dilate_mask`); outside the image counts as inside."""
    if radius <= 0:
        return mask
    return 1.0 - dilate_mask(1.0 - mask, radius)


def feather_mask(mask: Tensor, radius: int) -> Tensor:
    """Soften a mask edge over about ``radius`` px with a Gaussian blur (sigma = radius / 2)."""
    if radius <= 0:
        return mask
    sigma = radius / 2.0
    k = 2 * radius + 1
    x = torch.arange(k, dtype=mask.dtype, device=mask.device) - radius
    g = torch.exp(-(x**2) / (2 * sigma**2))
    g = g / g.sum()
    p = F.pad(mask, (radius, radius, radius, radius), mode="replicate")
    p = F.conv2d(p, g.view(1, 1, 1, k))
    return F.conv2d(p, g.view(1, 1, k, 1)).clamp_(0.0, 1.0)


def blend_masks(
    labels_a: Tensor,
    labels_b: Tensor,
    erode_px: int = 0,
    feather_px: int = 0,
    valid_a: Tensor | None = None,
) -> Tensor:
    """The mask of what A' contributes: A's inner face minus B's hair, as (B, 1, S, S) float.

    Args:
        labels_a: (B, S, S) canonical labels of the reenacted A'.
        labels_b: (B, S, S) canonical labels of B.
        erode_px: shrink the mask by this many pixels first, so parser boundary errors (a rim of
            A's hair or background labelled skin) are not pasted into B.
        feather_px: optional Gaussian softening of the edge. Usually 0: the pyramid blend itself
            does the softening, and a feathered mask only widens the fine-band transition.
        valid_a: optional (B, 1, S, S) mask of pixels where the reenactor produced real content
            (``Reenacted.valid``); holes of the warp are never pasted.

    Spec: the inner face of A' (skin, brows, eyes, nose, mouth, lips; not ears, not hair) goes into
    B, with the hair of both taken from B: B's hair wins wherever it overlaps A's face (fringes,
    strands over the cheek), and A's hair is simply not in the mask. Where A's face extends beyond
    B's face (A wider), the mask keeps A's pixels (see :mod:`supervision.reshape`).
    """
    if labels_a.shape != labels_b.shape or labels_a.dim() != 3:
        raise ValueError(f"label maps must both be (B, S, S), got {tuple(labels_a.shape)} and {tuple(labels_b.shape)}")
    mask = region_mask(labels_a, INNER_FACE) * (1.0 - region_mask(labels_b, HAIR))
    if valid_a is not None:
        mask = mask * valid_a.to(mask.dtype)
    mask = erode_mask(mask, erode_px)
    return feather_mask(mask, feather_px)
