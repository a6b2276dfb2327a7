"""What every training DataModule shares: where the faces are and how batches are loaded.

:class:`FaceDataModule` holds the loader settings (batch sizes, workers, pinning, persistence,
``drop_last``, seed) and the face rows (a folder or an index CSV, read with the rules of
:mod:`reliableswap.io.rows`). Subclasses add their datasets and samplers and build their loaders
with :meth:`FaceDataModule.loader_kwargs`, so every loader of the project (swap pairs, triplet
batches, identity classification, validation) gets the same worker setup: each worker process
limits OpenCV to one thread (:func:`limit_worker_threads`), otherwise every worker would start a
thread pool the size of the machine and they would fight over the cores.
"""

from __future__ import annotations

import logging
import os
from pathlib import Path
from typing import Any

import pytorch_lightning as pl
import torch

from reliableswap.io.index import IndexRow
from reliableswap.io.rows import load_rows

__all__ = ["FaceDataModule", "FaceDataNotFoundError", "limit_worker_threads"]

log = logging.getLogger(__name__)


class FaceDataNotFoundError(FileNotFoundError):
    """The configured face data folder or index is missing or holds no images."""


def limit_worker_threads(_: int) -> None:
    """DataLoader ``worker_init_fn``: one OpenCV thread per worker process."""
    import cv2

    cv2.setNumThreads(1)


