"""Lightning DataModule for vanilla face-swap training (pairs from one face folder or index).

Batches are dicts (see :class:`reliableswap.data.pairs.FacePairDataset`); after default
collation with batch size B and training size S:

``source``, ``target``  float32 (B, 3, S, S) in [-1, 1]
``same``                bool (B,) - reconstruction pair (pixel loss applies)
``source_index``, ``target_index``  int64 (B,) - positions in the split's rows
``source_id``, ``target_id``, ``source_path``, ``target_path``  list[str] of length B

Train/validation split is by *identity* (seeded), so validation never shows a person seen in
training. Validation uses :class:`~reliableswap.data.pairs.EvalPairs`: fixed pairs, no
augmentation, for metrics and image grids.

Distributed training: the training loader uses :class:`~reliableswap.data.pairs.PairBatchSampler`
around a :class:`~reliableswap.data.pairs.SeededRandomSampler`. Under DDP, Lightning's default
``use_distributed_sampler=True`` rebuilds the batch sampler around a shuffled
``DistributedSampler``, so every rank reads a disjoint shard and tosses its own same-pair
coins; nothing here is rank-aware by hand.
"""

from __future__ import annotations

import logging
import os
from collections.abc import Mapping, Sequence
from pathlib import Path
from typing import Any

import numpy as np
import pytorch_lightning as pl
import torch
from torch.utils.data import DataLoader

from reliableswap.io.index import IndexRow
from reliableswap.io.rows import load_rows
from reliableswap.data.pairs import (
    EvalPairs,
    FacePairDataset,
    PairBatchSampler,
    SameMode,
    SameSource,
    SeededRandomSampler,
)
from reliableswap.data.transforms import FaceTransform

__all__ = ["FaceDataNotFoundError", "FaceSwapDataModule", "split_by_identity"]

log = logging.getLogger(__name__)


class FaceDataNotFoundError(FileNotFoundError):
    """The configured face data folder or index is missing or holds no images."""


def split_by_identity(
    rows: Sequence[IndexRow], val_fraction: float, seed: int = 0
) -> tuple[list[IndexRow], list[IndexRow]]:
    """Split rows into (train, val) by identity: a seeded ``val_fraction`` of the people.

    When ``val_fraction > 0`` at least two identities go to validation and at least two stay
    in training: different-identity pairs need two people on each side.
    """
    if not 0.0 <= val_fraction < 1.0:
        raise ValueError(f"val_fraction must be in [0, 1), got {val_fraction}")
    identities = sorted({row.identity for row in rows})
    num_val = 0
    if val_fraction > 0:
        num_val = min(max(2, int(round(len(identities) * val_fraction))), len(identities) - 2)
        if num_val < 2:
            raise ValueError(f"{len(identities)} identities are too few to hold out a validation split")
    rng = np.random.default_rng(seed)
    val_ids = {identities[i] for i in rng.permutation(len(identities))[:num_val]}
    train = [row for row in rows if row.identity not in val_ids]
    val = [row for row in rows if row.identity in val_ids]
    return train, val


def _worker_init(_: int) -> None:
    # Each worker is a process: keep OpenCV from spawning a thread pool per worker.
    import cv2

    cv2.setNumThreads(1)


