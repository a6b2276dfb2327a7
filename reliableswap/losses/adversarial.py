"""Hinge GAN loss over the multi-scale discriminator's patch logits."""

from __future__ import annotations

import torch.nn.functional as F
from torch import Tensor, nn


def _logits(outputs: list[list[Tensor]] | list[Tensor]) -> list[Tensor]:
    # Multi-scale discriminators return per-scale feature lists; the patch logits are last.
    return [o[-1] if isinstance(o, (list, tuple)) else o for o in outputs]


class HingeAdversarialLoss(nn.Module):
    """``generator(fake) = -mean D(fake)``; ``discriminator(real, fake) = relu(1-D(real)) + relu(1+D(fake))``.

    Each scale's patch map is averaged, then the scales are averaged, so the loss scale does not
    depend on the number of scales or the image size.
    """

    def generator(self, fake_outputs: list) -> Tensor:
        logits = _logits(fake_outputs)
        return sum(-t.mean() for t in logits) / len(logits)

    def discriminator(self, real_outputs: list, fake_outputs: list) -> Tensor:
        real, fake = _logits(real_outputs), _logits(fake_outputs)
        real_term = sum(F.relu(1.0 - t).mean() for t in real) / len(real)
        fake_term = sum(F.relu(1.0 + t).mean() for t in fake) / len(fake)
        return real_term + fake_term
