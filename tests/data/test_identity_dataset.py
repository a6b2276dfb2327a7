"""Identity-labelled dataset and datamodule: labels, held-out split, verification pairs."""

from __future__ import annotations

from pathlib import Path

import cv2
import numpy as np
import pytest
import torch

from reliableswap.data.base_datamodule import FaceDataNotFoundError
from reliableswap.data.identity_dataset import IdentityDataModule


def _write_faces(root: Path, people: int, photos: int, loose: int = 0) -> None:
    rng = np.random.default_rng(0)
    for p in range(people):
        (root / f"person{p:02d}").mkdir(parents=True)
        for k in range(photos):
            img = np.full((40, 40, 3), 20 * p, np.uint8) + rng.integers(0, 20, (40, 40, 3), dtype=np.uint8)
            cv2.imwrite(str(root / f"person{p:02d}" / f"{k}.png"), img)
    for k in range(loose):
        cv2.imwrite(str(root / f"loose{k}.png"), rng.integers(0, 255, (40, 40, 3), dtype=np.uint8))


def test_labels_split_and_pairs_from_identity_folders(tmp_path: Path) -> None:
    _write_faces(tmp_path, people=10, photos=3)
    dm = IdentityDataModule(tmp_path, size=32, batch_size=4, num_workers=0, val_fraction=0.3, val_pairs=10, seed=1)
    dm.setup("fit")
    assert dm.num_classes == 7 and sorted(dm.labels.values()) == list(range(7))
    train_ids = {r.identity for r in dm.train_dataset.images.rows}
    val_ids = {r.identity for r in dm.val_dataset.images.rows}
    assert not train_ids & val_ids and len(val_ids) == 3  # held out by identity
    batch = next(iter(dm.train_dataloader()))
    assert batch["image"].shape == (4, 3, 32, 32) and batch["image"].min() >= -1 and batch["image"].max() <= 1
    assert batch["label"].dtype == torch.int64 and int(batch["label"].max()) < 7
    pairs = dm.val_dataset.pairs
    assert [same for _, _, same, _ in pairs] == [True, False] * 5  # balanced in any prefix
    rows = dm.val_dataset.images.rows
    for a, b, same, _ in pairs:
        assert a != b  # real photos, never one photo twice, when people have several
        assert (rows[a].identity == rows[b].identity) == same
    val = next(iter(dm.val_dataloader()))
    assert val["a"].shape == val["b"].shape == (4, 3, 32, 32) and val["same"].dtype == torch.bool


def test_one_photo_per_identity_uses_augmented_views(tmp_path: Path) -> None:
    _write_faces(tmp_path, people=0, photos=0, loose=12)
    dm = IdentityDataModule(tmp_path, size=32, batch_size=2, num_workers=0, val_fraction=0.25, val_pairs=6,
                            repeats=3, augment={"max_shift": 0.1, "hflip_p": 0.0}, seed=0)
    dm.setup("fit")
    assert dm.num_classes == 9 and len(dm.train_dataset) == 27
    assert dm.val_dataset.views_of_one_photo == 3
    same = dm.val_dataset[0]
    assert bool(same["same"]) and not torch.equal(same["a"], same["b"])  # two different views
    torch.testing.assert_close(dm.val_dataset[0]["a"], same["a"])  # fixed pairs, reproducible


def test_max_identities_and_min_images_filter(tmp_path: Path) -> None:
    _write_faces(tmp_path, people=6, photos=2, loose=4)
    dm = IdentityDataModule(tmp_path, size=32, batch_size=2, num_workers=0, val_fraction=0.0, val_pairs=0,
                            min_images=2, max_identities=4)
    dm.setup("fit")
    assert dm.num_classes == 4 and all(r.identity.startswith("person") for r in dm.train_dataset.images.rows)
    assert dm.val_dataloader() == []


def test_missing_data_and_bad_options_are_clear_errors(tmp_path: Path) -> None:
    with pytest.raises(FaceDataNotFoundError, match=str(tmp_path / "absent")):
        IdentityDataModule(tmp_path / "absent").setup("fit")
    _write_faces(tmp_path / "faces", people=4, photos=1)
    with pytest.raises(ValueError, match="rotate"):
        IdentityDataModule(tmp_path / "faces", augment={"rotate": 10}).setup("fit")
