"""The identity-encoder protocol: aligned face crops in [-1, 1] -> (B, D) unit vectors.

Every recogniser backend (ArcFace IResNet, MobileFaceNet, any ONNX model) is wrapped in
:class:`IdentityEncoder`, which owns everything that is *not* the backbone and that the original
code got subtly wrong in places:

- alignment: FFHQ-aligned crops of any size are warped to the 112 ArcFace crop with the one fixed,
  differentiable warp of :mod:`reliableswap.faces.alignment`;
- input normalisation: each backbone was trained with its own (mean, std); the wrapper converts the
  project's [-1, 1] convention to it, so callers never think about it;
- freezing: the encoder is a fixed, pretrained judge. Its parameters never require grad and it is
  *always* in eval mode (``train()`` is overridden), because Lightning calls ``.train()`` on the
  whole module tree each epoch and BatchNorm in train mode would both change the embeddings and
  update the running statistics. Gradients still flow to the *input* (identity loss).
"""

from __future__ import annotations

from collections.abc import Sequence
from typing import Literal

import torch
import torch.nn.functional as F
from torch import nn

from reliableswap.faces.alignment import ARCFACE_SIZE, ffhq_to_arcface

InputLayout = Literal["ffhq", "arcface112"]
INPUT_LAYOUTS: tuple[str, ...] = ("ffhq", "arcface112")


class IdentityEncoder(nn.Module):
    """Frozen face recogniser behind the project's identity protocol.

    Args:
        backbone: maps normalised 112x112 RGB crops to (B, D) raw embeddings.
        embedding_dim: D.
        mean, std: the backbone's input normalisation in [0, 1] units, RGB (ArcFace: 0.5/0.5,
            i.e. [-1, 1]; ImageNet-trained recipes: the ImageNet statistics).
        input_layout: ``"ffhq"`` (default) for FFHQ-aligned crops of any square size, warped to
            112 here; ``"arcface112"`` for crops already aligned to the ArcFace template.
        name: a label for logs and ``repr``.
    """

    def __init__(
        self,
        backbone: nn.Module,
        embedding_dim: int,
        mean: Sequence[float] = (0.5, 0.5, 0.5),
        std: Sequence[float] = (0.5, 0.5, 0.5),
        input_layout: InputLayout = "ffhq",
        name: str = "identity",
    ) -> None:
        super().__init__()
        if input_layout not in INPUT_LAYOUTS:
            raise ValueError(f"input_layout must be one of {INPUT_LAYOUTS}, got '{input_layout}'")
        mean, std = tuple(float(v) for v in mean), tuple(float(v) for v in std)  # also OmegaConf lists
        if len(mean) != 3 or len(std) != 3:
            raise ValueError(f"mean and std need 3 (RGB) values, got {mean} and {std}")
        self.backbone = backbone
        self.embedding_dim = int(embedding_dim)
        self.input_layout: InputLayout = input_layout
        self.name = name
        # [-1, 1] -> backbone input in one affine step: ((x + 1) / 2 - mean) / std.
        mean_t = torch.tensor(mean, dtype=torch.float32).view(1, 3, 1, 1)
        std_t = torch.tensor(std, dtype=torch.float32).view(1, 3, 1, 1)
        # Not persistent: they are configuration, not weights, and must not leak into checkpoints.
        self.register_buffer("_scale", 0.5 / std_t, persistent=False)
        self.register_buffer("_shift", (0.5 - mean_t) / std_t, persistent=False)
        self.freeze()

    def freeze(self) -> IdentityEncoder:
        """No parameter requires grad; eval mode (see :meth:`train`)."""
        for p in self.parameters():
            p.requires_grad_(False)
        return super().train(False)

    def train(self, mode: bool = True) -> IdentityEncoder:
        """Ignore ``mode``: the encoder stays in eval mode (BatchNorm uses its running stats)."""
        return super().train(False)

    def align(self, images: torch.Tensor) -> torch.Tensor:
        """The 112x112 ArcFace crops (still in [-1, 1]) this encoder sees, differentiably."""
        if self.input_layout == "ffhq":
            return ffhq_to_arcface(images)
        if images.ndim != 4 or images.shape[-2:] != (ARCFACE_SIZE, ARCFACE_SIZE):
            raise ValueError(f"input_layout 'arcface112' expects [B, 3, 112, 112], got {tuple(images.shape)}")
        return images

    def embed_aligned(self, crops: torch.Tensor) -> torch.Tensor:
        """Unit embeddings of 112 ArcFace crops in [-1, 1]."""
        x = crops * self._scale.to(crops.dtype) + self._shift.to(crops.dtype)
        return F.normalize(self.backbone(x).float(), dim=1)

    def forward(self, images: torch.Tensor) -> torch.Tensor:
        """Images [B, 3, S, S] in [-1, 1] -> (B, D) float32 unit vectors."""
        if images.ndim != 4 or images.shape[1] != 3:
            raise ValueError(f"expected RGB images [B, 3, H, W], got {tuple(images.shape)}")
        return self.embed_aligned(self.align(images))

    def extra_repr(self) -> str:
        return f"name={self.name}, embedding_dim={self.embedding_dim}, input_layout={self.input_layout}"
