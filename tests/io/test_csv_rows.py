"""Shared CSV appends: one header, whole rows, across concurrent processes."""

from __future__ import annotations

import multiprocessing as mp
from pathlib import Path

import pytest

from reliableswap.io.csv_rows import append_row, read_rows

FIELDS = ("pair_id", "value")


def _append_many(path: str, worker: int) -> None:
    for i in range(50):
        append_row(Path(path), FIELDS, {"pair_id": f"{worker}-{i}", "value": "x" * 200})


def test_concurrent_appends_keep_one_header_and_whole_rows(tmp_path):
    path = tmp_path / "triplets.csv"
    procs = [mp.get_context("fork").Process(target=_append_many, args=(str(path), w)) for w in range(3)]
    for p in procs:
        p.start()
    for p in procs:
        p.join()
    rows = read_rows(path)
    assert len(rows) == 150
    assert all(r["value"] == "x" * 200 for r in rows)
    assert path.read_text().count("pair_id,value") == 1


def test_missing_fields_are_empty_and_unknown_keys_raise(tmp_path):
    path = tmp_path / "failures.csv"
    append_row(path, FIELDS, {"pair_id": "a", "value": None})
    append_row(path, FIELDS, {"pair_id": "b"})
    assert read_rows(path) == [{"pair_id": "a", "value": ""}, {"pair_id": "b", "value": ""}]
    with pytest.raises(ValueError, match="not CSV fields"):
        append_row(path, FIELDS, {"pair_id": "c", "typo": 1})
    assert len(read_rows(path)) == 2


def test_reading_a_missing_file_gives_no_rows(tmp_path):
    assert read_rows(tmp_path / "nothing.csv") == []
