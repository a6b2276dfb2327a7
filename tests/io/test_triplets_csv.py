"""The triplets.csv format: written by the builder's store, read back by training unchanged."""

from __future__ import annotations

import csv

import pytest

from reliableswap.io.triplets_csv import (
    IMAGE_COLUMNS,
    REQUIRED_COLUMNS,
    TRIPLET_FIELDS,
    TripletsNotFoundError,
    append_triplet,
    image_name,
    read_triplets,
    triplets_path,
)


def _row(pair_id: str, number: int) -> dict[str, object]:
    return {
        "pair_id": pair_id, "number": number, "source_id": "a", "target_id": "b",
        "source_image": "a/1.jpg", "target_image": "b/2.jpg",
        **{k: f"{pair_id}/{image_name(k)}" for k in IMAGE_COLUMNS},
        "st_id_sim_source": 0.71, "st_id_sim_target": 0.2, "ts_id_sim_source": 0.65, "ts_id_sim_target": None,
        "st_face_score": "", "ts_face_score": 0.99,
        "analyzer": "DlibAnalyzer", "reenactor": "LandmarkReenactor", "parser": "LandmarkParser",
        "inpainter": "OpenCVInpainter", "enhancer": "none", "identity": "none", "size": 256, "seed": 0,
    }


def test_round_trip_keeps_every_field_as_text(tmp_path):
    written = [_row("000000_a_b", 0), _row("000001_c_d", 1)]
    for row in written:
        append_triplet(tmp_path, row)
    with triplets_path(tmp_path).open(newline="") as handle:
        assert tuple(next(csv.reader(handle))) == TRIPLET_FIELDS
    read = read_triplets(tmp_path)
    expected = [{k: "" if v is None else str(v) for k, v in row.items()} for row in written]
    assert read == expected
    assert read[1]["output_ts"] == "000001_c_d/output_ts.jpg"


def test_required_columns_are_the_pair_and_its_four_images():
    assert REQUIRED_COLUMNS == ("pair_id", "source", "target", "output_st", "output_ts")
    assert set(REQUIRED_COLUMNS) <= set(TRIPLET_FIELDS)


def test_unknown_columns_are_refused_when_writing(tmp_path):
    with pytest.raises(ValueError, match="not CSV fields"):
        append_triplet(tmp_path, {**_row("000000_a_b", 0), "score": 1})
    assert not triplets_path(tmp_path).exists()


def test_missing_or_unusable_files_name_the_builder(tmp_path):
    with pytest.raises(TripletsNotFoundError, match="supervision.build_triplets"):
        read_triplets(tmp_path)
    triplets_path(tmp_path).write_text("pair_id,source\n000000_a_b,x.jpg\n")
    with pytest.raises(TripletsNotFoundError, match="output_st"):
        read_triplets(tmp_path)


def test_image_names_only_for_image_columns():
    assert image_name("output_st") == "output_st.jpg"
    with pytest.raises(ValueError, match="not an image column"):
        image_name("pair_id")


def test_a_pair_id_recorded_twice_is_read_once_with_a_warning(tmp_path, caplog):
    for pair_id, number in [("000000_a_b", 0), ("000001_b_a", 1), ("000000_a_b", 0), ("000001_b_a", 1)]:
        append_triplet(tmp_path, _row(pair_id, number))  # what two concurrent old-version runs wrote
    with caplog.at_level("WARNING", logger="reliableswap.io.triplets_csv"):
        rows = read_triplets(tmp_path)
    assert [r["pair_id"] for r in rows] == ["000000_a_b", "000001_b_a"]
    assert "dropped 2 duplicate row(s)" in caplog.text
