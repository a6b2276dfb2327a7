"""The objective side of the swap-training contract (see ``reliableswap.models.contract``).

A generator objective is built by the Lightning module from a Hydra ``_partial_`` (the
``generator_loss`` node of ``configs/loss/<name>.yaml``) as::

    objective = generator_loss(weights=cfg.loss.weights, perceptual=<VGG feature loss or None>)

``perceptual`` is the configured ``loss.perceptual`` module, shared with the triplet loss (one VGG
in memory); an objective without a perceptual term refuses a non-``None`` one. Then, every step::

    out = nets.forward(source, target, objective.extra_passes)   # SwapForward[E]
    terms = objective(out, masks, parts)                          # {"name": scalar, ..., "total"}

``extra_passes`` decides which passes beyond the main one to run (and skips those whose terms
all weigh 0); the module never asks. The returned terms are logged as ``train/g_<name>``.
"""

from __future__ import annotations

from collections.abc import Callable, Mapping
from typing import Protocol, TypeVar

from torch import Tensor

from reliableswap.losses.masks import SwapLossMasks
from reliableswap.models.contract import SwapForward, SwapNetworks

E = TypeVar("E")


class GeneratorObjective(Protocol[E]):
    """The generator loss of one generator family (FaceShifter, SimSwap, ...)."""

    #: The merged term weights (saved as the module's ``loss_weights`` hyper-parameter).
    weights: dict[str, float]

    def extra_passes(self, nets: SwapNetworks, target: Tensor, result: Tensor) -> E:
        """Run the passes this objective needs beyond ``result = G(target, E(source))``."""
        ...

    def __call__(
        self, out: SwapForward[E], masks: SwapLossMasks, parts: Mapping[str, slice] | None = None
    ) -> dict[str, Tensor]:
        """Weighted scalar terms plus ``total`` (their sum). ``parts``: the identity encoder's split
        of a combined embedding (see ``reliableswap.losses.identity.split_embedding``)."""
        ...


#: ``generator_loss(weights=..., perceptual=...) -> GeneratorObjective`` (a Hydra ``_partial_``).
ObjectiveFactory = Callable[..., GeneratorObjective]
