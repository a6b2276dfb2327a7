"""Source/target pair datasets for face-swap training and validation.

Vanilla FaceShifter/SimSwap training draws pairs (source s, target t). With probability
``same_rate`` the pair is a *same* pair, the only case with a pixel ground truth (reconstruction
loss); otherwise s and t are different people. Two ways of tossing that coin:

- ``same_mode="batch"`` (the original code and the spec): one coin per batch, so a whole batch is
  either reconstruction or swap. Implemented by :class:`PairBatchSampler`, which yields lists of
  :class:`PairKey` ``(index, same, seed)``; :meth:`FacePairDataset.__getitem__` takes such a key.
- ``same_mode="sample"``: one coin per sample (same sampler, per-sample flags).

What a *same* pair's source is (``same_source``):

- ``"identical"`` (default, FaceShifter): s is t, pixel for pixel. Both get the *same* augmented
  tensor: the target is the reconstruction ground truth, so s must be exactly the image the
  generator is asked to reproduce; independent jitter would ask it to reproduce colours it was
  never shown.
- ``"same_identity"`` (SimSwap): another photo of the same person when the index has one
  (falls back to identical otherwise); the two photos get independent augmentations.

Different pairs: the target walks through the epoch's permutation, the source is drawn uniformly
from the images of *other* identities; both are augmented independently.

Reproducibility: every random choice of a sample (source pick, flip, jitter) comes from that
sample's own seed, which the batch sampler draws from ``(seed, epoch, rank)`` in the main
process. Results therefore do not depend on ``num_workers``, on which worker loads which
sample, or on worker seeding (no two workers can share a stream), and epochs differ because
Lightning calls ``set_epoch`` on the index sampler every epoch.
"""

from __future__ import annotations

import logging
import os
from collections.abc import Iterator, Sequence
from pathlib import Path
from typing import Any, Literal, NamedTuple

import numpy as np
import torch
from torch.utils.data import BatchSampler, Dataset, RandomSampler, Sampler

from reliableswap.data.transforms import FaceTransform, jpeg_reduce_factor
from reliableswap.data.unreadable import UnreadableImages, first_readable
from reliableswap.io.images import read_rgb
from reliableswap.io.index import IndexRow
from reliableswap.io.rows import load_rows

__all__ = [
    "EvalPairs",
    "FacePairDataset",
    "PairBatchSampler",
    "PairKey",
    "SameMode",
    "SameSource",
    "SeededRandomSampler",
]

log = logging.getLogger(__name__)

SameMode = Literal["batch", "sample"]
SameSource = Literal["identical", "same_identity"]
_SEED_MAX = 2**63 - 1


class PairKey(NamedTuple):
    """What the sampler asks the dataset for: target position, same-pair flag, sample seed."""

    index: int
    same: bool
    seed: int


