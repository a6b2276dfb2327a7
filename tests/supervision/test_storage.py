"""Crash-safe pair storage: atomic commits, recovery of half-written work, failure records."""

from __future__ import annotations

from reliableswap.io.csv_rows import append_row, read_rows
from reliableswap.io.triplets_csv import TRIPLET_FIELDS
from supervision.storage import TripletStore


def test_commit_renames_then_records(tmp_path):
    store = TripletStore(tmp_path)
    staging = store.staging_dir("000001_a_b")
    (staging / "source.jpg").write_bytes(b"x")
    final = store.commit("000001_a_b", staging, {"pair_id": "000001_a_b", "number": 1})
    assert final == tmp_path / "000001_a_b" and (final / "source.jpg").is_file()
    assert not staging.exists()
    assert store.finished_ids() == {"000001_a_b"}


def test_recover_removes_unrecorded_and_staging_folders_of_own_pairs_only(tmp_path):
    store = TripletStore(tmp_path)
    (tmp_path / ".tmp-000002_a_b").mkdir()  # killed while writing
    (tmp_path / "000003_a_b").mkdir()  # killed between rename and CSV append
    (tmp_path / "000004_a_b").mkdir()  # another shard's unrecorded folder: not ours to touch
    (tmp_path / "debug").mkdir()
    append_row(store.triplets_csv, TRIPLET_FIELDS, {"pair_id": "000005_a_b", "number": 5})
    (tmp_path / "000005_a_b").mkdir()
    removed = store.recover({"000002_a_b", "000003_a_b", "000005_a_b"})
    assert removed == 2
    assert sorted(p.name for p in tmp_path.iterdir() if p.is_dir()) == ["000004_a_b", "000005_a_b", "debug"]


def test_failures_are_recorded(tmp_path):
    store = TripletStore(tmp_path)
    store.record_failure("000001_a_b", "analysis", "no face found, in a, b")
    store.record_failure("000002_a_c", "quality", "AB: fold; BA: mouth", check="warp_fold;mouth")
    assert read_rows(store.failures_csv) == [
        {"pair_id": "000001_a_b", "stage": "analysis", "check": "", "reason": "no face found, in a, b"},
        {"pair_id": "000002_a_c", "stage": "quality", "check": "warp_fold;mouth", "reason": "AB: fold; BA: mouth"},
    ]
    assert store.failed_ids() == {"000001_a_b", "000002_a_c"}


def test_an_older_failures_csv_keeps_its_three_columns(tmp_path):
    """Resuming a build made before the `check` column: rows still line up with the old header."""
    append_row(tmp_path / "failures.csv", ("pair_id", "stage", "reason"), {"pair_id": "1", "stage": "analysis", "reason": "x"})
    store = TripletStore(tmp_path)
    store.record_failure("2", "quality", "AB: folds", check="warp_fold")
    assert read_rows(store.failures_csv)[1] == {"pair_id": "2", "stage": "quality", "reason": "[warp_fold] AB: folds"}


def test_quality_rows_are_appended(tmp_path):
    from supervision.storage import QUALITY_FIELDS

    store = TripletStore(tmp_path)
    store.record_quality([{"pair_id": "1", "direction": "AB", "accepted": 1, "checks": "", "mouth_iou": 0.9}], QUALITY_FIELDS)
    rows = read_rows(tmp_path / "quality.csv")
    assert rows[0]["mouth_iou"] == "0.9" and rows[0]["fold_fraction"] == ""


def test_a_recorded_pair_id_is_refused_a_second_time(tmp_path):
    import pytest

    from supervision.storage import DuplicatePairError

    TripletStore(tmp_path).commit("000001_a_b", TripletStore(tmp_path).staging_dir("000001_a_b"),
                                  {"pair_id": "000001_a_b", "number": 1})
    store = TripletStore(tmp_path)  # a new process: knows the id from triplets.csv
    with pytest.raises(DuplicatePairError, match="000001_a_b"):
        store.commit("000001_a_b", store.staging_dir("000001_a_b"), {"pair_id": "000001_a_b", "number": 1})
    assert len(read_rows(tmp_path / "triplets.csv")) == 1