class FaceDataModule(pl.LightningDataModule):
    """Loader settings and face rows shared by the training DataModules.

    Args:
        root: folder of FFHQ-aligned face crops (sub-folder = identity, loose file = its own
            identity), or the folder the ``index`` paths are relative to.
        index: index CSV (:mod:`reliableswap.io.index`); ``None`` scans ``root``.
        batch_size: training batch size; ``val_batch_size`` ``None`` = the same.
        num_workers: training loader worker processes (validation uses at most one).
        seed: seed of splits, samplers and pair draws.
        pin_memory: ``None`` pins when CUDA is available.
        persistent_workers: keep workers alive between epochs (only with workers).
        skip_private: ignore ``.``/``_``-prefixed folders and files when scanning ``root``.
        drop_last: drop the last incomplete training batch (then one full batch is required).
        triplets: output folder of ``supervision.build_triplets``. Only DataModules with
            ``trains_on_triplets`` read it; the others log that they do not. It is accepted by
            every DataModule, in this one place, because every experiment is run with the same
            command line (``experiment=NAME debug=tiny data.triplets=DIR``, the contract of
            issue 4), vanilla and FixerNet ones included.
    """

    #: Whether this DataModule reads ``triplets`` (set by the subclasses that do).
    trains_on_triplets = False

    def __init__(
        self,
        root: str | os.PathLike[str],
        index: str | os.PathLike[str] | None = None,
        *,
        batch_size: int,
        num_workers: int,
        val_batch_size: int | None = None,
        seed: int = 0,
        pin_memory: bool | None = None,
        persistent_workers: bool = True,
        skip_private: bool = False,
        drop_last: bool = True,
        triplets: str | os.PathLike[str] | None = None,
    ) -> None:
        super().__init__()
        self.triplets = Path(triplets) if triplets else None
        if self.triplets is not None and not self.trains_on_triplets:
            log.warning("data.triplets=%s is not used: %s trains without triplets", triplets, type(self).__name__)
        self.root = Path(root)
        self.index = index
        self.batch_size = int(batch_size)
        self.num_workers = int(num_workers)
        self.val_batch_size = int(val_batch_size or batch_size)
        self.seed = int(seed)
        self.pin_memory = torch.cuda.is_available() if pin_memory is None else bool(pin_memory)
        self.persistent_workers = bool(persistent_workers)
        self.skip_private = bool(skip_private)
        self.drop_last = bool(drop_last)

    def state_dict(self) -> dict[str, int]:
        """Where the training data stream stands, saved in every checkpoint by Lightning.

        ``epoch``: the current epoch; ``batches``: training batches of it whose step ran. A
        checkpoint is written after a step, so these are the batches a resumed run must not draw
        again (:meth:`resume_position`).
        """
        trainer = self.trainer
        if trainer is None:
            return {}
        progress = trainer.fit_loop.epoch_loop.batch_progress.current
        return {"epoch": int(trainer.current_epoch), "batches": int(progress.processed)}

    def load_state_dict(self, state_dict: dict[str, Any]) -> None:
        """Remember the checkpoint's stream position for the next :meth:`resume_position`."""
        self._resume_at = (int(state_dict["epoch"]), int(state_dict["batches"])) if state_dict else None

    def resume_position(self, consume: bool = True) -> tuple[int, int] | None:
        """``(epoch, batches done)`` of the checkpoint being resumed, once (then ``None``).

        ``consume=False`` only looks (for a second loader of the same step stream).
        """
        position = getattr(self, "_resume_at", None)
        if not consume:
            return position
        self._resume_at = None
        if position is not None:
            log.info("resuming the training data stream at epoch %d, batch %d", *position)
        return position

    def not_found(self, what: str) -> FaceDataNotFoundError:
        """The error for missing face data, naming the folder, the reason and the settings to fix."""
        return FaceDataNotFoundError(
            f"face data not found at {self.root} ({what}): set RELIABLESWAP_DATA or data.root=..."
        )

    def read_rows(self) -> list[IndexRow]:
        """All rows of the faces; :class:`FaceDataNotFoundError` when the folder, index or images are missing."""
        if not self.root.is_dir():
            raise self.not_found("folder missing")
        try:
            rows = load_rows(self.root, self.index, skip_private=self.skip_private)
        except FileNotFoundError as exc:
            raise self.not_found(str(exc)) from exc
        if not rows:
            raise self.not_found("no images in it")
        return rows

    def check_one_batch(self, num_samples: int, what: str = "training samples") -> None:
        """:class:`ValueError` when ``drop_last`` would leave no batch of ``num_samples``."""
        if self.drop_last and num_samples < self.batch_size:
            raise ValueError(f"{num_samples} {what} are fewer than batch_size={self.batch_size}")

    def loader_kwargs(self, num_workers: int | None = None) -> dict[str, Any]:
        """``DataLoader`` keyword arguments for ``num_workers`` workers (default: the configured count).

        Worker processes get :func:`limit_worker_threads` and, when ``persistent_workers``, stay
        alive between epochs; without workers neither option is passed (PyTorch refuses them).
        """
        workers = self.num_workers if num_workers is None else int(num_workers)
        kwargs: dict[str, Any] = {"num_workers": workers, "pin_memory": self.pin_memory}
        if workers > 0:
            kwargs["persistent_workers"] = self.persistent_workers
            kwargs["worker_init_fn"] = limit_worker_threads
        return kwargs

    def unreadable_images(self) -> dict[str, str]:
        """Unreadable image files (path -> reason) the datasets of this DataModule met in this
        process (with ``num_workers > 0`` each worker process meets and logs its own)."""
        found: dict[str, str] = {}
        for value in vars(self).values():
            images = getattr(value, "images", value)
            record = getattr(images, "unreadable", None) or getattr(value, "unreadable", None)
            if record is not None and hasattr(record, "reasons"):
                found.update(record.reasons)
        return found

    def teardown(self, stage: str) -> None:
        """Report how many unreadable image files were skipped (each was logged when first met)."""
        bad = self.unreadable_images()
        if bad:
            log.warning("%d unreadable image file(s) were skipped and replaced by other samples%s: %s",
                        len(bad), "" if self.num_workers == 0 else " (in the main process; each worker logged its own)",
                        ", ".join(sorted(bad)[:10]) + (" ..." if len(bad) > 10 else ""))

    def val_loader_kwargs(self) -> dict[str, Any]:
        """Loader arguments for the few fixed validation pairs: at most one worker."""
        return self.loader_kwargs(min(self.num_workers, 1))