class _FaceImages:
    """Rows + identity groups + image loading shared by the training and evaluation datasets.

    ``fast_decode`` decodes JPEGs at a reduced scale when the index knows the stored size and
    the training size is at most half of it (see ``jpeg_reduce_factor``).
    """

    def __init__(
        self, root: str | os.PathLike[str], rows: Sequence[IndexRow], size: int, fast_decode: bool = True
    ) -> None:
        if not rows:
            raise ValueError(f"no images to build pairs from under {root}")
        self.root = Path(root)
        self.rows = list(rows)
        self.size = int(size)
        self.fast_decode = bool(fast_decode)
        names = sorted({row.identity for row in self.rows})
        code_of = {name: code for code, name in enumerate(names)}
        self.identities: list[str] = names
        self.identity_codes = np.array([code_of[row.identity] for row in self.rows], dtype=np.int64)
        self.groups: list[np.ndarray] = [np.flatnonzero(self.identity_codes == c) for c in range(len(names))]
        self.unreadable = UnreadableImages()

    @property
    def num_identities(self) -> int:
        return len(self.identities)

    def load(self, position: int) -> np.ndarray:
        row = self.rows[position]
        reduce = jpeg_reduce_factor(row.width, row.height, self.size) if self.fast_decode else 1
        return read_rgb(self.root / row.path, reduce=reduce)

    def other_identity(self, position: int, rng: np.random.Generator) -> int:
        """Uniform random image whose identity differs from ``position``'s."""
        code = self.identity_codes[position]
        n = len(self.rows)
        for _ in range(32):  # rejection sampling: ~1 try when there are many identities
            candidate = int(rng.integers(n))
            if self.identity_codes[candidate] != code:
                return candidate
        others = np.flatnonzero(self.identity_codes != code)
        if others.size == 0:
            raise ValueError("a different-identity pair needs at least two identities in the data")
        return int(others[rng.integers(others.size)])

    def same_identity(self, position: int, rng: np.random.Generator) -> int:
        """Another image of the same person, or ``position`` itself when it is the only one."""
        group = self.groups[self.identity_codes[position]]
        if group.size < 2:
            return position
        choice = int(group[rng.integers(group.size - 1)])
        return choice if choice != position else int(group[-1])

    def make_item(
        self, source: int, target: int, same: bool, transform: FaceTransform, rng: np.random.Generator
    ) -> dict[str, Any]:
        target_img = transform(self.load(target), rng)
        if source == target:
            source_img = target_img.clone()  # identical pair: exactly the reconstruction target
        else:
            source_img = transform(self.load(source), rng)
        return {
            "source": source_img,
            "target": target_img,
            "same": torch.tensor(bool(same)),
            "source_index": source,
            "target_index": target,
            "source_id": self.rows[source].identity,
            "target_id": self.rows[target].identity,
            "source_path": self.rows[source].path,
            "target_path": self.rows[target].path,
        }


class FacePairDataset(Dataset):
    """Training pairs; see the module docstring for the sampling rules.

    Index it with a :class:`PairKey` (what :class:`PairBatchSampler` yields) or with a plain
    int, in which case the same-pair coin is tossed per sample from ``(seed, epoch, index)``
    whatever ``same_mode`` says (batch-level flags need the batch sampler).
    """

    def __init__(
        self,
        root: str | os.PathLike[str],
        index: str | os.PathLike[str] | Sequence[IndexRow] | None = None,
        size: int = 256,
        same_rate: float = 0.2,
        same_mode: SameMode = "batch",
        same_source: SameSource = "identical",
        transform: FaceTransform | None = None,
        seed: int = 0,
        skip_private: bool = False,
    ) -> None:
        if not 0.0 <= same_rate <= 1.0:
            raise ValueError(f"same_rate must be in [0, 1], got {same_rate}")
        if same_mode not in ("batch", "sample"):
            raise ValueError(f"same_mode must be 'batch' or 'sample', got {same_mode!r}")
        if same_source not in ("identical", "same_identity"):
            raise ValueError(f"same_source must be 'identical' or 'same_identity', got {same_source!r}")
        if transform is not None and transform.size != size:
            raise ValueError(f"transform.size ({transform.size}) differs from size ({size})")
        self.images = _FaceImages(root, load_rows(root, index, skip_private=skip_private), size)
        if same_rate < 1.0 and self.images.num_identities < 2:
            raise ValueError(
                f"only one identity under {root}: different-identity pairs are impossible (use same_rate=1)"
            )
        self.size = int(size)
        self.same_rate = float(same_rate)
        self.same_mode: SameMode = same_mode
        self.same_source: SameSource = same_source
        self.transform = transform if transform is not None else FaceTransform(size=size)
        self.seed = int(seed)
        self.epoch = 0

    @property
    def rows(self) -> list[IndexRow]:
        return self.images.rows

    def __len__(self) -> int:
        return len(self.images.rows)

    def set_epoch(self, epoch: int) -> None:
        """Only affects plain-int indexing; keys from the batch sampler carry their own seeds."""
        self.epoch = int(epoch)

    def _key_for(self, index: int) -> PairKey:
        rng = np.random.default_rng([self.seed, self.epoch, index])
        same = bool(rng.random() < self.same_rate)
        return PairKey(index, same, int(rng.integers(_SEED_MAX)))

    def __getitem__(self, key: PairKey | tuple[int, bool, int] | int) -> dict[str, Any]:
        """The pair of ``key``; a pair with an unreadable image is replaced by the pair of the next
        target position with the same flag and seed (:func:`~reliableswap.data.unreadable.first_readable`)."""
        if isinstance(key, (int, np.integer)):
            key = self._key_for(int(key))
        index, same, seed = int(key[0]), bool(key[1]), int(key[2])
        if not 0 <= index < len(self):
            raise IndexError(f"pair index {index} out of range for {len(self)} images")
        return first_readable(lambda i: self._pair(i, same, seed), index, len(self), self.images.unreadable)

    def _pair(self, index: int, same: bool, seed: int) -> dict[str, Any]:
        rng = np.random.default_rng(seed)
        if same:
            source = index if self.same_source == "identical" else self.images.same_identity(index, rng)
        else:
            source = self.images.other_identity(index, rng)
        return self.images.make_item(source, index, same, self.transform, rng)


