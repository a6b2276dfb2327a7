"""Several identity encoders behind one protocol: the ReliableSwap identity vector.

ReliableSwap conditions the generator on ``[ArcFace 512 | FixerNet 128]`` (640-d) and scores the
two parts with different weights (identity 5, FixerNet 0.5 in the FaceShifter variant). So the
combined encoder returns the concatenation of each part's *unit* vector (its norm is therefore
``sqrt(#parts)``, not 1) and publishes ``parts: name -> slice`` so a loss can take
``z[:, parts["fixer"]]`` and compute its own cosine per part. A single cosine over the whole
640-d vector equals the plain mean of the two parts' cosines (both parts unit), i.e. weights
1 : 1, which is not the 5 : 0.5 of the paper's loss table.

When every part is an :class:`IdentityEncoder` with the FFHQ layout (the usual case), the FFHQ ->
112 ArcFace warp is computed once and each part embeds the shared crop.
"""

from __future__ import annotations

import logging
from collections.abc import Mapping

import torch
from torch import nn

from reliableswap.models.identity.base import IdentityEncoder

log = logging.getLogger(__name__)


class CombinedIdentityEncoder(nn.Module):
    """Concatenate the unit embeddings of named encoders (order = insertion order of the dict).

    Attributes:
        embedding_dim: sum of the parts' dimensions (512 + 128 = 640 for ArcFace + FixerNet).
        parts: ``{name: slice}`` into the concatenated vector, e.g.
            ``{"identity": slice(0, 512), "fixer": slice(512, 640)}``.
    """

    def __init__(self, encoders: Mapping[str, nn.Module], name: str = "combined") -> None:
        super().__init__()
        if not encoders:
            raise ValueError("CombinedIdentityEncoder needs at least one encoder")
        self.encoders = nn.ModuleDict(dict(encoders))
        self.name = name
        self.parts: dict[str, slice] = {}
        start = 0
        for key, encoder in self.encoders.items():
            dim = getattr(encoder, "embedding_dim", None)
            if not isinstance(dim, int) or dim <= 0:
                raise ValueError(f"encoder '{key}' must expose a positive int embedding_dim, got {dim!r}")
            self.parts[key] = slice(start, start + dim)
            start += dim
        self.embedding_dim = start
        for p in self.parameters():
            p.requires_grad_(False)
        super().train(False)

    def train(self, mode: bool = True) -> CombinedIdentityEncoder:
        """Ignore ``mode``: every part is a frozen judge and stays in eval mode."""
        return super().train(False)

    def _shared_warp(self) -> bool:
        return all(isinstance(e, IdentityEncoder) and e.input_layout == "ffhq" for e in self.encoders.values())

    def forward(self, images: torch.Tensor) -> torch.Tensor:
        """Images [B, 3, S, S] in [-1, 1] -> (B, embedding_dim): concatenated per-part unit vectors."""
        if images.ndim != 4 or images.shape[1] != 3:
            raise ValueError(f"expected RGB images [B, 3, H, W], got {tuple(images.shape)}")
        if self._shared_warp():
            first = next(iter(self.encoders.values()))
            crops = first.align(images)
            outs = [enc.embed_aligned(crops) for enc in self.encoders.values()]
        else:
            outs = [enc(images) for enc in self.encoders.values()]
        return torch.cat([o.float() for o in outs], dim=1)

    def split(self, z: torch.Tensor) -> dict[str, torch.Tensor]:
        """``{name: z[:, slice]}`` of a concatenated embedding."""
        if z.ndim != 2 or z.shape[1] != self.embedding_dim:
            raise ValueError(f"expected (B, {self.embedding_dim}) embeddings, got {tuple(z.shape)}")
        return {key: z[:, part] for key, part in self.parts.items()}

    def extra_repr(self) -> str:
        parts = ", ".join(f"{k}={s.start}:{s.stop}" for k, s in self.parts.items())
        return f"name={self.name}, embedding_dim={self.embedding_dim}, parts=({parts})"


def build_combined_encoder(**encoders: nn.Module) -> CombinedIdentityEncoder:
    """Hydra builder: each keyword is a part (already instantiated by Hydra), e.g.
    ``identity: {_target_: ...build_arcface_encoder}, fixer: {_target_: ...build_fixernet_encoder}``.
    """
    encoder = CombinedIdentityEncoder(encoders)
    log.info("combined identity encoder: %s", encoder.extra_repr())
    return encoder
