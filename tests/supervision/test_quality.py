"""Pixel-level rejection checks: near copies, collapsed images, and the artifact measures
(warp folds / stretch, occlusion, boundary colour step, mouth consistency)."""

from __future__ import annotations

import math
from pathlib import Path

import numpy as np
import pytest
import torch
import torch.nn.functional as F

from reliableswap.faces.parsing.labels import ID, region_mask
from supervision.blend import erode_mask, laplacian_pyramid_blend
from supervision.quality import (
    FACE_PARTS,
    boundary_colour_step,
    image_collapsed,
    is_near_copy,
    masked_mean_abs_diff,
    masked_quantile,
    mouth_consistency,
    occlusion_fraction,
    warp_fold_stats,
)
from supervision.reenact.warp import jacobian_det, warp_tps


def _face(seed: int = 0, batch: int = 2) -> torch.Tensor:
    g = torch.Generator().manual_seed(seed)
    return torch.rand(batch, 3, 32, 32, generator=g) * 1.6 - 0.8


def test_near_copy_detected_and_real_swap_not():
    target = _face(0)
    mask = torch.zeros(2, 1, 32, 32)
    mask[..., 8:24, 8:24] = 1
    noisy_copy = target + 0.005 * torch.randn(target.shape, generator=torch.Generator().manual_seed(1))
    swapped = target.clone()
    swapped[..., 8:24, 8:24] = _face(2)[..., 8:24, 8:24]
    result = torch.cat([noisy_copy[:1], swapped[1:]])
    assert is_near_copy(result, target, mask).tolist() == [True, False]


def test_near_copy_only_looks_inside_the_mask():
    target = _face(3, batch=1)
    result = target.clone()
    result[..., :, :8] = -target[..., :, :8]  # differs only outside the face
    mask = torch.zeros(1, 1, 32, 32)
    mask[..., 8:24, 8:24] = 1
    assert bool(is_near_copy(result, target, mask)[0])
    assert not bool(is_near_copy(result, target, None)[0])
    assert not bool(is_near_copy(result, target, torch.zeros_like(mask))[0])  # no evidence, no rejection
    assert torch.isinf(masked_mean_abs_diff(result, target, torch.zeros_like(mask))[0])


def test_image_collapsed():
    normal = _face(4, batch=1)
    flat = torch.full_like(normal, 0.3) + 0.001 * normal
    nan = normal.clone()
    nan[0, 0, 3, 3] = float("nan")
    saturated = normal.sign()
    flags = image_collapsed(torch.cat([normal, flat, nan, saturated]))
    assert flags.tolist() == [False, True, True, True]


# ---------------------------------------------------------------------------------------------
# Artifact measures: warp folds / stretch, occlusion, boundary colour step, mouth consistency
# ---------------------------------------------------------------------------------------------



def _identity_grid(batch: int, size: int) -> torch.Tensor:
    yy, xx = torch.meshgrid(torch.arange(size).float(), torch.arange(size).float(), indexing="ij")
    return torch.stack([xx, yy], -1)[None].repeat(batch, 1, 1, 1)


def _ones_region(batch: int, size: int) -> torch.Tensor:
    return torch.ones(batch, 1, size, size)


def test_masked_quantile_matches_torch_quantile_per_row():
    g = torch.Generator().manual_seed(0)
    values = torch.randn(4, 500, generator=g)
    keep = torch.rand(4, 500, generator=g) > 0.4
    keep[2] = False
    keep[2, 7] = True  # a single kept value
    keep[3] = False  # nothing kept
    for q in (0.0, 0.01, 0.25, 0.5, 0.9, 0.99, 1.0):
        got = masked_quantile(values, keep, q)
        for i in range(3):
            assert got[i].item() == pytest.approx(torch.quantile(values[i][keep[i]], q).item(), abs=1e-5)
        assert torch.isnan(got[3])


def test_jacobian_det_of_identity_scale_and_warp_validity():
    grid = _identity_grid(2, 16)
    grid[1] = grid[1] * 1.5
    det = jacobian_det(grid)
    assert det.shape == (2, 16, 16)
    assert torch.allclose(det[0], torch.ones(16, 16)) and torch.allclose(det[1], torch.full((16, 16), 2.25))
    # warp_tps still marks folded pixels invalid through the public function
    images = torch.rand(1, 3, 32, 32)
    src = torch.tensor([[[8.0, 8.0], [24.0, 8.0], [8.0, 24.0], [24.0, 24.0], [16.0, 16.0]]])
    dst = src.clone()
    dst[0, 4] = torch.tensor([28.0, 16.0])  # drag the centre past the right-hand points: a fold
    out = warp_tps(images, src, dst, grid_step=1)
    folded = jacobian_det(out.grid.double()) <= 0
    assert folded.any() and (out.valid[:, 0][folded] == 0).all()
    with pytest.raises(ValueError):
        jacobian_det(torch.zeros(1, 16, 16, 3))


