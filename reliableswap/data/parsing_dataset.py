"""Face-parsing training data: aligned face crops with per-pixel CelebAMask-HQ labels.

Layout: ``root`` holds the images (``<stem>.jpg``/``.png``) and ``masks_root`` (default: the
sibling folder ``masks``) the label maps ``<stem>.png`` (uint8 or palette PNG whose values are
the 19 canonical labels of :mod:`reliableswap.faces.parsing.labels`), as in
``../shared/data/celebamask_hq_1k``.

Split by *image*: the held-out images are the last ``val_count`` file stems in sorted order (the
CelebAMask-HQ sample's stems are random hex strings, so that is a random subset, and it is the
same for every seed and run; :func:`heldout_stems`). The landmark parser was tuned on the
*first* 60 stems, so the two never overlap.

Everything is decoded once, resized to ``size`` (images with antialiasing, labels nearest) and
kept in memory as uint8 (1,000 faces at 256 px: 260 MB). Augmentation runs batched on the
training device in :meth:`ParsingAugment.__call__` (called by the Lightning module, which asks for the labels at the
network's output stride): random
similarity transform (rotation, scale, shift) with labels resampled nearest, horizontal flip
with left/right classes swapped, and brightness/contrast/saturation jitter. All of it keeps a
face a plausible FFHQ-aligned crop, which is what the parser sees at inference.
"""

from __future__ import annotations

import logging
import math
import os
from collections.abc import Sequence
from pathlib import Path

import cv2
import numpy as np
import torch
import torch.nn.functional as F
from PIL import Image
from torch import Tensor
from torch.utils.data import DataLoader, Dataset

from reliableswap.data.base_datamodule import FaceDataModule
from reliableswap.data.cycling import CyclingSeededSampler, ResumableBatchSampler
from reliableswap.faces.parsing.labels import ID, NAMES
from reliableswap.io.images import read_rgb

__all__ = ["FaceParsingDataModule", "ParsingAugment", "ParsingDataset", "heldout_stems", "read_label_map"]

log = logging.getLogger(__name__)

_IMAGE_SUFFIXES = (".jpg", ".jpeg", ".png")
_MIRRORED = (("l_eye", "r_eye"), ("l_brow", "r_brow"), ("l_ear", "r_ear"))


def mirror_table() -> Tensor:
    """(19,) int64 lookup: the label a pixel gets after a horizontal flip (left <-> right parts)."""
    table = torch.arange(len(NAMES))
    for left, right in _MIRRORED:
        table[ID[left]], table[ID[right]] = ID[right], ID[left]
    return table


def read_label_map(path: str | os.PathLike[str]) -> np.ndarray:
    """(H, W) uint8 label map from a PNG (palette PNGs give their indices, not colours).

    Raises ValueError when the file holds values outside the 19 canonical labels.
    """
    labels = np.array(Image.open(path))
    if labels.ndim != 2:
        raise ValueError(f"{path}: a label map must be single-channel, got shape {labels.shape}")
    if labels.size and int(labels.max()) >= len(NAMES):
        raise ValueError(f"{path}: label {int(labels.max())} is outside the {len(NAMES)} canonical classes")
    return labels.astype(np.uint8)


def labelled_stems(root: Path, masks_root: Path) -> list[tuple[str, Path, Path]]:
    """Sorted ``(stem, image path, mask path)`` of the images that have a label map."""
    found = []
    for path in sorted(root.iterdir()):
        if path.suffix.lower() in _IMAGE_SUFFIXES and not path.name.startswith("."):
            mask = masks_root / f"{path.stem}.png"
            if mask.is_file():
                found.append((path.stem, path, mask))
    return found


def heldout_stems(stems: Sequence[str], val_count: int) -> set[str]:
    """The held-out split: the last ``val_count`` stems in sorted order."""
    if val_count < 0:
        raise ValueError(f"val_count must be >= 0, got {val_count}")
    ordered = sorted(stems)
    return set(ordered[len(ordered) - val_count :]) if val_count else set()


