"""Identity-labelled faces for training a recogniser (FixerNet) and held-out verification pairs.

Samples are FFHQ-style aligned crops resized to ``size`` (the convention of the whole project);
the *model* derives the 112 ArcFace crop (and FixerNet's 56x56 lower-face crop) with the one
fixed, differentiable warp of :mod:`reliableswap.faces.alignment`. Keeping the warp in the model
means the recogniser is trained on exactly the crop it will later see inside the swap losses.

Training batches (default collation): ``image`` float32 (B, 3, S, S) in [-1, 1], ``label``
int64 (B,) in ``[0, num_classes)``. Validation batches: ``a``, ``b`` (B, 3, S, S), ``same`` bool
(B,) - half same-identity, half different-identity pairs, all from identities *held out* of
training (split by identity, seeded).

Data with one image per identity (the shared CelebAMask-HQ sample) still works for smoke runs:
each image is its own class, views differ by augmentation, and a "same" verification pair is
two augmented views of one photo. That measures augmentation invariance, not recognition across
photos; say so when quoting such numbers. Real training data (CASIA-WebFace / MS1M aligned to
the FFHQ layout, one folder per person) give real same pairs.

Augmentation: flip + mild colour jitter (:class:`~reliableswap.data.transforms.FaceTransform`)
and, optionally, a small random shift/scale (``max_shift``, ``max_scale``; off by default): a
lower-face crop is sensitive to alignment error, and a little geometric jitter makes the views
of a single photo differ in a way the network must be robust to.
"""

from __future__ import annotations

import logging
import os
from collections.abc import Mapping, Sequence
from pathlib import Path
from typing import Any

import cv2
import numpy as np
import torch
from torch.utils.data import DataLoader, Dataset

from reliableswap.data.base_datamodule import FaceDataModule
from reliableswap.data.cycling import CyclingSeededSampler, ResumableBatchSampler
from reliableswap.data.datamodule import split_by_identity
from reliableswap.data.transforms import FaceTransform, jpeg_reduce_factor, resize_uint8
from reliableswap.data.unreadable import UnreadableImages, first_readable
from reliableswap.io.images import read_rgb
from reliableswap.io.index import IndexRow, group_by_identity

__all__ = ["FaceAugment", "IdentityDataModule", "IdentityImageDataset", "VerificationPairs"]

log = logging.getLogger(__name__)


class FaceAugment:
    """Resize + optional small shift/scale + :class:`FaceTransform` (flip, colour jitter)."""

    def __init__(self, transform: FaceTransform, max_shift: float = 0.0, max_scale: float = 0.0) -> None:
        if not 0.0 <= max_shift < 0.5 or not 0.0 <= max_scale < 0.5:
            raise ValueError(f"max_shift and max_scale must be in [0, 0.5), got {max_shift}, {max_scale}")
        self.transform = transform
        self.max_shift = float(max_shift)
        self.max_scale = float(max_scale)

    @property
    def size(self) -> int:
        return self.transform.size

    def __call__(self, img: np.ndarray, rng: np.random.Generator) -> torch.Tensor:
        img = resize_uint8(img, self.size)
        # Always draw the three numbers so the stream does not depend on the options.
        dx, dy = rng.uniform(-self.max_shift, self.max_shift, size=2) * self.size
        scale = 1.0 + float(rng.uniform(-self.max_scale, self.max_scale))
        if self.transform.augment and (self.max_shift > 0 or self.max_scale > 0):
            c = (self.size - 1) / 2.0
            m = np.array([[scale, 0.0, c - scale * c + dx], [0.0, scale, c - scale * c + dy]], dtype=np.float64)
            img = cv2.warpAffine(img, m, (self.size, self.size), flags=cv2.INTER_LINEAR,
                                 borderMode=cv2.BORDER_REPLICATE)
        return self.transform(img, rng)


class _Images:
    """Image loading shared by the datasets (fast JPEG decode at reduced scale, optional cache)."""

    def __init__(self, root: str | os.PathLike[str], rows: Sequence[IndexRow], size: int, cache: bool) -> None:
        self.root = Path(root)
        self.rows = list(rows)
        self.size = int(size)
        self.cache = bool(cache)
        self._cache: dict[int, np.ndarray] = {}
        self.unreadable = UnreadableImages()

    def load(self, i: int) -> np.ndarray:
        """``size`` x ``size`` uint8 RGB of row ``i`` (resizing once here keeps caching cheap)."""
        if i in self._cache:
            return self._cache[i]
        row = self.rows[i]
        img = resize_uint8(read_rgb(self.root / row.path, reduce=jpeg_reduce_factor(row.width, row.height, self.size)),
                           self.size)
        if self.cache:
            self._cache[i] = img
        return img


