"""Builders of identity encoders, one per backend, usable as Hydra ``_target_``.

Each takes the weight *name* from :mod:`reliableswap.weights` (so a missing file raises
:class:`~reliableswap.weights.MissingWeightsError` naming the expected path and the official
origin) and an optional explicit ``weights_path`` that wins over the registry. ``pretrained=False``
gives a randomly initialised encoder for shape-only tests and smoke runs; it never silently
replaces a missing file.
"""

from __future__ import annotations

import logging
import os
from collections.abc import Sequence
from pathlib import Path
from typing import Any

from torch import nn

from reliableswap import weights
from reliableswap.models.identity.base import IdentityEncoder, InputLayout
from reliableswap.models.identity.iresnet import ARCFACE_WEIGHT_NAMES, IResNet, iresnet
from reliableswap.models.identity.mobilefacenet import MOBILEFACENET_MEAN, MOBILEFACENET_STD, MobileFaceNet

log = logging.getLogger(__name__)

PathLike = str | os.PathLike[str]


def _resolve(weight_name: str, weights_path: PathLike | None, pretrained: bool) -> Path | None:
    # Resolved before the network is built, so a missing file fails fast (r100 is 65M params).
    return weights.resolve(weight_name, weights_path) if pretrained else None


def _load_checkpoint(module: nn.Module, path: Path) -> None:
    weights.load_into(module, weights.load_state_dict(path), source=str(path))
    log.info("loaded %s weights from %s", type(module).__name__, path)


def build_arcface(arch: str = "r100", weights_path: PathLike | None = None, pretrained: bool = True) -> IResNet:
    """The bare ArcFace IResNet backbone (``r18``/``r50``/``r100``), official weights loaded."""
    if pretrained and arch not in ARCFACE_WEIGHT_NAMES:
        raise ValueError(f"no registered ArcFace weights for '{arch}'; known: {', '.join(ARCFACE_WEIGHT_NAMES)}")
    path = _resolve(ARCFACE_WEIGHT_NAMES.get(arch, ""), weights_path, pretrained)
    model = iresnet(arch)
    if path is not None:
        _load_checkpoint(model, path)
    return model.eval()


def build_mobilefacenet(weights_path: PathLike | None = None, pretrained: bool = True) -> MobileFaceNet:
    """The bare MobileFaceNet backbone with the shipped weights loaded."""
    path = _resolve("mobilefacenet_arcface", weights_path, pretrained)
    model = MobileFaceNet()
    if path is not None:
        _load_checkpoint(model, path)
    return model.eval()


def build_arcface_encoder(
    arch: str = "r100",
    weights_path: PathLike | None = None,
    input_layout: InputLayout = "ffhq",
    pretrained: bool = True,
) -> IdentityEncoder:
    """ArcFace IResNet identity encoder, 512-d, input normalisation [-1, 1]."""
    backbone = build_arcface(arch, weights_path, pretrained)
    return IdentityEncoder(backbone, backbone.embedding_dim, (0.5, 0.5, 0.5), (0.5, 0.5, 0.5),
                           input_layout=input_layout, name=f"arcface_{arch}")


def build_mobilefacenet_encoder(
    weights_path: PathLike | None = None,
    input_layout: InputLayout = "ffhq",
    pretrained: bool = True,
) -> IdentityEncoder:
    """MobileFaceNet identity encoder, 128-d, ImageNet input normalisation."""
    backbone = build_mobilefacenet(weights_path, pretrained)
    return IdentityEncoder(backbone, backbone.embedding_dim, MOBILEFACENET_MEAN, MOBILEFACENET_STD,
                           input_layout=input_layout, name="mobilefacenet")


def build_onnx_encoder(
    weight_name: str = "mobilefacenet_arcface_onnx",
    weights_path: PathLike | None = None,
    mean: Sequence[float] | None = None,
    std: Sequence[float] | None = None,
    input_layout: InputLayout = "ffhq",
) -> IdentityEncoder:
    """Any ONNX recogniser converted to torch (see :mod:`.onnx_encoder` for batching/normalisation).

    ``mean``/``std`` in [0, 1] units, RGB; ``None`` applies InsightFace's rule for the graph.
    """
    from reliableswap.models.identity.onnx_encoder import OnnxBackbone, resolve_normalization

    path = weights.resolve(weight_name, weights_path)
    backbone = OnnxBackbone(path)
    if backbone.embedding_dim is None:
        raise ValueError(f"{path}: cannot read the embedding size from the graph output")
    mean, std = resolve_normalization(backbone, mean, std)
    return IdentityEncoder(backbone, backbone.embedding_dim, mean, std,
                           input_layout=input_layout, name=f"onnx:{weight_name}")


_BACKENDS = {
    "arcface": build_arcface_encoder,
    "mobilefacenet": build_mobilefacenet_encoder,
    "onnx": build_onnx_encoder,
}


def build_identity_encoder(backend: str = "mobilefacenet", **kwargs: Any) -> IdentityEncoder:
    """Dispatch by backend name (``arcface``, ``mobilefacenet``, ``onnx``) to the builders above."""
    try:
        builder = _BACKENDS[backend]
    except KeyError:
        raise ValueError(f"unknown identity backend '{backend}'; known: {', '.join(_BACKENDS)}") from None
    return builder(**kwargs)
