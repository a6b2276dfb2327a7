"""Loss families, one module each; every loss returns per-sample values of shape (B,)."""

from reliableswap.losses.adversarial import HingeAdversarialLoss
from reliableswap.losses.attribute import AttributeLoss
from reliableswap.losses.identity import IdentityLoss
from reliableswap.losses.masks import SwapLossMasks, masked_mean
from reliableswap.losses.pixel import CycleLoss, ReconstructionLoss, per_sample_l1

__all__ = [
    "AttributeLoss",
    "CycleLoss",
    "HingeAdversarialLoss",
    "IdentityLoss",
    "ReconstructionLoss",
    "SwapLossMasks",
    "masked_mean",
    "per_sample_l1",
]