class SeededRandomSampler(RandomSampler):
    """A shuffling sampler whose order is a pure function of ``(seed, epoch)``.

    Subclasses :class:`RandomSampler` so Lightning recognises it as shuffled (and, under DDP,
    swaps it for a shuffled ``DistributedSampler``). If nobody calls :meth:`set_epoch` the
    epoch advances by itself on each new iteration, so plain PyTorch loops also get a new order.
    """

    def __init__(self, data_source: Sequence[Any] | Dataset, seed: int = 0) -> None:
        super().__init__(data_source)  # type: ignore[arg-type]
        self.seed = int(seed)
        self.epoch = 0
        self._iterated = False
        self._epoch_was_set = False

    def set_epoch(self, epoch: int) -> None:
        self.epoch = int(epoch)
        self._epoch_was_set = True

    def __iter__(self) -> Iterator[int]:
        if self._iterated and not self._epoch_was_set:
            self.epoch += 1
        self._iterated, self._epoch_was_set = True, False
        rng = np.random.default_rng([self.seed, self.epoch])
        yield from rng.permutation(len(self.data_source)).tolist()  # type: ignore[arg-type]

    def __len__(self) -> int:
        return len(self.data_source)  # type: ignore[arg-type]


class PairBatchSampler(BatchSampler):
    """Batches of :class:`PairKey`: indices from ``sampler`` plus same flags and sample seeds.

    ``same_mode="batch"`` tags a whole batch as same with probability ``same_rate``;
    ``"sample"`` tosses per sample. Flags and seeds come from a generator keyed by
    ``(seed, epoch, rank)``, where epoch and rank are read from the wrapped sampler when it has
    them (``SeededRandomSampler``, ``DistributedSampler``).

    DDP: this class keeps PyTorch's ``BatchSampler(sampler, batch_size, drop_last)`` signature,
    so Lightning's default ``use_distributed_sampler=True`` re-creates it around a
    ``DistributedSampler`` (each rank gets a disjoint shard of the epoch's permutation and its
    own flag stream). With ``use_distributed_sampler=False`` pass a ``DistributedSampler``
    yourself.

    Exact resume: ``resume_at=(epoch, batches)`` makes the first iteration of that epoch skip
    its first ``batches`` batches (their flags and seeds are still drawn), so a run resumed from a
    mid-epoch checkpoint gets the very batches the uninterrupted run would have had; every batch
    is a pure function of ``(seed, epoch, rank, position in the epoch)``.
    """

    def __init__(
        self,
        sampler: Sampler[int] | Sequence[int],
        batch_size: int,
        drop_last: bool = True,
        same_rate: float = 0.2,
        same_mode: SameMode = "batch",
        seed: int = 0,
        resume_at: tuple[int, int] | None = None,
    ) -> None:
        super().__init__(sampler, batch_size, drop_last)
        if not 0.0 <= same_rate <= 1.0:
            raise ValueError(f"same_rate must be in [0, 1], got {same_rate}")
        if same_mode not in ("batch", "sample"):
            raise ValueError(f"same_mode must be 'batch' or 'sample', got {same_mode!r}")
        self.same_rate = float(same_rate)
        self.same_mode: SameMode = same_mode
        self.seed = int(seed)
        self._own_epoch = -1
        self.resume_at = None if resume_at is None else (int(resume_at[0]), int(resume_at[1]))

    def __iter__(self) -> Iterator[list[PairKey]]:
        order = [int(i) for i in self.sampler]  # iterate first: the sampler may advance its epoch
        epoch = getattr(self.sampler, "epoch", None)
        if epoch is None:
            self._own_epoch += 1
            epoch = self._own_epoch
        rank = int(getattr(self.sampler, "rank", 0))
        rng = np.random.default_rng([self.seed, int(epoch), rank])
        skip = 0
        if self.resume_at is not None and self.resume_at[0] == int(epoch):
            skip = self.resume_at[1]  # batches the resumed run already trained on this epoch
        self.resume_at = None  # only the first epoch after a resume is shortened
        for number, start in enumerate(range(0, len(order), self.batch_size)):
            batch = order[start : start + self.batch_size]
            if len(batch) < self.batch_size and self.drop_last:
                break
            if self.same_mode == "batch":
                flags = np.full(len(batch), rng.random() < self.same_rate)
            else:
                flags = rng.random(len(batch)) < self.same_rate
            seeds = rng.integers(_SEED_MAX, size=len(batch))
            if number < skip:  # drawn (so the stream stays the same) but not yielded again
                continue
            yield [PairKey(i, bool(f), int(s)) for i, f, s in zip(batch, flags, seeds)]