class FaceSwapDataModule(pl.LightningDataModule):
    """Training pairs + fixed validation pairs from an aligned face folder (or an index CSV).

    ``augment`` keys: ``hflip_p``, ``brightness``, ``contrast``, ``saturation``, ``hue``
    (see :class:`~reliableswap.data.transforms.FaceTransform`); ``enabled: false`` turns all
    augmentation off. ``val_pairs: 0`` disables validation data (``val_dataloader`` returns
    an empty list, which Lightning treats as "no validation"). With ``val_fraction: 0`` the
    validation pairs are drawn from the training images (useful for tiny demo sets, but then
    they are not held out - say so when reporting numbers). ``pin_memory: null`` pins when CUDA
    is available.
    """

    def __init__(
        self,
        root: str | os.PathLike[str],
        index: str | os.PathLike[str] | None = None,
        size: int = 256,
        batch_size: int = 8,
        num_workers: int = 4,
        same_rate: float = 0.2,
        same_mode: SameMode = "batch",
        same_source: SameSource = "identical",
        val_fraction: float = 0.02,
        val_pairs: int = 16,
        val_batch_size: int | None = None,
        augment: Mapping[str, Any] | None = None,
        seed: int = 0,
        pin_memory: bool | None = None,
        persistent_workers: bool = True,
        skip_private: bool = False,
        drop_last: bool = True,
        triplets: str | os.PathLike[str] | None = None,
    ) -> None:
        super().__init__()
        if triplets:
            # Every experiment shares one command line (data.triplets=DIR ...); vanilla training
            # and FixerNet training have no triplet batches, so the folder is not used here.
            log.warning("data.triplets=%s is ignored: %s trains without triplets", triplets, type(self).__name__)
        self.save_hyperparameters(logger=False)  # recorded in checkpoints for reproducibility
        self.root = Path(root)
        self.index = index
        self.size = int(size)
        self.batch_size = int(batch_size)
        self.num_workers = int(num_workers)
        self.same_rate = float(same_rate)
        self.same_mode: SameMode = same_mode
        self.same_source: SameSource = same_source
        self.val_fraction = float(val_fraction)
        self.val_pairs = int(val_pairs)
        self.val_batch_size = int(val_batch_size or batch_size)
        self.augment = dict(augment or {})
        self.seed = int(seed)
        self.pin_memory = torch.cuda.is_available() if pin_memory is None else bool(pin_memory)
        self.persistent_workers = bool(persistent_workers)
        self.skip_private = bool(skip_private)
        self.drop_last = bool(drop_last)
        self.train_dataset: FacePairDataset | None = None
        self.val_dataset: EvalPairs | None = None
        self.heldout_rows: list[IndexRow] = []

    def _not_found(self, what: str) -> FaceDataNotFoundError:
        return FaceDataNotFoundError(
            f"face data not found at {self.root} ({what}): set RELIABLESWAP_DATA or data.root=..."
        )

    def build_transform(self) -> FaceTransform:
        options = dict(self.augment)
        enabled = bool(options.pop("enabled", True))
        unknown = set(options) - {"hflip_p", "brightness", "contrast", "saturation", "hue"}
        if unknown:
            raise ValueError(f"unknown augment option(s) {sorted(unknown)}")
        return FaceTransform(size=self.size, augment=enabled, **options)

    def load_rows(self) -> list[IndexRow]:
        """All rows of the dataset, with the clear 'data not found' error when there are none."""
        if not self.root.is_dir():
            raise self._not_found("folder missing")
        try:
            rows = load_rows(self.root, self.index, skip_private=self.skip_private)
        except FileNotFoundError as exc:
            raise self._not_found(str(exc)) from exc
        if not rows:
            raise self._not_found("no images in it")
        return rows

    def setup(self, stage: str | None = None) -> None:
        if self.train_dataset is not None:
            return
        rows = self.load_rows()
        train_rows, val_rows = split_by_identity(rows, self.val_fraction, self.seed)
        held_out = bool(val_rows)
        self.heldout_rows = list(val_rows)
        if not held_out:
            val_rows = train_rows
        log.info(
            "face data %s: %d train images, %d validation images (%s)",
            self.root,
            len(train_rows),
            len(val_rows),
            "held-out identities" if held_out else "shared with training",
        )
        self.train_dataset = FacePairDataset(
            self.root,
            train_rows,
            size=self.size,
            same_rate=self.same_rate,
            same_mode=self.same_mode,
            same_source=self.same_source,
            transform=self.build_transform(),
            seed=self.seed,
        )
        if self.val_pairs > 0:
            self.val_dataset = EvalPairs(self.root, val_rows, size=self.size, num_pairs=self.val_pairs, seed=self.seed)

    def heldout_pairs(self, num_pairs: int, seed: int = 0) -> EvalPairs:
        """``num_pairs`` fixed different-identity pairs of *held-out* people only (never trained
        on), for monitoring; :class:`ValueError` when the split holds none (``val_fraction: 0``)."""
        if self.train_dataset is None:
            self.setup("fit")
        if len({row.identity for row in self.heldout_rows}) < 2:
            raise ValueError("no held-out identities to monitor: set data.val_fraction > 0")
        return EvalPairs(self.root, self.heldout_rows, size=self.size, num_pairs=num_pairs, seed=seed)

    def _loader_kwargs(self) -> dict[str, Any]:
        kwargs: dict[str, Any] = {"num_workers": self.num_workers, "pin_memory": self.pin_memory}
        if self.num_workers > 0:
            kwargs["persistent_workers"] = self.persistent_workers
            kwargs["worker_init_fn"] = _worker_init
        return kwargs

    def train_dataloader(self) -> DataLoader:
        if self.train_dataset is None:
            self.setup("fit")
        assert self.train_dataset is not None
        if self.drop_last and len(self.train_dataset) < self.batch_size:
            raise ValueError(
                f"{len(self.train_dataset)} training images are fewer than batch_size={self.batch_size}"
            )
        batch_sampler = PairBatchSampler(
            SeededRandomSampler(self.train_dataset, seed=self.seed),
            batch_size=self.batch_size,
            drop_last=self.drop_last,
            same_rate=self.same_rate,
            same_mode=self.same_mode,
            seed=self.seed,
        )
        return DataLoader(self.train_dataset, batch_sampler=batch_sampler, **self._loader_kwargs())

    def val_dataloader(self) -> DataLoader | list:
        if self.train_dataset is None:
            self.setup("validate")
        if self.val_dataset is None:
            return []
        kwargs = self._loader_kwargs()
        kwargs["num_workers"] = min(self.num_workers, 1)  # a few fixed pairs; don't fork many
        if kwargs["num_workers"] == 0:
            kwargs.pop("persistent_workers", None)
            kwargs.pop("worker_init_fn", None)
        return DataLoader(self.val_dataset, batch_size=self.val_batch_size, shuffle=False, **kwargs)
