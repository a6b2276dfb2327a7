"""The released generator files of the original work, loaded into our modules.

Two FaceShifter-family layouts (manifests ``reliableswap_faceshifter_released_G`` and
``faceshifter_vanilla_released_G``) store the whole generator wrapper:

- ``G.*``: the AEI-Net (identity dim 640 with FixerNet, 512 without);
- ``iresnet.*``: the frozen ArcFace iresnet100;
- ``mouth_net.*``: the frozen FixerNet (ReliableSwap only);
- ``trans_matrix`` (1, 2, 3): the cv2-style affine from the 256 FFHQ-style crop to the 112
  ArcFace crop that the original code used for identity.

:class:`ReleasedFaceShifter` mirrors that layout key for key, so the file loads strictly, and
:func:`released_identity_encoder` wraps ``iresnet``/``mouth_net`` behind our identity protocol with
the file's own ``trans_matrix`` alignment, so a released model embeds identities exactly as it was
trained to (our own training uses the documented size-aware warp of
``reliableswap.faces.alignment``). The official SimSwap ``netG`` file is a bare
``SimSwapGenerator`` state dict (manifests ``simswap_generator_latent512/640``).
"""

from __future__ import annotations

import logging
from collections.abc import Mapping

import torch
import torch.nn.functional as F
from torch import Tensor, nn

from reliableswap.faces.alignment import ARCFACE_SIZE
from reliableswap.models.aei_net import AEINet
from reliableswap.models.identity.base import IdentityEncoder
from reliableswap.models.identity.combined import CombinedIdentityEncoder
from reliableswap.models.identity.fixernet import FixerNet, FixerNetEncoder
from reliableswap.models.identity.iresnet import iresnet

log = logging.getLogger(__name__)

RELEASED_SIZE = 256


def is_released_faceshifter(state: Mapping[str, object]) -> bool:
    return "trans_matrix" in state and any(k.startswith("G.encoder.") for k in state) and any(
        k.startswith("iresnet.") for k in state
    )


def is_released_simswap(state: Mapping[str, object]) -> bool:
    return "first_layer.1.weight" in state and "BottleNeck.0.style1.linear.weight" in state


class ReleasedFaceShifter(nn.Module):
    """Key-for-key mirror of the released FaceShifter/ReliableSwap generator wrapper."""

    def __init__(self, with_fixer: bool = True) -> None:
        super().__init__()
        self.with_fixer = with_fixer
        self.G = AEINet(id_dim=640 if with_fixer else 512, size=RELEASED_SIZE, width=1.0)
        self.iresnet = iresnet("r100")
        if with_fixer:
            self.mouth_net = FixerNet()
        self.register_buffer("trans_matrix", torch.zeros(1, 2, 3))

    @classmethod
    def from_state_dict(cls, state: Mapping[str, Tensor]) -> ReleasedFaceShifter:
        """Build on the meta device and take the file's tensors as they are (no double allocation)."""
        with torch.device("meta"):
            model = cls(with_fixer=any(k.startswith("mouth_net.") for k in state))
        own = model.state_dict()
        missing, unexpected = sorted(set(own) - set(state)), sorted(set(state) - set(own))
        wrong = sorted(k for k in set(own) & set(state) if tuple(own[k].shape) != tuple(state[k].shape))
        if missing or unexpected or wrong:
            raise ValueError(
                f"not a released FaceShifter generator: {len(missing)} missing (e.g. {missing[:3]}), "
                f"{len(unexpected)} unexpected (e.g. {unexpected[:3]}), {len(wrong)} shape mismatches (e.g. {wrong[:3]})"
            )
        model.load_state_dict(dict(state), strict=True, assign=True)
        return model.eval()


def _warp_with_matrix(images: Tensor, matrix: Tensor) -> Tensor:
    """cv2-style ``warpAffine(images, matrix, (112, 112))`` for 256 crops, batched and differentiable."""
    if images.shape[-1] != RELEASED_SIZE or images.shape[-2] != RELEASED_SIZE:
        images = F.interpolate(images, size=(RELEASED_SIZE, RELEASED_SIZE), mode="bilinear", align_corners=False, antialias=True)
    from kornia.geometry.transform import warp_affine

    m = matrix.to(images).reshape(1, 2, 3).expand(images.shape[0], 2, 3)
    return warp_affine(images, m, dsize=(ARCFACE_SIZE, ARCFACE_SIZE), mode="bilinear", align_corners=True)


class _TransMatrixAlignment:
    """Mixin: ``align`` with the released file's own ``trans_matrix`` instead of our template warp."""

    trans_matrix: Tensor

    def align(self, images: Tensor) -> Tensor:
        if not torch.isfinite(self.trans_matrix).all() or self.trans_matrix.abs().sum() == 0:
            raise ValueError("the released generator's trans_matrix is empty or invalid; cannot align identities")
        return _warp_with_matrix(images, self.trans_matrix)


class ReleasedArcFaceEncoder(_TransMatrixAlignment, IdentityEncoder):
    def __init__(self, backbone: nn.Module, trans_matrix: Tensor) -> None:
        super().__init__(backbone, 512, name="arcface_r100_released")
        self.register_buffer("trans_matrix", trans_matrix, persistent=False)


class ReleasedFixerNetEncoder(_TransMatrixAlignment, FixerNetEncoder):
    def __init__(self, fixernet: FixerNet, trans_matrix: Tensor) -> None:
        super().__init__(fixernet, name="fixernet_released")
        self.register_buffer("trans_matrix", trans_matrix, persistent=False)


def released_identity_encoder(model: ReleasedFaceShifter) -> nn.Module:
    """ArcFace (+ FixerNet) of a released file behind the identity protocol (512 or 640-d)."""
    arcface = ReleasedArcFaceEncoder(model.iresnet, model.trans_matrix)
    if not model.with_fixer:
        return arcface
    return CombinedIdentityEncoder({"identity": arcface, "fixer": ReleasedFixerNetEncoder(model.mouth_net, model.trans_matrix)})
