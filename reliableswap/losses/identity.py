"""Identity loss: ``1 - cos(embedding(result), embedding(reference))`` per sample."""

from __future__ import annotations

import torch.nn.functional as F
from torch import Tensor, nn


class IdentityLoss(nn.Module):
    """Per-sample cosine distance between two batches of identity embeddings, shape (B,)."""

    def forward(self, embedding: Tensor, reference: Tensor) -> Tensor:
        if embedding.shape != reference.shape or embedding.dim() != 2:
            raise ValueError(f"identity embeddings must both be (B, D), got {tuple(embedding.shape)} and {tuple(reference.shape)}")
        return 1.0 - F.cosine_similarity(embedding, reference, dim=1)
