"""Pair sampling: same-pair rate, batch-level flags, identities, determinism, DDP sharding."""

from __future__ import annotations

from pathlib import Path

import numpy as np
import pytest
import torch
from torch.utils.data import DataLoader, DistributedSampler

from reliableswap.data.pairs import (
    EvalPairs,
    FacePairDataset,
    PairBatchSampler,
    PairKey,
    SeededRandomSampler,
)
from reliableswap.data.transforms import FaceTransform
from reliableswap.io.images import write_image_atomic

NUM_IDS, PER_ID, SIZE = 10, 2, 16


@pytest.fixture(scope="module")
def faces(tmp_path_factory: pytest.TempPathFactory) -> Path:
    """10 people x 2 photos, each photo a distinct flat colour (so pixels reveal the file)."""
    root = tmp_path_factory.mktemp("faces")
    for p in range(NUM_IDS):
        for k in range(PER_ID):
            colour = (p * 25, k * 120 + 10, 200 - p * 10)
            write_image_atomic(root / f"person{p:02d}" / f"{k}.png", np.full((SIZE, SIZE, 3), colour, np.uint8))
    return root


def _plain() -> FaceTransform:
    return FaceTransform(size=SIZE, augment=False)


def _loader(ds: FacePairDataset, batch_size: int = 4, seed: int = 0, workers: int = 0, **kw) -> DataLoader:
    sampler = PairBatchSampler(
        SeededRandomSampler(ds, seed=seed), batch_size, same_rate=ds.same_rate, same_mode=ds.same_mode, seed=seed, **kw
    )
    return DataLoader(ds, batch_sampler=sampler, num_workers=workers)


@pytest.mark.parametrize(("mode", "rate"), [("batch", 0.5), ("batch", 0.2), ("sample", 0.5)])
def test_same_rate_statistics_and_batch_flags(mode: str, rate: float) -> None:
    sampler = PairBatchSampler(SeededRandomSampler(range(40), seed=1), 4, same_rate=rate, same_mode=mode, seed=1)
    batch_flags = []
    sample_flags = []
    mixed = 0
    for _ in range(40):  # 40 epochs x 10 batches = 400 batches
        for batch in sampler:
            flags = [key.same for key in batch]
            sample_flags += flags
            if mode == "batch":
                assert len(set(flags)) == 1, "batch mode must flag whole batches"
            mixed += len(set(flags)) > 1
            batch_flags.append(flags[0])
    assert len(batch_flags) == 400
    observed = np.mean(sample_flags)
    n = len(batch_flags) if mode == "batch" else len(sample_flags)
    assert abs(observed - rate) < 4 * np.sqrt(rate * (1 - rate) / n) + 1e-9
    if mode == "sample":  # per-sample coins: mixed batches must occur
        assert mixed > 100


def test_pairs_identities_and_identical_same_pairs(faces: Path) -> None:
    ds = FacePairDataset(faces, size=SIZE, same_rate=0.5, transform=_plain(), seed=3)
    assert len(ds) == NUM_IDS * PER_ID
    seen_same = seen_diff = 0
    for _ in range(3):
        for batch in _loader(ds):
            assert batch["source"].shape == (4, 3, SIZE, SIZE) and batch["same"].dtype == torch.bool
            for i, same in enumerate(batch["same"].tolist()):
                if same:
                    seen_same += 1
                    assert torch.equal(batch["source"][i], batch["target"][i])
                    assert batch["source_path"][i] == batch["target_path"][i]
                else:
                    seen_diff += 1
                    assert batch["source_id"][i] != batch["target_id"][i]
                    assert not torch.equal(batch["source"][i], batch["target"][i])
    assert seen_same and seen_diff


def test_identical_pairs_share_augmentation(faces: Path) -> None:
    ds = FacePairDataset(faces, size=SIZE, same_rate=1.0, transform=FaceTransform(size=SIZE, hue=0.05), seed=0)
    item = ds[PairKey(3, True, 12345)]
    assert torch.equal(item["source"], item["target"])


def test_same_identity_mode_uses_other_photo(faces: Path) -> None:
    ds = FacePairDataset(faces, size=SIZE, same_rate=1.0, same_source="same_identity", transform=_plain())
    for i in range(len(ds)):
        item = ds[PairKey(i, True, i)]
        assert item["same"].item()
        assert item["source_id"] == item["target_id"]
        assert item["source_path"] != item["target_path"]
        # pixels prove the source really is the other file
        assert not torch.equal(item["source"], item["target"])


