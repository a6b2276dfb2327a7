"""Folder or index CSV -> rows: the rules shared by training, the builder and evaluation."""

from __future__ import annotations

from pathlib import Path

import numpy as np
import pytest

from reliableswap.io.images import write_image_atomic
from reliableswap.io.index import IndexRow, write_index
from reliableswap.io.rows import load_input, load_rows


@pytest.fixture
def faces(tmp_path: Path) -> Path:
    root = tmp_path / "faces"
    image = np.zeros((8, 6, 3), np.uint8)
    for rel in ("alice/1.jpg", "alice/2.jpg", "bob/1.png", "loose.jpg", "_edge/x.jpg"):
        write_image_atomic(root / rel, image)
    return root


def test_folder_is_scanned_with_identities_from_folders(faces):
    rows = load_rows(faces)
    assert [(r.path, r.identity) for r in rows] == [
        ("_edge/x.jpg", "_edge"), ("alice/1.jpg", "alice"), ("alice/2.jpg", "alice"),
        ("bob/1.png", "bob"), ("loose.jpg", "loose"),
    ]
    assert (rows[0].width, rows[0].height) == (6, 8)
    assert [r.path for r in load_rows(faces, skip_private=True)][0] == "alice/1.jpg"
    assert load_rows(faces, read_sizes=False)[0].width is None


def test_index_path_is_tried_as_given_then_relative_to_the_folder(faces, tmp_path, monkeypatch):
    write_index([IndexRow("bob/1.png", "bob")], faces / "index.csv")
    monkeypatch.chdir(tmp_path)
    assert [r.path for r in load_rows(faces, "index.csv")] == ["bob/1.png"]  # relative to the folder
    write_index([IndexRow("alice/1.jpg", "alice")], tmp_path / "index.csv")
    assert [r.path for r in load_rows(faces, "index.csv")] == ["alice/1.jpg"]  # as given wins
    with pytest.raises(FileNotFoundError, match="index file not found"):
        load_rows(faces, "missing.csv")


def test_rows_in_memory_pass_through(faces):
    rows = [IndexRow("alice/1.jpg", "alice")]
    assert load_rows(faces, rows) == rows and load_rows(faces, rows) is not rows


def test_input_folder_or_csv_with_its_root(faces, tmp_path):
    root, rows = load_input(faces)
    assert root == faces and len(rows) == 5 and rows[0].width is None  # the builder reads no sizes
    write_index([IndexRow("bob/1.png", "bob")], tmp_path / "lists" / "index.csv")
    root, rows = load_input(tmp_path / "lists" / "index.csv")
    assert root == tmp_path / "lists" and [r.path for r in rows] == ["bob/1.png"]
    root, _ = load_input(tmp_path / "lists" / "index.csv", str(faces))
    assert root == faces
    with pytest.raises(FileNotFoundError, match="input not found"):
        load_input(tmp_path / "nothing")