def test_fold_stats_identity_and_affine_are_clean():
    grid = _identity_grid(3, 64)
    theta = 0.3
    rot = torch.tensor([[math.cos(theta), -math.sin(theta)], [math.sin(theta), math.cos(theta)]])
    grid[1] = (grid[1] @ rot.T) * 0.7 + 5.0  # similarity: uniform area change 0.49
    grid[2] = grid[2] @ torch.tensor([[1.2, 0.3], [0.1, 0.9]]).T  # general affine
    fold, stretch = warp_fold_stats(grid, _ones_region(3, 64))
    assert torch.allclose(fold, torch.zeros(3))
    assert torch.allclose(stretch, torch.ones(3), atol=1e-4)
    fold, stretch = warp_fold_stats(grid, torch.zeros(3, 1, 64, 64))  # empty region: nothing to judge
    assert fold.tolist() == [0.0, 0.0, 0.0] and stretch.tolist() == [1.0, 1.0, 1.0]


def test_fold_fraction_is_the_area_share_of_a_mirrored_band():
    size, a, width = 128, 16, 32
    grid = _identity_grid(2, size)
    cols = torch.arange(a, a + width)
    grid[0, :, cols, 0] = (2 * a + width - 1 - cols).float()  # columns a..a+width-1 show A mirrored
    fold, _ = warp_fold_stats(grid, _ones_region(2, size))
    assert fold[0].item() == pytest.approx(width / size, abs=1.5 / size)
    assert fold[1].item() == 0.0
    # only the region counts: the left half holds the whole band, so its share doubles
    left = torch.zeros(2, 1, size, size)
    left[..., : size // 2] = 1
    fold_left, _ = warp_fold_stats(grid, left)
    assert fold_left[0].item() == pytest.approx(2 * width / size, abs=3 / size)


@pytest.mark.parametrize("slope", [0.1, 4.0])
def test_stretch_of_a_compressed_or_smeared_strip(slope: float):
    size, a, width = 128, 50, 16
    grid = _identity_grid(2, size)
    x = torch.arange(size).float()
    mapped = torch.where(x < a, x, torch.where(x < a + width, a + (x - a) * slope, a + width * slope + (x - a - width)))
    grid[0, ..., 0] = mapped  # source x per output column: a strip with area change `slope`
    fold, stretch = warp_fold_stats(grid, _ones_region(2, size))
    assert fold.tolist() == [0.0, 0.0]
    expected = max(slope, 1 / slope)
    assert stretch[0].item() == pytest.approx(expected, rel=0.05)
    assert stretch[1].item() == pytest.approx(1.0)


def _disc(size: int, radius: float, centre: tuple[float, float] | None = None) -> torch.Tensor:
    cy, cx = centre if centre is not None else (size / 2, size / 2)
    yy, xx = torch.meshgrid(torch.arange(size).float(), torch.arange(size).float(), indexing="ij")
    return ((yy - cy) ** 2 + (xx - cx) ** 2 <= radius**2).float()


def test_occlusion_fraction_of_hair_over_half_the_hull():
    size = 64
    hull = _disc(size, 24)[None, None].repeat(4, 1, 1, 1)
    labels = torch.full((4, size, size), ID["background"], dtype=torch.long)
    labels[hull[:, 0] > 0] = ID["skin"]
    labels[:, 30:34, 20:28] = ID["l_eye"]  # face parts inside the hull are not occluders
    labels[:, 40:44, 26:38] = ID["u_lip"]
    labels[1, :, : size // 2] = ID["hair"]  # hair over the left half of the face
    labels[2, 28:36, 16:48] = ID["eyeglasses"]  # glasses occlude (they are not face parts)
    occ = occlusion_fraction(labels, hull)
    assert occ[0].item() == 0.0
    assert occ[1].item() == pytest.approx(0.5, abs=0.03)
    assert 0.1 < occ[2].item() < 0.3
    assert occlusion_fraction(labels, torch.zeros_like(hull)).tolist() == [0.0] * 4  # no hull: no evidence
    ignore = labels.clone()
    ignore[0, :, : size // 2] = 255  # an "ignore" id, or a negative one, is no face part either
    ignore[3, :, : size // 2] = -1
    assert occlusion_fraction(ignore, hull)[[0, 3]].tolist() == pytest.approx([0.5, 0.5], abs=0.03)
    with pytest.raises(ValueError):
        occlusion_fraction(labels.float(), hull)
    with pytest.raises(ValueError):
        occlusion_fraction(labels, hull[:, :, :-1])


def _smooth_reference(batch: int, size: int, seed: int = 0) -> torch.Tensor:
    """Smooth colour gradients plus mild pixel noise, in [-1, 1]."""
    g = torch.Generator().manual_seed(seed)
    coarse = torch.rand(batch, 3, 4, 4, generator=g) * 0.8 - 0.4
    smooth = F.interpolate(coarse, size=(size, size), mode="bicubic", align_corners=True)
    return (smooth + 0.02 * torch.randn(batch, 3, size, size, generator=g)).clamp(-0.9, 0.9)


def test_boundary_colour_step_measures_a_hard_cast_in_grey_levels():
    size = 128
    reference = _smooth_reference(3, size)
    mask = _disc(size, 37.3)[None, None].repeat(3, 1, 1, 1)
    cast = torch.zeros(3, 3, 1, 1)
    cast[0, 0] = 30 / 127.5  # +30 grey levels in red
    cast[1] = 30 / 127.5  # +30 in every channel: Euclidean 30 * sqrt(3)
    result = torch.where(mask > 0.5, reference + cast, reference)  # sample 2: unchanged
    step = boundary_colour_step(result, reference, mask)
    assert step[0].item() == pytest.approx(30.0, abs=1.0)
    assert step[1].item() == pytest.approx(30.0 * math.sqrt(3), abs=1.5)
    assert step[2].item() == 0.0
    assert torch.equal(boundary_colour_step(reference, reference, mask), torch.zeros(3))
    # the same cast blended in (multi-band) leaves a much smaller step
    blended = laplacian_pyramid_blend(reference + cast, reference, mask, levels=6)
    assert (boundary_colour_step(blended, reference, mask)[:2] < 0.6 * step[:2]).all()
    # nothing to judge: no allowed area, an empty mask, a mask covering everything
    assert torch.equal(boundary_colour_step(result, reference, mask, allowed=torch.zeros_like(mask)), torch.zeros(3))
    assert torch.equal(boundary_colour_step(result, reference, torch.zeros_like(mask)), torch.zeros(3))
    assert torch.equal(boundary_colour_step(result, reference, torch.ones_like(mask)), torch.zeros(3))


def test_boundary_colour_step_ignores_seams_outside_allowed():
    size = 128
    reference = _smooth_reference(1, size, seed=1)
    mask = torch.zeros(1, 1, size, size)
    mask[..., 32:96, 32:96] = 1
    cast = torch.zeros(1, 3, size, size)
    cast[:, 1] = 40 / 127.5
    result = torch.where(mask > 0.5, reference + cast, reference)
    right = torch.zeros_like(mask)
    right[..., :, 64:] = 1  # e.g. B's skin only on the right: the left seam runs along hair
    assert boundary_colour_step(result, reference, mask, allowed=right)[0].item() == pytest.approx(40.0, abs=1.5)
    left_only_seam = torch.where(torch.arange(size) < 64, result, reference)  # cast visible on the left part only
    left_only_seam = torch.where(mask > 0.5, left_only_seam, reference)
    assert boundary_colour_step(left_only_seam, reference, mask, allowed=right)[0].item() == pytest.approx(0.0, abs=0.5)
    assert boundary_colour_step(left_only_seam, reference, mask)[0].item() > 30  # judged everywhere, it shows
    with pytest.raises(ValueError):
        boundary_colour_step(result, reference, mask, width_px=0)
    with pytest.raises(ValueError):
        boundary_colour_step(result, reference[:, :, 1:], mask)


def test_mouth_consistency_of_shifted_mouths():
    size = 64
    a = torch.zeros(4, size, size, dtype=torch.long)
    b = torch.zeros_like(a)
    for labels, dx in ((a, 0), (b, 5)):
        labels[:, 40:45, 20 + dx:40 + dx] = ID["u_lip"]
        labels[:, 45:47, 20 + dx:40 + dx] = ID["mouth"]
        labels[:, 47:50, 20 + dx:40 + dx] = ID["l_lip"]
    b[1] = a[1]  # the same mouth
    b[2] = ID["skin"]  # B has no mouth where A' has one
    a[3] = b[3] = ID["skin"]  # neither has a mouth
    iou = mouth_consistency(a, b)
    assert iou[0].item() == pytest.approx(15 / 25)
    assert iou[1:].tolist() == [1.0, 0.0, 1.0]
    with pytest.raises(ValueError):
        mouth_consistency(a, b[:, 1:])


# ---------------------------------------------------------------------------------------------
# Real data: CelebAMask-HQ ground-truth label maps
# ---------------------------------------------------------------------------------------------


def _convex_hulls(face: np.ndarray) -> np.ndarray:
    """(N, S, S) 0/1 face masks -> (N, S, S) filled convex hulls of each."""
    cv2 = pytest.importorskip("cv2")
    hulls = np.zeros_like(face, dtype=np.uint8)
    for i, m in enumerate(face.astype(np.uint8)):
        points = cv2.findNonZero(m)
        if points is not None:
            cv2.fillConvexPoly(hulls[i], cv2.convexHull(points), 1)
    return hulls


def _celeba_labels(celeba_images: Path, count: int, size: int) -> tuple[list[Path], torch.Tensor]:
    from PIL import Image

    mask_dir = celeba_images.parent / "masks"
    images = sorted(celeba_images.glob("*.jpg"))[:count]
    if len(images) < count:
        pytest.skip(f"need {count} CelebAMask-HQ images in {celeba_images}, found {len(images)}")
    maps = []
    for path in images:
        mask_path = mask_dir / f"{path.stem}.png"
        if not mask_path.is_file():
            pytest.skip(f"ground-truth mask not found at {mask_path}")
        maps.append(np.array(Image.open(mask_path)))  # palette PNG: the indices are the labels
    labels = torch.from_numpy(np.stack(maps)).long()
    return images, F.interpolate(labels[:, None].float(), size=(size, size), mode="nearest")[:, 0].long()


def test_occlusion_fraction_on_celebamask_ground_truth(celeba_images: Path) -> None:
    """Hull = filled convex outline of the GT face parts; the 5 crops (of the first 60) with the most
    GT hair inside it must read more occluded than the 5 with the least."""
    _, labels = _celeba_labels(celeba_images, 60, 256)
    hull = torch.from_numpy(_convex_hulls(region_mask(labels, FACE_PARTS)[:, 0].numpy()))[:, None].float()
    hair_share = ((labels == ID["hair"]) & (hull[:, 0] > 0.5)).flatten(1).sum(1) / hull.flatten(1).sum(1)
    order = hair_share.argsort()
    chosen = torch.cat([order[-5:], order[:5]])  # 10 maps: hair over the face, then the cleanest
    occ = occlusion_fraction(labels[chosen], hull[chosen])
    assert ((occ >= 0) & (occ <= 1)).all()
    assert (occ >= hair_share[chosen] - 1e-6).all()  # hair inside the hull always counts as occlusion
    hairy, clean = occ[:5], occ[5:]
    assert hair_share[order[-5:]].min() > 0.05, "the sample has no crop with hair over the face"
    assert hairy.min() > clean.median(), f"hair over the face {hairy.tolist()} vs clean {clean.tolist()}"


def test_boundary_colour_step_on_celebamask_faces(celeba_images: Path) -> None:
    """B against itself reads 0; a hard +30 red paste inside the skin reads ~30, a blended one far less."""
    cv2 = pytest.importorskip("cv2")
    paths, labels = _celeba_labels(celeba_images, 10, 256)
    rgb = np.stack([cv2.cvtColor(cv2.imread(str(p)), cv2.COLOR_BGR2RGB) for p in paths])
    b = torch.from_numpy(rgb).permute(0, 3, 1, 2).float() / 127.5 - 1
    b = F.interpolate(b, size=(256, 256), mode="area")
    skin = region_mask(labels, ("skin",))
    mask = erode_mask(region_mask(labels, FACE_PARTS), 12)  # a seam inside B's skin
    assert torch.equal(boundary_colour_step(b, b, mask), torch.zeros(10))
    assert torch.equal(boundary_colour_step(b, b, mask, skin), torch.zeros(10))
    cast = torch.tensor([30 / 127.5, 0.0, 0.0]).view(1, 3, 1, 1)
    pasted = torch.where(mask > 0.5, b + cast, b)
    step = boundary_colour_step(pasted, b, mask, skin)
    assert torch.allclose(step, torch.full((10,), 30.0), atol=1.5), step.tolist()
    blended = laplacian_pyramid_blend(b + cast, b, mask, levels=6)
    assert (boundary_colour_step(blended, b, mask, skin) < 15).all()