class ParsingDataset(Dataset):
    """In-memory aligned faces and label maps at ``size``: items ``{"image": (3,S,S) uint8, "labels": (S,S) uint8}``."""

    def __init__(self, items: Sequence[tuple[str, Path, Path]], size: int) -> None:
        self.stems = [stem for stem, _, _ in items]
        images, labels = [], []
        for _, image_path, mask_path in items:
            rgb = read_rgb(image_path)
            lab = read_label_map(mask_path)
            if rgb.shape[:2] != (size, size):
                rgb = cv2.resize(rgb, (size, size), interpolation=cv2.INTER_AREA)
            if lab.shape != (size, size):
                lab = cv2.resize(lab, (size, size), interpolation=cv2.INTER_NEAREST)
            images.append(rgb)
            labels.append(lab)
        self.images = torch.from_numpy(np.stack(images)).permute(0, 3, 1, 2).contiguous()
        self.labels = torch.from_numpy(np.stack(labels))

    def __len__(self) -> int:
        return len(self.stems)

    def __getitem__(self, i: int) -> dict[str, Tensor]:
        return {"image": self.images[i], "labels": self.labels[i]}


class ParsingAugment:
    """Batched augmentation of (B, 3, S, S) images in [-1, 1] and (B, S, S) int64 labels.

    Args:
        rotate_deg: rotation drawn uniformly in [-r, r] degrees.
        scale: zoom factor drawn log-uniformly in [1 - s, 1 + s].
        shift: translation in [-t, t] of the image side, per axis.
        hflip_p: probability of a mirror (left/right labels swapped).
        brightness, contrast, saturation: jitter factors in [1 - b, 1 + b].
    """

    def __init__(self, rotate_deg: float = 15.0, scale: float = 0.12, shift: float = 0.05, hflip_p: float = 0.5,
                 brightness: float = 0.25, contrast: float = 0.25, saturation: float = 0.3) -> None:
        self.rotate_deg, self.scale, self.shift, self.hflip_p = rotate_deg, scale, shift, hflip_p
        self.brightness, self.contrast, self.saturation = brightness, contrast, saturation
        self._mirror = mirror_table()

    def __call__(self, images: Tensor, labels: Tensor, label_size: int | None = None,
                 generator: torch.Generator | None = None) -> tuple[Tensor, Tensor]:
        """Augmented ``(images, labels)``; ``label_size`` resamples the labels at that side instead
        (the same transform, sampled at the centres of the coarser grid: the network's stride-2
        output is trained against labels of exactly its pixels)."""
        n, dev = images.shape[0], images.device

        def uniform(low: float, high: float, shape: tuple[int, ...] = (n,)) -> Tensor:
            return (torch.rand(shape, generator=generator) * (high - low) + low).to(dev)

        angle = uniform(-self.rotate_deg, self.rotate_deg) * math.pi / 180
        zoom = torch.exp(uniform(math.log(1 - self.scale), math.log(1 + self.scale)))
        flip = torch.where(uniform(0, 1) < self.hflip_p, -1.0, 1.0)
        cos, sin = torch.cos(angle) / zoom, torch.sin(angle) / zoom
        theta = torch.stack([
            torch.stack([cos * flip, -sin, uniform(-2 * self.shift, 2 * self.shift)], dim=1),
            torch.stack([sin * flip, cos, uniform(-2 * self.shift, 2 * self.shift)], dim=1),
        ], dim=1)
        grid = F.affine_grid(theta, list(images.shape), align_corners=False)
        images = F.grid_sample(images, grid, mode="bilinear", padding_mode="reflection", align_corners=False)
        if label_size is not None and label_size != images.shape[-1]:
            grid = F.affine_grid(theta, [n, 1, label_size, label_size], align_corners=False)
        warped = F.grid_sample(labels[:, None].float(), grid, mode="nearest", padding_mode="reflection",
                               align_corners=False)[:, 0].long()
        mirrored = self._mirror.to(dev)[warped]
        labels = torch.where((flip < 0).view(n, 1, 1), mirrored, warped)

        grey = images.mean(dim=1, keepdim=True)
        images = grey + (images - grey) * uniform(1 - self.saturation, 1 + self.saturation).view(n, 1, 1, 1)
        mean = images.mean(dim=(1, 2, 3), keepdim=True)
        images = mean + (images - mean) * uniform(1 - self.contrast, 1 + self.contrast).view(n, 1, 1, 1)
        images = (images + 1) * uniform(1 - self.brightness, 1 + self.brightness).view(n, 1, 1, 1) - 1
        return images.clamp(-1, 1), labels


