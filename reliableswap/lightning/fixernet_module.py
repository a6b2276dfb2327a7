"""LightningModule that trains FixerNet (lower-face recogniser) with an ArcFace margin head.

Recipe (ReliableSwap's MouthNet training, see the spec's FixerNet paragraph): iresnet50 on the
56x56 lower-face crop of the 112 ArcFace crop, 128-d, ArcFace margin (s 64, m 0.5), SGD with
lr 0.1 x global_batch / 512, momentum 0.9, weight decay 5e-4, 25 epochs, lr x0.1 at epochs
11, 17 and 22 (``schedule: step``; ``cosine`` is the alternative), gradient-norm clip 5.

The module sees FFHQ-aligned crops (the project's one convention) and does the FFHQ -> 112 warp
and the lower-face crop itself, with the same functions the frozen
:class:`~reliableswap.models.identity.fixernet.FixerNetEncoder` uses, so the trained network is
exported (:func:`export_fixernet`) in the release layout and loads into the encoder unchanged.

Validation: verification accuracy on held-out pairs (same / different identity), with the best
threshold on the cosine similarity, computed over all pairs in ``on_validation_epoch_end`` and
logged as ``val/verification_acc`` (+ ``val/verification_threshold``). The threshold is picked on
the same pairs it is scored on (no k-fold), so the number is slightly optimistic; use many pairs.

Through the generic ``train.py`` entry, :func:`reliableswap.apps.train.build_module` passes only
the collaborators a config names: ``configs/experiment/fixernet.yaml`` names no identity encoder
and no perceptual loss, and ``loss_weights["margin"]`` scales the classification loss.
"""

from __future__ import annotations

import logging
import math
import os
from collections.abc import Mapping, Sequence
from typing import Any, Literal

import pytorch_lightning as pl
import torch
import torch.nn.functional as F
from torch import Tensor

from reliableswap.faces.alignment import ffhq_to_arcface, lower_face_crop
from reliableswap.io.atomic import atomic_open
from reliableswap.models.identity.fixernet import FixerNet
from reliableswap.models.identity.iresnet import IRESNET_LAYERS, IRESNET_WIDTHS
from reliableswap.models.margin import ArcFaceMargin

log = logging.getLogger(__name__)

Schedule = Literal["step", "cosine", "constant"]
#: ReliableSwap's step schedule for 25 epochs: x0.1 at epochs 11, 17, 22 (as fractions of training).
STEP_MILESTONES: tuple[float, ...] = (10 / 25, 16 / 25, 21 / 25)


def best_threshold_accuracy(similarity: Tensor, same: Tensor) -> tuple[float, float]:
    """Verification accuracy at the best threshold ``same := similarity > t`` and that threshold.

    Exhaustive over the midpoints between sorted similarities (plus both ends), O(N log N).
    """
    if similarity.shape != same.shape or similarity.ndim != 1 or similarity.numel() == 0:
        raise ValueError(f"expected two equal non-empty 1-D tensors, got {tuple(similarity.shape)}, {tuple(same.shape)}")
    sim, order = similarity.double().sort()
    label = same.bool()[order]
    n = sim.numel()
    # Threshold below position k: samples < k predicted different, >= k predicted same.
    diff_below = torch.cat([torch.zeros(1, dtype=torch.long), torch.cumsum((~label).long(), 0)])
    same_above = torch.cat([torch.cumsum(label.flip(0).long(), 0).flip(0), torch.zeros(1, dtype=torch.long)])
    correct = diff_below + same_above
    # Only cut between distinct values: ties must fall on the same side.
    valid = torch.ones(n + 1, dtype=torch.bool)
    valid[1:n] = sim[1:] > sim[:-1]
    correct = torch.where(valid, correct, torch.full_like(correct, -1))
    k = int(correct.argmax())
    if k == 0:
        threshold = float(sim[0]) - 1e-6
    elif k == n:
        threshold = float(sim[-1]) + 1e-6
    else:
        threshold = float((sim[k - 1] + sim[k]) / 2)
    return float(correct[k]) / n, threshold


