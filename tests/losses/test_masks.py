"""Mask semantics and the shape discipline of masked means."""

from __future__ import annotations

import pytest
import torch

from reliableswap.losses import SwapLossMasks, masked_mean


def test_masks_follow_same_flags_and_do_not_alias_the_batch():
    same = torch.tensor([True, False, False, True])
    masks = SwapLossMasks.from_same_flags(same)
    assert masks.reconstruction.tolist() == [True, False, False, True]
    assert masks.identity.tolist() == [False, True, True, False]
    assert masks.attribute.tolist() == [False, True, True, False]
    assert masks.cycle.tolist() == [True] * 4
    masks.identity[0] = True  # editing one mask must touch neither the batch nor another mask
    assert same.tolist() == [True, False, False, True]
    assert masks.attribute.tolist() == [False, True, True, False]


def test_masked_mean_is_the_mean_over_selected_samples():
    values = torch.tensor([1.0, 2.0, 3.0, 10.0])
    assert masked_mean(values, torch.tensor([True, True, False, False])).item() == pytest.approx(1.5)
    assert masked_mean(values, torch.tensor([False, False, False, True])).item() == pytest.approx(10.0)


def test_masked_mean_of_empty_mask_is_zero_and_differentiable():
    values = torch.tensor([1.0, 2.0], requires_grad=True)
    loss = masked_mean(values, torch.zeros(2, dtype=torch.bool))
    loss.backward()
    assert loss.item() == 0.0
    assert values.grad is not None and torch.all(values.grad == 0)


def test_masked_mean_rejects_the_broadcasting_bug():
    """(B,) values times a (B, 1) mask would silently broadcast to (B, B) in the original code."""
    with pytest.raises(ValueError, match="equal shape"):
        masked_mean(torch.ones(4), torch.ones(4, 1, dtype=torch.bool))
    with pytest.raises(ValueError, match="shape"):
        SwapLossMasks.from_same_flags(torch.ones(4, 1, dtype=torch.bool))
