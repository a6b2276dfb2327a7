"""Identity loss ``1 - cos(embedding(result), embedding(reference))`` per sample, and the one split
of a combined identity embedding into its identity and FixerNet parts.

A combined encoder (``reliableswap.models.identity.combined``) concatenates per-part unit vectors,
e.g. ``[ArcFace 512 | FixerNet 128]``, and publishes ``parts: name -> slice``. The losses score
each part with its own weight (FaceShifter variant: identity 5, FixerNet 0.5), so they take
``z[:, split.identity]`` and ``z[:, split.fixer]`` from :func:`split_embedding`.
"""

from __future__ import annotations

from collections.abc import Mapping
from dataclasses import dataclass
from typing import Literal

import torch.nn.functional as F
from torch import Tensor, nn

#: Names of the slices in an identity encoder's ``parts`` (``CombinedIdentityEncoder``).
IDENTITY_PART = "identity"
FIXER_PART = "fixer"

#: What the identity term scores when ``parts`` has no ``identity`` slice (see :func:`split_embedding`).
IdentityFallback = Literal["all", "outside_fixer"]


class IdentityLoss(nn.Module):
    """Per-sample cosine distance between two batches of identity embeddings, shape (B,)."""

    def forward(self, embedding: Tensor, reference: Tensor) -> Tensor:
        if embedding.shape != reference.shape or embedding.dim() != 2:
            raise ValueError(f"identity embeddings must both be (B, D), got {tuple(embedding.shape)} and {tuple(reference.shape)}")
        return 1.0 - F.cosine_similarity(embedding, reference, dim=1)


@dataclass(frozen=True)
class EmbeddingSplit:
    """Column indices of a (B, D) embedding: ``identity`` is scored by the identity term, ``fixer``
    (``None`` = no FixerNet part, the term is skipped) by the FixerNet term."""

    identity: slice | list[int]
    fixer: slice | None


def split_embedding(
    parts: Mapping[str, slice] | None, dim: int, fallback: IdentityFallback = "all"
) -> EmbeddingSplit:
    """Split a ``dim``-wide embedding by the encoder's ``parts`` (``None``/empty: one plain vector).

    The identity part is ``parts["identity"]`` when present, the FixerNet part ``parts["fixer"]``
    when present. Without an ``identity`` slice the identity term scores:

    - ``fallback="all"``: the whole vector (FaceShifter and triplet losses);
    - ``fallback="outside_fixer"``: every dimension outside the ``fixer`` slice (SimSwap loss).

    The two only differ for an encoder whose ``parts`` name a ``fixer`` slice but no ``identity``
    one; the shipped combined encoders (``configs/identity/*_fixernet.yaml``) name both, where the
    two agree. The parameter keeps each loss's numbers exactly as they were.

    Raises:
        ValueError: an unknown ``fallback``.
    """
    if fallback not in ("all", "outside_fixer"):
        raise ValueError(f"fallback must be 'all' or 'outside_fixer', got {fallback!r}")
    parts = parts or {}
    fixer = parts.get(FIXER_PART)
    if IDENTITY_PART in parts:
        identity: slice | list[int] = parts[IDENTITY_PART]
    elif fallback == "outside_fixer" and fixer is not None:
        excluded = set(range(dim)[fixer])
        identity = [i for i in range(dim) if i not in excluded]
    else:
        identity = slice(None)
    return EmbeddingSplit(identity=identity, fixer=fixer)
