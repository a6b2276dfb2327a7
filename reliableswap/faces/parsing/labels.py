"""Canonical 19-class face-part labels: the CelebAMask-HQ order of ``shared/data/.../masks``.

Every parser backend returns these ids, so masks built from them (inner face, hair, ...) mean the
same thing whichever backend ran. BiSeNet's release uses another order; its backend maps it here
with :data:`BISENET_TO_CANONICAL`.
"""

from __future__ import annotations

import torch
from torch import Tensor

NAMES: tuple[str, ...] = (
    "background", "skin", "nose", "eyeglasses", "l_eye", "r_eye", "l_brow", "r_brow", "l_ear", "r_ear",
    "mouth", "u_lip", "l_lip", "hair", "hat", "earring", "necklace", "neck", "cloth",
)
ID = {name: i for i, name in enumerate(NAMES)}

# The inner face that the blending stage moves from A' into B (spec: skin, brows, eyes, nose,
# mouth, lips; not ears, not hair).
INNER_FACE = ("skin", "nose", "l_eye", "r_eye", "l_brow", "r_brow", "mouth", "u_lip", "l_lip", "eyeglasses")
HAIR = ("hair", "hat")

# BiSeNet (zllrunning/face-parsing.PyTorch, 79999_iter.pth) class order.
BISENET_NAMES: tuple[str, ...] = (
    "background", "skin", "l_brow", "r_brow", "l_eye", "r_eye", "eyeglasses", "l_ear", "r_ear", "earring",
    "nose", "mouth", "u_lip", "l_lip", "neck", "necklace", "cloth", "hair", "hat",
)
BISENET_TO_CANONICAL: tuple[int, ...] = tuple(ID[name] for name in BISENET_NAMES)


def region_mask(labels: Tensor, names: tuple[str, ...] | list[str]) -> Tensor:
    """(B, S, S) label map -> (B, 1, S, S) float mask of the given classes."""
    ids = torch.tensor([ID[n] for n in names], device=labels.device)
    return torch.isin(labels, ids).unsqueeze(1).float()
