"""Loss families, one module each; every loss returns per-sample values of shape (B,).

The generator objectives (``faceshifter``, ``simswap``; chosen by ``configs/loss/<name>.yaml:
generator_loss``) follow the contract of :mod:`reliableswap.losses.objective`: each runs the extra
passes it needs and returns its weighted terms. ``identity.split_embedding`` splits a combined
(ArcFace + FixerNet) embedding for all of them.
"""

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
