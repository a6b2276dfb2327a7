"""LightningModule for swap training (manual optimization: G step, then D step).

Generator-agnostic: the generator (``cfg.model.generator``) and its objective
(``cfg.loss.generator_loss``) meet through the contract of ``reliableswap.models.contract`` and
``reliableswap.losses.objective``; the objective runs whatever passes it needs beyond the main one.
Batches arrive as typed :class:`~reliableswap.data.batch.TrainingBatch` records (``pick_batch``).

Device, precision and distribution are Lightning's job: nothing here names a device, so the same
module runs on CPU, one GPU with bf16/fp16 mixed precision, or DDP across nodes.
"""

from __future__ import annotations

import logging
from collections.abc import Callable, Mapping
from typing import Any

import pytorch_lightning as pl
import torch
from torch import Tensor, nn

import numpy as np

from reliableswap.data.batch import TrainingBatch, pick_batch
from reliableswap.losses.adversarial import HingeAdversarialLoss
from reliableswap.losses.masks import SwapLossMasks
from reliableswap.losses.objective import ObjectiveFactory
from reliableswap.losses.triplet import TRIPLET_CODES, TripletLoss
from reliableswap.models.contract import SwapForward, SwapNetworks

log = logging.getLogger(__name__)


def _step_without_counting(optimizer: Any) -> None:
    """Step a LightningOptimizer without advancing ``trainer.global_step``.

    Lightning counts every optimizer step of manual optimization, so a G step plus a D step would
    make ``trainer.max_steps=N`` mean N/2 iterations and put checkpoints and logs at odd steps.
    Here one training iteration is one global step (the generator's): the discriminator's step
    still goes through the strategy/precision plugin (grad scaling, DDP), only its progress hooks
    are silenced for this call.
    """
    hooks = (optimizer._on_before_step, optimizer._on_after_step)
    optimizer._on_before_step = optimizer._on_after_step = lambda: None
    try:
        optimizer.step()
    finally:
        optimizer._on_before_step, optimizer._on_after_step = hooks


