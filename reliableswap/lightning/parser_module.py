"""LightningModule that trains the compact face parser (:class:`FaceParsingUNet`) on label maps.

Loss (at the network's stride-2 output, labels resampled there): pixel cross-entropy + ``dice_weight`` x soft Dice over the classes present
in the batch (Dice lifts the small parts: eyes, brows, lips, which cross-entropy under-weights).
AdamW with linear warm-up and cosine decay over ``trainer.max_steps``.

Validation: IoU pooled over all held-out pixels at the data size (intersection and union summed
over the whole split, then divided), per canonical class and for the groups the issue's targets
name (:data:`IOU_GROUPS`: eyes = left+right eye as one region, etc.). Logged as
``val/iou_<name>`` and ``val/miou`` (mean over the groups); :func:`pooled_iou` is the one
function every report of this project uses (training, ``scripts/eval_face_parser.py``, tests).
"""

from __future__ import annotations

import logging
import math
import os
from collections.abc import Mapping, Sequence
from typing import Any

import pytorch_lightning as pl
import torch
import torch.nn.functional as F
from torch import Tensor

from reliableswap.faces.parsing.labels import ID
from reliableswap.faces.parsing.unet import FaceParsingUNet
from reliableswap.io.atomic import atomic_open

__all__ = ["IOU_GROUPS", "FaceParserModule", "export_face_parser", "pooled_iou", "IoUAccumulator"]

log = logging.getLogger(__name__)

#: Region groups whose pooled IoU is reported (targets of issue 11 and the landmark parser's test).
IOU_GROUPS: dict[str, tuple[str, ...]] = {
    "skin": ("skin",), "hair": ("hair",), "nose": ("nose",), "lips": ("u_lip", "l_lip"),
    "eyes": ("l_eye", "r_eye"), "brows": ("l_brow", "r_brow"), "mouth": ("mouth",),
    "eyeglasses": ("eyeglasses",), "ears": ("l_ear", "r_ear"), "hat": ("hat",), "neck": ("neck",),
    "background": ("background",),
}


class IoUAccumulator:
    """Sums intersection and union per group over batches; :meth:`compute` gives pooled IoU.

    Groups with an empty union over everything seen report NaN (the class never occurred).
    """

    def __init__(self, groups: Mapping[str, Sequence[str]] = IOU_GROUPS) -> None:
        self.groups = {name: torch.tensor([ID[c] for c in classes]) for name, classes in groups.items()}
        self.inter = dict.fromkeys(self.groups, 0)
        self.union = dict.fromkeys(self.groups, 0)

    def update(self, pred: Tensor, target: Tensor) -> None:
        """``pred``/``target``: (B, H, W) integer canonical labels of the same size."""
        if pred.shape != target.shape:
            raise ValueError(f"prediction {tuple(pred.shape)} and target {tuple(target.shape)} differ")
        for name, ids in self.groups.items():
            ids = ids.to(pred.device)
            a, b = torch.isin(pred, ids), torch.isin(target, ids)
            self.inter[name] += int((a & b).sum())
            self.union[name] += int((a | b).sum())

    def compute(self) -> dict[str, float]:
        return {n: (self.inter[n] / self.union[n]) if self.union[n] else float("nan") for n in self.groups}


def pooled_iou(pred: Tensor, target: Tensor, groups: Mapping[str, Sequence[str]] = IOU_GROUPS) -> dict[str, float]:
    """Pooled IoU per group of one set of (B, H, W) label maps."""
    acc = IoUAccumulator(groups)
    acc.update(pred, target)
    return acc.compute()


def soft_dice_loss(logits: Tensor, target: Tensor, eps: float = 1.0) -> Tensor:
    """1 - mean soft Dice over the classes present in ``target`` (B, H, W); logits (B, C, H, W).

    Computed without a one-hot tensor: the per-class intersection is the softmax probability at
    each pixel's true class, summed per class (``index_add``).
    """
    n_classes = logits.shape[1]
    probs = logits.float().softmax(dim=1)
    flat = target.reshape(-1)
    at_truth = probs.gather(1, target.unsqueeze(1)).reshape(-1)
    inter = torch.zeros(n_classes, device=probs.device).index_add_(0, flat, at_truth)
    count = torch.bincount(flat, minlength=n_classes).to(probs.dtype)
    total = probs.sum(dim=(0, 2, 3)) + count
    present = count > 0
    dice = (2 * inter + eps) / (total + eps)
    return 1 - dice[present].mean()


