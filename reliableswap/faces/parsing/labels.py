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

# DML-CSR CelebAMask-HQ release (insightface parsing/dml_csr, dml_csr_celebA.pth): 19 classes,
# trained on CelebAMask-HQ label maps, so its order is the canonical one (its own names: eye_g,
# ear_r, neck_l for eyeglasses, earring, necklace).
DML_CSR_NAMES: tuple[str, ...] = NAMES
DML_CSR_TO_CANONICAL: tuple[int, ...] = tuple(ID[name] for name in DML_CSR_NAMES)


def region_mask(labels: Tensor, names: tuple[str, ...] | list[str]) -> Tensor:
    """(B, S, S) label map -> (B, 1, S, S) float mask of the given classes."""
    ids = torch.tensor([ID[n] for n in names], device=labels.device)
    return torch.isin(labels, ids).unsqueeze(1).float()


#: One RGB colour per canonical class (debug sheets, README figures): skin tan, hair brown, ...
PALETTE: tuple[tuple[int, int, int], ...] = (
    (0, 0, 0), (204, 153, 120), (255, 204, 0), (0, 255, 255), (0, 0, 255), (0, 64, 255), (128, 0, 128),
    (160, 32, 160), (255, 128, 0), (255, 160, 64), (255, 255, 255), (255, 0, 0), (192, 0, 0),
    (102, 51, 0), (0, 128, 0), (255, 0, 255), (128, 128, 0), (153, 204, 255), (96, 96, 96),
)


def colorize_labels(labels: Tensor) -> Tensor:
    """(B, S, S) canonical labels -> (B, 3, S, S) float RGB in [-1, 1] with :data:`PALETTE`."""
    palette = torch.tensor(PALETTE, dtype=torch.float32, device=labels.device) / 127.5 - 1.0
    return palette[labels.long().clamp(0, len(PALETTE) - 1)].permute(0, 3, 1, 2)
