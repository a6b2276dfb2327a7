"""The FaceShifter generator objective: the weighted sum of the per-sample, masked terms.

Kept outside the LightningModule so the masking semantics are unit-testable: a same-identity
sample gets reconstruction and no identity/attribute loss, a different-identity sample the
opposite, every sample the adversarial and cycle terms. Configured as ``loss=faceshifter``
(``configs/loss/faceshifter.yaml``, ``loss=faceshifter_vgg`` adds the VGG cycle term) and driven
through the contract of ``reliableswap.losses.objective``: :meth:`FaceShifterGeneratorLoss.extra_passes`
runs the attribute pass over the result and the cycle pass ``G(result, E(target))``, each only
when one of its terms weighs more than 0.
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
from reliableswap.models.contract import SwapForward, SwapNetworks

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
class FaceShifterPasses:
    """The FaceShifter objective's passes beyond the main one (``SwapForward.extra``).

    ``result_attrs``: the attribute encoder's multi-level features of the result (empty when the
    attribute term weighs 0); ``cycled``: ``G(result.detach(), E(target))``, the target's own
    identity put back (``None`` when the cycle terms weigh 0). The target's attributes are the
    generator's side output of the main pass, ``SwapForward.aux``.
    """

    result_attrs: list[Tensor]
    cycled: Tensor | None


class FaceShifterGeneratorLoss(nn.Module):
    """Returns a dict of the weighted scalar terms plus ``total`` (their sum).

    ``perceptual`` is an optional perceptual loss module (``VGGFeatureLoss``, kept as ``self.vgg``)
    added to the cycle term; ``None`` disables that term (and it is then absent from the returned
    dict). The generator must have ``attributes(images) -> list[Tensor]`` (AEI-Net) unless the
    attribute term weighs 0.
    """

    def __init__(self, weights: Mapping[str, float] | None = None, perceptual: nn.Module | None = None) -> None:
        super().__init__()
        self.weights = merge_weights(DEFAULT_WEIGHTS, weights, "loss")
        self.adversarial = HingeAdversarialLoss()
        self.identity = IdentityLoss()
        self.attribute = AttributeLoss()
        self.reconstruction = ReconstructionLoss()
        self.cycle = CycleLoss()
        self.vgg = perceptual

    # Which extra passes to run (a pass whose terms all weigh 0 is skipped).
    @property
    def needs_attributes(self) -> bool:
        return self.weights["attribute"] > 0

    @property
    def needs_cycle(self) -> bool:
        return self.weights["cycle"] > 0 or (self.vgg is not None and self.weights["cycle_vgg"] > 0)

    def extra_passes(self, nets: SwapNetworks, target: Tensor, result: Tensor) -> FaceShifterPasses:
        """The attribute pass over ``result`` and the cycle pass (see :class:`FaceShifterPasses`)."""
        result_attrs = nets.generator.attributes(result) if self.needs_attributes else []
        cycled = None
        if self.needs_cycle:
            # Cycle: put the target's own identity back onto the (detached) result.
            cycled, _ = nets.generator(result.detach(), nets.embed(target))
        return FaceShifterPasses(result_attrs=result_attrs, cycled=cycled)

    def forward(
        self, out: SwapForward[FaceShifterPasses], masks: SwapLossMasks, parts: Mapping[str, slice] | None = None
    ) -> dict[str, Tensor]:
        """``parts`` splits a combined embedding (ArcFace + FixerNet): the identity term scores the
        ``identity`` part (without one: the whole vector), a ``fixer`` part gets its own term; see
        :func:`~reliableswap.losses.identity.split_embedding` with ``fallback="all"``."""
        w = self.weights
        zero = out.result.new_zeros(())
        split = split_embedding(parts, out.z_source.shape[1], fallback="all")
        id_part = split.identity
        result_attrs, cycled = out.extra.result_attrs, out.extra.cycled
        terms = {
            "adversarial": w["adversarial"] * self.adversarial.generator(out.fake_outputs),
            "identity": w["identity"]
            * masked_mean(self.identity(out.z_result[:, id_part], out.z_source[:, id_part].detach()), masks.identity),
            "attribute": w["attribute"] * masked_mean(self.attribute(result_attrs, out.aux), masks.attribute)
            if result_attrs
            else zero,
            "reconstruction": w["reconstruction"]
            * masked_mean(self.reconstruction(out.result, out.target), masks.reconstruction),
            "cycle": w["cycle"] * masked_mean(self.cycle(cycled, out.target), masks.cycle)
            if cycled is not None
            else zero,
        }
        if split.fixer is not None:
            fx = split.fixer
            terms["fixer"] = w["fixer"] * masked_mean(
                self.identity(out.z_result[:, fx], out.z_source[:, fx].detach()), masks.identity
            )
        if self.vgg is not None and cycled is not None:
            terms["cycle_vgg"] = w["cycle_vgg"] * masked_mean(self.vgg(cycled, out.target), masks.cycle)
        terms["total"] = sum(terms.values())
        return terms
