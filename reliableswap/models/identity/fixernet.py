"""FixerNet: ReliableSwap's lower-face recogniser (mouth/jaw identity), 128-d.

Why it exists: ArcFace is trained on whole faces and is nearly blind to the lower face, so a swap
can keep the target's mouth and jaw shape and still score a high ArcFace similarity. FixerNet is
a face *recogniser* trained only on the lower-face crop; its embedding, concatenated to ArcFace's
(512 + 128 = 640), makes the identity loss see the mouth region.

Layout (released ``mouth_net_28_56_84_112.pth``, manifest ``fixernet_mouthnet_128``):

- ``backbone.*``: an ArcFace iresnet50 (:mod:`.iresnet`) on the 56x56 crop, rows 56:112 and
  columns 28:84 of the 112 ArcFace crop (:func:`~reliableswap.faces.alignment.lower_face_crop`);
  after four stride-2 stages the map is 4x4, so the fc reads 512*4*4 = 8192 features -> 128;
- ``vgg_mean``, ``vgg_std``: ImageNet statistics that the original used only to feed an
  (disabled) BiSeNet mouth mask. They are kept as persistent buffers solely so the module's
  state dict equals the released file key for key; the forward pass does not use them.

Input convention: like ArcFace, the backbone sees RGB in [-1, 1] (mean = std = 0.5).

Loading: the release stores the whole module (``backbone.*`` + ``vgg_*``); the original training
script's ``save_backbone`` wrote bare backbone keys. :func:`load_fixernet_weights` accepts both.
"""

from __future__ import annotations

import logging
import os
from collections.abc import Sequence

import torch
from torch import nn

from reliableswap import weights
from reliableswap.faces.alignment import lower_face_crop
from reliableswap.models.identity.base import IdentityEncoder, InputLayout
from reliableswap.models.identity.iresnet import IRESNET_LAYERS, IRESNET_WIDTHS, IResNet

log = logging.getLogger(__name__)

PathLike = str | os.PathLike[str]

#: Registry name of the released FixerNet file.
FIXERNET_WEIGHT_NAME = "fixernet_mouthnet"
#: (x0, y0, x1, y1) of the lower-face crop inside the 112 ArcFace crop (ReliableSwap's crop_param).
FIXERNET_CROP: tuple[int, int, int, int] = (28, 56, 84, 112)
FIXERNET_INPUT_SIZE = 56
FIXERNET_EMBEDDING_DIM = 128
_VGG_MEAN = (0.485, 0.456, 0.406)
_VGG_STD = (0.229, 0.224, 0.225)


class FixerNet(nn.Module):
    """The bare lower-face recogniser: 56x56 crops in [-1, 1] -> (B, D) raw embeddings.

    Args:
        layers: IResNet blocks per stage (default: iresnet50, the released network).
        widths: stage channels (default: the released 64/128/256/512). Narrow/shallow variants
            exist only for CPU smoke runs; they cannot load the released weights.
        embedding_dim: 128 in the release.
    """

    def __init__(
        self,
        layers: Sequence[int] = IRESNET_LAYERS["r50"],
        widths: Sequence[int] = IRESNET_WIDTHS,
        embedding_dim: int = FIXERNET_EMBEDDING_DIM,
    ) -> None:
        super().__init__()
        layers = tuple(int(n) for n in layers)
        if len(layers) != 4 or min(layers) < 1:
            raise ValueError(f"layers needs 4 positive block counts, got {layers}")
        self.embedding_dim = int(embedding_dim)
        self.backbone = IResNet(layers, embedding_dim=self.embedding_dim, input_size=FIXERNET_INPUT_SIZE,
                                widths=widths)
        # Checkpoint-compatibility buffers (see module docstring); unused by forward.
        self.register_buffer("vgg_mean", torch.tensor(_VGG_MEAN).view(3, 1, 1))
        self.register_buffer("vgg_std", torch.tensor(_VGG_STD).view(3, 1, 1))

    def forward(self, crops: torch.Tensor) -> torch.Tensor:
        if crops.ndim != 4 or crops.shape[1:] != (3, FIXERNET_INPUT_SIZE, FIXERNET_INPUT_SIZE):
            raise ValueError(f"FixerNet expects lower-face crops [B, 3, 56, 56], got {tuple(crops.shape)}")
        return self.backbone(crops)