def _sample_rng() -> np.random.Generator:
    # Seeded from torch's RNG, which pl.seed_everything and the DataLoader worker seeding control.
    return np.random.default_rng(int(torch.randint(0, 2**62, (1,)).item()))


class IdentityImageDataset(Dataset):
    """(image, label) samples; each row appears ``repeats`` times per epoch (several views)."""

    def __init__(
        self,
        root: str | os.PathLike[str],
        rows: Sequence[IndexRow],
        labels: Mapping[str, int],
        augment: FaceAugment,
        repeats: int = 1,
        cache: bool = False,
    ) -> None:
        if repeats < 1:
            raise ValueError(f"repeats must be >= 1, got {repeats}")
        self.images = _Images(root, rows, augment.size, cache)
        self.labels = dict(labels)
        self.augment = augment
        self.repeats = int(repeats)

    def __len__(self) -> int:
        return len(self.images.rows) * self.repeats

    def __getitem__(self, i: int) -> dict[str, Any]:
        """Sample ``i``, or the next one whose image can be read."""
        return first_readable(self._sample, i, len(self), self.images.unreadable)

    def _sample(self, i: int) -> dict[str, Any]:
        row_i = i % len(self.images.rows)
        image = self.augment(self.images.load(row_i), _sample_rng())
        return {"image": image, "label": torch.tensor(self.labels[self.images.rows[row_i].identity])}


class VerificationPairs(Dataset):
    """Fixed, seeded verification pairs, alternating same / different identity.

    A same pair uses two different photos of one person; only when no held-out person has two
    photos (one-photo-per-identity data) is it two augmented views of a single photo (seeded per
    pair, so every evaluation sees the same pairs). Different pairs use un-augmented images.
    """

    def __init__(
        self,
        root: str | os.PathLike[str],
        rows: Sequence[IndexRow],
        augment: FaceAugment,
        num_pairs: int,
        seed: int = 0,
        cache: bool = False,
    ) -> None:
        self.images = _Images(root, rows, augment.size, cache)
        self.augment = augment
        self.plain = FaceTransform(size=augment.size, augment=False)
        groups = list(group_by_identity(self.images.rows).values())
        if len(groups) < 2:
            raise ValueError(f"verification pairs need at least 2 identities, got {len(groups)}")
        # Same pairs come from people with >= 2 photos whenever the data has any.
        multi = [g for g in groups if len(g) >= 2] or groups
        rng = np.random.default_rng(seed)
        self.pairs: list[tuple[int, int, bool, int]] = []
        for k in range(int(num_pairs)):
            same = k % 2 == 0  # alternating, so any prefix (limit_val_batches) is balanced
            if same:
                g = multi[rng.integers(len(multi))]
                a, b = (rng.choice(g, size=2, replace=False) if len(g) >= 2 else (g[0], g[0]))
            else:
                ga, gb = rng.choice(len(groups), size=2, replace=False)
                a, b = groups[ga][rng.integers(len(groups[ga]))], groups[gb][rng.integers(len(groups[gb]))]
            self.pairs.append((int(a), int(b), same, int(rng.integers(2**31))))
        self.views_of_one_photo = sum(1 for a, b, same, _ in self.pairs if same and a == b)

    def __len__(self) -> int:
        return len(self.pairs)

    def __getitem__(self, k: int) -> dict[str, Any]:
        """Pair ``k``, or the next pair whose images can be read."""
        return first_readable(self._pair, k, len(self), self.images.unreadable)

    def _pair(self, k: int) -> dict[str, Any]:
        a, b, same, seed = self.pairs[k]
        rng = np.random.default_rng(seed)
        if a == b:  # one photo: the two views differ only by augmentation
            img = self.images.load(a)
            return {"a": self.augment(img, rng), "b": self.augment(img, rng), "same": torch.tensor(True)}
        return {
            "a": self.plain(self.images.load(a), rng),
            "b": self.plain(self.images.load(b), rng),
            "same": torch.tensor(same),
        }


