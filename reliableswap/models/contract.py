"""The swap-training contract between a generator, its objective and the Lightning module.

Three parties meet in one training step (``reliableswap.lightning.swap_module``):

- a **generator** (:class:`SwapGenerator`): ``generator(target, z_id) -> (result, aux)``. ``result``
  is the swapped image; ``aux`` is whatever else the generator produces on that pass (AEI-Net and
  SimSwap: the target's multi-level attribute features; a masking generator: its predicted mask;
  a 3DMM-driven one: its coefficients). Only the generator's own objective interprets ``aux``;
  inference, callbacks and the module ignore it.
- its **objective** (``reliableswap.losses.objective.GeneratorObjective``): runs the extra passes
  it needs (:meth:`SwapNetworks.forward` calls its ``extra_passes``) and turns the
  :class:`SwapForward` record into weighted loss terms.
- the **module**: builds the record with :meth:`SwapNetworks.forward`, hands it to the objective
  and steps the optimizers. It knows no generator-specific pass: a new generator needs a model
  file, a loss file and configs, never an edit of the module.

Images are (B, 3, S, S) in [-1, 1]; identity embeddings (B, D) (unit vectors, or concatenated unit
parts for a combined encoder, see ``reliableswap.models.identity.combined``).
"""

from __future__ import annotations

from collections.abc import Callable, Iterator
from contextlib import contextmanager
from dataclasses import dataclass
from typing import Any, Generic, Protocol, TypeVar

import torch
from torch import Tensor, nn

#: What an objective's extra passes produced (its own record type, or ``None``).
E = TypeVar("E")


class SwapGenerator(Protocol):
    """``generator(target, z_id) -> (result, aux)``; usually an ``nn.Module``.

    ``target``: (B, 3, S, S) in [-1, 1]; ``z_id``: (B, D) identity embedding of the source;
    ``result``: (B, 3, S, S) in [-1, 1]; ``aux``: generator-specific side output (see the module
    docstring), read only by the generator's objective.
    """

    def __call__(self, target: Tensor, z_id: Tensor) -> tuple[Tensor, Any]: ...


@contextmanager
def frozen_batchnorm_stats(module: nn.Module) -> Iterator[None]:
    """Inside the block, BatchNorm layers of ``module`` in training mode still normalise with the
    batch's statistics (and pass gradients through them) but leave ``running_mean``/``running_var``
    unchanged (momentum 0), so passes over generated images do not shift inference statistics."""
    layers = [m for m in module.modules() if isinstance(m, nn.modules.batchnorm._BatchNorm) and m.track_running_stats]
    saved = [(m.momentum, m.num_batches_tracked.clone()) for m in layers]
    for m in layers:
        m.momentum = 0.0
    try:
        yield
    finally:
        for m, (momentum, count) in zip(layers, saved, strict=True):
            m.momentum = momentum
            m.num_batches_tracked.copy_(count)


@dataclass
class SwapForward(Generic[E]):
    """One training swap ``result = G(target, E(source))`` and everything objectives read.

    Attributes:
        target: (B, 3, S, S) real target images in [-1, 1].
        result: (B, 3, S, S) the generator's swaps, with gradient.
        z_source: (B, D) identity embedding of the sources (no gradient).
        z_result: (B, D) identity embedding of the results (gradient flows into ``result``).
        aux: the generator's side output of the main pass (see :class:`SwapGenerator`).
        fake_outputs: the discriminator's per-scale feature lists of ``result`` (last entry of
            each list: the patch logits), with gradient.
        extra: what the objective's ``extra_passes`` returned (e.g. the FaceShifter cycle
            image); ``None`` for an objective without extra passes.
    """

    target: Tensor
    result: Tensor
    z_source: Tensor
    z_result: Tensor
    aux: Any
    fake_outputs: list
    extra: E


#: ``extra_passes(nets, target, result) -> E``: an objective's own passes (see ``SwapNetworks.forward``).
ExtraPasses = Callable[["SwapNetworks", Tensor, Tensor], E]


@dataclass(frozen=True)
class SwapNetworks:
    """The three networks of swap training, as an objective's extra passes see them.

    ``identity`` is frozen (its embeddings of real images carry no gradient, see :meth:`embed`);
    the generator and discriminator train.
    """

    generator: nn.Module
    identity: nn.Module
    discriminator: nn.Module

    @torch.no_grad()
    def embed(self, images: Tensor) -> Tensor:
        """(B, D) identity embeddings of real images (B, 3, S, S) in [-1, 1], without gradient."""
        return self.identity(images)

    def forward(self, source: Tensor, target: Tensor, extra_passes: ExtraPasses[E]) -> SwapForward[E]:
        """The main pass plus the objective's ``extra_passes``.

        Order (kept for reproducible BatchNorm statistics): embed the sources, one generator pass
        ``G(target, z_source)``, the objective's extra passes, embed the results, then the
        discriminator on the results. The extra passes run inside :func:`frozen_batchnorm_stats`
        of the generator: passes over generated images normalise with their own batch statistics
        but do not move the running statistics that inference uses (those describe real targets
        only). A discriminator pass there (e.g. SimSwap's features of the real target) is not
        frozen, exactly as before this contract existed.
        """
        z_source = self.embed(source)
        result, aux = self.generator(target, z_source)
        with frozen_batchnorm_stats(self.generator):
            extra = extra_passes(self, target, result)
        return SwapForward(
            target=target,
            result=result,
            z_source=z_source,
            z_result=self.identity(result),
            aux=aux,
            fake_outputs=self.discriminator(result),
            extra=extra,
        )
