"""Index CSV round trip, validation errors and folder-scan identity rules."""

from __future__ import annotations

from pathlib import Path

import numpy as np
import pytest

from reliableswap.io.images import write_image_atomic
from reliableswap.io.index import IndexFormatError, IndexRow, read_index, scan_folder, write_index


def _img(path: Path, w: int = 8, h: int = 6) -> None:
    write_image_atomic(path, np.zeros((h, w, 3), np.uint8))


def test_roundtrip(tmp_path: Path) -> None:
    rows = [
        IndexRow("alice/1.jpg", "alice", 0.125, 512, 512),
        IndexRow("bob/a b,c.png", "bob", None, None, None),  # comma + space survive CSV quoting
        IndexRow("x.jpg", "x", 1e-7, 10, 20),
    ]
    path = tmp_path / "out" / "index.csv"
    write_index(rows, path)
    assert read_index(path) == rows
    assert path.read_text().splitlines()[0] == "path,identity,quality,width,height"
    assert [p.name for p in path.parent.iterdir()] == ["index.csv"]  # no temp file left


def test_write_rejects_absolute_or_windows_paths(tmp_path: Path) -> None:
    with pytest.raises(ValueError, match="relative POSIX"):
        write_index([IndexRow("a\\b.jpg", "a")], tmp_path / "i.csv")
    assert not (tmp_path / "i.csv").exists()


def test_read_minimal_columns(tmp_path: Path) -> None:
    path = tmp_path / "i.csv"
    path.write_text("identity,path,extra\nbob,bob/1.jpg,zzz\n")
    assert read_index(path) == [IndexRow("bob/1.jpg", "bob")]


@pytest.mark.parametrize(
    ("text", "match"),
    [
        ("file,who\na.jpg,a\n", r"missing column\(s\) \['path', 'identity'\]"),
        ("path,identity,quality\na.jpg,a,high\n", r"i\.csv:2: column 'quality' must be a number"),
        ("path,identity\na.jpg,\n", r"i\.csv:2: empty 'identity'"),
        ("path,identity\n/abs/a.jpg,a\n", "must be relative"),
        ("path,identity,width\na.jpg,a,12\nb.jpg,b,wide\n", r"i\.csv:3: column 'width'"),
    ],
)
def test_read_validation_errors(tmp_path: Path, text: str, match: str) -> None:
    path = tmp_path / "i.csv"
    path.write_text(text)
    with pytest.raises(IndexFormatError, match=match):
        read_index(path)


def test_read_missing_file(tmp_path: Path) -> None:
    with pytest.raises(FileNotFoundError, match="index file not found"):
        read_index(tmp_path / "nope.csv")


def test_scan_person_folders_flat_and_nested(tmp_path: Path) -> None:
    _img(tmp_path / "alice" / "1.jpg")
    _img(tmp_path / "alice" / "2.png", w=10, h=4)
    _img(tmp_path / "bob" / "x.webp")
    _img(tmp_path / "loose.jpg")
    _img(tmp_path / "group" / "carol" / "c.bmp")
    (tmp_path / "alice" / "notes.txt").write_text("not an image")
    _img(tmp_path / "_edge" / "odd.jpg")
    _img(tmp_path / ".hidden" / "h.jpg")

    rows = scan_folder(tmp_path)
    by_path = {r.path: r for r in rows}
    assert [r.path for r in rows] == sorted(by_path)
    assert by_path["alice/1.jpg"].identity == "alice"
    assert by_path["alice/2.png"] == IndexRow("alice/2.png", "alice", None, 10, 4)
    assert by_path["bob/x.webp"].identity == "bob"
    assert by_path["loose.jpg"].identity == "loose"  # file directly under root: its own identity
    assert by_path["group/carol/c.bmp"].identity == "group/carol"
    assert "alice/notes.txt" not in by_path
    assert "_edge/odd.jpg" in by_path and ".hidden/h.jpg" in by_path  # kept unless asked

    private_skipped = {r.path for r in scan_folder(tmp_path, skip_private=True)}
    assert private_skipped == set(by_path) - {"_edge/odd.jpg", ".hidden/h.jpg"}


def test_scan_wild_photos(shared_data: Path) -> None:
    root = shared_data / "wild"
    if not root.is_dir():
        pytest.skip(f"wild photos not found at {root}")
    rows = scan_folder(root, skip_private=True)
    identities = {r.identity for r in rows}
    assert "barack_obama" in identities and not any(i.startswith("_") for i in identities)
    assert all(r.width and r.height for r in rows)


def test_scan_missing_root(tmp_path: Path) -> None:
    with pytest.raises(FileNotFoundError):
        scan_folder(tmp_path / "nope")
