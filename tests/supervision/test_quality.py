"""Pixel-level rejection checks: near copies of the target and collapsed images."""

from __future__ import annotations

import torch

from supervision.quality import image_collapsed, is_near_copy, masked_mean_abs_diff


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
