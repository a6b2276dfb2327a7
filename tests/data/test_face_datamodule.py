"""FaceSwapDataModule: batches on the shared CelebA sample, identity split, errors, configs."""

from __future__ import annotations

import csv

import shutil
from pathlib import Path

import numpy as np
import pytest
import torch
from omegaconf import OmegaConf

from reliableswap.data.base_datamodule import FaceDataNotFoundError
from reliableswap.data.datamodule import FaceSwapDataModule, split_by_identity
from reliableswap.io.images import write_image_atomic
from reliableswap.io.index import IndexRow
from reliableswap.paths import REPO_ROOT

CONFIGS = REPO_ROOT / "configs"


def test_batches_on_celeba(celeba_images: Path) -> None:
    dm = FaceSwapDataModule(
        celeba_images, size=64, batch_size=4, num_workers=0, same_rate=0.5, val_fraction=0.02, val_pairs=6
    )
    dm.setup("fit")
    assert len(dm.train_dataset) + len({r.identity for r in dm.val_dataset.rows}) == 1000
    batch = next(iter(dm.train_dataloader()))
    for key in ("source", "target"):
        assert batch[key].shape == (4, 3, 64, 64) and batch[key].dtype == torch.float32
        assert -1.0 <= batch[key].min() and batch[key].max() <= 1.0
    assert batch["same"].shape == (4,) and batch["same"].dtype == torch.bool
    assert batch["source_index"].dtype == torch.int64 and len(batch["source_id"]) == 4
    val = list(dm.val_dataloader())
    assert sum(len(b["source"]) for b in val) == 6
    train_ids = {r.identity for r in dm.train_dataset.rows}
    assert not train_ids & {r.identity for r in dm.val_dataset.rows}, "validation identities must be held out"


@pytest.mark.parametrize("make", ["missing", "empty", "no_images"])
def test_clear_error_when_data_absent(tmp_path: Path, make: str) -> None:
    root = tmp_path / "faces"
    if make != "missing":
        root.mkdir()
    if make == "no_images":
        (root / "readme.txt").write_text("nothing here")
    dm = FaceSwapDataModule(root, num_workers=0)
    with pytest.raises(FaceDataNotFoundError) as info:
        dm.setup("fit")
    message = str(info.value)
    assert f"face data not found at {root}" in message
    assert "RELIABLESWAP_DATA" in message and "data.root=" in message


def test_missing_index_is_clear(tmp_path: Path) -> None:
    write_image_atomic(tmp_path / "a.png", np.zeros((8, 8, 3), np.uint8))
    with pytest.raises(FaceDataNotFoundError, match="index file not found"):
        FaceSwapDataModule(tmp_path, index="nope.csv").setup()


def test_split_by_identity_seeded_and_disjoint() -> None:
    rows = [IndexRow(f"p{i}/{k}.jpg", f"p{i}") for i in range(20) for k in range(3)]
    train, val = split_by_identity(rows, 0.2, seed=1)
    assert len({r.identity for r in val}) == 4 and len(train) + len(val) == len(rows)
    assert not {r.identity for r in train} & {r.identity for r in val}
    assert split_by_identity(rows, 0.2, seed=1) == (train, val)
    assert split_by_identity(rows, 0.2, seed=2)[1] != val
    assert split_by_identity(rows, 0.0)[1] == []
    with pytest.raises(ValueError, match="too few"):
        split_by_identity(rows[:9], 0.5)


def test_faces_config_instantiates(tmp_path: Path) -> None:
    from hydra.utils import instantiate

    for p in range(4):
        write_image_atomic(tmp_path / f"p{p}.png", np.full((20, 20, 3), p * 60, np.uint8))
    cfg = OmegaConf.load(CONFIGS / "data" / "faces.yaml")
    cfg.root, cfg.size, cfg.batch_size, cfg.num_workers, cfg.val_fraction = str(tmp_path), 16, 2, 0, 0.0
    dm = instantiate(cfg)
    assert isinstance(dm, FaceSwapDataModule)
    batch = next(iter(dm.train_dataloader()))
    assert batch["target"].shape == (2, 3, 16, 16)
    assert dm.build_transform().hflip_p == cfg.augment.hflip_p


