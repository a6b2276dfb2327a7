"""Callbacks: swap image grids for TensorBoard and a final PNG in the run directory."""

from __future__ import annotations

import logging
from pathlib import Path

import pytorch_lightning as pl
import torch
from pytorch_lightning.loggers import TensorBoardLogger
from torch import Tensor
from torchvision.utils import make_grid, save_image

log = logging.getLogger(__name__)


def swap_grid(rows: list[Tensor]) -> Tensor:
    """Stack equally-sized image batches as rows (each row one kind, each column one pair)."""
    images = torch.cat([r.detach().float().cpu() for r in rows], dim=0)
    return make_grid((images.clamp(-1, 1) + 1) / 2, nrow=rows[0].shape[0], padding=2)


def add_image(trainer: pl.Trainer, tag: str, grid: Tensor, step: int) -> None:
    """Send an image grid to every TensorBoard logger of the trainer (others have no images)."""
    for logger in trainer.loggers:
        if isinstance(logger, TensorBoardLogger):
            logger.experiment.add_image(tag, grid, global_step=step)


class SwapGridLogger(pl.Callback):
    """Every ``every_n_steps`` swaps a fixed set of pairs and logs rows target | source | result | cycle.

    The pairs are taken once (validation pairs when a val loader exists, else the first training
    batch), so successive grids show the same faces and progress is visible. At the end of
    training the last grid is also written to ``<run dir>/<final_png>``.
    """

    def __init__(self, every_n_steps: int = 100, max_images: int = 6, final_png: str = "swap_grid_final.png") -> None:
        self.every_n_steps = every_n_steps
        self.max_images = max_images
        self.final_png = final_png
        self._pairs: tuple[Tensor, Tensor] | None = None
        self.last_png: Path | None = None

    def _fixed_pairs(self, trainer: pl.Trainer, batch: dict) -> tuple[Tensor, Tensor]:
        if self._pairs is None:
            batch = batch.get("vanilla", batch)  # combined vanilla + triplet loaders
            source, target = batch["source"], batch["target"]
            datamodule = getattr(trainer, "datamodule", None)
            if datamodule is not None and hasattr(datamodule, "val_dataloader"):
                try:
                    val_batch = next(iter(datamodule.val_dataloader()))
                    source, target = val_batch["source"], val_batch["target"]
                except (StopIteration, NotImplementedError, ValueError):
                    pass
            self._pairs = (source[: self.max_images].detach().cpu(), target[: self.max_images].detach().cpu())
        return self._pairs

    @torch.no_grad()
    def _render(self, pl_module: pl.LightningModule, source: Tensor, target: Tensor) -> Tensor:
        was_training = pl_module.training
        pl_module.eval()
        try:
            source, target = source.to(pl_module.device), target.to(pl_module.device)
            result = pl_module.swap(source, target)
            cycled = pl_module.swap(target, result)
        finally:
            pl_module.train(was_training)
        return swap_grid([target, source, result, cycled])

    def on_train_batch_end(self, trainer: pl.Trainer, pl_module: pl.LightningModule, outputs, batch, batch_idx: int) -> None:
        step = trainer.global_step
        pairs = self._fixed_pairs(trainer, batch)
        if step % self.every_n_steps != 0 and step != 1:
            return
        self._log(trainer, pl_module, pairs, step)

    def _log(self, trainer: pl.Trainer, pl_module: pl.LightningModule, pairs: tuple[Tensor, Tensor], step: int) -> Tensor:
        grid = self._render(pl_module, *pairs)
        add_image(trainer, "train/swap_grid", grid, step)
        return grid

    def on_train_end(self, trainer: pl.Trainer, pl_module: pl.LightningModule) -> None:
        if self._pairs is None or not trainer.is_global_zero:
            return
        grid = self._log(trainer, pl_module, self._pairs, trainer.global_step)
        path = Path(trainer.default_root_dir) / self.final_png
        path.parent.mkdir(parents=True, exist_ok=True)
        tmp = path.with_suffix(".tmp.png")
        save_image(grid, tmp)
        tmp.replace(path)
        self.last_png = path
        log.info("final swap grid (rows: target | source | result | cycle) written to %s", path)


def label_columns(grid: Tensor, labels: list[str], cell: int, padding: int = 2) -> Tensor:
    """Write one short label at the top-left of each column of the first grid row."""
    import cv2
    import numpy as np

    image = np.ascontiguousarray((grid.permute(1, 2, 0).numpy() * 255).astype(np.uint8))
    for i, text in enumerate(labels):
        x = padding + i * (cell + padding) + 3
        cv2.putText(image, text, (x, padding + 14), cv2.FONT_HERSHEY_SIMPLEX, 0.45, (0, 0, 0), 3, cv2.LINE_AA)
        cv2.putText(image, text, (x, padding + 14), cv2.FONT_HERSHEY_SIMPLEX, 0.45, (255, 255, 0), 1, cv2.LINE_AA)
    return torch.from_numpy(image).permute(2, 0, 1).float() / 255


class TripletGridLogger(pl.Callback):
    """On triplet steps (at most every ``every_n_steps``) logs rows source | target | result |
    reference of the training batch, each column labelled with its type code."""

    def __init__(self, every_n_steps: int = 100, max_images: int = 6) -> None:
        self.every_n_steps = every_n_steps
        self.max_images = max_images
        self._last_step: int | None = None

    def on_train_batch_end(self, trainer: pl.Trainer, pl_module: pl.LightningModule, outputs, batch, batch_idx: int) -> None:
        preview = getattr(pl_module, "triplet_preview", None)
        step = trainer.global_step
        if preview is None or (self._last_step is not None and step - self._last_step < self.every_n_steps):
            return
        self._last_step = step
        k = self.max_images
        rows = [preview[name][:k] for name in ("source", "target", "result", "reference")]
        grid = swap_grid(rows)
        codes = [f"code {int(c)}" for c in preview["type_code"][:k]]
        grid = label_columns(grid, codes, cell=rows[0].shape[-1])
        add_image(trainer, "train/triplet_grid", grid, step)