def lr_factor(progress: float, schedule: Schedule, warmup: float = 0.0,
              milestones: Sequence[float] = STEP_MILESTONES, gamma: float = 0.1) -> float:
    """Learning-rate multiplier at ``progress`` in [0, 1] of training (linear warm-up first)."""
    if warmup > 0 and progress < warmup:
        return (progress + 1e-8) / warmup
    if schedule == "constant":
        return 1.0
    if schedule == "step":
        return gamma ** sum(1 for m in milestones if progress >= m)
    if schedule == "cosine":
        p = (progress - warmup) / max(1e-8, 1.0 - warmup)
        return 0.5 * (1.0 + math.cos(math.pi * min(1.0, p)))
    raise ValueError(f"unknown schedule '{schedule}' (step, cosine, constant)")


class FixerNetModule(pl.LightningModule):
    """FixerNet backbone + ArcFace margin head, trained by identity classification.

    Args:
        num_classes: training identities; ``None`` = read ``num_classes`` from the datamodule
            in :meth:`setup` (the generic Hydra entry builds the module before the data).
        layers, widths, embedding_dim: FixerNet architecture (default iresnet50, 128-d, the
            released layout; narrow variants only for CPU smoke runs).
        margin: ``s``, ``m``, ``easy_margin`` of the ArcFace head.
        lr: base learning rate for a global batch of ``lr_reference_batch`` (0.1 per 512).
        momentum, weight_decay: SGD settings (0.9, 5e-4).
        schedule: ``step`` (x0.1 at 10/25, 16/25, 21/25 of training), ``cosine`` or ``constant``.
        warmup: fraction of training with a linear lr warm-up (0 = none, as the original).
        grad_clip: max gradient norm (5 as the original; 0 = off).
        loss_weights: ``{"margin": w}`` scales the classification loss (default 1).
    """

    def __init__(
        self,
        num_classes: int | None = None,
        layers: Sequence[int] = IRESNET_LAYERS["r50"],
        widths: Sequence[int] = IRESNET_WIDTHS,
        embedding_dim: int = 128,
        margin: Mapping[str, Any] | None = None,
        lr: float = 0.1,
        lr_reference_batch: int = 512,
        momentum: float = 0.9,
        weight_decay: float = 5e-4,
        schedule: Schedule = "step",
        warmup: float = 0.0,
        grad_clip: float = 5.0,
        loss_weights: Mapping[str, float] | None = None,
    ) -> None:
        super().__init__()
        weights = dict(loss_weights or {})
        unknown = set(weights) - {"margin"}
        if unknown:
            raise ValueError(f"unknown FixerNet loss weight(s) {sorted(unknown)}; only 'margin'")
        self.margin_weight = float(weights.get("margin", 1.0))
        self.margin_cfg = {"s": 64.0, "m": 0.5, "easy_margin": False, **dict(margin or {})}
        self.fixer = FixerNet(layers=layers, widths=widths, embedding_dim=embedding_dim)
        self.head: ArcFaceMargin | None = None
        self.save_hyperparameters()
        if num_classes is not None:
            self._build_head(int(num_classes))
        self._val_similarity: list[Tensor] = []
        self._val_same: list[Tensor] = []

    def _build_head(self, num_classes: int) -> None:
        self.head = ArcFaceMargin(self.fixer.embedding_dim, num_classes, **self.margin_cfg)
        self.hparams["num_classes"] = num_classes  # so checkpoints rebuild the head

    def setup(self, stage: str) -> None:
        if self.head is None:
            datamodule = getattr(self.trainer, "datamodule", None) if self._trainer is not None else None
            num_classes = getattr(datamodule, "num_classes", None)
            if num_classes is None:
                raise ValueError("num_classes is unknown: pass it or use a datamodule with a num_classes property")
            self._build_head(int(num_classes))
            log.info("ArcFace margin head for %d identities", num_classes)

    def lower_face(self, images: Tensor) -> Tensor:
        """FFHQ-aligned crops [B, 3, S, S] in [-1, 1] -> FixerNet's 56x56 lower-face crops."""
        return lower_face_crop(ffhq_to_arcface(images))

    def forward(self, images: Tensor) -> Tensor:
        """(B, D) raw (not normalised) embeddings of FFHQ-aligned crops."""
        return self.fixer(self.lower_face(images))

    def training_step(self, batch: Mapping[str, Tensor], batch_idx: int) -> Tensor:
        assert self.head is not None, "setup() builds the head"
        images, labels = batch["image"], batch["label"]
        embeddings = self(images)
        logits = self.head(embeddings, labels)
        ce = F.cross_entropy(logits, labels)
        loss = self.margin_weight * ce
        with torch.no_grad():
            acc = (self.head.cosine(embeddings).argmax(1) == labels).float().mean()
        n = images.shape[0]
        self.log_dict({"train/loss": loss.detach(), "train/acc": acc, "train/lr": self._current_lr()},
                      on_step=True, on_epoch=False, batch_size=n)
        self.log("loss", loss.detach(), prog_bar=True, logger=False, batch_size=n)
        return loss

    def _current_lr(self) -> float:
        try:
            return float(self.optimizers().param_groups[0]["lr"])  # type: ignore[union-attr]
        except (RuntimeError, AttributeError):
            return float("nan")

    def validation_step(self, batch: Mapping[str, Tensor], batch_idx: int) -> None:
        a, b = self(batch["a"]), self(batch["b"])
        self._val_similarity.append(F.cosine_similarity(a.float(), b.float(), dim=1).detach())
        self._val_same.append(batch["same"].bool().detach())

    def on_validation_epoch_start(self) -> None:
        self._val_similarity.clear()
        self._val_same.clear()

    def on_validation_epoch_end(self) -> None:
        if not self._val_similarity:
            return
        similarity = torch.cat(self._val_similarity)
        same = torch.cat(self._val_same)
        if self.trainer.world_size > 1:  # every rank scores all pairs
            similarity = self.all_gather(similarity).reshape(-1)
            same = self.all_gather(same).reshape(-1)
        acc, threshold = best_threshold_accuracy(similarity.cpu(), same.cpu())
        self.log_dict({"val/verification_acc": acc, "val/verification_threshold": threshold,
                       "val/num_pairs": float(same.numel())}, rank_zero_only=True)
        self._val_similarity.clear()
        self._val_same.clear()

    def configure_optimizers(self) -> dict[str, Any]:
        hp = self.hparams
        global_batch = self._global_batch_size()
        lr = float(hp.lr) * global_batch / float(hp.lr_reference_batch)
        log.info("SGD lr %.5g for a global batch of %d (%.3g per %d)", lr, global_batch, hp.lr, hp.lr_reference_batch)
        optimizer = torch.optim.SGD(self.parameters(), lr=lr, momentum=float(hp.momentum),
                                    weight_decay=float(hp.weight_decay))
        total = max(1, int(self.trainer.estimated_stepping_batches))
        schedule, warmup = hp.schedule, float(hp.warmup)
        lr_factor(0.0, schedule, warmup)  # validate the name now, not at step 1
        scheduler = torch.optim.lr_scheduler.LambdaLR(optimizer, lambda step: lr_factor(step / total, schedule, warmup))
        return {"optimizer": optimizer, "lr_scheduler": {"scheduler": scheduler, "interval": "step"}}

    def configure_gradient_clipping(self, optimizer: torch.optim.Optimizer, gradient_clip_val: float | None = None,
                                    gradient_clip_algorithm: str | None = None) -> None:
        clip = gradient_clip_val or float(self.hparams.grad_clip)
        if clip and clip > 0:
            self.clip_gradients(optimizer, gradient_clip_val=clip, gradient_clip_algorithm="norm")

    def _global_batch_size(self) -> int:
        datamodule = getattr(self.trainer, "datamodule", None)
        batch = getattr(datamodule, "batch_size", None)
        if batch is None:
            loader = self.trainer.train_dataloader
            batch = getattr(loader, "batch_size", None) or 1
        return int(batch) * int(self.trainer.world_size) * int(self.trainer.accumulate_grad_batches)


def export_fixernet(checkpoint: str | os.PathLike[str], output: str | os.PathLike[str]) -> None:
    """Write the FixerNet of a training checkpoint in the release layout (``backbone.*`` + ``vgg_*``).

    The result loads with :func:`~reliableswap.models.identity.fixernet.build_fixernet`
    (``weights_path=output``, and the same ``layers``/``widths`` as the training run).
    """
    ckpt = torch.load(checkpoint, map_location="cpu", weights_only=True)
    state = {k[len("fixer."):]: v for k, v in ckpt["state_dict"].items() if k.startswith("fixer.")}
    if not state:
        raise ValueError(f"{checkpoint}: no 'fixer.*' tensors (not a FixerNetModule checkpoint?)")
    with atomic_open(output, "wb") as handle:
        torch.save(state, handle)
    log.info("exported FixerNet (%d tensors) to %s", len(state), output)

