"""The FaceShifter generator objective: the weighted sum of the per-sample, masked terms.

Kept outside the LightningModule so the masking semantics are unit-testable: a same-identity
sample gets reconstruction and no identity/attribute loss, a different-identity sample the
opposite, every sample the adversarial and cycle terms.
"""

from __future__ import annotations

from collections.abc import Mapping
from dataclasses import dataclass

from torch import Tensor, nn

from reliableswap.losses.adversarial import HingeAdversarialLoss
from reliableswap.losses.attribute import AttributeLoss
from reliableswap.losses.identity import IdentityLoss, split_embedding
from reliableswap.losses.masks import SwapLossMasks, masked_mean, merge_weights
from reliableswap.losses.pixel import CycleLoss, ReconstructionLoss

DEFAULT_WEIGHTS: dict[str, float] = {
    "adversarial": 1.0,
    "identity": 5.0,
    "attribute": 10.0,
    "reconstruction": 10.0,
    "cycle": 2.0,
    "cycle_vgg": 2.0,
    "fixer": 0.5,
}


@dataclass
class SwapForward:
    """Everything one generator pass produced that the losses need."""

    target: Tensor
    result: Tensor
    z_source: Tensor
    z_result: Tensor
    target_attrs: list[Tensor]
    result_attrs: list[Tensor]
    cycled: Tensor | None
    fake_outputs: list
    #: D(target) per-scale features, computed without gradient; only for losses that match
    #: discriminator features (``needs_real_outputs``, e.g. SimSwap's weak feature matching).
    real_outputs: list | None = None


class FaceShifterGeneratorLoss(nn.Module):
    """Returns a dict of the weighted scalar terms plus ``total`` (their sum).

    ``vgg`` is an optional perceptual loss module (``VGGFeatureLoss``) added to the cycle term;
    ``None`` disables that term (and it is then absent from the returned dict).
    """

    def __init__(self, weights: Mapping[str, float] | None = None, vgg: nn.Module | None = None) -> None:
        super().__init__()
        self.weights = merge_weights(DEFAULT_WEIGHTS, weights, "loss")
        self.adversarial = HingeAdversarialLoss()
        self.identity = IdentityLoss()
        self.attribute = AttributeLoss()
        self.reconstruction = ReconstructionLoss()
        self.cycle = CycleLoss()
        self.vgg = vgg

    # What the generator pass must compute (the module skips a pass whose terms all weigh 0).
    @property
    def needs_attributes(self) -> bool:
        return self.weights["attribute"] > 0

    @property
    def needs_cycle(self) -> bool:
        return self.weights["cycle"] > 0 or (self.vgg is not None and self.weights["cycle_vgg"] > 0)

    def forward(
        self, out: SwapForward, masks: SwapLossMasks, parts: Mapping[str, slice] | None = None
    ) -> dict[str, Tensor]:
        """``parts`` splits a combined embedding (ArcFace + FixerNet): the identity term scores the
        ``identity`` part (without one: the whole vector), a ``fixer`` part gets its own term; see
        :func:`~reliableswap.losses.identity.split_embedding` with ``fallback="all"``."""
        w = self.weights
        zero = out.result.new_zeros(())
        split = split_embedding(parts, out.z_source.shape[1], fallback="all")
        id_part = split.identity
        terms = {
            "adversarial": w["adversarial"] * self.adversarial.generator(out.fake_outputs),
            "identity": w["identity"]
            * masked_mean(self.identity(out.z_result[:, id_part], out.z_source[:, id_part].detach()), masks.identity),
            "attribute": w["attribute"] * masked_mean(self.attribute(out.result_attrs, out.target_attrs), masks.attribute)
            if out.result_attrs
            else zero,
            "reconstruction": w["reconstruction"]
            * masked_mean(self.reconstruction(out.result, out.target), masks.reconstruction),
            "cycle": w["cycle"] * masked_mean(self.cycle(out.cycled, out.target), masks.cycle)
            if out.cycled is not None
            else zero,
        }
        if split.fixer is not None:
            fx = split.fixer
            terms["fixer"] = w["fixer"] * masked_mean(
                self.identity(out.z_result[:, fx], out.z_source[:, fx].detach()), masks.identity
            )
        if self.vgg is not None and out.cycled is not None:
            terms["cycle_vgg"] = w["cycle_vgg"] * masked_mean(self.vgg(out.cycled, out.target), masks.cycle)
        terms["total"] = sum(terms.values())
        return terms
