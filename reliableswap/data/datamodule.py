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

Exact resume: the DataModule's ``state_dict`` (saved by Lightning in every checkpoint) records
the epoch and the batches already trained on; a run resumed with ``ckpt_path=`` skips exactly
those, so it sees the batches the uninterrupted run would have seen.
"""

from __future__ import annotations

import logging
import os
from collections.abc import Mapping, Sequence
from typing import Any

import numpy as np
from torch.utils.data import DataLoader

from reliableswap.data.base_datamodule import FaceDataModule
from reliableswap.data.pairs import (
    EvalPairs,
    FacePairDataset,
    PairBatchSampler,
    SameMode,
    SameSource,
    SeededRandomSampler,
)
from reliableswap.data.transforms import FaceTransform
from reliableswap.io.index import IndexRow

__all__ = ["FaceSwapDataModule", "split_by_identity"]

log = logging.getLogger(__name__)


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


class FaceSwapDataModule(FaceDataModule):
    """Training pairs + fixed validation pairs from an aligned face folder (or an index CSV).

    Loader settings (``batch_size``, ``num_workers`` and, as keywords, ``val_batch_size``,
    ``seed``, ``pin_memory``, ``persistent_workers``, ``skip_private``, ``drop_last``) and the
    face rows are those of :class:`~reliableswap.data.base_datamodule.FaceDataModule`.

    ``augment`` keys: ``hflip_p``, ``brightness``, ``contrast``, ``saturation``, ``hue``
    (see :class:`~reliableswap.data.transforms.FaceTransform`); ``enabled: false`` turns all
    augmentation off. ``val_pairs: 0`` disables validation data (``val_dataloader`` returns
    an empty list, which Lightning treats as "no validation"). With ``val_fraction: 0`` the
    validation pairs are drawn from the training images (useful for tiny demo sets, but then
    they are not held out - say so when reporting numbers).
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
        augment: Mapping[str, Any] | None = None,
        **loader: Any,
    ) -> None:
        super().__init__(root, index, batch_size=batch_size, num_workers=num_workers, **loader)
        self.save_hyperparameters(logger=False)  # recorded in checkpoints for reproducibility
        self.size = int(size)
        self.same_rate = float(same_rate)
        self.same_mode: SameMode = same_mode
        self.same_source: SameSource = same_source
        self.val_fraction = float(val_fraction)
        self.val_pairs = int(val_pairs)
        self.augment = dict(augment or {})
        self.train_dataset: FacePairDataset | None = None
        self.val_dataset: EvalPairs | None = None
        self.heldout_rows: list[IndexRow] = []

    def build_transform(self) -> FaceTransform:
        options = dict(self.augment)
        enabled = bool(options.pop("enabled", True))
        unknown = set(options) - {"hflip_p", "brightness", "contrast", "saturation", "hue"}
        if unknown:
            raise ValueError(f"unknown augment option(s) {sorted(unknown)}")
        return FaceTransform(size=self.size, augment=enabled, **options)

    def setup(self, stage: str | None = None) -> None:
        if self.train_dataset is not None:
            return
        rows = self.read_rows()
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

    def train_dataloader(self) -> DataLoader:
        if self.train_dataset is None:
            self.setup("fit")
        assert self.train_dataset is not None
        self.check_one_batch(len(self.train_dataset), "training images")
        batch_sampler = PairBatchSampler(
            SeededRandomSampler(self.train_dataset, seed=self.seed),
            batch_size=self.batch_size,
            drop_last=self.drop_last,
            same_rate=self.same_rate,
            same_mode=self.same_mode,
            seed=self.seed,
            resume_at=self.resume_position(),  # exact resume from a mid-epoch checkpoint
        )
        return DataLoader(self.train_dataset, batch_sampler=batch_sampler, **self.loader_kwargs())

    def val_dataloader(self) -> DataLoader | list:
        if self.train_dataset is None:
            self.setup("validate")
        if self.val_dataset is None:
            return []
        return DataLoader(self.val_dataset, batch_size=self.val_batch_size, shuffle=False, **self.val_loader_kwargs())
