"""Multi-band blending: batching, limits, seam smoothness, range and dtype; the blend masks."""

from __future__ import annotations

import cv2
import numpy as np
import pytest
import torch

from reliableswap.faces.parsing.labels import ID
from supervision.blend import blend_masks, dilate_mask, erode_mask, laplacian_pyramid_blend, max_pyramid_levels



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