class EvalPairs(Dataset):
    """Fixed, seeded pairs for validation metrics and image grids (no augmentation).

    The pair list is drawn once at construction from ``seed``: ``num_pairs`` targets cycling
    through a seeded permutation, each with a source of a different identity. The last
    ``round(num_pairs * same_rate)`` pairs are identical (reconstruction) pairs. The same seed
    gives the same grid in every run, which is what makes grids comparable across experiments.
    """

    def __init__(
        self,
        root: str | os.PathLike[str],
        index: str | os.PathLike[str] | Sequence[IndexRow] | None = None,
        size: int = 256,
        num_pairs: int = 16,
        seed: int = 0,
        same_rate: float = 0.0,
        skip_private: bool = False,
    ) -> None:
        if num_pairs <= 0:
            raise ValueError(f"num_pairs must be positive, got {num_pairs}")
        self.images = _FaceImages(root, load_rows(root, index, skip_private=skip_private), size)
        num_same = int(round(num_pairs * same_rate))
        if num_same < num_pairs and self.images.num_identities < 2:
            raise ValueError(f"only one identity under {root}: cannot build different-identity eval pairs")
        rng = np.random.default_rng(seed)
        order = rng.permutation(len(self.images.rows))
        self.pairs: list[tuple[int, int, bool]] = []
        for i in range(num_pairs):
            target = int(order[i % order.size])
            same = i >= num_pairs - num_same
            source = target if same else self.images.other_identity(target, rng)
            self.pairs.append((source, target, same))
        self.transform = FaceTransform(size=size, augment=False)

    @property
    def rows(self) -> list[IndexRow]:
        return self.images.rows

    def __len__(self) -> int:
        return len(self.pairs)

    def __getitem__(self, i: int) -> dict[str, Any]:
        """Pair ``i``, or the next pair whose images can be read."""
        return first_readable(self._pair, i, len(self), self.images.unreadable)

    def _pair(self, i: int) -> dict[str, Any]:
        source, target, same = self.pairs[i]
        return self.images.make_item(source, target, same, self.transform, np.random.default_rng(0))
