"""The SimSwap generator objective: the weighted sum of per-sample, masked terms.

A generator objective like :class:`~reliableswap.losses.faceshifter.FaceShifterGeneratorLoss`
(the contract of ``reliableswap.losses.objective``), chosen by config (``loss=simswap``). SimSwap
has no attribute or cycle term, so it runs no extra generator pass; it keeps attributes with *weak
feature matching* instead: an L1 between the discriminator's deep intermediate features of the
result and of the real target. Its :meth:`~SimSwapGeneratorLoss.extra_passes` computes the latter
(``out.extra.real_outputs``: the discriminator's per-scale features of the real *target*, without
gradient).

Terms and the samples they apply to (masks built per sample, never mutated):

- ``adversarial``: hinge generator term ``-mean D(result)`` over the multi-scale D, all samples;
- ``identity``: ``1 - cos(E(result), E(source))`` on the identity-encoder part of the embedding,
  different-identity pairs. (The original SimSwap applied it to every sample; here a same pair is
  supervised by its pixel ground truth only, like the FaceShifter variant.)
- ``feature_matching``: weak feature matching, all samples (see :class:`WeakFeatureMatchingLoss`);
- ``reconstruction``: ``L1(result, target)``, same pairs;
- ``fixer``: ``1 - cos(Fixer(result), Fixer(source))`` on the FixerNet part of the embedding,
  different-identity pairs; only when the identity encoder's ``parts`` (passed by the module as
  ``loss(out, masks, parts)``, like the FaceShifter loss) has a ``"fixer"`` slice, otherwise the
  term is skipped and absent from the returned dict (the split: ``split_embedding`` with
  ``fallback="outside_fixer"``).
"""

from __future__ import annotations

import logging
from collections.abc import Mapping, Sequence
from dataclasses import dataclass

import torch
from torch import Tensor, nn

from reliableswap.losses.adversarial import HingeAdversarialLoss
from reliableswap.losses.identity import IdentityLoss, split_embedding
from reliableswap.losses.masks import SwapLossMasks, masked_mean, merge_weights
from reliableswap.losses.pixel import ReconstructionLoss
from reliableswap.models.contract import SwapForward, SwapNetworks

log = logging.getLogger(__name__)

DEFAULT_WEIGHTS: dict[str, float] = {
    "adversarial": 1.0,
    "identity": 30.0,
    "feature_matching": 10.0,
    "reconstruction": 10.0,
    "fixer": 0.1,
}


@dataclass
class SimSwapPasses:
    """The SimSwap objective's pass beyond the main one (``SwapForward.extra``): ``real_outputs``,
    the discriminator's per-scale features of the real target (no gradient), for weak feature
    matching."""

    real_outputs: list | None


class WeakFeatureMatchingLoss(nn.Module):
    """Per-sample L1 between the last ``num_layers`` intermediate discriminator features of the
    result and those of the real target, shape (B,).

    "Weak" (SimSwap, Sec. 3.3): pix2pixHD matches *every* discriminator layer, which pins the result
    to the target's low-level content and fights the identity change; SimSwap matches only the
    deep layers, which carry semantic attributes (pose, expression, lighting). With our
    PatchGAN (``num_layers=3``: feature maps ``layer0..layer3`` then the patch logits) the default
    ``num_layers=2`` uses ``layer2`` and ``layer3`` of every scale. The patch logits are never
    matched (that is the adversarial term's job). Each layer's mean absolute difference is
    averaged over layers and scales, so the loss scale does not depend on either count.

    The real features are detached: the target is a constant, only the result is pulled.
    """

    def __init__(self, num_layers: int = 2) -> None:
        super().__init__()
        if num_layers < 1:
            raise ValueError(f"weak feature matching needs at least one layer, got {num_layers}")
        self.num_layers = num_layers

    def forward(self, fake_outputs: Sequence[Sequence[Tensor]], real_outputs: Sequence[Sequence[Tensor]]) -> Tensor:
        if len(fake_outputs) != len(real_outputs):
            raise ValueError(f"discriminator scales differ: {len(fake_outputs)} fake vs {len(real_outputs)} real")
        per_layer = []
        for fake, real in zip(fake_outputs, real_outputs):
            if len(fake) != len(real) or len(fake) < self.num_layers + 1:
                raise ValueError(
                    f"need {self.num_layers} intermediate features plus the logits per scale, "
                    f"got {len(fake)} fake and {len(real)} real"
                )
            for f, r in zip(fake[-1 - self.num_layers : -1], real[-1 - self.num_layers : -1]):
                per_layer.append((f - r.detach()).abs().flatten(1).mean(dim=1))
        return torch.stack(per_layer).mean(dim=0)


