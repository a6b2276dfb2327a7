"""Pair sampling, the frozen FF++ pair list, and FF++ frame extraction on a real video."""

from __future__ import annotations

import csv
import json
from collections import Counter
from pathlib import Path

import numpy as np
import pytest

from reliableswap.evaluation.protocols import (
    FaceForensicsProtocol,
    FolderProtocol,
    frame_positions,
    read_ffpp_pairs,
    sample_pairs,
)
from reliableswap.io.images import write_image_atomic
from reliableswap.io.index import IndexRow

REPO = Path(__file__).resolve().parents[2]
PAIRS = REPO / "assets" / "ffpp_eval_pairs.csv"


def test_sample_pairs_is_seeded_and_never_pairs_a_person_with_themself() -> None:
    rows = [IndexRow(f"p{i // 3}/{i}.png", f"p{i // 3}") for i in range(30)]
    a, b = sample_pairs(rows, 12, seed=3), sample_pairs(rows, 12, seed=3)
    assert a == b and a != sample_pairs(rows, 12, seed=4)
    assert all(p.source_id != p.target_id for p in a)
    assert len({p.source_key for p in a}) == 12  # distinct sources while the folder has enough
    assert len(sample_pairs(rows, 50, seed=0)) == 50  # more pairs than images: sources repeat
    with pytest.raises(ValueError, match="2 identities"):
        sample_pairs([IndexRow("a/1.png", "a"), IndexRow("a/2.png", "a")], 2, seed=0)


def test_folder_protocol_labels_and_loads(tmp_path: Path) -> None:
    rng = np.random.default_rng(0)
    for person in ("alice", "bob"):
        for k in range(2):
            write_image_atomic(tmp_path / person / f"{k}.png", rng.integers(0, 255, (40, 40, 3), dtype=np.uint8))
    proto = FolderProtocol(tmp_path, num_pairs=4, seed=1, min_size=16, check_faces=False)  # noise, not faces
    assert {p.source_id for p in proto.pairs} <= {"alice", "bob"}
    src, tgt, pairs = next(proto.batches(size=16, batch_size=3))
    assert src.shape == tgt.shape == (3, 3, 16, 16) and len(pairs) == 3
    assert src.min() >= -1 and src.max() <= 1
    with pytest.raises(FileNotFoundError, match="eval.input"):
        FolderProtocol(tmp_path / "missing")


def test_frozen_ffpp_pairs_are_the_official_protocol() -> None:
    rows = read_ffpp_pairs(PAIRS)
    assert len(rows) == 1000
    ids = {f"{i:03d}" for i in range(1000)}
    assert Counter(r["target"] for r in rows) == Counter(ids) == Counter(r["source"] for r in rows)
    pairs = {(r["target"], r["source"]) for r in rows}
    assert all((s, t) in pairs for t, s in pairs)  # every pair manipulated both ways
    assert Counter(r["split"] for r in rows) == {"train": 720, "val": 140, "test": 140}
    assert {"000_003", "003_000"} <= {r["video"] for r in read_ffpp_pairs(PAIRS, "test")}


def test_make_ffpp_pairs_rebuilds_the_frozen_list(tmp_path: Path) -> None:
    import importlib.util

    spec = importlib.util.spec_from_file_location("make_ffpp_pairs", REPO / "scripts" / "make_ffpp_pairs.py")
    mod = importlib.util.module_from_spec(spec)
    spec.loader.exec_module(mod)
    frozen = read_ffpp_pairs(PAIRS)
    for split in mod.SPLITS:  # the split files, recovered from the frozen list (one direction each)
        pairs = [[r["target"], r["source"]] for r in frozen if r["split"] == split and r["target"] < r["source"]]
        (tmp_path / f"{split}.json").write_text(json.dumps(pairs))
    assert mod.main(["--splits", str(tmp_path), "--output", str(tmp_path / "out.csv")]) == 0
    assert (tmp_path / "out.csv").read_text() == PAIRS.read_text()


def test_ffpp_pair_file_is_validated(tmp_path: Path) -> None:
    bad = tmp_path / "pairs.csv"
    bad.write_text("video,target,source,split\n000_003,000,004,test\n")
    with pytest.raises(ValueError, match="inconsistent"):
        read_ffpp_pairs(bad)


def test_ffpp_missing_videos_dir_is_named(tmp_path: Path) -> None:
    with pytest.raises(FileNotFoundError, match="videos_dir.*original_sequences"):
        FaceForensicsProtocol(tmp_path / "ffpp_videos", PAIRS, tmp_path / "cache")


def test_frame_positions_are_evenly_spread() -> None:
    assert frame_positions(100, 10) == [5, 15, 25, 35, 45, 55, 65, 75, 85, 95]
    with pytest.raises(ValueError):
        frame_positions(5, 10)


def test_ffpp_frames_are_detected_and_aligned(tmp_path: Path, shared_data: Path, shared_weight) -> None:
    pytest.importorskip("insightface")
    shared_weight("detection/scrfd_500m_kps.onnx")
    video = shared_data / "video" / "talking_face_target.mp4"
    if not video.is_file():
        pytest.skip(f"shared video not found at {video}")
    videos = tmp_path / "videos"
    videos.mkdir()
    for vid in ("000", "003"):
        (videos / f"{vid}.mp4").symlink_to(video)
    pairs = tmp_path / "pairs.csv"
    with pairs.open("w", newline="") as f:
        csv.writer(f).writerows([["video", "target", "source", "split"], ["000_003", "000", "003", "test"]])
    proto = FaceForensicsProtocol(videos, pairs, tmp_path / "cache", frames_per_video=2, crop_size=128)
    assert [(p.source_key, p.target_key) for p in proto.pairs] == [("003/0", "000/0"), ("003/1", "000/1")]
    meta = json.loads((tmp_path / "cache" / "000" / "frames.json").read_text())
    assert len(meta["frames"]) == 2 and meta["frames"][0] < meta["frames"][1] < meta["num_frames"]
    src, tgt, _ = next(proto.batches(size=64, batch_size=2))
    assert src.shape == (2, 3, 64, 64)
    # aligned: the face's skin tones sit in the centre, not a black border
    assert float(src[:, :, 24:40, 24:40].mean()) > -0.6