def load_fixernet_weights(model: FixerNet, path: PathLike) -> None:
    """Strictly load a FixerNet file: the release (``backbone.*`` + ``vgg_*``) or a bare backbone.

    Only the backbone tensors carry weights; the ``vgg_*`` constants, when present, are checked
    against the expected values so a file from a different network is not silently accepted.
    """
    state = weights.load_state_dict(path)
    if any(k.startswith("backbone.") for k in state):
        extra = {k: v for k, v in state.items() if not k.startswith("backbone.")}
        unknown = sorted(set(extra) - {"vgg_mean", "vgg_std"})
        if unknown:
            raise ValueError(f"{path}: unexpected non-backbone tensors {unknown[:5]}")
        for name, value in extra.items():
            if value.shape != getattr(model, name).shape or not torch.allclose(value.float(), getattr(model, name)):
                raise ValueError(f"{path}: '{name}' differs from the ImageNet constants FixerNet stores")
        state = {k[len("backbone."):]: v for k, v in state.items() if k.startswith("backbone.")}
    weights.load_into(model.backbone, state, source=str(path))
    log.info("loaded FixerNet weights from %s", path)


def build_fixernet(
    weights_path: PathLike | None = None,
    pretrained: bool = True,
    layers: Sequence[int] = IRESNET_LAYERS["r50"],
    widths: Sequence[int] = IRESNET_WIDTHS,
    embedding_dim: int = FIXERNET_EMBEDDING_DIM,
) -> FixerNet:
    """The bare FixerNet, released weights loaded through the registry (``fixernet_mouthnet``).

    ``weights_path`` wins over the registry location; ``pretrained=False`` gives a randomly
    initialised network (smoke tests, or the start of :mod:`reliableswap.lightning.fixernet_module`
    training) and never silently stands in for a missing file.
    """
    # Resolve first: a missing file fails before a 32M-parameter network is built.
    path = weights.resolve(FIXERNET_WEIGHT_NAME, weights_path) if pretrained else None
    model = FixerNet(layers=layers, widths=widths, embedding_dim=embedding_dim)
    if path is not None:
        load_fixernet_weights(model, path)
    return model.eval()


class FixerNetEncoder(IdentityEncoder):
    """FixerNet behind the identity-encoder protocol: FFHQ-aligned faces -> (B, 128) unit vectors.

    It is an :class:`IdentityEncoder` (frozen, always in eval mode, differentiable w.r.t. the
    input, same FFHQ -> 112 ArcFace warp); the only difference is that :meth:`embed_aligned`
    takes the lower-face crop of the 112 crop before the backbone. :meth:`align` still returns
    the 112 crops, so a combined encoder can warp once and feed ArcFace and FixerNet alike.
    """

    def __init__(self, fixernet: FixerNet, input_layout: InputLayout = "ffhq", name: str = "fixernet") -> None:
        super().__init__(fixernet, fixernet.embedding_dim, (0.5, 0.5, 0.5), (0.5, 0.5, 0.5),
                         input_layout=input_layout, name=name)

    def embed_aligned(self, crops: torch.Tensor) -> torch.Tensor:
        """Unit embeddings of 112 ArcFace crops in [-1, 1] (the 56x56 lower face is cut here)."""
        return super().embed_aligned(lower_face_crop(crops))


def build_fixernet_encoder(
    weights_path: PathLike | None = None,
    pretrained: bool = True,
    input_layout: InputLayout = "ffhq",
    layers: Sequence[int] = IRESNET_LAYERS["r50"],
    widths: Sequence[int] = IRESNET_WIDTHS,
) -> FixerNetEncoder:
    """Hydra builder of :class:`FixerNetEncoder` (``pretrained: false`` = random, smoke tests only)."""
    if not pretrained:
        log.warning("FixerNet is randomly initialised (pretrained=false): for smoke tests, not for results")
    return FixerNetEncoder(build_fixernet(weights_path, pretrained, layers, widths), input_layout=input_layout)

