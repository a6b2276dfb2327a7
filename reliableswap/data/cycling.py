"""Shuffled batches of a stream that is cycled inside an epoch, resumable batch for batch.

The triplet batches of :class:`~reliableswap.data.triplets.MixedSwapDataModule` are drawn beside
the vanilla pairs by Lightning's ``CombinedLoader(mode="max_size_cycle")``: every training step
takes one batch of each, and the shorter stream is iterated again (a new *cycle*) whenever it
runs out; a new epoch starts it over at cycle 0. To make a resumed run draw the very batches an
uninterrupted one would have drawn:

- :class:`CyclingSeededSampler` orders the samples by a pure function of
  ``(seed, epoch, cycle)`` (Lightning calls :meth:`~CyclingSeededSampler.set_epoch`);
- :class:`ResumableBatchSampler` batches any sampler and, given ``resume_at=(epoch, steps)``
  (the steps of that epoch already trained, saved in the checkpoint by the DataModule), starts
  the first iteration of that epoch at cycle ``steps // batches_per_cycle`` and skips the
  ``steps % batches_per_cycle`` batches of it that were trained.

Under DDP Lightning swaps the index sampler for a ``DistributedSampler`` (same order in every
cycle of an epoch), so skipping the batches of the current cycle is exact there too.
"""

from __future__ import annotations

from collections.abc import Iterator

import numpy as np
from torch.utils.data import BatchSampler, Sampler

__all__ = ["CyclingSeededSampler", "ResumableBatchSampler"]


class CyclingSeededSampler(Sampler[int]):
    """A permutation of ``range(num_samples)`` that is a pure function of ``(seed, epoch, cycle)``.

    ``cycle`` counts the iterations since the last :meth:`set_epoch` (0 for the first); without
    ``set_epoch`` calls it keeps counting, so plain loops get a new order every time.
    """

    def __init__(self, num_samples: int, seed: int = 0) -> None:
        self.num_samples = int(num_samples)
        self.seed = int(seed)
        self.epoch = 0
        self.cycle = 0

    def set_epoch(self, epoch: int) -> None:
        self.epoch = int(epoch)
        self.cycle = 0

    def __iter__(self) -> Iterator[int]:
        rng = np.random.default_rng([self.seed, self.epoch, self.cycle])
        self.cycle += 1
        return iter(rng.permutation(self.num_samples).tolist())

    def __len__(self) -> int:
        return self.num_samples


class ResumableBatchSampler(BatchSampler):
    """``BatchSampler`` that can continue a checkpointed epoch: see the module docstring.

    ``resume_at``: ``(epoch, steps trained in it)`` or ``None``; it applies to the first
    iteration of that epoch only.
    """

    def __init__(self, sampler: Sampler[int], batch_size: int, drop_last: bool,
                 resume_at: tuple[int, int] | None = None) -> None:
        super().__init__(sampler, batch_size, drop_last)
        self.resume_at = None if resume_at is None else (int(resume_at[0]), int(resume_at[1]))

    def __iter__(self) -> Iterator[list[int]]:
        skip = 0
        if self.resume_at is not None:
            epoch, steps = self.resume_at
            self.resume_at = None
            if int(getattr(self.sampler, "epoch", epoch)) == epoch and len(self) > 0:
                if hasattr(self.sampler, "cycle"):
                    self.sampler.cycle = steps // len(self)  # cycles the resumed run completed
                skip = steps % len(self)
        for number, batch in enumerate(super().__iter__()):
            if number >= skip:
                yield batch
