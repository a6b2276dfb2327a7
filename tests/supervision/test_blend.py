"""Multi-band blending: batching, limits, seam smoothness, range and dtype; the blend masks."""

from __future__ import annotations

import logging
import math
from pathlib import Path

import cv2
import numpy as np
import pytest
import torch
import torch.nn.functional as F

from reliableswap.data.parsing_dataset import read_label_map
from reliableswap.faces.color import linear_color_transfer
from reliableswap.faces.parsing.labels import ID, region_mask
from supervision.blend import (
    RECOMMENDED_REACH_FRACTION,
    _fill_from_support,
    blend_masks,
    dilate_mask,
    distance_to_mask,
    erode_mask,
    laplacian_pyramid_blend,
    leak_outside,
    max_pyramid_levels,
    reach_window,
)

log = logging.getLogger(__name__)


def _blob_masks(batch: int, size: int, seed: int = 0) -> torch.Tensor:
    g = torch.Generator().manual_seed(seed)
    yy, xx = torch.meshgrid(torch.arange(size), torch.arange(size), indexing="ij")
    masks = []
    for _ in range(batch):
        cy, cx = torch.randint(size // 4, 3 * size // 4, (2,), generator=g).tolist()
        r = int(torch.randint(size // 8, size // 3, (1,), generator=g))
        masks.append((((yy - cy) ** 2 + (xx - cx) ** 2) <= r * r).float())
    return torch.stack(masks).unsqueeze(1)


def _images(batch: int, size: int, seed: int) -> torch.Tensor:
    g = torch.Generator().manual_seed(seed)
    return torch.rand(batch, 3, size, size, generator=g) * 2 - 1


@pytest.mark.parametrize("working_size", [None, 128, 80])
def test_batch_equals_per_image(working_size):
    fg, bg, mask = _images(4, 64, 1), _images(4, 64, 2), _blob_masks(4, 64)
    batched = laplacian_pyramid_blend(fg, bg, mask, levels=10, working_size=working_size)
    for i in range(4):
        s = slice(i, i + 1)
        single = laplacian_pyramid_blend(fg[s], bg[s], mask[s], levels=10, working_size=working_size)
        torch.testing.assert_close(batched[s], single, atol=1e-5, rtol=0)


def _opencv_reference(fg: np.ndarray, bg: np.ndarray, mask: np.ndarray, levels: int) -> np.ndarray:
    """Textbook per-image blend with cv2.pyrDown/pyrUp (HWC float32)."""
    ga, gb, gm = [fg], [bg], [mask]
    for _ in range(levels - 1):
        ga.append(cv2.pyrDown(ga[-1]))
        gb.append(cv2.pyrDown(gb[-1]))
        gm.append(cv2.pyrDown(gm[-1]))
    out = ga[-1] * gm[-1][..., None] + gb[-1] * (1 - gm[-1][..., None])
    for i in range(levels - 2, -1, -1):
        h, w = ga[i].shape[:2]
        lap_a = ga[i] - cv2.pyrUp(ga[i + 1], dstsize=(w, h))
        lap_b = gb[i] - cv2.pyrUp(gb[i + 1], dstsize=(w, h))
        m = gm[i][..., None]
        out = cv2.pyrUp(out, dstsize=(w, h)) + lap_a * m + lap_b * (1 - m)
    return out


def test_batch_matches_per_image_opencv_reference():
    # Replicate (ours) and reflect-101 (cv2) borders differ slightly where the coarse mask levels
    # reach the image border; away from it the two agree to float precision.
    size, levels = 96, 4
    fg, bg = _images(3, size, 11) * 0.9, _images(3, size, 12) * 0.9
    mask = torch.zeros(3, 1, size, size)
    mask[0, :, 20:70, 25:60] = 1
    mask[1, :, 30:50, 30:80] = 1
    mask[2, :, 20:76, 20:76] = _blob_masks(1, 56)[0]
    out = laplacian_pyramid_blend(fg, bg, mask, levels=levels, working_size=None)
    for i in range(3):
        hwc = lambda t: np.ascontiguousarray(t[i].permute(1, 2, 0).numpy())  # noqa: E731
        ref = _opencv_reference(hwc(fg), hwc(bg), mask[i, 0].numpy(), levels)
        ref = np.clip(ref, -1, 1)
        np.testing.assert_allclose(hwc(out)[24:-24, 24:-24], ref[24:-24, 24:-24], atol=1e-5)
        np.testing.assert_allclose(hwc(out), ref, atol=1e-3)


@pytest.mark.parametrize("working_size", [None, 128])
def test_all_ones_gives_foreground_all_zeros_gives_background(working_size):
    fg, bg = _images(2, 64, 3), _images(2, 64, 4)
    ones, zeros = torch.ones(2, 1, 64, 64), torch.zeros(2, 1, 64, 64)
    torch.testing.assert_close(laplacian_pyramid_blend(fg, bg, ones, working_size=working_size), fg, atol=1e-5, rtol=0)
    assert torch.equal(laplacian_pyramid_blend(fg, bg, zeros, working_size=working_size), bg)


def test_non_integer_working_size_is_close_for_smooth_images():
    yy, xx = torch.meshgrid(torch.linspace(-0.8, 0.8, 48), torch.linspace(-0.8, 0.8, 48), indexing="ij")
    fg = torch.stack([xx, yy, xx * yy]).unsqueeze(0)
    bg = -fg
    out = laplacian_pyramid_blend(fg, bg, torch.ones(1, 1, 48, 48), working_size=64)
    assert (out - fg).abs().max() < 0.05


def _transition_width(levels: int) -> int:
    size = 128
    fg, bg = torch.full((1, 3, size, size), 0.8), torch.full((1, 3, size, size), -0.8)
    mask = torch.zeros(1, 1, size, size)
    mask[..., size // 2 :] = 1.0
    row = laplacian_pyramid_blend(fg, bg, mask, levels=levels, working_size=None)[0, 0, size // 2]
    assert torch.all(row[1:] >= row[:-1] - 1e-5), "the seam profile must be monotonic (no ringing)"
    inside = (row > -0.8 + 0.05 * 1.6) & (row < 0.8 - 0.05 * 1.6)
    return int(inside.sum())


def test_hard_step_mask_gives_a_seam_that_widens_with_levels():
    widths = [_transition_width(levels) for levels in (1, 2, 4, 6)]
    assert widths[0] == 0  # one level = hard paste
    assert widths[1] < widths[2] < widths[3], widths


def test_levels_are_capped_by_working_size():
    assert max_pyramid_levels(512, 512) == 10
    assert max_pyramid_levels(256, 256) == 9
    fg, bg, mask = _images(1, 32, 5), _images(1, 32, 6), _blob_masks(1, 32)
    capped = laplacian_pyramid_blend(fg, bg, mask, levels=6, working_size=None)
    assert torch.equal(laplacian_pyramid_blend(fg, bg, mask, levels=50, working_size=None), capped)


def test_output_clamped_and_dtype_preserved():
    size = 64
    checker = ((torch.arange(size).view(-1, 1) // 4 + torch.arange(size) // 4) % 2).float() * 2 - 1
    fg = checker.expand(1, 3, size, size).double()
    bg = torch.full_like(fg, -1.0)
    mask = _blob_masks(1, size).double()
    out = laplacian_pyramid_blend(fg, bg, mask, levels=8, working_size=None)
    assert out.dtype == torch.float64 and out.shape == fg.shape
    assert out.min() >= -1.0 and out.max() <= 1.0


@pytest.mark.skipif(not torch.cuda.is_available(), reason="needs a CUDA device")
def test_runs_on_gpu_like_cpu():
    fg, bg, mask = _images(2, 64, 7), _images(2, 64, 8), _blob_masks(2, 64)
    cpu = laplacian_pyramid_blend(fg, bg, mask, working_size=128)
    gpu = laplacian_pyramid_blend(fg.cuda(), bg.cuda(), mask.cuda(), working_size=128)
    assert gpu.device.type == "cuda"
    torch.testing.assert_close(gpu.cpu(), cpu, atol=1e-4, rtol=0)


def _labels(size: int = 32) -> tuple[torch.Tensor, torch.Tensor]:
    a = torch.zeros(1, size, size, dtype=torch.long)
    a[:, 8:28, 8:24] = ID["skin"]
    a[:, 14:16, 11:14] = ID["l_eye"]
    a[:, 22:24, 13:19] = ID["u_lip"]
    a[:, 14:20, 5:8] = ID["l_ear"]
    a[:, 2:8, 6:26] = ID["hair"]
    b = torch.zeros_like(a)
    b[:, 10:30, 6:26] = ID["skin"]
    b[:, 0:12, 4:28] = ID["hair"]  # B's fringe covers the top of A's face
    return a, b


def test_blend_mask_is_inner_face_of_a_minus_hair_of_b():
    a, b = _labels()
    mask = blend_masks(a, b)
    assert mask.shape == (1, 1, 32, 32) and mask.dtype == torch.float32
    assert mask[0, 0, 14, 12] == 1  # A's eye
    assert mask[0, 0, 22, 15] == 1  # A's lip
    assert mask[0, 0, 16, 6] == 0  # A's ear is not moved
    assert mask[0, 0, 4, 15] == 0  # A's hair is not moved
    assert mask[0, 0, 10, 15] == 0  # B's hair wins over A's skin
    assert mask[0, 0, 26, 9] == 1  # A's skin outside B's hair
    assert mask.sum() == ((a[0] > 0) & (a[0] != ID["l_ear"]) & (a[0] != ID["hair"]) & (b[0] != ID["hair"])).sum()


def test_blend_mask_erode_feather_and_valid():
    a, b = _labels()
    base = blend_masks(a, b)
    eroded = blend_masks(a, b, erode_px=2)
    assert eroded.sum() < base.sum() and torch.all(eroded <= base)
    feathered = blend_masks(a, b, feather_px=3)
    assert ((feathered > 0) & (feathered < 1)).any() and feathered.max() <= 1
    valid = torch.zeros(1, 1, 32, 32)
    valid[..., 20:] = 1
    assert blend_masks(a, b, valid_a=valid)[..., :20].sum() == 0


def test_dilate_and_erode_grow_and_shrink_by_radius():
    mask = torch.zeros(1, 1, 41, 41)
    mask[..., 20, 20] = 1
    grown = dilate_mask(mask, 4)
    assert grown[0, 0, 20].sum() == 9 and grown[0, 0, :, 20].sum() == 9  # radius 4 each way
    assert grown[0, 0, 16, 16] == 0  # octagon, not a square: the corner is cut
    assert torch.equal(erode_mask(grown, 4), mask)


# --------------------------------------------------------------------------------------------
# Bounded reach (the haze fix) and the leak metric
# --------------------------------------------------------------------------------------------


def test_distance_to_mask_is_exact_euclidean_up_to_max_px():
    g = torch.Generator().manual_seed(3)
    region = torch.rand(3, 1, 37, 45, generator=g) > 0.993
    region[2] = False  # empty region: everything infinitely far
    d = distance_to_mask(region, 9.5)
    yy, xx = torch.meshgrid(torch.arange(37.0), torch.arange(45.0), indexing="ij")
    for i in range(2):
        pts = region[i, 0].nonzero().float()
        brute = ((yy[..., None] - pts[:, 0]) ** 2 + (xx[..., None] - pts[:, 1]) ** 2).sqrt().amin(-1)
        near = brute <= 9.5
        assert torch.equal(d[i, 0][near], brute[near])
        assert torch.all(d[i, 0][~near] > 9.5)
    assert torch.all(d[2] == float("inf"))


def test_reach_window_is_one_on_the_region_smooth_and_zero_beyond_reach():
    region = torch.zeros(1, 1, 64, 64, dtype=torch.bool)
    region[..., 20:40, 24:30] = True
    reach = 10.0
    w = reach_window(region, reach)
    d = distance_to_mask(region, reach)
    assert torch.all(w[region] == 1) and torch.all(w[d >= reach] == 0)
    assert torch.all((w > 0) == (d < reach))
    row = w[0, 0, 30]  # going right from the region: non-increasing, steps bounded by the slope
    assert torch.all(row[30:] <= row[29:-1])
    steps = torch.cat([(w[..., 1:] - w[..., :-1]).abs().flatten(), (w[..., 1:, :] - w[..., :-1, :]).abs().flatten()])
    assert steps.max() <= math.pi / (2 * reach) + 1e-6  # |dw/dd| <= pi / (2 reach), |dd| <= 1 px


@pytest.mark.parametrize(("working_size", "dtype"), [(None, torch.float32), (128, torch.float32), (80, torch.float32),
                                                     (128, torch.float16)])
def test_reach_gives_exactly_the_background_beyond_reach(working_size, dtype):
    fg, bg = _images(3, 64, 21).to(dtype), _images(3, 64, 22).to(dtype)
    mask = _blob_masks(3, 64, seed=4)
    mask[1] = blend_masks(torch.zeros(1, 64, 64, dtype=torch.long), torch.zeros(1, 64, 64, dtype=torch.long))[0]
    mask[2] = mask[2] * 0.5  # soft mask: the support (> 0) is what counts
    reach = 6.0  # px of S = 64, also when blending at 128 or 80
    out = laplacian_pyramid_blend(fg, bg, mask, levels=10, working_size=working_size, reach_px=reach)
    assert out.dtype == dtype and out.shape == bg.shape
    far = (distance_to_mask(mask > 0, reach) > reach).expand_as(bg)
    assert torch.equal(out[far], bg[far])
    assert torch.equal(out[1], bg[1])  # empty mask: nothing changes
    legacy = laplacian_pyramid_blend(fg, bg, mask, levels=10, working_size=working_size)
    assert not torch.equal(legacy[far], bg[far])  # the unbounded blend does change them (haze)


def test_reach_never_propagates_the_foreground_outside_the_mask():
    fg, bg, mask = _images(2, 64, 31), _images(2, 64, 32), _blob_masks(2, 64, seed=5)
    other = torch.where(mask > 0, fg, _images(2, 64, 33))  # A''s hair/background changed

    def blend(f: torch.Tensor, **kw) -> torch.Tensor:
        return laplacian_pyramid_blend(f, bg, mask, levels=10, working_size=128, **kw)

    assert torch.equal(blend(fg, reach_px=8.0), blend(other, reach_px=8.0))
    assert not torch.equal(blend(fg), blend(other))  # it does without reach_px


def test_fill_from_support_keeps_the_support_and_extrapolates_only_from_it():
    g = torch.Generator().manual_seed(9)
    values = torch.randn(2, 3, 48, 48, generator=g)
    support = (_blob_masks(2, 48, seed=7) > 0).float()
    support[1] = 0  # empty support: zeros, not NaN
    filled = _fill_from_support(values, support)
    on = (support > 0).expand_as(values)
    torch.testing.assert_close(filled[on], values[on], atol=1e-6, rtol=0)
    assert torch.equal(filled[1], torch.zeros_like(filled[1]))
    assert torch.equal(_fill_from_support(torch.where(on, values, 7.0), support), filled)
    constant = _fill_from_support(torch.full_like(values, 0.3), support)[0]
    torch.testing.assert_close(constant, torch.full_like(constant, 0.3))  # a constant continues as itself
    lo, hi = values[0][on[0]].min(), values[0][on[0]].max()
    assert filled[0].min() >= lo - 1e-6 and filled[0].max() <= hi + 1e-6  # convex: no overshoot


def test_reach_does_not_change_the_blend_on_the_mask():
    fg, bg, mask = _images(2, 64, 41), _images(2, 64, 42), _blob_masks(2, 64, seed=6)
    out = laplacian_pyramid_blend(fg, bg, mask, levels=10, working_size=128, reach_px=8.0)
    # The unbounded blend of the same (refilled) difference: equal on the support, the window is 1.
    support = (mask > 0).float()
    unbounded = laplacian_pyramid_blend(bg + _fill_from_support(fg - bg, support), bg, mask, levels=10, working_size=128)
    on = (mask > 0).expand_as(bg)
    torch.testing.assert_close(out[on], unbounded[on], atol=1e-5, rtol=0)


def test_reach_seam_stays_monotonic_and_adds_no_edge():
    size = 128
    fg, bg = torch.full((1, 3, size, size), 0.8), torch.full((1, 3, size, size), -0.8)
    mask = torch.zeros(1, 1, size, size)
    mask[..., size // 2 :] = 1.0
    for reach in (4.0, 16.0):
        row = laplacian_pyramid_blend(fg, bg, mask, levels=6, working_size=None, reach_px=reach)[0, 0, size // 2]
        assert torch.all(row[1:] >= row[:-1] - 1e-5), "monotonic seam profile (no ringing)"
        assert torch.all(row[: size // 2 - int(reach)] == -0.8) and row[size // 2 - 1] > -0.8
    # The window steepens the fall-off at most by its own slope, pi / (2 reach) per px of the
    # (unbounded) difference it scales: a bounded gradient, never a jump.
    unbounded = laplacian_pyramid_blend(fg, bg, mask, levels=6, working_size=None)[0, 0, size // 2]
    bounded = laplacian_pyramid_blend(fg, bg, mask, levels=6, working_size=None, reach_px=16.0)[0, 0, size // 2]
    bound = (unbounded[1:] - unbounded[:-1]).max() + math.pi / (2 * 16.0) * (unbounded + 0.8).max()
    assert (bounded[1:] - bounded[:-1]).max() <= bound + 1e-6


def test_reach_must_be_positive():
    fg, bg, mask = _images(1, 16, 1), _images(1, 16, 2), _blob_masks(1, 16)
    for bad in (0.0, -3.0):
        with pytest.raises(ValueError, match="reach_px"):
            laplacian_pyramid_blend(fg, bg, mask, reach_px=bad)


def test_leak_outside_known_values_and_empty_region():
    bg = torch.zeros(2, 3, 20, 50)
    result = bg.clone()
    result[:, 0, :, 30:] = 0.3  # one channel of three changed, columns 30..49
    mask = torch.zeros(2, 1, 20, 50)
    mask[..., :10] = 0.9  # columns 0..9: distance of column c is c - 9
    leak = leak_outside(result, bg, mask, 5.0)  # counts columns 15..49
    assert leak.shape == (2,)
    torch.testing.assert_close(leak, torch.full((2,), 0.3 / 3 * 20 / 35))
    empty = leak_outside(result, bg, mask, 100.0)  # nothing is that far: 0, not NaN
    assert torch.equal(empty, torch.zeros(2))
    mask[1] = 0.4  # below 0.5: no region, every pixel is far
    torch.testing.assert_close(leak_outside(result, bg, mask, 5.0)[1], torch.tensor(0.3 / 3 * 20 / 50))


def _celeba_pairs(celeba_images: Path, count: int, size: int) -> tuple[torch.Tensor, torch.Tensor]:
    """``count + 1`` labelled faces at ``size``: images (N, 3, S, S) in [-1, 1] and labels (N, S, S)."""
    mask_dir = celeba_images.parent / "masks"
    paths = [p for p in sorted(celeba_images.glob("*.jpg")) if (mask_dir / f"{p.stem}.png").is_file()][: count + 1]
    if len(paths) < count + 1:
        pytest.skip(f"need {count + 1} labelled CelebAMask-HQ images in {celeba_images}, found {len(paths)}")
    images = torch.stack([torch.from_numpy(cv2.cvtColor(cv2.imread(str(p)), cv2.COLOR_BGR2RGB)) for p in paths])
    images = images.permute(0, 3, 1, 2).float() / 127.5 - 1
    images = F.interpolate(images, size=(size, size), mode="bilinear", align_corners=False, antialias=True)
    labels = torch.stack([torch.from_numpy(read_label_map(mask_dir / f"{p.stem}.png").astype(np.int64)) for p in paths])
    labels = F.interpolate(labels[:, None].float(), size=(size, size), mode="nearest")[:, 0].long()
    return images.clamp(-1, 1), labels


def _seam_gradient(result: torch.Tensor, background: torch.Tensor, mask: torch.Tensor) -> torch.Tensor:
    """Mean gradient (per px) of the 5x5-box low-passed ``result - background`` within 3 px of the mask edge.

    A blend whose *low* frequencies switch over a few pixels (a hard seam) scores high here; the
    multi-band blend's wide low-frequency transition scores low.
    """
    inside = mask > 0.5
    near = ((distance_to_mask(inside, 3) <= 3) & ~inside) | ((distance_to_mask(~inside, 3) <= 3) & inside)
    low = F.avg_pool2d((result - background).mean(1, keepdim=True), 5, 1, 2, count_include_pad=False)
    gx = F.pad((low[..., 1:] - low[..., :-1]).abs(), (0, 1))
    gy = F.pad((low[..., 1:, :] - low[..., :-1, :]).abs(), (0, 0, 0, 1))
    return torch.maximum(gx, gy)[near].mean()


def test_reach_removes_the_haze_on_real_faces_and_still_transfers_the_face(celeba_images: Path):
    """A = face i + 1 pasted into B = face i (20 pairs), mask = A's ground-truth face eroded 3 px.

    Measured (20 pairs at 256, working size 512, 10 levels; means): leak at 24 px 0.069 unbounded
    -> 0 with reach 16; leak at 8 px 0.083 -> 0.0016; |result - B| on the mask 0.39 unbounded,
    0.29 bounded (|A - B| = 0.41); seam gradient 0.032 / 0.031. With A colour-matched to B first
    (as the pipeline does), |result - A'| on the mask 0.24 unbounded -> 0.13 bounded: the haze
    also pulled the face itself away from A'.
    """
    size = 256
    images, labels = _celeba_pairs(celeba_images, 20, size)
    fg, bg = images[1:], images[:-1]
    face = ("skin", "nose", "l_eye", "r_eye", "l_brow", "r_brow", "u_lip", "l_lip", "mouth")
    mask = erode_mask(region_mask(labels[1:], face), 3)
    reach = RECOMMENDED_REACH_FRACTION * size
    assert reach == 16.0

    def blend(f: torch.Tensor, **kw) -> torch.Tensor:
        return laplacian_pyramid_blend(f, bg, mask, levels=10, working_size=512, **kw)

    legacy, bounded = blend(fg), blend(fg, reach_px=reach)
    matched = linear_color_transfer(fg, bg, region_mask(labels[1:], face), region_mask(labels[:-1], face))
    legacy_matched, bounded_matched = blend(matched), blend(matched, reach_px=reach)

    inside = mask > 0.5

    def mean_inside(x: torch.Tensor) -> torch.Tensor:
        return (x.abs().mean(1, keepdim=True) * inside).sum(dim=(1, 2, 3)) / inside.sum(dim=(1, 2, 3))

    numbers = {
        "leak24_legacy": leak_outside(legacy, bg, mask, 24.0), "leak24_reach16": leak_outside(bounded, bg, mask, 24.0),
        "leak8_legacy": leak_outside(legacy, bg, mask, 8.0), "leak8_reach16": leak_outside(bounded, bg, mask, 8.0),
        "in_vs_B_legacy": mean_inside(legacy - bg), "in_vs_B_reach16": mean_inside(bounded - bg),
        "A_vs_B": mean_inside(fg - bg),
        "seam_legacy": _seam_gradient(legacy, bg, mask), "seam_reach16": _seam_gradient(bounded, bg, mask),
        "matched_in_vs_A_legacy": mean_inside(legacy_matched - matched),
        "matched_in_vs_A_reach16": mean_inside(bounded_matched - matched),
        "matched_leak24_legacy": leak_outside(legacy_matched, bg, mask, 24.0),
    }
    log.info("real-face haze, 20 pairs at %d (means): %s", size,
             " ".join(f"{k}={float(v.mean()):.4f}" for k, v in numbers.items()))
    assert numbers["leak24_legacy"].mean() > 0.03  # the haze is real (~9 grey levels) ...
    assert numbers["matched_leak24_legacy"].mean() > 0.03  # ... also after colour matching
    assert torch.all(numbers["leak24_reach16"] == 0)  # and gone
    assert numbers["leak8_reach16"].mean() < 0.005
    assert numbers["seam_reach16"] < 1.1 * numbers["seam_legacy"]  # no harder seam
    # The face still transfers: far from B, and (colour-matched, as in the pipeline) closer to A'.
    assert numbers["in_vs_B_reach16"].mean() > 0.6 * numbers["A_vs_B"].mean()
    assert numbers["matched_in_vs_A_reach16"].mean() < 0.7 * numbers["matched_in_vs_A_legacy"].mean()


@pytest.mark.skipif(not torch.cuda.is_available(), reason="needs a CUDA device")
def test_reach_and_leak_run_on_gpu_like_cpu():
    fg, bg, mask = _images(2, 64, 51), _images(2, 64, 52), _blob_masks(2, 64, seed=8)
    cpu = laplacian_pyramid_blend(fg, bg, mask, working_size=128, reach_px=6.0)
    gpu = laplacian_pyramid_blend(fg.cuda(), bg.cuda(), mask.cuda(), working_size=128, reach_px=6.0)
    assert gpu.device.type == "cuda"
    torch.testing.assert_close(gpu.cpu(), cpu, atol=1e-4, rtol=0)
    far = (distance_to_mask(mask > 0, 6.0) > 6.0).expand_as(bg)
    assert torch.equal(gpu.cpu()[far], bg[far])
    torch.testing.assert_close(leak_outside(gpu, bg.cuda(), mask.cuda(), 3.0).cpu(), leak_outside(cpu, bg, mask, 3.0))