class FaceParserModule(pl.LightningModule):
    """Trains :class:`FaceParsingUNet` (see the module docstring).

    Args:
        widths: U-Net channels at strides 2..32.
        lr: peak AdamW learning rate; ``weight_decay``: AdamW decay.
        warmup_steps: linear warm-up steps before the cosine decay.
        dice_weight: weight of the soft-Dice term next to cross-entropy.
    """

    def __init__(self, widths: Sequence[int] = (24, 48, 96, 144, 192), lr: float = 3e-3, weight_decay: float = 1e-4,
                 warmup_steps: int = 100, dice_weight: float = 1.0) -> None:
        super().__init__()
        self.save_hyperparameters()
        self.net = FaceParsingUNet(widths=tuple(widths))
        self._val = IoUAccumulator()

    def forward(self, images: Tensor) -> Tensor:
        """(B, 3, S, S) in [-1, 1] -> (B, 19, S, S) logits."""
        return self.net.predict_logits(images)

    @staticmethod
    def _images(batch: Mapping[str, Tensor]) -> tuple[Tensor, Tensor]:
        return batch["image"].float() / 127.5 - 1.0, batch["labels"].long()

    def training_step(self, batch: Mapping[str, Tensor], batch_idx: int) -> Tensor:
        images, labels = self._images(batch)
        # The loss is taken at the network's stride-2 output against labels sampled at its pixel
        # centres (half the cost of upsampling 19 logit maps to full size; IoU is measured at full size).
        out_size = images.shape[-1] // 2
        augment = getattr(getattr(self.trainer, "datamodule", None), "augment", None)
        if augment is not None:
            images, labels = augment(images, labels, label_size=out_size)
        else:
            labels = F.interpolate(labels[:, None].float(), size=(out_size, out_size), mode="nearest")[:, 0].long()
        logits = self.net(images)
        ce = F.cross_entropy(logits.float(), labels)
        dice = soft_dice_loss(logits, labels)
        loss = ce + float(self.hparams.dice_weight) * dice
        self.log_dict({"train/loss": loss, "train/ce": ce, "train/dice": dice}, prog_bar=True)
        return loss

    def on_validation_epoch_start(self) -> None:
        self._val = IoUAccumulator()

    def validation_step(self, batch: Mapping[str, Tensor], batch_idx: int) -> None:
        images, labels = self._images(batch)
        self._val.update(self(images).argmax(1), labels)

    def on_validation_epoch_end(self) -> None:
        ious = self._val.compute()
        values = {f"val/iou_{k}": v for k, v in ious.items() if not math.isnan(v)}
        targets = [ious[k] for k in ("skin", "hair", "nose", "lips", "eyes", "brows")]
        values["val/miou"] = float(sum(targets) / len(targets))
        self.log_dict(values, prog_bar=False)
        log.info("held-out IoU at step %d: %s", self.global_step,
                 " ".join(f"{k}={v:.3f}" for k, v in ious.items() if not math.isnan(v)))

    def configure_optimizers(self) -> dict[str, Any]:
        hp = self.hparams
        optimizer = torch.optim.AdamW(self.parameters(), lr=float(hp.lr), weight_decay=float(hp.weight_decay))
        total = max(1, int(self.trainer.estimated_stepping_batches))
        warmup = max(0, int(hp.warmup_steps))

        def factor(step: int) -> float:
            if step < warmup:
                return (step + 1) / warmup
            progress = min(1.0, (step - warmup) / max(1, total - warmup))
            return 0.5 * (1 + math.cos(math.pi * progress))

        scheduler = torch.optim.lr_scheduler.LambdaLR(optimizer, factor)
        return {"optimizer": optimizer, "lr_scheduler": {"scheduler": scheduler, "interval": "step"}}


def export_face_parser(checkpoint: str | os.PathLike[str], output: str | os.PathLike[str]) -> dict[str, Tensor]:
    """Write the parser network of a training checkpoint as a float16 state dict (``net.*`` stripped).

    The file loads with ``torch.load(weights_only=True)`` into :class:`FaceParsingUNet` (widths
    are read back from the shapes by :func:`~reliableswap.faces.parsing.unet.network_from_state`).
    """
    ckpt = torch.load(checkpoint, map_location="cpu", weights_only=True)
    state = {k[len("net."):]: v for k, v in ckpt["state_dict"].items() if k.startswith("net.")}
    if not state:
        raise ValueError(f"{checkpoint} holds no net.* weights (not a face_parser checkpoint)")
    state = {k: (v.half() if v.is_floating_point() else v) for k, v in state.items()}
    with atomic_open(output, "wb") as f:
        torch.save(state, f)
    log.info("face parser: %d tensors written to %s", len(state), output)
    return state

