"""Per-sample loss masks, built fresh from the batch and never mutated.

The original code edited mask tensors in place, so a triplet step silently dropped the
same-pair reconstruction loss. Here every mask is a new 1-D bool tensor of shape (B,), derived
from the batch's ``same`` flags, and :func:`masked_mean` refuses anything but matching (B,)
shapes, which rules out the (B,) x (B, 1) -> (B, B) broadcast bug as well.
"""

from __future__ import annotations

from collections.abc import Mapping
from dataclasses import dataclass

import torch
from torch import Tensor


@dataclass(frozen=True)
class SwapLossMasks:
    """Which vanilla loss terms apply to which sample.

    - different-identity pairs: identity and attribute losses (no pixel ground truth);
    - same-identity pairs: pixel reconstruction to the target;
    - every sample: adversarial and cycle terms.
    """

    identity: Tensor
    attribute: Tensor
    reconstruction: Tensor
    cycle: Tensor

    @classmethod
    def from_same_flags(cls, same: Tensor) -> SwapLossMasks:
        if same.dim() != 1:
            raise ValueError(f"'same' flags must have shape (B,), got {tuple(same.shape)}")
        same = same.to(torch.bool)
        different = ~same
        return cls(
            identity=different.clone(),
            attribute=different.clone(),
            reconstruction=same.clone(),
            cycle=torch.ones_like(same),
        )


def masked_mean(per_sample: Tensor, mask: Tensor) -> Tensor:
    """Mean of ``per_sample`` over the samples where ``mask`` is true (0 when none is).

    Both arguments must be 1-D of the same length; the result keeps the autograd graph even when
    the mask is empty, so a loss term can always be added and backpropagated.
    """
    if per_sample.dim() != 1 or mask.shape != per_sample.shape:
        raise ValueError(
            f"masked_mean needs per-sample values and a mask of equal shape (B,), "
            f"got {tuple(per_sample.shape)} and {tuple(mask.shape)}"
        )
    weights = mask.to(per_sample.dtype)
    return (per_sample * weights).sum() / weights.sum().clamp_min(1.0)


def merge_weights(defaults: Mapping[str, float], given: Mapping[str, float] | None, what: str = "loss") -> dict[str, float]:
    """``defaults`` updated by ``given``; an unknown name is an error (a typo must not silently
    leave a term at its default weight)."""
    unknown = set(given or {}) - set(defaults)
    if unknown:
        raise ValueError(f"unknown {what} weight(s) {sorted(unknown)}; known: {sorted(defaults)}")
    return {**defaults, **{k: float(v) for k, v in (given or {}).items()}}