class IdentityDataModule(FaceDataModule):
    """Identity-classification training data + held-out verification pairs.

    ``root``, ``index`` and the loader settings (``batch_size``, ``num_workers`` and, as
    keywords, ``val_batch_size``, ``seed``, ``pin_memory``, ``persistent_workers``,
    ``skip_private``, ``drop_last``) are those of
    :class:`~reliableswap.data.base_datamodule.FaceDataModule`.

    Args:
        size: side of the FFHQ crops handed to the model (the model warps to 112 and crops).
        val_fraction: share of identities held out for verification pairs (seeded).
        val_pairs: number of verification pairs (half same, half different).
        max_identities: keep only a seeded subset of identities (smoke runs); null = all.
        min_images: drop identities with fewer photos (1 keeps single-photo identities).
        repeats: times each training image appears per epoch (several augmented views).
        augment: ``enabled``, ``hflip_p``, ``brightness``, ``contrast``, ``saturation``, ``hue``,
            ``max_shift``, ``max_scale`` (fractions of the crop size).
        cache: keep decoded, resized images in memory (small sets only).
    """

    def __init__(
        self,
        root: str | os.PathLike[str],
        index: str | os.PathLike[str] | None = None,
        size: int = 128,
        batch_size: int = 128,
        num_workers: int = 4,
        val_fraction: float = 0.02,
        val_pairs: int = 600,
        max_identities: int | None = None,
        min_images: int = 1,
        repeats: int = 1,
        augment: Mapping[str, Any] | None = None,
        cache: bool = False,
        **loader: Any,
    ) -> None:
        super().__init__(root, index, batch_size=batch_size, num_workers=num_workers, **loader)
        self.save_hyperparameters(logger=False)
        self.size = int(size)
        self.val_fraction = float(val_fraction)
        self.val_pairs = int(val_pairs)
        self.max_identities = None if max_identities is None else int(max_identities)
        self.min_images = int(min_images)
        self.repeats = int(repeats)
        self.augment = dict(augment or {})
        self.cache = bool(cache)
        self.labels: dict[str, int] = {}
        self.train_dataset: IdentityImageDataset | None = None
        self.val_dataset: VerificationPairs | None = None

    @property
    def num_classes(self) -> int:
        """Number of training identities (the margin head's classes); available after setup."""
        if self.train_dataset is None:
            self.setup("fit")
        return len(self.labels)

    def build_augment(self) -> FaceAugment:
        options = dict(self.augment)
        enabled = bool(options.pop("enabled", True))
        max_shift = float(options.pop("max_shift", 0.0))
        max_scale = float(options.pop("max_scale", 0.0))
        unknown = set(options) - {"hflip_p", "brightness", "contrast", "saturation", "hue"}
        if unknown:
            raise ValueError(f"unknown augment option(s) {sorted(unknown)}")
        return FaceAugment(FaceTransform(size=self.size, augment=enabled, **options), max_shift, max_scale)

    def select_rows(self) -> list[IndexRow]:
        """Rows after the ``min_images`` / ``max_identities`` filters, with clear missing-data errors."""
        rows = self.read_rows()
        groups = {k: v for k, v in group_by_identity(rows).items() if len(v) >= self.min_images}
        identities = sorted(groups)
        if self.max_identities is not None and len(identities) > self.max_identities:
            rng = np.random.default_rng(self.seed)
            identities = sorted(identities[i] for i in rng.permutation(len(identities))[: self.max_identities])
        keep = set(identities)
        rows = [r for r in rows if r.identity in keep]
        if not rows:
            raise self.not_found(f"no images with >= {self.min_images} per identity")
        return rows

    def setup(self, stage: str | None = None) -> None:
        if self.train_dataset is not None:
            return
        rows = self.select_rows()
        train_rows, val_rows = split_by_identity(rows, self.val_fraction, self.seed)
        self.labels = {identity: i for i, identity in enumerate(sorted({r.identity for r in train_rows}))}
        augment = self.build_augment()
        self.train_dataset = IdentityImageDataset(self.root, train_rows, self.labels, augment, self.repeats, self.cache)
        if self.val_pairs > 0 and val_rows:
            self.val_dataset = VerificationPairs(self.root, val_rows, augment, self.val_pairs, self.seed, self.cache)
        log.info(
            "identity data %s: %d train images of %d identities, %d verification pairs from %d held-out identities"
            " (%d same pairs are two views of one photo)",
            self.root, len(train_rows), len(self.labels), len(self.val_dataset or []),
            len({r.identity for r in val_rows}), self.val_dataset.views_of_one_photo if self.val_dataset else 0,
        )

    def train_dataloader(self) -> DataLoader:
        if self.train_dataset is None:
            self.setup("fit")
        assert self.train_dataset is not None
        self.check_one_batch(len(self.train_dataset))
        # order = f(seed, epoch); a resumed run continues the checkpointed epoch batch for batch
        sampler = CyclingSeededSampler(len(self.train_dataset), seed=self.seed)
        batches = ResumableBatchSampler(sampler, self.batch_size, self.drop_last, resume_at=self.resume_position())
        return DataLoader(self.train_dataset, batch_sampler=batches, **self.loader_kwargs())

    def val_dataloader(self) -> DataLoader | list:
        if self.train_dataset is None:
            self.setup("validate")
        if self.val_dataset is None:
            return []
        return DataLoader(self.val_dataset, batch_size=self.val_batch_size, shuffle=False,
                          **self.val_loader_kwargs())
