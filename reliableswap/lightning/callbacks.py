"""Callbacks: swap image grids for TensorBoard and a final PNG in the run directory."""

from __future__ import annotations

import logging
from collections.abc import Mapping
from pathlib import Path
from typing import Any

import pytorch_lightning as pl
import torch
from pytorch_lightning.loggers import TensorBoardLogger
from torch import Tensor
from torchvision.utils import make_grid, save_image

from reliableswap.data.batch import pick_batch
from reliableswap.io.atomic import atomic_open

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


def save_png(grid: Tensor, path: Path) -> None:
    """Write an image grid (3, H, W) in [0, 1] as a PNG, atomically (:mod:`reliableswap.io.atomic`)."""
    with atomic_open(path, "wb") as handle:
        save_image(grid, handle, format="png")


class SwapGridLogger(pl.Callback):
    """Every ``every_n_steps`` swaps a fixed set of pairs and logs rows target | source | result | cycle.

    The pairs are taken once (validation pairs when a val loader exists, else the first training
    batch), so successive grids show the same faces and progress is visible. Every grid is also
    written, labelled with its step, to ``<run dir>/<png_dir>/step_XXXXXXX.png`` (``png_dir: null``
    = TensorBoard only), and the last one to ``<run dir>/<final_png>``.
    """

    def __init__(
        self, every_n_steps: int = 100, max_images: int = 6, final_png: str = "swap_grid_final.png",
        png_dir: str | None = "grids",
    ) -> None:
        self.every_n_steps = every_n_steps
        self.max_images = max_images
        self.final_png = final_png
        self.png_dir = png_dir
        self._pairs: tuple[Tensor, Tensor] | None = None
        self.last_png: Path | None = None

    def _fixed_pairs(self, trainer: pl.Trainer, batch: Mapping[str, Any]) -> tuple[Tensor, Tensor]:
        if self._pairs is None:
            pairs = pick_batch(batch)  # the vanilla part of combined vanilla + triplet loaders
            source, target = pairs.source, pairs.target
            # the validation pairs, read directly: no extra DataLoader (and worker processes)
            val_dataset = getattr(getattr(trainer, "datamodule", None), "val_dataset", None)
            if val_dataset is not None and len(val_dataset):
                items = [val_dataset[i] for i in range(min(self.max_images, len(val_dataset)))]
                source = torch.stack([it["source"] for it in items])
                target = torch.stack([it["target"] for it in items])
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
        grid = label_rows(grid, ["target", "source", "result", "cycle"], cell=pairs[0].shape[-1], title=f"step {step}")
        if self.png_dir and trainer.is_global_zero:
            save_png(grid, Path(trainer.default_root_dir) / self.png_dir / f"step_{step:07d}.png")
        return grid

    def on_train_end(self, trainer: pl.Trainer, pl_module: pl.LightningModule) -> None:
        if self._pairs is None or not trainer.is_global_zero:
            return
        grid = self._log(trainer, pl_module, self._pairs, trainer.global_step)
        path = Path(trainer.default_root_dir) / self.final_png
        save_png(grid, path)
        self.last_png = path
        log.info("final swap grid (rows: target | source | result | cycle) written to %s", path)


def _put_labels(grid: Tensor, spots: list[tuple[str, int, int]]) -> Tensor:
    """Write short texts at (x, y) pixel positions of a (3, H, W) grid in [0, 1] (outlined)."""
    import cv2
    import numpy as np

    image = np.ascontiguousarray((grid.permute(1, 2, 0).numpy() * 255).astype(np.uint8))
    for text, x, y in spots:
        cv2.putText(image, text, (x, y), cv2.FONT_HERSHEY_SIMPLEX, 0.45, (0, 0, 0), 3, cv2.LINE_AA)
        cv2.putText(image, text, (x, y), cv2.FONT_HERSHEY_SIMPLEX, 0.45, (255, 255, 0), 1, cv2.LINE_AA)
    return torch.from_numpy(image).permute(2, 0, 1).float() / 255


def label_columns(grid: Tensor, labels: list[str], cell: int, padding: int = 2) -> Tensor:
    """Write one short label at the top-left of each column of the first grid row."""
    return _put_labels(grid, [(text, padding + i * (cell + padding) + 3, padding + 14) for i, text in enumerate(labels)])


def label_rows(grid: Tensor, labels: list[str], cell: int, padding: int = 2, title: str | None = None) -> Tensor:
    """Write one label at the bottom-left of each row's first cell, and ``title`` at the top-left."""
    spots = [(text, padding + 3, padding + i * (cell + padding) + cell - 5) for i, text in enumerate(labels)]
    if title:
        spots.append((title, padding + 3, padding + 14))
    return _put_labels(grid, spots)


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