def test_demo_config_composes(tmp_path: Path, monkeypatch: pytest.MonkeyPatch) -> None:
    from hydra import compose, initialize_config_dir

    monkeypatch.delenv("RELIABLESWAP_DATA", raising=False)
    shutil.copytree(CONFIGS / "data", tmp_path / "data")
    (tmp_path / "root.yaml").write_text(
        "defaults:\n  - data: demo\n  - _self_\npaths:\n  shared_dir: /somewhere/shared\n"
        "  data_dir: ${paths.shared_dir}/data\n"
    )
    with initialize_config_dir(str(tmp_path), version_base="1.3"):
        cfg = compose("root")
    assert cfg.data.root == "/somewhere/shared/data/celebamask_hq_1k/images"
    assert cfg.data.size == 128 and cfg.data.num_workers == 2
    assert cfg.data._target_ == "reliableswap.data.datamodule.FaceSwapDataModule"


def test_lightning_fit_sets_epochs(tmp_path: Path, monkeypatch: pytest.MonkeyPatch) -> None:
    """Under a real Trainer the batch sampler sees new epochs (Lightning calls set_epoch)."""
    import pytorch_lightning as pl

    from reliableswap.data.pairs import SeededRandomSampler

    calls: list[int] = []
    original = SeededRandomSampler.set_epoch

    def spy(self, epoch: int) -> None:
        calls.append(epoch)
        original(self, epoch)

    monkeypatch.setattr(SeededRandomSampler, "set_epoch", spy)

    for p in range(8):
        write_image_atomic(tmp_path / f"p{p}.png", np.full((12, 12, 3), p * 30, np.uint8))

    class Probe(pl.LightningModule):
        def __init__(self) -> None:
            super().__init__()
            self.weight = torch.nn.Parameter(torch.zeros(()))
            self.seen: dict[int, list[int]] = {}

        def training_step(self, batch, batch_idx):
            assert batch["source"].shape == (4, 3, 8, 8)
            self.seen.setdefault(self.current_epoch, []).extend(batch["target_index"].tolist())
            return (self.weight * batch["source"].mean()) ** 2

        def configure_optimizers(self):
            return torch.optim.SGD(self.parameters(), lr=0.1)

    dm = FaceSwapDataModule(tmp_path, size=8, batch_size=4, num_workers=0, val_fraction=0.0, val_pairs=0)
    probe = Probe()
    trainer = pl.Trainer(
        max_epochs=3, accelerator="cpu", logger=False, enable_checkpointing=False,
        enable_progress_bar=False, enable_model_summary=False, default_root_dir=tmp_path,
    )
    trainer.fit(probe, datamodule=dm)
    orders = [probe.seen[e] for e in range(3)]
    assert all(sorted(o) == list(range(8)) for o in orders)
    assert len({tuple(o) for o in orders}) > 1, "every epoch got the same order"
    assert calls[-3:] == [0, 1, 2], "Lightning must reach the index sampler's set_epoch (DDP relies on it)"


def _digest(batch, digest) -> None:
    """Feed every tensor of a (possibly nested: vanilla + triplet) batch into ``digest``, in key order."""
    for key in sorted(batch):
        value = batch[key]
        if isinstance(value, dict):
            _digest(value, digest)
        elif isinstance(value, torch.Tensor):
            digest.update(value.numpy().tobytes())


def _fit_recording(root: Path, run_dir: Path, max_steps: int, ckpt_path: Path | None = None,
                   make_dm=None) -> dict[int, str]:
    """Train a probe for ``max_steps`` on ``root``; the content hash of each step's batch by step."""
    import hashlib

    import pytorch_lightning as pl
    from pytorch_lightning.callbacks import ModelCheckpoint

    class Probe(pl.LightningModule):
        def __init__(self) -> None:
            super().__init__()
            self.weight = torch.nn.Parameter(torch.zeros(()))
            self.hashes: dict[int, str] = {}

        def training_step(self, batch, batch_idx):
            digest = hashlib.sha256()
            _digest(batch, digest)
            self.hashes[self.global_step + 1] = digest.hexdigest()
            return self.weight ** 2

        def configure_optimizers(self):
            return torch.optim.SGD(self.parameters(), lr=0.1)

    dm = make_dm() if make_dm is not None else FaceSwapDataModule(
        str(root), size=8, batch_size=2, num_workers=0, val_fraction=0.0, val_pairs=0, same_rate=0.5,
        same_mode="sample", seed=3)
    probe = Probe()
    checkpoints = ModelCheckpoint(dirpath=run_dir, every_n_train_steps=1, save_last=True, save_top_k=0)
    trainer = pl.Trainer(max_steps=max_steps, accelerator="cpu", logger=False, callbacks=[checkpoints],
                         enable_progress_bar=False, enable_model_summary=False, default_root_dir=run_dir)
    trainer.fit(probe, datamodule=dm, ckpt_path=ckpt_path)
    assert trainer.global_step == max_steps
    return probe.hashes