class FaceParsingDataModule(FaceDataModule):
    """Training and held-out label maps for ``experiment=face_parser``.

    Batches: ``{"image": (B, 3, S, S) uint8, "labels": (B, S, S) uint8}``; the Lightning module
    converts to [-1, 1] and augments on its device.

    Args:
        root: folder of aligned face images.
        masks_root: folder of the ``<stem>.png`` label maps; ``None`` = ``<root>/../masks``.
        size: training and evaluation side in pixels (IoU is reported at this size).
        val_count: held-out images (the last stems in sorted order; :func:`heldout_stems`).
        augment: keyword arguments of :class:`ParsingAugment` (``enabled: false`` turns it off).
        Others: see :class:`~reliableswap.data.base_datamodule.FaceDataModule`.
    """

    def __init__(
        self,
        root: str | os.PathLike[str],
        masks_root: str | os.PathLike[str] | None = None,
        *,
        size: int = 256,
        val_count: int = 100,
        batch_size: int = 16,
        num_workers: int = 0,
        val_batch_size: int | None = None,
        seed: int = 0,
        augment: dict | None = None,
        **loader: object,
    ) -> None:
        super().__init__(root, None, batch_size=batch_size, num_workers=num_workers,
                         val_batch_size=val_batch_size, seed=seed, **loader)  # type: ignore[arg-type]
        self.masks_root = Path(masks_root) if masks_root else self.root.parent / "masks"
        self.size = int(size)
        self.val_count = int(val_count)
        options = dict(augment or {})
        self.augment: ParsingAugment | None = ParsingAugment(**options) if options.pop("enabled", True) else None
        self.train_dataset: ParsingDataset | None = None
        self.val_dataset: ParsingDataset | None = None

    def setup(self, stage: str | None = None) -> None:
        if self.train_dataset is not None:
            return
        if not self.root.is_dir():
            raise self.not_found("folder missing")
        if not self.masks_root.is_dir():
            raise self.not_found(f"label-map folder {self.masks_root} missing (set data.masks_root)")
        items = labelled_stems(self.root, self.masks_root)
        if not items:
            raise self.not_found(f"no image has a label map <stem>.png in {self.masks_root}")
        held = heldout_stems([s for s, _, _ in items], self.val_count)
        train = [it for it in items if it[0] not in held]
        val = [it for it in items if it[0] in held]
        self.check_one_batch(len(train))
        self.train_dataset = ParsingDataset(train, self.size)
        self.val_dataset = ParsingDataset(val, self.size) if val else None
        log.info("face-parsing data %s: %d training, %d held-out images at %d px (labels from %s)",
                 self.root, len(train), len(val), self.size, self.masks_root)

    def train_dataloader(self) -> DataLoader:
        if self.train_dataset is None:
            self.setup("fit")
        assert self.train_dataset is not None
        sampler = CyclingSeededSampler(len(self.train_dataset), seed=self.seed)
        batches = ResumableBatchSampler(sampler, self.batch_size, self.drop_last, resume_at=self.resume_position())
        return DataLoader(self.train_dataset, batch_sampler=batches, **self.loader_kwargs())

    def val_dataloader(self) -> DataLoader | list:
        if self.train_dataset is None:
            self.setup("validate")
        if self.val_dataset is None:
            return []
        return DataLoader(self.val_dataset, batch_size=self.val_batch_size, shuffle=False, **self.val_loader_kwargs())
