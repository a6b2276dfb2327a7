"""A corrupt JPEG or a text file named .jpg in the training data is skipped, logged once and
counted; every index still gives a sample (kind 9 of issue 10)."""

from __future__ import annotations

import os
from pathlib import Path

import cv2
import numpy as np
import pytest
import torch

from reliableswap.data.unreadable import UnreadableImages, first_readable
from reliableswap.io.images import ImageReadError

BAD = ("p1/corrupt.jpg", "p2/notes.jpg")


def _faces(root: Path, people: int = 4, per_person: int = 3) -> Path:
    rng = np.random.default_rng(0)
    for p in range(people):
        (root / f"p{p}").mkdir(parents=True, exist_ok=True)
        for k in range(per_person):
            cv2.imwrite(str(root / f"p{p}" / f"{k}.jpg"), rng.integers(0, 256, (48, 48, 3), dtype=np.uint8))
    (root / BAD[0]).write_bytes(b"\xff\xd8\xff\xe0" + os.urandom(600))
    (root / BAD[1]).write_text("not an image, just a name ending in .jpg")
    return root


def _warnings_about(caplog, path: str) -> int:
    return sum(1 for r in caplog.records if r.levelname == "WARNING" and path in r.getMessage() and r.getMessage().endswith("another sample is used instead"))


def test_first_readable_substitutes_the_next_index_and_gives_up_on_a_run_of_bad_ones():
    record = UnreadableImages()

    def build(i: int) -> int:
        if i in (3, 4):
            raise ImageReadError(f"img{i}.jpg", "truncated JPEG")
        return i

    assert first_readable(build, 3, 6, record) == 5 and first_readable(build, 5, 6, record) == 5
    assert record.count == 2
    with pytest.raises(RuntimeError, match="unreadable"):
        first_readable(lambda i: build(3), 0, 6, record)


def test_training_pairs_over_every_index_skip_bad_files_and_log_each_once(tmp_path, caplog):
    from reliableswap.data.datamodule import FaceSwapDataModule

    root = _faces(tmp_path / "faces")
    dm = FaceSwapDataModule(root, size=32, batch_size=2, num_workers=0, val_fraction=0.0, val_pairs=6,
                            same_rate=0.5, same_mode="sample", seed=1)
    dm.setup("fit")
    assert {r.path for r in dm.train_dataset.rows} >= set(BAD)  # the scan keeps them: the failure is lazy
    with caplog.at_level("WARNING"):
        for _ in range(2):  # two epochs: the second meets the same files and stays silent
            batches = list(dm.train_dataloader())
            assert sum(len(b["target_path"]) for b in batches) == len(dm.train_dataset) // 2 * 2
            for b in batches:
                assert b["source"].shape == (2, 3, 32, 32) and torch.isfinite(b["source"]).all()
                assert not set(BAD) & set(b["source_path"] + b["target_path"])
        for i in range(len(dm.train_dataset)):  # plain-int indexing too
            assert dm.train_dataset[i]["target_path"] not in BAD
        val = list(dm.val_dataloader())
        assert sum(len(b["target_path"]) for b in val) == 6
        dm.teardown("fit")
    for path in BAD:
        assert _warnings_about(caplog, path) == 1, caplog.text
    assert set(dm.unreadable_images()) == {str(root / p) for p in BAD}
    assert "2 unreadable image file(s) were skipped" in caplog.text


def test_worker_processes_also_go_past_bad_files(tmp_path):
    from reliableswap.data.pairs import FacePairDataset

    ds = FacePairDataset(_faces(tmp_path / "faces"), size=32, same_rate=0.5, seed=0)
    loader = torch.utils.data.DataLoader(ds, batch_size=len(ds), num_workers=2)
    (batch,) = list(loader)
    assert len(batch["target_path"]) == len(ds) and not set(BAD) & set(batch["target_path"])


def test_triplets_with_an_unreadable_image_are_replaced_by_the_next_triplet(tmp_path, caplog):
    from reliableswap.data.triplets import TripletDataset
    from reliableswap.io.triplets_csv import IMAGE_COLUMNS, append_triplet, image_name

    rng = np.random.default_rng(0)
    for n in range(3):
        pid = f"00000{n}_a_b"
        (tmp_path / pid).mkdir()
        for column in IMAGE_COLUMNS:
            cv2.imwrite(str(tmp_path / pid / image_name(column)), rng.integers(0, 256, (32, 32, 3), dtype=np.uint8))
        append_triplet(tmp_path, {"pair_id": pid, "number": n, **{c: f"{pid}/{image_name(c)}" for c in IMAGE_COLUMNS}})
    bad = tmp_path / "000001_a_b" / "output_st.jpg"
    bad.write_bytes(b"\xff\xd8\xff" + os.urandom(100))
    ds = TripletDataset(tmp_path, size=32)
    with caplog.at_level("WARNING"):
        ids = [ds[i]["pair_id"] for i in range(len(ds))]
    assert "000001_a_b" not in ids and len(ids) == len(ds)
    assert _warnings_about(caplog, str(bad)) == 1 and ds.unreadable.count == 1
