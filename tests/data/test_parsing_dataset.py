"""Face-parsing data: split by image, label-map reading, mirror-aware augmentation."""

from __future__ import annotations

from pathlib import Path

import numpy as np
import pytest
import torch
from PIL import Image

from reliableswap.data.parsing_dataset import (
    FaceParsingDataModule,
    ParsingAugment,
    heldout_stems,
    mirror_table,
    read_label_map,
)
from reliableswap.faces.parsing.labels import ID


def _write_faces(root: Path, n: int, size: int = 64) -> Path:
    images, masks = root / "images", root / "masks"
    images.mkdir(parents=True)
    masks.mkdir()
    rng = np.random.default_rng(0)
    for i in range(n):
        Image.fromarray(rng.integers(0, 255, (size, size, 3), dtype=np.uint8)).save(images / f"{i:03d}.png")
        lab = np.zeros((size, size), np.uint8)
        lab[16:48, 8:24] = ID["l_eye"]
        lab[16:48, 40:56] = ID["r_eye"]
        Image.fromarray(lab).save(masks / f"{i:03d}.png")
    (images / "999.png").write_bytes((images / "000.png").read_bytes())  # no label map: not used
    return images


def test_heldout_is_the_last_stems_and_independent_of_order() -> None:
    stems = ["c", "a", "e", "b", "d"]
    assert heldout_stems(stems, 2) == {"d", "e"}
    assert heldout_stems(list(reversed(stems)), 2) == {"d", "e"}
    assert heldout_stems(stems, 0) == set()
    with pytest.raises(ValueError):
        heldout_stems(stems, -1)


def test_read_label_map_rejects_colour_and_out_of_range(tmp_path: Path) -> None:
    Image.fromarray(np.zeros((4, 4, 3), np.uint8)).save(tmp_path / "rgb.png")
    Image.fromarray(np.full((4, 4), 40, np.uint8)).save(tmp_path / "big.png")
    with pytest.raises(ValueError, match="single-channel"):
        read_label_map(tmp_path / "rgb.png")
    with pytest.raises(ValueError, match="outside"):
        read_label_map(tmp_path / "big.png")


def test_datamodule_splits_by_image_and_batches(tmp_path: Path) -> None:
    images = _write_faces(tmp_path, 12)
    dm = FaceParsingDataModule(images, size=32, val_count=3, batch_size=4)
    dm.setup("fit")
    assert len(dm.train_dataset) == 9 and len(dm.val_dataset) == 3
    assert set(dm.val_dataset.stems) == {"009", "010", "011"}
    assert not set(dm.val_dataset.stems) & set(dm.train_dataset.stems)
    batch = next(iter(dm.train_dataloader()))
    assert batch["image"].shape == (4, 3, 32, 32) and batch["image"].dtype == torch.uint8
    assert batch["labels"].shape == (4, 32, 32)


def test_datamodule_names_missing_label_maps(tmp_path: Path) -> None:
    images = tmp_path / "images"
    images.mkdir()
    with pytest.raises(FileNotFoundError, match="label-map folder"):
        FaceParsingDataModule(images).setup("fit")


def test_mirror_swaps_left_and_right_parts() -> None:
    table = mirror_table()
    assert table[ID["l_eye"]] == ID["r_eye"] and table[ID["r_brow"]] == ID["l_brow"]
    assert table[ID["nose"]] == ID["nose"]


def test_augment_flip_keeps_left_on_the_left() -> None:
    """After a mirror, the (new) left eye label is still on the image's left side."""
    labels = torch.zeros(1, 64, 64, dtype=torch.long)
    labels[:, 20:40, 4:20] = ID["l_eye"]  # CelebAMask's l_eye: the image's left side here
    images = torch.zeros(1, 3, 64, 64)
    aug = ParsingAugment(rotate_deg=0, scale=0.0, shift=0.0, hflip_p=1.0, brightness=0, contrast=0, saturation=0)
    _, out = aug(images, labels)
    cols = torch.nonzero(out[0] == ID["r_eye"])[:, 1]
    assert cols.numel() > 0 and cols.float().mean() > 40  # moved to the right half, renamed r_eye
    assert (out == ID["l_eye"]).sum() == 0


def test_augment_labels_at_half_size_align_with_the_image() -> None:
    labels = torch.zeros(2, 64, 64, dtype=torch.long)
    labels[:, 16:32, 16:32] = ID["nose"]
    images = (labels[:, None].float().expand(-1, 3, -1, -1) > 0).float() * 2 - 1
    aug = ParsingAugment(hflip_p=0.0, brightness=0, contrast=0, saturation=0)
    out_img, out_lab = aug(images, labels, label_size=32, generator=torch.Generator().manual_seed(0))
    assert out_lab.shape == (2, 32, 32)
    small = torch.nn.functional.avg_pool2d(out_img[:, :1], 2)[:, 0] > 0
    agree = (small == (out_lab == ID["nose"])).float().mean()
    assert agree > 0.97
