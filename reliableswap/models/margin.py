"""ArcFace additive angular margin head (Deng et al. 2019), used to train FixerNet.

For an L2-normalised embedding x and class centres W (rows L2-normalised), the logit of class j is
``s * cos(theta_j)``, except for the true class y where it is ``s * cos(theta_y + m)``: the
margin forces each embedding to sit at least ``m`` radians closer to its own centre than a plain
softmax would, which is what makes the embedding usable for *verification* by cosine.

``cos(theta + m)`` stops being monotonic in theta once ``theta + m > pi``; the usual fixes
(InsightFace):

- default: where ``theta > pi - m`` (``cos(theta) <= cos(pi - m)``, the "threshold") use the
  CosFace-like fallback ``cos(theta) - m * sin(m)`` (InsightFace's choice), which keeps the
  target logit decreasing in theta; it steps down at the threshold (-1 -> -cos m - m sin m),
  it is not continuous there;
- ``easy_margin=True``: apply the margin only where ``cos(theta) > 0`` and leave the logit
  unchanged elsewhere.

Defaults s = 64, m = 0.5 (ArcFace; ReliableSwap's FixerNet header ``(64.0, 0.5)``).
"""

from __future__ import annotations

import math

import torch
import torch.nn.functional as F
from torch import Tensor, nn


def arcface_logits(
    cosine: Tensor, labels: Tensor, s: float = 64.0, m: float = 0.5, easy_margin: bool = False
) -> Tensor:
    """Margin logits from cosines (B, C) and integer labels (B,): see the module docstring."""
    if cosine.ndim != 2 or labels.shape != (cosine.shape[0],):
        raise ValueError(f"expected cosine (B, C) and labels (B,), got {tuple(cosine.shape)} and {tuple(labels.shape)}")
    cosine = cosine.float().clamp(-1.0, 1.0)
    target = cosine.gather(1, labels.long().view(-1, 1))
    sine = (1.0 - target.pow(2)).clamp_min(0.0).sqrt()
    phi = target * math.cos(m) - sine * math.sin(m)  # cos(theta + m)
    if easy_margin:
        phi = torch.where(target > 0, phi, target)
    else:
        threshold = math.cos(math.pi - m)
        phi = torch.where(target > threshold, phi, target - math.sin(math.pi - m) * m)
    logits = cosine.scatter(1, labels.long().view(-1, 1), phi)
    return logits * s


class ArcFaceMargin(nn.Module):
    """Class centres + ArcFace margin: ``(embeddings (B, D), labels (B,)) -> logits (B, C)``.

    ``cosine(embeddings)`` gives the margin-free cosines (accuracy, inference).
    """

    def __init__(
        self, embedding_dim: int, num_classes: int, s: float = 64.0, m: float = 0.5, easy_margin: bool = False
    ) -> None:
        super().__init__()
        if num_classes < 2:
            raise ValueError(f"a margin head needs at least 2 classes, got {num_classes}")
        if not 0.0 <= m < math.pi / 2:
            raise ValueError(f"margin m must be in [0, pi/2), got {m}")
        self.embedding_dim = int(embedding_dim)
        self.num_classes = int(num_classes)
        self.s = float(s)
        self.m = float(m)
        self.easy_margin = bool(easy_margin)
        self.weight = nn.Parameter(torch.empty(self.num_classes, self.embedding_dim))
        nn.init.normal_(self.weight, std=0.01)

    def cosine(self, embeddings: Tensor) -> Tensor:
        """(B, C) cosines between the embeddings and every class centre (float32)."""
        return F.linear(F.normalize(embeddings.float(), dim=1), F.normalize(self.weight.float(), dim=1))

    def forward(self, embeddings: Tensor, labels: Tensor) -> Tensor:
        return arcface_logits(self.cosine(embeddings), labels, self.s, self.m, self.easy_margin)

    def extra_repr(self) -> str:
        return (f"embedding_dim={self.embedding_dim}, num_classes={self.num_classes}, s={self.s}, "
                f"m={self.m}, easy_margin={self.easy_margin}")