class FaceSwapModule(pl.LightningModule):
    """Trains ``generator(target, z_id) -> (result, aux)`` against a multi-scale discriminator.

    Args:
        generator: a callable ``id_dim -> nn.Module`` (a Hydra ``_partial_``), so the identity
            dimension comes from the configured identity encoder instead of being repeated in
            config; the module follows :class:`~reliableswap.models.contract.SwapGenerator`.
        discriminator: the patch discriminator.
        identity_encoder: frozen ``images -> (B, D)`` unit vectors with ``embedding_dim``.
        generator_loss: the generator objective's factory (``cfg.loss.generator_loss``, a Hydra
            ``_partial_``), called as ``generator_loss(weights=loss_weights, perceptual=perceptual)``
            (see ``reliableswap.losses.objective``).
        loss_weights: weights of the generator terms (``cfg.loss.weights``).
        perceptual: optional VGG feature loss, given to the objective and the triplet loss.
        lr, betas: Adam settings (FaceShifter: 1e-4, (0, 0.999) for G and D).
        lr_d: the discriminator's learning rate; ``None`` = ``lr`` (the paper's shared rate).
        identity_lr_scale: multiplies ``lr`` for the generator's identity layers (the ones that
            read ``z_id``, ``generator.identity_parameters()``); 1 = the paper.
        warmup_steps: linear learning-rate warm-up of G and D over the first steps; 0 = none.
        channels_last: use the NHWC memory format on CUDA (faster convolutions with AMP).
        triplet_rate: share of training steps that use the triplet batch of a combined
            ``{"vanilla", "triplet"}`` loader (ReliableSwap: ~0.2); 0 = vanilla training.
        triplet_loss_weights, triplet_codes: the triplet terms (see ``TripletLoss``).
        triplet_seed: seeds the per-step triplet/vanilla choice (identical on every DDP rank).
    """

    def __init__(
        self,
        generator: Callable[..., nn.Module],
        discriminator: nn.Module,
        identity_encoder: nn.Module,
        generator_loss: ObjectiveFactory,
        loss_weights: Mapping[str, float] | None = None,
        perceptual: nn.Module | None = None,
        lr: float = 1e-4,
        betas: tuple[float, float] = (0.0, 0.999),
        lr_d: float | None = None,
        identity_lr_scale: float = 1.0,
        warmup_steps: int = 0,
        channels_last: bool = True,
        triplet_rate: float = 0.0,
        triplet_loss_weights: Mapping[str, float] | None = None,
        triplet_codes: tuple[int, ...] | list[int] = TRIPLET_CODES,
        triplet_seed: int = 0,
    ) -> None:
        super().__init__()
        self.automatic_optimization = False
        self.identity = identity_encoder
        self.generator = generator(id_dim=int(identity_encoder.embedding_dim))
        self.discriminator = discriminator
        self.g_loss = generator_loss(weights=dict(loss_weights or {}), perceptual=perceptual)
        self.adversarial = HingeAdversarialLoss()
        self.triplet_loss = TripletLoss(dict(triplet_loss_weights or {}), codes=tuple(triplet_codes), vgg=perceptual)
        self.parts: dict[str, slice] | None = getattr(identity_encoder, "parts", None)
        if not 0.0 <= triplet_rate <= 1.0:
            raise ValueError(f"triplet_rate must be in [0, 1], got {triplet_rate}")
        self.triplet_rate = float(triplet_rate)
        self.triplet_seed = int(triplet_seed)
        self.triplet_preview: dict[str, Tensor] | None = None
        self.lr = lr
        self.lr_d = lr if lr_d is None else lr_d
        if identity_lr_scale <= 0 or warmup_steps < 0:
            raise ValueError(f"identity_lr_scale must be > 0 and warmup_steps >= 0, got {identity_lr_scale}, {warmup_steps}")
        if identity_lr_scale != 1.0 and not hasattr(self.generator, "identity_parameters"):
            raise ValueError(f"identity_lr_scale needs a generator with identity_parameters(); {type(self.generator).__name__} has none")
        self.identity_lr_scale = float(identity_lr_scale)
        self.warmup_steps = int(warmup_steps)
        self.betas = tuple(betas)
        self.channels_last = channels_last
        self.save_hyperparameters(
            {
                "loss_weights": self.g_loss.weights,
                "lr": lr,
                "lr_d": self.lr_d,
                "identity_lr_scale": self.identity_lr_scale,
                "warmup_steps": self.warmup_steps,
                "betas": list(self.betas),
                "channels_last": channels_last,
                "triplet_rate": self.triplet_rate,
                "triplet_loss_weights": self.triplet_loss.weights,
                "triplet_codes": list(self.triplet_loss.codes),
            }
        )

    # -- checkpoint ------------------------------------------------------------------------------
    #: The composed config (model, identity, loss, data.size) this module was built from, set by
    #: ``reliableswap.apps.train``; stored in every checkpoint so inference can rebuild the model
    #: from the checkpoint alone (see ``reliableswap.inference.loading``).
    build_config: dict | None = None

    def on_save_checkpoint(self, checkpoint: dict[str, Any]) -> None:
        if self.build_config is not None:
            checkpoint["reliableswap_config"] = self.build_config

    # -- setup ---------------------------------------------------------------------------------
    def configure_optimizers(self) -> Any:
        groups: list[dict[str, Any]] = [{"params": list(self.generator.parameters()), "lr": self.lr}]
        if self.identity_lr_scale != 1.0:
            identity = {id(p) for p in self.generator.identity_parameters()}
            groups = [
                {"params": [p for p in self.generator.parameters() if id(p) not in identity], "lr": self.lr},
                {"params": self.generator.identity_parameters(), "lr": self.lr * self.identity_lr_scale},
            ]
        opt_g = torch.optim.Adam(groups, betas=self.betas)
        opt_d = torch.optim.Adam(self.discriminator.parameters(), lr=self.lr_d, betas=self.betas)
        if not self.warmup_steps:
            return [opt_g, opt_d]
        warmup = self.warmup_steps

        def ramp(step: int) -> float:
            return min(1.0, (step + 1) / warmup)

        schedulers = [torch.optim.lr_scheduler.LambdaLR(opt, ramp) for opt in (opt_g, opt_d)]
        return [opt_g, opt_d], schedulers

    def on_fit_start(self) -> None:
        if self.channels_last and self.device.type == "cuda":
            self.generator.to(memory_format=torch.channels_last)
            self.discriminator.to(memory_format=torch.channels_last)
            log.info("using channels_last memory format")

    def _images(self, x: Tensor) -> Tensor:
        if self.channels_last and x.device.type == "cuda":
            return x.contiguous(memory_format=torch.channels_last)
        return x

    # -- inference ----------------------------------------------------------------------------
    @torch.no_grad()
    def swap(self, source: Tensor, target: Tensor) -> Tensor:
        """Swap the identity of ``source`` into ``target`` (both aligned crops in [-1, 1])."""
        result, _ = self.generator(self._images(target), self.identity(self._images(source)))
        return result

    # -- training -----------------------------------------------------------------------------
    @property
    def nets(self) -> SwapNetworks:
        """The current generator, identity encoder and discriminator (read on every call, so a
        wrapped network, e.g. ``torch.compile``, is the one used)."""
        return SwapNetworks(generator=self.generator, identity=self.identity, discriminator=self.discriminator)

    def generator_forward(self, source: Tensor, target: Tensor) -> SwapForward:
        """The main generator pass plus the passes the objective asks for (its ``extra_passes``)."""
        return self.nets.forward(source, target, self.g_loss.extra_passes)

    def train_iteration(
        self,
        batch: TrainingBatch,
        opt_g: Any,
        opt_d: Any,
        backward: Callable[[Tensor], None],
        step_d: Callable[[Any], None] | None = None,
    ) -> tuple[dict[str, Tensor], Tensor, SwapLossMasks]:
        """One iteration: generator step, then discriminator step.

        Independent of the Trainer (the benchmark drives it with plain optimizers and
        ``Tensor.backward``). Each network's parameters stop requiring gradients while the other
        one is updated, so no gradient is computed that would be thrown away.
        """
        source, target = self._images(batch.source), self._images(batch.target)
        masks = SwapLossMasks.from_same_flags(batch.same)

        self.discriminator.requires_grad_(False)
        out = self.generator_forward(source, target)
        terms = self.g_loss(out, masks, self.parts)
        if batch.reference is not None and batch.type_code is not None:
            reference = self._images(batch.reference)
            with torch.no_grad():
                z_reference = self.identity(reference)
            triplet = self.triplet_loss(out.result, reference, out.z_result, z_reference, batch.type_code, self.parts)
            terms.update({f"triplet/{k}": v for k, v in triplet.items()})
            terms["total"] = terms["total"] + triplet["total"]
            self.triplet_preview = {
                "source": source.detach(), "target": target.detach(), "result": out.result.detach(),
                "reference": reference.detach(), "type_code": batch.type_code.detach(),
            }
        opt_g.zero_grad(set_to_none=True)
        backward(terms["total"])
        opt_g.step()
        self.discriminator.requires_grad_(True)

        self.generator.requires_grad_(False)
        real_outputs = self.discriminator(source)
        fake_outputs = self.discriminator(out.result.detach())
        d_loss = self.adversarial.discriminator(real_outputs, fake_outputs)
        opt_d.zero_grad(set_to_none=True)
        backward(d_loss)
        (step_d or (lambda opt: opt.step()))(opt_d)
        self.generator.requires_grad_(True)
        return terms, d_loss, masks

    def is_triplet_step(self, step: int) -> bool:
        """Seeded per-step coin: the same answer on every rank and after a resume."""
        if self.triplet_rate <= 0.0:
            return False
        return bool(np.random.default_rng([self.triplet_seed, step]).random() < self.triplet_rate)

    def training_step(self, batch: Mapping[str, Any], batch_idx: int) -> Tensor:
        opt_g, opt_d = self.optimizers()
        self.triplet_preview = None
        step = self.global_step  # this iteration's index (the G step below advances global_step)
        picked = pick_batch(batch, self.is_triplet_step(step))
        terms, d_loss, masks = self.train_iteration(picked, opt_g, opt_d, self.manual_backward, _step_without_counting)
        if self.warmup_steps:
            for scheduler in self.lr_schedulers():
                scheduler.step()
        batch_size = picked.size
        scalars = {f"train/g_{k}": v.detach() for k, v in terms.items() if not k.startswith("triplet/")}
        self._log_triplet_terms({f"train/{k}": v for k, v in terms.items() if k.startswith("triplet/")}, step)
        scalars["train/triplet_step"] = torch.tensor(float(picked.is_triplet))
        scalars["train/d_loss"] = d_loss.detach()
        scalars["train/same_fraction"] = masks.reconstruction.float().mean()
        scalars["train/lr_g"] = torch.tensor(opt_g.param_groups[0]["lr"])
        scalars["train/lr_d"] = torch.tensor(opt_d.param_groups[0]["lr"])
        self.log_dict(scalars, batch_size=batch_size, on_step=True, on_epoch=False)
        self.log("loss", terms["total"].detach(), prog_bar=True, batch_size=batch_size, logger=False)
        return terms["total"].detach()

    def _log_triplet_terms(self, scalars: Mapping[str, Tensor], step: int) -> None:
        """Write the triplet terms of this (triplet) step straight to the loggers.

        Through ``self.log`` a key that is not logged every step is written at the next
        logging step with its *stale* value, so vanilla steps would show the last triplet loss.
        Triplet steps are a seeded ~20% of steps: each is written once, at its own step.
        """
        if not scalars or self._trainer is None or not self.trainer.is_global_zero:
            return
        values = {k: float(v.detach()) for k, v in scalars.items()}
        for logger in self.loggers:
            logger.log_metrics(values, step=step)

    def validation_step(self, batch: Mapping[str, Any], batch_idx: int) -> None:
        pairs = pick_batch(batch)
        source, target = self._images(pairs.source), self._images(pairs.target)
        result = self.swap(source, target)
        z_source = self.identity(source)
        similarity = torch.nn.functional.cosine_similarity(self.identity(result), z_source, dim=1)
        # the same number for the copy-target baseline (a model that returns the target)
        baseline = torch.nn.functional.cosine_similarity(self.identity(target), z_source, dim=1)
        n = source.shape[0]
        self.log("val/id_similarity", similarity.mean(), batch_size=n, sync_dist=True)
        self.log("val/id_similarity_copy_target", baseline.mean(), batch_size=n, sync_dist=True)
