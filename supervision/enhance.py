"""Face enhancement backends behind :class:`supervision.protocols.Enhancer`.

The original optionally restores the reenacted A' (and the final AB) with GPEN, because LIA's
256x256 output is soft. Enhancement is *off* by default here: it is optional in the method, its
weights are not redistributable offline, and a restorer hallucinates identity-bearing detail
(eyes, teeth), which would shift the very identity the triplet is supposed to carry.
:class:`~supervision.gpen.GPENEnhancer` (``enhancer=gpen``) runs the official GPEN-BFR-512/256
weights when they are present (registry entries ``gpen_bfr_512`` / ``gpen_bfr_256``) and raises
:class:`~reliableswap.weights.MissingWeightsError` otherwise.
"""

from __future__ import annotations

from torch import Tensor

from supervision.gpen import GPENEnhancer

__all__ = ["GPENEnhancer", "NoEnhancer"]


class NoEnhancer:
    """Identity enhancer (the default): returns the images unchanged, without copying."""

    def enhance(self, images: Tensor) -> Tensor:
        return images