def test_target_pixels_match_target_file(faces: Path) -> None:
    ds = FacePairDataset(faces, size=SIZE, same_rate=0.0, transform=_plain())
    item = ds[PairKey(5, False, 99)]
    expected = ds.images.make_item(item["target_index"], item["target_index"], True, _plain(), np.random.default_rng())
    assert torch.equal(item["target"], expected["target"])


def test_deterministic_given_seed_independent_of_workers(faces: Path) -> None:
    aug = FaceTransform(size=SIZE, hue=0.02)

    def run(seed: int, workers: int) -> list[torch.Tensor]:
        ds = FacePairDataset(faces, size=SIZE, same_rate=0.3, same_mode="sample", transform=aug, seed=seed)
        loader = _loader(ds, seed=seed, workers=workers)
        out = []
        for _ in range(2):  # two epochs: epochs must differ, runs must repeat
            out.append(torch.cat([torch.cat([b["source"], b["target"]]) for b in loader]))
        return out

    a, b = run(7, 0), run(7, 2)
    torch.testing.assert_close(a[0], b[0])
    torch.testing.assert_close(a[1], b[1])
    assert not torch.equal(a[0], a[1]), "a new epoch must give new pairs/augmentations"
    assert not torch.equal(a[0], run(8, 0)[0]), "a different seed must give different data"


def test_int_indexing_falls_back_to_per_sample_coin(faces: Path) -> None:
    ds = FacePairDataset(faces, size=SIZE, same_rate=0.5, transform=_plain(), seed=1)
    flags = [bool(ds[i]["same"]) for i in range(len(ds))]
    assert any(flags) and not all(flags)
    assert [bool(ds[i]["same"]) for i in range(len(ds))] == flags  # deterministic


def test_distributed_shards_are_disjoint() -> None:
    data = list(range(40))
    seen: list[int] = []
    for rank in range(2):
        dist = DistributedSampler(data, num_replicas=2, rank=rank, shuffle=True, seed=0)
        dist.set_epoch(3)
        sampler = PairBatchSampler(dist, 4, same_rate=0.5)
        seen += [key.index for batch in sampler for key in batch]
    assert sorted(seen) == data


def test_lightning_reinjects_distributed_sampler(faces: Path) -> None:
    """Lightning's DDP path rebuilds our batch sampler around a DistributedSampler, keeping options."""
    from lightning_fabric.utilities.data import _replace_dunder_methods
    from pytorch_lightning.utilities.data import _update_dataloader
    from torch.utils.data import BatchSampler

    ds = FacePairDataset(faces, size=SIZE, same_rate=0.5, transform=_plain())
    with _replace_dunder_methods(DataLoader, "dataset"), _replace_dunder_methods(BatchSampler):
        loader = _loader(ds, batch_size=2)
    dist = DistributedSampler(ds, num_replicas=2, rank=1, shuffle=True)
    new = _update_dataloader(loader, dist)
    assert isinstance(new.batch_sampler, PairBatchSampler)
    assert new.batch_sampler.sampler is dist
    assert new.batch_sampler.same_rate == 0.5 and new.batch_sampler.batch_size == 2
    assert len(list(new.batch_sampler)) == len(ds) // 2 // 2


def test_errors(faces: Path, tmp_path: Path) -> None:
    write_image_atomic(tmp_path / "solo" / "1.png", np.zeros((8, 8, 3), np.uint8))
    with pytest.raises(ValueError, match="only one identity"):
        FacePairDataset(tmp_path, size=8, same_rate=0.2)
    FacePairDataset(tmp_path, size=8, same_rate=1.0)  # reconstruction-only is fine
    with pytest.raises(ValueError, match="same_mode"):
        FacePairDataset(faces, size=SIZE, same_mode="epoch")  # type: ignore[arg-type]
    with pytest.raises(ValueError, match="transform.size"):
        FacePairDataset(faces, size=SIZE, transform=FaceTransform(size=8))


def test_eval_pairs_fixed_and_different(faces: Path) -> None:
    a = EvalPairs(faces, size=SIZE, num_pairs=12, seed=4, same_rate=0.25)
    b = EvalPairs(faces, size=SIZE, num_pairs=12, seed=4, same_rate=0.25)
    assert a.pairs == b.pairs and len(a) == 12
    assert a.pairs != EvalPairs(faces, size=SIZE, num_pairs=12, seed=5).pairs
    same = [p for p in a.pairs if p[2]]
    assert len(same) == 3 and all(s == t for s, t, _ in same)
    for i, (s, t, flag) in enumerate(a.pairs):
        item = a[i]
        if not flag:
            assert item["source_id"] != item["target_id"]
    torch.testing.assert_close(a[0]["source"], b[0]["source"])
