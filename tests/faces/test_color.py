"""Linear colour transfer matches masked mean and covariance, batched, and degrades gracefully."""

from __future__ import annotations

import pytest
import torch

from reliableswap.faces.color import linear_color_transfer, masked_mean_cov



def _pair(seed: int = 0, batch: int = 3):
    g = torch.Generator().manual_seed(seed)
    source = torch.rand(batch, 3, 48, 48, generator=g) * 0.8 - 0.5
    target = torch.rand(batch, 3, 40, 40, generator=g) * 0.5 + 0.1
    target[:, 2] = 0.6 * target[:, 0] + 0.2 * target[:, 2] - 0.3  # correlated channels
    mask_s = torch.zeros(batch, 1, 48, 48)
    mask_s[..., 8:40, 10:36] = 1
    mask_t = torch.zeros(batch, 1, 40, 40)
    mask_t[..., 5:30, 4:38] = 1
    return source, target, mask_s, mask_t


@pytest.mark.parametrize("mode", ["mkl", "cholesky"])
def test_masked_statistics_match_the_target(mode):
    source, target, mask_s, mask_t = _pair()
    result = linear_color_transfer(source, target, mask_s, mask_t, mode=mode)
    mean_r, cov_r, _ = masked_mean_cov(result, mask_s)
    mean_t, cov_t, _ = masked_mean_cov(target, mask_t)
    mean_s, cov_s, _ = masked_mean_cov(source, mask_s)
    assert (mean_s - mean_t).abs().max() > 0.1 and (cov_s - cov_t).abs().max() > 0.01  # not trivially equal
    torch.testing.assert_close(mean_r, mean_t, atol=1e-5, rtol=0)
    torch.testing.assert_close(cov_r, cov_t, atol=5e-5, rtol=0)


def test_identity_when_source_equals_target():
    source, _, mask_s, _ = _pair(1)
    torch.testing.assert_close(linear_color_transfer(source, source, mask_s, mask_s), source, atol=1e-5, rtol=0)


def test_batch_equals_per_image():
    source, target, mask_s, mask_t = _pair(2)
    batched = linear_color_transfer(source, target, mask_s, mask_t)
    for i in range(source.shape[0]):
        s = slice(i, i + 1)
        single = linear_color_transfer(source[s], target[s], mask_s[s], mask_t[s])
        torch.testing.assert_close(batched[s], single, atol=1e-6, rtol=0)


def test_flat_source_region_is_finite_and_takes_the_target_mean():
    _, target, mask_s, mask_t = _pair(3, batch=1)
    source = torch.full((1, 3, 48, 48), 0.2)
    result = linear_color_transfer(source, target, mask_s, mask_t)
    assert torch.isfinite(result).all()
    mean_result, mean_target = masked_mean_cov(result, mask_s)[0], masked_mean_cov(target, mask_t)[0]
    torch.testing.assert_close(mean_result, mean_target, atol=1e-5, rtol=0)


def test_empty_mask_leaves_image_unchanged_and_composite_keeps_outside():
    source, target, mask_s, mask_t = _pair(4, batch=2)
    mask_s = mask_s.clone()
    mask_s[1] = 0
    result = linear_color_transfer(source, target, mask_s, mask_t, composite=True, clamp=False)
    assert torch.equal(result[1], source[1])
    outside = mask_s[0:1].expand(1, 3, -1, -1) == 0
    assert torch.equal(result[0:1][outside], source[0:1][outside])
    assert not torch.allclose(result[0], source[0])


def test_clamped_to_image_range():
    source, target, mask_s, mask_t = _pair(5)
    result = linear_color_transfer(source, target * 3.0, mask_s, mask_t)
    assert result.min() >= -1 and result.max() <= 1 and result.dtype == source.dtype