def test_a_resumed_run_draws_the_same_batches_as_an_uninterrupted_one(tmp_path: Path) -> None:
    """12 images, batches of 2: 6 steps an epoch. Resuming at step 3 (mid-epoch) and at step 7 (mid
    second epoch) must continue the stream where it stopped, batch for batch (issue 10, kind 12)."""
    rng = np.random.default_rng(0)
    root = tmp_path / "faces"
    for p in range(12):
        write_image_atomic(root / f"p{p}.png", rng.integers(0, 256, (12, 12, 3), dtype=np.uint8))
    straight = _fit_recording(root, tmp_path / "straight", 10)
    assert len(set(straight.values())) == 10
    for stop in (3, 7):
        first = _fit_recording(root, tmp_path / f"first{stop}", stop)
        resumed = _fit_recording(root, tmp_path / f"resumed{stop}", 10, ckpt_path=tmp_path / f"first{stop}" / "last.ckpt")
        assert first == {s: straight[s] for s in range(1, stop + 1)}
        assert resumed == {s: straight[s] for s in range(stop + 1, 11)}, f"resumed at step {stop}"


def _assert_resumes_exactly(root: Path, tmp_path: Path, total: int, stops: tuple[int, ...], make_dm) -> None:
    straight = _fit_recording(root, tmp_path / "straight", total, make_dm=make_dm)
    assert len(set(straight.values())) == total
    for stop in stops:
        _fit_recording(root, tmp_path / f"first{stop}", stop, make_dm=make_dm)
        resumed = _fit_recording(root, tmp_path / f"resumed{stop}", total,
                                 ckpt_path=tmp_path / f"first{stop}" / "last.ckpt", make_dm=make_dm)
        assert resumed == {s: straight[s] for s in range(stop + 1, total + 1)}, f"resumed at step {stop}"


def test_triplet_batches_resume_exactly_across_cycles_and_epochs(tmp_path: Path) -> None:
    """12 faces, pair batches of 2: 6 steps an epoch; 3 triplet pairs (codes 4, 5) = 6 samples,
    batches of 2: 3 per cycle, so each epoch runs two triplet cycles. Stops mid-cycle (2), at a
    cycle boundary (3), mid second cycle (4) and in the second epoch (8)."""
    from reliableswap.data.triplets import MixedSwapDataModule

    rng = np.random.default_rng(1)
    root = tmp_path / "faces"
    for p in range(12):
        write_image_atomic(root / f"p{p}.png", rng.integers(0, 256, (12, 12, 3), dtype=np.uint8))
    triplets = tmp_path / "triplets"
    rows = []
    for i in range(3):
        pid = f"{i:06d}_a_b"
        for name in ("source", "target", "output_st", "output_ts"):
            write_image_atomic(triplets / pid / f"{name}.png", rng.integers(0, 256, (12, 12, 3), dtype=np.uint8))
        rows.append({"pair_id": pid, **{k: f"{pid}/{k}.png" for k in ("source", "target", "output_st", "output_ts")}})
    with (triplets / "triplets.csv").open("w", newline="") as handle:
        writer = csv.DictWriter(handle, fieldnames=list(rows[0]))
        writer.writeheader()
        writer.writerows(rows)

    def make_dm():
        return MixedSwapDataModule(str(root), size=8, batch_size=2, num_workers=0, val_fraction=0.0, val_pairs=0,
                                   seed=3, triplets=str(triplets), triplet_batch_size=2)

    _assert_resumes_exactly(root, tmp_path, 10, (2, 3, 4, 8), make_dm)


def test_identity_batches_resume_exactly(tmp_path: Path) -> None:
    """FixerNet's identity stream: 4 people x 3 photos, batches of 4 -> 3 steps an epoch."""
    from reliableswap.data.identity_dataset import IdentityDataModule

    rng = np.random.default_rng(2)
    root = tmp_path / "people"
    for p in range(4):
        for k in range(3):
            write_image_atomic(root / f"person{p}" / f"{k}.png", rng.integers(0, 256, (16, 16, 3), dtype=np.uint8))

    def make_dm():
        return IdentityDataModule(str(root), size=16, batch_size=4, num_workers=0, val_fraction=0.0, seed=5,
                                  augment={"enabled": False})

    _assert_resumes_exactly(root, tmp_path, 7, (2, 4), make_dm)
