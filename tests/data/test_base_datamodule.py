"""The base DataModule: every training loader gets the same worker setup and missing-data errors."""

from __future__ import annotations

import csv
from pathlib import Path

import numpy as np
import pytest

from reliableswap.data.base_datamodule import FaceDataModule, FaceDataNotFoundError, limit_worker_threads
from reliableswap.data.datamodule import FaceSwapDataModule
from reliableswap.data.identity_dataset import IdentityDataModule
from reliableswap.data.triplets import MixedSwapDataModule
from reliableswap.io.images import write_image_atomic


def _faces(root: Path, people: int = 6, photos: int = 2) -> Path:
    rng = np.random.default_rng(0)
    for p in range(people):
        for k in range(photos):
            write_image_atomic(root / f"person{p}" / f"{k}.png", rng.integers(0, 255, (32, 32, 3), dtype=np.uint8))
    return root


def _triplets(root: Path) -> Path:
    image = np.zeros((32, 32, 3), np.uint8)
    rows = []
    for i in range(4):
        pid = f"{i:06d}_a_b"
        for name in ("source", "target", "output_st", "output_ts"):
            write_image_atomic(root / pid / f"{name}.jpg", image)
        rows.append({"pair_id": pid, **{k: f"{pid}/{k}.jpg" for k in ("source", "target", "output_st", "output_ts")}})
    with (root / "triplets.csv").open("w", newline="") as handle:
        writer = csv.DictWriter(handle, fieldnames=list(rows[0]))
        writer.writeheader()
        writer.writerows(rows)
    return root


def test_loader_settings_with_and_without_workers(tmp_path):
    dm = FaceDataModule(tmp_path, batch_size=4, num_workers=3, pin_memory=False, persistent_workers=True)
    assert dm.loader_kwargs() == {"num_workers": 3, "pin_memory": False, "persistent_workers": True,
                                  "worker_init_fn": limit_worker_threads}
    assert dm.val_loader_kwargs()["num_workers"] == 1
    assert dm.loader_kwargs(0) == {"num_workers": 0, "pin_memory": False}
    assert dm.val_batch_size == 4


@pytest.mark.parametrize("kind", ["pairs", "identity", "triplets"])
def test_every_training_loader_limits_opencv_threads_in_its_workers(tmp_path, kind):
    common = {"batch_size": 2, "num_workers": 2, "val_pairs": 2, "val_fraction": 0.3, "pin_memory": False}
    faces = _faces(tmp_path / "faces")
    if kind == "pairs":
        dm = FaceSwapDataModule(faces, size=32, **common)
    elif kind == "identity":
        dm = IdentityDataModule(faces, size=32, **common)
    else:
        dm = MixedSwapDataModule(faces, size=32, triplets=_triplets(tmp_path / "triplets"), **common)
    dm.setup("fit")
    loaders = [dm.val_dataloader()]
    train = dm.train_dataloader()
    loaders += list(train.iterables.values()) if kind == "triplets" else [train]
    assert len(loaders) == (3 if kind == "triplets" else 2)
    for loader in loaders:
        assert loader.worker_init_fn is limit_worker_threads


def test_missing_data_names_the_folder_and_the_fix(tmp_path):
    dm = FaceDataModule(tmp_path / "absent", batch_size=2, num_workers=0)
    with pytest.raises(FaceDataNotFoundError, match="folder missing.*RELIABLESWAP_DATA or data.root"):
        dm.read_rows()
    (tmp_path / "empty").mkdir()
    with pytest.raises(FaceDataNotFoundError, match="no images in it"):
        FaceDataModule(tmp_path / "empty", batch_size=2, num_workers=0).read_rows()


def test_one_full_batch_is_required_only_with_drop_last(tmp_path):
    FaceDataModule(tmp_path, batch_size=4, num_workers=0, drop_last=False).check_one_batch(3)
    with pytest.raises(ValueError, match="3 training samples are fewer than batch_size=4"):
        FaceDataModule(tmp_path, batch_size=4, num_workers=0).check_one_batch(3)


@pytest.mark.parametrize("module", [FaceSwapDataModule, IdentityDataModule])
def test_modules_without_triplet_batches_accept_and_report_a_triplet_folder(tmp_path, module, caplog):
    """One command line for every experiment (data.triplets=DIR): accepted once, in the base, and logged."""
    with caplog.at_level("WARNING"):
        dm = module(tmp_path, triplets=str(tmp_path))
    assert dm.triplets == tmp_path and not dm.trains_on_triplets
    assert f"data.triplets={tmp_path} is not used: {module.__name__} trains without triplets" in caplog.text


def test_the_triplet_module_requires_its_folder(tmp_path):
    from reliableswap.io.triplets_csv import TripletsNotFoundError

    with pytest.raises(TripletsNotFoundError, match="data.triplets="):
        MixedSwapDataModule(tmp_path, size=32, batch_size=2, num_workers=0)