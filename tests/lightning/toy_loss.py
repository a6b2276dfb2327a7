"""The objective of ``toy_generator.ToyMaskGenerator``: adversarial, identity, reconstruction and
two mask terms that read the generator's extra output (``SwapForward.aux``, the mask).

``mask_consistency`` needs an extra pass (the mask predicted from the result); like the
FaceShifter cycle pass, the objective runs it only when its weight is above 0.
"""

from __future__ import annotations

from collections.abc import Mapping
from dataclasses import dataclass

from torch import Tensor, nn

from reliableswap.losses.adversarial import HingeAdversarialLoss
from reliableswap.losses.identity import IdentityLoss, split_embedding
from reliableswap.losses.masks import SwapLossMasks, masked_mean, merge_weights
from reliableswap.losses.pixel import ReconstructionLoss
from reliableswap.models.contract import SwapForward, SwapNetworks

DEFAULT_WEIGHTS = {"adversarial": 1.0, "identity": 1.0, "reconstruction": 1.0, "mask_area": 0.1, "mask_consistency": 1.0}


@dataclass
class ToyMaskPasses:
    """``result_mask``: the mask predicted from the result (``None`` when its term weighs 0)."""

    result_mask: Tensor | None


class ToyMaskLoss(nn.Module):
    def __init__(self, weights: Mapping[str, float] | None = None, perceptual: nn.Module | None = None) -> None:
        super().__init__()
        if perceptual is not None:
            raise ValueError("the toy mask loss has no perceptual term")
        self.weights = merge_weights(DEFAULT_WEIGHTS, weights, "loss")
        self.adversarial = HingeAdversarialLoss()
        self.identity = IdentityLoss()
        self.reconstruction = ReconstructionLoss()

    def extra_passes(self, nets: SwapNetworks, target: Tensor, result: Tensor) -> ToyMaskPasses:
        if self.weights["mask_consistency"] <= 0:
            return ToyMaskPasses(result_mask=None)
        return ToyMaskPasses(result_mask=nets.generator.predict_mask(result))

    def forward(
        self, out: SwapForward[ToyMaskPasses], masks: SwapLossMasks, parts: Mapping[str, slice] | None = None
    ) -> dict[str, Tensor]:
        mask = out.aux
        if not (isinstance(mask, Tensor) and mask.shape == (out.result.shape[0], 1, *out.result.shape[-2:])):
            raise TypeError(f"the toy loss expects the generator's mask as aux, got {type(mask).__name__}")
        w = self.weights
        split = split_embedding(parts, out.z_source.shape[1])
        every = masks.cycle  # all samples
        terms = {
            "adversarial": w["adversarial"] * self.adversarial.generator(out.fake_outputs),
            "identity": w["identity"] * masked_mean(
                self.identity(out.z_result[:, split.identity], out.z_source[:, split.identity].detach()), masks.identity
            ),
            "reconstruction": w["reconstruction"]
            * masked_mean(self.reconstruction(out.result, out.target), masks.reconstruction),
            "mask_area": w["mask_area"] * masked_mean(mask.flatten(1).mean(dim=1), every),
        }
        if out.extra.result_mask is not None:
            drift = (out.extra.result_mask - mask.detach()).abs().flatten(1).mean(dim=1)
            terms["mask_consistency"] = w["mask_consistency"] * masked_mean(drift, every)
        terms["total"] = sum(terms.values())
        return terms
