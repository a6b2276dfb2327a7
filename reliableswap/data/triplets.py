"""Triplet samples from a ``supervision.build_triplets`` output folder, and vanilla + triplet mixing.

Type codes (spec §1), for a built pair (A, B) with synthesized AB and BA:

====  ======  ======  =========
code  source  target  reference
====  ======  ======  =========
2     A       B       AB         naive triplet (real inputs, synthetic output)
3     B       A       BA         naive
4     AB      BA      A (real)   cycle triplet (synthetic inputs, real output) — the paper's
5     BA      AB      B (real)   cycle
====  ======  ======  =========

(0 = vanilla different pair, 1 = vanilla same pair.) The target and its reference are the same
pose/background, so they get the *same* flip and colour jitter; the source is augmented on its own.

Mixing is batch-level, as in the paper: the training loader yields ``{"vanilla": batch,
"triplet": batch}`` every step (Lightning's ``CombinedLoader``, so DDP sharding applies to both),
and the LightningModule uses the triplet batch on a seeded ``triplet_rate`` share of the steps
(the same choice on every rank) and the vanilla batch otherwise (``reliableswap.data.batch.pick_batch``).
"""

from __future__ import annotations

import logging
import os
from collections.abc import Sequence
from pathlib import Path
from typing import Any

import numpy as np
import torch
from pytorch_lightning.utilities import CombinedLoader
from torch.utils.data import DataLoader, Dataset

from reliableswap.data.batch import TRIPLET, VANILLA
from reliableswap.data.cycling import CyclingSeededSampler, ResumableBatchSampler
from reliableswap.data.datamodule import FaceSwapDataModule
from reliableswap.data.transforms import FaceTransform
from reliableswap.data.unreadable import UnreadableImages, first_readable
from reliableswap.io.images import read_rgb
from reliableswap.io.triplets_csv import TripletsNotFoundError, read_triplets

log = logging.getLogger(__name__)

# code -> (source column, target column, reference column) of triplets.csv
CODE_COLUMNS: dict[int, tuple[str, str, str]] = {
    2: ("source", "target", "output_st"),
    3: ("target", "source", "output_ts"),
    4: ("output_st", "output_ts", "source"),
    5: ("output_ts", "output_st", "target"),
}
CYCLE_CODES = (4, 5)
NAIVE_CODES = (2, 3)


class TripletDataset(Dataset):
    """One sample per (built pair, type code): ``source``, ``target``, ``reference`` in [-1, 1],
    ``type_code`` (int64) and ``same`` (False: a triplet's source and target are different people)."""

    def __init__(
        self,
        root: str | os.PathLike[str],
        codes: Sequence[int] = CYCLE_CODES,
        size: int = 256,
        transform: FaceTransform | None = None,
        seed: int = 0,
    ) -> None:
        unknown = set(codes) - set(CODE_COLUMNS)
        if unknown or not codes:
            raise ValueError(f"triplet codes must be a non-empty subset of {sorted(CODE_COLUMNS)}, got {list(codes)}")
        self.root = Path(root)
        self.rows = read_triplets(self.root)
        self.codes = tuple(int(c) for c in codes)
        self.transform = transform or FaceTransform(size=size, augment=False)
        self.seed = seed
        self.epoch = 0
        self.unreadable = UnreadableImages()

    def set_epoch(self, epoch: int) -> None:
        self.epoch = epoch

    def __len__(self) -> int:
        return len(self.rows) * len(self.codes)

    def __getitem__(self, index: int) -> dict[str, Any]:
        """Sample ``index``, or the next one whose three images can be read."""
        return first_readable(self._sample, index, len(self), self.unreadable)

    def _sample(self, index: int) -> dict[str, Any]:
        row = self.rows[index // len(self.codes)]
        code = self.codes[index % len(self.codes)]
        source_col, target_col, reference_col = CODE_COLUMNS[code]
        base = np.random.SeedSequence([self.seed, self.epoch, index])
        source_seed, shared_seed = base.spawn(2)
        source = self.transform(read_rgb(self.root / row[source_col]), np.random.default_rng(source_seed))
        # identical random stream -> identical flip/jitter for the target and its ground truth
        target = self.transform(read_rgb(self.root / row[target_col]), np.random.default_rng(shared_seed))
        reference = self.transform(read_rgb(self.root / row[reference_col]), np.random.default_rng(shared_seed))
        return {
            "source": source,
            "target": target,
            "reference": reference,
            "type_code": torch.tensor(code, dtype=torch.int64),
            "same": torch.tensor(False),
            "pair_id": row["pair_id"],
        }


class MixedSwapDataModule(FaceSwapDataModule):
    """Vanilla pairs (everything :class:`FaceSwapDataModule` does) plus triplet batches.

    ``triplets``: output folder of ``supervision.build_triplets``; ``triplet_codes``: which type
    codes to draw (``[4, 5]`` cycle, ``[2, 3]`` naive); ``triplet_batch_size``: defaults to
    ``batch_size``. Validation stays vanilla.
    """

    trains_on_triplets = True

    def __init__(
        self,
        *args: Any,
        triplet_codes: Sequence[int] = CYCLE_CODES,
        triplet_batch_size: int | None = None,
        **kwargs: Any,
    ) -> None:
        super().__init__(*args, **kwargs)
        if self.triplets is None:
            raise TripletsNotFoundError(
                "this experiment trains with triplets: set data.triplets=<output folder of supervision.build_triplets>"
            )
        self.triplet_codes = tuple(int(c) for c in triplet_codes)
        self.triplet_batch_size = int(triplet_batch_size or self.batch_size)
        self.triplet_dataset: TripletDataset | None = None

    def setup(self, stage: str | None = None) -> None:
        super().setup(stage)
        if self.triplet_dataset is None:
            self.triplet_dataset = TripletDataset(
                self.triplets, codes=self.triplet_codes, size=self.size, transform=self.build_transform(), seed=self.seed
            )
            log.info(
                "triplets %s: %d pairs -> %d samples (codes %s)",
                self.triplets, len(self.triplet_dataset.rows), len(self.triplet_dataset), list(self.triplet_codes),
            )

    def _triplet_loader(self, resume_at: tuple[int, int] | None) -> DataLoader:
        """Shuffled triplet batches, a pure function of ``(seed, epoch, cycle)``; ``resume_at``
        (the checkpoint's ``(epoch, steps)``) continues them exactly (:mod:`reliableswap.data.cycling`)."""
        assert self.triplet_dataset is not None
        if len(self.triplet_dataset) < self.triplet_batch_size:  # drop_last=True below
            raise ValueError(
                f"{len(self.triplet_dataset)} triplet samples in {self.triplets} are fewer than one batch "
                f"({self.triplet_batch_size}); build more triplets or lower data.triplet_batch_size"
            )
        sampler = CyclingSeededSampler(len(self.triplet_dataset), seed=self.seed + 1)
        batches = ResumableBatchSampler(sampler, self.triplet_batch_size, drop_last=True, resume_at=resume_at)
        return DataLoader(self.triplet_dataset, batch_sampler=batches, **self.loader_kwargs())

    def train_dataloader(self) -> CombinedLoader:
        resume_at = self.resume_position(consume=False)  # the pair loader below consumes it
        vanilla = super().train_dataloader()
        return CombinedLoader({VANILLA: vanilla, TRIPLET: self._triplet_loader(resume_at)}, mode="max_size_cycle")
