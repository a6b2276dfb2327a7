"""Triplet samples: type-code routing of the four images, paired augmentation, mixing loader."""

from __future__ import annotations

import csv
from pathlib import Path

import cv2
import numpy as np
import pytest
import torch

from reliableswap.data.transforms import FaceTransform
from reliableswap.data.triplets import CODE_COLUMNS, TripletDataset
from reliableswap.io.triplets_csv import TripletsNotFoundError

COLOURS = {"source": 40, "target": 90, "output_st": 160, "output_ts": 220}


def _fake_triplets(root: Path, n: int = 3) -> Path:
    """Pair folders whose four images are flat grey levels, so routing is visible in the pixels."""
    rows = []
    for i in range(n):
        pid = f"{i:06d}_a{i}_b{i}"
        (root / pid).mkdir(parents=True)
        for name, level in COLOURS.items():
            image = np.full((32, 32, 3), level, np.uint8)
            image[:, :4] = 255  # a bright left edge reveals horizontal flips
            cv2.imwrite(str(root / pid / f"{name}.jpg"), image)
        rows.append({"pair_id": pid, **{k: f"{pid}/{k}.jpg" for k in COLOURS}})
    with (root / "triplets.csv").open("w", newline="") as f:
        writer = csv.DictWriter(f, fieldnames=list(rows[0]))
        writer.writeheader()
        writer.writerows(rows)
    return root


def _level(t: torch.Tensor) -> float:
    return float(((t[:, :, 8:] + 1) * 127.5).mean())


@pytest.mark.parametrize("code", [2, 3, 4, 5])
def test_each_code_routes_source_target_reference(tmp_path, code):
    ds = TripletDataset(_fake_triplets(tmp_path), codes=[code], size=32)
    sample = ds[0]
    src_col, tgt_col, ref_col = CODE_COLUMNS[code]
    for key, col in (("source", src_col), ("target", tgt_col), ("reference", ref_col)):
        assert abs(_level(sample[key]) - COLOURS[col]) < 6, (key, col)
    assert sample["type_code"].item() == code and not sample["same"].item()


def test_target_and_reference_share_their_augmentation(tmp_path):
    transform = FaceTransform(size=32, hflip_p=0.5, brightness=0.3, contrast=0.0, saturation=0.0)
    ds = TripletDataset(_fake_triplets(tmp_path, n=8), codes=[4, 5], size=32, transform=transform)
    flips_differ = 0
    for i in range(len(ds)):
        s = ds[i]
        target_flipped = s["target"][:, :, -2:].mean() > s["target"][:, :, :2].mean()
        reference_flipped = s["reference"][:, :, -2:].mean() > s["reference"][:, :, :2].mean()
        source_flipped = s["source"][:, :, -2:].mean() > s["source"][:, :, :2].mean()
        assert target_flipped == reference_flipped
        flips_differ += int(source_flipped != target_flipped)
    assert flips_differ > 0  # the source is augmented on its own


def test_missing_or_empty_triplets_are_clear_errors(tmp_path):
    with pytest.raises(TripletsNotFoundError, match="build_triplets"):
        TripletDataset(tmp_path)
    with pytest.raises(ValueError, match="subset"):
        TripletDataset(_fake_triplets(tmp_path), codes=[1])
