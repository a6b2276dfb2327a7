"""Triplet (reliable supervision) losses: the result must match the triplet's reference image.

Per sample, for the enabled type codes only (default 2-5; 0/1 vanilla samples get none):

- pixel L1 to the reference (spec weight 0.05·10 = 0.5);
- VGG feature L1 to the reference, *with* gradient through the result (the original code
  detached it, which silently removed the term) (0.5·10 = 5);
- identity ``1 - cos(E(result), E(reference))`` on the identity part of the embedding (10);
- FixerNet ``1 - cos`` on the ``fixer`` part, when the identity encoder has one (1).
"""

from __future__ import annotations

from collections.abc import Mapping, Sequence

import torch
from torch import Tensor, nn

from reliableswap.losses.identity import IdentityLoss, split_embedding
from reliableswap.losses.masks import masked_mean, merge_weights
from reliableswap.losses.pixel import per_sample_l1

TRIPLET_CODES = (2, 3, 4, 5)
DEFAULT_TRIPLET_WEIGHTS: dict[str, float] = {"pixel": 0.5, "vgg": 5.0, "identity": 10.0, "fixer": 1.0}


def triplet_mask(type_codes: Tensor, enabled: Sequence[int] = TRIPLET_CODES) -> Tensor:
    """(B,) bool: which samples carry a triplet reference (a new tensor; inputs untouched)."""
    if type_codes.dim() != 1:
        raise ValueError(f"type codes must have shape (B,), got {tuple(type_codes.shape)}")
    return torch.isin(type_codes, torch.tensor(list(enabled), device=type_codes.device))


class TripletLoss(nn.Module):
    """``forward(result, reference, z_result, z_reference, type_codes) -> dict of weighted terms``.

    ``parts`` maps embedding parts to slices (``{"identity": slice(0, 512), "fixer": slice(512, 640)}``);
    without it the whole embedding is the identity part and there is no FixerNet term (the split
    of :func:`~reliableswap.losses.identity.split_embedding` with ``fallback="all"``, as in the
    FaceShifter loss).
    ``vgg`` is an optional perceptual module; without it the VGG term is absent (not zero).
    """

    def __init__(
        self,
        weights: Mapping[str, float] | None = None,
        codes: Sequence[int] = TRIPLET_CODES,
        vgg: nn.Module | None = None,
    ) -> None:
        super().__init__()
        self.weights = merge_weights(DEFAULT_TRIPLET_WEIGHTS, weights, "triplet loss")
        self.codes = tuple(int(c) for c in codes)
        self.identity = IdentityLoss()
        self.vgg = vgg

    def forward(
        self,
        result: Tensor,
        reference: Tensor,
        z_result: Tensor,
        z_reference: Tensor,
        type_codes: Tensor,
        parts: Mapping[str, slice] | None = None,
    ) -> dict[str, Tensor]:
        w = self.weights
        mask = triplet_mask(type_codes, self.codes)
        split = split_embedding(parts, z_result.shape[1], fallback="all")
        id_part = split.identity
        terms = {
            "pixel": w["pixel"] * masked_mean(per_sample_l1(result, reference), mask),
            "identity": w["identity"]
            * masked_mean(self.identity(z_result[:, id_part], z_reference[:, id_part].detach()), mask),
        }
        if self.vgg is not None:
            terms["vgg"] = w["vgg"] * masked_mean(self.vgg(result, reference), mask)
        if split.fixer is not None:
            fx = split.fixer
            terms["fixer"] = w["fixer"] * masked_mean(self.identity(z_result[:, fx], z_reference[:, fx].detach()), mask)
        terms["total"] = sum(terms.values())
        return terms