class SimSwapGeneratorLoss(nn.Module):
    """Returns a dict of the weighted scalar terms plus ``total`` (their sum).

    Args:
        weights: overrides of :data:`DEFAULT_WEIGHTS` (unknown names are rejected).
        feature_matching_layers: deep discriminator layers matched per scale (see
            :class:`WeakFeatureMatchingLoss`).
    """

    def __init__(
        self,
        weights: Mapping[str, float] | None = None,
        feature_matching_layers: int = 2,
        perceptual: nn.Module | None = None,
    ) -> None:
        super().__init__()
        if perceptual is not None:
            raise ValueError("the SimSwap loss has no perceptual term: set loss.perceptual=null")
        self.weights = merge_weights(DEFAULT_WEIGHTS, weights, "loss")
        self.adversarial = HingeAdversarialLoss()
        self.identity = IdentityLoss()
        self.feature_matching = WeakFeatureMatchingLoss(feature_matching_layers)
        self.reconstruction = ReconstructionLoss()
        log.debug("SimSwap loss weights %s, %d feature-matching layers", self.weights, feature_matching_layers)

    def extra_passes(self, nets: SwapNetworks, target: Tensor, result: Tensor) -> SimSwapPasses:
        """The discriminator's features of the real target, without gradient (no generator pass)."""
        with torch.no_grad():
            return SimSwapPasses(real_outputs=nets.discriminator(target))

    def forward(
        self, out: SwapForward[SimSwapPasses], masks: SwapLossMasks, parts: Mapping[str, slice] | None = None
    ) -> dict[str, Tensor]:
        """``parts`` is the identity encoder's ``name -> slice`` split of a combined embedding
        (ArcFace + FixerNet): the identity term scores the ``identity`` part (or, without one, every
        dimension outside ``fixer``), a ``fixer`` part gets its own term; without parts the whole
        vector is the identity and the FixerNet term is skipped (absent from the dict)."""
        real_outputs = getattr(out.extra, "real_outputs", None)
        if real_outputs is None:
            raise ValueError(
                "SimSwapGeneratorLoss needs out.extra.real_outputs: the discriminator's features of the "
                "real target (computed without gradient by extra_passes) for weak feature matching"
            )
        w = self.weights
        split = split_embedding(parts, out.z_source.shape[1], fallback="outside_fixer")
        id_part = split.identity
        z_source = out.z_source.detach()
        every = torch.ones_like(masks.reconstruction)
        terms = {
            "adversarial": w["adversarial"] * self.adversarial.generator(out.fake_outputs),
            "identity": w["identity"]
            * masked_mean(self.identity(out.z_result[:, id_part], z_source[:, id_part]), masks.identity),
            "feature_matching": w["feature_matching"]
            * masked_mean(self.feature_matching(out.fake_outputs, real_outputs), every),
            "reconstruction": w["reconstruction"]
            * masked_mean(self.reconstruction(out.result, out.target), masks.reconstruction),
        }
        if split.fixer is not None:
            fixer = split.fixer
            terms["fixer"] = w["fixer"] * masked_mean(
                self.identity(out.z_result[:, fixer], z_source[:, fixer]), masks.identity
            )
        terms["total"] = sum(terms.values())
        return terms
