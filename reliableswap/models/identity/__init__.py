"""Identity encoders: frozen face recognisers behind one protocol (images -> (B, D) unit vectors)."""

from reliableswap.models.identity.base import IdentityEncoder, InputLayout
from reliableswap.models.identity.factory import (
    build_arcface,
    build_arcface_encoder,
    build_identity_encoder,
    build_mobilefacenet,
    build_mobilefacenet_encoder,
    build_onnx_encoder,
)

__all__ = [
    "IdentityEncoder",
    "InputLayout",
    "build_arcface",
    "build_arcface_encoder",
    "build_identity_encoder",
    "build_mobilefacenet",
    "build_mobilefacenet_encoder",
    "build_onnx_encoder",
]
